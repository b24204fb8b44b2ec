//! engine.io v4 (and v3 with `allowEIO3`): sessions over HTTP long-polling and websocket.

pub mod client_files;
pub mod compression;
pub mod config;
pub mod cors;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod http;
pub mod outbox;
pub mod packet;
pub mod payload;
pub mod payload_v3;
pub mod polling;
pub mod protocol;
pub mod request;
pub mod server;
pub mod session;
pub mod uring;
pub mod websocket;
pub mod ws_codec;
pub mod ws_writer;

//! socket.io v5 (and v4 for engine.io 3 clients): packets, clients, namespaces, and fan-out.

pub mod broadcast;
pub mod client;
pub mod connect_timeout;
pub mod event;
pub mod legacy;
pub mod namespace;
pub mod packet;
pub mod payload_shape;
pub mod server;

pub type Id = std::sync::Arc<str>;

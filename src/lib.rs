//! socket.io server internals in Rust, exposed to Node.js through napi-rs.
//!
//! Layers, bottom up: `engine` (engine.io sessions and transports), `protocol` (socket.io
//! packets, namespaces, fan-out), `adapter` (rooms), `entry` (own listener or Node hand-off),
//! `binding` (the thin napi surface).

pub mod adapter;
pub mod binding;
pub mod engine;
pub mod entry;
pub mod protocol;

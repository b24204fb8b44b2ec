//! Ways in: our own listener (hyper), or connections handed over by a Node `http.Server`.

pub mod handoff;
pub mod listener;

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::engine::error::EngineError;

/// The `Sec-WebSocket-Accept` value for a websocket handshake, or the engine error to answer.
pub fn websocket_accept(key: Option<&str>, version: Option<&str>) -> Result<String, EngineError> {
    match (key, version) {
        (Some(key), Some("13" | "8")) => Ok(derive_accept_key(key.trim().as_bytes())),
        _ => Err(EngineError::BadRequest),
    }
}

//! Ways in: our own listener (hyper), or connections handed over by a Node `http.Server`.

pub mod handoff;
pub mod listener;

use std::sync::Arc;

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::engine::error::EngineError;
use crate::engine::request::{Method, RequestInfo};
use crate::engine::server::{EngineInner, HttpResponse, Target};

/// A websocket upgrade the engine takes: the `Sec-WebSocket-Accept` value, what the connection
/// opens, and (for a new session) the id the handshake hooks chose.
pub struct Upgrade {
    pub accept: String,
    pub target: Target,
    pub id: Option<Arc<str>>,
}

/// Decides an upgrade request as engine.io does: websocket headers, the engine's checks, then
/// the user's handshake hooks for a new session. `Err` is the response to send instead of 101.
pub async fn decide_upgrade(
    engine: &EngineInner,
    request: &RequestInfo,
) -> Result<Upgrade, HttpResponse> {
    let accept = websocket_accept(
        request.header("sec-websocket-key"),
        request.header("sec-websocket-version"),
    )
    .map_err(HttpResponse::error)?;
    let target = engine
        .verify(Method::Get, request, true)
        .map_err(HttpResponse::error)?;
    let id = match target {
        Target::Handshake => engine.admit(request).await?,
        Target::Session(_) => None,
    };
    Ok(Upgrade { accept, target, id })
}

/// The `Sec-WebSocket-Accept` value for a websocket handshake, or the engine error to answer.
fn websocket_accept(key: Option<&str>, version: Option<&str>) -> Result<String, EngineError> {
    match (key, version) {
        (Some(key), Some("13" | "8")) => Ok(derive_accept_key(key.trim().as_bytes())),
        _ => Err(EngineError::BadRequest),
    }
}

//! Ways in: our own listener (hyper), or connections handed over by a Node `http.Server`.

pub mod handoff;
pub mod listener;
pub mod upgrade;

use std::sync::Arc;

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::engine::deflate::{self, Negotiated};
use crate::engine::error::{EngineError, Refusal};
use crate::engine::request::{Method, RequestInfo};
use crate::engine::server::{EngineInner, Header, HttpResponse, Target};

/// A websocket upgrade the engine takes: the `Sec-WebSocket-Accept` value, what the connection
/// opens, (for a new session) the id the handshake hooks chose, and the 101's extra headers.
pub struct Upgrade {
    pub accept: String,
    pub target: Target,
    pub id: Option<Arc<str>>,
    pub headers: Vec<Header>,
    /// The permessage-deflate agreement (its header is among `headers`).
    pub deflate: Option<Negotiated>,
}

/// Decides an upgrade request as engine.io does: CORS, the engine's checks, the user's
/// handshake hooks for a new session, then the websocket headers (checked by `ws` in
/// engine.io) and the header listeners. `Err` is the response to send instead of 101.
pub async fn decide_upgrade(
    engine: &EngineInner,
    request: &RequestInfo,
) -> Result<Upgrade, HttpResponse> {
    let refuse = |refusal: Refusal| engine.refuse(request, &refusal, Vec::new());
    let cors = engine.upgrade_cors(request).await.map_err(refuse)?;
    let method = Method::parse(&request.method);
    let target = engine.verify(method, request, true).map_err(refuse)?;
    let id = match target {
        Target::Handshake => engine.admit(request).await.map_err(refuse)?,
        Target::Session(_) => None,
    };
    let accept = websocket_accept(
        request.header("sec-websocket-key"),
        request.header("sec-websocket-version"),
    )
    .map_err(HttpResponse::error)?;
    let initial = matches!(target, Target::Handshake);
    let mut headers = engine.edit_headers(request, cors, initial).await;
    let deflate = engine.config.deflate_threshold.and_then(|_| {
        let (negotiated, answer) = deflate::negotiate(request.header("sec-websocket-extensions"))?;
        headers.push(("Sec-WebSocket-Extensions".into(), answer));
        Some(negotiated)
    });
    Ok(Upgrade {
        accept,
        target,
        id,
        headers,
        deflate,
    })
}

/// The `Sec-WebSocket-Accept` value for a websocket handshake, or the engine error to answer.
fn websocket_accept(key: Option<&str>, version: Option<&str>) -> Result<String, EngineError> {
    match (key, version) {
        (Some(key), Some("13" | "8")) => Ok(derive_accept_key(key.trim().as_bytes())),
        _ => Err(EngineError::BadRequest),
    }
}

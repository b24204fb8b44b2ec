//! The engine: the table of sessions, request validation, and the handshake.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use parking_lot::RwLock;

use super::config::EngineConfig;
use super::error::{EngineError, Refusal};
use super::http::HttpHook;
use super::protocol::Protocol;
use super::request::{Method, RequestInfo};
use super::session::{CloseReason, Session, SessionHandler, Transport};

/// The layer above the engine, told of every new session.
pub trait ConnectionHandler: Send + Sync {
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler>;
}

/// What the user's handshake hooks (`allowRequest`, `generateId`) say of a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeDecision {
    /// Refused, with the message for the client (engine.io's "Forbidden" when None).
    Refuse(Option<String>),
    /// Accepted, with the session id to use (a random one when None).
    Accept(Option<String>),
}

pub trait HandshakeHook: Send + Sync {
    fn decide(&self, request: &RequestInfo) -> BoxFuture<HandshakeDecision>;
}

pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// What a closed polling session keeps so its last packets can still be fetched.
const CLOSED_POLLING_GRACE: Duration = Duration::from_secs(30);

/// A response header; names keep the case engine.io writes them in.
pub type Header = (Cow<'static, str>, String);

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Bytes,
    /// A transport's own answer (a poll, a POST's `ok`, a handshake), as opposed to a refusal:
    /// engine.io marks those `no-store` and shows their headers to `headers` listeners.
    pub from_transport: bool,
}

impl HttpResponse {
    fn new(status: u16, content_type: &'static str, body: Bytes) -> Self {
        Self {
            status,
            headers: vec![(Cow::Borrowed("Content-Type"), content_type.to_owned())],
            body,
            from_transport: false,
        }
    }

    /// engine.io's answer to a refused request: 400 (403 for `allowRequest`), `{code, message}`.
    pub fn refusal(refusal: &Refusal) -> Self {
        Self::new(
            refusal.error.status(),
            "application/json",
            Bytes::from(refusal.body()),
        )
    }

    pub fn error(error: EngineError) -> Self {
        Self::refusal(&Refusal::new(error))
    }

    /// A transport's answer carrying packets.
    pub fn text(body: impl Into<Bytes>) -> Self {
        Self {
            from_transport: true,
            ..Self::new(200, "text/plain; charset=UTF-8", body.into())
        }
    }

    /// A revision 3 poll's answer with binary packets.
    pub fn binary(body: impl Into<Bytes>) -> Self {
        Self {
            from_transport: true,
            ..Self::new(200, "application/octet-stream", body.into())
        }
    }

    /// The answer to a POST whose packets were taken.
    pub fn ok() -> Self {
        Self {
            from_transport: true,
            ..Self::status(200, "ok")
        }
    }

    pub fn status(status: u16, body: &'static str) -> Self {
        Self::new(status, "text/html", Bytes::from_static(body.as_bytes()))
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("text/html")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct EngineInner {
    pub config: EngineConfig,
    sessions: RwLock<HashMap<Arc<str>, Arc<Session>>>,
    handler: Arc<dyn ConnectionHandler>,
    next_key: AtomicU32,
    open_count: AtomicUsize,
    handshake_hook: RwLock<Option<Arc<dyn HandshakeHook>>>,
    pub(super) http_hook: RwLock<Option<Arc<dyn HttpHook>>>,
}

/// What a request asks of the engine once it has passed validation.
pub enum Target {
    Handshake,
    Session(Arc<Session>),
}

impl EngineInner {
    pub fn new(config: EngineConfig, handler: Arc<dyn ConnectionHandler>) -> Arc<Self> {
        Arc::new(Self {
            config,
            sessions: RwLock::new(HashMap::new()),
            handler,
            next_key: AtomicU32::new(1),
            open_count: AtomicUsize::new(0),
            handshake_hook: RwLock::new(None),
            http_hook: RwLock::new(None),
        })
    }

    pub fn clients_count(&self) -> usize {
        self.open_count.load(Ordering::Acquire)
    }

    pub fn session(&self, sid: &str) -> Option<Arc<Session>> {
        self.sessions.read().get(sid).cloned()
    }

    /// Checks a request the way engine.io does, in the same order, so clients get the same errors
    /// (and `connection_error` listeners the same contexts).
    pub fn verify(
        &self,
        method: Method,
        request: &RequestInfo,
        upgrade: bool,
    ) -> Result<Target, Refusal> {
        use serde_json::json;
        let query = request.query();
        let protocol = Protocol::from_query(query.get("EIO"));
        let transport = match query.get("transport") {
            Some("polling") if self.config.allow_polling => Transport::Polling,
            Some("websocket") if self.config.allow_websocket => Transport::Websocket,
            other => {
                return Err(Refusal::with(
                    EngineError::UnknownTransport,
                    json!({ "transport": other }),
                ))
            }
        };
        if let Some(origin) = request.header("origin") {
            if origin
                .bytes()
                .any(|b| b != b'\t' && (b < 0x20 || b == 0x7f))
            {
                return Err(Refusal::with(
                    EngineError::BadRequest,
                    json!({ "name": "INVALID_ORIGIN", "origin": origin }),
                ));
            }
        }
        if let Some(sid) = query.get("sid") {
            let session = self
                .session(sid)
                .ok_or_else(|| Refusal::with(EngineError::UnknownSid, json!({ "sid": sid })))?;
            if !upgrade && session.transport() != transport {
                return Err(Refusal::with(
                    EngineError::BadRequest,
                    json!({
                        "name": "TRANSPORT_MISMATCH",
                        "transport": transport.name(),
                        "previousTransport": session.transport().name(),
                    }),
                ));
            }
            if session.protocol != protocol {
                return Err(Refusal::new(EngineError::BadRequest));
            }
            return Ok(Target::Session(session));
        }
        if method != Method::Get {
            return Err(Refusal::with(
                EngineError::BadHandshakeMethod,
                json!({ "method": request.method }),
            ));
        }
        if (transport == Transport::Websocket) != upgrade {
            return Err(Refusal::with(
                EngineError::BadRequest,
                json!({ "name": "TRANSPORT_HANDSHAKE_ERROR" }),
            ));
        }
        if protocol == Protocol::V3 && !self.config.allow_eio3 {
            return Err(Refusal::with(
                EngineError::UnsupportedProtocolVersion,
                json!({ "protocol": 3 }),
            ));
        }
        Ok(Target::Handshake)
    }

    pub fn set_http_hook(&self, hook: Option<Arc<dyn HttpHook>>) {
        *self.http_hook.write() = hook;
    }

    pub fn set_handshake_hook(&self, hook: Option<Arc<dyn HandshakeHook>>) {
        *self.handshake_hook.write() = hook;
    }

    /// Runs the user's handshake hooks for a new session: the last check of a handshake, as in
    /// engine.io. Returns the id to use (None: a random one) or the refusal to send.
    pub async fn admit(&self, request: &RequestInfo) -> Result<Option<Arc<str>>, Refusal> {
        let hook = self.handshake_hook.read().clone();
        let Some(hook) = hook else {
            return Ok(None);
        };
        match hook.decide(request).await {
            HandshakeDecision::Refuse(message) => Err(Refusal::with(
                EngineError::Forbidden,
                serde_json::json!({ "message": message }),
            )),
            HandshakeDecision::Accept(id) => Ok(id
                .filter(|id| !id.is_empty() && self.session(id).is_none())
                .map(Arc::from)),
        }
    }

    /// Opens a session admitted by `admit`, under `id` or a random id.
    pub fn handshake(
        self: &Arc<Self>,
        transport: Transport,
        request: RequestInfo,
        id: Option<Arc<str>>,
    ) -> Arc<Session> {
        let id = id.unwrap_or_else(generate_id);
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(Session::new(id, key, transport, request, self));
        self.sessions
            .write()
            .insert(session.id.clone(), session.clone());
        self.open_count.fetch_add(1, Ordering::AcqRel);
        session.set_handler(self.handler.on_open(&session));
        tokio::spawn(
            session
                .clone()
                .heartbeat(self.config.ping_interval, self.config.ping_timeout),
        );
        session
    }

    pub fn open_packet(&self, session: &Session) -> String {
        self.config
            .open_packet(&session.id, session.transport() == Transport::Polling)
    }

    /// Called once by a closing session.
    pub(super) fn remove(self: &Arc<Self>, session: &Session, drain: bool) {
        self.open_count.fetch_sub(1, Ordering::AcqRel);
        // Kept even while a poll is in flight: that poll returns the queued packets alone and
        // the close packet waits for the next one (see `polling::poll`).
        let flush_pending =
            drain && session.transport() == Transport::Polling && !session.outbox.is_empty();
        if !flush_pending {
            self.forget(&session.id);
            return;
        }
        let engine = Arc::downgrade(self);
        let id = session.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(CLOSED_POLLING_GRACE).await;
            if let Some(engine) = engine.upgrade() {
                engine.forget(&id);
            }
        });
    }

    pub(super) fn forget(&self, id: &str) {
        self.sessions.write().remove(id);
    }

    pub fn close_all(&self) {
        let sessions: Vec<_> = self.sessions.read().values().cloned().collect();
        for session in sessions {
            session.close(CloseReason::ServerShuttingDown);
        }
    }
}

/// A 20-character URL-safe random id, like engine.io's base64id.
pub fn generate_id() -> Arc<str> {
    let bytes: [u8; 15] = rand::random();
    Arc::from(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_twenty_url_safe_chars() {
        let id = generate_id();
        assert_eq!(id.len(), 20);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, generate_id());
    }
}

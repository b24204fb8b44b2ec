//! The engine: the table of sessions, request validation, and the handshake.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use parking_lot::RwLock;

use super::config::EngineConfig;
use super::error::EngineError;
use super::frame::Frame;
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

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn error(error: EngineError) -> Self {
        Self {
            status: error.status(),
            content_type: "application/json",
            body: Bytes::from(error.body()),
        }
    }

    pub fn text(body: impl Into<Bytes>) -> Self {
        Self {
            status: 200,
            content_type: "text/plain; charset=UTF-8",
            body: body.into(),
        }
    }

    pub fn binary(body: impl Into<Bytes>) -> Self {
        Self {
            status: 200,
            content_type: "application/octet-stream",
            body: body.into(),
        }
    }

    /// engine.io's answer to a request `allowRequest` refused: 403, code 4, the hook's message.
    pub fn forbidden(message: Option<String>) -> Self {
        let message = message.unwrap_or_else(|| EngineError::Forbidden.message().to_owned());
        let body = serde_json::json!({ "code": EngineError::Forbidden.code(), "message": message });
        Self {
            status: EngineError::Forbidden.status(),
            content_type: "application/json",
            body: Bytes::from(body.to_string()),
        }
    }

    pub fn status(status: u16, body: &'static str) -> Self {
        Self {
            status,
            content_type: "text/html",
            body: Bytes::from_static(body.as_bytes()),
        }
    }
}

pub struct EngineInner {
    pub config: EngineConfig,
    sessions: RwLock<HashMap<Arc<str>, Arc<Session>>>,
    handler: Arc<dyn ConnectionHandler>,
    next_key: AtomicU32,
    open_count: AtomicUsize,
    handshake_hook: RwLock<Option<Arc<dyn HandshakeHook>>>,
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
        })
    }

    pub fn clients_count(&self) -> usize {
        self.open_count.load(Ordering::Acquire)
    }

    pub fn session(&self, sid: &str) -> Option<Arc<Session>> {
        self.sessions.read().get(sid).cloned()
    }

    /// Checks a request the way engine.io does, in the same order, so clients get the same errors.
    pub fn verify(
        &self,
        method: Method,
        request: &RequestInfo,
        upgrade: bool,
    ) -> Result<Target, EngineError> {
        let query = request.query();
        let protocol = Protocol::from_query(query.get("EIO"));
        let transport = match query.get("transport") {
            Some("polling") if self.config.allow_polling => Transport::Polling,
            Some("websocket") if self.config.allow_websocket => Transport::Websocket,
            _ => return Err(EngineError::UnknownTransport),
        };
        if let Some(origin) = request.header("origin") {
            if origin
                .bytes()
                .any(|b| b != b'\t' && (b < 0x20 || b == 0x7f))
            {
                return Err(EngineError::BadRequest);
            }
        }
        if let Some(sid) = query.get("sid") {
            let session = self.session(sid).ok_or(EngineError::UnknownSid)?;
            if !upgrade && session.transport() != transport {
                return Err(EngineError::BadRequest);
            }
            if session.protocol != protocol {
                return Err(EngineError::BadRequest);
            }
            return Ok(Target::Session(session));
        }
        if method != Method::Get {
            return Err(EngineError::BadHandshakeMethod);
        }
        if (transport == Transport::Websocket) != upgrade {
            return Err(EngineError::BadRequest);
        }
        if protocol == Protocol::V3 && !self.config.allow_eio3 {
            return Err(EngineError::UnsupportedProtocolVersion);
        }
        Ok(Target::Handshake)
    }

    pub fn set_handshake_hook(&self, hook: Option<Arc<dyn HandshakeHook>>) {
        *self.handshake_hook.write() = hook;
    }

    /// Runs the user's handshake hooks for a new session: the last check of a handshake, as in
    /// engine.io. Returns the id to use (None: a random one) or the refusal to send.
    pub async fn admit(&self, request: &RequestInfo) -> Result<Option<Arc<str>>, HttpResponse> {
        let hook = self.handshake_hook.read().clone();
        let Some(hook) = hook else {
            return Ok(None);
        };
        match hook.decide(request).await {
            HandshakeDecision::Refuse(message) => Err(HttpResponse::forbidden(message)),
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

    pub async fn handle_http(
        self: &Arc<Self>,
        method: Method,
        request: RequestInfo,
        body: Bytes,
    ) -> HttpResponse {
        match self.verify(method, &request, false) {
            Err(error) => HttpResponse::error(error),
            Ok(Target::Handshake) => match self.admit(&request).await {
                Ok(id) => {
                    let session = self.handshake(Transport::Polling, request, id);
                    let open = Frame::text(self.open_packet(&session));
                    super::polling::respond(&session, &[open])
                }
                Err(refusal) => refusal,
            },
            Ok(Target::Session(session)) => match method {
                Method::Get => super::polling::poll(self, session).await,
                Method::Post => super::polling::receive(self, &session, &request, &body),
                _ => HttpResponse::status(400, ""),
            },
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

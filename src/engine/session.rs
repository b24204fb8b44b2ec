//! One engine.io session: its send queue, its current transport, its heartbeat and its close.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::frame::Frame;
use super::outbox::{Outbox, PushError};
use super::packet::PacketType;
use super::protocol::Protocol;
use super::request::RequestInfo;
use super::server::EngineInner;
use super::ws_writer::WsWriter;

/// Why a session ended, as socket.io reports it in `disconnect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    TransportClose,
    TransportError,
    PingTimeout,
    ForcedClose,
    ParseError,
    ServerShuttingDown,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ForcedClose => "forced close",
            Self::ParseError => "parse error",
            Self::ServerShuttingDown => "server shutting down",
        }
    }

    /// Closes the server starts (rather than the client or the network) tell the client so.
    /// A shutting-down server just drops its connections, as socket.io's does (polling clients
    /// then report "transport error", websocket clients "transport close").
    fn tells_client(self) -> bool {
        !matches!(self, Self::TransportClose | Self::ServerShuttingDown)
    }

    /// Only a deliberate close (`socket.disconnect(true)`) waits for queued packets to be
    /// fetched, as engine.io's `close()` waits for its write buffer to drain; a timed-out or
    /// failed session is forgotten at once.
    pub fn drains_first(self) -> bool {
        matches!(self, Self::ForcedClose)
    }
}

/// A message delivered by the engine to the layer above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Bytes),
}

/// The layer above, as one session sees it.
pub trait SessionHandler: Send + Sync {
    fn on_message(&self, message: Message);
    fn on_upgrade(&self);
    fn on_close(&self, reason: CloseReason);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Polling,
    Websocket,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::Websocket => "websocket",
        }
    }
}

const POLLING: u8 = 0;
const WEBSOCKET: u8 = 1;

pub struct Session {
    pub id: Arc<str>,
    pub key: u32,
    pub request: RequestInfo,
    pub protocol: Protocol,
    /// A revision 3 polling client that reads binary payloads (it sent no `b64`).
    pub binary_payloads: bool,
    pub outbox: Outbox,
    transport: AtomicU8,
    upgrading: AtomicBool,
    poll_active: AtomicBool,
    /// Set when the server closed the session: pending writers send what is queued, then close.
    closed_by_server: AtomicBool,
    /// Set once by `close` (a plain flag: it is read per recipient of every broadcast).
    closed: AtomicBool,
    /// Messages of at least this many bytes go out compressed (permessage-deflate was
    /// negotiated on the websocket); `usize::MAX` otherwise.
    deflate_threshold: AtomicUsize,
    cancel: CancellationToken,
    /// The client's part of the heartbeat arrived: a pong (revision 4) or a ping (revision 3).
    heartbeat: tokio::sync::Notify,
    handler: Mutex<Option<Arc<dyn SessionHandler>>>,
    engine: Weak<EngineInner>,
}

impl Session {
    pub(super) fn new(
        id: Arc<str>,
        key: u32,
        transport: Transport,
        request: RequestInfo,
        engine: &Arc<EngineInner>,
    ) -> Self {
        let query = request.query();
        let protocol = Protocol::from_query(query.get("EIO"));
        // engine.io tests `b64` for truthiness: any non-empty value asks for base64.
        let binary_payloads =
            protocol == Protocol::V3 && query.get("b64").is_none_or(str::is_empty);
        Self {
            id,
            key,
            request,
            protocol,
            binary_payloads,
            outbox: Outbox::new(engine.config.max_buffered_bytes),
            transport: AtomicU8::new(match transport {
                Transport::Polling => POLLING,
                Transport::Websocket => WEBSOCKET,
            }),
            upgrading: AtomicBool::new(false),
            poll_active: AtomicBool::new(false),
            closed_by_server: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            deflate_threshold: AtomicUsize::new(usize::MAX),
            cancel: CancellationToken::new(),
            heartbeat: tokio::sync::Notify::new(),
            handler: Mutex::new(None),
            engine: Arc::downgrade(engine),
        }
    }

    pub(super) fn set_handler(&self, handler: Arc<dyn SessionHandler>) {
        *self.handler.lock() = Some(handler);
    }

    fn handler(&self) -> Option<Arc<dyn SessionHandler>> {
        self.handler.lock().clone()
    }

    pub fn transport(&self) -> Transport {
        match self.transport.load(Ordering::Acquire) {
            POLLING => Transport::Polling,
            _ => Transport::Websocket,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn closed_by_server(&self) -> bool {
        self.closed_by_server.load(Ordering::Acquire)
    }

    pub fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    /// Sends frames; a full backlog closes the session rather than growing memory. A volatile
    /// packet is dropped when the transport cannot write it now: a polling session with no
    /// pending GET, or any session that already has a backlog.
    pub fn send(&self, frames: &[Frame], volatile: bool) -> bool {
        if self.drops_volatile(volatile) {
            return false;
        }
        let result = self.outbox.push_all(frames, volatile);
        self.sent(result.map(|_| ()))
    }

    /// Like `send`, but a websocket is only queued to; a writer returned here must be flushed by
    /// the caller (a broadcast flushes all its recipients from one task). The flag is `send`'s
    /// answer: whether the frames were taken.
    pub fn send_deferred(&self, frames: &[Frame], volatile: bool) -> (bool, Option<Arc<WsWriter>>) {
        if self.drops_volatile(volatile) {
            return (false, None);
        }
        match self.outbox.push_deferred(frames, volatile) {
            Ok(writer) => (true, writer),
            Err(error) => (self.sent(Err(error)), None),
        }
    }

    fn drops_volatile(&self, volatile: bool) -> bool {
        volatile && self.transport() == Transport::Polling && !self.poll_pending()
    }

    fn sent(&self, result: Result<(), PushError>) -> bool {
        match result {
            Ok(()) => true,
            Err(PushError::Overflow) => {
                self.close(CloseReason::TransportError);
                false
            }
            Err(PushError::Closed | PushError::Dropped) => false,
        }
    }

    pub fn send_packet(&self, kind: PacketType, data: &str) -> bool {
        self.send(
            &[Frame::text(super::packet::encode_text(kind, data))],
            false,
        )
    }

    /// Handles a packet the client sent on its current transport.
    pub(super) fn receive(&self, packet: super::packet::Packet) {
        use super::packet::Packet;
        match packet {
            Packet::Text(PacketType::Message, text) => {
                if let Some(handler) = self.handler() {
                    handler.on_message(Message::Text(text));
                }
            }
            Packet::Binary(bytes) => {
                if let Some(handler) = self.handler() {
                    handler.on_message(Message::Binary(bytes));
                }
            }
            Packet::Text(PacketType::Ping, _) if self.protocol == Protocol::V3 => {
                self.send_packet(PacketType::Pong, "");
                self.heartbeat.notify_one();
            }
            Packet::Text(PacketType::Pong, _) if self.protocol == Protocol::V4 => {
                self.heartbeat.notify_one()
            }
            Packet::Text(PacketType::Close, _) => self.close(CloseReason::TransportClose),
            Packet::Text(PacketType::Noop, _) => {}
            // Open and upgrade are not valid from a client on an established transport, nor a
            // heartbeat packet in the wrong direction.
            Packet::Text(_, _) => self.close(CloseReason::TransportError),
        }
    }

    pub(super) fn begin_upgrade(&self) -> bool {
        self.transport() == Transport::Polling && !self.upgrading.swap(true, Ordering::AcqRel)
    }

    pub(super) fn is_upgrading(&self) -> bool {
        self.upgrading.load(Ordering::Acquire)
    }

    /// Releases the long-poll pending at probe time with a noop, so the client can finish
    /// upgrading (it waits for that poll before sending the upgrade packet).
    pub(super) fn flush_poll_for_upgrade(&self) {
        if self.poll_pending() {
            self.send_packet(PacketType::Noop, "");
        }
    }

    pub(super) fn abort_upgrade(&self) {
        self.upgrading.store(false, Ordering::Release);
    }

    /// Switches to the websocket: what was queued for polling goes out on it first.
    /// The websocket now carrying this session negotiated permessage-deflate. Set once the
    /// websocket is attached, so no compressed frame can land in a polling queue.
    pub(super) fn set_deflate_threshold(&self, threshold: usize) {
        self.deflate_threshold.store(threshold, Ordering::Release);
    }

    /// The size from which messages to this client are compressed, if it takes compression.
    pub fn deflate_threshold(&self) -> Option<usize> {
        let threshold = self.deflate_threshold.load(Ordering::Acquire);
        (threshold != usize::MAX).then_some(threshold)
    }

    pub(super) fn complete_upgrade(&self, writer: Arc<WsWriter>) {
        self.outbox.attach_websocket(writer);
        self.transport.store(WEBSOCKET, Ordering::Release);
        self.upgrading.store(false, Ordering::Release);
        self.outbox.wake();
        if let Some(handler) = self.handler() {
            handler.on_upgrade();
        }
    }

    /// Marks a long-poll as in flight; false when one already was (an overlapping poll).
    pub(super) fn start_poll(&self) -> bool {
        !self.poll_active.swap(true, Ordering::AcqRel)
    }

    pub(super) fn end_poll(&self) {
        self.poll_active.store(false, Ordering::Release);
    }

    pub(super) fn poll_pending(&self) -> bool {
        self.poll_active.load(Ordering::Acquire)
    }

    /// Whether a packet sent now goes out at once (`conn.transport.writable`): a polling session
    /// needs a pending GET; any session needs an empty queue.
    pub fn writable(&self) -> bool {
        !self.is_closed()
            && self.outbox.is_empty()
            && (self.transport() == Transport::Websocket || self.poll_pending())
    }

    pub fn close(&self, reason: CloseReason) {
        // Stored first, so a pending poll that sees the session closed also sees who closed it.
        if reason.tells_client() {
            self.closed_by_server.store(true, Ordering::Release);
        }
        // The swap makes concurrent closes (a ping timeout and a client's close) count once.
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.cancel.cancel();
        self.outbox.close();
        if let Some(engine) = self.engine.upgrade() {
            engine.remove(self, reason.drains_first());
        }
        if let Some(handler) = self.handler.lock().take() {
            handler.on_close(reason);
        }
    }

    /// Revision 4: pings every `ping_interval` and closes the session when a pong does not come
    /// back within `ping_timeout`. Revision 3: the client pings, so the session closes when no
    /// ping came for `ping_interval + ping_timeout`.
    pub(super) async fn heartbeat(
        self: Arc<Self>,
        interval: std::time::Duration,
        timeout: std::time::Duration,
    ) {
        if self.protocol == Protocol::V3 {
            return self.await_client_pings(interval + timeout).await;
        }
        // Absolute deadlines, so timer rounding does not add up from one ping to the next.
        let mut next_ping = tokio::time::Instant::now() + interval;
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep_until(next_ping) => {}
            }
            if !self.send_packet(PacketType::Ping, "") {
                return;
            }
            let deadline = next_ping + timeout;
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = self.heartbeat.notified() => next_ping = tokio::time::Instant::now() + interval,
                _ = tokio::time::sleep_until(deadline) => {
                    self.close(CloseReason::PingTimeout);
                    return;
                }
            }
        }
    }

    async fn await_client_pings(&self, window: std::time::Duration) {
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = self.heartbeat.notified() => {}
                _ = tokio::time::sleep(window) => {
                    self.close(CloseReason::PingTimeout);
                    return;
                }
            }
        }
    }
}

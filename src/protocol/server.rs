//! The socket.io server core: clients by connection key, namespaces by name, and the calls the
//! binding makes on behalf of JS.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use bytes::Bytes;

use crate::adapter::recovery::RecoveryLog;
use crate::adapter::redis::{LocalNode, RemoteBroadcast};
use crate::engine::frame::Frame;
use crate::engine::protocol::Protocol;
use crate::engine::server::ConnectionHandler;
use crate::engine::session::{CloseReason, Session, SessionHandler};
use crate::engine::ws_writer::FlushQueue;

use super::broadcast::{self, Encoded, Target};
use super::client::{control_frame, Client};
use super::connect_timeout::ConnectTimeout;
use super::event::{ProtocolEvent, Upstream};
use super::namespace::Namespace;
use super::packet::{ack_kind, event_kind, PacketKind};
use super::Id;

pub struct ProtocolInner {
    pub upstream: Arc<dyn Upstream>,
    /// Where work started from the JS thread runs (broadcast flushes, timers).
    runtime: tokio::runtime::Handle,
    flush: Arc<FlushQueue>,
    connect_timeout: ConnectTimeout,
    /// Present when connection state recovery is on.
    recovery: Option<Arc<RecoveryLog>>,
    clients: RwLock<HashMap<u32, Arc<Client>>>,
    namespaces: RwLock<HashMap<String, Arc<Mutex<Namespace>>>>,
}

/// Encoded message to send: the event or ack's JSON array text plus binary attachments.
pub struct Outgoing<'a> {
    pub data: &'a str,
    pub attachments: Vec<&'a [u8]>,
    /// socket.io's `compress` flag (per-message deflate, when negotiated).
    pub compress: bool,
}

impl ProtocolInner {
    pub fn new(
        upstream: Arc<dyn Upstream>,
        connect_timeout: Duration,
        recovery_window: Option<Duration>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        let recovery = recovery_window.map(|window| Arc::new(RecoveryLog::new(window)));
        if let Some(log) = &recovery {
            // Packets also expire when no broadcast comes to push them out.
            let log = Arc::downgrade(log);
            runtime.spawn(async move {
                loop {
                    let Some(interval) = log.upgrade().map(|log| log.trim_interval()) else {
                        return;
                    };
                    tokio::time::sleep(interval).await;
                    match log.upgrade() {
                        Some(log) => log.trim(),
                        None => return,
                    }
                }
            });
        }
        let flush = Arc::new(FlushQueue::new({
            let upstream = upstream.clone();
            move || upstream.pending()
        }));
        Arc::new(Self {
            upstream,
            connect_timeout: ConnectTimeout::start(connect_timeout, &runtime),
            recovery,
            runtime,
            flush,
            clients: RwLock::new(HashMap::new()),
            namespaces: RwLock::new(HashMap::new()),
        })
    }

    fn client(&self, conn: u32) -> Option<Arc<Client>> {
        self.clients.read().get(&conn).cloned()
    }

    pub(super) fn forget_client(&self, conn: u32) {
        self.clients.write().remove(&conn);
    }

    fn namespace(&self, nsp: &str) -> Option<Arc<Mutex<Namespace>>> {
        self.namespaces.read().get(nsp).cloned()
    }

    /// Adds a socket to namespace `nsp`, creating it when it is the first. The table's lock is
    /// held until the socket is in, so `leave_namespace` cannot drop the namespace meanwhile.
    fn join_namespace(&self, nsp: &str, sid: Id, client: Arc<Client>) {
        {
            let namespaces = self.namespaces.read();
            if let Some(namespace) = namespaces.get(nsp) {
                namespace.lock().add(sid, client);
                return;
            }
        }
        let mut namespaces = self.namespaces.write();
        let namespace = namespaces.entry(nsp.to_owned()).or_default();
        namespace.lock().add(sid, client);
    }

    /// Removes a socket; an empty namespace is dropped, so namespaces created on the fly (one
    /// per chat room, say) do not pile up.
    pub fn leave_namespace(&self, nsp: &str, sid: &str) {
        let Some(namespace) = self.namespace(nsp) else {
            return;
        };
        let now_empty = {
            let mut namespace = namespace.lock();
            namespace.remove(sid);
            namespace.is_empty()
        };
        if now_empty {
            let mut namespaces = self.namespaces.write();
            if namespaces.get(nsp).is_some_and(|n| n.lock().is_empty()) {
                namespaces.remove(nsp);
            }
        }
    }

    /// Admits a socket that JS middleware accepted; false when the client is already gone.
    /// `pid` is the socket's private session id when connection state recovery is on.
    pub fn accept(&self, conn: u32, nsp: &str, sid: &str, pid: Option<&str>) -> bool {
        let Some(client) = self.client(conn) else {
            return false;
        };
        if client.session.is_closed() {
            return false;
        }
        let sid: Id = Arc::from(sid);
        client.add_socket(nsp, sid.clone());
        self.join_namespace(nsp, sid.clone(), client.clone());
        // A v4 client (engine.io revision 3) gets an empty CONNECT ack.
        let reply = match (client.session.protocol, pid) {
            (Protocol::V3, _) => String::new(),
            (Protocol::V4, Some(pid)) => format!("{{\"sid\":\"{sid}\",\"pid\":\"{pid}\"}}"),
            (Protocol::V4, None) => format!("{{\"sid\":\"{sid}\"}}"),
        };
        self.send_from_js(
            &client,
            &[control_frame(PacketKind::Connect, nsp, &reply)],
            false,
        )
    }

    /// Refuses a namespace connection with a CONNECT_ERROR carrying `payload` (JSON).
    pub fn reject(&self, conn: u32, nsp: &str, payload: &str) {
        if let Some(client) = self.client(conn) {
            let frame = control_frame(PacketKind::ConnectError, nsp, payload);
            self.send_from_js(&client, &[frame], false);
        }
    }

    pub fn emit(
        &self,
        conn: u32,
        nsp: &str,
        ack: Option<u64>,
        message: Outgoing,
        volatile: bool,
    ) -> bool {
        let Some(client) = self.client(conn) else {
            return false;
        };
        let kind = event_kind(message.attachments.len());
        let packet = Encoded::new(kind, nsp, ack, message.data, &message.attachments)
            .compress(message.compress);
        self.send_from_js(&client, packet.frames_for(&client.session), volatile)
    }

    pub fn ack(&self, conn: u32, nsp: &str, id: u64, message: Outgoing) -> bool {
        let Some(client) = self.client(conn) else {
            return false;
        };
        let kind = ack_kind(message.attachments.len());
        let packet = Encoded::new(kind, nsp, Some(id), message.data, &message.attachments)
            .compress(message.compress);
        self.send_from_js(&client, packet.frames_for(&client.session), false)
    }

    /// A send made by JS. While JS is dispatching a batch of events, the handlers' replies join
    /// that batch's flush: written together after the batch (see `FlushQueue`), many sockets
    /// per system call, instead of one system call each between handler calls.
    fn send_from_js(&self, client: &Client, frames: &[Frame], volatile: bool) -> bool {
        if !self.flush.is_dispatching() {
            return client.send(frames, volatile);
        }
        let (taken, writer) = client.session.send_deferred(frames, volatile);
        if let Some(writer) = writer {
            self.flush.add(&self.runtime, [writer]);
        }
        taken
    }

    /// Sends one event to every socket `target` selects, encoded once. With `ack`, every
    /// recipient gets the same ack id (each socket has its own ack table, as in socket.io).
    pub fn broadcast(
        &self,
        nsp: &str,
        target: &Target,
        message: Outgoing,
        volatile: bool,
        ack: Option<u64>,
        reached: impl FnMut(&Id),
    ) {
        let kind = event_kind(message.attachments.len());
        let encode = |data: &str| {
            Encoded::new(kind, nsp, ack, data, &message.attachments).compress(message.compress)
        };
        // Stored even when nobody is connected: that is when clients are reconnecting. Only
        // socket.io v5 clients recover, so the log keeps their frames.
        let packet = match &self.recovery {
            Some(log) if !volatile && ack.is_none() => {
                log.store(nsp, &target.rooms, &target.except, |offset| {
                    let packet = encode(&with_offset(message.data, offset));
                    (packet.frames(Protocol::V4).to_vec(), packet)
                })
            }
            _ => encode(message.data),
        };
        let Some(namespace) = self.namespace(nsp) else {
            return;
        };
        broadcast::fan_out(
            &self.runtime,
            &self.flush,
            &namespace,
            target,
            &packet,
            volatile,
            reached,
        );
    }

    /// Broadcasts from now on wait for `release_broadcasts` before they are written.
    pub fn hold_broadcasts(&self) {
        self.flush.hold();
    }

    pub fn release_broadcasts(&self) {
        self.flush.release(&self.runtime);
    }

    /// Sends a recovering socket (in `rooms`) what it missed since `offset`.
    pub fn replay_missed(&self, conn: u32, nsp: &str, offset: &str, rooms: &[String]) -> bool {
        let Some(client) = self.client(conn) else {
            return false;
        };
        let missed = self
            .recovery
            .as_ref()
            .and_then(|log| log.missed(nsp, offset, rooms));
        match missed {
            Some(frames) => frames.is_empty() || client.send(&frames, false),
            None => false,
        }
    }

    pub fn join(&self, nsp: &str, sid: &str, rooms: Vec<String>) {
        if let Some(namespace) = self.namespace(nsp) {
            let mut namespace = namespace.lock();
            if namespace.contains(sid) {
                namespace
                    .rooms
                    .add_all(&Arc::from(sid), rooms.into_iter().map(Arc::from));
            }
        }
    }

    pub fn leave(&self, nsp: &str, sid: &str, room: &str) {
        if let Some(namespace) = self.namespace(nsp) {
            namespace.lock().rooms.del(sid, room);
        }
    }

    pub fn socket_rooms(&self, nsp: &str, sid: &str) -> Vec<String> {
        self.namespace(nsp)
            .map(|namespace| {
                namespace
                    .lock()
                    .rooms
                    .socket_rooms(sid)
                    .map(|room| room.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn rooms_json(&self, nsp: &str) -> String {
        self.namespace(nsp)
            .map(|namespace| namespace.lock().rooms_json())
            .unwrap_or_else(|| "{}".into())
    }

    /// Sends DISCONNECT for one namespace (also to a socket still in middleware, which refuses
    /// it) and forgets the socket.
    pub fn disconnect_socket(&self, conn: u32, nsp: &str) {
        let Some(client) = self.client(conn) else {
            return;
        };
        if let Some(sid) = client.remove_socket(nsp) {
            self.leave_namespace(nsp, &sid);
        }
        client.send(&[control_frame(PacketKind::Disconnect, nsp, "")], false);
    }

    pub fn close_connection(&self, conn: u32) {
        if let Some(client) = self.client(conn) {
            client.session.close(CloseReason::ForcedClose);
        }
    }

    pub fn session(&self, conn: u32) -> Option<Arc<Session>> {
        self.client(conn).map(|client| client.session.clone())
    }
}

/// The event's JSON array with `offset` appended as its last argument, where socket.io clients
/// look for it.
fn with_offset(data: &str, offset: &str) -> String {
    let items = data.strip_suffix(']').unwrap_or(data);
    format!("{items},\"{offset}\"]")
}

/// Messages from the other nodes of a cluster: broadcasts fan out here, requests go to JS.
impl LocalNode for ProtocolInner {
    fn has_room(&self, nsp: &str, room: &str) -> bool {
        self.namespace(nsp)
            .is_some_and(|namespace| namespace.lock().rooms.has_room(room))
    }

    fn broadcast(&self, nsp: &str, remote: RemoteBroadcast) {
        let attachments: Vec<&[u8]> = remote.attachments.iter().map(|b| &b[..]).collect();
        let target = Target {
            rooms: remote.rooms,
            except: remote.except,
        };
        let message = Outgoing {
            data: &remote.data,
            attachments,
            compress: remote.compress,
        };
        ProtocolInner::broadcast(self, nsp, &target, message, remote.volatile, None, |_| {});
    }

    fn request(&self, nsp: &str, response: bool, data: String, attachments: Vec<Bytes>) {
        self.upstream.push(ProtocolEvent::Cluster {
            nsp: nsp.to_owned(),
            response,
            data,
            attachments,
        });
    }
}

impl ConnectionHandler for Arc<ProtocolInner> {
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler> {
        let client = Arc::new(Client::new(session.clone(), self));
        self.clients.write().insert(session.key, client.clone());
        self.connect_timeout.watch(&client);
        self.upstream.push(ProtocolEvent::Open {
            conn: session.key,
            sid: session.id.clone(),
        });
        if session.protocol == Protocol::V3 {
            client.join_main_namespace(self);
        }
        client
    }
}

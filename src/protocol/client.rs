//! One client connection (one engine.io session) as socket.io sees it: the namespaces it has
//! joined, a binary packet being reassembled, and the connect timeout.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::engine::frame::Frame;
use crate::engine::protocol::Protocol;
use crate::engine::session::{CloseReason, Message, Session, SessionHandler};

use super::event::ProtocolEvent;
use super::legacy;
use super::packet::{self, Packet, PacketKind, ParseError};
use super::server::ProtocolInner;
use super::Id;

struct PartialBinary {
    packet: Packet,
    attachments: Vec<Bytes>,
}

#[derive(Default)]
struct State {
    /// Namespace name → socket id, for the namespaces this client has joined.
    sockets: HashMap<String, Id>,
    partial: Option<PartialBinary>,
}

pub struct Client {
    pub session: Arc<Session>,
    server: Weak<ProtocolInner>,
    state: Mutex<State>,
}

impl Client {
    pub(super) fn new(session: Arc<Session>, server: &Arc<ProtocolInner>) -> Self {
        Self {
            session,
            server: Arc::downgrade(server),
            state: Mutex::new(State::default()),
        }
    }

    pub fn key(&self) -> u32 {
        self.session.key
    }

    pub fn send(&self, frames: &[Frame], volatile: bool) -> bool {
        self.session.send(frames, volatile)
    }

    pub(super) fn has_sockets(&self) -> bool {
        !self.state.lock().sockets.is_empty()
    }

    fn has_joined(&self, nsp: &str) -> bool {
        self.state.lock().sockets.contains_key(nsp)
    }

    pub(super) fn add_socket(&self, nsp: &str, sid: Id) {
        self.state.lock().sockets.insert(nsp.to_owned(), sid);
    }

    pub(super) fn remove_socket(&self, nsp: &str) -> Option<Id> {
        self.state.lock().sockets.remove(nsp)
    }

    /// socket.io puts a v4 client (engine.io revision 3) in `/` as soon as it connects.
    pub(super) fn join_main_namespace(&self, server: &ProtocolInner) {
        server.upstream.push(ProtocolEvent::Connect {
            conn: self.key(),
            nsp: "/".into(),
            sid: legacy::socket_id("/", &self.session.id),
            auth: None,
        });
    }

    fn dispatch(&self, server: &ProtocolInner, mut packet: Packet, attachments: Vec<Bytes>) {
        let conn = self.key();
        // A v4 client's namespace may carry a query string: its CONNECT's auth.
        let mut query_auth = None;
        if self.session.protocol == Protocol::V3 {
            let (nsp, query) = legacy::split_namespace(&packet.nsp);
            if packet.kind == PacketKind::Connect {
                query_auth = Some(legacy::auth_from_query(query));
            }
            if nsp.len() < packet.nsp.len() {
                packet.nsp = nsp.to_owned();
            }
        }
        let joined = self.has_joined(&packet.nsp);
        match packet.kind {
            PacketKind::Connect if !joined => {
                let (sid, auth) = match self.session.protocol {
                    Protocol::V4 => (crate::engine::server::generate_id(), packet.data),
                    Protocol::V3 => (legacy::socket_id(&packet.nsp, &self.session.id), query_auth),
                };
                server.upstream.push(ProtocolEvent::Connect {
                    conn,
                    nsp: packet.nsp,
                    sid,
                    auth,
                });
            }
            PacketKind::Disconnect if self.remove_socket(&packet.nsp).is_some() => {
                server.upstream.push(ProtocolEvent::Disconnect {
                    conn,
                    nsp: packet.nsp,
                });
            }
            PacketKind::Event | PacketKind::BinaryEvent if joined => {
                if let Some(data) = packet.data {
                    server.upstream.push(ProtocolEvent::Event {
                        conn,
                        nsp: packet.nsp,
                        ack: packet.id,
                        data,
                        attachments,
                    });
                }
            }
            PacketKind::Ack | PacketKind::BinaryAck if joined => {
                if let (Some(id), Some(data)) = (packet.id, packet.data) {
                    server.upstream.push(ProtocolEvent::Ack {
                        conn,
                        nsp: packet.nsp,
                        id,
                        data,
                        attachments,
                    });
                }
            }
            // A packet the connection's state does not allow (an event for a namespace it has
            // not joined, a second CONNECT, a CONNECT_ERROR from a client): socket.io closes it,
            // and its sockets see the engine's "forced close".
            _ => self.session.close(CloseReason::ForcedClose),
        }
    }

    fn parse_error(&self, server: &ProtocolInner, error: ParseError) {
        server.upstream.push(ProtocolEvent::Error {
            conn: self.key(),
            message: error.message(),
        });
        self.session.close(CloseReason::ForcedClose);
    }
}

impl SessionHandler for Client {
    fn on_message(&self, message: Message) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        match message {
            Message::Text(text) => {
                if self.state.lock().partial.is_some() {
                    return self.parse_error(&server, ParseError::UnexpectedText);
                }
                let packet = match packet::decode(&text) {
                    Ok(packet) => packet,
                    Err(error) => return self.parse_error(&server, error),
                };
                if packet.kind.is_binary() && packet.attachments > 0 {
                    self.state.lock().partial = Some(PartialBinary {
                        attachments: Vec::with_capacity(packet.attachments.min(16)),
                        packet,
                    });
                } else {
                    self.dispatch(&server, packet, Vec::new());
                }
            }
            Message::Binary(bytes) => {
                let complete = {
                    let mut state = self.state.lock();
                    let Some(partial) = state.partial.as_mut() else {
                        drop(state);
                        return self.parse_error(&server, ParseError::UnexpectedBinary);
                    };
                    partial.attachments.push(bytes);
                    if partial.attachments.len() == partial.packet.attachments {
                        state.partial.take()
                    } else {
                        None
                    }
                };
                if let Some(done) = complete {
                    self.dispatch(&server, done.packet, done.attachments);
                }
            }
        }
    }

    fn on_upgrade(&self) {
        if let Some(server) = self.server.upgrade() {
            server
                .upstream
                .push(ProtocolEvent::Upgrade { conn: self.key() });
        }
    }

    fn on_close(&self, reason: CloseReason) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        // Room membership stays until JS has emitted `disconnecting` and calls `remove_socket`.
        self.state.lock().sockets.clear();
        server.forget_client(self.key());
        server.upstream.push(ProtocolEvent::Close {
            conn: self.key(),
            reason: reason.as_str(),
        });
    }
}

/// Encodes a CONNECT reply, CONNECT_ERROR or DISCONNECT for one namespace.
pub(super) fn control_frame(kind: PacketKind, nsp: &str, data: &str) -> Frame {
    packet::encode(kind, nsp, None, 0, data)
}

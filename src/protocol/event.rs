//! What the protocol layer reports upward (to JS), in the order it happened.

use bytes::Bytes;

use super::Id;

#[derive(Debug)]
pub enum ProtocolEvent {
    /// A client asks to join a namespace; the answer is `accept` or `reject`.
    Connect {
        conn: u32,
        nsp: String,
        sid: Id,
        auth: Option<String>,
    },
    Event {
        conn: u32,
        nsp: String,
        ack: Option<u64>,
        data: String,
        attachments: Vec<Bytes>,
    },
    Ack {
        conn: u32,
        nsp: String,
        id: u64,
        data: String,
        attachments: Vec<Bytes>,
    },
    /// The client left one namespace.
    Disconnect {
        conn: u32,
        nsp: String,
    },
    /// The client sent something that is not socket.io; its sockets get an `error` event and the
    /// connection closes ("forced close").
    Error {
        conn: u32,
        message: String,
    },
    /// The whole connection closed.
    Close {
        conn: u32,
        reason: &'static str,
    },
    Upgrade {
        conn: u32,
    },
    /// A new engine.io session (engine.io's `connection`); reported only when JS listens.
    Open {
        conn: u32,
        sid: Id,
    },
    /// A refused HTTP request (engine.io's `connection_error`): the error's code and message,
    /// its context and the request, both as JSON text.
    ConnectionError {
        code: u8,
        message: String,
        context: String,
        request: String,
    },
    /// A cluster request (or response) from another node, for the namespace's JS adapter: JSON
    /// with binary placeholders.
    Cluster {
        nsp: String,
        response: bool,
        data: String,
        attachments: Vec<Bytes>,
    },
}

/// Receives the protocol's events; must not block.
pub trait Upstream: Send + Sync {
    fn push(&self, event: ProtocolEvent);

    /// Events wait to be dispatched (their handlers may broadcast).
    fn pending(&self) -> bool;
}

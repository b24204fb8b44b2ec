//! Events towards JS, batched: Rust appends to a queue and wakes JS only when the queue was
//! empty, so one threadsafe call drains everything that piled up meanwhile.

use napi::bindgen_prelude::Buffer;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use parking_lot::Mutex;

use crate::protocol::event::{ProtocolEvent, Upstream};

pub type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

pub struct EventQueue {
    events: Mutex<Vec<ProtocolEvent>>,
    wake: Mutex<Option<Wake>>,
}

impl EventQueue {
    pub fn new(wake: Wake) -> Self {
        Self {
            events: Mutex::new(Vec::new()),
            wake: Mutex::new(Some(wake)),
        }
    }

    pub fn take(&self) -> Vec<ProtocolEvent> {
        std::mem::take(&mut *self.events.lock())
    }

    /// Stops waking JS; dropping the threadsafe function lets Node exit.
    pub fn shut(&self) {
        self.wake.lock().take();
    }
}

impl Upstream for EventQueue {
    fn push(&self, event: ProtocolEvent) {
        let was_empty = {
            let mut events = self.events.lock();
            events.push(event);
            events.len() == 1
        };
        if was_empty {
            if let Some(wake) = self.wake.lock().as_ref() {
                wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
    }
}

/// Event kinds, as the JS side switches on them.
pub const CONNECT: u32 = 0;
pub const EVENT: u32 = 1;
pub const ACK: u32 = 2;
pub const DISCONNECT: u32 = 3;
pub const CLOSE: u32 = 4;
pub const UPGRADE: u32 = 5;
pub const ERROR: u32 = 6;

/// One event as JS receives it; fields not used by a kind are left undefined.
#[napi(object)]
pub struct NativeEvent {
    pub kind: u32,
    pub conn: u32,
    pub nsp: Option<String>,
    /// Socket id (connect), close reason (close) or error message (error).
    pub text: Option<String>,
    /// Ack id of an event or ack.
    pub id: Option<i64>,
    /// JSON text: the auth payload (connect) or the arguments array (event, ack).
    pub data: Option<String>,
    pub attachments: Option<Vec<Buffer>>,
}

fn buffers(attachments: Vec<bytes::Bytes>) -> Option<Vec<Buffer>> {
    (!attachments.is_empty()).then(|| {
        attachments
            .into_iter()
            .map(|b| Buffer::from(b.to_vec()))
            .collect()
    })
}

impl From<ProtocolEvent> for NativeEvent {
    fn from(event: ProtocolEvent) -> Self {
        let empty = |kind, conn| NativeEvent {
            kind,
            conn,
            nsp: None,
            text: None,
            id: None,
            data: None,
            attachments: None,
        };
        match event {
            ProtocolEvent::Connect {
                conn,
                nsp,
                sid,
                auth,
            } => NativeEvent {
                nsp: Some(nsp),
                text: Some(sid.to_string()),
                data: auth,
                ..empty(CONNECT, conn)
            },
            ProtocolEvent::Event {
                conn,
                nsp,
                ack,
                data,
                attachments,
            } => NativeEvent {
                nsp: Some(nsp),
                id: ack.map(|id| id as i64),
                data: Some(data),
                attachments: buffers(attachments),
                ..empty(EVENT, conn)
            },
            ProtocolEvent::Ack {
                conn,
                nsp,
                id,
                data,
                attachments,
            } => NativeEvent {
                nsp: Some(nsp),
                id: Some(id as i64),
                data: Some(data),
                attachments: buffers(attachments),
                ..empty(ACK, conn)
            },
            ProtocolEvent::Disconnect { conn, nsp } => NativeEvent {
                nsp: Some(nsp),
                ..empty(DISCONNECT, conn)
            },
            ProtocolEvent::Close { conn, reason } => NativeEvent {
                text: Some(reason.to_owned()),
                ..empty(CLOSE, conn)
            },
            ProtocolEvent::Upgrade { conn } => empty(UPGRADE, conn),
            ProtocolEvent::Error { conn, message } => NativeEvent {
                text: Some(message),
                ..empty(ERROR, conn)
            },
        }
    }
}

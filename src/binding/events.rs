//! Events towards JS, batched: Rust appends each event to one JSON text and wakes JS only when
//! the batch was empty, so one threadsafe call and one `JSON.parse` deliver everything that piled
//! up meanwhile. Payloads were validated as JSON by the protocol layer, so they are spliced into
//! the batch as they came: the parse that reads the batch also reads every event's arguments.
//!
//! Each event is an array whose first element is its kind:
//! - `[0, conn, nsp, sid, auth | null]` connect
//! - `[1, conn, nsp, ackId | -1, args, firstAttachment?, attachmentCount?]` event
//! - `[2, conn, nsp, ackId, args, firstAttachment?, attachmentCount?]` ack
//! - `[3, conn, nsp]` the client left a namespace
//! - `[4, conn, reason]` the connection closed
//! - `[5, conn]` the connection upgraded to websocket
//! - `[6, conn, message]` the client sent something that is not socket.io
//! - `[7, conn, engineId]` a new engine.io session (only when JS asked for them)
//! - `[8, code, message, context, request]` a refused HTTP request (context and request as in
//!   `RequestInfo::to_json`)
//! - `[9, nsp, isResponse, message, firstAttachment?, attachmentCount?]` a cluster request or
//!   response from another node (see `adapter::redis`)
//!
//! Binary attachments travel beside the text, indexed by position.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use napi::bindgen_prelude::Buffer;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use parking_lot::Mutex;

use crate::protocol::event::{ProtocolEvent, Upstream};

pub type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

#[derive(Default)]
struct Batch {
    /// `[` and the events as JSON arrays separated by commas (closed by `take`); empty when
    /// nothing is queued.
    text: String,
    attachments: Vec<Bytes>,
}

pub struct EventQueue {
    batch: Mutex<Batch>,
    wake: Mutex<Option<Wake>>,
    /// Whether JS listens for new engine sessions (`io.engine.on('connection')`).
    report_open: AtomicBool,
}

/// What `takeEvents` hands to JS.
#[napi(object)]
pub struct NativeBatch {
    /// A JSON array of events (see the module documentation).
    pub events: String,
    pub attachments: Option<Vec<Buffer>>,
}

impl EventQueue {
    pub fn new(wake: Wake) -> Self {
        Self {
            batch: Mutex::new(Batch::default()),
            wake: Mutex::new(Some(wake)),
            report_open: AtomicBool::new(false),
        }
    }

    pub fn take(&self) -> NativeBatch {
        let mut batch = std::mem::take(&mut *self.batch.lock());
        if batch.text.is_empty() {
            batch.text.push('[');
        }
        batch.text.push(']');
        NativeBatch {
            events: batch.text,
            attachments: (!batch.attachments.is_empty()).then(|| {
                batch
                    .attachments
                    .into_iter()
                    .map(|b| Buffer::from(b.to_vec()))
                    .collect()
            }),
        }
    }

    pub fn report_open(&self, report: bool) {
        self.report_open.store(report, Ordering::Relaxed);
    }

    /// Stops waking JS; dropping the threadsafe function lets Node exit.
    pub fn shut(&self) {
        self.wake.lock().take();
    }
}

impl Upstream for EventQueue {
    fn push(&self, event: ProtocolEvent) {
        if matches!(event, ProtocolEvent::Open { .. }) && !self.report_open.load(Ordering::Relaxed)
        {
            return;
        }
        let was_empty = {
            let mut batch = self.batch.lock();
            add(&mut batch, event)
        };
        if was_empty {
            if let Some(wake) = self.wake.lock().as_ref() {
                wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
    }

    fn pending(&self) -> bool {
        !self.batch.lock().text.is_empty()
    }
}

/// Adds one event to the batch; true when it is the first (JS must then be woken).
fn add(batch: &mut Batch, event: ProtocolEvent) -> bool {
    let first = batch.text.is_empty();
    batch.text.push(if first { '[' } else { ',' });
    append(batch, event);
    first
}

fn append(batch: &mut Batch, event: ProtocolEvent) {
    let out = &mut batch.text;
    match event {
        ProtocolEvent::Connect {
            conn,
            nsp,
            sid,
            auth,
        } => {
            let _ = write!(out, "[0,{conn},");
            push_json_string(out, &nsp);
            out.push(',');
            push_json_string(out, &sid);
            out.push(',');
            out.push_str(auth.as_deref().unwrap_or("null"));
            out.push(']');
        }
        ProtocolEvent::Event {
            conn,
            nsp,
            ack,
            data,
            attachments,
        } => {
            let ack = ack.map_or(-1, |id| id as i64);
            push_message(batch, 1, conn, &nsp, ack, &data, attachments);
        }
        ProtocolEvent::Ack {
            conn,
            nsp,
            id,
            data,
            attachments,
        } => push_message(batch, 2, conn, &nsp, id as i64, &data, attachments),
        ProtocolEvent::Disconnect { conn, nsp } => {
            let _ = write!(out, "[3,{conn},");
            push_json_string(out, &nsp);
            out.push(']');
        }
        ProtocolEvent::Close { conn, reason } => {
            let _ = write!(out, "[4,{conn},");
            push_json_string(out, reason);
            out.push(']');
        }
        ProtocolEvent::Upgrade { conn } => {
            let _ = write!(out, "[5,{conn}]");
        }
        ProtocolEvent::Error { conn, message } => {
            let _ = write!(out, "[6,{conn},");
            push_json_string(out, &message);
            out.push(']');
        }
        ProtocolEvent::Open { conn, sid } => {
            let _ = write!(out, "[7,{conn},");
            push_json_string(out, &sid);
            out.push(']');
        }
        ProtocolEvent::ConnectionError {
            code,
            message,
            context,
            request,
        } => {
            let _ = write!(out, "[8,{code},");
            push_json_string(out, &message);
            let _ = write!(out, ",{context},{request}]");
        }
        ProtocolEvent::Cluster {
            nsp,
            response,
            data,
            attachments,
        } => {
            out.push_str("[9,");
            push_json_string(out, &nsp);
            let _ = write!(out, ",{},{data}", u8::from(response));
            if !attachments.is_empty() {
                let _ = write!(out, ",{},{}", batch.attachments.len(), attachments.len());
                batch.attachments.extend(attachments);
            }
            out.push(']');
        }
    }
}

fn push_message(
    batch: &mut Batch,
    kind: u8,
    conn: u32,
    nsp: &str,
    ack: i64,
    data: &str,
    attachments: Vec<Bytes>,
) {
    // Formatted by hand: `write!` costs more than the rest of an event's encoding.
    let out = &mut batch.text;
    out.push('[');
    out.push(char::from(b'0' + kind));
    out.push(',');
    out.push_str(itoa::Buffer::new().format(conn));
    out.push(',');
    push_json_string(out, nsp);
    out.push(',');
    out.push_str(itoa::Buffer::new().format(ack));
    out.push(',');
    out.push_str(data);
    if !attachments.is_empty() {
        let _ = write!(out, ",{},{}", batch.attachments.len(), attachments.len());
        batch.attachments.extend(attachments);
    }
    out.push(']');
}

/// Namespace names and socket ids are almost always plain; escape only when needed.
fn push_json_string(out: &mut String, value: &str) {
    if value
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(events: Vec<ProtocolEvent>) -> (serde_json::Value, usize) {
        let mut batch = Batch::default();
        for event in events {
            batch
                .text
                .push(if batch.text.is_empty() { '[' } else { ',' });
            append(&mut batch, event);
        }
        batch.text.push(']');
        let json = serde_json::from_str(&batch.text).unwrap();
        (json, batch.attachments.len())
    }

    #[test]
    fn a_batch_is_one_json_array_with_the_payloads_inline() {
        let (json, attachments) = encode(vec![
            ProtocolEvent::Connect {
                conn: 1,
                nsp: "/a\"b".into(),
                sid: "sid1".into(),
                auth: Some("{\"token\":1}".into()),
            },
            ProtocolEvent::Event {
                conn: 1,
                nsp: "/".into(),
                ack: Some(7),
                data: "[\"ev\",{\"x\":[1,2]}]".into(),
                attachments: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
            },
            ProtocolEvent::Ack {
                conn: 2,
                nsp: "/".into(),
                id: 3,
                data: "[null]".into(),
                attachments: vec![Bytes::from_static(b"c")],
            },
            ProtocolEvent::Close {
                conn: 1,
                reason: "transport close",
            },
        ]);
        assert_eq!(
            json,
            serde_json::json!([
                [0, 1, "/a\"b", "sid1", {"token": 1}],
                [1, 1, "/", 7, ["ev", {"x": [1, 2]}], 0, 2],
                [2, 2, "/", 3, [null], 2, 1],
                [4, 1, "transport close"],
            ])
        );
        assert_eq!(attachments, 3);
    }

    #[test]
    fn events_without_ack_or_auth() {
        let (json, _) = encode(vec![
            ProtocolEvent::Connect {
                conn: 5,
                nsp: "/".into(),
                sid: "s".into(),
                auth: None,
            },
            ProtocolEvent::Event {
                conn: 5,
                nsp: "/".into(),
                ack: None,
                data: "[1]".into(),
                attachments: vec![],
            },
            ProtocolEvent::Error {
                conn: 5,
                message: "invalid payload".into(),
            },
        ]);
        assert_eq!(
            json,
            serde_json::json!([
                [0, 5, "/", "s", null],
                [1, 5, "/", -1, [1]],
                [6, 5, "invalid payload"]
            ])
        );
    }
}

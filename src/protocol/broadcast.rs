//! Fan-out: a packet is encoded once into frames that every recipient's queue shares.

use std::sync::Arc;

use crate::engine::frame::Frame;
use crate::engine::ws_writer::FlushQueue;

use super::namespace::Namespace;
use super::packet::{self, PacketKind};
use super::Id;

/// Who a broadcast goes to: sockets in any of `rooms` (all when empty), minus those in `except`.
#[derive(Debug, Default, Clone)]
pub struct Target {
    pub rooms: Vec<String>,
    pub except: Vec<String>,
}

/// The engine frames of one socket.io packet: the text header, then each binary attachment.
pub fn frames(
    kind: PacketKind,
    nsp: &str,
    id: Option<u64>,
    data: &str,
    attachments: &[&[u8]],
) -> Vec<Frame> {
    let mut frames = Vec::with_capacity(1 + attachments.len());
    frames.push(Frame::text(packet::encode(
        kind,
        nsp,
        id,
        attachments.len(),
        data,
    )));
    frames.extend(attachments.iter().map(|bytes| Frame::binary(bytes)));
    frames
}

/// Queues `frames` for every recipient in `namespace`; the websocket ones are written by the
/// server's flush task (see `FlushQueue`), not one wake-up per recipient. `reached` is told the
/// id of every socket the broadcast went to.
pub fn fan_out(
    runtime: &tokio::runtime::Handle,
    flush: &Arc<FlushQueue>,
    namespace: &parking_lot::Mutex<Namespace>,
    target: &Target,
    frames: &[Frame],
    volatile: bool,
    mut reached: impl FnMut(&Id),
) {
    // Collected first so that no queue is written (and no slow client closed) under the lock.
    let recipients = namespace.lock().recipients(&target.rooms, &target.except);
    let mut to_flush = Vec::new();
    for (sid, client) in &recipients {
        if client.session.is_closed() {
            continue;
        }
        reached(sid);
        if let Some(writer) = client.session.send_deferred(frames, volatile) {
            to_flush.push(writer);
        }
    }
    if !to_flush.is_empty() {
        flush.add(runtime, to_flush);
    }
}

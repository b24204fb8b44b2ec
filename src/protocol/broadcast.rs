//! Fan-out: a packet is encoded once into frames that every recipient's queue shares.

use bytes::Bytes;

use crate::engine::frame::Frame;

use super::namespace::Namespace;
use super::packet::{self, PacketKind};

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
    attachments: Vec<Bytes>,
) -> Vec<Frame> {
    let mut frames = Vec::with_capacity(1 + attachments.len());
    frames.push(Frame::text(packet::encode(
        kind,
        nsp,
        id,
        attachments.len(),
        data,
    )));
    frames.extend(attachments.into_iter().map(Frame::Binary));
    frames
}

/// Sends `frames` to every recipient in `namespace`; returns how many queued it.
pub fn fan_out(
    namespace: &parking_lot::Mutex<Namespace>,
    target: &Target,
    frames: &[Frame],
    volatile: bool,
) -> usize {
    // Collected first so that no queue is written (and no slow client closed) under the lock.
    let recipients = namespace.lock().recipients(&target.rooms, &target.except);
    recipients
        .iter()
        .filter(|client| client.send(frames, volatile))
        .count()
}

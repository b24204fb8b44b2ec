//! Fan-out: a packet is encoded once into frames that every recipient's queue shares.

use std::sync::{Arc, OnceLock};

use crate::engine::frame::Frame;
use crate::engine::protocol::Protocol;
use crate::engine::session::Session;
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
/// The header is the same for every engine.io revision; the attachments are framed per
/// revision, each at most once and only when a recipient speaks it.
pub struct Encoded<'a> {
    attachments: &'a [&'a [u8]],
    v4: OnceLock<Vec<Frame>>,
    v3: OnceLock<Vec<Frame>>,
    header: Frame,
    /// The `compress` flag: large messages may go out compressed.
    compress: bool,
    /// The frames for websocket clients that take permessage-deflate, per revision: each
    /// message is compressed at most once, whatever the number of recipients.
    deflated_v4: OnceLock<Vec<Frame>>,
    deflated_v3: OnceLock<Vec<Frame>>,
}

impl<'a> Encoded<'a> {
    pub fn new(
        kind: PacketKind,
        nsp: &str,
        id: Option<u64>,
        data: &str,
        attachments: &'a [&'a [u8]],
    ) -> Self {
        let header = packet::encode(kind, nsp, id, attachments.len(), data);
        Self {
            attachments,
            v4: OnceLock::new(),
            v3: OnceLock::new(),
            header,
            compress: true,
            deflated_v4: OnceLock::new(),
            deflated_v3: OnceLock::new(),
        }
    }

    /// socket.io's `compress(false)`: never compressed.
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// The frames for `session`: compressed from its threshold on when it negotiated
    /// permessage-deflate (and the packet may be compressed), else as `frames`.
    pub fn frames_for(&self, session: &Session) -> &[Frame] {
        let plain = self.frames(session.protocol);
        let Some(threshold) = session.deflate_threshold().filter(|_| self.compress) else {
            return plain;
        };
        if plain.iter().all(|frame| frame.len() < threshold) {
            return plain;
        }
        let cell = match session.protocol {
            Protocol::V4 => &self.deflated_v4,
            Protocol::V3 => &self.deflated_v3,
        };
        cell.get_or_init(|| {
            plain
                .iter()
                .map(|frame| {
                    if frame.len() >= threshold {
                        frame.deflated()
                    } else {
                        frame.clone()
                    }
                })
                .collect()
        })
    }

    pub fn frames(&self, protocol: Protocol) -> &[Frame] {
        if self.attachments.is_empty() {
            return std::slice::from_ref(&self.header);
        }
        let cell = match protocol {
            Protocol::V4 => &self.v4,
            Protocol::V3 => &self.v3,
        };
        cell.get_or_init(|| {
            let mut frames = Vec::with_capacity(1 + self.attachments.len());
            frames.push(self.header.clone());
            frames.extend(
                self.attachments
                    .iter()
                    .map(|bytes| Frame::binary_for(protocol, bytes)),
            );
            frames
        })
    }
}

/// Queues `frames` for every recipient in `namespace`; the websocket ones are written by the
/// server's flush task (see `FlushQueue`), not one wake-up per recipient. `reached` is told the
/// id of every socket the broadcast went to.
pub fn fan_out(
    runtime: &tokio::runtime::Handle,
    flush: &Arc<FlushQueue>,
    namespace: &parking_lot::Mutex<Namespace>,
    target: &Target,
    packet: &Encoded,
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
        let frames = packet.frames_for(&client.session);
        if let (_, Some(writer)) = client.session.send_deferred(frames, volatile) {
            to_flush.push(writer);
        }
    }
    if !to_flush.is_empty() {
        flush.add(runtime, to_flush);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_framed_per_revision_and_the_header_shared() {
        let attachments: [&[u8]; 1] = [&[1, 2]];
        let packet = Encoded::new(PacketKind::BinaryEvent, "/", None, "[]", &attachments);
        let v4 = packet.frames(Protocol::V4);
        let v3 = packet.frames(Protocol::V3);
        assert_eq!(v4[0], v3[0]);
        assert_eq!(v4[1].payload(), &[1, 2]);
        assert_eq!(v3[1].payload(), &[4, 1, 2]);
        assert!(std::ptr::eq(v3, packet.frames(Protocol::V3)));
        let text = Encoded::new(PacketKind::Event, "/", None, "[]", &[]);
        assert!(std::ptr::eq(
            text.frames(Protocol::V3),
            text.frames(Protocol::V4)
        ));
    }
}

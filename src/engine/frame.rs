//! An encoded engine.io packet waiting to be written, built once and shared: cloning is a
//! refcount bump, so one broadcast frame serves every recipient's queue. It is stored as the
//! websocket frame that carries it (header, then payload), so a websocket write is a plain copy
//! of these bytes, and polling reads the payload part.

use bytes::{BufMut, Bytes, BytesMut};

use super::deflate;
use super::protocol::{Protocol, V3_BINARY_MESSAGE};
use super::ws_codec::{encode_header, Opcode, RSV1};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    wire: Bytes,
    header_len: u8,
    binary: bool,
}

impl Frame {
    /// A text packet: the whole engine.io packet, type digit included (`42[...]`).
    pub fn text(text: String) -> Self {
        Self::build(Opcode::Text, false, &[text.as_bytes()])
    }

    /// A text packet given in parts, written straight into the frame; together the parts must
    /// be UTF-8 text.
    pub fn text_parts(parts: &[&[u8]]) -> Self {
        Self::build(Opcode::Text, false, parts)
    }

    /// A binary message; its bytes go on the wire as they are (websocket) or base64 (polling).
    pub fn binary(bytes: &[u8]) -> Self {
        Self::build(Opcode::Binary, false, &[bytes])
    }

    /// A binary message for a session of `protocol`: revision 3 prefixes the message type byte,
    /// which then is part of the payload (`payload_v3` frames it for polling).
    pub fn binary_for(protocol: Protocol, bytes: &[u8]) -> Self {
        match protocol {
            Protocol::V4 => Self::binary(bytes),
            Protocol::V3 => Self::build(Opcode::Binary, false, &[&[V3_BINARY_MESSAGE], bytes]),
        }
    }

    /// The same message compressed with permessage-deflate (RSV1 set), for websocket
    /// connections that negotiated it; polling never gets such a frame.
    pub fn deflated(&self) -> Self {
        let opcode = if self.binary {
            Opcode::Binary
        } else {
            Opcode::Text
        };
        Self::build(opcode, true, &[&deflate::compress(self.payload())])
    }

    fn build(opcode: Opcode, compressed: bool, parts: &[&[u8]]) -> Self {
        let len = parts.iter().map(|part| part.len()).sum();
        let (mut header, header_len) = encode_header(opcode, len);
        if compressed {
            header[0] |= RSV1;
        }
        let mut wire = BytesMut::with_capacity(header_len + len);
        wire.put_slice(&header[..header_len]);
        for part in parts {
            wire.put_slice(part);
        }
        Self {
            wire: wire.freeze(),
            header_len: header_len as u8,
            binary: opcode == Opcode::Binary,
        }
    }

    /// The websocket frame, header included.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    pub fn payload(&self) -> &[u8] {
        &self.wire[self.header_len as usize..]
    }

    /// The packet text of a text frame (always valid UTF-8: it was built from a `String`).
    pub fn as_text(&self) -> Option<&str> {
        (!self.binary)
            .then(|| std::str::from_utf8(self.payload()).ok())
            .flatten()
    }

    pub fn len(&self) -> usize {
        self.wire.len() - self.header_len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_frames_carry_a_websocket_header() {
        let frame = Frame::text("42[\"a\"]".into());
        assert_eq!(&frame.wire()[..2], &[0x81, 7]);
        assert_eq!(frame.as_text(), Some("42[\"a\"]"));
        assert_eq!(frame.len(), 7);
    }

    #[test]
    fn binary_frames_keep_their_bytes() {
        let frame = Frame::binary(&[1, 2, 3]);
        assert_eq!(&frame.wire()[..], &[0x82, 3, 1, 2, 3]);
        assert_eq!(frame.payload(), &[1, 2, 3]);
        assert_eq!(frame.as_text(), None);
    }

    #[test]
    fn deflated_frames_set_rsv1_and_keep_the_opcode() {
        let text = Frame::text("42[\"a\",\"".to_string() + &"b".repeat(300) + "\"]");
        let deflated = text.deflated();
        assert_eq!(deflated.wire()[0], 0x80 | RSV1 | 0x1);
        assert!(deflated.len() < 50);
        assert_eq!(
            Frame::binary(&[7; 200]).deflated().wire()[0],
            0x80 | RSV1 | 0x2
        );
    }

    #[test]
    fn revision_3_binary_frames_carry_the_type_byte() {
        let frame = Frame::binary_for(Protocol::V3, &[1, 2, 3]);
        assert_eq!(&frame.wire()[..], &[0x82, 4, 4, 1, 2, 3]);
        assert_eq!(Frame::binary_for(Protocol::V4, &[1]), Frame::binary(&[1]));
    }
}

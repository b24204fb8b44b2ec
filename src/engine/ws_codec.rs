//! The websocket wire format (RFC 6455) as a server speaks it: client frames arrive masked and
//! may be fragmented; server frames go out unmasked and whole. The only extension is
//! permessage-deflate (`deflate`): with it, RSV1 marks a compressed message; other reserved bits
//! must be zero.

use bytes::{Buf, Bytes, BytesMut};

use super::deflate::{InflateError, Inflater, Negotiated};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// The first header bit of a message compressed with permessage-deflate.
pub const RSV1: u8 = 0x40;

/// The header of an unmasked, final server frame carrying `len` bytes.
pub fn encode_header(opcode: Opcode, len: usize) -> ([u8; 10], usize) {
    let mut header = [0u8; 10];
    header[0] = 0x80 | opcode.bits();
    let n = if len < 126 {
        header[1] = len as u8;
        2
    } else if len <= u16::MAX as usize {
        header[1] = 126;
        header[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        header[1] = 127;
        header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (header, n)
}

/// A control frame (pong, close) as bytes ready to write.
pub fn control_frame(opcode: Opcode, payload: &[u8]) -> Bytes {
    let (header, n) = encode_header(opcode, payload.len());
    let mut frame = Vec::with_capacity(n + payload.len());
    frame.extend_from_slice(&header[..n]);
    frame.extend_from_slice(payload);
    Bytes::from(frame)
}

/// A complete message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Pong,
    /// The close frame's payload (status code and reason), echoed back in our close reply.
    Close(Bytes),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// Unmasked client frame, reserved bits, unknown opcode, bad fragmentation or control frame.
    Invalid,
    /// A message over the size limit.
    TooLarge,
}

/// Assembles client messages from whatever bytes the socket delivers.
pub struct MessageReader {
    max_message: usize,
    /// The message being assembled: its opcode, whether it is compressed, what came so far.
    fragments: Option<(Opcode, bool, BytesMut)>,
    /// Present when permessage-deflate was negotiated.
    inflater: Option<Inflater>,
}

impl MessageReader {
    pub fn new(max_message: usize) -> Self {
        Self {
            max_message,
            fragments: None,
            inflater: None,
        }
    }

    /// Accepts compressed messages, as negotiated.
    pub fn inflating(mut self, negotiated: Negotiated) -> Self {
        self.inflater = Some(Inflater::new(negotiated));
        self
    }

    /// Takes the next complete message out of `buf`, leaving any partial frame in it.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, ProtocolError> {
        loop {
            let Some((fin, compressed, opcode, payload)) = self.next_frame(buf)? else {
                return Ok(None);
            };
            if opcode.is_control() {
                return Ok(Some(match opcode {
                    Opcode::Ping => Message::Ping(payload),
                    Opcode::Pong => Message::Pong,
                    _ => Message::Close(payload),
                }));
            }
            let (kind, compressed, data) = match (opcode, self.fragments.take()) {
                (Opcode::Continuation, Some((kind, compressed, mut data))) => {
                    if data.len() + payload.len() > self.max_message {
                        return Err(ProtocolError::TooLarge);
                    }
                    data.extend_from_slice(&payload);
                    (kind, compressed, data)
                }
                (Opcode::Continuation, None) | (_, Some(_)) => return Err(ProtocolError::Invalid),
                (kind, None) if fin => return self.message(kind, compressed, payload).map(Some),
                (kind, None) => (kind, compressed, BytesMut::from(&payload[..])),
            };
            if fin {
                return self.message(kind, compressed, data.freeze()).map(Some);
            }
            self.fragments = Some((kind, compressed, data));
        }
    }

    fn message(
        &mut self,
        kind: Opcode,
        compressed: bool,
        data: Bytes,
    ) -> Result<Message, ProtocolError> {
        let data = match (&mut self.inflater, compressed) {
            (Some(inflater), true) => {
                inflater
                    .inflate(&data, self.max_message)
                    .map_err(|error| match error {
                        InflateError::TooLarge => ProtocolError::TooLarge,
                        InflateError::Invalid => ProtocolError::Invalid,
                    })?
            }
            _ => data,
        };
        Ok(data_message(kind, data))
    }

    /// The next frame: whether it is final, whether it starts a compressed message, its
    /// opcode and payload.
    fn next_frame(
        &self,
        buf: &mut BytesMut,
    ) -> Result<Option<(bool, bool, Opcode, Bytes)>, ProtocolError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (buf[0], buf[1]);
        if b0 & (0x70 & !RSV1) != 0 || b1 & 0x80 == 0 {
            return Err(ProtocolError::Invalid);
        }
        let fin = b0 & 0x80 != 0;
        let opcode = Opcode::from_bits(b0 & 0x0F).ok_or(ProtocolError::Invalid)?;
        let compressed = b0 & RSV1 != 0;
        let starts_message = matches!(opcode, Opcode::Text | Opcode::Binary);
        if compressed && (self.inflater.is_none() || !starts_message) {
            return Err(ProtocolError::Invalid);
        }
        let (len, mut offset) = match b1 & 0x7F {
            126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4),
            127 if buf.len() >= 10 => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&buf[2..10]);
                (u64::from_be_bytes(bytes), 10)
            }
            126 | 127 => return Ok(None),
            len => (len as u64, 2),
        };
        if opcode.is_control() && (!fin || len > 125) {
            return Err(ProtocolError::Invalid);
        }
        if len > self.max_message as u64 {
            return Err(ProtocolError::TooLarge);
        }
        let len = len as usize;
        if buf.len() < offset + 4 + len {
            buf.reserve(offset + 4 + len - buf.len());
            return Ok(None);
        }
        let mask = [
            buf[offset],
            buf[offset + 1],
            buf[offset + 2],
            buf[offset + 3],
        ];
        offset += 4;
        buf.advance(offset);
        let mut payload = buf.split_to(len);
        unmask(&mut payload, mask);
        Ok(Some((fin, compressed, opcode, payload.freeze())))
    }
}

fn data_message(kind: Opcode, data: Bytes) -> Message {
    if kind == Opcode::Text {
        Message::Text(data)
    } else {
        Message::Binary(data)
    }
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = payload.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let value = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame as a browser would send it.
    fn client_frame(fin: bool, opcode: Opcode, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode.bits()];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn reads_masked_text_in_pieces() {
        let wire = client_frame(true, Opcode::Text, b"42[\"hello\"]", MASK);
        let mut reader = MessageReader::new(1000);
        let mut buf = BytesMut::new();
        for byte in &wire[..wire.len() - 1] {
            buf.extend_from_slice(&[*byte]);
            assert_eq!(reader.next(&mut buf), Ok(None));
        }
        buf.extend_from_slice(&wire[wire.len() - 1..]);
        assert_eq!(
            reader.next(&mut buf),
            Ok(Some(Message::Text(Bytes::from_static(b"42[\"hello\"]"))))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn joins_fragments_around_control_frames() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&client_frame(false, Opcode::Binary, &[1, 2], MASK));
        buf.extend_from_slice(&client_frame(true, Opcode::Ping, b"p", MASK));
        buf.extend_from_slice(&client_frame(true, Opcode::Continuation, &[3], MASK));
        let mut reader = MessageReader::new(1000);
        assert_eq!(
            reader.next(&mut buf),
            Ok(Some(Message::Ping(Bytes::from_static(b"p"))))
        );
        assert_eq!(
            reader.next(&mut buf),
            Ok(Some(Message::Binary(Bytes::from_static(&[1, 2, 3]))))
        );
    }

    #[test]
    fn reads_extended_lengths() {
        for len in [125, 126, 65_535, 65_536, 70_000] {
            let payload = vec![b'x'; len];
            let mut buf = BytesMut::from(&client_frame(true, Opcode::Text, &payload, MASK)[..]);
            let message = MessageReader::new(100_000).next(&mut buf).unwrap();
            assert_eq!(message, Some(Message::Text(Bytes::from(payload))));
        }
    }

    #[test]
    fn rejects_what_a_server_must_refuse() {
        let unmasked = [0x81, 0x01, b'a'];
        let reserved_bit = client_frame(true, Opcode::Text, b"a", MASK)
            .into_iter()
            .enumerate()
            .map(|(i, b)| if i == 0 { b | 0x40 } else { b })
            .collect::<Vec<_>>();
        let fragmented_ping = client_frame(false, Opcode::Ping, b"", MASK);
        let stray_continuation = client_frame(true, Opcode::Continuation, b"a", MASK);
        for wire in [
            unmasked.to_vec(),
            reserved_bit,
            fragmented_ping,
            stray_continuation,
        ] {
            let mut buf = BytesMut::from(&wire[..]);
            assert_eq!(
                MessageReader::new(100).next(&mut buf),
                Err(ProtocolError::Invalid)
            );
        }
    }

    #[test]
    fn enforces_the_size_limit() {
        let mut buf = BytesMut::from(&client_frame(true, Opcode::Text, &[b'a'; 11], MASK)[..]);
        assert_eq!(
            MessageReader::new(10).next(&mut buf),
            Err(ProtocolError::TooLarge)
        );
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&client_frame(false, Opcode::Text, &[b'a'; 6], MASK));
        buf.extend_from_slice(&client_frame(true, Opcode::Continuation, &[b'a'; 6], MASK));
        assert_eq!(
            MessageReader::new(10).next(&mut buf),
            Err(ProtocolError::TooLarge)
        );
    }

    #[test]
    fn inflates_compressed_messages_only_when_negotiated() {
        let text = "42[\"event\",\"".to_string() + &"x".repeat(400) + "\"]";
        let compressed = crate::engine::deflate::compress(text.as_bytes());
        let (first, rest) = compressed.split_at(compressed.len() / 2);
        let mut frame = client_frame(false, Opcode::Text, first, MASK);
        frame[0] |= RSV1;
        let mut buf = BytesMut::from(&frame[..]);
        buf.extend_from_slice(&client_frame(true, Opcode::Continuation, rest, MASK));
        let negotiated = Negotiated {
            client_no_context_takeover: false,
        };
        let mut reader = MessageReader::new(1000).inflating(negotiated);
        assert_eq!(
            reader.next(&mut buf.clone()),
            Ok(Some(Message::Text(Bytes::from(text))))
        );
        assert_eq!(
            MessageReader::new(1000).next(&mut buf.clone()),
            Err(ProtocolError::Invalid)
        );
        assert_eq!(
            MessageReader::new(100).inflating(negotiated).next(&mut buf),
            Err(ProtocolError::TooLarge),
            "the limit applies to the inflated message"
        );
        let mut ping = client_frame(true, Opcode::Ping, b"", MASK);
        ping[0] |= RSV1;
        let mut reader = MessageReader::new(1000).inflating(negotiated);
        assert_eq!(
            reader.next(&mut BytesMut::from(&ping[..])),
            Err(ProtocolError::Invalid)
        );
    }

    #[test]
    fn encodes_server_headers() {
        assert_eq!(
            encode_header(Opcode::Text, 5),
            ([0x81, 5, 0, 0, 0, 0, 0, 0, 0, 0], 2)
        );
        assert_eq!(
            encode_header(Opcode::Binary, 300).0[..4],
            [0x82, 126, 1, 44]
        );
        assert_eq!(encode_header(Opcode::Text, 70_000).1, 10);
        assert_eq!(
            &control_frame(Opcode::Pong, b"hi")[..],
            &[0x8A, 2, b'h', b'i']
        );
    }
}

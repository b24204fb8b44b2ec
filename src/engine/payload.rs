//! HTTP long-polling payloads (engine.io v4): packets joined by the record separator,
//! binary packets as `b` + base64.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;

use super::frame::Frame;
use super::packet::{decode_text, DecodeError, Packet};

pub const SEPARATOR: char = '\x1e';

pub fn decode(body: &str) -> Result<Vec<Packet>, DecodeError> {
    body.split(SEPARATOR)
        .map(|segment| match segment.strip_prefix('b') {
            Some(b64) => BASE64
                .decode(b64)
                .map(|bytes| Packet::Binary(Bytes::from(bytes)))
                .map_err(|_| DecodeError),
            None => decode_text(segment),
        })
        .collect()
}

pub fn encode(frames: &[Frame]) -> String {
    let capacity = frames.iter().map(Frame::len).sum::<usize>() + frames.len() * 2;
    let mut out = String::with_capacity(capacity);
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        match frame.as_text() {
            Some(text) => out.push_str(text),
            None => {
                out.push('b');
                BASE64.encode_string(frame.payload(), &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::packet::PacketType;

    #[test]
    fn decodes_mixed_payload() {
        let packets = decode("4hello\x1ebAQID\x1e2").unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Text(PacketType::Message, "hello".into()),
                Packet::Binary(Bytes::from_static(&[1, 2, 3])),
                Packet::Text(PacketType::Ping, String::new()),
            ]
        );
    }

    #[test]
    fn rejects_bad_segments() {
        assert!(decode("4a\x1e").is_err());
        assert!(decode("b!!").is_err());
        assert!(decode("").is_err());
    }

    #[test]
    fn encodes_text_and_binary() {
        let frames = vec![
            Frame::text("40{\"sid\":\"x\"}".to_owned()),
            Frame::binary(&[1, 2, 3]),
            Frame::text("6".to_owned()),
        ];
        assert_eq!(encode(&frames), "40{\"sid\":\"x\"}\x1ebAQID\x1e6");
    }
}

//! HTTP long-polling payloads of engine.io revision 3. Text payloads are `<length>:<packet>`
//! records, the length counted in UTF-16 code units (a JS string's length), binary packets as
//! `b4<base64>`. A client that can read binary (no `b64` in its handshake) gets a payload with
//! binary packets as binary records instead: `<0 text | 1 binary><length digits as bytes>255<data>`,
//! and may post one (`application/octet-stream`).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;

use super::frame::Frame;
use super::packet::{decode_text as decode_packet_text, DecodeError, Packet};
use super::protocol::V3_BINARY_MESSAGE;

/// What a poll answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

/// `binary`: the client reads binary payloads; they are used only when a frame is binary.
pub fn encode(frames: &[Frame], binary: bool) -> Payload {
    if binary && frames.iter().any(|frame| frame.as_text().is_none()) {
        return Payload::Binary(encode_binary(frames));
    }
    let mut out = String::with_capacity(frames.iter().map(|f| f.len() + 8).sum());
    for frame in frames {
        match frame.as_text() {
            Some(text) => {
                let units: usize = text.chars().map(char::len_utf16).sum();
                out.push_str(&units.to_string());
                out.push(':');
                out.push_str(text);
            }
            None => {
                let (kind, data) = split_type_byte(frame.payload());
                let encoded = BASE64.encode(data);
                out.push_str(&(encoded.len() + 2).to_string());
                out.push_str(":b");
                out.push(char::from(b'0' + kind));
                out.push_str(&encoded);
            }
        }
    }
    Payload::Text(out)
}

fn encode_binary(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.iter().map(|f| f.len() + 12).sum());
    for frame in frames {
        out.push(u8::from(frame.as_text().is_none()));
        out.extend(frame.len().to_string().bytes().map(|digit| digit - b'0'));
        out.push(255);
        out.extend_from_slice(frame.payload());
    }
    out
}

/// A binary frame of a revision 3 session starts with its packet type byte.
fn split_type_byte(payload: &[u8]) -> (u8, &[u8]) {
    match payload.split_first() {
        Some((kind, data)) => (*kind, data),
        None => (V3_BINARY_MESSAGE, payload),
    }
}

pub fn decode_text(body: &str) -> Result<Vec<Packet>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError);
    }
    let mut packets = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (length, after) = rest.split_once(':').ok_or(DecodeError)?;
        if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError);
        }
        let units = length.parse().map_err(|_| DecodeError)?;
        let end = utf16_offset(after, units).ok_or(DecodeError)?;
        let record = &after[..end];
        if !record.is_empty() {
            packets.extend(decode_record(record)?);
        }
        rest = &after[end..];
    }
    Ok(packets)
}

/// The byte offset after the first `units` UTF-16 code units of `text`, if it has that many
/// and they end on a character boundary.
fn utf16_offset(text: &str, units: usize) -> Option<usize> {
    let mut counted = 0;
    for (offset, c) in text.char_indices() {
        if counted >= units {
            return (counted == units).then_some(offset);
        }
        counted += c.len_utf16();
    }
    (counted == units).then_some(text.len())
}

/// One text record; a base64 binary record of another type than "message" is ignored, as
/// engine.io does.
fn decode_record(record: &str) -> Result<Option<Packet>, DecodeError> {
    let Some(base64) = record.strip_prefix('b') else {
        return decode_packet_text(record).map(Some);
    };
    let kind = base64.bytes().next().ok_or(DecodeError)?;
    let data = BASE64.decode(&base64[1..]).map_err(|_| DecodeError)?;
    Ok((kind == b'0' + V3_BINARY_MESSAGE).then(|| Packet::Binary(Bytes::from(data))))
}

pub fn decode_binary(body: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    let mut packets = Vec::new();
    let mut rest = body;
    while let Some((&marker, after)) = rest.split_first() {
        let digits_end = after.iter().position(|&b| b == 255).ok_or(DecodeError)?;
        let length = after[..digits_end].iter().try_fold(0usize, |n, &digit| {
            (digit <= 9)
                .then(|| n.checked_mul(10)?.checked_add(digit.into()))
                .flatten()
        });
        let start = digits_end + 1;
        let end = length
            .and_then(|n| start.checked_add(n))
            .ok_or(DecodeError)?;
        let record = after.get(start..end).ok_or(DecodeError)?;
        rest = &after[end..];
        if marker == 0 {
            let text = std::str::from_utf8(record).map_err(|_| DecodeError)?;
            packets.push(decode_packet_text(text)?);
        } else if record.first() == Some(&V3_BINARY_MESSAGE) {
            packets.push(Packet::Binary(Bytes::copy_from_slice(&record[1..])));
        }
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::packet::PacketType;
    use crate::engine::protocol::Protocol;

    fn text(kind: PacketType, data: &str) -> Packet {
        Packet::Text(kind, data.into())
    }

    #[test]
    fn lengths_count_utf16_units() {
        let frames = [
            Frame::text("42[\"wörld\",\"😀\"]".into()),
            Frame::text("2".into()),
        ];
        assert_eq!(
            encode(&frames, true),
            Payload::Text("16:42[\"wörld\",\"😀\"]1:2".into())
        );
        assert_eq!(
            decode_text("16:42[\"wörld\",\"😀\"]1:2").unwrap(),
            vec![
                text(PacketType::Message, "2[\"wörld\",\"😀\"]"),
                text(PacketType::Ping, "")
            ]
        );
    }

    #[test]
    fn binary_is_base64_in_text_payloads() {
        let frames = [
            Frame::text("451-[{\"_placeholder\":true,\"num\":0}]".into()),
            Frame::binary_for(Protocol::V3, &[1, 2, 3]),
        ];
        let Payload::Text(body) = encode(&frames, false) else {
            panic!("a b64 client gets text");
        };
        assert!(body.ends_with("6:b4AQID"), "{body}");
        assert_eq!(
            decode_text("6:b4AQID").unwrap(),
            vec![Packet::Binary(Bytes::from_static(&[1, 2, 3]))]
        );
    }

    #[test]
    fn binary_payloads_for_clients_that_read_binary() {
        let frames = [
            Frame::text("4é".into()),
            Frame::binary_for(Protocol::V3, &[7; 12]),
        ];
        let Payload::Binary(body) = encode(&frames, true) else {
            panic!("binary payload expected");
        };
        let mut expected = vec![0, 3, 255, b'4', 0xc3, 0xa9, 1, 1, 3, 255, 4];
        expected.extend([7; 12]);
        assert_eq!(body, expected);
        assert_eq!(
            decode_binary(&body).unwrap(),
            vec![
                text(PacketType::Message, "é"),
                Packet::Binary(Bytes::from(vec![7; 12]))
            ]
        );
        assert_eq!(
            encode(&[Frame::text("3".into())], true),
            Payload::Text("1:3".into())
        );
    }

    #[test]
    fn rejects_malformed_payloads() {
        for bad in ["", "3", "a:3", "2:3", "1:3x", ":3", "1:9", "2:b4!"] {
            assert!(decode_text(bad).is_err(), "{bad:?} should fail");
        }
        for bad in [&[0, 1][..], &[0, 5, 255, b'4'], &[0, 12, 255, b'4']] {
            assert!(decode_binary(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            decode_text("0:1:3").unwrap(),
            vec![text(PacketType::Pong, "")]
        );
    }
}

//! engine.io v4 packets: one type digit, then the data.

use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Open,
    Close,
    Ping,
    Pong,
    Message,
    Upgrade,
    Noop,
}

impl PacketType {
    fn from_digit(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    pub fn digit(self) -> char {
        match self {
            Self::Open => '0',
            Self::Close => '1',
            Self::Ping => '2',
            Self::Pong => '3',
            Self::Message => '4',
            Self::Upgrade => '5',
            Self::Noop => '6',
        }
    }
}

/// A packet received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Text(PacketType, String),
    /// Binary data is always a message in engine.io v4.
    Binary(Bytes),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError;

/// Decodes a text packet (a websocket text frame or one polling payload segment).
pub fn decode_text(text: &str) -> Result<Packet, DecodeError> {
    let first = *text.as_bytes().first().ok_or(DecodeError)?;
    let kind = PacketType::from_digit(first).ok_or(DecodeError)?;
    Ok(Packet::Text(kind, text[1..].to_owned()))
}

/// Encodes a packet of the given type with text data, e.g. `4hello`.
pub fn encode_text(kind: PacketType, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 1);
    out.push(kind.digit());
    out.push_str(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_type() {
        for (wire, kind) in [
            ("0", PacketType::Open),
            ("1", PacketType::Close),
            ("2probe", PacketType::Ping),
            ("3", PacketType::Pong),
            ("4hello", PacketType::Message),
            ("5", PacketType::Upgrade),
            ("6", PacketType::Noop),
        ] {
            match decode_text(wire).unwrap() {
                Packet::Text(k, data) => {
                    assert_eq!(k, kind);
                    assert_eq!(data, &wire[1..]);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_empty_and_unknown_types() {
        assert_eq!(decode_text(""), Err(DecodeError));
        assert_eq!(decode_text("7"), Err(DecodeError));
        assert_eq!(decode_text("x42"), Err(DecodeError));
    }

    #[test]
    fn keeps_multibyte_data() {
        assert_eq!(
            decode_text("4€é").unwrap(),
            Packet::Text(PacketType::Message, "€é".into())
        );
    }

    #[test]
    fn encodes_type_then_data() {
        assert_eq!(encode_text(PacketType::Pong, "probe"), "3probe");
        assert_eq!(encode_text(PacketType::Noop, ""), "6");
    }
}

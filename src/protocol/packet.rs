//! socket.io v5 packets: `<type>[<attachments>-][<nsp>,][<id>][<json>]`.

use super::payload_shape::{shape_of, First, Shape};
use crate::engine::frame::Frame;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl PacketKind {
    fn from_digit(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    fn digit(self) -> char {
        match self {
            Self::Connect => '0',
            Self::Disconnect => '1',
            Self::Event => '2',
            Self::Ack => '3',
            Self::ConnectError => '4',
            Self::BinaryEvent => '5',
            Self::BinaryAck => '6',
        }
    }

    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// Event names a client may not use (they mean something to the server itself).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// socket.io-parser's default `maxAttachments`: bounds what one packet can make us buffer.
pub const MAX_ATTACHMENTS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub kind: PacketKind,
    pub nsp: String,
    pub id: Option<u64>,
    pub attachments: usize,
    /// The JSON payload as received.
    pub data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The first character, as JS's `Number()` reads it (`NaN` unless it is a digit).
    UnknownType(String),
    IllegalAttachments,
    TooManyAttachments,
    InvalidPayload,
    /// A text packet arrived while binary attachments were still expected.
    UnexpectedText,
    /// A binary message arrived with no binary packet waiting for it.
    UnexpectedBinary,
}

impl ParseError {
    /// The message of the `error` event, as socket.io-parser words it.
    pub fn message(&self) -> String {
        match self {
            Self::UnknownType(kind) => format!("unknown packet type {kind}"),
            Self::IllegalAttachments => "Illegal attachments".into(),
            Self::TooManyAttachments => "too many attachments".into(),
            Self::InvalidPayload => "invalid payload".into(),
            Self::UnexpectedText => "got plaintext data when reconstructing a packet".into(),
            Self::UnexpectedBinary => "got binary data when not reconstructing a packet".into(),
        }
    }
}

pub fn decode(text: &str) -> Result<Packet, ParseError> {
    let bytes = text.as_bytes();
    let first = bytes.first().copied();
    let kind = first.and_then(PacketKind::from_digit).ok_or_else(|| {
        ParseError::UnknownType(match first {
            Some(digit) if digit.is_ascii_digit() => char::from(digit).to_string(),
            _ => "NaN".into(),
        })
    })?;
    let mut rest = &text[1..];

    let mut attachments = 0;
    if kind.is_binary() {
        let (count, after) = rest.split_once('-').ok_or(ParseError::IllegalAttachments)?;
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::IllegalAttachments);
        }
        attachments = count.parse().map_err(|_| ParseError::IllegalAttachments)?;
        if attachments == 0 {
            return Err(ParseError::IllegalAttachments);
        }
        if attachments > MAX_ATTACHMENTS {
            return Err(ParseError::TooManyAttachments);
        }
        rest = after;
    }

    let mut nsp = "/";
    if rest.starts_with('/') {
        match rest.find(',') {
            Some(comma) => {
                nsp = &rest[..comma];
                rest = &rest[comma + 1..];
            }
            None => {
                nsp = rest;
                rest = "";
            }
        }
    }

    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        let id = rest[..digits]
            .parse()
            .map_err(|_| ParseError::InvalidPayload)?;
        rest = &rest[digits..];
        Some(id)
    } else {
        None
    };

    let data = if rest.is_empty() {
        None
    } else {
        let shape = shape_of(rest).ok_or(ParseError::InvalidPayload)?;
        if !payload_is_valid(kind, &shape) {
            return Err(ParseError::InvalidPayload);
        }
        Some(rest.to_owned())
    };

    Ok(Packet {
        kind,
        nsp: nsp.to_owned(),
        id,
        attachments,
        data,
    })
}

fn payload_is_valid(kind: PacketKind, shape: &Shape) -> bool {
    match kind {
        PacketKind::Connect => matches!(shape, Shape::Object),
        PacketKind::Disconnect => false,
        PacketKind::ConnectError => matches!(shape, Shape::Object | Shape::Str),
        PacketKind::Event | PacketKind::BinaryEvent => match shape {
            Shape::Array(First::Number) => true,
            Shape::Array(First::Str(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
            _ => false,
        },
        PacketKind::Ack | PacketKind::BinaryAck => matches!(shape, Shape::Array(_)),
    }
}

/// Encodes a packet as the engine.io message that carries it (leading `4` included), straight
/// into its websocket frame: one allocation per packet, which matters for acks and emits, each
/// encoded for one client.
pub fn encode(
    kind: PacketKind,
    nsp: &str,
    id: Option<u64>,
    attachments: usize,
    data: &str,
) -> Frame {
    let mut attachment_digits = itoa::Buffer::new();
    let mut id_digits = itoa::Buffer::new();
    let (nsp, comma): (&str, &str) = if nsp == "/" { ("", "") } else { (nsp, ",") };
    Frame::text_parts(&[
        &[b'4', kind.digit() as u8],
        if kind.is_binary() {
            attachment_digits.format(attachments).as_bytes()
        } else {
            &[]
        },
        if kind.is_binary() { b"-" } else { &[] },
        nsp.as_bytes(),
        comma.as_bytes(),
        id.map_or(&[][..], |id| id_digits.format(id).as_bytes()),
        data.as_bytes(),
    ])
}

/// The kind to use for an event or ack, depending on whether it carries binary attachments.
pub fn event_kind(attachments: usize) -> PacketKind {
    if attachments > 0 {
        PacketKind::BinaryEvent
    } else {
        PacketKind::Event
    }
}

pub fn ack_kind(attachments: usize) -> PacketKind {
    if attachments > 0 {
        PacketKind::BinaryAck
    } else {
        PacketKind::Ack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(
        kind: PacketKind,
        nsp: &str,
        id: Option<u64>,
        att: usize,
        data: Option<&str>,
    ) -> Packet {
        Packet {
            kind,
            nsp: nsp.into(),
            id,
            attachments: att,
            data: data.map(Into::into),
        }
    }

    #[test]
    fn decodes_connect_forms() {
        assert_eq!(
            decode("0").unwrap(),
            packet(PacketKind::Connect, "/", None, 0, None)
        );
        assert_eq!(
            decode("0/admin,{\"token\":\"1\"}").unwrap(),
            packet(
                PacketKind::Connect,
                "/admin",
                None,
                0,
                Some("{\"token\":\"1\"}")
            )
        );
        assert_eq!(
            decode("0/admin,").unwrap(),
            packet(PacketKind::Connect, "/admin", None, 0, None)
        );
        assert_eq!(
            decode("0/admin").unwrap(),
            packet(PacketKind::Connect, "/admin", None, 0, None)
        );
        assert!(decode("0[]").is_err());
    }

    #[test]
    fn decodes_events_and_acks() {
        assert_eq!(
            decode("2[\"hello\",1]").unwrap(),
            packet(PacketKind::Event, "/", None, 0, Some("[\"hello\",1]"))
        );
        assert_eq!(
            decode("2/chat,456[\"m\"]").unwrap(),
            packet(PacketKind::Event, "/chat", Some(456), 0, Some("[\"m\"]"))
        );
        assert_eq!(
            decode("3456[\"r\"]").unwrap(),
            packet(PacketKind::Ack, "/", Some(456), 0, Some("[\"r\"]"))
        );
        assert_eq!(decode("2[7]").unwrap().kind, PacketKind::Event);
    }

    #[test]
    fn decodes_binary_headers() {
        assert_eq!(
            decode("51-[\"b\",{\"_placeholder\":true,\"num\":0}]").unwrap(),
            packet(
                PacketKind::BinaryEvent,
                "/",
                None,
                1,
                Some("[\"b\",{\"_placeholder\":true,\"num\":0}]")
            )
        );
        assert_eq!(
            decode("62-/x,9[]").unwrap(),
            packet(PacketKind::BinaryAck, "/x", Some(9), 2, Some("[]"))
        );
        assert_eq!(decode("5-[\"a\"]"), Err(ParseError::IllegalAttachments));
        assert_eq!(decode("5a-[\"a\"]"), Err(ParseError::IllegalAttachments));
        assert_eq!(decode("51[\"a\"]"), Err(ParseError::IllegalAttachments));
        assert_eq!(decode("50-[\"a\"]"), Err(ParseError::IllegalAttachments));
        assert_eq!(decode("511-[\"a\"]"), Err(ParseError::TooManyAttachments));
        assert_eq!(decode("7"), Err(ParseError::UnknownType("7".into())));
        assert_eq!(
            decode("abc").unwrap_err().message(),
            "unknown packet type NaN"
        );
    }

    #[test]
    fn rejects_malformed_packets() {
        for bad in [
            "",
            "7",
            "x",
            "4abc",
            "2{}",
            "2abc[\"a\"]",
            "2[]",
            "2[{}]",
            "2[\"connect\"]",
            "2[\"disconnect\"]",
            "1{}",
            "3{}",
            "2[\"a\"",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn disconnect_has_no_payload() {
        assert_eq!(
            decode("1/chat,").unwrap(),
            packet(PacketKind::Disconnect, "/chat", None, 0, None)
        );
    }

    #[test]
    fn encodes_as_engine_messages() {
        let text = |kind, nsp, id, attachments, data| {
            encode(kind, nsp, id, attachments, data)
                .as_text()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            text(PacketKind::Connect, "/", None, 0, "{\"sid\":\"a\"}"),
            "40{\"sid\":\"a\"}"
        );
        assert_eq!(
            text(PacketKind::Event, "/chat", Some(12), 0, "[\"x\"]"),
            "42/chat,12[\"x\"]"
        );
        assert_eq!(text(PacketKind::Event, "/", Some(0), 0, "[]"), "420[]");
        assert_eq!(
            text(PacketKind::Event, "/", Some(u64::MAX), 0, "[]"),
            format!("42{}[]", u64::MAX)
        );
        assert_eq!(
            text(PacketKind::Disconnect, "/chat", None, 0, ""),
            "41/chat,"
        );
        assert_eq!(text(PacketKind::Disconnect, "/", None, 0, ""), "41");
        assert_eq!(
            text(PacketKind::BinaryAck, "/", Some(3), 2, "[]"),
            "462-3[]"
        );
        assert_eq!(
            text(PacketKind::BinaryEvent, "/x", Some(105), 12, "[]"),
            "4512-/x,105[]"
        );
        assert_eq!(
            text(
                PacketKind::ConnectError,
                "/x",
                None,
                0,
                "{\"message\":\"no\"}"
            ),
            "44/x,{\"message\":\"no\"}"
        );
    }
}

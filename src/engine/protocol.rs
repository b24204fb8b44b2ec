//! The engine.io protocol revision a session speaks. Revision 3 (socket.io-client 2.x, accepted
//! with `allowEIO3`) differs from 4 in three places: the client pings and the server pongs, the
//! polling payload framing (`payload_v3`), and a type byte before every binary message.

use bytes::Bytes;

use super::packet::Packet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V3,
    V4,
}

/// The type byte revision 3 puts before binary data: a message.
pub const V3_BINARY_MESSAGE: u8 = 4;

impl Protocol {
    /// As engine.io reads the `EIO` query parameter: "4" is revision 4, anything else (even
    /// nothing) revision 3.
    pub fn from_query(eio: Option<&str>) -> Self {
        if eio == Some("4") {
            Self::V4
        } else {
            Self::V3
        }
    }

    /// The packet a binary websocket message carries; None for a revision 3 message whose type
    /// byte is not "message" (engine.io ignores those).
    pub fn binary_packet(self, bytes: Bytes) -> Option<Packet> {
        match self {
            Self::V4 => Some(Packet::Binary(bytes)),
            Self::V3 => (bytes.first() == Some(&V3_BINARY_MESSAGE))
                .then(|| Packet::Binary(bytes.slice(1..))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_revision_as_engine_io_does() {
        assert_eq!(Protocol::from_query(Some("4")), Protocol::V4);
        assert_eq!(Protocol::from_query(Some("3")), Protocol::V3);
        assert_eq!(Protocol::from_query(Some("5")), Protocol::V3);
        assert_eq!(Protocol::from_query(None), Protocol::V3);
    }

    #[test]
    fn revision_3_binary_messages_start_with_a_type_byte() {
        let wire = Bytes::from_static(&[4, 1, 2]);
        assert_eq!(
            Protocol::V3.binary_packet(wire.clone()),
            Some(Packet::Binary(Bytes::from_static(&[1, 2])))
        );
        assert_eq!(
            Protocol::V4.binary_packet(wire.clone()),
            Some(Packet::Binary(wire))
        );
        assert_eq!(
            Protocol::V3.binary_packet(Bytes::from_static(&[2, 1])),
            None
        );
        assert_eq!(Protocol::V3.binary_packet(Bytes::new()), None);
    }
}

//! permessage-deflate (RFC 7692), when `perMessageDeflate` is on. We always answer with
//! `server_no_context_takeover`: each message we send is compressed on its own, so a broadcast
//! is compressed once and the same bytes go to every recipient, and a connection keeps no
//! compressor. What a client sends is inflated with its own window unless it agreed to
//! `client_no_context_takeover`; that state is made on its first compressed message.

use std::cell::RefCell;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// What a deflate block ends with after a sync flush; RFC 7692 drops it on the wire.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The extension as agreed with one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The client compresses each message on its own: we need no state between messages.
    pub client_no_context_takeover: bool,
}

/// Picks the first permessage-deflate offer of a `Sec-WebSocket-Extensions` header that we can
/// serve; returns it with the header value to answer.
pub fn negotiate(extensions: Option<&str>) -> Option<(Negotiated, String)> {
    extensions?.split(',').find_map(|offer| {
        let mut params = offer.split(';').map(str::trim);
        if params.next()? != "permessage-deflate" {
            return None;
        }
        let mut negotiated = Negotiated {
            client_no_context_takeover: false,
        };
        for param in params {
            let (name, value) = match param.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
                None => (param, None),
            };
            match (name, value) {
                ("server_no_context_takeover", None) => {}
                ("client_no_context_takeover", None) => {
                    negotiated.client_no_context_takeover = true;
                }
                // The client only says it understands the parameter; we need no limit.
                ("client_max_window_bits", None) => {}
                // A window we must compress within: ours is always the full one.
                ("server_max_window_bits", Some("15")) => {}
                ("client_max_window_bits", Some(bits)) if valid_window_bits(bits) => {}
                _ => return None,
            }
        }
        let mut answer = String::from("permessage-deflate; server_no_context_takeover");
        if negotiated.client_no_context_takeover {
            answer.push_str("; client_no_context_takeover");
        }
        Some((negotiated, answer))
    })
}

fn valid_window_bits(bits: &str) -> bool {
    bits.parse::<u8>()
        .is_ok_and(|bits| (8..=15).contains(&bits))
}

thread_local! {
    static COMPRESSOR: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
    static SHARED_INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// One message's payload, compressed on its own (the sync tail removed).
pub fn compress(payload: &[u8]) -> Vec<u8> {
    COMPRESSOR.with(|compressor| {
        let mut compressor = compressor.borrow_mut();
        compressor.reset();
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let mut offset = 0;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let before = compressor.total_in();
            compressor
                .compress_vec(&payload[offset..], &mut out, FlushCompress::Sync)
                .expect("deflating an in-memory buffer cannot fail");
            offset += (compressor.total_in() - before) as usize;
            // With room left over, the sync flush is complete.
            if offset == payload.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&SYNC_TAIL) {
            out.truncate(out.len() - SYNC_TAIL.len());
        }
        out
    })
}

/// The message is larger than the limit once inflated, or not valid deflate data.
#[derive(Debug, PartialEq, Eq)]
pub enum InflateError {
    TooLarge,
    Invalid,
}

/// Inflates one client's messages.
pub struct Inflater {
    /// The window carried from message to message; None until needed, never with
    /// `client_no_context_takeover`.
    context: Option<Box<Decompress>>,
    negotiated: Negotiated,
}

impl Inflater {
    pub fn new(negotiated: Negotiated) -> Self {
        Self {
            context: None,
            negotiated,
        }
    }

    /// The payload of one compressed message, at most `limit` bytes once inflated.
    pub fn inflate(&mut self, data: &[u8], limit: usize) -> Result<Bytes, InflateError> {
        if self.negotiated.client_no_context_takeover {
            return SHARED_INFLATER.with(|inflater| {
                let mut inflater = inflater.borrow_mut();
                inflater.reset(false);
                inflate_with(&mut inflater, data, limit)
            });
        }
        let context = self
            .context
            .get_or_insert_with(|| Box::new(Decompress::new(false)));
        inflate_with(context, data, limit)
    }
}

fn inflate_with(
    inflater: &mut Decompress,
    data: &[u8],
    limit: usize,
) -> Result<Bytes, InflateError> {
    const CHUNK: usize = 4096;
    let mut out = Vec::new();
    for input in [data, &SYNC_TAIL[..]] {
        let mut offset = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() > limit {
                    return Err(InflateError::TooLarge);
                }
                // Never more than one byte past the limit, whatever the input claims.
                out.reserve(CHUNK.max(out.len()).min(limit + 1 - out.len()));
            }
            let before = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress_vec(&input[offset..], &mut out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Invalid)?;
            offset += (inflater.total_in() - before.0) as usize;
            if out.len() > limit {
                return Err(InflateError::TooLarge);
            }
            if status == Status::StreamEnd {
                return Ok(Bytes::from(out));
            }
            let stalled = (inflater.total_in(), inflater.total_out()) == before;
            let room_left = out.len() < out.capacity();
            if room_left && (offset == input.len() || stalled) {
                break;
            }
        }
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_once(data: &[u8]) -> Vec<u8> {
        let mut inflater = Inflater::new(Negotiated {
            client_no_context_takeover: true,
        });
        inflater.inflate(data, 1 << 20).unwrap().to_vec()
    }

    #[test]
    fn negotiates_the_offers_it_can_serve() {
        let (n, answer) = negotiate(Some("permessage-deflate; client_max_window_bits")).unwrap();
        assert!(!n.client_no_context_takeover);
        assert_eq!(answer, "permessage-deflate; server_no_context_takeover");
        let (n, answer) = negotiate(Some(
            "x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover; server_no_context_takeover",
        ))
        .unwrap();
        assert!(n.client_no_context_takeover);
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        // A smaller server window than ours is declined; the next offer is taken.
        let offers = "permessage-deflate; server_max_window_bits=10, permessage-deflate";
        assert!(negotiate(Some(offers)).is_some());
        assert!(negotiate(Some("permessage-deflate; server_max_window_bits=10")).is_none());
        assert!(negotiate(Some("permessage-deflate; unknown")).is_none());
        assert!(negotiate(None).is_none());
    }

    #[test]
    fn compressed_messages_round_trip_and_shrink() {
        let text = "42[\"msg\",\"".to_string() + &"hello ".repeat(500) + "\"]";
        let compressed = compress(text.as_bytes());
        assert!(compressed.len() < text.len() / 10);
        assert!(!compressed.ends_with(&SYNC_TAIL));
        assert_eq!(inflate_once(&compressed), text.as_bytes());
        // Each message stands alone: compressing again gives the same bytes.
        assert_eq!(compress(text.as_bytes()), compressed);
        assert_eq!(inflate_once(&compress(b"")), b"");
    }

    #[test]
    fn a_client_context_carries_over_between_messages() {
        let mut compressor = Compress::new(Compression::default(), false);
        let mut client_message = |text: &[u8]| {
            let mut out = Vec::with_capacity(1024);
            compressor
                .compress_vec(text, &mut out, FlushCompress::Sync)
                .unwrap();
            out.truncate(out.len() - 4);
            out
        };
        let first = client_message(b"42[\"event\",\"a fairly long repeated payload\"]");
        let second = client_message(b"42[\"event\",\"a fairly long repeated payload\"]");
        assert!(second.len() < first.len(), "the second refers to the first");
        let mut inflater = Inflater::new(Negotiated {
            client_no_context_takeover: false,
        });
        for message in [&first, &second] {
            let text = inflater.inflate(message, 1024).unwrap();
            assert_eq!(
                &text[..],
                b"42[\"event\",\"a fairly long repeated payload\"]"
            );
        }
    }

    #[test]
    fn inflating_stops_at_the_limit_and_on_garbage() {
        let bomb = compress(&vec![b'a'; 1 << 20]);
        let mut inflater = Inflater::new(Negotiated {
            client_no_context_takeover: true,
        });
        assert_eq!(inflater.inflate(&bomb, 1000), Err(InflateError::TooLarge));
        assert_eq!(
            inflater.inflate(&[0xff, 0xff, 0xff], 1000),
            Err(InflateError::Invalid)
        );
    }
}

//! The client side of RFC 6455, as much as the benchmark needs: the HTTP upgrade, server frames
//! (unmasked, never fragmented by our servers) and masked client frames. Pure functions over byte
//! slices, so the event loop in `net.rs` decides where the bytes live and when they move.

pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// A bound on what a misbehaving server can make us buffer for one frame.
const MAX_PAYLOAD: u64 = 16 << 20;
/// A bound on the upgrade response's head.
const MAX_HEAD: usize = 16 << 10;

/// The engine.io websocket upgrade, as a socket.io client sends it.
pub fn upgrade_request(port: u16, key: &str) -> Vec<u8> {
    format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         Connection: Upgrade\r\n\
         Upgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: {key}\r\n\r\n"
    )
    .into_bytes()
}

/// A `Sec-WebSocket-Key`: base64 of 16 bytes. Servers check its shape (`ws` insists on 22
/// characters and `==`); its randomness protects browsers from caches, not us.
pub fn client_key(bytes: [u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(24);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// The length of the upgrade response's head once all of it is in `buf` (what follows it is
/// already websocket frames), `None` while it is incomplete.
pub fn parse_upgrade_response(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err("ws upgrade: response head too long".into());
        }
        return Ok(None);
    };
    let status_line = buf[..end].split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = status_line.split(|&b| b == b' ');
    let version = words.next().unwrap_or_default();
    let code = words.next().unwrap_or_default();
    if !version.starts_with(b"HTTP/1.1") || code != b"101" {
        return Err(format!(
            "ws upgrade: {}",
            String::from_utf8_lossy(status_line)
        ));
    }
    Ok(Some(end + 4))
}

/// One complete server frame at the start of a buffer: its payload is `buf[start..end]`, and the
/// next frame starts at `end`.
#[derive(Debug, PartialEq)]
pub struct Frame {
    pub opcode: u8,
    pub start: usize,
    pub end: usize,
}

/// The first frame in `buf`, `None` while it is incomplete.
pub fn parse_frame(buf: &[u8]) -> Result<Option<Frame>, String> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let opcode = b0 & 0x0F;
    if b0 & 0x70 != 0 {
        return Err("ws: reserved bits set (no extension was negotiated)".into());
    }
    if b1 & 0x80 != 0 {
        return Err("ws: masked frame from the server".into());
    }
    if b0 & 0x80 == 0 || opcode == 0 {
        return Err("ws: fragmented message (not supported)".into());
    }
    if !matches!(opcode, OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG) {
        return Err(format!("ws: unknown opcode {opcode}"));
    }
    let (len, start) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().unwrap()), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if opcode >= OP_CLOSE && len > 125 {
        return Err("ws: control frame longer than 125 bytes".into());
    }
    if len > MAX_PAYLOAD {
        return Err(format!("ws: frame of {len} bytes"));
    }
    let end = start + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some(Frame { opcode, start, end }))
}

/// Appends one client frame to `out`. Clients must mask (RFC 6455 §5.3), and servers pay for the
/// unmasking, so the benchmark's clients do it like any real client.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    for (i, b) in out[start..].iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A server frame (unmasked), as our servers write them.
    pub(crate) fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        let len = payload.len();
        if len < 126 {
            out.push(len as u8);
        } else if len <= 0xFFFF {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn frame_split_across_reads_is_incomplete_until_its_last_byte() {
        let frame = server_frame(OP_TEXT, b"42[\"msg\",\"7|xxxx\"]");
        for cut in 0..frame.len() {
            assert_eq!(parse_frame(&frame[..cut]), Ok(None), "cut at {cut}");
        }
        let f = parse_frame(&frame).unwrap().unwrap();
        assert_eq!(f.opcode, OP_TEXT);
        assert_eq!(&frame[f.start..f.end], b"42[\"msg\",\"7|xxxx\"]");
        assert_eq!(f.end, frame.len());
    }

    #[test]
    fn several_frames_in_one_read() {
        let mut buf = server_frame(OP_TEXT, b"2");
        buf.extend(server_frame(OP_PING, b"hi"));
        buf.extend(server_frame(OP_TEXT, b"40{\"sid\":\"a\"}"));
        buf.extend_from_slice(&server_frame(OP_TEXT, b"partial")[..3]);
        let mut at = 0;
        let mut seen = Vec::new();
        while let Some(f) = parse_frame(&buf[at..]).unwrap() {
            seen.push((f.opcode, buf[at + f.start..at + f.end].to_vec()));
            at += f.end;
        }
        assert_eq!(
            seen,
            vec![
                (OP_TEXT, b"2".to_vec()),
                (OP_PING, b"hi".to_vec()),
                (OP_TEXT, b"40{\"sid\":\"a\"}".to_vec()),
            ]
        );
        assert_eq!(buf.len() - at, 3);
    }

    #[test]
    fn sixteen_and_sixty_four_bit_lengths() {
        for len in [125usize, 126, 1024, 65535, 65536, 70_000] {
            let payload = vec![b'x'; len];
            let frame = server_frame(OP_TEXT, &payload);
            let f = parse_frame(&frame).unwrap().unwrap();
            assert_eq!(f.end - f.start, len);
            assert_eq!(f.end, frame.len());
            assert_eq!(parse_frame(&frame[..frame.len() - 1]), Ok(None));
        }
    }

    #[test]
    fn rejects_what_our_servers_never_send() {
        let mut fragment = server_frame(OP_TEXT, b"ab");
        fragment[0] &= 0x7F;
        assert!(parse_frame(&fragment).is_err());
        let mut masked = server_frame(OP_TEXT, b"ab");
        masked[1] |= 0x80;
        assert!(parse_frame(&masked).is_err());
        assert!(parse_frame(&server_frame(0x3, b"")).is_err());
        assert!(parse_frame(&server_frame(OP_PING, &[0; 126])).is_err());
    }

    /// Unmasks a client frame as a server would.
    pub(crate) fn unmask(frame: &[u8]) -> (u8, Vec<u8>) {
        assert_eq!(frame[0] & 0x80, 0x80, "FIN");
        assert_eq!(frame[1] & 0x80, 0x80, "MASK bit");
        let (len, at) = match frame[1] & 0x7F {
            126 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let mask = &frame[at..at + 4];
        let body = &frame[at + 4..];
        assert_eq!(body.len(), len);
        let plain = body.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]);
        (frame[0] & 0x0F, plain.collect())
    }

    #[test]
    fn masking_round_trip() {
        for len in [0usize, 1, 5, 125, 126, 300, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut out = Vec::new();
            encode_frame(&mut out, OP_TEXT, &payload, [0x12, 0x34, 0x56, 0x78]);
            let wire = &out[out.len() - len..];
            assert!(wire.iter().zip(&payload).all(|(w, p)| w != p), "masked");
            assert_eq!(unmask(&out), (OP_TEXT, payload));
        }
    }

    #[test]
    fn key_is_base64_of_sixteen_bytes() {
        assert_eq!(client_key([0; 16]), "AAAAAAAAAAAAAAAAAAAAAA==");
        // RFC 6455 §1.3's example nonce.
        assert_eq!(client_key(*b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn upgrade_response_head_and_leftover() {
        let mut buf = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec();
        let head = buf.len();
        buf.extend(server_frame(OP_TEXT, b"0{\"sid\":\"x\"}"));
        assert_eq!(parse_upgrade_response(&buf[..head - 1]), Ok(None));
        assert_eq!(parse_upgrade_response(&buf), Ok(Some(head)));
        let f = parse_frame(&buf[head..]).unwrap().unwrap();
        assert_eq!(&buf[head + f.start..head + f.end], b"0{\"sid\":\"x\"}");
        let refused = parse_upgrade_response(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        assert_eq!(refused, Err("ws upgrade: HTTP/1.1 400 Bad Request".into()));
    }
}

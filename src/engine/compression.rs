//! HTTP compression of polling responses (engine.io's `httpCompression`): gzip or deflate, as
//! the request's `Accept-Encoding` prefers, for bodies of at least the threshold.

use std::io::Write;

use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Deflate,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
        }
    }

    /// Node's zlib `createDeflate` writes the zlib format, which is what HTTP calls `deflate`.
    pub fn compress(self, body: &[u8]) -> Vec<u8> {
        let out = Vec::with_capacity(body.len() / 2);
        let level = Compression::default();
        let result = match self {
            Self::Gzip => {
                let mut encoder = GzEncoder::new(out, level);
                encoder.write_all(body).and_then(|_| encoder.finish())
            }
            Self::Deflate => {
                let mut encoder = ZlibEncoder::new(out, level);
                encoder.write_all(body).and_then(|_| encoder.finish())
            }
        };
        // Writing into a Vec cannot fail.
        result.unwrap_or_default()
    }
}

/// The encoding `Accept-Encoding` prefers among gzip and deflate, ranked as the `negotiator`
/// package does (quality, then an exact name over `*`, then the order in the header, then
/// gzip before deflate); None when neither is acceptable.
pub fn negotiate(accept_encoding: Option<&str>) -> Option<Encoding> {
    let entries: Vec<(&str, f32)> = accept_encoding
        .unwrap_or("")
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let name = parts.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((name, quality))
        })
        .collect();
    let rank = |encoding: Encoding| {
        entries
            .iter()
            .enumerate()
            .filter_map(|(order, (name, quality))| {
                if name.eq_ignore_ascii_case(encoding.name()) {
                    Some((*quality, 1, order))
                } else if *name == "*" {
                    Some((*quality, 0, order))
                } else {
                    None
                }
            })
            .max_by(|a, b| a.1.cmp(&b.1).then(a.0.total_cmp(&b.0)))
            .filter(|(quality, _, _)| *quality > 0.0)
    };
    let mut best: Option<(Encoding, (f32, i32, usize))> = None;
    for encoding in [Encoding::Gzip, Encoding::Deflate] {
        let Some(r) = rank(encoding) else { continue };
        let better = match &best {
            None => true,
            Some((_, b)) => r.0 > b.0 || (r.0 == b.0 && (r.1 > b.1 || (r.1 == b.1 && r.2 < b.2))),
        };
        if better {
            best = Some((encoding, r));
        }
    }
    best.map(|(encoding, _)| encoding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::{GzDecoder, ZlibDecoder};
    use std::io::Read;

    #[test]
    fn negotiates_like_negotiator() {
        assert_eq!(negotiate(None), None);
        assert_eq!(negotiate(Some("identity")), None);
        assert_eq!(negotiate(Some("gzip, deflate, br")), Some(Encoding::Gzip));
        assert_eq!(negotiate(Some("deflate, gzip")), Some(Encoding::Deflate));
        assert_eq!(
            negotiate(Some("gzip;q=0.5, deflate")),
            Some(Encoding::Deflate)
        );
        assert_eq!(negotiate(Some("gzip;q=0, *")), Some(Encoding::Deflate));
        assert_eq!(negotiate(Some("*")), Some(Encoding::Gzip));
    }

    #[test]
    fn round_trips() {
        let body = b"hello hello hello hello".repeat(100);
        let mut out = Vec::new();
        GzDecoder::new(&Encoding::Gzip.compress(&body)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        out.clear();
        ZlibDecoder::new(&Encoding::Deflate.compress(&body)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}

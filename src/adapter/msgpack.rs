//! MessagePack as notepack.io (the codec of @socket.io/redis-adapter) writes and reads it, so
//! Node servers and ours decode each other's messages. The values are those JSON carries plus
//! binary: the JS side hands us JSON text whose binary parts are socket.io placeholders
//! (`{"_placeholder":true,"num":n}`) with the bytes beside it, and gets the same shape back.

use std::fmt::Write as _;

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    /// Integers above `i64::MAX` (notepack's uint 64).
    UInt(u64),
    Float(f64),
    Str(String),
    Bin(Bytes),
    Array(Vec<Value>),
    /// Keys in insertion order, as a JS object keeps them.
    Map(Vec<(String, Value)>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Str(s) => !s.is_empty(),
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => {
                self.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan())
            }
            _ => true,
        }
    }

    /// A room name as socket.io sees it: numbers become their JS string form.
    pub fn to_key(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::UInt(u) => Some(u.to_string()),
            Value::Float(f) => Some(json_number(*f)),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding (notepack.io's `encode`)

pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => write_number(out, *i as f64, Some(*i)),
        Value::UInt(u) => write_uint(out, *u),
        Value::Float(f) => write_number(out, *f, None),
        Value::Str(s) => {
            write_str_header(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            let len = b.len();
            if len < 0x100 {
                out.extend_from_slice(&[0xc4, len as u8]);
            } else if len < 0x10000 {
                out.push(0xc5);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xc6);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            write_len(out, items.len(), 0x90, 0xdc, 0xdd);
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(entries) => {
            write_len(out, entries.len(), 0x80, 0xde, 0xdf);
            for (key, item) in entries {
                write_str_header(out, key.len());
                out.extend_from_slice(key.as_bytes());
                write_value(out, item);
            }
        }
    }
}

fn write_str_header(out: &mut Vec<u8>, len: usize) {
    if len < 0x20 {
        out.push(0xa0 | len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len < 0x10000 {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn write_len(out: &mut Vec<u8>, len: usize, fix: u8, b16: u8, b32: u8) {
    if len < 0x10 {
        out.push(fix | len as u8);
    } else if len < 0x10000 {
        out.push(b16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn write_uint(out: &mut Vec<u8>, u: u64) {
    if u < 0x80 {
        out.push(u as u8);
    } else if u < 0x100 {
        out.extend_from_slice(&[0xcc, u as u8]);
    } else if u < 0x10000 {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u < 0x1_0000_0000 {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

/// JS numbers: integral finite values take the smallest integer format, anything else float 64.
/// Past 32 bits notepack splits the value into two 32-bit words with JS's integer conversions;
/// `exact` carries an integer that did not come through a float.
fn write_number(out: &mut Vec<u8>, f: f64, exact: Option<i64>) {
    if f.floor() != f || !f.is_finite() {
        out.push(0xcb);
        out.extend_from_slice(&f.to_be_bytes());
        return;
    }
    let exact = exact.or_else(|| (f.abs() < 9.007_199_254_740_992e15).then_some(f as i64));
    if f >= 0.0 {
        if f < 4_294_967_296.0 {
            return write_uint(out, f as u64);
        }
        let (hi, lo) = match exact {
            Some(i) => ((i >> 32) as u32, i as u32),
            None => (to_uint32(f / 4_294_967_296.0), to_uint32(f)),
        };
        out.push(0xcf);
        out.extend_from_slice(&hi.to_be_bytes());
        out.extend_from_slice(&lo.to_be_bytes());
    } else if f >= -32.0 {
        out.push(f as i8 as u8);
    } else if f >= -128.0 {
        out.extend_from_slice(&[0xd0, f as i8 as u8]);
    } else if f >= -32768.0 {
        out.push(0xd1);
        out.extend_from_slice(&(f as i16).to_be_bytes());
    } else if f >= -2_147_483_648.0 {
        out.push(0xd2);
        out.extend_from_slice(&(f as i32).to_be_bytes());
    } else {
        let (hi, lo) = match exact {
            Some(i) => ((i >> 32) as u32, i as u32),
            None => (to_uint32((f / 4_294_967_296.0).floor()), to_uint32(f)),
        };
        out.push(0xd3);
        out.extend_from_slice(&hi.to_be_bytes());
        out.extend_from_slice(&lo.to_be_bytes());
    }
}

/// JS's ToUint32 (what `>>> 0` and a byte store do to a large double).
fn to_uint32(f: f64) -> u32 {
    if !f.is_finite() {
        return 0;
    }
    f.trunc().rem_euclid(4_294_967_296.0) as u32
}

// ---------------------------------------------------------------------------------------------
// Decoding (notepack.io's `decode`)

#[derive(Debug, PartialEq)]
pub struct DecodeError;

pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut reader = Reader { bytes, pos: 0 };
    let value = reader.value(0)?;
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Deeper nesting than any real message: a guard against a stack overflow on hostile input.
const MAX_DEPTH: usize = 512;

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError)?;
        let slice = self.bytes.get(self.pos..end).ok_or(DecodeError)?;
        self.pos = end;
        Ok(slice)
    }

    fn uint(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError);
        }
        let prefix = self.take(1)?[0];
        Ok(match prefix {
            0x00..=0x7f => Value::Int(prefix.into()),
            0x80..=0x8f => self.map((prefix & 0x0f).into(), depth)?,
            0x90..=0x9f => self.array((prefix & 0x0f).into(), depth)?,
            0xa0..=0xbf => self.str((prefix & 0x1f).into())?,
            0xe0..=0xff => Value::Int((prefix as i8).into()),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let len = self.uint(1 << (prefix - 0xc4))? as usize;
                Value::Bin(Bytes::copy_from_slice(self.take(len)?))
            }
            0xc7..=0xc9 => {
                let len = self.uint(1 << (prefix - 0xc7))? as usize;
                self.ext(len)?
            }
            0xca => Value::Float(f32::from_bits(self.uint(4)? as u32).into()),
            0xcb => Value::Float(f64::from_bits(self.uint(8)?)),
            0xcc => Value::Int(self.uint(1)? as i64),
            0xcd => Value::Int(self.uint(2)? as i64),
            0xce => Value::Int(self.uint(4)? as i64),
            0xcf => {
                // notepack reads hi * 2^32 + lo as a double.
                let hi = self.uint(4)? as f64;
                let lo = self.uint(4)? as f64;
                number(hi * 4_294_967_296.0 + lo)
            }
            0xd0 => Value::Int((self.uint(1)? as u8 as i8).into()),
            0xd1 => Value::Int((self.uint(2)? as u16 as i16).into()),
            0xd2 => Value::Int((self.uint(4)? as u32 as i32).into()),
            0xd3 => {
                let hi = self.uint(4)? as u32 as i32 as f64;
                let lo = self.uint(4)? as f64;
                number(hi * 4_294_967_296.0 + lo)
            }
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            0xd9..=0xdb => {
                let len = self.uint(1 << (prefix - 0xd9))? as usize;
                self.str(len)?
            }
            0xdc => {
                let len = self.uint(2)? as usize;
                self.array(len, depth)?
            }
            0xdd => {
                let len = self.uint(4)? as usize;
                self.array(len, depth)?
            }
            0xde => {
                let len = self.uint(2)? as usize;
                self.map(len, depth)?
            }
            0xdf => {
                let len = self.uint(4)? as usize;
                self.map(len, depth)?
            }
            0xc1 => return Err(DecodeError),
        })
    }

    fn str(&mut self, len: usize) -> Result<Value, DecodeError> {
        // Node's `toString('utf8')` replaces invalid sequences rather than failing.
        Ok(Value::Str(
            String::from_utf8_lossy(self.take(len)?).into_owned(),
        ))
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let mut items = Vec::with_capacity(len.min(1024));
        for _ in 0..len {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(len.min(1024));
        for _ in 0..len {
            let key = self.value(depth + 1)?;
            // A JS object key is a string; a repeated key keeps its first position.
            let key = match key {
                Value::Nil => "null".to_owned(),
                Value::Bool(b) => b.to_string(),
                other => other.to_key().ok_or(DecodeError)?,
            };
            let item = self.value(depth + 1)?;
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = item,
                None => entries.push((key, item)),
            }
        }
        Ok(Value::Map(entries))
    }

    /// Extensions: type 0 is notepack's ArrayBuffer (binary), -1 a timestamp (a JS Date, which
    /// reaches clients as its ISO string); any other is `[type, bytes]`.
    fn ext(&mut self, len: usize) -> Result<Value, DecodeError> {
        let kind = self.take(1)?[0] as i8;
        let data = self.take(len)?;
        Ok(match kind {
            0 => Value::Bin(Bytes::copy_from_slice(data)),
            -1 => Value::Str(timestamp(data).ok_or(DecodeError)?),
            _ => Value::Array(vec![
                Value::Int(kind.into()),
                Value::Bin(Bytes::copy_from_slice(data)),
            ]),
        })
    }
}

fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.223_372_036_854_775e18 {
        Value::Int(f as i64)
    } else {
        Value::Float(f)
    }
}

/// A msgpack timestamp (32, 64 or 96 bits) as `Date.prototype.toISOString` prints it.
fn timestamp(data: &[u8]) -> Option<String> {
    let be = |b: &[u8]| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
    let (secs, nanos) = match data.len() {
        4 => (be(data) as i64, 0),
        8 => {
            let v = be(data);
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as i64)
        }
        12 => (be(&data[4..]) as i64, be(&data[..4]) as i64),
        _ => return None,
    };
    let ms = secs.checked_mul(1000)? + nanos / 1_000_000;
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let mut out = String::new();
    if (0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}");
    } else {
        let _ = write!(out, "{}{:06}", if y < 0 { '-' } else { '+' }, y.abs());
    }
    let _ = write!(
        out,
        "-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    );
    Some(out)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

// ---------------------------------------------------------------------------------------------
// JSON with placeholders <-> Value

/// Parses JSON text (keys in order) and puts `attachments` back where its placeholders are.
pub fn from_json(text: &str, attachments: &[&[u8]]) -> Result<Value, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    Ok(if attachments.is_empty() {
        value
    } else {
        fill_placeholders(value, attachments)
    })
}

fn fill_placeholders(value: Value, attachments: &[&[u8]]) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| fill_placeholders(v, attachments))
                .collect(),
        ),
        Value::Map(entries) => {
            if let Some(bytes) = placeholder(&entries).and_then(|n| attachments.get(n)) {
                return Value::Bin(Bytes::copy_from_slice(bytes));
            }
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, fill_placeholders(v, attachments)))
                    .collect(),
            )
        }
        other => other,
    }
}

fn placeholder(entries: &[(String, Value)]) -> Option<usize> {
    let is_placeholder = entries
        .iter()
        .any(|(k, v)| k == "_placeholder" && *v == Value::Bool(true));
    if !is_placeholder {
        return None;
    }
    entries
        .iter()
        .find(|(k, _)| k == "num")
        .and_then(|(_, v)| v.as_f64())
        .map(|n| n as usize)
}

/// JSON text of `value`, each binary part replaced by a placeholder whose bytes are appended to
/// `attachments` (socket.io-parser's order: depth first).
pub fn to_json(value: &Value, attachments: &mut Vec<Bytes>) -> String {
    let mut out = String::with_capacity(64);
    write_json(&mut out, value, attachments);
    out
}

fn write_json(out: &mut String, value: &Value, attachments: &mut Vec<Bytes>) {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => out.push_str(&json_number(*f)),
        Value::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Bin(b) => {
            let _ = write!(
                out,
                "{{\"_placeholder\":true,\"num\":{}}}",
                attachments.len()
            );
            attachments.push(b.clone());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, attachments);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).unwrap_or_default());
                out.push(':');
                write_json(out, item, attachments);
            }
            out.push('}');
        }
    }
}

/// A double as `JSON.stringify` would print it closely enough for `JSON.parse` to read the same
/// number back; NaN and the infinities become null, as in JS.
fn json_number(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_owned();
    }
    serde_json::to_string(&f).unwrap_or_else(|_| "null".to_owned())
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::UInt(v), Value::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some((key, item)) = map.next_entry::<String, Value>()? {
            // JSON.parse keeps the last value of a repeated key at the first key's position.
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = item,
                None => entries.push((key, item)),
            }
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        from_json(text, &[]).unwrap()
    }

    // Expected bytes follow notepack.io's `encode` branch by branch.
    #[test]
    fn integers_take_notepacks_smallest_format() {
        let cases: &[(&str, &[u8])] = &[
            ("0", &[0x00]),
            ("127", &[0x7f]),
            ("128", &[0xcc, 0x80]),
            ("256", &[0xcd, 0x01, 0x00]),
            ("65536", &[0xce, 0x00, 0x01, 0x00, 0x00]),
            ("4294967296", &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
            ("-1", &[0xff]),
            ("-32", &[0xe0]),
            ("-33", &[0xd0, 0xdf]),
            ("-129", &[0xd1, 0xff, 0x7f]),
            ("-32769", &[0xd2, 0xff, 0xff, 0x7f, 0xff]),
            (
                "-2147483649",
                &[0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
            ),
            // An integral double is an integer to notepack (1e3 === 1000 in JS).
            ("1e3", &[0xcd, 0x03, 0xe8]),
            ("-0.0", &[0x00]),
        ];
        for (text, bytes) in cases {
            assert_eq!(encode(&json(text)), *bytes, "{text}");
            let back = decode(bytes).unwrap().as_f64().unwrap();
            assert_eq!(back, text.parse::<f64>().unwrap(), "{text}");
        }
    }

    #[test]
    fn fractions_are_float64() {
        let bytes = encode(&json("1.5"));
        assert_eq!(bytes, [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode(&bytes).unwrap(), Value::Float(1.5));
        // float 32 from other encoders reads as its double value.
        assert_eq!(
            decode(&[0xca, 0x3f, 0xc0, 0, 0]).unwrap(),
            Value::Float(1.5)
        );
    }

    #[test]
    fn strings_maps_arrays_and_nil() {
        let value = json(r#"{"a":[null,true,false],"é":"x"}"#);
        let bytes = encode(&value);
        assert_eq!(
            bytes,
            [0x82, 0xa1, b'a', 0x93, 0xc0, 0xc3, 0xc2, 0xa2, 0xc3, 0xa9, 0xa1, b'x']
        );
        assert_eq!(decode(&bytes).unwrap(), value);
        let long = "x".repeat(40);
        assert_eq!(&encode(&Value::Str(long.clone()))[..2], &[0xd9, 40]);
        let longer = "x".repeat(300);
        assert_eq!(&encode(&Value::Str(longer))[..3], &[0xda, 1, 44]);
        let many = Value::Array(vec![Value::Nil; 16]);
        assert_eq!(&encode(&many)[..3], &[0xdc, 0, 16]);
        assert_eq!(decode(&encode(&many)).unwrap(), many);
    }

    #[test]
    fn binary_round_trips_through_placeholders() {
        let attachment: &[u8] = &[1, 2, 3];
        let value = from_json(
            r#"["ev",{"buf":{"_placeholder":true,"num":0}},1]"#,
            &[attachment],
        )
        .unwrap();
        let bytes = encode(&value);
        assert_eq!(
            bytes,
            [0x93, 0xa2, b'e', b'v', 0x81, 0xa3, b'b', b'u', b'f', 0xc4, 3, 1, 2, 3, 1]
        );
        let mut attachments = Vec::new();
        let text = to_json(&decode(&bytes).unwrap(), &mut attachments);
        assert_eq!(text, r#"["ev",{"buf":{"_placeholder":true,"num":0}},1]"#);
        assert_eq!(attachments, [Bytes::from_static(&[1, 2, 3])]);
        // notepack's ext type 0 is an ArrayBuffer.
        assert_eq!(
            decode(&[0xd5, 0x00, 9, 8]).unwrap(),
            Value::Bin(Bytes::from_static(&[9, 8]))
        );
    }

    #[test]
    fn timestamps_read_as_iso_dates() {
        assert_eq!(
            decode(&[0xd6, 0xff, 0x5e, 0x0b, 0xe1, 0x00]).unwrap(),
            Value::Str("2020-01-01T00:00:00.000Z".into())
        );
        // timestamp 64: 500 ms in nanoseconds above 34 bits of seconds.
        let ns: u64 = 500_000_000;
        let v = (ns << 34) | 0x5e0b_e100;
        let mut bytes = vec![0xd7, 0xff];
        bytes.extend_from_slice(&v.to_be_bytes());
        assert_eq!(
            decode(&bytes).unwrap(),
            Value::Str("2020-01-01T00:00:00.500Z".into())
        );
    }

    #[test]
    fn a_notepack_broadcast_message_decodes() {
        // notepack.encode(["abc", {type: 2, data: ["ev", 1], nsp: "/"}, {rooms: ["r"], except: [], flags: {}}])
        let bytes = [
            0x93, 0xa3, b'a', b'b', b'c', 0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa4, b'd',
            b'a', b't', b'a', 0x92, 0xa2, b'e', b'v', 0x01, 0xa3, b'n', b's', b'p', 0xa1, b'/',
            0x83, 0xa5, b'r', b'o', b'o', b'm', b's', 0x91, 0xa1, b'r', 0xa6, b'e', b'x', b'c',
            b'e', b'p', b't', 0x90, 0xa5, b'f', b'l', b'a', b'g', b's', 0x80,
        ];
        let value = decode(&bytes).unwrap();
        assert_eq!(encode(&value), bytes);
        let Value::Array(parts) = &value else {
            panic!("not an array")
        };
        assert_eq!(parts[1].get("nsp").and_then(Value::as_str), Some("/"));
    }

    #[test]
    fn truncated_or_invalid_input_is_an_error() {
        assert_eq!(decode(&[0x92, 0x01]), Err(DecodeError));
        assert_eq!(decode(&[0xc1]), Err(DecodeError));
        assert_eq!(decode(&[0xdb, 0xff, 0xff, 0xff, 0xff]), Err(DecodeError));
        assert!(decode(&[0x91; 10_000]).is_err());
    }
}

//! Checks the JSON shape of a packet's payload in one streaming pass, without building a tree:
//! socket.io only needs to know "object", "array whose first element is a string/number", etc.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Debug, PartialEq, Eq)]
pub enum First {
    Empty,
    Str(String),
    Number,
    Other,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Shape {
    Object,
    Array(First),
    Str,
    Other,
}

/// Parses `text` as JSON and reports its shape; None when it is not valid JSON.
pub fn shape_of(text: &str) -> Option<Shape> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let shape = deserializer.deserialize_any(ShapeVisitor).ok()?;
    deserializer.end().ok()?;
    Some(shape)
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Shape::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let first = seq
            .next_element::<FirstElement>()?
            .map_or(First::Empty, |f| f.0);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Array(first))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Str)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
}

struct FirstElement(First);

impl<'de> de::Deserialize<'de> for FirstElement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FirstVisitor).map(FirstElement)
    }
}

struct FirstVisitor;

impl<'de> Visitor<'de> for FirstVisitor {
    type Value = First;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<First, E> {
        Ok(First::Str(v.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<First, E> {
        Ok(First::Number)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<First, E> {
        Ok(First::Number)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<First, E> {
        Ok(First::Number)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<First, E> {
        Ok(First::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<First, E> {
        Ok(First::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<First, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(First::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(First::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_shapes() {
        assert_eq!(shape_of("{\"a\":[1,{}]}"), Some(Shape::Object));
        assert_eq!(
            shape_of("[\"ev\",1,{\"x\":[]}]"),
            Some(Shape::Array(First::Str("ev".into())))
        );
        assert_eq!(shape_of("[12]"), Some(Shape::Array(First::Number)));
        assert_eq!(shape_of("[]"), Some(Shape::Array(First::Empty)));
        assert_eq!(shape_of("[{}]"), Some(Shape::Array(First::Other)));
        assert_eq!(shape_of("\"s\""), Some(Shape::Str));
        assert_eq!(shape_of(" 1 "), Some(Shape::Other));
    }

    #[test]
    fn rejects_invalid_json() {
        assert_eq!(shape_of("abc"), None);
        assert_eq!(shape_of("[1,"), None);
        assert_eq!(shape_of("{} x"), None);
        assert_eq!(shape_of(""), None);
    }

    #[test]
    fn unescapes_first_string() {
        assert_eq!(
            shape_of(r#"["a\"b\u00e9"]"#),
            Some(Shape::Array(First::Str("a\"bé".into())))
        );
    }
}

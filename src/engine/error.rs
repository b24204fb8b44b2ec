//! The engine.io handshake/request errors, with the codes and messages clients see.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineError {
    UnknownTransport,
    UnknownSid,
    BadHandshakeMethod,
    BadRequest,
    Forbidden,
    UnsupportedProtocolVersion,
}

impl EngineError {
    pub fn code(self) -> u8 {
        match self {
            Self::UnknownTransport => 0,
            Self::UnknownSid => 1,
            Self::BadHandshakeMethod => 2,
            Self::BadRequest => 3,
            Self::Forbidden => 4,
            Self::UnsupportedProtocolVersion => 5,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::UnknownTransport => "Transport unknown",
            Self::UnknownSid => "Session ID unknown",
            Self::BadHandshakeMethod => "Bad handshake method",
            Self::BadRequest => "Bad request",
            Self::Forbidden => "Forbidden",
            Self::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Self::Forbidden => 403,
            _ => 400,
        }
    }
}

/// A refused request: the error clients see, and what engine.io's `connection_error` event
/// reports as its `context` (a JSON object).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub error: EngineError,
    pub context: serde_json::Value,
}

impl Refusal {
    pub fn new(error: EngineError) -> Self {
        Self::with(error, serde_json::Value::Object(Default::default()))
    }

    pub fn with(error: EngineError, context: serde_json::Value) -> Self {
        Self { error, context }
    }

    /// The context's `message` when it has one (an `allowRequest` refusal), else the error's.
    pub fn message(&self) -> &str {
        self.context
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or(self.error.message())
    }

    pub fn body(&self) -> String {
        serde_json::json!({ "code": self.error.code(), "message": self.message() }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_engine_io() {
        assert_eq!(
            Refusal::new(EngineError::UnknownTransport).body(),
            r#"{"code":0,"message":"Transport unknown"}"#
        );
        let forbidden = Refusal::with(
            EngineError::Forbidden,
            serde_json::json!({ "message": "no \"way\"" }),
        );
        assert_eq!(forbidden.body(), r#"{"code":4,"message":"no \"way\""}"#);
        assert_eq!(EngineError::Forbidden.status(), 403);
        assert_eq!(EngineError::UnsupportedProtocolVersion.code(), 5);
    }
}

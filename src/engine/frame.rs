//! An encoded engine.io packet waiting to be written. Cloning is a refcount bump, so one
//! broadcast frame is shared by every recipient's queue.

use bytes::Bytes;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

#[derive(Debug, Clone)]
pub enum Frame {
    /// The whole engine.io text packet, type digit included (`42[...]`).
    Text(Utf8Bytes),
    /// A binary message; its bytes go on the wire as they are (websocket) or base64 (polling).
    Binary(Bytes),
}

impl Frame {
    pub fn text(text: String) -> Self {
        Self::Text(Utf8Bytes::from(text))
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Binary(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_message(&self) -> Message {
        match self {
            Self::Text(text) => Message::Text(text.clone()),
            Self::Binary(bytes) => Message::Binary(bytes.clone()),
        }
    }
}

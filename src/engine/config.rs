//! Engine options, with socket.io 4.8's defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::cors::Cors;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The prefix of the URLs served: ends with `/` unless `addTrailingSlash` is false.
    pub path: String,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub upgrade_timeout: Duration,
    pub max_payload: usize,
    pub allow_polling: bool,
    pub allow_websocket: bool,
    pub allow_upgrades: bool,
    /// Whether engine.io revision 3 clients (socket.io-client 2.x) are accepted.
    pub allow_eio3: bool,
    /// Bytes a session may have queued before it is treated as a slow client.
    pub max_buffered_bytes: usize,
    pub cors: CorsPolicy,
    pub cookie: Option<Cookie>,
    /// Polling answers of at least this many bytes are compressed; None: never.
    pub compression_threshold: Option<usize>,
    /// socket.io-client's bundles, served under the path when `serveClient` is on.
    pub client_files: Option<ClientFiles>,
    /// `perMessageDeflate`: websocket messages of at least this many bytes are compressed for
    /// clients that negotiate it; None: the extension is not offered.
    pub deflate_threshold: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub enum CorsPolicy {
    #[default]
    Off,
    Static(Cors),
    /// Decided per request by user code in JS (a function or RegExp origin).
    Dynamic,
}

/// engine.io's `cookie` option: `Set-Cookie: <name>=<sid><attributes>` on polling handshakes.
#[derive(Debug, Clone)]
pub struct Cookie {
    pub name: String,
    /// Already formatted by JS, e.g. `; Path=/; HttpOnly; SameSite=Lax`.
    pub attributes: String,
}

#[derive(Debug, Clone)]
pub struct ClientFiles {
    /// socket.io-client's `dist/` directory.
    pub dir: PathBuf,
    /// The quoted client version, as socket.io's `ETag`.
    pub etag: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            allow_polling: true,
            allow_websocket: true,
            allow_upgrades: true,
            allow_eio3: false,
            max_buffered_bytes: 16 * 1024 * 1024,
            cors: CorsPolicy::Off,
            cookie: None,
            compression_threshold: Some(1024),
            client_files: None,
            deflate_threshold: None,
        }
    }
}

impl EngineConfig {
    pub fn open_packet(&self, sid: &str, upgrades_offered: bool) -> String {
        let upgrades = if upgrades_offered && self.allow_upgrades && self.allow_websocket {
            "[\"websocket\"]"
        } else {
            "[]"
        };
        // A generated id may contain anything, so it is JSON-escaped.
        let sid = serde_json::to_string(sid).unwrap_or_default();
        format!(
            "0{{\"sid\":{sid},\"upgrades\":{upgrades},\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            self.ping_interval.as_millis(),
            self.ping_timeout.as_millis(),
            self.max_payload
        )
    }
}

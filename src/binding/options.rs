//! Options JS passes to the native server; JS has already applied socket.io's defaults.

use std::time::Duration;

use napi_derive::napi;

use napi::{Error, Result};

use crate::engine::config::{ClientFiles, Cookie, CorsPolicy, EngineConfig};

#[napi(object)]
pub struct NativeOptions {
    pub path: String,
    pub ping_interval: u32,
    pub ping_timeout: u32,
    pub upgrade_timeout: u32,
    pub connect_timeout: u32,
    pub max_http_buffer_size: u32,
    pub transports: Vec<String>,
    pub allow_upgrades: bool,
    #[napi(js_name = "allowEIO3")]
    pub allow_eio3: bool,
    pub max_buffered_bytes: u32,
    pub add_trailing_slash: bool,
    /// JSON of the CORS options with the `cors` package's defaults applied (see
    /// `engine::cors::Cors`); `"dynamic"` when user code decides per request.
    pub cors: Option<String>,
    pub cookie_name: Option<String>,
    /// `; Path=/; HttpOnly; …`, as the `cookie` package formats them.
    pub cookie_attributes: Option<String>,
    /// None: `httpCompression: false`.
    pub compression_threshold: Option<u32>,
    /// socket.io-client's `dist/` directory and version, when `serveClient` is on and the
    /// package is installed.
    pub client_dir: Option<String>,
    pub client_version: Option<String>,
    /// `perMessageDeflate.threshold` when per-message deflate is on.
    pub deflate_threshold: Option<u32>,
    /// `connectionStateRecovery.maxDisconnectionDuration` when recovery is on.
    pub recovery_window: Option<u32>,
}

impl NativeOptions {
    pub fn recovery_window(&self) -> Option<Duration> {
        self.recovery_window
            .map(|ms| Duration::from_millis(ms.into()))
    }

    pub fn engine_config(&self) -> Result<EngineConfig> {
        // engine.io drops one trailing slash, then adds it back unless told not to.
        let mut path = self.path.strip_suffix('/').unwrap_or(&self.path).to_owned();
        if self.add_trailing_slash {
            path.push('/');
        }
        let cors = match self.cors.as_deref() {
            None => CorsPolicy::Off,
            Some("dynamic") => CorsPolicy::Dynamic,
            Some(json) => CorsPolicy::Static(
                serde_json::from_str(json)
                    .map_err(|e| Error::from_reason(format!("invalid cors options: {e}")))?,
            ),
        };
        let cookie = self.cookie_name.as_ref().map(|name| Cookie {
            name: name.clone(),
            attributes: self.cookie_attributes.clone().unwrap_or_default(),
        });
        let client_files = match (&self.client_dir, &self.client_version) {
            (Some(dir), Some(version)) => Some(ClientFiles {
                dir: dir.into(),
                etag: format!("\"{version}\""),
            }),
            _ => None,
        };
        Ok(EngineConfig {
            path,
            ping_interval: Duration::from_millis(self.ping_interval.into()),
            ping_timeout: Duration::from_millis(self.ping_timeout.into()),
            upgrade_timeout: Duration::from_millis(self.upgrade_timeout.into()),
            max_payload: self.max_http_buffer_size as usize,
            allow_polling: self.transports.iter().any(|t| t == "polling"),
            allow_websocket: self.transports.iter().any(|t| t == "websocket"),
            allow_upgrades: self.allow_upgrades,
            allow_eio3: self.allow_eio3,
            max_buffered_bytes: self.max_buffered_bytes as usize,
            cors,
            cookie,
            compression_threshold: self.compression_threshold.map(|t| t as usize),
            client_files,
            deflate_threshold: self.deflate_threshold.map(|t| t as usize),
        })
    }
}

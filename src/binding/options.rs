//! Options JS passes to the native server; JS has already applied socket.io's defaults.

use std::time::Duration;

use napi_derive::napi;

use crate::engine::config::EngineConfig;

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
    pub max_buffered_bytes: u32,
    /// `connectionStateRecovery.maxDisconnectionDuration` when recovery is on.
    pub recovery_window: Option<u32>,
}

impl NativeOptions {
    pub fn recovery_window(&self) -> Option<Duration> {
        self.recovery_window
            .map(|ms| Duration::from_millis(ms.into()))
    }

    pub fn engine_config(&self) -> EngineConfig {
        let mut path = self.path.trim_end_matches('/').to_owned();
        path.push('/');
        EngineConfig {
            path,
            ping_interval: Duration::from_millis(self.ping_interval.into()),
            ping_timeout: Duration::from_millis(self.ping_timeout.into()),
            upgrade_timeout: Duration::from_millis(self.upgrade_timeout.into()),
            max_payload: self.max_http_buffer_size as usize,
            allow_polling: self.transports.iter().any(|t| t == "polling"),
            allow_websocket: self.transports.iter().any(|t| t == "websocket"),
            allow_upgrades: self.allow_upgrades,
            max_buffered_bytes: self.max_buffered_bytes as usize,
        }
    }
}

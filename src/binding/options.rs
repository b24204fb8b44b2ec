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
    #[napi(js_name = "allowEIO3")]
    pub allow_eio3: bool,
    pub max_buffered_bytes: u32,
}

impl NativeOptions {
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
            allow_eio3: self.allow_eio3,
            max_buffered_bytes: self.max_buffered_bytes as usize,
        }
    }
}

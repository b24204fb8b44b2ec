//! The napi surface: one native server object, a batched event queue towards JS, and the calls
//! JS makes. Thin on purpose: it converts values and delegates.

mod events;
mod http_hook;
mod options;
mod questions;
mod runtime;
mod server;

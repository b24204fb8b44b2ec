//! `io.engine.generateId` in JS, asked by the engine at each handshake. JS may answer later (a
//! Promise), so each request gets a token and the answer comes back through `provideId`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::FnArgs;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::engine::request::RequestInfo;
use crate::engine::server::{BoxFuture, IdGenerator};

/// Called as `generate(token, requestJson)`.
pub type Generate =
    ThreadsafeFunction<(u32, String), (), FnArgs<(u32, String)>, Status, false, true>;

/// A generator that never answers must not hold the handshake forever.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

pub struct IdRequests {
    generate: Generate,
    next_token: AtomicU32,
    pending: Arc<Mutex<HashMap<u32, oneshot::Sender<Option<String>>>>>,
}

impl IdRequests {
    pub fn new(generate: Generate) -> Self {
        Self {
            generate,
            next_token: AtomicU32::new(0),
            pending: Arc::default(),
        }
    }

    pub fn resolve(&self, token: u32, id: Option<String>) {
        if let Some(sender) = self.pending.lock().remove(&token) {
            let _ = sender.send(id);
        }
    }
}

impl IdGenerator for IdRequests {
    fn generate(&self, request: &RequestInfo) -> BoxFuture<Option<String>> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.pending.lock().insert(token, sender);
        let status = self.generate.call(
            (token, request.to_json()),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
        let pending = self.pending.clone();
        Box::pin(async move {
            let answer = if status == Status::Ok {
                tokio::time::timeout(ANSWER_TIMEOUT, receiver).await.ok()
            } else {
                None
            };
            pending.lock().remove(&token);
            answer.and_then(Result::ok).flatten()
        })
    }
}

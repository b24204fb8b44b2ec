//! The handshake hooks in JS, `allowRequest(req, cb)` and `io.engine.generateId(req)`, asked by
//! the engine for each new session. JS may answer later (a callback, a Promise), so each request
//! gets a token and the answer comes back through `decideHandshake`.

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
use crate::engine::server::{BoxFuture, HandshakeDecision, HandshakeHook};

/// Called as `decide(token, requestJson)`.
pub type Decide = ThreadsafeFunction<(u32, String), (), FnArgs<(u32, String)>, Status, false, true>;

/// A hook that never answers must not hold the handshake forever; it then counts as "accept
/// with a random id".
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

type Pending = Arc<Mutex<HashMap<u32, oneshot::Sender<HandshakeDecision>>>>;

pub struct HandshakeRequests {
    decide: Decide,
    next_token: AtomicU32,
    pending: Pending,
}

impl HandshakeRequests {
    pub fn new(decide: Decide) -> Self {
        Self {
            decide,
            next_token: AtomicU32::new(0),
            pending: Arc::default(),
        }
    }

    pub fn resolve(&self, token: u32, decision: HandshakeDecision) {
        if let Some(sender) = self.pending.lock().remove(&token) {
            let _ = sender.send(decision);
        }
    }
}

impl HandshakeHook for HandshakeRequests {
    fn decide(&self, request: &RequestInfo) -> BoxFuture<HandshakeDecision> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.pending.lock().insert(token, sender);
        let status = self.decide.call(
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
            answer
                .and_then(Result::ok)
                .unwrap_or(HandshakeDecision::Accept(None))
        })
    }
}

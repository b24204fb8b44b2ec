//! Questions Rust asks user code in JS and awaits: the handshake hooks (`allowRequest`,
//! `generateId`) and the HTTP hooks (dynamic CORS, header listeners). JS may answer later (a
//! callback, a Promise), so each question gets a token and the answer comes back through a
//! napi call naming it. Never awaited on the Node thread; a tokio task waits, not a worker.

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

/// Called as `ask(token, json)`.
pub type Ask = ThreadsafeFunction<(u32, String), (), FnArgs<(u32, String)>, Status, false, true>;

/// User code that never answers must not hold a request forever; the question then gets the
/// default answer of its kind.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

type Pending<A> = Arc<Mutex<HashMap<u32, oneshot::Sender<A>>>>;

pub struct Questions<A> {
    ask: Ask,
    next_token: AtomicU32,
    pending: Pending<A>,
}

impl<A: Send + 'static> Questions<A> {
    pub fn new(ask: Ask) -> Self {
        Self {
            ask,
            next_token: AtomicU32::new(0),
            pending: Arc::default(),
        }
    }

    pub fn resolve(&self, token: u32, answer: A) {
        if let Some(sender) = self.pending.lock().remove(&token) {
            let _ = sender.send(answer);
        }
    }

    /// Asks JS; None when JS cannot be called or does not answer in time.
    pub fn ask(&self, json: String) -> BoxFuture<Option<A>> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.pending.lock().insert(token, sender);
        let status = self
            .ask
            .call((token, json), ThreadsafeFunctionCallMode::NonBlocking);
        let pending = self.pending.clone();
        Box::pin(async move {
            let answer = if status == Status::Ok {
                tokio::time::timeout(ANSWER_TIMEOUT, receiver).await.ok()
            } else {
                None
            };
            pending.lock().remove(&token);
            answer.and_then(Result::ok)
        })
    }
}

impl HandshakeHook for Questions<HandshakeDecision> {
    fn decide(&self, request: &RequestInfo) -> BoxFuture<HandshakeDecision> {
        let answer = self.ask(request.to_json());
        Box::pin(async move { answer.await.unwrap_or(HandshakeDecision::Accept(None)) })
    }
}

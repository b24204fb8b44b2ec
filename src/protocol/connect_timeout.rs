//! `connectTimeout`: a client that has joined no namespace in time is closed. One timer serves
//! every connection: the timeout is the same for all, so deadlines arrive in order and a queue
//! replaces a sleeping task per connection.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::engine::session::CloseReason;

use super::client::Client;

type Pending = Arc<Mutex<VecDeque<(Instant, Weak<Client>)>>>;

pub struct ConnectTimeout {
    timeout: Duration,
    pending: Pending,
    wake: Arc<Notify>,
}

impl ConnectTimeout {
    /// Starts the timer on `runtime`; it stops when the returned value is dropped.
    pub fn start(timeout: Duration, runtime: &tokio::runtime::Handle) -> Self {
        let pending = Pending::default();
        let wake = Arc::new(Notify::new());
        runtime.spawn(run(pending.clone(), wake.clone()));
        Self {
            timeout,
            pending,
            wake,
        }
    }

    pub fn watch(&self, client: &Arc<Client>) {
        let mut pending = self.pending.lock();
        let was_empty = pending.is_empty();
        pending.push_back((Instant::now() + self.timeout, Arc::downgrade(client)));
        drop(pending);
        if was_empty {
            self.wake.notify_one();
        }
    }
}

impl Drop for ConnectTimeout {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

async fn run(pending: Pending, wake: Arc<Notify>) {
    // The timer owns the queue together with its `ConnectTimeout`; alone, it is no longer needed.
    while Arc::strong_count(&pending) > 1 {
        let next = pending.lock().front().map(|(deadline, _)| *deadline);
        match next {
            Some(deadline) => tokio::select! {
                _ = tokio::time::sleep_until(deadline) => expire(&pending),
                _ = wake.notified() => {}
            },
            None => wake.notified().await,
        }
    }
}

fn expire(pending: &Pending) {
    let now = Instant::now();
    let mut due = Vec::new();
    {
        let mut pending = pending.lock();
        while pending
            .front()
            .is_some_and(|(deadline, _)| *deadline <= now)
        {
            if let Some((_, client)) = pending.pop_front() {
                due.push(client);
            }
        }
    }
    for client in due.iter().filter_map(Weak::upgrade) {
        if !client.has_sockets() {
            client.session.close(CloseReason::ForcedClose);
        }
    }
}

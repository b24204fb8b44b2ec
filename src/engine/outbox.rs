//! A session's bounded send queue. Writers (the websocket task or a long-poll GET) wait on it;
//! senders never block. When a slow client lets it fill up, volatile packets are dropped and
//! anything else overflows, which closes the session instead of growing memory.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::frame::Frame;

#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The session is closed; the frame was discarded.
    Closed,
    /// Volatile frame dropped because the transport is not writable.
    Dropped,
    /// The queue limit was reached.
    Overflow,
}

struct State {
    frames: VecDeque<Frame>,
    bytes: usize,
    closed: bool,
}

pub struct Outbox {
    state: Mutex<State>,
    ready: Notify,
    limit: usize,
}

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new(State {
                frames: VecDeque::new(),
                bytes: 0,
                closed: false,
            }),
            ready: Notify::new(),
            limit,
        }
    }

    pub fn push(&self, frame: Frame, volatile: bool) -> Result<(), PushError> {
        self.push_all(std::iter::once(frame), volatile)
    }

    /// Queues frames that must stay together (a packet and its binary attachments).
    pub fn push_all(
        &self,
        frames: impl IntoIterator<Item = Frame>,
        volatile: bool,
    ) -> Result<(), PushError> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(PushError::Closed);
        }
        if volatile && !state.frames.is_empty() {
            return Err(PushError::Dropped);
        }
        // The limit bounds a backlog: one message larger than the limit may still go to a
        // client that keeps up.
        let had_backlog = state.bytes > 0;
        for frame in frames {
            state.bytes += frame.len();
            state.frames.push_back(frame);
        }
        if had_backlog && state.bytes > self.limit {
            return Err(PushError::Overflow);
        }
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// Takes everything queued; an empty result means the queue is closed or was woken.
    pub fn drain(&self) -> Vec<Frame> {
        let mut state = self.state.lock();
        state.bytes = 0;
        state.frames.drain(..).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.state.lock().frames.is_empty()
    }

    /// Waits until frames are queued, the queue closes, or `wake` is called.
    pub async fn ready(&self) {
        if !self.is_empty() || self.is_closed() {
            return;
        }
        self.ready.notified().await;
    }

    pub fn wake(&self) {
        self.ready.notify_one();
    }

    pub fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Frame {
        Frame::text(s.to_owned())
    }

    #[test]
    fn drops_volatile_when_not_writable() {
        let outbox = Outbox::new(1024);
        outbox.push(text("42[1]"), true).unwrap();
        assert_eq!(outbox.push(text("42[2]"), true), Err(PushError::Dropped));
        assert_eq!(outbox.drain().len(), 1);
        outbox.push(text("42[3]"), true).unwrap();
    }

    #[test]
    fn overflows_past_the_limit() {
        let outbox = Outbox::new(10);
        outbox.push(text("4aaaa"), false).unwrap();
        assert_eq!(
            outbox.push(text("4bbbbbb"), false),
            Err(PushError::Overflow)
        );
    }

    #[test]
    fn refuses_after_close() {
        let outbox = Outbox::new(10);
        outbox.close();
        assert_eq!(outbox.push(text("4"), false), Err(PushError::Closed));
    }

    #[tokio::test]
    async fn ready_returns_when_frames_are_queued() {
        let outbox = std::sync::Arc::new(Outbox::new(100));
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                outbox.ready().await;
                outbox.drain().len()
            })
        };
        tokio::task::yield_now().await;
        outbox.push(text("4x"), false).unwrap();
        assert_eq!(waiter.await.unwrap(), 1);
    }
}

//! A session's send path. While the session polls, frames wait in a bounded queue for the next
//! GET; once it is on a websocket, they go to that connection's writer (which writes at once when
//! it can). Senders never block. When a slow client lets its backlog fill up, volatile packets are
//! dropped and anything else overflows, which closes the session instead of growing memory.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::frame::Frame;
use super::ws_writer::{Queued, WsWriter};

#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The session is closed; the frame was discarded.
    Closed,
    /// Volatile frame dropped because the transport is not writable.
    Dropped,
    /// The queue limit was reached.
    Overflow,
}

enum Sink {
    Queue {
        frames: VecDeque<Frame>,
        bytes: usize,
    },
    Websocket(Arc<WsWriter>),
}

struct State {
    sink: Sink,
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
                sink: Sink::Queue {
                    frames: VecDeque::new(),
                    bytes: 0,
                },
                closed: false,
            }),
            ready: Notify::new(),
            limit,
        }
    }

    /// Sends frames that must stay together (a packet and its binary attachments).
    pub fn push_all(&self, frames: &[Frame], volatile: bool) -> Result<(), PushError> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(PushError::Closed);
        }
        match &mut state.sink {
            Sink::Websocket(writer) => writer.send(frames, volatile),
            Sink::Queue {
                frames: queue,
                bytes,
            } => {
                if volatile && !queue.is_empty() {
                    return Err(PushError::Dropped);
                }
                // The limit bounds a backlog: one message larger than the limit may still go
                // to a client that keeps up.
                let had_backlog = *bytes > 0;
                for frame in frames {
                    *bytes += frame.len();
                    queue.push_back(frame.clone());
                }
                if had_backlog && *bytes > self.limit {
                    return Err(PushError::Overflow);
                }
                drop(state);
                self.ready.notify_one();
                Ok(())
            }
        }
    }

    /// Like `push_all`, but a websocket writer is only queued to; it is returned when the
    /// caller must flush it (so a broadcast writes all its recipients from one task).
    pub fn push_deferred(
        &self,
        frames: &[Frame],
        volatile: bool,
    ) -> Result<Option<Arc<WsWriter>>, PushError> {
        let state = self.state.lock();
        if state.closed {
            return Err(PushError::Closed);
        }
        if let Sink::Websocket(writer) = &state.sink {
            return match writer.queue(frames, volatile)? {
                Queued::NeedsFlush => Ok(Some(writer.clone())),
                Queued::Done => Ok(None),
            };
        }
        drop(state);
        self.push_all(frames, volatile).map(|()| None)
    }

    /// From now on frames go to `writer`, after whatever was queued for polling.
    pub fn attach_websocket(&self, writer: Arc<WsWriter>) {
        let mut state = self.state.lock();
        if let Sink::Queue { frames, .. } = &mut state.sink {
            let queued: Vec<Frame> = frames.drain(..).collect();
            let _ = writer.send(&queued, false);
        }
        if state.closed {
            writer.end_session();
        }
        state.sink = Sink::Websocket(writer);
        drop(state);
        self.ready.notify_one();
    }

    /// Takes everything queued for polling; empty when nothing is queued or on a websocket.
    pub fn drain(&self) -> Vec<Frame> {
        match &mut self.state.lock().sink {
            Sink::Queue { frames, bytes } => {
                *bytes = 0;
                frames.drain(..).collect()
            }
            Sink::Websocket(_) => Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match &self.state.lock().sink {
            Sink::Queue { frames, .. } => frames.is_empty(),
            Sink::Websocket(writer) => writer.is_idle(),
        }
    }

    /// Waits until frames are queued for polling, the outbox closes, or `wake` is called.
    pub async fn ready(&self) {
        {
            let state = self.state.lock();
            let queued = matches!(&state.sink, Sink::Queue { frames, .. } if !frames.is_empty());
            if queued || state.closed {
                return;
            }
        }
        self.ready.notified().await;
    }

    pub fn wake(&self) {
        self.ready.notify_one();
    }

    /// Marks the session ended: a pending poll returns, a websocket's task stops reading.
    pub fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        if let Sink::Websocket(writer) = &state.sink {
            writer.end_session();
        }
        drop(state);
        self.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

    fn text(s: &str) -> Frame {
        Frame::text(s.to_owned())
    }

    impl Outbox {
        fn push(&self, frame: Frame, volatile: bool) -> Result<(), PushError> {
            self.push_all(&[frame], volatile)
        }
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
    fn a_single_large_message_fits_an_empty_queue() {
        let outbox = Outbox::new(10);
        outbox.push(text("4aaaaaaaaaaaaaaa"), false).unwrap();
        assert_eq!(outbox.push(text("4b"), false), Err(PushError::Overflow));
    }

    #[test]
    fn refuses_after_close() {
        let outbox = Outbox::new(10);
        outbox.close();
        assert_eq!(outbox.push(text("4"), false), Err(PushError::Closed));
    }

    #[tokio::test]
    async fn ready_returns_when_frames_are_queued() {
        let outbox = Arc::new(Outbox::new(100));
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

    /// A websocket's writer, and a task running its `run` as the connection's task does.
    async fn websocket_task() -> (Arc<WsWriter>, tokio::task::JoinHandle<()>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let writer = Arc::new(WsWriter::new(server.into_split().1, 1024));
        let task = tokio::spawn({
            let writer = writer.clone();
            async move { writer.run().await }
        });
        (writer, task, client)
    }

    async fn ends_in_time(task: tokio::task::JoinHandle<()>) -> bool {
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn closing_ends_the_websocket_task() {
        let outbox = Outbox::new(100);
        let (writer, task, _client) = websocket_task().await;
        outbox.attach_websocket(writer);
        tokio::task::yield_now().await;
        assert!(!task.is_finished());
        outbox.close();
        assert!(ends_in_time(task).await);
    }

    #[tokio::test]
    async fn a_websocket_attached_after_the_close_ends_its_task() {
        let outbox = Outbox::new(100);
        outbox.close();
        let (writer, task, _client) = websocket_task().await;
        outbox.attach_websocket(writer);
        assert!(ends_in_time(task).await);
    }
}

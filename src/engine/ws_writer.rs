//! Writing to one websocket connection without a task hop: when nothing is queued, a frame is
//! written at once with a non-blocking write from whichever thread sends it (the Node thread for
//! an emit or an ack). Only what the socket cannot take now is queued; the connection's task
//! writes it when the socket becomes writable. A broadcast queues its frame for every recipient
//! first and flushes them all from one task.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::Poll;

use atomic_waker::AtomicWaker;
use bytes::{Buf, Bytes};
use parking_lot::Mutex;
use tokio::net::tcp::OwnedWriteHalf;

use super::frame::Frame;
use super::outbox::PushError;
use super::uring;

/// How many queued chunks one vectored write hands to the kernel.
const MAX_IOVECS: usize = 64;

/// Up to this many writers, `FlushQueue::release` flushes on the releasing thread.
const INLINE_FLUSH_MAX: usize = 256;

struct State {
    chunks: VecDeque<Bytes>,
    bytes: usize,
    /// Frames were queued for a flush that has not run yet (a broadcast, or the replies of a batch
    /// JS is dispatching).
    flush_owed: bool,
    /// `flush_all` is sending the front chunks from outside the lock: nobody else writes, and
    /// those chunks stay where they are until it is done.
    in_flight: bool,
    /// No more frames are accepted; the close frame is already queued.
    closing: bool,
    /// The socket failed; nothing more can be written.
    broken: bool,
}

impl State {
    /// Nothing queued and nothing about to be written: a new frame may be written at once.
    fn is_idle(&self) -> bool {
        self.chunks.is_empty() && !self.flush_owed && !self.in_flight
    }

    /// The socket refused frames that still wait for it to drain.
    fn is_backlogged(&self) -> bool {
        !self.chunks.is_empty() && !self.flush_owed && !self.in_flight
    }
}

pub struct WsWriter {
    stream: OwnedWriteHalf,
    state: Mutex<State>,
    /// Wakes the connection's task: the socket needs it, or the session ended.
    signal: Signal,
    limit: usize,
}

/// What the connection's task is woken for besides reading; polled on every wake-up of that
/// task, so an atomic load instead of a lock.
#[derive(Default)]
struct Signal {
    bits: AtomicU8,
    task: AtomicWaker,
}

/// The socket needs the connection's task: a backlog to wait out, or the socket failed.
const SOCKET: u8 = 1;
const SESSION_ENDED: u8 = 2;

impl Signal {
    fn raise(&self, bit: u8) {
        self.bits.fetch_or(bit, Ordering::AcqRel);
        self.task.wake();
    }

    /// Waits for a raised bit and takes the socket's (the session's end stays raised).
    async fn wait(&self) -> u8 {
        std::future::poll_fn(|cx| {
            self.task.register(cx.waker());
            match self.bits.fetch_and(!SOCKET, Ordering::AcqRel) {
                0 => Poll::Pending,
                bits => Poll::Ready(bits),
            }
        })
        .await
    }
}

/// What `queue` left to do.
pub enum Queued {
    /// Written or handed to the connection's task: nothing for the caller to do.
    Done,
    /// Queued without writing: the caller must `flush` this writer (after its other recipients).
    NeedsFlush,
}

impl WsWriter {
    pub fn new(stream: OwnedWriteHalf, limit: usize) -> Self {
        Self {
            stream,
            state: Mutex::new(State {
                chunks: VecDeque::new(),
                bytes: 0,
                flush_owed: false,
                in_flight: false,
                closing: false,
                broken: false,
            }),
            signal: Signal::default(),
            limit,
        }
    }

    /// Writes `frames` now if the socket takes them, queuing the rest.
    pub fn send<'a>(
        &self,
        frames: impl IntoIterator<Item = &'a Frame>,
        volatile: bool,
    ) -> Result<(), PushError> {
        self.send_after(Bytes::new(), frames, volatile)
    }

    /// `send`, with `head` (raw bytes: an HTTP response) written first, in the same write.
    pub fn send_after<'a>(
        &self,
        head: Bytes,
        frames: impl IntoIterator<Item = &'a Frame>,
        volatile: bool,
    ) -> Result<(), PushError> {
        let mut state = self.state.lock();
        let idle = state.is_idle();
        if !head.is_empty() {
            state.bytes += head.len();
            state.chunks.push_back(head);
        }
        self.enqueue(&mut state, frames, volatile)?;
        if idle {
            self.write_now(&mut state);
        }
        Ok(())
    }

    /// Queues `frames` without writing; see `Queued`.
    pub fn queue<'a>(
        &self,
        frames: impl IntoIterator<Item = &'a Frame>,
        volatile: bool,
    ) -> Result<Queued, PushError> {
        let mut state = self.state.lock();
        let idle = self.enqueue(&mut state, frames, volatile)?;
        if idle {
            state.flush_owed = true;
            return Ok(Queued::NeedsFlush);
        }
        Ok(Queued::Done)
    }

    /// Writes what `queue` left behind in several writers at once: their sends are submitted
    /// together (see `uring`), `BATCH` sockets per system call; whatever a socket does not take
    /// is written the usual way (its task waits for it to drain).
    pub fn flush_all(writers: &[Arc<WsWriter>]) {
        for group in writers.chunks(uring::BATCH) {
            Self::flush_group(group);
        }
    }

    fn flush_group(group: &[Arc<WsWriter>]) {
        let mut sending = Vec::with_capacity(group.len());
        let mut slices = Vec::new();
        for writer in group {
            let mut state = writer.state.lock();
            state.flush_owed = false;
            if state.in_flight || state.broken {
                continue;
            }
            if state.chunks.is_empty() {
                writer.write_now(&mut state); // a close frame already out: the shutdown
                continue;
            }
            state.in_flight = true;
            let first = slices.len();
            slices.extend(state.chunks.iter().take(MAX_IOVECS).map(|chunk| {
                // SAFETY (of the later use): while `in_flight`, no one advances, drops or
                // replaces the front chunks, and `writer` (which owns them) is kept alive by
                // `group` until the sends completed.
                IoSlice::new(unsafe { std::slice::from_raw_parts(chunk.as_ptr(), chunk.len()) })
            }));
            sending.push((writer, first..slices.len()));
        }
        let sends: Vec<uring::Send> = sending
            .iter()
            .map(|(writer, range)| uring::Send {
                fd: writer.fd(),
                slices: &slices[range.clone()],
            })
            .collect();
        let results = uring::send_all(&sends);
        for (index, (writer, _)) in sending.iter().enumerate() {
            let mut state = writer.state.lock();
            state.in_flight = false;
            if let Some(Ok(written)) = results.as_ref().map(|results| &results[index]) {
                advance(&mut state, *written);
            }
            // The rest, a first attempt without io_uring, or the error seen the usual way.
            writer.write_now(&mut state);
        }
    }

    fn fd(&self) -> std::os::fd::RawFd {
        let stream: &tokio::net::TcpStream = self.stream.as_ref();
        stream.as_raw_fd()
    }

    /// Queues a control frame (a pong, a close reply) and writes it if it can.
    pub fn send_control(&self, frame: Bytes) {
        let mut state = self.state.lock();
        if state.broken || state.closing {
            return;
        }
        let idle = state.is_idle();
        state.bytes += frame.len();
        state.chunks.push_back(frame);
        if idle {
            self.write_now(&mut state);
        }
    }

    /// Accepts nothing more; queues `close_frame` after what is already queued.
    pub fn close(&self, close_frame: Bytes) {
        let mut state = self.state.lock();
        if state.closing || state.broken {
            return;
        }
        state.closing = true;
        let idle = state.is_idle();
        state.chunks.push_back(close_frame);
        if idle {
            self.write_now(&mut state);
        }
    }

    /// True when nothing waits to be written (`conn.transport.writable`).
    pub fn is_idle(&self) -> bool {
        let state = self.state.lock();
        state.chunks.is_empty() && !state.broken && !state.closing
    }

    /// Returns true when the queue was idle, i.e. the caller should write (or flush) now.
    fn enqueue<'a>(
        &self,
        state: &mut State,
        frames: impl IntoIterator<Item = &'a Frame>,
        volatile: bool,
    ) -> Result<bool, PushError> {
        if state.broken || state.closing {
            return Err(PushError::Closed);
        }
        let idle = state.is_idle();
        // Volatile means "unless the client is behind": frames waiting for a flush that is
        // already due are no backlog.
        if volatile && state.is_backlogged() {
            return Err(PushError::Dropped);
        }
        let (chunks_before, bytes_before) = (state.chunks.len(), state.bytes);
        for frame in frames {
            state.bytes += frame.wire().len();
            state.chunks.push_back(frame.wire().clone());
        }
        // The limit bounds a backlog: one message larger than the limit may still go to a
        // client that keeps up. A volatile packet that does not fit is dropped instead.
        if bytes_before > 0 && state.bytes > self.limit {
            if volatile {
                state.chunks.truncate(chunks_before);
                state.bytes = bytes_before;
                return Err(PushError::Dropped);
            }
            return Err(PushError::Overflow);
        }
        Ok(idle)
    }

    /// Writes as much as the socket takes without blocking; wakes the task for the rest.
    fn write_now(&self, state: &mut State) {
        while !state.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = state.chunks.len().min(MAX_IOVECS);
            for (slice, chunk) in slices.iter_mut().zip(state.chunks.iter()) {
                *slice = IoSlice::new(chunk);
            }
            let result = send_vectored(&self.stream, &slices[..count]);
            match result {
                Ok(written) => advance(state, written),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.signal.raise(SOCKET);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    state.broken = true;
                    state.chunks.clear();
                    state.bytes = 0;
                    self.signal.raise(SOCKET);
                    return;
                }
            }
        }
        if state.closing {
            shutdown_write(&self.stream);
        }
    }

    /// The connection task's part: waits for the socket to drain whatever `write_now` could not
    /// write. Returns when the socket failed, the close frame went out or the session ended.
    pub async fn run(&self) {
        loop {
            if self.signal.wait().await & SESSION_ENDED != 0 || !self.drain().await {
                return;
            }
        }
    }

    /// Tells the connection's task that the session ended: `run` returns.
    pub fn end_session(&self) {
        self.signal.raise(SESSION_ENDED);
    }

    /// Waits until the close frame (and all before it) is written, or the socket failed.
    pub async fn closed(&self) {
        self.drain().await;
    }

    /// Writes the queue out, waiting for the socket whenever it is full. Stops early (true) when a
    /// broadcast still owes the flush; false once the socket failed or the close frame went out.
    async fn drain(&self) -> bool {
        loop {
            {
                let mut state = self.state.lock();
                if state.broken {
                    return false;
                }
                // A batch in flight writes the rest itself and wakes this task if it must wait.
                if state.in_flight || (state.flush_owed && !state.closing) {
                    return true;
                }
                self.write_now(&mut state);
                if state.broken || (state.closing && state.chunks.is_empty()) {
                    return false;
                }
                if state.chunks.is_empty() {
                    return true;
                }
            }
            if self.stream.writable().await.is_err() {
                self.state.lock().broken = true;
                return false;
            }
        }
    }
}

/// Writers with frames queued by broadcasts, flushed together by one task: broadcasts issued
/// before that task runs share its writes, so a busy socket gets several frames per syscall.
/// The flush also waits for the code that may broadcast next: while held (JS is dispatching a
/// batch of events) it does not start, and when it would start while `defer` says more events
/// are on their way to JS, it waits for their batch to be dispatched. Each write wakes the
/// peer, so a burst of broadcasts costs a fraction of the syscalls; the wait is at most one
/// dispatch of the batch that is already queued.
pub struct FlushQueue {
    pending: Mutex<Pending>,
    /// Between `hold` and `release`: JS is running the handlers of a batch. Read on every reply
    /// JS sends, so kept outside the lock.
    dispatching: AtomicBool,
    defer: Box<dyn Fn() -> bool + Send + Sync>,
}

#[derive(Default)]
struct Pending {
    writers: Vec<Arc<WsWriter>>,
    held: bool,
    scheduled: bool,
    /// The pending flush already waited once for a dispatch; it does not wait again.
    deferred: bool,
}

impl FlushQueue {
    pub fn new(defer: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        Self {
            pending: Mutex::default(),
            dispatching: AtomicBool::new(false),
            defer: Box::new(defer),
        }
    }

    pub fn add(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        writers: impl IntoIterator<Item = Arc<WsWriter>>,
    ) {
        let mut pending = self.pending.lock();
        pending.writers.extend(writers);
        self.schedule(&mut pending, runtime);
    }

    pub fn hold(&self) {
        self.pending.lock().held = true;
        self.dispatching.store(true, Ordering::Release);
    }

    /// True while a batch is being dispatched: what its handlers send can join its flush.
    pub fn is_dispatching(&self) -> bool {
        self.dispatching.load(Ordering::Acquire)
    }

    /// Ends a dispatch. A flush small enough (the replies of a batch of handlers) is written
    /// here, on the releasing thread: handing it to a task would cost a thread wake-up per
    /// batch, which on a shared core breaks the batches up. A broadcast's thousand recipients
    /// go to the task, off the Node thread.
    pub fn release(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        let writers = {
            let mut pending = self.pending.lock();
            pending.held = false;
            self.dispatching.store(false, Ordering::Release);
            if pending.scheduled || pending.writers.len() > INLINE_FLUSH_MAX {
                self.schedule(&mut pending, runtime);
                return;
            }
            match self.take_unless_deferred(&mut pending) {
                Some(writers) => writers,
                None => return,
            }
        };
        WsWriter::flush_all(&writers);
    }

    fn schedule(self: &Arc<Self>, pending: &mut Pending, runtime: &tokio::runtime::Handle) {
        if pending.held || pending.scheduled || pending.writers.is_empty() {
            return;
        }
        pending.scheduled = true;
        let queue = self.clone();
        runtime.spawn(async move {
            let writers = {
                let mut pending = queue.pending.lock();
                pending.scheduled = false;
                match queue.take_unless_deferred(&mut pending) {
                    Some(writers) => writers,
                    None => return,
                }
            };
            WsWriter::flush_all(&writers);
        });
    }

    /// The writers to flush now, or none when the flush waits (once) for the dispatch of the
    /// events already on their way to JS; that dispatch ends with `release`.
    fn take_unless_deferred(&self, pending: &mut Pending) -> Option<Vec<Arc<WsWriter>>> {
        if !pending.deferred && (self.defer)() {
            pending.held = true;
            pending.deferred = true;
            return None;
        }
        pending.deferred = false;
        Some(std::mem::take(&mut pending.writers))
    }
}

/// A non-blocking vectored send. `sendmsg` rather than `writev`: a socket write through the
/// VFS (`writev`) costs a file-position lock and checks that sockets do not need, measurable when
/// a broadcast makes a thousand of these calls. The first attempt skips tokio's readiness check
/// (it costs as much again per call); only a full socket goes through `try_io`, which retries
/// once and clears tokio's readiness so that `writable()` waits for the socket to drain.
fn send_vectored(stream: &OwnedWriteHalf, slices: &[IoSlice]) -> io::Result<usize> {
    let stream: &tokio::net::TcpStream = stream.as_ref();
    match sendmsg(stream.as_raw_fd(), slices) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream
            .try_io(tokio::io::Interest::WRITABLE, || {
                sendmsg(stream.as_raw_fd(), slices)
            }),
        result => result,
    }
}

fn sendmsg(fd: std::os::fd::RawFd, slices: &[IoSlice]) -> io::Result<usize> {
    let message = uring::message_header(slices);
    // SAFETY: `message` points into `slices`, which outlives the call.
    let sent = unsafe { libc::sendmsg(fd, &message, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

fn advance(state: &mut State, mut written: usize) {
    state.bytes -= written;
    while written > 0 {
        let Some(front) = state.chunks.front_mut() else {
            return;
        };
        if written >= front.len() {
            written -= front.len();
            state.chunks.pop_front();
        } else {
            front.advance(written);
            written = 0;
        }
    }
}

/// Half-closes the connection once our close frame is out, as the websocket closing handshake
/// wants; the descriptor itself is closed when both halves drop.
fn shutdown_write(stream: &OwnedWriteHalf) {
    let stream: &tokio::net::TcpStream = stream.as_ref();
    // SAFETY: the descriptor is owned by `stream`, alive for this call; shutdown has no memory
    // effects.
    unsafe {
        libc::shutdown(stream.as_raw_fd(), libc::SHUT_WR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    async fn pair() -> (OwnedWriteHalf, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (_read, write) = server.into_split();
        (write, client)
    }

    #[tokio::test]
    async fn writes_frames_in_order_directly_and_through_flush() {
        let (server, mut client) = pair().await;
        server.writable().await.unwrap();
        let writer = Arc::new(WsWriter::new(server, 1 << 20));
        writer.send([&Frame::text("4a".into())], false).unwrap();
        assert!(matches!(
            writer.queue([&Frame::text("4b".into())], false),
            Ok(Queued::NeedsFlush)
        ));
        writer.send([&Frame::text("4c".into())], false).unwrap();
        WsWriter::flush_all(&[writer]);
        let mut got = vec![0u8; 12];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"\x81\x024a\x81\x024b\x81\x024c");
    }

    #[tokio::test]
    async fn a_held_flush_waits_for_release_and_defers_only_once() {
        let (server, mut client) = pair().await;
        server.writable().await.unwrap();
        let writer = Arc::new(WsWriter::new(server, 1 << 20));
        let events_waiting = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let queue = Arc::new(FlushQueue::new({
            let events_waiting = events_waiting.clone();
            move || events_waiting.load(std::sync::atomic::Ordering::SeqCst)
        }));
        let runtime = tokio::runtime::Handle::current();
        let queue_frame = |text: &str| {
            let Ok(Queued::NeedsFlush) = writer.queue([&Frame::text(text.into())], false) else {
                return;
            };
            queue.add(&runtime, [writer.clone()]);
        };

        queue.hold();
        queue_frame("4a");
        tokio::task::yield_now().await;
        assert!(!writer.is_idle(), "held: nothing is written");

        // Released while events still wait for JS: the flush waits for their dispatch once…
        queue.release(&runtime);
        tokio::task::yield_now().await;
        assert!(
            !writer.is_idle(),
            "deferred until the waiting events are dispatched"
        );
        queue_frame("4b");
        // …and the dispatch's release flushes, even if more events arrived meanwhile.
        queue.release(&runtime);
        let mut got = vec![0u8; 8];
        let within = std::time::Duration::from_secs(5);
        let read = tokio::time::timeout(within, client.read_exact(&mut got)).await;
        read.expect("flushed after the dispatch").unwrap();
        assert_eq!(got, b"\x81\x024a\x81\x024b");

        events_waiting.store(false, std::sync::atomic::Ordering::SeqCst);
        queue_frame("4c");
        let read = tokio::time::timeout(within, client.read_exact(&mut got[..4])).await;
        read.expect("flushed at once when no events wait").unwrap();
        assert_eq!(&got[..4], b"\x81\x024c");
    }

    #[tokio::test]
    async fn a_batch_flush_leaves_what_a_full_socket_refused_to_the_writer_task() {
        batch_flush_with_a_backlog().await;
    }

    #[tokio::test]
    async fn a_batch_flush_without_io_uring_sends_one_socket_at_a_time() {
        uring::disable_on_this_thread();
        batch_flush_with_a_backlog().await;
    }

    /// Flushes three writers each queued more than a socket buffer takes; every byte must
    /// arrive, in order.
    async fn batch_flush_with_a_backlog() {
        let mut writers = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..3 {
            let (server, client) = pair().await;
            server.writable().await.unwrap();
            writers.push(Arc::new(WsWriter::new(server, 64 << 20)));
            clients.push(client);
        }
        // More than a socket buffer takes at once: the rest waits for the reader.
        let big = Frame::binary(&vec![7u8; 4 << 20]);
        for writer in &writers {
            let queued = writer.queue([&big, &Frame::text("4end".into())], false);
            assert!(matches!(queued, Ok(Queued::NeedsFlush)));
        }
        WsWriter::flush_all(&writers);
        for writer in &writers {
            let writer = writer.clone();
            tokio::spawn(async move { writer.run().await });
        }
        let expected = big.wire().len() + 6;
        for mut client in clients {
            let mut got = vec![0u8; expected];
            let within = std::time::Duration::from_secs(10);
            let read = tokio::time::timeout(within, client.read_exact(&mut got)).await;
            read.expect("everything arrives").unwrap();
            assert_eq!(&got[expected - 6..], b"\x81\x044end");
        }
    }

    #[tokio::test]
    async fn a_small_flush_is_written_by_release_itself() {
        let (server, mut client) = pair().await;
        server.writable().await.unwrap();
        let writer = Arc::new(WsWriter::new(server, 1 << 20));
        let queue = Arc::new(FlushQueue::new(|| false));
        let runtime = tokio::runtime::Handle::current();
        queue.hold();
        assert!(queue.is_dispatching());
        let Ok(Queued::NeedsFlush) = writer.queue([&Frame::text("43".into())], false) else {
            panic!("an idle writer needs the flush");
        };
        queue.add(&runtime, [writer.clone()]);
        queue.release(&runtime);
        assert!(!queue.is_dispatching());
        assert!(writer.is_idle(), "written before release returned");
        let mut got = [0u8; 4];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x81\x0243");
    }

    #[tokio::test]
    async fn a_reader_that_stops_makes_a_backlog_that_overflows() {
        let (server, _client) = pair().await;
        server.writable().await.unwrap();
        let writer = WsWriter::new(server, 256 * 1024);
        let big = Frame::text("4".repeat(64 * 1024));
        let mut result = Ok(());
        for _ in 0..10_000 {
            result = writer.send([&big], false);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(PushError::Overflow));
        assert_eq!(writer.send([&big], true), Err(PushError::Dropped));
    }
}

//! The io_uring driver, preferred where the kernel has what it needs (6.1+).
//!
//! Every socket carries one multishot receive into a ring of provided buffers, and the ring runs
//! its work only when we wait on it (`DEFER_TASKRUN`): all the sockets that became readable since
//! the last wait are read inside that one `io_uring_enter`, instead of an `epoll_wait` plus one
//! `recv` system call per socket. Entering the kernel is expensive on this VM, and the epoll
//! bookkeeping itself was a sixth of the generator's time. Sends stay direct `send` calls: an
//! echo request goes out the moment its ack is seen, as before.

use super::{Conns, Event, Op, State};
use io_uring::{cqueue, opcode, types, IoUring};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

const SQ_ENTRIES: u32 = 4096;
/// Room for a few completions per socket of a 10k run between two waits; more would not be lost
/// (the kernel keeps overflow), only slower.
const CQ_ENTRIES: u32 = 16384;
/// Provided buffers: one per completion, so a wait that reads 1000 sockets uses 1000 of them.
/// When they run out, a socket's receive stops with `ENOBUFS` and is armed again.
const BUFS: u16 = 4096;
const BUF_SIZE: usize = 4096;
const BGID: u16 = 0;

/// `user_data`: the connection id above the request kind.
const RECV: u64 = 0;
const POLL: u64 = 1;
const STDIN: u64 = 2;
const CANCEL: u64 = 3;

fn user_data(id: usize, kind: u64) -> u64 {
    (id as u64) << 2 | kind
}

#[derive(PartialEq)]
enum StdinWatch {
    Off,
    Wanted,
    Armed,
}

pub struct Uring {
    ring: IoUring,
    /// The provided-buffer ring's entries, page aligned as the kernel requires.
    entries: *mut types::BufRingEntry,
    tail: u16,
    bufs: Vec<u8>,
    /// Completions copied out of the ring, so requests can be queued while handling them.
    cqes: Vec<(u64, i32, u32)>,
    /// Per connection: a POLLOUT request (connect or writable) is under way.
    polling: Vec<bool>,
    stdin: StdinWatch,
}

fn entries_layout() -> Layout {
    Layout::from_size_align(
        usize::from(BUFS) * std::mem::size_of::<types::BufRingEntry>(),
        4096,
    )
    .unwrap()
}

impl Uring {
    pub fn new() -> io::Result<Uring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(CQ_ENTRIES)
            .build(SQ_ENTRIES)?;
        // SAFETY: a non-zero-sized layout.
        let entries = unsafe { alloc_zeroed(entries_layout()) }.cast::<types::BufRingEntry>();
        if entries.is_null() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        // SAFETY: `entries` holds BUFS entries and lives until `Drop` unregisters it.
        let registered = unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, BUFS, BGID, 0)
        };
        if let Err(e) = registered {
            // SAFETY: allocated above with this layout, never shared.
            unsafe { dealloc(entries.cast(), entries_layout()) };
            return Err(e);
        }
        let mut u = Uring {
            ring,
            entries,
            tail: 0,
            bufs: vec![0; usize::from(BUFS) * BUF_SIZE],
            cqes: Vec::new(),
            polling: Vec::new(),
            stdin: StdinWatch::Off,
        };
        for bid in 0..BUFS {
            u.provide(bid);
        }
        u.publish();
        Ok(u)
    }

    /// Hands buffer `bid` back to the kernel (visible at the next `publish`).
    fn provide(&mut self, bid: u16) {
        let addr = self.bufs.as_mut_ptr() as u64 + u64::from(bid) * BUF_SIZE as u64;
        // SAFETY: the index is masked into the ring's BUFS entries; the kernel reads only the
        // entries between its head and the published tail, and this one is past the tail.
        let e = unsafe { &mut *self.entries.add(usize::from(self.tail & (BUFS - 1))) };
        e.set_addr(addr);
        e.set_len(BUF_SIZE as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field lives in the ring's first entry, which the kernel reads
        // atomically; the release store publishes the entries written before it.
        unsafe {
            let tail = types::BufRingEntry::tail(self.entries).cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    fn push(&mut self, sqe: io_uring::squeue::Entry) {
        // SAFETY: the requests reference no memory of ours but the provided buffers, which live
        // as long as the ring.
        while unsafe { self.ring.submission().push(&sqe) }.is_err() {
            self.ring.submit().expect("io_uring submit");
        }
    }

    /// A connect is under way on `fd`: its completion shows as POLLOUT.
    pub fn connecting(&mut self, fd: RawFd, id: usize) {
        if self.polling.len() <= id {
            self.polling.resize(id + 1, false);
        }
        self.poll_out(fd, id);
    }

    fn poll_out(&mut self, fd: RawFd, id: usize) {
        self.polling[id] = true;
        let sqe = opcode::PollAdd::new(types::Fd(fd), libc::POLLOUT as u32).build();
        self.push(sqe.user_data(user_data(id, POLL)));
    }

    fn arm_recv(&mut self, fd: RawFd, id: usize) {
        let sqe = opcode::RecvMulti::new(types::Fd(fd), BGID).build();
        self.push(sqe.user_data(user_data(id, RECV)));
    }

    pub fn watch_stdin(&mut self) {
        self.stdin = StdinWatch::Wanted;
    }

    /// Queues what the connection logic asked for since the last wait.
    fn apply(&mut self, conns: &mut Conns) {
        if self.stdin == StdinWatch::Wanted {
            self.stdin = StdinWatch::Armed;
            let sqe = opcode::PollAdd::new(types::Fd(0), libc::POLLIN as u32).build();
            self.push(sqe.user_data(user_data(0, STDIN)));
        }
        let mut ops = conns.ops.take().unwrap_or_default();
        for op in ops.drain(..) {
            match op {
                Op::Writable(id) => {
                    if let Some(fd) = conns.list[id].fd.as_ref().map(|f| f.as_raw_fd()) {
                        if !self.polling[id] {
                            self.poll_out(fd, id);
                        }
                    }
                }
                Op::Cancel(id) => {
                    let cancel = opcode::AsyncCancel::new(user_data(id, RECV)).build();
                    self.push(cancel.user_data(user_data(id, CANCEL)));
                    if self.polling[id] {
                        let cancel = opcode::AsyncCancel::new(user_data(id, POLL)).build();
                        self.push(cancel.user_data(user_data(id, CANCEL)));
                    }
                }
            }
        }
        conns.ops = Some(ops);
    }

    pub fn wait<F>(&mut self, conns: &mut Conns, timeout: Option<Duration>, on: &mut F) -> bool
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        self.apply(conns);
        let entered = match timeout {
            Some(t) => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submit_and_wait(1),
        };
        if let Err(e) = entered {
            // ETIME: the timeout passed; EBUSY: completions overflowed and are being read.
            let benign = [libc::ETIME, libc::EINTR, libc::EBUSY];
            assert!(
                e.raw_os_error().is_some_and(|c| benign.contains(&c)),
                "io_uring_enter: {e}"
            );
        }
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        let mut stdin = false;
        for &(ud, res, flags) in &cqes {
            let id = (ud >> 2) as usize;
            match ud & 3 {
                RECV => self.received(conns, id, res, flags, on),
                POLL => {
                    self.polling[id] = false;
                    self.writable(conns, id, on);
                }
                STDIN => {
                    // One-shot: armed again if the caller keeps waiting.
                    self.stdin = StdinWatch::Wanted;
                    stdin = true;
                }
                _ => {}
            }
        }
        cqes.clear();
        self.cqes = cqes;
        self.publish();
        stdin
    }

    fn received<F>(&mut self, conns: &mut Conns, id: usize, res: i32, flags: u32, on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        if let Some(bid) = cqueue::buffer_select(flags) {
            if res > 0 && conns.list[id].state != State::Closed {
                let at = usize::from(bid) * BUF_SIZE;
                conns.consume(id, &self.bufs[at..at + res as usize], on);
            }
            self.provide(bid);
        }
        if cqueue::more(flags) {
            return;
        }
        let Some(fd) = conns.list[id].fd.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        match res {
            0 => conns.lose(id, "closed".into(), on),
            // The request ended (out of buffers, or the kernel's choice), not the connection.
            r if r > 0 || r == -libc::ENOBUFS || r == -libc::EINTR => self.arm_recv(fd, id),
            r => {
                let e = io::Error::from_raw_os_error(-r);
                conns.lose(id, format!("read: {e}"), on);
            }
        }
    }

    fn writable<F>(&mut self, conns: &mut Conns, id: usize, on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        match conns.list[id].state {
            State::Closed => {}
            State::Connecting => {
                conns.tcp_connected(id, on);
                if conns.list[id].state == State::Upgrading {
                    let fd = conns.list[id].fd.as_ref().unwrap().as_raw_fd();
                    self.arm_recv(fd, id);
                }
            }
            _ => {
                if let Err(e) = conns.write(id) {
                    conns.lose(id, format!("write: {e}"), on);
                }
            }
        }
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        // The kernel must stop using the entries before they are freed.
        let _ = self.ring.submitter().unregister_buf_ring(BGID);
        // SAFETY: allocated in `new` with this layout; unregistered above.
        unsafe { dealloc(self.entries.cast(), entries_layout()) };
    }
}

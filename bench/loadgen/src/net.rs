//! All of the generator's connections in one epoll loop on the calling thread.
//!
//! The generator is pinned to one core and has to stay far below it, so a message costs what the
//! kernel charges (one `recv`, and a share of the `epoll_wait` that found its socket ready) and a
//! few hundred nanoseconds of parsing: no task wake-up, waker or framework buffer per message. Sockets are edge-triggered; a ready
//! socket is read into one scratch buffer shared by all of them until a short read says it is
//! drained, and frames are handed to the scenario's callback straight from there. A connection
//! keeps bytes only while a frame is split across reads.
//!
//! The handshake (TCP connect, websocket upgrade, engine.io open `0{…}`, socket.io `40` →
//! `40{"sid"…}`) is a state machine in the same loop, so the connect scenario is measured with
//! the same cheap path. engine.io pings `2` and websocket pings are answered here.

use crate::ws;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// What a connection reports to the scenario.
pub enum Event<'a> {
    /// The handshake completed (`40{"sid"…}` received); it started with the TCP connect at
    /// `started`.
    Connected { started: Instant },
    /// A text frame other than a ping or a close.
    Text(&'a [u8]),
    /// The handshake did not complete; the connection is gone.
    Failed(String),
    /// An established connection is gone.
    Closed(String),
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Connecting,
    Upgrading,
    Opening,
    Joining,
    Open,
    Closed,
}

struct Conn {
    fd: Option<OwnedFd>,
    state: State,
    port: u16,
    started: Instant,
    /// An incomplete frame (or response head) until the rest arrives; empty, unallocated, most
    /// of the time.
    partial: Vec<u8>,
    /// What the socket did not take yet; written when it is writable again.
    unsent: Vec<u8>,
}

/// The connections, as the scenario's callback may use them: to send, mostly.
pub struct Conns {
    list: Vec<Conn>,
    rng: u64,
}

/// epoll's `u64` for the stdin watch; connection ids are indices, far below it.
const STDIN_TOKEN: u64 = u64::MAX;
/// Sockets taken per `epoll_wait`: one broadcast to 1000 clients fits.
const MAX_EVENTS: usize = 1024;
/// The read buffer all connections share: any number of small frames, or a large one, per `recv`.
const SCRATCH: usize = 64 << 10;

pub struct Net {
    ep: OwnedFd,
    conns: Conns,
    events: Vec<libc::epoll_event>,
    scratch: Vec<u8>,
    /// Connections in their handshake, oldest first (they all get the same timeout); finished
    /// ones are skipped when they reach the front.
    handshakes: VecDeque<usize>,
    timeout: Duration,
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

impl Net {
    /// `timeout` bounds each handshake, from the TCP connect to `40{"sid"…}`.
    pub fn new(timeout: Duration) -> Net {
        // SAFETY: epoll_create1 returns a new descriptor we own, or -1.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0, "epoll_create1: {}", errno());
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32;
        Net {
            // SAFETY: `ep` is a fresh descriptor nobody else owns.
            ep: unsafe { OwnedFd::from_raw_fd(ep) },
            conns: Conns {
                list: Vec::new(),
                rng: seed | 1,
            },
            events: vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS],
            scratch: vec![0; SCRATCH],
            handshakes: VecDeque::new(),
            timeout,
        }
    }

    /// Connection ids are `0..len()`, in the order they were dialed.
    pub fn len(&self) -> usize {
        self.conns.list.len()
    }

    /// Starts a connection's handshake; its outcome arrives as `Connected` or `Failed`.
    pub fn dial(&mut self, port: u16) -> Result<(), String> {
        let started = Instant::now();
        let fd = open_socket(port).map_err(|e| format!("tcp connect: {e}"))?;
        let id = self.conns.list.len();
        let interest = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        self.register(fd.as_raw_fd(), interest as u32, id as u64)
            .map_err(|e| format!("epoll_ctl: {e}"))?;
        self.conns.list.push(Conn {
            fd: Some(fd),
            state: State::Connecting,
            port,
            started,
            partial: Vec::new(),
            unsent: Vec::new(),
        });
        self.handshakes.push_back(id);
        Ok(())
    }

    fn register(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: both descriptors are open; `ev` outlives the call.
        let r = unsafe { libc::epoll_ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if r < 0 {
            return Err(errno());
        }
        Ok(())
    }

    /// Makes `poll` report stdin's readability. False when stdin cannot be watched (a regular
    /// file or /dev/null, which a blocking read would finish at once anyway).
    pub fn watch_stdin(&mut self) -> bool {
        self.register(0, libc::EPOLLIN as u32, STDIN_TOKEN).is_ok()
    }

    pub fn conns(&mut self) -> &mut Conns {
        &mut self.conns
    }

    /// Waits until some socket is ready or `deadline` (or a handshake's timeout) passes, then
    /// handles every ready socket, calling `on` for what the scenario must know. Returns whether
    /// stdin (see `watch_stdin`) is readable.
    pub fn poll<F>(&mut self, deadline: Option<Instant>, on: &mut F) -> bool
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        let wake = match (deadline, self.next_handshake_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout_ms = wake.map_or(-1, |t| {
            let left = t.saturating_duration_since(Instant::now());
            // Round up: waking a little early would only spin until the deadline.
            left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
        });
        // SAFETY: `events` has room for MAX_EVENTS entries.
        let n = unsafe {
            libc::epoll_wait(
                self.ep.as_raw_fd(),
                self.events.as_mut_ptr(),
                MAX_EVENTS as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = errno();
            assert!(e.kind() == io::ErrorKind::Interrupted, "epoll_wait: {e}");
            return false;
        }
        let mut stdin = false;
        for i in 0..n as usize {
            let ev = self.events[i];
            let (bits, token) = (ev.events, ev.u64);
            if token == STDIN_TOKEN {
                stdin = true;
            } else {
                self.ready(token as usize, bits as i32, on);
            }
        }
        self.expire_handshakes(on);
        stdin
    }

    fn next_handshake_deadline(&mut self) -> Option<Instant> {
        while let Some(&id) = self.handshakes.front() {
            let c = &self.conns.list[id];
            if c.state != State::Open && c.state != State::Closed {
                return Some(c.started + self.timeout);
            }
            self.handshakes.pop_front();
        }
        None
    }

    fn expire_handshakes<F>(&mut self, on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        let now = Instant::now();
        while let Some(at) = self.next_handshake_deadline() {
            if at > now {
                break;
            }
            let id = self.handshakes.pop_front().unwrap();
            self.conns.lose(id, "handshake timeout".into(), on);
        }
    }

    fn ready<F>(&mut self, id: usize, bits: i32, on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        let conns = &mut self.conns;
        match conns.list[id].state {
            State::Closed => {}
            State::Connecting => {
                if bits & (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) != 0 {
                    conns.tcp_connected(id, on);
                }
            }
            _ => {
                if bits & libc::EPOLLOUT != 0 && !conns.list[id].unsent.is_empty() {
                    if let Err(e) = conns.write(id) {
                        conns.lose(id, format!("write: {e}"), on);
                        return;
                    }
                }
                let readable = libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR;
                if bits & readable != 0 {
                    self.read(id, on);
                }
            }
        }
    }

    /// Reads until the socket is drained: edge-triggered, so no later event would come for
    /// bytes left behind; a short read means there are none (a new arrival brings a new edge).
    fn read<F>(&mut self, id: usize, on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        loop {
            let Some(fd) = self.conns.list[id].fd.as_ref().map(|f| f.as_raw_fd()) else {
                return;
            };
            // SAFETY: `scratch` is valid for its length; `fd` is open.
            let n =
                unsafe { libc::recv(fd, self.scratch.as_mut_ptr().cast(), self.scratch.len(), 0) };
            if n < 0 {
                let e = errno();
                match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    io::ErrorKind::Interrupted => continue,
                    _ => return self.conns.lose(id, format!("read: {e}"), on),
                }
            }
            if n == 0 {
                return self.conns.lose(id, "closed".into(), on);
            }
            let n = n as usize;
            self.conns.consume(id, &self.scratch[..n], on);
            if n < self.scratch.len() {
                return;
            }
        }
    }
}

impl Conns {
    /// Sends one text frame now (or as soon as the socket takes it). On an error the connection
    /// is closed and no event follows: the caller reports it.
    pub fn send_text(&mut self, id: usize, text: &[u8]) -> Result<(), String> {
        self.queue_text(id, text);
        self.flush(id)
    }

    /// Adds a text frame to what the next `flush` writes, so several frames share one system
    /// call.
    pub fn queue_text(&mut self, id: usize, text: &[u8]) {
        self.queue(id, ws::OP_TEXT, text);
    }

    /// xorshift64: a different mask per frame (and key per connection) for three instructions.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn queue(&mut self, id: usize, opcode: u8, payload: &[u8]) {
        let mask = (self.random() as u32).to_ne_bytes();
        ws::encode_frame(&mut self.list[id].unsent, opcode, payload, mask);
    }

    /// Writes what is queued; what the socket does not take waits for its next writable edge.
    /// On an error the connection is closed and no event follows: the caller reports it.
    pub fn flush(&mut self, id: usize) -> Result<(), String> {
        self.write(id).map_err(|e| {
            self.close(id);
            e.to_string()
        })
    }

    fn write(&mut self, id: usize) -> io::Result<()> {
        let c = &mut self.list[id];
        let Some(fd) = c.fd.as_ref().map(|f| f.as_raw_fd()) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        while !c.unsent.is_empty() {
            // SAFETY: `unsent` is valid for its length; `fd` is open. MSG_NOSIGNAL: a peer that
            // went away is an error to report, not a SIGPIPE.
            let n = unsafe {
                libc::send(
                    fd,
                    c.unsent.as_ptr().cast(),
                    c.unsent.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let e = errno();
                match e.kind() {
                    io::ErrorKind::WouldBlock => return Ok(()),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(e),
                }
            }
            c.unsent.drain(..n as usize);
        }
        Ok(())
    }

    fn close(&mut self, id: usize) {
        let c = &mut self.list[id];
        // Closing the descriptor also takes it out of the epoll set.
        c.fd = None;
        c.state = State::Closed;
        c.partial = Vec::new();
        c.unsent = Vec::new();
    }

    /// Closes the connection and tells the scenario.
    fn lose<F>(&mut self, id: usize, why: String, on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        if self.list[id].state == State::Closed {
            return;
        }
        let why = match (self.list[id].state, why.as_str()) {
            (State::Open, _) => Event::Closed(why),
            (_, "closed") => Event::Failed("closed during handshake".into()),
            _ => Event::Failed(why),
        };
        self.close(id);
        on(self, id, why);
    }

    fn tcp_connected<F>(&mut self, id: usize, on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        let fd = self.list[id].fd.as_ref().unwrap().as_raw_fd();
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are valid for the option's size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        let failure = if r < 0 {
            Some(errno())
        } else if err != 0 {
            Some(io::Error::from_raw_os_error(err))
        } else {
            None
        };
        if let Some(e) = failure {
            return self.lose(id, format!("tcp connect: {e}"), on);
        }
        let key = {
            let mut bytes = [0u8; 16];
            for chunk in bytes.chunks_mut(8) {
                chunk.copy_from_slice(&self.random().to_ne_bytes());
            }
            ws::client_key(bytes)
        };
        let c = &mut self.list[id];
        c.unsent.extend(ws::upgrade_request(c.port, &key));
        c.state = State::Upgrading;
        if let Err(e) = self.write(id) {
            self.lose(id, format!("ws upgrade: {e}"), on);
        }
    }

    /// Handles bytes read from connection `id`, joined to what was left of a split frame.
    fn consume<F>(&mut self, id: usize, data: &[u8], on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        if self.list[id].partial.is_empty() {
            let used = self.parse(id, data, on);
            if used < data.len() && self.list[id].state != State::Closed {
                self.list[id].partial.extend_from_slice(&data[used..]);
            }
            return;
        }
        let mut buf = std::mem::take(&mut self.list[id].partial);
        buf.extend_from_slice(data);
        let used = self.parse(id, &buf, on);
        if used < buf.len() && self.list[id].state != State::Closed {
            buf.drain(..used);
            self.list[id].partial = buf;
        }
    }

    /// Handles the complete frames at the start of `buf` (after the response head while
    /// upgrading); returns how many bytes they took.
    fn parse<F>(&mut self, id: usize, buf: &[u8], on: &mut F) -> usize
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        let mut at = 0;
        if self.list[id].state == State::Upgrading {
            match ws::parse_upgrade_response(buf) {
                Ok(None) => return 0,
                Ok(Some(head)) => {
                    at = head;
                    self.list[id].state = State::Opening;
                }
                Err(e) => {
                    self.lose(id, e, on);
                    return 0;
                }
            }
        }
        while self.list[id].state != State::Closed {
            match ws::parse_frame(&buf[at..]) {
                Ok(None) => break,
                Ok(Some(f)) => {
                    let payload = &buf[at + f.start..at + f.end];
                    at += f.end;
                    self.frame(id, f.opcode, payload, on);
                }
                Err(e) => self.lose(id, e, on),
            }
        }
        at
    }

    fn frame<F>(&mut self, id: usize, opcode: u8, payload: &[u8], on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        match opcode {
            ws::OP_TEXT => self.text(id, payload, on),
            ws::OP_PING => {
                self.queue(id, ws::OP_PONG, payload);
                if let Err(e) = self.write(id) {
                    self.lose(id, format!("pong: {e}"), on);
                }
            }
            ws::OP_CLOSE => self.lose(id, "closed".into(), on),
            _ => {}
        }
    }

    fn text<F>(&mut self, id: usize, t: &[u8], on: &mut F)
    where
        F: FnMut(&mut Conns, usize, Event<'_>),
    {
        if t == b"2" {
            self.queue_text(id, b"3");
            if let Err(e) = self.write(id) {
                self.lose(id, format!("pong: {e}"), on);
            }
            return;
        }
        let state = self.list[id].state;
        if state == State::Open {
            if t == b"1" || t == b"41" {
                let why = format!("server closed ({})", String::from_utf8_lossy(t));
                return self.lose(id, why, on);
            }
            return on(self, id, Event::Text(t));
        }
        if state == State::Opening && t.starts_with(b"0") {
            self.list[id].state = State::Joining;
            self.queue_text(id, b"40");
            if let Err(e) = self.write(id) {
                self.lose(id, format!("send 40: {e}"), on);
            }
        } else if state == State::Joining && t.starts_with(b"40") {
            self.list[id].state = State::Open;
            let started = self.list[id].started;
            on(self, id, Event::Connected { started });
        } else if t == b"1" || t == b"41" {
            let why = format!("closed during handshake ({})", String::from_utf8_lossy(t));
            self.lose(id, why, on);
        } else if t.starts_with(b"44") {
            let why = format!("connect refused: {}", String::from_utf8_lossy(t));
            self.lose(id, why, on);
        }
    }
}

/// A non-blocking TCP socket with its connect to 127.0.0.1:`port` under way.
fn open_socket(port: u16) -> io::Result<OwnedFd> {
    // SAFETY: plain socket calls on a descriptor we own from here on; the structs outlive them.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(errno());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        // Latency numbers must not include Nagle's delay on small frames.
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let r = libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if r < 0 {
            let e = errno();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        Ok(fd)
    }
}

/// After `poll` said stdin is readable: whether a whole line (or EOF) is there, which is what
/// releases a held run.
pub fn stdin_line_or_eof() -> bool {
    let mut buf = [0u8; 256];
    match io::stdin().lock().read(&mut buf) {
        Ok(0) | Err(_) => true,
        Ok(n) => buf[..n].contains(&b'\n'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::tests::{server_frame, unmask};
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    fn read_client_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        s.read_exact(&mut head).unwrap();
        assert!(head[1] & 0x7F < 126, "small frames only here");
        let mut rest = vec![0u8; 4 + (head[1] & 0x7F) as usize];
        s.read_exact(&mut rest).unwrap();
        unmask(&[&head[..], &rest].concat())
    }

    /// Runs the loop until a connection is gone, returning what the scenario saw.
    fn run(net: &mut Net) -> Vec<String> {
        let mut log = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !log.iter().any(|e: &String| e.starts_with("gone")) {
            net.poll(Some(deadline), &mut |conns: &mut Conns, id, ev| match ev {
                Event::Connected { .. } => log.push("connected".into()),
                Event::Text(t) => {
                    log.push(format!("text of {} bytes", t.len()));
                    conns.send_text(id, b"hello").unwrap();
                }
                Event::Failed(e) | Event::Closed(e) => log.push(format!("gone: {e}")),
            });
        }
        log
    }

    /// A server that checks the upgrade request and then splits, joins and pings the way the
    /// client must cope with.
    fn fake_server(listener: TcpListener) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                s.read_exact(&mut b).unwrap();
                head.push(b[0]);
            }
            let head = String::from_utf8(head).unwrap();
            assert!(head.starts_with("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"));
            assert!(head.contains("Sec-WebSocket-Version: 13\r\n"));
            // The 101 and the engine.io open packet in one segment.
            let mut out =
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
            out.extend(server_frame(ws::OP_TEXT, b"0{\"sid\":\"x\"}"));
            s.write_all(&out).unwrap();
            assert_eq!(read_client_frame(&mut s), (ws::OP_TEXT, b"40".to_vec()));
            // `40{"sid"…}` split across reads; the rest comes with both kinds of ping.
            let joined = server_frame(ws::OP_TEXT, b"40{\"sid\":\"y\"}");
            s.write_all(&joined[..5]).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            let mut rest = joined[5..].to_vec();
            rest.extend(server_frame(ws::OP_TEXT, b"2"));
            rest.extend(server_frame(ws::OP_PING, b"p"));
            s.write_all(&rest).unwrap();
            assert_eq!(read_client_frame(&mut s), (ws::OP_TEXT, b"3".to_vec()));
            assert_eq!(read_client_frame(&mut s), (ws::OP_PONG, b"p".to_vec()));
            // 16- and 64-bit lengths, the latter larger than any one read buffer.
            for len in [300, 70_000] {
                s.write_all(&server_frame(ws::OP_TEXT, &vec![b'z'; len]))
                    .unwrap();
                assert_eq!(read_client_frame(&mut s), (ws::OP_TEXT, b"hello".to_vec()));
            }
        })
    }

    #[test]
    fn handshake_leftover_bytes_pings_and_split_frames() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = fake_server(listener);
        let mut net = Net::new(Duration::from_secs(5));
        net.dial(port).unwrap();
        let log = run(&mut net);
        server.join().unwrap();
        let want = [
            "connected",
            "text of 300 bytes",
            "text of 70000 bytes",
            "gone: closed",
        ];
        assert_eq!(log, want.map(String::from));
    }

    #[test]
    fn refused_and_timed_out_handshakes_fail() {
        let mut net = Net::new(Duration::from_millis(100));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        net.dial(port).unwrap();
        let log = run(&mut net);
        assert!(log[0].starts_with("gone: tcp connect: "), "{log:?}");

        // A server that accepts (the kernel does) and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        net.dial(silent.local_addr().unwrap().port()).unwrap();
        assert_eq!(run(&mut net), ["gone: handshake timeout"]);
    }
}

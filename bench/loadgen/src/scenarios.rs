//! The three client scenarios. Each runs one `Net` loop on this thread: the scenario's state is
//! updated straight from the callback that sees a frame, and sends go out from there too.

use crate::hist::Hist;
use crate::net::{self, Conns, Event, Net};
use crate::{cpu_seconds, emit, Args};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// How long without progress before a run is declared stalled instead of hanging forever.
const STALL: Duration = Duration::from_secs(5);

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Error messages and how often each happened: a run reports them instead of dying on the first.
#[derive(Default)]
struct Errors(BTreeMap<String, u64>);

impl Errors {
    fn add(&mut self, e: String) {
        // Keep the map small if a server produces many distinct messages.
        if self.0.len() < 20 || self.0.contains_key(&e) {
            *self.0.entry(e).or_default() += 1;
        }
    }

    fn json(&self) -> String {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{}:{v}", json_str(k)))
            .collect();
        format!("{{{}}}", items.join(","))
    }
}

fn us(ns: u64) -> f64 {
    (ns as f64 / 1000.0 * 10.0).round() / 10.0
}

fn lat_json(prefix: &str, h: &Hist) -> String {
    format!(
        "\"{prefix}_p50_us\":{},\"{prefix}_p99_us\":{},\"{prefix}_max_us\":{},\"{prefix}_samples\":{}",
        us(h.quantile(0.5)),
        us(h.quantile(0.99)),
        us(h.max()),
        h.count()
    )
}

/// A measurement window: wall time and this process's CPU time over it.
struct Window {
    t0: Instant,
    cpu0: f64,
}

impl Window {
    fn start() -> Window {
        emit("{\"event\":\"measure_start\"}");
        Window {
            t0: Instant::now(),
            cpu0: cpu_seconds(),
        }
    }

    /// Ends the window and returns its JSON fields.
    fn end(self) -> (f64, String) {
        let secs = self.t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - self.cpu0;
        emit("{\"event\":\"measure_end\"}");
        (
            secs,
            format!(
                "\"window_s\":{:.3},\"loadgen_cpu_s\":{:.3},\"loadgen_cpu_util\":{:.3}",
                secs,
                cpu,
                cpu / secs.max(1e-9)
            ),
        )
    }
}

/// Keeps at most `concurrency` handshakes under way (a burst of 10k SYNs would only measure the
/// listen backlog), spreading the clients in turn over `ports` (several servers of a cluster; the
/// first client goes to the first).
struct Dialer<'a> {
    ports: &'a [u16],
    n: usize,
    concurrency: usize,
    dialed: usize,
    inflight: usize,
}

impl<'a> Dialer<'a> {
    fn new(ports: &'a [u16], n: usize, concurrency: usize) -> Self {
        Dialer {
            ports,
            n,
            concurrency: concurrency.max(1),
            dialed: 0,
            inflight: 0,
        }
    }

    /// Starts handshakes up to the limit; one that fails at once goes to `failed`.
    fn top_up(&mut self, net: &mut Net, mut failed: impl FnMut(String)) {
        while self.inflight < self.concurrency && self.dialed < self.n {
            let port = self.ports[self.dialed % self.ports.len()];
            self.dialed += 1;
            match net.dial(port) {
                Ok(()) => self.inflight += 1,
                Err(e) => failed(e),
            }
        }
    }

    /// A handshake under way ended, either way.
    fn finished(&mut self) {
        self.inflight -= 1;
    }
}

/// The clients whose handshake completed, in dial order, and those of them that closed again
/// before the scenario started.
struct Clients {
    ids: Vec<usize>,
    lost: Vec<(usize, String)>,
}

/// Connects `n` clients; failures are counted, not fatal.
fn connect_many(
    net: &mut Net,
    ports: &[u16],
    n: usize,
    concurrency: usize,
    errors: &mut Errors,
) -> Clients {
    let mut dialer = Dialer::new(ports, n, concurrency);
    let mut ids = Vec::with_capacity(n);
    let mut lost = Vec::new();
    let mut settled = 0;
    loop {
        dialer.top_up(net, |e| {
            settled += 1;
            errors.add(e);
        });
        if settled == n {
            break;
        }
        net.poll(None, &mut |_: &mut Conns, id, ev| match ev {
            Event::Connected { .. } => {
                dialer.finished();
                settled += 1;
                ids.push(id);
            }
            Event::Failed(e) => {
                dialer.finished();
                settled += 1;
                errors.add(e);
            }
            Event::Closed(why) => lost.push((id, why)),
            Event::Text(_) => {}
        });
    }
    ids.sort_unstable();
    Clients { ids, lost }
}

struct ConnectRun<'a> {
    dialer: Dialer<'a>,
    ok: usize,
    failed: usize,
    dropped: usize,
    hist: Hist,
    errors: Errors,
}

impl ConnectRun<'_> {
    fn top_up(&mut self, net: &mut Net) {
        let (failed, errors) = (&mut self.failed, &mut self.errors);
        self.dialer.top_up(net, |e| {
            *failed += 1;
            errors.add(e);
        });
    }

    /// One round of the loop, waiting at most until `until`; whether stdin is readable.
    fn step(&mut self, net: &mut Net, until: Instant) -> bool {
        let stdin = net.poll(Some(until), &mut |_: &mut Conns, _, ev| match ev {
            Event::Connected { started } => {
                self.dialer.finished();
                self.ok += 1;
                self.hist.record(started.elapsed().as_nanos() as u64);
            }
            Event::Failed(e) => {
                self.dialer.finished();
                self.failed += 1;
                self.errors.add(e);
            }
            Event::Closed(why) => {
                self.dropped += 1;
                self.errors.add(format!("idle connection: {why}"));
            }
            Event::Text(_) => {}
        });
        self.top_up(net);
        stdin
    }
}

/// connect N: connects/s and handshake latency, then N idle connections held for the RSS sample.
pub fn connect(port: u16, args: &Args) -> i32 {
    let n = args.required("n") as usize;
    let concurrency = args.num("concurrency", 64) as usize;
    let settle = args.ms("settle-ms", 2000);
    let hold_max = args.ms("hold-max-ms", 60_000);
    let timeout = args.ms("timeout-ms", 10_000);
    let deadline = args.ms("deadline-ms", 120_000);

    let mut net = Net::new(timeout);
    let ports = [port];
    let mut run = ConnectRun {
        dialer: Dialer::new(&ports, n, concurrency),
        ok: 0,
        failed: 0,
        dropped: 0,
        hist: Hist::new(),
        errors: Errors::default(),
    };
    let window = Window::start();
    let deadline = Instant::now() + deadline;
    run.top_up(&mut net);
    let mut timed_out = false;
    while run.ok + run.failed < n {
        if Instant::now() >= deadline {
            timed_out = true;
            break;
        }
        run.step(&mut net, deadline);
    }
    let (secs, window_json) = window.end();
    let (ok, failed) = (run.ok, run.failed);

    // Idle: pings are answered, drops counted, until the runner has sampled the server.
    let settled_at = Instant::now() + settle;
    while Instant::now() < settled_at {
        run.step(&mut net, settled_at);
    }
    let connected = ok.saturating_sub(run.dropped);
    emit(&format!(
        "{{\"event\":\"settled\",\"connected\":{connected}}}"
    ));
    // Hold until the runner has sampled the server (one line on stdin), EOF, or hold_max.
    let hold_end = Instant::now() + hold_max;
    if net.watch_stdin() {
        while Instant::now() < hold_end {
            if run.step(&mut net, hold_end) && net::stdin_line_or_eof() {
                break;
            }
        }
    }
    let held = ok.saturating_sub(run.dropped);
    emit(&format!(
        "{{\"type\":\"result\",\"scenario\":\"connect\",\"n\":{n},\"concurrency\":{concurrency},\"connected\":{ok},\"failed\":{failed},\"timed_out\":{timed_out},\"connects_per_s\":{:.1},{},{},\"held_after_settle\":{connected},\"held_at_end\":{held},\"dropped\":{},\"errors\":{}}}",
        ok as f64 / secs.max(1e-9),
        lat_json("handshake", &run.hist),
        window_json,
        run.dropped,
        run.errors.json()
    ));
    i32::from(failed > 0 || run.dropped > 0 || timed_out)
}

/// One broadcast still owed to some receivers.
struct Pending {
    sent: Instant,
    remaining: usize,
}

struct BState {
    /// Receivers still connected: a new broadcast is owed to each of them.
    live: usize,
    /// `pending[i]` is broadcast number `base + i`.
    base: u64,
    pending: VecDeque<Pending>,
    next_seq: u64,
    inflight: usize,
    measuring: bool,
    hist: Hist,
    deliveries: u64,
    completed: u64,
    unexpected: u64,
    last_progress: Instant,
}

impl BState {
    fn send_next(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push_back(Pending {
            sent: Instant::now(),
            remaining: self.live,
        });
        self.inflight += 1;
        seq
    }

    fn delivered(&mut self, seq: u64, now: Instant) {
        let Some(p) = seq
            .checked_sub(self.base)
            .and_then(|i| self.pending.get_mut(i as usize))
            .filter(|p| p.remaining > 0)
        else {
            self.unexpected += 1;
            return;
        };
        self.last_progress = now;
        if self.measuring {
            self.hist
                .record(now.duration_since(p.sent).as_nanos() as u64);
            self.deliveries += 1;
        }
        p.remaining -= 1;
        if p.remaining == 0 {
            self.finish_one();
        }
    }

    fn finish_one(&mut self) {
        self.inflight -= 1;
        if self.measuring {
            self.completed += 1;
        }
        while self.pending.front().is_some_and(|p| p.remaining == 0) {
            self.pending.pop_front();
            self.base += 1;
        }
    }

    /// A receiver went away after seeing broadcasts up to `last_seen`: it owes nothing newer.
    fn receiver_lost(&mut self, last_seen: Option<u64>) {
        self.live -= 1;
        let from = last_seen.map_or(0, |s| s + 1);
        for i in 0..self.pending.len() {
            let seq = self.base + i as u64;
            if seq >= from && self.pending[i].remaining > 0 {
                self.pending[i].remaining -= 1;
                if self.pending[i].remaining == 0 {
                    self.inflight -= 1;
                }
            }
        }
        while self.pending.front().is_some_and(|p| p.remaining == 0) {
            self.pending.pop_front();
            self.base += 1;
        }
    }
}

/// `42["msg","<seq>|xxx"]` → seq.
fn parse_msg_seq(t: &[u8]) -> Option<u64> {
    let rest = t.strip_prefix(b"42[\"msg\",\"")?;
    let end = rest.iter().position(|&b| b == b'|')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// The string argument of a broadcast: its sequence number, padded to `size` characters.
fn payload(seq: u64, size: usize) -> String {
    let mut s = format!("{seq}|");
    while s.len() < size {
        s.push('x');
    }
    s
}

/// The broadcast scenario's state as the frame callback sees it.
struct BroadcastRun {
    st: BState,
    sender: usize,
    sender_alive: bool,
    /// Per connection, the last broadcast it received.
    last: Vec<Option<u64>>,
    errors: Errors,
}

impl BroadcastRun {
    fn event(&mut self, id: usize, ev: Event<'_>) {
        match ev {
            Event::Text(t) => {
                if let Some(seq) = parse_msg_seq(t) {
                    self.last[id] = Some(seq);
                    self.st.delivered(seq, Instant::now());
                }
            }
            Event::Closed(why) => self.closed(id, why),
            Event::Connected { .. } | Event::Failed(_) => {}
        }
    }

    fn closed(&mut self, id: usize, why: String) {
        if id == self.sender {
            self.errors.add(format!("sender: {why}"));
            self.sender_alive = false;
        } else {
            self.errors.add(format!("receiver: {why}"));
        }
        self.st.receiver_lost(self.last[id]);
    }
}

#[derive(PartialEq)]
enum Phase {
    Warmup,
    Measure,
    Drain,
}

/// broadcast: socket 0 emits `bcast` with K broadcasts in flight; all N sockets (socket 0
/// included, as `io.emit` reaches the sender too) receive `msg`. With `--port2`, every other
/// socket is on that second server of the cluster.
pub fn broadcast(port: u16, args: &Args) -> i32 {
    let n = args.required("n") as usize;
    let size = args.required("payload") as usize;
    let k = args.num("inflight", 1).max(1) as usize;
    let warmup = args.ms("warmup-ms", 1000);
    let duration = args.ms("duration-ms", 5000);
    let concurrency = args.num("concurrency", 64) as usize;
    let timeout = args.ms("timeout-ms", 10_000);

    let mut errors = Errors::default();
    let ports: Vec<u16> = match args.num("port2", 0) {
        0 => vec![port],
        port2 => vec![port, port2 as u16],
    };
    let mut net = Net::new(timeout);
    let clients = connect_many(&mut net, &ports, n, concurrency, &mut errors);
    let connect_failed = n - clients.ids.len();
    if clients.ids.is_empty() {
        emit(&format!("{{\"type\":\"result\",\"scenario\":\"broadcast\",\"n\":{n},\"payload\":{size},\"inflight\":{k},\"connect_failed\":{connect_failed},\"errors\":{}}}", errors.json()));
        return 1;
    }
    emit(&format!(
        "{{\"event\":\"connected\",\"sockets\":{}}}",
        clients.ids.len()
    ));
    let mut run = BroadcastRun {
        st: BState {
            live: clients.ids.len(),
            base: 0,
            pending: VecDeque::new(),
            next_seq: 0,
            inflight: 0,
            measuring: false,
            hist: Hist::new(),
            deliveries: 0,
            completed: 0,
            unexpected: 0,
            last_progress: Instant::now(),
        },
        sender: clients.ids[0],
        sender_alive: true,
        last: vec![None; net.len()],
        errors,
    };
    for (id, why) in clients.lost {
        run.closed(id, why);
    }

    let mut phase = Phase::Warmup;
    let mut phase_end = Instant::now() + warmup;
    let mut window: Option<Window> = None;
    let mut result_window = (0.0, String::new());
    let mut stalled = false;
    let mut frame = String::new();
    loop {
        // Top up after every round of the loop: the broadcasts that completed in it are
        // replaced together, in one write.
        if phase != Phase::Drain && run.sender_alive && run.st.inflight < k {
            let conns = net.conns();
            while run.st.inflight < k {
                let seq = run.st.send_next();
                frame.clear();
                let _ = write!(frame, "42[\"bcast\",\"{}\"]", payload(seq, size));
                conns.queue_text(run.sender, frame.as_bytes());
            }
            if let Err(e) = conns.flush(run.sender) {
                run.errors.add(format!("send: {e}"));
                break;
            }
        }
        if phase == Phase::Drain && run.st.inflight == 0 {
            break;
        }
        let stall_at = (run.st.inflight > 0).then(|| run.st.last_progress + STALL);
        let wake = stall_at.map_or(phase_end, |s| s.min(phase_end));
        net.poll(Some(wake), &mut |_: &mut Conns, id, ev| run.event(id, ev));
        if Instant::now() >= phase_end {
            match phase {
                Phase::Warmup => {
                    run.st.measuring = true;
                    window = Some(Window::start());
                    phase = Phase::Measure;
                    phase_end = Instant::now() + duration;
                }
                Phase::Measure => {
                    run.st.measuring = false;
                    result_window = window.take().unwrap().end();
                    phase = Phase::Drain;
                    phase_end = Instant::now() + STALL;
                }
                Phase::Drain => break,
            }
        }
        if run.st.inflight > 0 && run.st.last_progress.elapsed() >= STALL {
            stalled = true;
            break;
        }
        if !run.sender_alive && phase != Phase::Drain {
            break;
        }
    }
    if let Some(w) = window.take() {
        run.st.measuring = false;
        result_window = w.end();
    }
    let s = &run.st;
    let secs = result_window.0;
    let owed: usize = s.pending.iter().map(|p| p.remaining).sum();
    emit(&format!(
        "{{\"type\":\"result\",\"scenario\":\"broadcast\",\"n\":{n},\"payload\":{size},\"inflight\":{k},\"connect_failed\":{connect_failed},\"deliveries\":{},\"deliveries_per_s\":{:.1},\"broadcasts_per_s\":{:.1},{},{},\"receivers_left\":{},\"stalled\":{stalled},\"owed_at_end\":{owed},\"unexpected\":{},\"errors\":{}}}",
        s.deliveries,
        s.deliveries as f64 / secs.max(1e-9),
        s.completed as f64 / secs.max(1e-9),
        lat_json("latency", &s.hist),
        result_window.1,
        s.live,
        s.unexpected,
        run.errors.json()
    ));
    i32::from(stalled || connect_failed > 0 || s.live < n || s.deliveries == 0)
}

struct EchoClient {
    seq: u64,
    sent: Instant,
    /// The ack's prefix, `43<seq>[`.
    want: String,
    running: bool,
}

/// The echo scenario's state as the frame callback sees it.
struct EchoRun {
    clients: Vec<EchoClient>,
    body: String,
    frame: String,
    measuring: bool,
    stop: bool,
    hist: Hist,
    acks: u64,
    running: usize,
    dropped: usize,
    errors: Errors,
}

impl EchoRun {
    fn send(&mut self, conns: &mut Conns, id: usize) {
        let c = &mut self.clients[id];
        c.seq += 1;
        c.want.clear();
        let _ = write!(c.want, "43{}[", c.seq);
        self.frame.clear();
        let _ = write!(self.frame, "42{}[\"echo\",\"{}\"]", c.seq, self.body);
        c.sent = Instant::now();
        if let Err(e) = conns.send_text(id, self.frame.as_bytes()) {
            self.fail(id, format!("send: {e}"));
        }
    }

    fn fail(&mut self, id: usize, why: String) {
        let c = &mut self.clients[id];
        if c.running {
            c.running = false;
            self.running -= 1;
            self.dropped += 1;
            self.errors.add(why);
        }
    }

    fn event(&mut self, conns: &mut Conns, id: usize, ev: Event<'_>) {
        match ev {
            Event::Text(t) => {
                let c = &mut self.clients[id];
                if !c.running || !t.starts_with(c.want.as_bytes()) {
                    return;
                }
                if self.measuring {
                    self.hist.record(c.sent.elapsed().as_nanos() as u64);
                    self.acks += 1;
                }
                // After the window each client finishes its round trip and stops.
                if self.stop {
                    c.running = false;
                    self.running -= 1;
                } else {
                    self.send(conns, id);
                }
            }
            Event::Closed(why) => self.fail(id, why),
            Event::Connected { .. } | Event::Failed(_) => {}
        }
    }

    /// Runs the loop until `until`, or until `done` says so.
    fn run_until(&mut self, net: &mut Net, until: Instant, done: impl Fn(&EchoRun) -> bool) {
        while Instant::now() < until && !done(self) {
            net.poll(Some(until), &mut |conns: &mut Conns, id, ev| {
                self.event(conns, id, ev)
            });
        }
    }
}

/// echo: N clients in a closed loop, each `42<id>["echo",payload]` → waits `43<id>[...]`.
pub fn echo(port: u16, args: &Args) -> i32 {
    let n = args.required("n") as usize;
    let size = args.num("payload", 30) as usize;
    let warmup = args.ms("warmup-ms", 1000);
    let duration = args.ms("duration-ms", 5000);
    let concurrency = args.num("concurrency", 64) as usize;
    let timeout = args.ms("timeout-ms", 10_000);

    let mut errors = Errors::default();
    let mut net = Net::new(timeout);
    let clients = connect_many(&mut net, &[port], n, concurrency, &mut errors);
    let connect_failed = n - clients.ids.len();
    let mut run = EchoRun {
        clients: (0..net.len())
            .map(|_| EchoClient {
                seq: 0,
                sent: Instant::now(),
                want: String::new(),
                running: false,
            })
            .collect(),
        body: "x".repeat(size),
        frame: String::new(),
        measuring: false,
        stop: false,
        hist: Hist::new(),
        acks: 0,
        running: clients.ids.len(),
        dropped: 0,
        errors,
    };
    for &id in &clients.ids {
        run.clients[id].running = true;
    }
    for (id, why) in clients.lost {
        run.fail(id, why);
    }
    emit(&format!(
        "{{\"event\":\"connected\",\"sockets\":{}}}",
        n - connect_failed
    ));
    for &id in &clients.ids {
        if run.clients[id].running {
            run.send(net.conns(), id);
        }
    }
    run.run_until(&mut net, Instant::now() + warmup, |_| false);
    run.measuring = true;
    let window = Window::start();
    run.run_until(&mut net, Instant::now() + duration, |_| false);
    run.measuring = false;
    let (secs, window_json) = window.end();
    run.stop = true;
    // Clients finish their current round trip; one that never gets its ack is a stall.
    run.run_until(&mut net, Instant::now() + STALL, |r| r.running == 0);
    let stalled = run.running > 0;
    let acks = run.acks;
    emit(&format!(
        "{{\"type\":\"result\",\"scenario\":\"echo\",\"n\":{n},\"payload\":{size},\"connect_failed\":{connect_failed},\"acks\":{acks},\"acks_per_s\":{:.1},{},{},\"dropped\":{},\"stalled\":{stalled},\"stuck_clients\":{},\"errors\":{}}}",
        acks as f64 / secs.max(1e-9),
        lat_json("latency", &run.hist),
        window_json,
        run.dropped,
        if stalled { run.running } else { 0 },
        run.errors.json()
    ));
    i32::from(stalled || connect_failed > 0 || run.dropped > 0 || acks == 0)
}

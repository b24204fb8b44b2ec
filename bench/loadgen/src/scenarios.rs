//! The three client scenarios. Everything runs on one thread, so shared state is `Rc<RefCell>`
//! and never held across an await.

use crate::client::{self, control, Control, Ws};
use crate::hist::Hist;
use crate::{cpu_seconds, emit, Args};
use futures_util::{SinkExt, StreamExt};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

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

/// Connects `n` clients, at most `concurrency` handshakes at a time (a burst of 10k SYNs would
/// only measure the listen backlog), spread in turn over `ports` (several servers of a cluster;
/// the first client goes to the first). Failures are counted, not fatal.
async fn connect_many(
    ports: &[u16],
    n: usize,
    concurrency: usize,
    timeout: Duration,
    errors: &Rc<RefCell<Errors>>,
) -> Vec<Ws> {
    let sem = Rc::new(Semaphore::new(concurrency.max(1)));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let sem = sem.clone();
        let port = ports[i % ports.len()];
        handles.push(tokio::task::spawn_local(async move {
            let _permit = sem.acquire().await;
            client::connect(port, timeout).await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for h in handles {
        match h.await {
            Ok(Ok(ws)) => out.push(ws),
            Ok(Err(e)) => errors.borrow_mut().add(e),
            Err(e) => errors.borrow_mut().add(format!("task: {e}")),
        }
    }
    out
}

#[derive(Default)]
struct ConnState {
    ok: usize,
    failed: usize,
    dropped: usize,
    hist: Option<Hist>,
}

/// connect N: connects/s and handshake latency, then N idle connections held for the RSS sample.
pub async fn connect(port: u16, args: &Args) -> i32 {
    let n = args.required("n") as usize;
    let concurrency = args.num("concurrency", 64) as usize;
    let settle = args.ms("settle-ms", 2000);
    let hold_max = args.ms("hold-max-ms", 60_000);
    let timeout = args.ms("timeout-ms", 10_000);
    let deadline = args.ms("deadline-ms", 120_000);

    let state = Rc::new(RefCell::new(ConnState {
        hist: Some(Hist::new()),
        ..Default::default()
    }));
    let errors = Rc::new(RefCell::new(Errors::default()));
    let sem = Rc::new(Semaphore::new(concurrency.max(1)));
    let all_done = Rc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);

    let window = Window::start();
    for _ in 0..n {
        let (sem, state, errors, all_done) =
            (sem.clone(), state.clone(), errors.clone(), all_done.clone());
        let mut stop_rx = stop_rx.clone();
        tokio::task::spawn_local(async move {
            let permit = sem.acquire().await;
            let t = Instant::now();
            let r = client::connect(port, timeout).await;
            let ns = t.elapsed().as_nanos() as u64;
            drop(permit);
            {
                let mut st = state.borrow_mut();
                match &r {
                    Ok(_) => {
                        st.ok += 1;
                        st.hist.as_mut().unwrap().record(ns);
                    }
                    Err(e) => {
                        st.failed += 1;
                        errors.borrow_mut().add(e.clone());
                    }
                }
                if st.ok + st.failed == n {
                    all_done.notify_one();
                }
            }
            let Ok(mut ws) = r else { return };
            // Idle: answer pings so the server keeps us, until the scenario ends.
            loop {
                tokio::select! {
                    m = ws.next() => match m {
                        Some(Ok(Message::Text(t))) => match control(&t) {
                            Control::Ping => { let _ = ws.send(Message::text("3")).await; }
                            Control::Closed => { state.borrow_mut().dropped += 1; errors.borrow_mut().add(format!("server closed idle connection ({t})")); return; }
                            Control::Other => {}
                        },
                        Some(Ok(_)) => {}
                        Some(Err(e)) => { state.borrow_mut().dropped += 1; errors.borrow_mut().add(format!("idle read: {e}")); return; }
                        None => { state.borrow_mut().dropped += 1; errors.borrow_mut().add("idle connection closed".into()); return; }
                    },
                    _ = stop_rx.changed() => return,
                }
            }
        });
    }
    let timed_out = tokio::time::timeout(deadline, all_done.notified())
        .await
        .is_err();
    let (secs, window_json) = window.end();
    let (ok, failed) = {
        let st = state.borrow();
        (st.ok, st.failed)
    };

    tokio::time::sleep(settle).await;
    let connected = ok - state.borrow().dropped;
    emit(&format!(
        "{{\"event\":\"settled\",\"connected\":{connected}}}"
    ));
    // Hold until the runner has sampled the server (one line on stdin), EOF, or hold_max.
    let mut line = String::new();
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let _ = tokio::time::timeout(hold_max, stdin.read_line(&mut line)).await;
    let st = state.borrow();
    let held = ok - st.dropped;
    let _ = stop_tx.send(true);
    let hist = st.hist.as_ref().unwrap();
    emit(&format!(
        "{{\"type\":\"result\",\"scenario\":\"connect\",\"n\":{n},\"concurrency\":{concurrency},\"connected\":{ok},\"failed\":{failed},\"timed_out\":{timed_out},\"connects_per_s\":{:.1},{},{},\"held_after_settle\":{connected},\"held_at_end\":{held},\"dropped\":{},\"errors\":{}}}",
        ok as f64 / secs.max(1e-9),
        lat_json("handshake", hist),
        window_json,
        st.dropped,
        errors.borrow().json()
    ));
    i32::from(failed > 0 || st.dropped > 0 || timed_out)
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

    /// Returns true when this delivery completed a broadcast (the sender may send another).
    fn delivered(&mut self, seq: u64, now: Instant) -> bool {
        let Some(p) = seq
            .checked_sub(self.base)
            .and_then(|i| self.pending.get_mut(i as usize))
            .filter(|p| p.remaining > 0)
        else {
            self.unexpected += 1;
            return false;
        };
        self.last_progress = now;
        if self.measuring {
            self.hist
                .record(now.duration_since(p.sent).as_nanos() as u64);
            self.deliveries += 1;
        }
        p.remaining -= 1;
        let done = p.remaining == 0;
        if done {
            self.finish_one();
        }
        done
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
    fn receiver_lost(&mut self, last_seen: Option<u64>) -> bool {
        self.live -= 1;
        let from = last_seen.map_or(0, |s| s + 1);
        let mut any = false;
        for i in 0..self.pending.len() {
            let seq = self.base + i as u64;
            if seq >= from && self.pending[i].remaining > 0 {
                self.pending[i].remaining -= 1;
                if self.pending[i].remaining == 0 {
                    self.inflight -= 1;
                    any = true;
                }
            }
        }
        while self.pending.front().is_some_and(|p| p.remaining == 0) {
            self.pending.pop_front();
            self.base += 1;
        }
        any
    }
}

/// `42["msg","<seq>|xxx"]` → seq.
fn parse_msg_seq(t: &str) -> Option<u64> {
    let rest = t.strip_prefix("42[\"msg\",\"")?;
    let end = rest.find('|')?;
    rest[..end].parse().ok()
}

/// The string argument of a broadcast: its sequence number, padded to `size` characters.
fn payload(seq: u64, size: usize) -> String {
    let mut s = format!("{seq}|");
    while s.len() < size {
        s.push('x');
    }
    s
}

/// Reads one receiver's frames until the stream ends.
async fn receive(
    mut ws: Ws,
    st: Rc<RefCell<BState>>,
    wake: Rc<Notify>,
    errors: Rc<RefCell<Errors>>,
) {
    let mut last: Option<u64> = None;
    let why = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if let Some(seq) = parse_msg_seq(&t) {
                    last = Some(seq);
                    if st.borrow_mut().delivered(seq, Instant::now()) {
                        wake.notify_one();
                    }
                    continue;
                }
                match control(&t) {
                    Control::Ping => {
                        if let Err(e) = ws.send(Message::text("3")).await {
                            break format!("pong: {e}");
                        }
                    }
                    Control::Closed => break format!("server closed receiver ({t})"),
                    Control::Other => {}
                }
            }
            Some(Ok(Message::Close(_))) | None => break "receiver closed".to_string(),
            Some(Ok(_)) => {}
            Some(Err(e)) => break format!("receiver read: {e}"),
        }
    };
    errors.borrow_mut().add(why);
    if st.borrow_mut().receiver_lost(last) {
        wake.notify_one();
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
pub async fn broadcast(port: u16, args: &Args) -> i32 {
    let n = args.required("n") as usize;
    let size = args.required("payload") as usize;
    let k = args.num("inflight", 1).max(1) as usize;
    let warmup = args.ms("warmup-ms", 1000);
    let duration = args.ms("duration-ms", 5000);
    let concurrency = args.num("concurrency", 64) as usize;
    let timeout = args.ms("timeout-ms", 10_000);

    let errors = Rc::new(RefCell::new(Errors::default()));
    let ports: Vec<u16> = match args.num("port2", 0) {
        0 => vec![port],
        port2 => vec![port, port2 as u16],
    };
    let mut socks = connect_many(&ports, n, concurrency, timeout, &errors).await;
    let connect_failed = n - socks.len();
    if socks.is_empty() {
        emit(&format!("{{\"type\":\"result\",\"scenario\":\"broadcast\",\"n\":{n},\"payload\":{size},\"inflight\":{k},\"connect_failed\":{connect_failed},\"errors\":{}}}", errors.borrow().json()));
        return 1;
    }
    emit(&format!(
        "{{\"event\":\"connected\",\"sockets\":{}}}",
        socks.len()
    ));
    let st = Rc::new(RefCell::new(BState {
        live: socks.len(),
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
    }));
    let wake = Rc::new(Notify::new());
    let mut sender = socks.swap_remove(0);
    for ws in socks {
        tokio::task::spawn_local(receive(ws, st.clone(), wake.clone(), errors.clone()));
    }

    let mut phase = Phase::Warmup;
    let mut phase_end = tokio::time::Instant::now() + warmup;
    let mut window: Option<Window> = None;
    let mut result_window = (0.0, String::new());
    let mut stalled = false;
    let mut sender_last: Option<u64> = None;
    let mut sender_alive = true;
    'run: loop {
        if phase != Phase::Drain && sender_alive {
            let mut fed = false;
            loop {
                let seq = {
                    let mut s = st.borrow_mut();
                    if s.inflight >= k {
                        break;
                    }
                    s.send_next()
                };
                let frame = format!("42[\"bcast\",\"{}\"]", payload(seq, size));
                if let Err(e) = sender.feed(Message::text(frame)).await {
                    errors.borrow_mut().add(format!("send: {e}"));
                    break 'run;
                }
                fed = true;
            }
            if fed {
                if let Err(e) = sender.flush().await {
                    errors.borrow_mut().add(format!("send: {e}"));
                    break 'run;
                }
            }
        }
        if phase == Phase::Drain && st.borrow().inflight == 0 {
            break;
        }
        let stall_at = tokio::time::Instant::from_std(st.borrow().last_progress + STALL);
        tokio::select! {
            m = sender.next(), if sender_alive => match m {
                Some(Ok(Message::Text(t))) => {
                    if let Some(seq) = parse_msg_seq(&t) {
                        sender_last = Some(seq);
                        st.borrow_mut().delivered(seq, Instant::now());
                    } else if let Control::Ping = control(&t) {
                        let _ = sender.send(Message::text("3")).await;
                    } else if let Control::Closed = control(&t) {
                        errors.borrow_mut().add(format!("server closed sender ({t})"));
                        sender_alive = false;
                        st.borrow_mut().receiver_lost(sender_last);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    errors.borrow_mut().add("sender connection closed".into());
                    sender_alive = false;
                    st.borrow_mut().receiver_lost(sender_last);
                }
            },
            _ = wake.notified() => {}
            _ = sleep_until(phase_end) => match phase {
                Phase::Warmup => {
                    {
                        let mut s = st.borrow_mut();
                        s.measuring = true;
                    }
                    window = Some(Window::start());
                    phase = Phase::Measure;
                    phase_end = tokio::time::Instant::now() + duration;
                }
                Phase::Measure => {
                    st.borrow_mut().measuring = false;
                    result_window = window.take().unwrap().end();
                    phase = Phase::Drain;
                    phase_end = tokio::time::Instant::now() + STALL;
                }
                Phase::Drain => break,
            },
            _ = sleep_until(stall_at), if st.borrow().inflight > 0 => {
                if st.borrow().last_progress.elapsed() >= STALL {
                    stalled = true;
                    break;
                }
            }
        }
        if !sender_alive && phase != Phase::Drain {
            break;
        }
    }
    if let Some(w) = window.take() {
        st.borrow_mut().measuring = false;
        result_window = w.end();
    }
    let s = st.borrow();
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
        errors.borrow().json()
    ));
    i32::from(stalled || connect_failed > 0 || s.live < n || s.deliveries == 0)
}

struct EState {
    measuring: Cell<bool>,
    stop: Cell<bool>,
    hist: RefCell<Hist>,
    acks: Cell<u64>,
    running: Cell<usize>,
    dropped: Cell<usize>,
    all_stopped: Notify,
}

/// echo: N clients in a closed loop, each `42<id>["echo",payload]` → waits `43<id>[...]`.
pub async fn echo(port: u16, args: &Args) -> i32 {
    let n = args.required("n") as usize;
    let size = args.num("payload", 30) as usize;
    let warmup = args.ms("warmup-ms", 1000);
    let duration = args.ms("duration-ms", 5000);
    let concurrency = args.num("concurrency", 64) as usize;
    let timeout = args.ms("timeout-ms", 10_000);

    let errors = Rc::new(RefCell::new(Errors::default()));
    let socks = connect_many(&[port], n, concurrency, timeout, &errors).await;
    let connect_failed = n - socks.len();
    let st = Rc::new(EState {
        measuring: Cell::new(false),
        stop: Cell::new(false),
        hist: RefCell::new(Hist::new()),
        acks: Cell::new(0),
        running: Cell::new(socks.len()),
        dropped: Cell::new(0),
        all_stopped: Notify::new(),
    });
    let body: String = "x".repeat(size);
    for mut ws in socks {
        let (st, errors, body) = (st.clone(), errors.clone(), body.clone());
        tokio::task::spawn_local(async move {
            let mut id: u64 = 0;
            let failure = 'client: loop {
                if st.stop.get() {
                    break None;
                }
                id += 1;
                let want = format!("43{id}[");
                let t = Instant::now();
                if let Err(e) = ws
                    .send(Message::text(format!("42{id}[\"echo\",\"{body}\"]")))
                    .await
                {
                    break Some(format!("send: {e}"));
                }
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(m))) => {
                            if m.starts_with(&want) {
                                if st.measuring.get() {
                                    st.hist.borrow_mut().record(t.elapsed().as_nanos() as u64);
                                    st.acks.set(st.acks.get() + 1);
                                }
                                break;
                            }
                            match control(&m) {
                                Control::Ping => {
                                    let _ = ws.send(Message::text("3")).await;
                                }
                                Control::Closed => {
                                    break 'client Some(format!("server closed ({m})"))
                                }
                                Control::Other => {}
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break 'client Some(format!("read: {e}")),
                        None => break 'client Some("closed".into()),
                    }
                }
            };
            if let Some(e) = failure {
                errors.borrow_mut().add(e);
                st.dropped.set(st.dropped.get() + 1);
            }
            st.running.set(st.running.get() - 1);
            if st.running.get() == 0 {
                st.all_stopped.notify_one();
            }
        });
    }
    emit(&format!(
        "{{\"event\":\"connected\",\"sockets\":{}}}",
        n - connect_failed
    ));
    tokio::time::sleep(warmup).await;
    st.measuring.set(true);
    let window = Window::start();
    tokio::time::sleep(duration).await;
    st.measuring.set(false);
    let (secs, window_json) = window.end();
    st.stop.set(true);
    // Clients finish their current round trip; one that never gets its ack is a stall.
    let stalled = st.running.get() > 0
        && tokio::time::timeout(STALL, st.all_stopped.notified())
            .await
            .is_err();
    let acks = st.acks.get();
    emit(&format!(
        "{{\"type\":\"result\",\"scenario\":\"echo\",\"n\":{n},\"payload\":{size},\"connect_failed\":{connect_failed},\"acks\":{acks},\"acks_per_s\":{:.1},{},{},\"dropped\":{},\"stalled\":{stalled},\"stuck_clients\":{},\"errors\":{}}}",
        acks as f64 / secs.max(1e-9),
        lat_json("latency", &st.hist.borrow()),
        window_json,
        st.dropped.get(),
        if stalled { st.running.get() } else { 0 },
        errors.borrow().json()
    ));
    i32::from(stalled || connect_failed > 0 || st.dropped.get() > 0 || acks == 0)
}

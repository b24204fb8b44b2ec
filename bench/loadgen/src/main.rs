//! Load generator for `bench/`: speaks engine.io v4 / socket.io v5 over a raw websocket, so the
//! client side costs a fraction of what a socket.io-client would and the server stays the
//! bottleneck. One thread (it is pinned to one core by bench/run.js) with one epoll loop for all
//! connections (`net.rs`), over a websocket codec of its own (`ws.rs`).
//!
//! Subcommands (all options `--name value`):
//!   connect        --port P --n N [--concurrency C --settle-ms S --hold-max-ms H --timeout-ms T]
//!   broadcast      --port P --n N --payload BYTES --inflight K [--warmup-ms W --duration-ms D
//!                  --port2 P2 (half the clients on a second server of a cluster)]
//!   echo           --port P --n N --payload BYTES [--warmup-ms W --duration-ms D]
//!   serve-ceiling  --port P   (bare fan-out server: this machine's ceiling)
//!
//! Output: JSON lines on stdout. `{"event":...}` lines mark phases so the runner can sample the
//! server at the right moments (`measure_start`, `measure_end`, `settled`); the last line is
//! `{"type":"result",...}`. After `settled` the connect scenario holds its connections until a line
//! arrives on stdin (or `--hold-max-ms` passes), so the runner can read the server's RSS.

mod ceiling;
mod hist;
mod net;
mod scenarios;
mod ws;

use std::collections::HashMap;
use std::time::Duration;

pub struct Args(HashMap<String, String>);

impl Args {
    fn parse(items: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut map = HashMap::new();
        let mut items = items.peekable();
        while let Some(key) = items.next() {
            let name = key
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {key:?}"))?;
            let value = items
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            map.insert(name.to_string(), value);
        }
        Ok(Args(map))
    }

    pub fn num(&self, name: &str, default: u64) -> u64 {
        match self.0.get(name) {
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| die(&format!("--{name}: not a number"))),
            None => default,
        }
    }

    pub fn ms(&self, name: &str, default: u64) -> Duration {
        Duration::from_millis(self.num(name, default))
    }

    pub fn required(&self, name: &str) -> u64 {
        if !self.0.contains_key(name) {
            die(&format!("--{name} is required"));
        }
        self.num(name, 0)
    }
}

fn die(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    std::process::exit(2);
}

/// 10k clients need 10k descriptors; the default soft limit is often 1024. Raise the soft limit
/// to the hard one (root may raise both), so no wrapper shell is needed.
fn raise_nofile() {
    // SAFETY: plain libc calls on a stack-allocated struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        let want = 65536.max(lim.rlim_cur);
        let attempt = libc::rlimit {
            rlim_cur: want,
            rlim_max: want.max(lim.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &attempt) != 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// This process's user+system CPU time in seconds: reported per window so a saturated load
/// generator (≈ 1 s of CPU per second of wall time) is visible next to the numbers it produced.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    }
}

/// Prints one line and flushes at once: the runner reacts to phase markers as they come.
pub fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() {
    let mut argv = std::env::args().skip(1);
    let cmd = argv.next().unwrap_or_default();
    let args = Args::parse(argv).unwrap_or_else(|e| die(&e));
    raise_nofile();
    let port = args.required("port") as u16;
    let code = match cmd.as_str() {
        "connect" => scenarios::connect(port, &args),
        "broadcast" => scenarios::broadcast(port, &args),
        "echo" => scenarios::echo(port, &args),
        "serve-ceiling" => {
            // current_thread: like Node's main thread, the ceiling server gets one core.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            tokio::task::LocalSet::new().block_on(&rt, ceiling::serve(port))
        }
        other => die(&format!(
            "unknown command {other:?} (connect | broadcast | echo | serve-ceiling)"
        )),
    };
    // Do not wait for the ceiling's connection tasks or close each client: the run is over.
    std::process::exit(code);
}

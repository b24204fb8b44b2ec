//! Connection state recovery: the packets a client may miss while it reconnects. Each stored
//! broadcast gets an offset, sent to clients as the packet's last argument; a client that comes
//! back names the last offset it saw and gets every later packet that its rooms would have
//! received. Packets are kept for the recovery window only, so memory follows the broadcast
//! rate, not the number of clients.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::engine::frame::Frame;

pub struct RecoveryLog {
    window: Duration,
    /// Distinguishes this process's offsets from those of another server or an earlier run.
    epoch: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// One sequence for all namespaces, so a namespace's log can go when it empties without
    /// its offsets ever being handed out again.
    next: u64,
    namespaces: HashMap<String, VecDeque<Stored>>,
}

struct Stored {
    sequence: u64,
    emitted: Instant,
    rooms: Vec<String>,
    except: Vec<String>,
    frames: Vec<Frame>,
}

impl RecoveryLog {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            epoch: format!("{:08x}", rand::random::<u32>()),
            state: Mutex::default(),
        }
    }

    /// How often `trim` should run so nothing outlives the window by much.
    pub fn trim_interval(&self) -> Duration {
        self.window
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// Stores the packet that `encode` builds from the offset it is given (the offset must go
    /// into the packet): `encode` returns the frames to keep and what the caller gets back.
    /// Offsets follow the order of the calls.
    pub fn store<T>(
        &self,
        nsp: &str,
        rooms: &[String],
        except: &[String],
        encode: impl FnOnce(&str) -> (Vec<Frame>, T),
    ) -> T {
        let now = Instant::now();
        let mut state = self.state.lock();
        let sequence = state.next;
        state.next += 1;
        let log = match state.namespaces.get_mut(nsp) {
            Some(log) => log,
            None => state.namespaces.entry(nsp.to_owned()).or_default(),
        };
        self.expire(log, now);
        let (frames, encoded) = encode(&format!("{}-{sequence}", self.epoch));
        log.push_back(Stored {
            sequence,
            emitted: now,
            rooms: rooms.to_vec(),
            except: except.to_vec(),
            frames,
        });
        encoded
    }

    /// Drops what is older than the window, in every namespace.
    pub fn trim(&self) {
        let now = Instant::now();
        self.state.lock().namespaces.retain(|_, log| {
            self.expire(log, now);
            !log.is_empty()
        });
    }

    fn expire(&self, log: &mut VecDeque<Stored>, now: Instant) {
        while log
            .front()
            .is_some_and(|packet| now.duration_since(packet.emitted) > self.window)
        {
            log.pop_front();
        }
    }

    /// The frames of every packet after `offset` that a socket in `rooms` would have received,
    /// in order; `None` when `offset` is unknown (too old, or from another server).
    pub fn missed(&self, nsp: &str, offset: &str, rooms: &[String]) -> Option<Vec<Frame>> {
        let sequence = self.sequence(offset)?;
        let state = self.state.lock();
        let log = state.namespaces.get(nsp)?;
        let index = position(log, sequence)?;
        let reaches = |packet: &Stored| {
            let included =
                packet.rooms.is_empty() || rooms.iter().any(|r| packet.rooms.contains(r));
            included && !rooms.iter().any(|r| packet.except.contains(r))
        };
        Some(
            log.iter()
                .skip(index + 1)
                .filter(|packet| reaches(packet))
                .flat_map(|packet| packet.frames.iter().cloned())
                .collect(),
        )
    }

    fn sequence(&self, offset: &str) -> Option<u64> {
        let (epoch, sequence) = offset.split_once('-')?;
        (epoch == self.epoch).then(|| sequence.parse().ok())?
    }
}

fn position(log: &VecDeque<Stored>, sequence: u64) -> Option<usize> {
    log.binary_search_by_key(&sequence, |packet| packet.sequence)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(log: &RecoveryLog, rooms: &[&str], except: &[&str], text: &str) -> String {
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut offset = String::new();
        log.store("/", &strings(rooms), &strings(except), |o| {
            offset = o.to_owned();
            (vec![Frame::text(format!("{text}|{o}"))], ())
        });
        offset
    }

    fn texts(frames: Vec<Frame>) -> Vec<String> {
        frames
            .iter()
            .map(|f| {
                let text = String::from_utf8_lossy(&f.wire()[2..]).into_owned();
                text.split('|').next().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn replays_what_the_rooms_of_a_socket_would_have_received_after_its_offset() {
        let log = RecoveryLog::new(Duration::from_secs(60));
        let seen = store(&log, &[], &[], "before");
        store(&log, &[], &[], "all");
        store(&log, &["r"], &[], "to r");
        store(&log, &["other"], &[], "to other");
        store(&log, &[], &["r"], "all but r");
        store(&log, &["sid1"], &[], "to sid1");
        let rooms = ["sid1".to_string(), "r".to_string()];
        let missed = log.missed("/", &seen, &rooms).unwrap();
        assert_eq!(texts(missed), ["all", "to r", "to sid1"]);
        assert!(log.missed("/", &seen, &[]).is_some());
    }

    #[test]
    fn unknown_offsets_recover_nothing() {
        let log = RecoveryLog::new(Duration::from_secs(60));
        let seen = store(&log, &[], &[], "a");
        let other_server = RecoveryLog::new(Duration::from_secs(60));
        let foreign = store(&other_server, &[], &[], "a");
        assert!(log.missed("/", &foreign, &[]).is_none() || log.epoch == other_server.epoch);
        assert!(log.missed("/nsp", &seen, &[]).is_none());
        assert!(log.missed("/", "garbage", &[]).is_none());
        let (epoch, _) = seen.split_once('-').unwrap();
        assert!(log.missed("/", &format!("{epoch}-99"), &[]).is_none());
        assert_eq!(log.missed("/", &seen, &[]).unwrap().len(), 0);
    }

    #[test]
    fn packets_older_than_the_window_are_dropped() {
        let log = RecoveryLog::new(Duration::from_millis(0));
        let first = store(&log, &[], &[], "a");
        std::thread::sleep(Duration::from_millis(2));
        let second = store(&log, &[], &[], "b");
        assert!(log.missed("/", &first, &[]).is_none());
        assert!(log.missed("/", &second, &[]).is_some());
        assert_eq!(log.state.lock().namespaces["/"].len(), 1);
        std::thread::sleep(Duration::from_millis(2));
        log.trim();
        assert!(log.state.lock().namespaces.is_empty());
        // Offsets are never handed out twice, even after a namespace's log went away.
        assert_ne!(store(&log, &[], &[], "c"), second);
    }
}

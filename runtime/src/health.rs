//! Health of something checked over HTTP: one [`Checked`] per target,
//! moved by each check's outcome with `fall` / `rise` counts, and the check
//! itself ([`probe`]: `GET /healthz`, 200 or not). GeoDNS checks every
//! edge with it (`geodns::health`), and an edge behind an origin shield
//! checks the shield with it (`edge::tier`): one logic, not two copies.
//!
//! A target starts *unknown*; its first good check makes it up, `fall`
//! failures in a row make it down, and `rise` successes in a row bring it
//! back. What "unknown" means for routing is the user's decision (GeoDNS
//! counts unknown edges usable until any edge has been seen up).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

/// A target's health as last decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not answered yet.
    Unknown,
    /// Answering its check.
    Up,
    /// `fall` checks in a row failed.
    Down,
}

impl State {
    /// The word used in JSON, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::Down => "down",
        }
    }

    fn from_u8(v: u8) -> State {
        match v {
            1 => State::Up,
            2 => State::Down,
            _ => State::Unknown,
        }
    }
}

/// The last check of a target.
#[derive(Debug, Clone)]
pub struct LastCheck {
    /// When it ended (wall clock).
    pub at: SystemTime,
    /// Whether it passed.
    pub ok: bool,
    /// Why it failed (empty when it passed).
    pub detail: String,
    /// How long it took.
    pub took: Duration,
}

/// Consecutive outcomes that change a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Successes in a row that bring a down target up.
    pub rise: u32,
    /// Failures in a row that bring an up (or unknown) target down.
    pub fall: u32,
}

impl Thresholds {
    /// `rise` and `fall`, at least 1 each.
    pub fn new(rise: u32, fall: u32) -> Thresholds {
        Thresholds { rise: rise.max(1), fall: fall.max(1) }
    }
}

/// One checked target: its state, streaks and counters (lock-free, but
/// for the last check's detail).
#[derive(Debug, Default)]
pub struct Checked {
    state: AtomicU8,
    ok_streak: AtomicU32,
    fail_streak: AtomicU32,
    checks: AtomicU64,
    failures: AtomicU64,
    transitions: AtomicU64,
    last: Mutex<Option<LastCheck>>,
}

impl Checked {
    /// The state now.
    #[inline]
    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Counts a check and moves the state; returns the new state when it
    /// changed.
    pub fn record(&self, t: Thresholds, ok: bool, detail: String, took: Duration) -> Option<State> {
        self.checks.fetch_add(1, Ordering::Relaxed);
        *self.last.lock() = Some(LastCheck { at: SystemTime::now(), ok, detail, took });
        let old = self.state();
        let new = if ok {
            self.fail_streak.store(0, Ordering::Relaxed);
            let streak = self.ok_streak.fetch_add(1, Ordering::Relaxed) + 1;
            match old {
                State::Unknown => State::Up,
                State::Down if streak >= t.rise => State::Up,
                s => s,
            }
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
            self.ok_streak.store(0, Ordering::Relaxed);
            let streak = self.fail_streak.fetch_add(1, Ordering::Relaxed) + 1;
            match old {
                State::Unknown | State::Up if streak >= t.fall => State::Down,
                s => s,
            }
        };
        if new == old {
            return None;
        }
        self.state.store(new as u8, Ordering::Relaxed);
        self.transitions.fetch_add(1, Ordering::Relaxed);
        Some(new)
    }

    /// Forgets what is known (the target moved, or came back after it
    /// left): unknown again, streaks cleared; the counters stay.
    pub fn reset(&self) {
        self.ok_streak.store(0, Ordering::Relaxed);
        self.fail_streak.store(0, Ordering::Relaxed);
        if self.state.swap(State::Unknown as u8, Ordering::Relaxed) != State::Unknown as u8 {
            self.transitions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Checks run, of those failed, and state changes.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.checks.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
            self.transitions.load(Ordering::Relaxed),
        )
    }

    /// Checks in a row that passed, and that failed.
    pub fn streaks(&self) -> (u32, u32) {
        (self.ok_streak.load(Ordering::Relaxed), self.fail_streak.load(Ordering::Relaxed))
    }

    /// The last check, if any.
    pub fn last(&self) -> Option<LastCheck> {
        self.last.lock().clone()
    }
}

/// One check: `GET http://{addr}/healthz` answered 200 within `timeout`.
/// Whether it passed, and why not.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> (bool, String) {
    match crate::http_get::get(addr, "/healthz", timeout).await {
        Ok((s, _)) if s == http::StatusCode::OK => (true, String::new()),
        Ok((s, _)) => (false, format!("status {s}")),
        Err(e) => (false, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fall_and_rise_counts() {
        let c = Checked::default();
        let t = Thresholds::new(3, 2);
        let ok = |c: &Checked| c.record(t, true, String::new(), Duration::ZERO);
        let bad = |c: &Checked| c.record(t, false, "x".into(), Duration::ZERO);
        assert_eq!(ok(&c), Some(State::Up));
        assert_eq!(bad(&c), None);
        assert_eq!(ok(&c), None); // streak reset
        assert_eq!(bad(&c), None);
        assert_eq!(bad(&c), Some(State::Down));
        assert_eq!(ok(&c), None);
        assert_eq!(ok(&c), None);
        assert_eq!(ok(&c), Some(State::Up));
        assert_eq!(c.counts(), (8, 3, 3));
    }

    #[test]
    fn a_reset_target_is_unknown_until_its_next_check() {
        let c = Checked::default();
        let t = Thresholds::new(2, 2);
        c.record(t, true, String::new(), Duration::ZERO);
        c.reset();
        assert_eq!(c.state(), State::Unknown);
        assert_eq!(c.record(t, true, String::new(), Duration::ZERO), Some(State::Up));
    }
}

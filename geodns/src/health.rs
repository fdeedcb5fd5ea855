//! Edge health: every edge's admin `/healthz` is checked each interval
//! (timeout, fall and rise counts from the world; the checks themselves are
//! [`crate::checker`]'s, each edge's state is a [`runtime::health::Checked`],
//! the logic an edge uses for its shield too). An edge starts
//! *unknown*; its first answer makes it up, `fall` failures in a row make
//! it down, and `rise` successes in a row bring it back.
//!
//! Health is *armed* once any edge has been seen up. Until then nothing is
//! known (the edges may not be running yet, or geodns runs alone, as in the
//! DNS benchmark), so every edge counts as usable and routing is by
//! distance alone; `/resolve` says `health: unknown`. Once armed, only up
//! edges are answered, and when none is up clients go to the origin.

use std::net::{Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// One edge as routing sees it.
#[derive(Debug, Clone)]
pub struct EdgeInfo {
    /// Edge name.
    pub name: String,
    /// Region name.
    pub region: String,
    /// Public HTTP address (the answer).
    pub listen: SocketAddr,
    /// Admin address (`/healthz`).
    pub admin: SocketAddr,
    /// AAAA answer, if the edge has one.
    pub ipv6: Option<Ipv6Addr>,
}

pub use runtime::health::State;
use runtime::health::{Checked, Thresholds};

/// Whether checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// Check every edge's `/healthz` (the default).
    #[default]
    Check,
    /// No checks: every edge is always usable.
    Off,
}

/// Health of every edge of a world.
pub struct Health {
    edges: Vec<Checked>,
    armed: AtomicBool,
    mode: Mode,
    thresholds: Thresholds,
}

/// One row of the `/edges` table.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeRow {
    /// Edge name.
    pub edge: String,
    /// Region.
    pub region: String,
    /// Public address.
    pub address: std::net::SocketAddr,
    /// Admin address checked.
    pub admin: std::net::SocketAddr,
    /// `up`, `down` or `unknown`.
    pub state: &'static str,
    /// Whether routing answers it now.
    pub usable: bool,
    /// Checks in a row that passed.
    pub ok_streak: u32,
    /// Checks in a row that failed.
    pub fail_streak: u32,
    /// Checks run.
    pub checks: u64,
    /// Checks failed.
    pub failures: u64,
    /// State changes.
    pub transitions: u64,
    /// `world` (in the world file) or `bus` (joined through the membership bucket).
    pub source: &'static str,
    /// Whether it is in the rankings now (a joined edge whose membership
    /// record expired is not).
    pub present: bool,
    /// Result of the last check (`200 OK`, `connection refused`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// Milliseconds since the last check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ms_ago: Option<u64>,
    /// Duration of the last check, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_took_ms: Option<f64>,
}

impl Health {
    /// Health for `n` edges, all unknown.
    pub fn new(n: usize, mode: Mode, rise: u32, fall: u32) -> Health {
        Health {
            edges: (0..n).map(|_| Checked::default()).collect(),
            armed: AtomicBool::new(false),
            mode,
            thresholds: Thresholds::new(rise, fall),
        }
    }

    /// Whether routing may answer edge `i` now.
    #[inline]
    pub fn usable(&self, i: usize) -> bool {
        self.mode == Mode::Off || !self.armed.load(Ordering::Relaxed) || self.edges[i].state() == State::Up
    }

    /// Edge `i`'s state.
    pub fn state(&self, i: usize) -> State {
        self.edges[i].state()
    }

    /// `checked`, `unknown` (no edge seen up yet) or `off`.
    pub fn mode(&self) -> &'static str {
        match (self.mode, self.armed.load(Ordering::Relaxed)) {
            (Mode::Off, _) => "off",
            (Mode::Check, true) => "checked",
            (Mode::Check, false) => "unknown",
        }
    }

    /// Whether checks are on.
    pub fn checking(&self) -> bool {
        self.mode == Mode::Check
    }

    /// Counts a check of edge `i` and moves its state; returns the new
    /// state when it changed.
    pub fn record(&self, i: usize, ok: bool, detail: String, took: Duration) -> Option<State> {
        let new = self.edges[i].record(self.thresholds, ok, detail, took);
        if new == Some(State::Up) {
            self.armed.store(true, Ordering::Relaxed);
        }
        new
    }

    /// Forgets what is known of edge `i` (it is at a new address, or back
    /// after it left): unknown, so it is answered again from its first
    /// good check, not before. Its counters stay.
    pub fn reset(&self, i: usize) {
        self.edges[i].reset();
    }

    /// Checks and failures counted per edge (for metrics).
    pub fn counts(&self, i: usize) -> (u64, u64, u64) {
        self.edges[i].counts()
    }

    /// The `/edges` table of `edges` (by slot): the first `from_world`
    /// are the world file's, `present` says which are ranked now.
    pub fn table(&self, edges: &[EdgeInfo], present: &[bool], from_world: usize) -> Vec<EdgeRow> {
        let now = SystemTime::now();
        edges
            .iter()
            .enumerate()
            .map(|(i, info)| {
                let e = &self.edges[i];
                let last = e.last();
                let (ok_streak, fail_streak) = e.streaks();
                let (checks, failures, transitions) = e.counts();
                EdgeRow {
                    edge: info.name.clone(),
                    region: info.region.clone(),
                    address: info.listen,
                    admin: info.admin,
                    state: self.state(i).as_str(),
                    usable: self.usable(i) && present.get(i).copied().unwrap_or(false),
                    source: if i < from_world { "world" } else { "bus" },
                    present: present.get(i).copied().unwrap_or(false),
                    ok_streak,
                    fail_streak,
                    checks,
                    failures,
                    transitions,
                    last: last.as_ref().map(|l| if l.ok { "200 OK".to_string() } else { l.detail.clone() }),
                    last_ms_ago: last.as_ref().map(|l| now.duration_since(l.at).unwrap_or_default().as_millis() as u64),
                    last_took_ms: last.as_ref().map(|l| (l.took.as_secs_f64() * 1e6).round() / 1e3),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_edges_are_usable_until_health_is_armed() {
        let h = Health::new(2, Mode::Check, 2, 2);
        assert!(h.usable(0) && h.usable(1));
        assert_eq!(h.mode(), "unknown");
        // Failures alone do not arm health: nothing is known yet.
        h.record(1, false, "refused".into(), Duration::ZERO);
        h.record(1, false, "refused".into(), Duration::ZERO);
        assert_eq!(h.state(1), State::Down);
        assert!(h.usable(1));
        // The first edge seen up arms it; the down edge is then skipped.
        assert_eq!(h.record(0, true, String::new(), Duration::ZERO), Some(State::Up));
        assert_eq!(h.mode(), "checked");
        assert!(h.usable(0) && !h.usable(1));
    }

    #[test]
    fn fall_and_rise_counts() {
        let h = Health::new(1, Mode::Check, 3, 2);
        h.record(0, true, String::new(), Duration::ZERO);
        assert_eq!(h.record(0, false, "x".into(), Duration::ZERO), None);
        assert_eq!(h.record(0, true, String::new(), Duration::ZERO), None); // streak reset
        assert_eq!(h.record(0, false, "x".into(), Duration::ZERO), None);
        assert_eq!(h.record(0, false, "x".into(), Duration::ZERO), Some(State::Down));
        assert_eq!(h.record(0, true, String::new(), Duration::ZERO), None);
        assert_eq!(h.record(0, true, String::new(), Duration::ZERO), None);
        assert_eq!(h.record(0, true, String::new(), Duration::ZERO), Some(State::Up));
        assert_eq!(h.counts(0), (8, 3, 3));
    }

    #[test]
    fn a_reset_edge_is_not_answered_until_its_next_good_check() {
        let h = Health::new(2, Mode::Check, 2, 2);
        h.record(0, true, String::new(), Duration::ZERO);
        h.record(1, true, String::new(), Duration::ZERO);
        h.reset(1);
        assert_eq!(h.state(1), State::Unknown);
        assert!(!h.usable(1), "armed: unknown is not answered");
        assert_eq!(h.record(1, true, String::new(), Duration::ZERO), Some(State::Up));
        assert!(h.usable(1));
    }

    #[test]
    fn off_means_always_usable() {
        let h = Health::new(1, Mode::Off, 2, 2);
        h.record(0, true, String::new(), Duration::ZERO);
        h.record(0, false, "x".into(), Duration::ZERO);
        h.record(0, false, "x".into(), Duration::ZERO);
        assert!(h.usable(0));
        assert_eq!(h.mode(), "off");
    }
}

//! Counters of one edge: requests by outcome, bytes at the client and origin
//! sockets, stores. Lock-free atomics; read by `/stats` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use world::serve::Traffic;

/// What became of a request. The same words reach `/stats`, metric labels
/// and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served fresh from the cache.
    Hit,
    /// Fetched from the origin (stored or not).
    Miss,
    /// Served stale (stale-while-revalidate, stale-if-error, max-stale).
    Stale,
    /// Validated with the origin (304) and served from the cache.
    Revalidated,
    /// Passed through (uncacheable method or response).
    Pass,
    /// Answered with an error by the edge (bad request, origin failure).
    Error,
}

impl Outcome {
    /// Every outcome, in display order.
    pub const ALL: [Outcome; 6] =
        [Outcome::Hit, Outcome::Miss, Outcome::Stale, Outcome::Revalidated, Outcome::Pass, Outcome::Error];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Stale => "stale",
            Outcome::Revalidated => "revalidated",
            Outcome::Pass => "pass",
            Outcome::Error => "error",
        }
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct Meter {
    requests: [AtomicU64; 6],
    /// Bytes to and from clients, at the public listener's sockets.
    pub clients: Arc<Traffic>,
    /// Bytes to and from the origin, at the origin connections' sockets.
    pub origin: Arc<Traffic>,
    /// Requests sent to the origin.
    pub origin_requests: AtomicU64,
    /// Responses stored.
    pub stored: AtomicU64,
    /// Responses not stored (uncacheable, too big).
    pub not_stored: AtomicU64,
}

impl Meter {
    /// Counts one request.
    #[inline]
    pub fn count(&self, o: Outcome) {
        self.requests[o as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests with outcome `o` so far.
    pub fn requests(&self, o: Outcome) -> u64 {
        self.requests[o as usize].load(Ordering::Relaxed)
    }

    /// All requests so far.
    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|o| self.requests(*o)).sum()
    }
}

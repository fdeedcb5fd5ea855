//! Counters of one edge: requests by outcome, bytes at the client and origin
//! sockets, body bytes and durations by outcome, stores (admission counts
//! its refusals itself, [`crate::admission`]).
//! Lock-free atomics; read by `/stats` and `/metrics`.
//!
//! Two kinds of byte counts, kept apart on purpose:
//! - **socket bytes** ([`Meter::clients`], [`Meter::origin`]) are what
//!   crossed the sockets, response heads and chunked framing included:
//!   exact, and what the bill is made of; they cannot be split by outcome,
//!   because a keep-alive connection carries many responses;
//! - **body bytes by outcome** are the response body bytes the edge handed
//!   to the connection (a whole body when it is one buffer, each chunk of a
//!   stream as it is polled): exact for responses delivered whole, and what
//!   the byte hit ratio is made of. A client that leaves mid-body may have
//!   been counted for bytes it never received.
//!
//! The outcome of a request is what the request path returns
//! ([`crate::proxy::Served`]); it is counted once, where the request is
//! observed ([`crate::metrics`]), or where a fast hit is answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use runtime::metered::Traffic;
use runtime::prom::{Histogram, HistogramSnapshot};

pub use api::edge::Outcome;

/// The counters.
#[derive(Debug, Default)]
pub struct Meter {
    requests: [AtomicU64; 6],
    body_bytes: [AtomicU64; 6],
    durations: [Histogram; 6],
    /// Bytes to and from clients, at the public listener's sockets.
    pub clients: Arc<Traffic>,
    /// Bytes to and from the origin, at the origin connections' sockets.
    pub origin: Arc<Traffic>,
    /// Bytes to and from the shield (this edge's fills from it), at the
    /// sockets of the connections to its tier listener: the edge→shield link.
    pub shield: Arc<Traffic>,
    /// As a shield: bytes to and from lower tiers, at the tier listener's
    /// sockets (not client egress).
    pub tiers: Arc<Traffic>,
    /// As a shield: lower tiers' requests on the tier listener, by outcome
    /// (not in the client counts above).
    tier_requests: [AtomicU64; 6],
    /// As a shield: lower tiers' fills answered without the cache because
    /// they had applied a purge this edge had not (after `catch_up`).
    pub behind_purge: AtomicU64,
    /// Time from sending an origin request to its response head (or failure).
    pub origin_fetch: Arc<Histogram>,
    /// Responses stored.
    pub stored: AtomicU64,
    /// Responses not stored (uncacheable, too big, refused by admission).
    pub not_stored: AtomicU64,
    /// Requests answered from the cache (hit or stale) with an entry read
    /// from the disk tier (the rest of the hits came from memory).
    pub disk_hits: AtomicU64,
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

    /// Counts one request from a lower tier (tier listener).
    pub fn count_tier(&self, o: Outcome) {
        self.tier_requests[o as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Lower tiers' requests with outcome `o` so far.
    pub fn tier_requests(&self, o: Outcome) -> u64 {
        self.tier_requests[o as usize].load(Ordering::Relaxed)
    }

    /// All requests so far.
    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|o| self.requests(*o)).sum()
    }

    /// Counts body bytes handed to a connection for a response with outcome `o`.
    #[inline]
    pub fn body(&self, o: Outcome, bytes: u64) {
        if bytes > 0 {
            self.body_bytes[o as usize].fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Body bytes of responses with outcome `o` so far.
    pub fn body_bytes(&self, o: Outcome) -> u64 {
        self.body_bytes[o as usize].load(Ordering::Relaxed)
    }

    /// Records how long a request with outcome `o` took to its response head.
    #[inline]
    pub fn duration(&self, o: Outcome, d: Duration) {
        self.durations[o as usize].record(d);
    }

    /// The duration histogram of outcome `o`.
    pub fn durations(&self, o: Outcome) -> HistogramSnapshot {
        self.durations[o as usize].snapshot()
    }
}

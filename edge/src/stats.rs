//! `/stats`: one edge's counters, ratios and bill, as JSON (the same
//! numbers `/metrics` exposes, and what `cdn stats` reads).
//!
//! Money is a decimal string of dollars with nine decimals (exact
//! nano-dollars, never a float). The bill prices this edge's own counters
//! with its region's prices, as if it were alone in its region; `cdn stats`
//! shares a region's volume tiers between its edges.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use world::Money;
use world::price::{Bill, Usage, decimal};

use crate::meter::Outcome;
use crate::state::EdgeState;

/// `/stats`: counters of this edge.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
pub struct Stats {
    /// Edge name.
    pub edge: String,
    /// Region, if in a world.
    pub region: Option<String>,
    /// Requests by outcome.
    pub requests: Requests,
    /// Requests answered from the cache without the origin (fresh and stale
    /// hits) / all requests.
    pub hit_ratio: f64,
    /// Body bytes of those requests / body bytes of all responses.
    pub byte_hit_ratio: f64,
    /// Response body bytes handed to client connections, by outcome (see
    /// [`crate::meter`] for how they differ from socket bytes).
    pub body_bytes: ByOutcome,
    /// Bytes written to clients at the socket (heads and bodies): what CDN
    /// egress is billed on.
    pub bytes_to_clients: u64,
    /// Bytes read from clients.
    pub bytes_from_clients: u64,
    /// Client connections accepted.
    pub client_connections: u64,
    /// Of those, refused (503) at the connection limit.
    #[serde(default)]
    pub client_connections_refused: u64,
    /// Bytes read from the origin at the socket: what fill is billed on.
    pub bytes_from_origin: u64,
    /// Bytes written to the origin.
    pub bytes_to_origin: u64,
    /// Requests sent to the origin.
    pub origin_requests: u64,
    /// Responses stored.
    pub stored: u64,
    /// Responses not stored (any reason, admission included).
    pub not_stored: u64,
    /// Admission: the edge's setting and what it refused.
    pub admission: AdmissionStats,
    /// Origin fetches in progress.
    pub inflight: usize,
    /// Memory tier bytes used.
    pub memory_bytes: usize,
    /// Memory tier capacity.
    pub memory_capacity: usize,
    /// Entries in the memory tier.
    pub memory_entries: usize,
    /// Disk tier capacity (0: none).
    pub disk_capacity: u64,
    /// Bytes written to the disk tier.
    pub disk_written: u64,
    /// Bytes read from the disk tier.
    pub disk_read: u64,
    /// Modelled round trip to the origin, waited before each origin request.
    pub rtt_to_origin_ms: f64,
    /// Dollars by line item, and without the CDN.
    pub cost: Cost,
    /// The disk tier: state, write failures, free space.
    #[serde(default)]
    pub disk: crate::health::DiskHealth,
    /// `/healthz` as JSON: `ok` or `degraded`, and why.
    #[serde(default)]
    pub health: crate::health::Report,
}

/// A count per outcome, and their sum.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByOutcome {
    /// Fresh hits.
    pub hit: u64,
    /// Misses.
    pub miss: u64,
    /// Served stale.
    pub stale: u64,
    /// Revalidated with a 304.
    pub revalidated: u64,
    /// Passed through.
    pub pass: u64,
    /// Edge-generated errors.
    pub error: u64,
    /// All of them.
    pub total: u64,
}

/// Requests by outcome.
pub type Requests = ByOutcome;

impl ByOutcome {
    /// From a count per outcome.
    pub fn of(f: impl Fn(Outcome) -> u64) -> ByOutcome {
        let mut b = ByOutcome {
            hit: f(Outcome::Hit),
            miss: f(Outcome::Miss),
            stale: f(Outcome::Stale),
            revalidated: f(Outcome::Revalidated),
            pass: f(Outcome::Pass),
            error: f(Outcome::Error),
            total: 0,
        };
        b.total = b.hit + b.miss + b.stale + b.revalidated + b.pass + b.error;
        b
    }

    /// The count of one outcome.
    pub fn get(&self, o: Outcome) -> u64 {
        match o {
            Outcome::Hit => self.hit,
            Outcome::Miss => self.miss,
            Outcome::Stale => self.stale,
            Outcome::Revalidated => self.revalidated,
            Outcome::Pass => self.pass,
            Outcome::Error => self.error,
        }
    }

    /// Hits and stale hits over the total (0 when there is nothing).
    pub fn cached_ratio(&self) -> f64 {
        if self.total == 0 { 0.0 } else { (self.hit + self.stale) as f64 / self.total as f64 }
    }
}

/// Admission setting and effect.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdmissionStats {
    /// Fills of a URL needed before it is stored (edge default; rules may differ).
    pub min_uses: u32,
    /// Window of those fills, seconds.
    pub window_secs: u64,
    /// Storable responses not stored because they were not used often enough.
    pub refused: u64,
}

/// What this edge's traffic costs.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// CDN egress, request fees, origin egress for fills, the fill fee, and their total.
    #[serde(flatten)]
    pub bill: Bill,
    /// The same client bytes served by the origin at its egress price.
    #[serde(with = "decimal")]
    pub without_cdn: Money,
    /// `without_cdn - total` (negative when the CDN costs more).
    #[serde(with = "decimal")]
    pub savings: Money,
}

impl Stats {
    /// The counters a bill is made from.
    pub fn usage(&self) -> Usage {
        Usage {
            bytes_to_clients: self.bytes_to_clients,
            requests: self.requests.total,
            bytes_from_origin: self.bytes_from_origin,
        }
    }
}

impl EdgeState {
    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let m = &self.meter;
        let requests = ByOutcome::of(|o| m.requests(o));
        let body_bytes = ByOutcome::of(|o| m.body_bytes(o));
        let (disk_written, disk_read) = self.store.disk_io();
        let usage =
            Usage { bytes_to_clients: m.clients.out(), requests: requests.total, bytes_from_origin: m.origin.input() };
        let bill = self.prices.bill(&usage, &Usage::default(), 0);
        let without_cdn = self.prices.without_cdn(0, usage.bytes_to_clients);
        Stats {
            edge: self.name.clone(),
            region: self.region.clone(),
            hit_ratio: requests.cached_ratio(),
            byte_hit_ratio: body_bytes.cached_ratio(),
            requests,
            body_bytes,
            bytes_to_clients: usage.bytes_to_clients,
            bytes_from_clients: m.clients.input(),
            client_connections: m.clients.connections.load(Ordering::Relaxed),
            client_connections_refused: m.clients.refused.load(Ordering::Relaxed),
            bytes_from_origin: usage.bytes_from_origin,
            bytes_to_origin: m.origin.out(),
            origin_requests: self.upstream.requests(),
            stored: m.stored.load(Ordering::Relaxed),
            not_stored: m.not_stored.load(Ordering::Relaxed),
            admission: AdmissionStats {
                min_uses: self.admission.min_uses,
                window_secs: self.admission.window.as_secs(),
                refused: self.admission.refused(),
            },
            inflight: self.flights.len(),
            memory_bytes: self.store.memory_usage(),
            memory_capacity: self.store.memory_capacity(),
            memory_entries: self.store.memory_entries(),
            disk_capacity: self.store.disk_capacity(),
            disk_written,
            disk_read,
            rtt_to_origin_ms: self.upstream.rtt().as_secs_f64() * 1000.0,
            cost: Cost { bill, without_cdn, savings: Money(without_cdn.0 - bill.total.0) },
            disk: self.health.disk(),
            health: self.health.report(),
        }
    }
}

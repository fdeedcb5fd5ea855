//! `/stats`: one edge's counters, ratios and bill, as JSON (the same
//! numbers `/metrics` exposes, and what `cdn stats` reads).
//!
//! Money is a decimal string of dollars with nine decimals (exact
//! nano-dollars, never a float). The bill prices this edge's own counters
//! with its region's prices, as if it were alone in its region; `cdn stats`
//! shares a region's volume tiers between its edges.

use std::sync::atomic::Ordering;

use world::Money;
use world::price::Usage;

use crate::state::EdgeState;

pub use api::edge::{AdmissionStats, ByOutcome, Cost, Requests, Stats};

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
            origin_errors: self.upstream.errors(),
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
            bus: self.relay.as_ref().map(|r| r.status()),
            shadow: self.shadow.as_ref().map(|s| s.stats(&self.prices)),
        }
    }
}

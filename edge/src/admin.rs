//! The admin listener (axum): `/healthz`, `/stats` (JSON).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::meter::Outcome;
use crate::state::EdgeState;

/// The admin routes.
pub fn router(st: Arc<EdgeState>) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/stats", get(stats)).with_state(st)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `/stats`: counters of this edge.
#[derive(Debug, Serialize, serde::Deserialize, Clone, PartialEq)]
pub struct Stats {
    /// Edge name.
    pub edge: String,
    /// Region, if in a world.
    pub region: Option<String>,
    /// Requests by outcome.
    pub requests: Requests,
    /// Requests served from the cache without the origin (fresh and stale hits) / all requests.
    pub hit_ratio: f64,
    /// Bytes written to clients (socket level).
    pub bytes_to_clients: u64,
    /// Bytes read from clients.
    pub bytes_from_clients: u64,
    /// Bytes read from the origin (socket level).
    pub bytes_from_origin: u64,
    /// Bytes written to the origin.
    pub bytes_to_origin: u64,
    /// Requests sent to the origin.
    pub origin_requests: u64,
    /// Responses stored.
    pub stored: u64,
    /// Responses not stored.
    pub not_stored: u64,
    /// Origin fetches in progress.
    pub inflight: usize,
    /// Memory tier bytes used and capacity.
    pub memory_bytes: usize,
    /// Memory tier capacity.
    pub memory_capacity: usize,
    /// Bytes written to and read from the disk tier.
    pub disk_written: u64,
    /// Bytes read from the disk tier.
    pub disk_read: u64,
}

/// Requests by outcome.
#[derive(Debug, Serialize, serde::Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requests {
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

impl EdgeState {
    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let m = &self.meter;
        let r = Requests {
            hit: m.requests(Outcome::Hit),
            miss: m.requests(Outcome::Miss),
            stale: m.requests(Outcome::Stale),
            revalidated: m.requests(Outcome::Revalidated),
            pass: m.requests(Outcome::Pass),
            error: m.requests(Outcome::Error),
            total: m.total(),
        };
        let (disk_written, disk_read) = self.store.disk_io();
        Stats {
            edge: self.name.clone(),
            region: self.region.clone(),
            hit_ratio: if r.total == 0 { 0.0 } else { (r.hit + r.stale) as f64 / r.total as f64 },
            requests: r,
            bytes_to_clients: m.clients.out(),
            bytes_from_clients: m.clients.input(),
            bytes_from_origin: m.origin.input(),
            bytes_to_origin: m.origin.out(),
            origin_requests: m.origin_requests.load(Ordering::Relaxed),
            stored: m.stored.load(Ordering::Relaxed),
            not_stored: m.not_stored.load(Ordering::Relaxed),
            inflight: self.flights.len(),
            memory_bytes: self.store.memory_usage(),
            memory_capacity: self.store.memory_capacity(),
            disk_written,
            disk_read,
        }
    }
}

async fn stats(State(st): State<Arc<EdgeState>>) -> Json<Stats> {
    Json(st.stats())
}

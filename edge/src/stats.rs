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

pub use api::edge::{
    AdmissionStats, ByOutcome, CacheTiers, ClusterStats, Cost, Requests, Stats, TierStats, UpstreamStats,
};

/// A snapshot of an edge's counters, ratios and bill: a read of every
/// owner's numbers (meter, store, upstream, admission, flights, health,
/// the bus relay), priced with the region's prices.
pub fn of(st: &EdgeState) -> Stats {
    let m = &st.meter;
    let requests = ByOutcome::of(|o| m.requests(o));
    let body_bytes = ByOutcome::of(|o| m.body_bytes(o));
    let (disk_written, disk_read) = st.store.disk_io();
    let mut s = Stats {
        edge: st.name.clone(),
        region: st.region.clone(),
        hit_ratio: requests.cached_ratio(),
        byte_hit_ratio: body_bytes.cached_ratio(),
        requests,
        body_bytes,
        bytes_to_clients: m.clients.out(),
        bytes_from_clients: m.clients.input(),
        client_connections: m.clients.connections.load(Ordering::Relaxed),
        client_connections_refused: m.clients.refused.load(Ordering::Relaxed),
        bytes_from_origin: m.origin.input(),
        bytes_to_origin: m.origin.out(),
        origin_requests: st.upstream.requests() + st.origins.as_ref().map_or(0, |o| o.replica_requests()),
        origin_errors: st.upstream.errors(),
        upstreams: std::iter::once(origin_line(st))
            .chain(st.shield.as_ref().map(|s| upstream(&s.upstream, m.shield.input(), m.shield.out())))
            .chain(
                st.cluster
                    .iter()
                    .flat_map(|c| c.peers.iter().flatten())
                    .map(|p| upstream(&p.upstream, p.traffic.input(), p.traffic.out())),
            )
            .chain(st.origins.iter().flat_map(|o| o.replicas()).map(|(name, u)| {
                let (received, sent) = u.bytes();
                UpstreamStats { name: format!("origin-{name}"), ..upstream(u, received, sent) }
            }))
            .collect(),
        stored: m.stored.load(Ordering::Relaxed),
        not_stored: m.not_stored.load(Ordering::Relaxed),
        admission: AdmissionStats {
            min_uses: st.admission.min_uses,
            window_secs: st.admission.window.as_secs(),
            refused: st.admission.refused(),
        },
        inflight: st.flights.len(),
        memory_bytes: st.store.memory_usage(),
        memory_capacity: st.store.memory_capacity(),
        memory_entries: st.store.memory_entries(),
        disk_capacity: st.store.disk_capacity(),
        disk_written,
        disk_read,
        cache_tiers: cache_tiers(st, &requests),
        rtt_to_origin_ms: st.upstream.rtt().as_secs_f64() * 1000.0,
        cost: Cost::default(),
        disk: st.health.disk(),
        health: st.health.report(),
        bus: st.relay.as_ref().map(|r| r.status()),
        shadow: st.shadow.as_ref().map(|s| s.stats(&st.prices)),
        tier: tier_of(st),
        origin_sites: st.origins.as_ref().map(|o| o.stats(&st.upstream)).unwrap_or_default(),
        origin_floor: st.origins.as_ref().map_or(0, |o| o.floors().global()),
        origin_floors_scoped: st.origins.as_ref().map_or(0, |o| o.floors().scoped() as u64),
        cluster: cluster_of(st),
    };
    // Priced from what the snapshot says, as `cdn stats` and run reports
    // price it (Stats::usage: tier requests, the shield link).
    let usage = s.usage();
    let bill = st.prices.bill(&usage, &Usage::default(), 0);
    let without_cdn = st.prices.without_cdn(0, usage.bytes_to_clients);
    s.cost = Cost { bill, without_cdn, savings: Money(without_cdn.0 - bill.total.0) };
    s
}

/// Its part in the tiers, when it fills from a shield or is one.
fn tier_of(st: &EdgeState) -> Option<TierStats> {
    let m = &st.meter;
    let base = TierStats {
        tier_requests: ByOutcome::of(|o| m.tier_requests(o)),
        bytes_to_tiers: m.tiers.out(),
        bytes_from_tiers: m.tiers.input(),
        tier_connections: m.tiers.connections.load(Ordering::Relaxed),
        behind_purge: m.behind_purge.load(Ordering::Relaxed),
        purge_seq: st.order.applied(),
        ..TierStats::default()
    };
    match &st.shield {
        Some(s) => Some(TierStats {
            role: "edge".into(),
            shield: Some(s.config.name.clone()),
            shield_state: Some(s.health.state().as_str().into()),
            shield_requests: s.upstream.requests(),
            shield_fallbacks: s.fallbacks(),
            bytes_from_shield: m.shield.input(),
            ..base
        }),
        None if st.is_shield => Some(TierStats { role: "shield".into(), ..base }),
        None => None,
    }
}

/// Its part in a hashed PoP, when it is a node of one.
fn cluster_of(st: &EdgeState) -> Option<ClusterStats> {
    let c = st.cluster.as_ref()?;
    let m = &st.meter;
    Some(ClusterStats {
        pop: c.config.pop.clone(),
        ring: c.ring_members(),
        ring_changes: c.ring_changes(),
        peer_fills: c.peer_fills(),
        peer_fallbacks: c.fallbacks(),
        hot_keys_kept: c.hot.kept_count(),
        bytes_from_peers: c.bytes_from_peers(),
        peer_requests: ByOutcome::of(|o| m.tier_requests(o)),
        bytes_to_peers: m.tiers.out(),
        behind_purge: m.behind_purge.load(Ordering::Relaxed),
    })
}

/// One upstream's line: its counters and the bytes at its sockets.
/// The origin's line: the world file's primary (with replicas, its own
/// bytes; each replica has a line of its own, `origin-{region}`).
fn origin_line(st: &EdgeState) -> UpstreamStats {
    let (received, sent) = match &st.origins {
        Some(_) => st.upstream.bytes(),
        None => (st.meter.origin.input(), st.meter.origin.out()),
    };
    upstream(&st.upstream, received, sent)
}

fn upstream(u: &crate::upstream::Upstream, bytes_received: u64, bytes_sent: u64) -> UpstreamStats {
    let c = u.connection_use();
    UpstreamStats {
        name: u.name().into(),
        addr: u.addr().to_string(),
        requests: u.requests(),
        errors: u.errors(),
        warm: c.warm,
        cold: c.cold,
        connections_opened: c.opened,
        bytes_received,
        bytes_sent,
        pool: u.pool().max_idle as u64,
        idle_timeout_secs: u.pool().idle_timeout.as_secs_f64(),
    }
}

/// Hits by tier: the request path counts those answered with an entry read
/// from disk; the rest of the hits (fast hits included) came from memory.
fn cache_tiers(st: &EdgeState, requests: &ByOutcome) -> CacheTiers {
    let (disk_reads, promotions) = st.store.tier_counts();
    let disk_hits = st.meter.disk_hits.load(Ordering::Relaxed);
    CacheTiers {
        memory_hits: (requests.hit + requests.stale).saturating_sub(disk_hits),
        disk_hits,
        disk_reads,
        promotions,
        promotion: st.store.promotion().as_str().into(),
        body_sends: st.store.bodies().map_or(0, |b| b.sends()),
    }
}

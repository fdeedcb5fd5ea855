//! The edge's metrics: `GET /metrics` on the admin listener renders, in
//! the Prometheus text format, the same numbers as `/stats` (names below,
//! labels `edge`, `outcome`, `tier`, `item`, `kind`, `state`, `upstream`,
//! `connection` only: fixed sets, never a URL; the shadow caches' families, `policy` and `size`
//! from the world's configuration: [`crate::shadow`]). What counts them
//! as requests are answered is [`crate::service`].

use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse;
use http::HeaderValue;
use http::header::CONTENT_TYPE;
use runtime::prom::{Encoder, Kind};

use crate::meter::Outcome;
use crate::state::EdgeState;

/// Requests by outcome (counter; `edge`, `outcome`).
pub const REQUESTS_TOTAL: &str = "cdnlab_edge_requests_total";
/// Response body bytes handed to client connections (counter; `edge`, `outcome`).
pub const RESPONSE_BODY_BYTES_TOTAL: &str = "cdnlab_edge_response_body_bytes_total";
/// Bytes written to clients at the socket, heads included (counter; `edge`).
pub const CLIENT_BYTES_SENT_TOTAL: &str = "cdnlab_edge_client_bytes_sent_total";
/// Bytes read from clients at the socket (counter; `edge`).
pub const CLIENT_BYTES_RECEIVED_TOTAL: &str = "cdnlab_edge_client_bytes_received_total";
/// Client connections accepted (counter; `edge`).
pub const CLIENT_CONNECTIONS_TOTAL: &str = "cdnlab_edge_client_connections_total";
/// Client connections refused at the connection limit (counter; `edge`).
pub const CLIENT_CONNECTIONS_REFUSED_TOTAL: &str = "cdnlab_edge_client_connections_refused_total";
/// Bytes read from the origin at the socket (counter; `edge`).
pub const ORIGIN_BYTES_RECEIVED_TOTAL: &str = "cdnlab_edge_origin_bytes_received_total";
/// Bytes written to the origin at the socket (counter; `edge`).
pub const ORIGIN_BYTES_SENT_TOTAL: &str = "cdnlab_edge_origin_bytes_sent_total";
/// Requests sent to the origin (counter; `edge`).
pub const ORIGIN_REQUESTS_TOTAL: &str = "cdnlab_edge_origin_requests_total";
/// Fills sent to the origin shield (counter; `edge`; edges behind a shield).
pub const SHIELD_REQUESTS_TOTAL: &str = "cdnlab_edge_shield_requests_total";
/// Bytes read from the origin shield at the socket (counter; `edge`).
pub const SHIELD_BYTES_RECEIVED_TOTAL: &str = "cdnlab_edge_shield_bytes_received_total";
/// Fills sent to the origin because the shield was down (counter; `edge`).
pub const SHIELD_FALLBACKS_TOTAL: &str = "cdnlab_edge_shield_fallbacks_total";
/// As the shield: lower tiers' requests (counter; `edge`).
pub const TIER_REQUESTS_TOTAL: &str = "cdnlab_edge_tier_requests_total";
/// Origin requests that failed or were answered 5xx (counter; `edge`).
pub const ORIGIN_ERRORS_TOTAL: &str = "cdnlab_edge_origin_errors_total";
/// Fetches from an upstream by the connection they found: `warm` (kept) or
/// `cold` (opened for them) (counter; `edge`, `upstream`, `connection`).
pub const UPSTREAM_FETCHES_TOTAL: &str = "cdnlab_edge_upstream_fetches_total";
/// Connections opened to an upstream (counter; `edge`, `upstream`).
pub const UPSTREAM_CONNECTIONS_OPENED_TOTAL: &str = "cdnlab_edge_upstream_connections_opened_total";
/// Responses stored (counter; `edge`).
pub const STORED_TOTAL: &str = "cdnlab_edge_stored_total";
/// Responses not stored, any reason (counter; `edge`).
pub const NOT_STORED_TOTAL: &str = "cdnlab_edge_not_stored_total";
/// Storable responses refused by admission (counter; `edge`).
pub const ADMISSION_REFUSED_TOTAL: &str = "cdnlab_edge_admission_refused_total";
/// Time from request to response head (histogram; `edge`, `outcome`).
pub const REQUEST_DURATION_SECONDS: &str = "cdnlab_edge_request_duration_seconds";
/// Time from an origin request to its response head (histogram; `edge`).
pub const ORIGIN_FETCH_DURATION_SECONDS: &str = "cdnlab_edge_origin_fetch_duration_seconds";
/// Bytes of entries in a cache tier (gauge; `edge`, `tier`).
pub const CACHE_BYTES: &str = "cdnlab_edge_cache_bytes";
/// Capacity of a cache tier (gauge; `edge`, `tier`).
pub const CACHE_CAPACITY_BYTES: &str = "cdnlab_edge_cache_capacity_bytes";
/// Entries in a cache tier (gauge; `edge`, `tier`; memory only: foyer 0.22
/// cannot count disk entries).
pub const CACHE_ENTRIES: &str = "cdnlab_edge_cache_entries";
/// Bytes written to the disk tier (counter; `edge`).
pub const DISK_WRITTEN_BYTES_TOTAL: &str = "cdnlab_edge_disk_written_bytes_total";
/// Bytes read from the disk tier (counter; `edge`).
pub const DISK_READ_BYTES_TOTAL: &str = "cdnlab_edge_disk_read_bytes_total";
/// Requests answered from the cache (hit or stale) by the tier whose entry
/// answered them (counter; `edge`, `tier`).
pub const CACHE_TIER_HITS_TOTAL: &str = "cdnlab_edge_cache_tier_hits_total";
/// Entries read from the disk tier (counter; `edge`).
pub const DISK_READS_TOTAL: &str = "cdnlab_edge_disk_reads_total";
/// Disk-tier reads copied into the memory tier (counter; `edge`).
pub const DISK_PROMOTIONS_TOTAL: &str = "cdnlab_edge_disk_promotions_total";
/// Disk hits whose body was sent from the body file with `sendfile` (counter; `edge`).
pub const DISK_BODY_SENDS_TOTAL: &str = "cdnlab_edge_disk_body_sends_total";
/// Origin fetches in progress (gauge; `edge`).
pub const INFLIGHT_FETCHES: &str = "cdnlab_edge_inflight_fetches";
/// Dollars by line item: `cdn_egress`, `requests`, `origin_egress`, `fill`, `total`
/// (counter; `edge`, `item`).
pub const COST_DOLLARS_TOTAL: &str = "cdnlab_edge_cost_dollars_total";
/// Dollars the same client bytes would cost served by the origin (counter; `edge`).
pub const WITHOUT_CDN_DOLLARS_TOTAL: &str = "cdnlab_edge_without_cdn_dollars_total";
/// 1 while the edge serves (gauge; `edge`): health, as `/healthz` says it.
pub const UP: &str = "cdnlab_edge_up";
/// 1 while the edge is degraded (gauge; `edge`): `/healthz` says why.
pub const DEGRADED: &str = "cdnlab_edge_degraded";
/// Disk writes that failed (counter; `edge`, `kind`: `journal`, `snapshot`, `cache`).
pub const DISK_WRITE_ERRORS_TOTAL: &str = "cdnlab_edge_disk_write_errors_total";
/// The disk tier's state (gauge; `edge`, `state`: `ok`, `failing`, `off`; 1 for the current one).
pub const DISK_STATE: &str = "cdnlab_edge_disk_state";
/// Free bytes on the data directory's filesystem (gauge; `edge`).
pub const DISK_FREE_BYTES: &str = "cdnlab_edge_disk_free_bytes";
/// Purges applied but not persisted (gauge; `edge`).
pub const PURGES_NOT_PERSISTED: &str = "cdnlab_edge_purges_not_persisted";
/// Values read from disk that the purge index did not vouch for, dropped (counter; `edge`).
pub const DISK_DROPPED_TOTAL: &str = "cdnlab_edge_disk_dropped_entries_total";

/// The Prometheus exposition of an edge.
pub fn prometheus(st: &EdgeState) -> String {
    let s = crate::stats::of(st);
    let edge = s.edge.as_str();
    let e = [("edge", edge)];
    let mut p = Encoder::new();
    p.family(REQUESTS_TOTAL, Kind::Counter, "Requests by outcome.");
    for o in Outcome::ALL {
        p.sample(&[("edge", edge), ("outcome", o.as_str())], s.requests.get(o));
    }
    p.family(RESPONSE_BODY_BYTES_TOTAL, Kind::Counter, "Response body bytes handed to client connections.");
    for o in Outcome::ALL {
        p.sample(&[("edge", edge), ("outcome", o.as_str())], s.body_bytes.get(o));
    }
    p.single(
        CLIENT_BYTES_SENT_TOTAL,
        Kind::Counter,
        "Bytes written to clients at the socket, heads included.",
        &e,
        s.bytes_to_clients,
    );
    p.single(
        CLIENT_BYTES_RECEIVED_TOTAL,
        Kind::Counter,
        "Bytes read from clients at the socket.",
        &e,
        s.bytes_from_clients,
    );
    p.single(CLIENT_CONNECTIONS_TOTAL, Kind::Counter, "Client connections accepted.", &e, s.client_connections);
    p.single(
        CLIENT_CONNECTIONS_REFUSED_TOTAL,
        Kind::Counter,
        "Client connections refused (503) at the connection limit.",
        &e,
        s.client_connections_refused,
    );
    p.single(
        ORIGIN_BYTES_RECEIVED_TOTAL,
        Kind::Counter,
        "Bytes read from the origin at the socket.",
        &e,
        s.bytes_from_origin,
    );
    p.single(
        ORIGIN_BYTES_SENT_TOTAL,
        Kind::Counter,
        "Bytes written to the origin at the socket.",
        &e,
        s.bytes_to_origin,
    );
    p.single(ORIGIN_REQUESTS_TOTAL, Kind::Counter, "Requests sent to the origin.", &e, s.origin_requests);
    p.single(
        ORIGIN_ERRORS_TOTAL,
        Kind::Counter,
        "Origin requests that failed (no connection, no answer in time, broken) or were answered 5xx.",
        &e,
        s.origin_errors,
    );
    p.family(
        UPSTREAM_FETCHES_TOTAL,
        Kind::Counter,
        "Upstream fetches, by whether their connection was kept (warm) or new (cold).",
    );
    for u in &s.upstreams {
        p.sample(&[("edge", edge), ("upstream", &u.name), ("connection", "warm")], u.warm)
            .sample(&[("edge", edge), ("upstream", &u.name), ("connection", "cold")], u.cold);
    }
    p.family(UPSTREAM_CONNECTIONS_OPENED_TOTAL, Kind::Counter, "Connections opened to an upstream.");
    for u in &s.upstreams {
        p.sample(&[("edge", edge), ("upstream", &u.name)], u.connections_opened);
    }
    p.single(STORED_TOTAL, Kind::Counter, "Responses stored.", &e, s.stored);
    p.single(NOT_STORED_TOTAL, Kind::Counter, "Responses not stored, any reason.", &e, s.not_stored);
    p.single(
        ADMISSION_REFUSED_TOTAL,
        Kind::Counter,
        "Storable responses not stored because their URL was not used often enough yet.",
        &e,
        s.admission.refused,
    );
    p.family(REQUEST_DURATION_SECONDS, Kind::Histogram, "Time from request to response head, by outcome.");
    for o in Outcome::ALL {
        p.histogram(&[("edge", edge), ("outcome", o.as_str())], &st.meter.durations(o));
    }
    p.family(
        ORIGIN_FETCH_DURATION_SECONDS,
        Kind::Histogram,
        "Time from an origin request to its response head or failure (the modelled RTT wait before it excluded).",
    )
    .histogram(&e, &st.meter.origin_fetch.snapshot());
    p.family(CACHE_BYTES, Kind::Gauge, "Bytes of entries in a cache tier.")
        .sample(&[("edge", edge), ("tier", "memory")], s.memory_bytes);
    p.family(CACHE_CAPACITY_BYTES, Kind::Gauge, "Capacity of a cache tier.")
        .sample(&[("edge", edge), ("tier", "memory")], s.memory_capacity)
        .sample(&[("edge", edge), ("tier", "disk")], s.disk_capacity);
    p.family(CACHE_ENTRIES, Kind::Gauge, "Entries in a cache tier.")
        .sample(&[("edge", edge), ("tier", "memory")], s.memory_entries);
    p.single(DISK_WRITTEN_BYTES_TOTAL, Kind::Counter, "Bytes written to the disk tier.", &e, s.disk_written);
    p.single(DISK_READ_BYTES_TOTAL, Kind::Counter, "Bytes read from the disk tier.", &e, s.disk_read);
    p.family(
        CACHE_TIER_HITS_TOTAL,
        Kind::Counter,
        "Requests answered from the cache (hit or stale), by the tier that held the entry.",
    )
    .sample(&[("edge", edge), ("tier", "memory")], s.cache_tiers.memory_hits)
    .sample(&[("edge", edge), ("tier", "disk")], s.cache_tiers.disk_hits);
    p.single(DISK_READS_TOTAL, Kind::Counter, "Entries read from the disk tier.", &e, s.cache_tiers.disk_reads);
    p.single(
        DISK_PROMOTIONS_TOTAL,
        Kind::Counter,
        "Disk-tier reads copied into the memory tier.",
        &e,
        s.cache_tiers.promotions,
    );
    p.single(
        DISK_BODY_SENDS_TOTAL,
        Kind::Counter,
        "Disk hits whose body was sent from the body file with sendfile.",
        &e,
        s.cache_tiers.body_sends,
    );
    p.single(INFLIGHT_FETCHES, Kind::Gauge, "Origin fetches in progress.", &e, s.inflight);
    let b = &s.cost.bill;
    p.family(COST_DOLLARS_TOTAL, Kind::Counter, "Dollars by line item, at the region's list prices.")
        .sample(&[("edge", edge), ("item", "cdn_egress")], b.cdn_egress)
        .sample(&[("edge", edge), ("item", "requests")], b.requests)
        .sample(&[("edge", edge), ("item", "origin_egress")], b.origin_egress)
        .sample(&[("edge", edge), ("item", "fill")], b.fill)
        .sample(&[("edge", edge), ("item", "inter_tier")], b.inter_tier)
        .sample(&[("edge", edge), ("item", "total")], b.total);
    if let Some(t) = &s.tier {
        p.single(SHIELD_REQUESTS_TOTAL, Kind::Counter, "Fills sent to the origin shield.", &e, t.shield_requests);
        p.single(SHIELD_BYTES_RECEIVED_TOTAL, Kind::Counter, "Bytes read from the shield.", &e, t.bytes_from_shield);
        p.single(
            SHIELD_FALLBACKS_TOTAL,
            Kind::Counter,
            "Fills sent to the origin, the shield down.",
            &e,
            t.shield_fallbacks,
        );
        p.single(TIER_REQUESTS_TOTAL, Kind::Counter, "Lower tiers' requests (the shield).", &e, t.tier_requests.total);
    }
    p.single(
        WITHOUT_CDN_DOLLARS_TOTAL,
        Kind::Counter,
        "Dollars the same client bytes would cost served by the origin.",
        &e,
        s.cost.without_cdn,
    );
    p.single(UP, Kind::Gauge, "1 while the edge serves.", &e, 1u64);
    p.single(
        DEGRADED,
        Kind::Gauge,
        "1 while the edge is degraded (/healthz says why).",
        &e,
        u64::from(s.health.status != "ok"),
    );
    let d = &s.disk;
    p.family(DISK_WRITE_ERRORS_TOTAL, Kind::Counter, "Disk writes that failed, by kind.")
        .sample(&[("edge", edge), ("kind", "journal")], d.journal_write_errors)
        .sample(&[("edge", edge), ("kind", "snapshot")], d.snapshot_write_errors)
        .sample(&[("edge", edge), ("kind", "cache")], d.cache_write_errors);
    p.family(DISK_STATE, Kind::Gauge, "The disk tier's state: 1 for the current one.");
    for state in crate::health::DiskState::ALL {
        p.sample(&[("edge", edge), ("state", state.as_str())], u64::from(state == d.state));
    }
    if let Some(free) = d.free_bytes {
        p.single(DISK_FREE_BYTES, Kind::Gauge, "Free bytes on the data directory's filesystem.", &e, free);
    }
    p.single(PURGES_NOT_PERSISTED, Kind::Gauge, "Purges applied but not persisted.", &e, d.unpersisted_purges);
    p.single(
        DISK_DROPPED_TOTAL,
        Kind::Counter,
        "Values read from disk that the purge index did not vouch for, dropped.",
        &e,
        d.dropped_entries,
    );
    if let Some(sh) = &s.shadow {
        crate::shadow::prometheus(&mut p, edge, sh);
    }
    p.finish()
}

/// `GET /metrics`.
pub async fn handler(State(st): State<Arc<EdgeState>>) -> impl IntoResponse {
    ([(CONTENT_TYPE, HeaderValue::from_static(runtime::prom::CONTENT_TYPE))], prometheus(&st))
}

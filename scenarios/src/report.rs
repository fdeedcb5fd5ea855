//! The report of a run: the answer up front (latency with and without the
//! CDN per client region, origin offload, cost with and without it line by
//! line, a month at this rate, a verdict in words), then totals, per edge,
//! per client region, a per-second time series, what each event did, notes
//! that reconcile the tables, and the scenario's expectations. Written as
//! `report.json`, `report.md` and SVG charts; summarised on the terminal.
//!
//! Warm-up: requests planned before the warm-up ends (`warmup = "20s"` or
//! a count) are left out of every statistic but the time series, and the
//! edges' counters (hence the bill) count from the poll at its end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use world::price::Usage;
use world::{ByteSize, World};

pub mod charts;
pub mod links;
pub mod nodes;
pub mod sites;
pub mod timing;

use crate::driver::{Kind, NONE, ORIGIN, Sample};
use crate::scenario::{Field, Scenario, parse_expectation};

/// Seconds in the month a run is projected to (30 days).
pub const MONTH_S: f64 = 30.0 * 86_400.0;

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// The arm (side-by-side runs), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    /// Its question.
    pub question: Option<String>,
    /// World name.
    pub world: String,
    /// The origin: `cdnlab` (the synthetic one) or your URL.
    pub origin: String,
    /// The origin's region.
    pub origin_region: String,
    /// Seed.
    pub seed: u64,
    /// Simulated seconds per wall second.
    pub time_scale: f64,
    /// Wall seconds of traffic (warm-up included).
    pub duration_s: f64,
    /// The warm-up left out of the statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmupRow>,
    /// Client-side totals (after the warm-up).
    pub totals: Totals,
    /// Per edge (from the edges' own counters).
    pub edges: Vec<EdgeRow>,
    /// Per client region.
    pub regions: Vec<RegionRow>,
    /// Time to first byte and total time, per client region and size band.
    pub timing: timing::Timing,
    /// Per edge upstream link: warm and cold fetches, bytes.
    pub links: Vec<links::LinkRow>,
    /// Per PoP node: its requests, share, hit ratio, latency, work as an
    /// owner (worlds with PoPs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<nodes::NodeRow>,
    /// A replicated origin: requests, bytes and egress per site.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origin_sites: Vec<sites::SiteRow>,
    /// One row per second (warm-up included).
    pub series: Vec<Second>,
    /// What each event did.
    pub events: Vec<EventRow>,
    /// Money, this run.
    pub cost: Cost,
    /// A month of traffic at this run's rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<Month>,
    /// What this run says, in words, from the numbers above.
    pub verdict: String,
    /// What a reader should know to read the tables (why counts differ,
    /// an edge that stopped answering, a cache still warming up).
    pub notes: Vec<String>,
    /// The scenario's expectations and their outcome.
    pub expectations: Vec<Check>,
    /// The load driver's own CPU use.
    pub driver: DriverCpu,
    /// A trace workload: each edge's live hit ratio beside the offline
    /// model of the same requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace_compare::TraceComparison>,
    /// Each edge's what-if caches beside its real cache (edges with a
    /// `shadow` setting; their counters since the edge started).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<crate::shadow::EdgeShadows>,
}

/// The warm-up.
#[derive(Debug, Clone, Serialize, Default)]
pub struct WarmupRow {
    /// It ended this many seconds after the start.
    pub until_s: f64,
    /// Requests it held (left out of the statistics).
    pub requests: u64,
}

/// Client-side totals.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Totals {
    /// Requests sent.
    pub requests: u64,
    /// Requests by outcome.
    pub by_kind: BTreeMap<String, u64>,
    /// Fresh and stale hits / requests.
    pub hit_ratio: f64,
    /// Bytes served from edge caches / all bytes received.
    pub byte_hit_ratio: f64,
    /// Origin offload: the share of the bytes the edges sent clients that
    /// the origin did not have to send (1 − bytes fetched from the origin
    /// / bytes sent to clients, edge counters).
    pub origin_offload: f64,
    /// Failed requests.
    pub errors: u64,
    /// errors / requests.
    pub error_ratio: f64,
    /// Bodies that did not match their Content-Digest.
    pub corrupt: u64,
    /// Responses older than a purge acknowledged before their request.
    pub served_after_purge: u64,
    /// Body bytes received by clients.
    pub bytes: u64,
    /// Latency percentiles (measured: the servers pace by the network
    /// model), ms.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Latency without the CDN (modelled: each request a cold fetch of its
    /// response from the origin over the link between the client's region
    /// and the origin's, [`crate::estimate`]), median, ms.
    pub origin_only_p50_ms: f64,
    /// The same, 95th percentile.
    pub origin_only_p95_ms: f64,
    /// Requests completed per wall second (after the warm-up).
    pub achieved_rps: f64,
    /// Requests the edges sent the origin (after the warm-up; with an
    /// origin shield, the shield's and any edge's fallback).
    pub origin_requests: u64,
    /// Bytes the edges read from the origin (socket, after the warm-up).
    pub origin_bytes: u64,
    /// Distinct objects the clients requested (after the warm-up).
    pub unique_objects: u64,
    /// `origin_requests / unique_objects`: 1 when each object is fetched
    /// once for all edges (a shield collapsing their misses).
    pub origin_requests_per_object: f64,
    /// Fills the edges sent an origin shield.
    pub shield_fills: u64,
    /// Bytes the edges read from the shield (the edge→shield links).
    pub inter_tier_bytes: u64,
}

/// One edge.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EdgeRow {
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Requests the edge counted (requests that reached it).
    pub requests: u64,
    /// Its hit ratio.
    pub hit_ratio: f64,
    /// Bytes to clients (socket).
    pub bytes_to_clients: u64,
    /// Bytes from the origin (socket).
    pub bytes_from_origin: u64,
    /// Origin requests.
    pub origin_requests: u64,
    /// Fills sent to an origin shield.
    pub shield_fills: u64,
    /// Bytes read from the shield.
    pub bytes_from_shield: u64,
    /// As the shield: lower tiers' requests.
    pub tier_requests: u64,
    /// CDN egress + requests + origin egress for its fills + fill
    /// (+ inter-tier transfer), dollars.
    pub cost_usd: f64,
}

/// One client region.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RegionRow {
    /// Name.
    pub name: String,
    /// Requests its clients sent.
    pub requests: u64,
    /// Of those, failed.
    pub errors: u64,
    /// Hit ratio seen by these clients.
    pub hit_ratio: f64,
    /// Latency percentiles with the CDN, ms.
    pub p50_ms: f64,
    /// 95th.
    pub p95_ms: f64,
    /// 99th.
    pub p99_ms: f64,
    /// Without the CDN (each request a cold fetch from the origin,
    /// [`crate::estimate`]), median, ms.
    pub without_cdn_p50_ms: f64,
    /// The same, 95th percentile.
    pub without_cdn_p95_ms: f64,
    /// Median latency of its misses (the request went to the origin, or
    /// to a shield), ms; 0 without misses.
    pub miss_p50_ms: f64,
    /// Where its requests were sent (the server the client's DNS answer
    /// named, failed requests included): name → requests.
    pub served_by: BTreeMap<String, u64>,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Second {
    /// Seconds since the start.
    pub t: u32,
    /// Requests planned in this second.
    pub requests: u64,
    /// Hit ratio in this second.
    pub hit_ratio: f64,
    /// Hit ratio per edge (name → ratio), edges that served requests.
    pub edge_hit_ratio: BTreeMap<String, f64>,
    /// Requests the origin received in this second.
    pub origin_requests: u64,
    /// Errors.
    pub errors: u64,
    /// Median latency, ms.
    pub p50_ms: f64,
}

/// An event and its effect.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EventRow {
    /// When it fired, seconds since the start.
    pub at_s: f64,
    /// Kind.
    pub kind: String,
    /// What was done.
    pub detail: String,
    /// What it did (purge propagation, edges that failed, …).
    pub effect: String,
}

/// Money, with and without the CDN, by line item.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Cost {
    /// CDN egress to clients.
    pub cdn_egress_usd: f64,
    /// CDN requests.
    pub cdn_requests_usd: f64,
    /// Origin egress to the edges (cache fill).
    pub origin_egress_usd: f64,
    /// Fill fee charged by the CDN.
    pub fill_usd: f64,
    /// Transfer between tiers (edges' bytes from an origin shield).
    pub inter_tier_usd: f64,
    /// Origin egress for what it served clients directly (no edge healthy).
    pub origin_direct_usd: f64,
    /// Total with the CDN.
    pub total_usd: f64,
    /// The same client traffic straight from the origin (its egress).
    pub origin_only_usd: f64,
    /// origin_only − total (negative: the CDN costs more).
    pub savings_usd: f64,
}

/// A month of the run's traffic (its per-second rate after the warm-up,
/// times 30 days), priced through the volume tiers that volume reaches.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Month {
    /// Requests in the month.
    pub requests: u64,
    /// Bytes the edges send clients in the month.
    pub bytes_to_clients: u64,
    /// The month's bill with the CDN, by line item, and without it.
    pub cost: Cost,
    /// origin_only − total, dollars.
    pub savings_usd: f64,
    /// The CDN egress tier each region's volume reaches.
    pub tiers: Vec<TierReached>,
}

/// The egress tier a region's month of traffic reaches.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TierReached {
    /// Region.
    pub region: String,
    /// Its CDN egress in the month.
    pub bytes: u64,
    /// The tier, from 1.
    pub tier: usize,
    /// Its price, dollars per GB (2^30 bytes).
    pub usd_per_gb: f64,
}

/// An expectation and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Report field.
    pub field: String,
    /// As written (`>= 0.85`).
    pub want: String,
    /// The measured value.
    pub actual: f64,
    /// Whether it holds.
    pub ok: bool,
}

/// The driver's CPU use.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DriverCpu {
    /// CPU seconds of the `cdn run` process (driver and reporting).
    pub cpu_s: f64,
    /// Share of the machine's CPU time during the run.
    pub share: f64,
}

/// Counters of one edge between two moments of a run.
#[derive(Debug, Clone, Default)]
pub struct EdgeDelta {
    /// Requests.
    pub requests: u64,
    /// Hits + stale.
    pub hits: u64,
    /// Bytes to clients.
    pub bytes_to_clients: u64,
    /// Bytes from the origin.
    pub bytes_from_origin: u64,
    /// Origin requests.
    pub origin_requests: u64,
    /// Its upstream links (by upstream name).
    pub links: links::Links,
    /// Fills sent to an origin shield (edges behind one).
    pub shield_requests: u64,
    /// Bytes read from the shield (the edge→shield link).
    pub bytes_from_shield: u64,
    /// As the shield: lower tiers' requests.
    pub tier_requests: u64,
}

impl EdgeDelta {
    /// What the bill is made of.
    pub fn usage(&self) -> Usage {
        Usage {
            bytes_to_clients: self.bytes_to_clients,
            requests: self.requests + self.tier_requests,
            bytes_from_origin: self.bytes_from_origin,
            bytes_inter_tier: self.bytes_from_shield,
        }
    }

    /// `self − earlier`, counter by counter.
    pub fn since(&self, earlier: &EdgeDelta) -> EdgeDelta {
        EdgeDelta {
            requests: self.requests.saturating_sub(earlier.requests),
            hits: self.hits.saturating_sub(earlier.hits),
            bytes_to_clients: self.bytes_to_clients.saturating_sub(earlier.bytes_to_clients),
            bytes_from_origin: self.bytes_from_origin.saturating_sub(earlier.bytes_from_origin),
            origin_requests: self.origin_requests.saturating_sub(earlier.origin_requests),
            links: self
                .links
                .iter()
                .map(|(k, c)| (k.clone(), earlier.links.get(k).map_or(*c, |e| c.since(e))))
                .collect(),
            shield_requests: self.shield_requests.saturating_sub(earlier.shield_requests),
            bytes_from_shield: self.bytes_from_shield.saturating_sub(earlier.bytes_from_shield),
            tier_requests: self.tier_requests.saturating_sub(earlier.tier_requests),
        }
    }
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn server_name(w: &World, edge: u8) -> String {
    match edge {
        ORIGIN => "origin".into(),
        NONE => "none".into(),
        e => w.edges.get(e as usize).map_or("?".into(), |e| e.name.clone()),
    }
}

/// Inputs of [`build`].
pub struct Inputs<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its world.
    pub world: &'a World,
    /// Client samples (all, warm-up included).
    pub samples: &'a [Sample],
    /// Edge counter deltas after the warm-up, by edge index.
    pub edges: &'a [EdgeDelta],
    /// Origin requests per second of the run.
    pub origin_per_second: &'a [u64],
    /// Event rows.
    pub events: Vec<EventRow>,
    /// Wall seconds of traffic.
    pub duration_s: f64,
    /// When the warm-up ended (seconds since the start) and how many
    /// requests it held; none: no warm-up.
    pub warmup: Option<WarmupRow>,
    /// Driver CPU.
    pub driver: DriverCpu,
    /// Distinct objects (paths) requested after the warm-up.
    pub unique_objects: u64,
    /// PoP nodes' peer requests after the warm-up ([`nodes::since`]).
    pub node_counts: &'a nodes::NodeCounts,
}

/// The cost rows of a roll-up.
fn cost_of(r: &world::price::RollUp) -> Cost {
    Cost {
        cdn_egress_usd: r.total.cdn_egress.as_usd(),
        cdn_requests_usd: r.total.requests.as_usd(),
        origin_egress_usd: r.total.origin_egress.as_usd(),
        fill_usd: r.total.fill.as_usd(),
        inter_tier_usd: r.total.inter_tier.as_usd(),
        origin_direct_usd: r.direct.as_usd(),
        total_usd: r.with_cdn.as_usd(),
        origin_only_usd: r.without_cdn.as_usd(),
        savings_usd: r.savings().as_usd(),
    }
}

/// Builds the report.
pub fn build(i: Inputs<'_>) -> Report {
    let (s, w, all) = (i.scenario, i.world, i.samples);
    let from_ms = i.warmup.as_ref().map_or(0, |x| (x.until_s * 1000.0) as u32);
    let samples: Vec<Sample> = all.iter().filter(|x| x.at_ms >= from_ms).copied().collect();
    let samples = &samples[..];
    let measured_s = (i.duration_s - i.warmup.as_ref().map_or(0.0, |x| x.until_s)).max(1e-9);
    let mut t = Totals { requests: samples.len() as u64, ..Default::default() };
    let mut lat: Vec<u32> = Vec::with_capacity(samples.len());
    let mut cache_bytes = 0u64;
    let mut direct_bytes = 0u64;
    for x in samples {
        *t.by_kind.entry(format!("{:?}", x.kind).to_lowercase()).or_default() += 1;
        t.errors += (x.kind == Kind::Error) as u64;
        t.corrupt += x.corrupt as u64;
        t.served_after_purge += x.stale_after_purge as u64;
        t.bytes += x.bytes as u64;
        if matches!(x.kind, Kind::Hit | Kind::Stale) {
            cache_bytes += x.bytes as u64;
        }
        if x.kind == Kind::Origin {
            direct_bytes += x.bytes as u64;
        }
        if x.kind != Kind::Error {
            lat.push(x.latency_us);
        }
    }
    let n = t.requests.max(1) as f64;
    let hits = samples.iter().filter(|x| matches!(x.kind, Kind::Hit | Kind::Stale)).count() as f64;
    t.hit_ratio = hits / n;
    t.byte_hit_ratio = cache_bytes as f64 / t.bytes.max(1) as f64;
    t.error_ratio = t.errors as f64 / n;
    lat.sort_unstable();
    (t.p50_ms, t.p95_ms, t.p99_ms) = (percentile(&lat, 0.5), percentile(&lat, 0.95), percentile(&lat, 0.99));
    t.achieved_rps = t.requests as f64 / measured_s;
    let sent: u64 = i.edges.iter().map(|e| e.bytes_to_clients).sum();
    let fetched: u64 = i.edges.iter().map(|e| e.bytes_from_origin).sum();
    t.origin_offload = if sent == 0 { 0.0 } else { 1.0 - fetched as f64 / sent as f64 };
    t.origin_requests = i.edges.iter().map(|e| e.origin_requests).sum();
    t.origin_bytes = fetched;
    t.unique_objects = i.unique_objects;
    t.origin_requests_per_object = t.origin_requests as f64 / i.unique_objects.max(1) as f64;
    t.shield_fills = i.edges.iter().map(|e| e.shield_requests).sum();
    t.inter_tier_bytes = i.edges.iter().map(|e| e.bytes_from_shield).sum();
    let to_origin = crate::estimate::links_to(w, &w.origin.region);
    let without = |x: &Sample| {
        crate::estimate::cold_fetch_us(to_origin.get(x.region as usize).and_then(|l| l.as_ref()), x.bytes as u64)
    };
    let mut origin_only: Vec<u32> = samples.iter().filter(|x| x.kind != Kind::Error).map(without).collect();
    origin_only.sort_unstable();
    (t.origin_only_p50_ms, t.origin_only_p95_ms) = (percentile(&origin_only, 0.5), percentile(&origin_only, 0.95));

    // The bill: one roll-up (world::price), the same `cdn stats` makes.
    let usage: Vec<(&str, Usage)> = w
        .edges
        .iter()
        .enumerate()
        .map(|(k, e)| (e.region.as_str(), i.edges.get(k).cloned().unwrap_or_default().usage()))
        .collect();
    let bills = w.roll_up(&usage, direct_bytes);
    let edges: Vec<EdgeRow> = w
        .edges
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let d = i.edges.get(k).cloned().unwrap_or_default();
            EdgeRow {
                name: e.name.clone(),
                region: e.region.clone(),
                requests: d.requests,
                hit_ratio: d.hits as f64 / d.requests.max(1) as f64,
                bytes_to_clients: d.bytes_to_clients,
                bytes_from_origin: d.bytes_from_origin,
                origin_requests: d.origin_requests,
                shield_fills: d.shield_requests,
                bytes_from_shield: d.bytes_from_shield,
                tier_requests: d.tier_requests,
                cost_usd: bills.edges[k].total.as_usd(),
            }
        })
        .collect();
    let cost = cost_of(&bills);

    // A month at this rate, through the tiers that volume reaches.
    let scale = MONTH_S / measured_s;
    let month = (t.requests > 0).then(|| {
        let scaled: Vec<(&str, Usage)> = usage
            .iter()
            .map(|(r, u)| {
                let x = |v: u64| (v as f64 * scale).round() as u64;
                (
                    *r,
                    Usage {
                        bytes_to_clients: x(u.bytes_to_clients),
                        requests: x(u.requests),
                        bytes_from_origin: x(u.bytes_from_origin),
                        bytes_inter_tier: x(u.bytes_inter_tier),
                    },
                )
            })
            .collect();
        let m = w.roll_up(&scaled, (direct_bytes as f64 * scale) as u64);
        let mut per_region: BTreeMap<&str, u64> = BTreeMap::new();
        for (r, u) in &scaled {
            *per_region.entry(r).or_default() += u.bytes_to_clients;
        }
        let tiers = w
            .regions
            .iter()
            .filter_map(|r| {
                let bytes = *per_region.get(r.name.as_str())?;
                let (tier, price) = w.egress_tier(&r.name, bytes);
                Some(TierReached { region: r.name.clone(), bytes, tier: tier + 1, usd_per_gb: price.as_usd() })
            })
            .collect();
        Month {
            requests: (t.requests as f64 * scale).round() as u64,
            bytes_to_clients: scaled.iter().map(|(_, u)| u.bytes_to_clients).sum(),
            cost: cost_of(&m),
            savings_usd: m.savings().as_usd(),
            tiers,
        }
    });

    // Per client region.
    let mut regions = Vec::new();
    for (ri, r) in w.regions.iter().enumerate() {
        let mine: Vec<&Sample> = samples.iter().filter(|x| x.region as usize == ri).collect();
        if mine.is_empty() {
            continue;
        }
        let mut l: Vec<u32> = mine.iter().filter(|x| x.kind != Kind::Error).map(|x| x.latency_us).collect();
        l.sort_unstable();
        let mut served_by = BTreeMap::new();
        for x in &mine {
            *served_by.entry(server_name(w, x.edge)).or_default() += 1;
        }
        let h = mine.iter().filter(|x| matches!(x.kind, Kind::Hit | Kind::Stale)).count();
        let mut without_l: Vec<u32> = mine.iter().filter(|x| x.kind != Kind::Error).map(|x| without(x)).collect();
        without_l.sort_unstable();
        regions.push(RegionRow {
            name: r.name.clone(),
            requests: mine.len() as u64,
            errors: mine.iter().filter(|x| x.kind == Kind::Error).count() as u64,
            hit_ratio: h as f64 / mine.len() as f64,
            p50_ms: percentile(&l, 0.5),
            p95_ms: percentile(&l, 0.95),
            p99_ms: percentile(&l, 0.99),
            without_cdn_p50_ms: percentile(&without_l, 0.5),
            without_cdn_p95_ms: percentile(&without_l, 0.95),
            miss_p50_ms: {
                let mut m: Vec<u32> = mine.iter().filter(|x| x.kind == Kind::Miss).map(|x| x.latency_us).collect();
                m.sort_unstable();
                percentile(&m, 0.5)
            },
            served_by,
        });
    }

    // Per second, warm-up included.
    let secs = (i.duration_s.ceil() as usize).max(all.iter().map(|x| x.at_ms as usize / 1000 + 1).max().unwrap_or(0));
    let mut series: Vec<Second> = (0..secs).map(|t| Second { t: t as u32, ..Default::default() }).collect();
    let mut hits_by: Vec<BTreeMap<String, (u64, u64)>> = vec![BTreeMap::new(); secs];
    let mut lat_by: Vec<Vec<u32>> = vec![Vec::new(); secs];
    let mut hit_count = vec![0u64; secs];
    for x in all {
        let b = (x.at_ms / 1000) as usize;
        if b >= secs {
            continue;
        }
        series[b].requests += 1;
        series[b].errors += (x.kind == Kind::Error) as u64;
        let hit = matches!(x.kind, Kind::Hit | Kind::Stale);
        hit_count[b] += hit as u64;
        if x.kind != Kind::Error {
            let e = hits_by[b].entry(server_name(w, x.edge)).or_default();
            e.0 += hit as u64;
            e.1 += 1;
        }
        lat_by[b].push(x.latency_us);
    }
    for (b, row) in series.iter_mut().enumerate() {
        row.hit_ratio = hit_count[b] as f64 / row.requests.max(1) as f64;
        row.edge_hit_ratio = hits_by[b].iter().map(|(k, (h, n))| (k.clone(), *h as f64 / (*n).max(1) as f64)).collect();
        lat_by[b].sort_unstable();
        row.p50_ms = percentile(&lat_by[b], 0.5);
        row.origin_requests = i.origin_per_second.get(b).copied().unwrap_or(0);
    }

    let mut r = Report {
        scenario: s.name.clone(),
        arm: None,
        question: s.question.clone(),
        world: w.name.clone(),
        origin: s.origin.url.clone().unwrap_or_else(|| "cdnlab".into()),
        origin_region: w.origin.region.clone(),
        seed: s.seed,
        time_scale: w.time_scale,
        duration_s: i.duration_s,
        warmup: i.warmup,
        totals: t,
        edges,
        regions,
        timing: timing::of(samples, w),
        links: links::rows(w, i.edges),
        nodes: nodes::rows(w, samples, i.node_counts),
        origin_sites: sites::rows(w, i.edges),
        series,
        events: i.events,
        cost,
        month,
        verdict: String::new(),
        notes: Vec::new(),
        expectations: Vec::new(),
        driver: i.driver,
        trace: None,
        shadow: Vec::new(),
    };
    r.notes = notes(&r, w);
    r.verdict = verdict(&r);
    r.expectations = check_expectations(s, &r);
    r
}

/// Notes that explain what the tables show.
fn notes(r: &Report, w: &World) -> Vec<String> {
    let mut v = Vec::new();
    // Requests a region sent to an edge against what the edge counted.
    for e in &r.edges {
        let sent: u64 = r.regions.iter().map(|g| g.served_by.get(&e.name).copied().unwrap_or(0)).sum();
        if sent != e.requests {
            v.push(format!(
                "edge {}: clients sent it {} requests (the client-regions table, by the edge their DNS answer named) and it \
                 counted {} (the edges table: requests that reached it{}){}.",
                e.name,
                group(sent),
                group(e.requests),
                if r.warmup.is_some() { ", counted from the first poll after the warm-up" } else { "" },
                if sent > e.requests { "; the difference failed before reaching it (a killed or restarting edge)" } else { "" }
            ));
        }
    }
    // An edge that stopped answering for a while.
    for e in &w.edges {
        let served: Vec<bool> = r.series.iter().map(|s| s.edge_hit_ratio.contains_key(&e.name)).collect();
        let (Some(first), Some(last)) = (served.iter().position(|b| *b), served.iter().rposition(|b| *b)) else {
            continue;
        };
        let mut t = first;
        while t < last {
            if !served[t] {
                let end = t + served[t..].iter().position(|b| *b).unwrap_or(0);
                v.push(format!(
                    "edge {} answered no request from {t} s to {end} s (its line in the hit-ratio chart stops there): its \
                     clients were sent elsewhere until GeoDNS saw it healthy again and their cached answers expired \
                     (DNS TTL {}).",
                    e.name, w.geodns.ttl
                ));
                t = end;
            }
            t += 1;
        }
        // stopped for good (the last second or so may hold no request by chance)
        if last + 2 < served.len() {
            v.push(format!(
                "edge {} answered no request from {} s to the end of the run (its line in the hit-ratio chart stops \
                 there): its clients were sent elsewhere; they come back only once GeoDNS sees it healthy again ({} \
                 good checks, every {}) and their cached answers expire (DNS TTL {}).",
                e.name,
                last + 1,
                w.geodns.health.rise,
                w.geodns.health.interval,
                w.geodns.ttl
            ));
        }
    }
    // A cache still warming up at the end.
    let n = r.series.len();
    if n >= 10 {
        let ratio = |a: usize, b: usize| {
            let (h, q) = r.series[a..b]
                .iter()
                .fold((0.0, 0u64), |(h, q), s| (h + s.hit_ratio * s.requests as f64, q + s.requests));
            h / q.max(1) as f64
        };
        let (a, b) = (ratio(n * 6 / 10, n * 8 / 10), ratio(n * 8 / 10, n));
        if b - a > 0.03 {
            v.push(format!(
                "the hit ratio was still climbing at the end ({a:.3} → {b:.3} over the last 40% of the run): the cache was \
                 not warm yet; a longer run, or a `warmup`, measures a warmer one."
            ));
        }
    }
    v
}

/// A count with thousands separators: `12,345`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dollars as a person reads them: `$1,234`, `$12.34`, `$0.0123`.
pub fn usd(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    if a >= 1000.0 {
        format!("{sign}${}", group(a.round() as u64))
    } else if a >= 1.0 {
        format!("{sign}${a:.2}")
    } else {
        format!("{sign}${a:.4}")
    }
}

/// What this run says, in a few sentences computed from the numbers.
fn verdict(r: &Report) -> String {
    let t = &r.totals;
    let mut s = String::new();
    let mut faster = Vec::new();
    let mut same = Vec::new();
    for g in &r.regions {
        let (with, without) = (g.p50_ms, g.without_cdn_p50_ms);
        if without - with >= 10.0 && with < 0.8 * without {
            faster.push(format!("{} {with:.1} ms instead of {without:.1} ms", g.name));
        } else {
            same.push(format!("{} {with:.1} ms against {without:.1} ms", g.name));
        }
    }
    if !faster.is_empty() {
        let _ = write!(s, "With the CDN, the median request is faster for {}", faster.join(", "));
        if !same.is_empty() {
            let _ = write!(s, "; no faster for {} (near the origin)", same.join(", "));
        }
        s.push_str(". ");
    } else if !same.is_empty() {
        let _ = write!(s, "The CDN does not make the median request faster: {}. ", same.join(", "));
    }
    let _ = write!(
        s,
        "The edges answered {:.0}% of requests from their caches and spared the origin {:.0}% of the bytes clients received (origin offload {:.3}). ",
        t.hit_ratio * 100.0,
        t.origin_offload.max(0.0) * 100.0,
        t.origin_offload
    );
    if t.errors > 0 {
        let _ = write!(s, "{} requests ({:.1}%) failed. ", group(t.errors), t.error_ratio * 100.0);
    }
    if let Some(m) = &r.month {
        let what = if m.savings_usd >= 0.0 {
            format!("saves {}", usd(m.savings_usd))
        } else {
            format!("costs {} more", usd(-m.savings_usd))
        };
        let _ = write!(
            s,
            "At list prices a month of this traffic ({} requests, {}) costs {} with the CDN and {} without: the CDN {what} a month",
            group(m.requests),
            ByteSize(m.bytes_to_clients),
            usd(m.cost.total_usd),
            usd(m.cost.origin_only_usd),
        );
        if m.savings_usd < 0.0 {
            s.push_str(
                " (CDN egress is priced above the origin's own egress at these volumes; it pays in latency, offload and \
                 resilience, not in dollars: docs/cost.md)",
            );
        }
        s.push('.');
    }
    if r.notes.iter().any(|n| n.contains("still climbing")) {
        s.push_str(" The cache was still warming up at the end: a longer run would show more hits.");
    }
    s
}

/// The scenario's expectations judged on `r`; a field the run did not
/// produce (the model gap of a synthetic workload) fails, with NaN.
pub fn check_expectations(s: &Scenario, r: &Report) -> Vec<Check> {
    s.expect
        .iter()
        .filter_map(|(k, v)| {
            let (cmp, want) = parse_expectation(v).ok()?;
            let actual = r.field(k).unwrap_or(f64::NAN);
            Some(Check { field: k.clone(), want: v.clone(), actual, ok: cmp.holds(actual, want) })
        })
        .collect()
}

impl Report {
    /// The value of the expectable field called `name` (`None`: no such
    /// field, or the run did not produce it).
    pub fn field(&self, name: &str) -> Option<f64> {
        self.value(Field::named(name)?)
    }

    /// The value of field `f` (`None`: the run did not produce it).
    pub fn value(&self, f: Field) -> Option<f64> {
        match f {
            Field::Requests => Some(self.totals.requests as f64),
            Field::HitRatio => Some(self.totals.hit_ratio),
            Field::ByteHitRatio => Some(self.totals.byte_hit_ratio),
            Field::OriginOffload => Some(self.totals.origin_offload),
            Field::Errors => Some(self.totals.errors as f64),
            Field::ErrorRatio => Some(self.totals.error_ratio),
            Field::Corrupt => Some(self.totals.corrupt as f64),
            Field::ServedAfterPurge => Some(self.totals.served_after_purge as f64),
            Field::P50Ms => Some(self.totals.p50_ms),
            Field::P95Ms => Some(self.totals.p95_ms),
            Field::P99Ms => Some(self.totals.p99_ms),
            Field::OriginOnlyP50Ms => Some(self.totals.origin_only_p50_ms),
            Field::CostUsd => Some(self.cost.total_usd),
            Field::OriginOnlyCostUsd => Some(self.cost.origin_only_usd),
            Field::SavingsUsd => Some(self.cost.savings_usd),
            Field::MonthlySavingsUsd => self.month.as_ref().map(|m| m.savings_usd),
            Field::ModelHitRatioGap => self.model_gap(),
            Field::OriginRequests => Some(self.totals.origin_requests as f64),
            Field::OriginRequestsPerObject => Some(self.totals.origin_requests_per_object),
            Field::MaxNodeLoadShare => nodes::max_load_share(&self.nodes),
        }
    }

    /// With an origin shield: the tiers in one line (fills from the
    /// shield and from the origin, bytes on each link).
    fn tiers_line(&self) -> Option<String> {
        let shield = self.edges.iter().find(|e| e.tier_requests > 0);
        if self.totals.shield_fills == 0 {
            return None;
        }
        let t = &self.totals;
        Some(format!(
            "tiers: the edges sent {} fills to the shield{} ({} on the edge→shield links), the origin got {} ({} on the shield→origin link and fallbacks)",
            group(t.shield_fills),
            shield.map_or(String::new(), |e| format!(" {}", e.name)),
            ByteSize(t.inter_tier_bytes),
            group(t.origin_requests),
            ByteSize(t.origin_bytes)
        ))
    }

    /// The largest difference between an edge's live hit ratio and its
    /// offline model's, over the edges of a trace workload.
    pub fn model_gap(&self) -> Option<f64> {
        let t = self.trace.as_ref()?;
        t.edges.iter().map(|e| (e.live_hit_ratio - e.model_hit_ratio).abs()).reduce(f64::max)
    }

    /// The lines comparing live and offline hit ratios.
    fn trace_lines(&self) -> Vec<String> {
        let Some(t) = &self.trace else { return Vec::new() };
        let mut v = vec![format!(
            "{:<10} {:>9} {:<9} {:>10} {:>10} {:>10} {:>12} {:>12}",
            "edge", "requests", "policy", "memory", "live hit", "model hit", "live entry", "model body"
        )];
        for e in &t.edges {
            v.push(format!(
                "{:<10} {:>9} {:<9} {:>10} {:>10.3} {:>10.3} {:>12} {:>12}{}",
                e.edge,
                e.requests,
                e.policy,
                world::ByteSize(e.memory).to_string(),
                e.live_hit_ratio,
                e.model_hit_ratio,
                e.live_mean_entry.map_or("—".into(), |b| world::ByteSize(b).to_string()),
                world::ByteSize(e.model_mean_body).to_string(),
                e.model_hit_ratio_with_disk.map_or(String::new(), |h| format!("  (with disk {h:.3})"))
            ));
        }
        v
    }

    /// Whether every expectation holds.
    pub fn passed(&self) -> bool {
        self.expectations.iter().all(|c| c.ok)
    }

    /// The cost lines: with the CDN by line item, and without.
    fn cost_line(c: &Cost) -> String {
        let mut s = format!(
            "with the CDN {} (CDN egress {}, requests {}, origin egress for fills {}, fill fee {}",
            usd(c.total_usd),
            usd(c.cdn_egress_usd),
            usd(c.cdn_requests_usd),
            usd(c.origin_egress_usd),
            usd(c.fill_usd)
        );
        if c.inter_tier_usd > 0.0 {
            let _ = write!(s, ", inter-tier transfer {}", usd(c.inter_tier_usd));
        }
        if c.origin_direct_usd > 0.0 {
            let _ = write!(s, ", origin egress to clients served directly {}", usd(c.origin_direct_usd));
        }
        let verdict = if c.savings_usd >= 0.0 {
            format!("the CDN saves {}", usd(c.savings_usd))
        } else {
            format!("the CDN costs {} more", usd(-c.savings_usd))
        };
        let _ = write!(s, "); without the CDN {} (origin egress for every byte): {verdict}", usd(c.origin_only_usd));
        s
    }

    /// The terminal summary.
    pub fn summary(&self) -> String {
        let t = &self.totals;
        let mut s = String::new();
        let name = match &self.arm {
            Some(a) => format!("{} [{a}]", self.scenario),
            None => self.scenario.clone(),
        };
        let _ = writeln!(s, "\n{name}: {} requests in {:.1}s ({:.0}/s)", t.requests, self.duration_s, t.achieved_rps);
        if let Some(q) = &self.question {
            let _ = writeln!(s, "  question: {q}");
        }
        if let Some(w) = &self.warmup {
            let _ = writeln!(
                s,
                "  warm-up: the first {:.1} s ({} requests) left out of every number below",
                w.until_s, w.requests
            );
        }
        let _ = writeln!(
            s,
            "  hit ratio {:.3}   byte hit ratio {:.3}   origin offload {:.3}   errors {} ({:.4})",
            t.hit_ratio, t.byte_hit_ratio, t.origin_offload, t.errors, t.error_ratio
        );
        let _ = writeln!(
            s,
            "  (origin offload: the share of the bytes the edges sent clients that the origin did not send)"
        );
        let _ = writeln!(
            s,
            "  latency p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   without the CDN p50 {:.1} ms   p95 {:.1} ms",
            t.p50_ms, t.p95_ms, t.p99_ms, t.origin_only_p50_ms, t.origin_only_p95_ms
        );
        let _ = writeln!(s, "  integrity: {} corrupt, {} served after a purge", t.corrupt, t.served_after_purge);
        let _ = writeln!(
            s,
            "  origin: {} requests for {} distinct objects ({:.2} per object), {} read from it",
            group(t.origin_requests),
            group(t.unique_objects),
            t.origin_requests_per_object,
            ByteSize(t.origin_bytes)
        );
        if let Some(line) = self.tiers_line() {
            let _ = writeln!(s, "  {line}");
        }
        let _ = writeln!(s, "  cost of this run: {}", Self::cost_line(&self.cost));
        if let Some(m) = &self.month {
            let tiers: Vec<String> = m
                .tiers
                .iter()
                .map(|x| format!("{} {} in tier {} (${:.3}/GB)", x.region, ByteSize(x.bytes), x.tier, x.usd_per_gb))
                .collect();
            let _ = writeln!(
                s,
                "  a month at this rate ({} requests, {} to clients; CDN egress {}): {}",
                group(m.requests),
                ByteSize(m.bytes_to_clients),
                tiers.join(", "),
                Self::cost_line(&m.cost)
            );
        }
        let _ = writeln!(
            s,
            "  {:<10} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8}   {:>16}",
            "region", "requests", "errors", "hit", "p50 ms", "p95 ms", "p99 ms", "without CDN p50"
        );
        for r in &self.regions {
            let _ = writeln!(
                s,
                "  {:<10} {:>9} {:>7} {:>8.3} {:>8.1} {:>8.1} {:>8.1}   {:>13.1} ms",
                r.name, r.requests, r.errors, r.hit_ratio, r.p50_ms, r.p95_ms, r.p99_ms, r.without_cdn_p50_ms
            );
        }
        s.push_str(&self.timing.render());
        if !self.links.is_empty() {
            s.push_str(&links::render(&self.links));
        }
        s.push_str(&nodes::render(&self.nodes));
        if !self.origin_sites.is_empty() {
            s.push_str(&sites::render(&self.origin_sites));
        }
        for e in &self.events {
            let _ = writeln!(s, "  event at {:>5.1}s {:<14} {} → {}", e.at_s, e.kind, e.detail, e.effect);
        }
        let lines = self.trace_lines();
        if !lines.is_empty() {
            let _ = writeln!(s, "  trace replay, live against the offline model of the same requests:");
            for l in lines {
                let _ = writeln!(s, "    {l}");
            }
        }
        for l in crate::shadow::render(&self.shadow, false).lines() {
            let _ = writeln!(s, "  {l}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        let _ = writeln!(s, "  what this run says: {}", self.verdict);
        if !self.expectations.is_empty() {
            let _ = writeln!(s, "  expectations:");
            for c in &self.expectations {
                let _ = writeln!(
                    s,
                    "    {} {:<20} {:<10} actual {:.4}",
                    if c.ok { "PASS" } else { "FAIL" },
                    c.field,
                    c.want,
                    c.actual
                );
            }
        }
        s
    }

    /// `report.md`.
    pub fn markdown(&self) -> String {
        let t = &self.totals;
        let mut s = match &self.arm {
            Some(a) => format!("# {} — arm `{a}`\n\n", self.scenario),
            None => format!("# {}\n\n", self.scenario),
        };
        if let Some(q) = &self.question {
            let _ = writeln!(s, "**Question.** {q}\n");
        }
        let _ = writeln!(
            s,
            "World `{}`, origin {} in {}, seed {}, time scale {}, {:.1} s of traffic, {} requests ({:.0}/s).{}\n",
            self.world,
            self.origin,
            self.origin_region,
            self.seed,
            self.time_scale,
            self.duration_s,
            group(t.requests),
            t.achieved_rps,
            self.warmup.as_ref().map_or(String::new(), |w| format!(
                " The first {:.1} s ({} requests) were a warm-up, left out of every number below.",
                w.until_s,
                group(w.requests)
            ))
        );
        let _ = writeln!(s, "## What this run says\n\n{}\n", self.verdict);
        let _ = writeln!(
            s,
            "## With and without the CDN\n\nLatency without the CDN is modelled: each request a cold fetch of its response from the origin ({}) over the link from the client's region (handshakes, slow start, bandwidth: docs/network.md); with the CDN it is measured, the servers pacing by the same model.\n",
            self.origin_region
        );
        let _ = writeln!(
            s,
            "| client region | requests | hit ratio | p50 with | p50 without | p95 with | p95 without |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for r in &self.regions {
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
                r.name,
                group(r.requests),
                r.hit_ratio,
                r.p50_ms,
                r.without_cdn_p50_ms,
                r.p95_ms,
                r.without_cdn_p95_ms
            );
        }
        let _ = writeln!(
            s,
            "| all | {} | {:.3} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |\n",
            group(t.requests),
            t.hit_ratio,
            t.p50_ms,
            t.origin_only_p50_ms,
            t.p95_ms,
            t.origin_only_p95_ms
        );
        let _ = writeln!(
            s,
            "**Origin offload** {:.3}: the share of the bytes the edges sent clients that the origin did not have to send (1 − bytes the edges fetched / bytes they sent).\n",
            t.origin_offload
        );
        let money = |c: &Cost| {
            [
                ("CDN egress to clients", c.cdn_egress_usd, 0.0),
                ("CDN request fees", c.cdn_requests_usd, 0.0),
                ("origin egress for the edges' fills", c.origin_egress_usd, 0.0),
                ("CDN fill fee", c.fill_usd, 0.0),
                ("origin egress to clients served directly", c.origin_direct_usd, 0.0),
                ("origin egress for every client byte", 0.0, c.origin_only_usd),
            ]
        };
        let _ = writeln!(
            s,
            "| dollars | this run, with | this run, without |{}\n| --- | ---: | ---: |{}",
            if self.month.is_some() { " a month, with | a month, without |" } else { "" },
            if self.month.is_some() { " ---: | ---: |" } else { "" }
        );
        let month = self.month.as_ref().map(|m| money(&m.cost));
        for (k, (name, with, without)) in money(&self.cost).iter().enumerate() {
            let cell = |v: f64| if v == 0.0 { "—".to_string() } else { usd(v) };
            let _ = write!(s, "| {name} | {} | {} |", cell(*with), cell(*without));
            if let Some(m) = &month {
                let _ = write!(s, " {} | {} |", cell(m[k].1), cell(m[k].2));
            }
            s.push('\n');
        }
        let _ = write!(s, "| **total** | **{}** | **{}** |", usd(self.cost.total_usd), usd(self.cost.origin_only_usd));
        if let Some(m) = &self.month {
            let _ = write!(s, " **{}** | **{}** |", usd(m.cost.total_usd), usd(m.cost.origin_only_usd));
        }
        s.push('\n');
        if let Some(m) = &self.month {
            let tiers: Vec<String> = m
                .tiers
                .iter()
                .map(|x| {
                    format!("{}: {} a month, tier {} (${:.3}/GB)", x.region, ByteSize(x.bytes), x.tier, x.usd_per_gb)
                })
                .collect();
            let _ = writeln!(
                s,
                "\nA month is this run's rate after the warm-up for 30 days: {} requests, {} to clients. CDN egress tiers reached: {}. (GB = 2^30 bytes; sizes binary: KiB, MiB, GiB, TiB.)",
                group(m.requests),
                ByteSize(m.bytes_to_clients),
                tiers.join("; ")
            );
        }
        let _ = writeln!(s, "\n## Totals\n\n| measure | value |\n| --- | ---: |");
        let rows = [
            ("hit ratio", format!("{:.3}", t.hit_ratio)),
            ("byte hit ratio", format!("{:.3}", t.byte_hit_ratio)),
            ("origin offload", format!("{:.3}", t.origin_offload)),
            ("errors", format!("{} ({:.4})", group(t.errors), t.error_ratio)),
            ("corrupt bodies", t.corrupt.to_string()),
            ("served after a purge", t.served_after_purge.to_string()),
            ("latency p50 / p95 / p99", format!("{:.1} / {:.1} / {:.1} ms", t.p50_ms, t.p95_ms, t.p99_ms)),
            ("body bytes received by clients", ByteSize(t.bytes).to_string()),
            ("driver CPU", format!("{:.1} s ({:.0}% of the machine)", self.driver.cpu_s, self.driver.share * 100.0)),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        let _ = writeln!(
            s,
            "\n## Edges\n\nRequests that reached each edge, from its own counters{}.\n\n| edge | region | requests | hit ratio | to clients | from origin | origin requests | $ |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            if self.warmup.is_some() { " (from the first poll after the warm-up)" } else { "" }
        );
        for e in &self.edges {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {} | {} | {} | {} |",
                e.name,
                e.region,
                group(e.requests),
                e.hit_ratio,
                ByteSize(e.bytes_to_clients),
                ByteSize(e.bytes_from_origin),
                group(e.origin_requests),
                usd(e.cost_usd)
            );
        }
        if let Some(line) = self.tiers_line() {
            let _ = writeln!(
                s,
                "\n{line}\n\n| edge | shield fills | origin fills | from the shield | lower-tier requests |\n| --- | ---: | ---: | ---: | ---: |"
            );
            for e in &self.edges {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    e.name,
                    group(e.shield_fills),
                    group(e.origin_requests),
                    ByteSize(e.bytes_from_shield),
                    group(e.tier_requests)
                );
            }
        }
        let _ = writeln!(
            s,
            "\n## Client regions\n\nRequests each region's clients sent, and where: the server their DNS answer named (failed requests included, so a request to a dead edge counts here and not in the edges table).\n\n| region | requests | errors | hit ratio | p50 ms | p95 ms | p99 ms | sent to |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for r in &self.regions {
            let by: Vec<String> = r.served_by.iter().map(|(k, v)| format!("{k} {}", group(*v))).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {:.1} | {:.1} | {:.1} | {} |",
                r.name,
                group(r.requests),
                group(r.errors),
                r.hit_ratio,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                by.join(", ")
            );
        }
        s.push_str(&nodes::markdown(&self.nodes));
        s.push_str(&self.timing.markdown());
        if !self.links.is_empty() {
            s.push_str(&links::markdown(&self.links));
        }
        if !self.origin_sites.is_empty() {
            s.push_str(&sites::markdown(&self.origin_sites));
        }
        if !self.notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n");
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        if !self.events.is_empty() {
            let _ = writeln!(s, "\n## Events\n\n| at (s) | event | what | effect |\n| ---: | --- | --- | --- |");
            for e in &self.events {
                let _ = writeln!(s, "| {:.1} | {} | {} | {} |", e.at_s, e.kind, e.detail, e.effect);
            }
        }
        if let Some(t) = &self.trace {
            let _ = writeln!(
                s,
                "\n## Live against the offline model\n\nEach edge's requests (plan order, errors left out) replayed through `cachesim` with its memory-tier policy at its memory capacity, counting bodies; the edge's memory tier also counts each entry's key and headers (its mean entry weight, from `/stats`, beside the model's mean cached body).\n\n| edge | requests | policy | memory | live hit ratio | model hit ratio | live mean entry | model mean body | model with disk |\n| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
            );
            for e in &t.edges {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.3} | {:.3} | {} | {} | {} |",
                    e.edge,
                    e.requests,
                    e.policy,
                    ByteSize(e.memory),
                    e.live_hit_ratio,
                    e.model_hit_ratio,
                    e.live_mean_entry.map_or("—".into(), |b| ByteSize(b).to_string()),
                    ByteSize(e.model_mean_body),
                    e.model_hit_ratio_with_disk.map_or("—".into(), |h| format!("{h:.3}"))
                );
            }
        }
        if !self.shadow.is_empty() {
            let _ = write!(s, "\n{}", crate::shadow::render(&self.shadow, true));
        }
        if !self.expectations.is_empty() {
            let _ = writeln!(s, "\n## Expectations\n\n| field | expected | actual | |\n| --- | --- | ---: | --- |");
            for c in &self.expectations {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.4} | {} |",
                    c.field,
                    c.want,
                    c.actual,
                    if c.ok { "pass" } else { "FAIL" }
                );
            }
        }
        let _ = writeln!(
            s,
            "\n## Charts\n\n![with and without the CDN](answer.svg)\n![hit ratio](hit-ratio.svg)\n![latency](latency.svg)\n![requests, origin requests and errors per second](origin.svg)\n![cost](cost.svg)"
        );
        s
    }

    /// Writes `report.json`, `report.md` and the charts into `dir`.
    pub fn write(&self, dir: &Path, samples: &[Sample], w: &World) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(self)?)?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        charts::write_all(self, samples, w, dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report whose series has `tokyo` answering in the seconds `on`.
    fn with_tokyo(on: impl Fn(usize) -> bool) -> Report {
        let mut r = Report::default();
        for t in 0..20 {
            let mut s = Second { t: t as u32, requests: 100, ..Default::default() };
            s.edge_hit_ratio.insert("seoul".into(), 0.9);
            if on(t) {
                s.edge_hit_ratio.insert("tokyo".into(), 0.9);
            }
            r.series.push(s);
        }
        r
    }

    #[test]
    fn an_edge_that_stops_answering_is_noted_with_the_dns_ttl_whether_or_not_it_comes_back() {
        let w = World::demo().unwrap();
        let back = notes(&with_tokyo(|t| !(8..14).contains(&t)), &w);
        assert!(back.iter().any(|n| n.starts_with("edge tokyo answered no request from 8 s to 14 s")), "{back:?}");
        let gone = notes(&with_tokyo(|t| t < 12), &w);
        assert!(
            gone.iter()
                .any(|n| n.starts_with("edge tokyo answered no request from 12 s to the end")
                    && n.contains("DNS TTL 20s")),
            "{gone:?}"
        );
        let always = notes(&with_tokyo(|_| true), &w);
        assert!(!always.iter().any(|n| n.contains("tokyo")), "{always:?}");
    }
}

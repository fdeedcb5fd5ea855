//! The report of a run: totals, per edge, per client region, a per-second
//! time series, what each event did, cost with and without the CDN, and the
//! scenario's expectations. Written as `report.json`, `report.md` and SVG
//! charts; summarised on the terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use world::World;

use crate::driver::{Kind, NONE, ORIGIN, Sample};
use crate::scenario::{Scenario, parse_expectation};

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Its question.
    pub question: Option<String>,
    /// World name.
    pub world: String,
    /// Seed.
    pub seed: u64,
    /// Simulated seconds per wall second.
    pub time_scale: f64,
    /// Wall seconds of traffic.
    pub duration_s: f64,
    /// Client-side totals.
    pub totals: Totals,
    /// Per edge (from the edges' own counters).
    pub edges: Vec<EdgeRow>,
    /// Per client region.
    pub regions: Vec<RegionRow>,
    /// One row per second.
    pub series: Vec<Second>,
    /// What each event did.
    pub events: Vec<EventRow>,
    /// Money.
    pub cost: Cost,
    /// The scenario's expectations and their outcome.
    pub expectations: Vec<Check>,
    /// The load driver's own CPU use.
    pub driver: DriverCpu,
    /// A trace workload: each edge's live hit ratio beside the offline
    /// model of the same requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace_compare::TraceComparison>,
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
    /// 1 − bytes the edges fetched from the origin / bytes they sent to clients.
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
    /// Latency percentiles (measured + modelled client RTT), ms.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Requests completed per wall second.
    pub achieved_rps: f64,
}

/// One edge.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EdgeRow {
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Requests the edge counted.
    pub requests: u64,
    /// Its hit ratio.
    pub hit_ratio: f64,
    /// Bytes to clients (socket).
    pub bytes_to_clients: u64,
    /// Bytes from the origin (socket).
    pub bytes_from_origin: u64,
    /// Origin requests.
    pub origin_requests: u64,
    /// CDN egress + requests + fill, in dollars.
    pub cost_usd: f64,
}

/// One client region.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RegionRow {
    /// Name.
    pub name: String,
    /// Requests.
    pub requests: u64,
    /// Hit ratio seen by these clients.
    pub hit_ratio: f64,
    /// Latency percentiles, ms.
    pub p50_ms: f64,
    /// 95th.
    pub p95_ms: f64,
    /// 99th.
    pub p99_ms: f64,
    /// Which servers answered: name → requests.
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

/// Money, with and without the CDN.
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
    /// Total with the CDN.
    pub total_usd: f64,
    /// The same client traffic straight from the origin.
    pub origin_only_usd: f64,
    /// origin_only − total.
    pub savings_usd: f64,
    /// Median latency if every client went to the origin region, ms (modelled RTT).
    pub origin_only_p50_ms: f64,
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

/// Counters of one edge between the start and the end of a run.
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
    /// Client samples.
    pub samples: &'a [Sample],
    /// Edge counter deltas, by edge index.
    pub edges: &'a [EdgeDelta],
    /// Origin requests per second of the run.
    pub origin_per_second: &'a [u64],
    /// Event rows.
    pub events: Vec<EventRow>,
    /// Wall seconds of traffic.
    pub duration_s: f64,
    /// Driver CPU.
    pub driver: DriverCpu,
}

/// Builds the report.
pub fn build(i: Inputs<'_>) -> Report {
    let (s, w, samples) = (i.scenario, i.world, i.samples);
    let mut t = Totals { requests: samples.len() as u64, ..Default::default() };
    let mut lat: Vec<u32> = Vec::with_capacity(samples.len());
    let mut cache_bytes = 0u64;
    for x in samples {
        *t.by_kind.entry(format!("{:?}", x.kind).to_lowercase()).or_default() += 1;
        t.errors += (x.kind == Kind::Error) as u64;
        t.corrupt += x.corrupt as u64;
        t.served_after_purge += x.stale_after_purge as u64;
        t.bytes += x.bytes as u64;
        if matches!(x.kind, Kind::Hit | Kind::Stale) {
            cache_bytes += x.bytes as u64;
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
    t.achieved_rps = t.requests as f64 / i.duration_s.max(1e-9);
    let sent: u64 = i.edges.iter().map(|e| e.bytes_to_clients).sum();
    let fetched: u64 = i.edges.iter().map(|e| e.bytes_from_origin).sum();
    t.origin_offload = if sent == 0 { 0.0 } else { 1.0 - fetched as f64 / sent as f64 };

    // Per edge, with its region's prices: edges of one region share that
    // region's volume tiers, every fill shares the origin's (the same bill
    // `cdn stats` makes, in integer nano-dollars).
    let mut bill = world::price::Bill::default();
    let mut edges = Vec::new();
    let mut used: BTreeMap<String, world::price::Usage> = BTreeMap::new();
    let mut origin_before = 0u64;
    for (idx, e) in w.edges.iter().enumerate() {
        let d = i.edges.get(idx).cloned().unwrap_or_default();
        let u = world::price::Usage {
            bytes_to_clients: d.bytes_to_clients,
            requests: d.requests,
            bytes_from_origin: d.bytes_from_origin,
        };
        let before = used.entry(e.region.clone()).or_default();
        let b = w.prices_in(&e.region).bill(&u, before, origin_before);
        *before = *before + u;
        origin_before += d.bytes_from_origin;
        bill = bill + b;
        edges.push(EdgeRow {
            name: e.name.clone(),
            region: e.region.clone(),
            requests: d.requests,
            hit_ratio: d.hits as f64 / d.requests.max(1) as f64,
            bytes_to_clients: d.bytes_to_clients,
            bytes_from_origin: d.bytes_from_origin,
            origin_requests: d.origin_requests,
            cost_usd: b.total.as_usd(),
        });
    }
    let origin_only = w.prices.without_cdn(0, sent.max(t.bytes));
    let cost = Cost {
        cdn_egress_usd: bill.cdn_egress.as_usd(),
        cdn_requests_usd: bill.requests.as_usd(),
        origin_egress_usd: bill.origin_egress.as_usd(),
        fill_usd: bill.fill.as_usd(),
        total_usd: bill.total.as_usd(),
        origin_only_usd: origin_only.as_usd(),
        savings_usd: (origin_only - bill.total).as_usd(),
        origin_only_p50_ms: 0.0,
    };
    let mut cost = cost;
    let mut origin_rtts: Vec<u32> = samples
        .iter()
        .filter_map(|x| w.rtt(&w.regions[x.region as usize].name, &w.origin.region))
        .map(|d| d.as_micros() as u32)
        .collect();
    origin_rtts.sort_unstable();
    cost.origin_only_p50_ms = percentile(&origin_rtts, 0.5);

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
        regions.push(RegionRow {
            name: r.name.clone(),
            requests: mine.len() as u64,
            hit_ratio: h as f64 / mine.len() as f64,
            p50_ms: percentile(&l, 0.5),
            p95_ms: percentile(&l, 0.95),
            p99_ms: percentile(&l, 0.99),
            served_by,
        });
    }

    // Per second.
    let secs =
        (i.duration_s.ceil() as usize).max(samples.iter().map(|x| x.at_ms as usize / 1000 + 1).max().unwrap_or(0));
    let mut series: Vec<Second> = (0..secs).map(|t| Second { t: t as u32, ..Default::default() }).collect();
    let mut hits_by: Vec<BTreeMap<String, (u64, u64)>> = vec![BTreeMap::new(); secs];
    let mut lat_by: Vec<Vec<u32>> = vec![Vec::new(); secs];
    let mut hit_count = vec![0u64; secs];
    for x in samples {
        let b = (x.at_ms / 1000) as usize;
        if b >= secs {
            continue;
        }
        series[b].requests += 1;
        series[b].errors += (x.kind == Kind::Error) as u64;
        let hit = matches!(x.kind, Kind::Hit | Kind::Stale);
        hit_count[b] += hit as u64;
        let e = hits_by[b].entry(server_name(w, x.edge)).or_default();
        e.0 += hit as u64;
        e.1 += 1;
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
        question: s.question.clone(),
        world: w.name.clone(),
        seed: s.seed,
        time_scale: w.time_scale,
        duration_s: i.duration_s,
        totals: t,
        edges,
        regions,
        series,
        events: i.events,
        cost,
        expectations: Vec::new(),
        driver: i.driver,
        trace: None,
    };
    r.expectations = check_expectations(s, &r);
    r
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
    /// The value of an expectable field.
    pub fn field(&self, name: &str) -> Option<f64> {
        let t = &self.totals;
        Some(match name {
            "requests" => t.requests as f64,
            "hit_ratio" => t.hit_ratio,
            "byte_hit_ratio" => t.byte_hit_ratio,
            "origin_offload" => t.origin_offload,
            "errors" => t.errors as f64,
            "error_ratio" => t.error_ratio,
            "corrupt" => t.corrupt as f64,
            "served_after_purge" => t.served_after_purge as f64,
            "p50_ms" => t.p50_ms,
            "p95_ms" => t.p95_ms,
            "p99_ms" => t.p99_ms,
            "cost_usd" => self.cost.total_usd,
            "origin_only_cost_usd" => self.cost.origin_only_usd,
            "savings_usd" => self.cost.savings_usd,
            "model_hit_ratio_gap" => self.model_gap()?,
            _ => return None,
        })
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

    /// The terminal summary.
    pub fn summary(&self) -> String {
        let t = &self.totals;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n{}: {} requests in {:.1}s ({:.0}/s)",
            self.scenario, t.requests, self.duration_s, t.achieved_rps
        );
        if let Some(q) = &self.question {
            let _ = writeln!(s, "  question: {q}");
        }
        let _ = writeln!(
            s,
            "  hit ratio {:.3}   byte hit ratio {:.3}   origin offload {:.3}   errors {} ({:.4})",
            t.hit_ratio, t.byte_hit_ratio, t.origin_offload, t.errors, t.error_ratio
        );
        let _ = writeln!(s, "  latency p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms", t.p50_ms, t.p95_ms, t.p99_ms);
        let _ = writeln!(s, "  integrity: {} corrupt, {} served after a purge", t.corrupt, t.served_after_purge);
        let c = &self.cost;
        let _ = writeln!(
            s,
            "  cost with CDN ${:.6} (egress {:.6}, requests {:.6}, fill {:.6}, origin egress {:.6}); origin only ${:.6}; saved ${:.6}",
            c.total_usd,
            c.cdn_egress_usd,
            c.cdn_requests_usd,
            c.fill_usd,
            c.origin_egress_usd,
            c.origin_only_usd,
            c.savings_usd
        );
        let _ = writeln!(
            s,
            "  {:<10} {:>9} {:>8} {:>9} {:>9} {:>9}",
            "region", "requests", "hit", "p50 ms", "p95 ms", "p99 ms"
        );
        for r in &self.regions {
            let _ = writeln!(
                s,
                "  {:<10} {:>9} {:>8.3} {:>9.1} {:>9.1} {:>9.1}",
                r.name, r.requests, r.hit_ratio, r.p50_ms, r.p95_ms, r.p99_ms
            );
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
        let mut s = format!("# {}\n\n", self.scenario);
        if let Some(q) = &self.question {
            let _ = writeln!(s, "**Question.** {q}\n");
        }
        let _ = writeln!(
            s,
            "World `{}`, seed {}, time scale {}, {:.1} s of traffic, {} requests ({:.0}/s).\n",
            self.world, self.seed, self.time_scale, self.duration_s, t.requests, t.achieved_rps
        );
        let _ = writeln!(s, "| measure | value |\n| --- | ---: |");
        let rows = [
            ("hit ratio", format!("{:.3}", t.hit_ratio)),
            ("byte hit ratio", format!("{:.3}", t.byte_hit_ratio)),
            ("origin offload", format!("{:.3}", t.origin_offload)),
            ("errors", format!("{} ({:.4})", t.errors, t.error_ratio)),
            ("corrupt bodies", t.corrupt.to_string()),
            ("served after a purge", t.served_after_purge.to_string()),
            ("latency p50 / p95 / p99", format!("{:.1} / {:.1} / {:.1} ms", t.p50_ms, t.p95_ms, t.p99_ms)),
            ("cost with the CDN", format!("${:.6}", self.cost.total_usd)),
            ("cost from the origin alone", format!("${:.6}", self.cost.origin_only_usd)),
            ("savings", format!("${:.6}", self.cost.savings_usd)),
            ("driver CPU", format!("{:.1} s ({:.0}% of the machine)", self.driver.cpu_s, self.driver.share * 100.0)),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        let _ = writeln!(
            s,
            "\n## Edges\n\n| edge | region | requests | hit ratio | bytes out | from origin | origin requests | $ |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for e in &self.edges {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {} | {} | {} | {:.6} |",
                e.name,
                e.region,
                e.requests,
                e.hit_ratio,
                e.bytes_to_clients,
                e.bytes_from_origin,
                e.origin_requests,
                e.cost_usd
            );
        }
        let _ = writeln!(
            s,
            "\n## Client regions\n\n| region | requests | hit ratio | p50 ms | p95 ms | p99 ms | served by |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for r in &self.regions {
            let by: Vec<String> = r.served_by.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {:.1} | {:.1} | {:.1} | {} |",
                r.name,
                r.requests,
                r.hit_ratio,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                by.join(", ")
            );
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
                    world::ByteSize(e.memory),
                    e.live_hit_ratio,
                    e.model_hit_ratio,
                    e.live_mean_entry.map_or("—".into(), |b| world::ByteSize(b).to_string()),
                    world::ByteSize(e.model_mean_body),
                    e.model_hit_ratio_with_disk.map_or("—".into(), |h| format!("{h:.3}"))
                );
            }
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
            "\n## Charts\n\n![hit ratio](hit-ratio.svg)\n![latency](latency.svg)\n![origin requests](origin.svg)\n![cost](cost.svg)"
        );
        s
    }

    /// Writes `report.json`, `report.md` and the charts into `dir`.
    pub fn write(&self, dir: &Path, samples: &[Sample], w: &World) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(self)?)?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        crate::charts::write_all(self, samples, w, dir)?;
        Ok(())
    }
}

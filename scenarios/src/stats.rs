//! `cdn stats`: every edge's traffic and bill, the totals, and what the same
//! client traffic would cost served straight from the origin.
//!
//! It reads each edge's `/stats` and the origin's `/stats` (admin
//! listeners of the world; with `--bus`, each edge's counters as it
//! publishes them on the bus, polling only the edges not heard there),
//! then prices the counters with the world's
//! prices: CDN egress, request fees, the origin's egress for what each edge
//! fetched and the CDN's fill fee. Edges of one region share the region's
//! CDN volume tiers, and all fills share the origin's tiers (each share is
//! priced after the previous ones, so the rows add up exactly). Bytes the
//! origin sent that did not go to an edge (its bytes out minus the edges'
//! fills) reached clients directly: they are priced at the origin's egress
//! too, after the fills.
//!
//! The counterfactual serves every client byte from the origin: the origin
//! egress price for every byte, and the modelled round trip from each
//! client region to the origin region for every request (with the CDN: the
//! round trip to the edge in the client's region, plus the edge–origin
//! round trip for requests the cache did not answer).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use api::edge::Stats;
use api::origin::StatsSnapshot;
use clap::Parser;
use serde::{Deserialize, Serialize};
use world::price::{Bill, GB, decimal};
use world::{Money, World};

/// Flags of `cdn stats`.
#[derive(Debug, Parser)]
pub struct StatsArgs {
    /// World file (default: the built-in demo world).
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Read the edges' counters from this control bus (each edge publishes
    /// its `/stats` every second; an edge not heard within 2.5 s is polled
    /// at its admin address), and report the edges registered there that
    /// the world file does not list (nodes that joined a running world;
    /// docs/bus.md).
    #[arg(long, env = bus::URL_ENV, value_name = "URL")]
    pub bus: Option<String>,
}

/// One edge's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeRow {
    /// Edge name.
    pub edge: String,
    /// Its region.
    pub region: String,
    /// Requests answered.
    pub requests: u64,
    /// Answered from the cache (fresh or stale) / all.
    pub hit_ratio: f64,
    /// Body bytes answered from the cache / all body bytes.
    pub byte_hit_ratio: f64,
    /// Bytes sent to clients (socket, heads included).
    pub bytes_to_clients: u64,
    /// Bytes read from the origin (socket).
    pub bytes_from_origin: u64,
    /// Dollars, the region's volume tiers shared with the region's other edges.
    pub bill: Bill,
    /// The same client bytes from the origin (its share of the origin's tiers).
    #[serde(with = "decimal")]
    pub without_cdn: Money,
    /// Modelled time of a request with the CDN, ms: a cold fetch of the
    /// edge's mean response from it over its region's own link, plus, for
    /// its miss share, a cold fetch of it from the origin ([`crate::estimate`]).
    pub fetch_ms: f64,
    /// Modelled time of the same request straight from the origin: a cold
    /// fetch over the link between the edge's region and the origin's, ms.
    pub fetch_without_cdn_ms: f64,
    /// How its counters were read: `bus` (published on the control bus)
    /// or `http` (its admin `/stats`).
    #[serde(default = "via_http")]
    pub via: String,
    /// Its upstreams (the origin): fetches on kept (warm) and new (cold)
    /// connections, bytes each way.
    #[serde(default)]
    pub upstreams: Vec<api::edge::UpstreamStats>,
}

fn via_http() -> String {
    "http".into()
}

/// The origin's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginRow {
    /// Its region.
    pub region: String,
    /// Requests it answered (edges' and anyone else's).
    pub requests: u64,
    /// Bytes it sent (socket).
    pub bytes_out: u64,
    /// Of those, bytes that did not go to an edge: clients served directly.
    pub bytes_direct: u64,
    /// Its internet egress for the direct bytes (after the fills, in its tiers).
    #[serde(with = "decimal")]
    pub direct_cost: Money,
}

/// Sums over the edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Requests.
    pub requests: u64,
    /// Hit ratio over all edges.
    pub hit_ratio: f64,
    /// Byte hit ratio over all edges.
    pub byte_hit_ratio: f64,
    /// Bytes to clients.
    pub bytes_to_clients: u64,
    /// Bytes from the origin.
    pub bytes_from_origin: u64,
    /// The edges' bills.
    pub bill: Bill,
    /// With the CDN, all in: the edges' bills and the origin's direct egress.
    #[serde(with = "decimal")]
    pub with_cdn: Money,
    /// Without the CDN: every client byte at the origin's egress price.
    #[serde(with = "decimal")]
    pub without_cdn: Money,
    /// `without_cdn - with_cdn` (negative: the CDN costs more).
    #[serde(with = "decimal")]
    pub savings: Money,
    /// Mean modelled time per request with the CDN (the edges' `fetch_ms`
    /// weighted by requests), ms.
    pub fetch_ms: f64,
    /// The same without the CDN.
    pub fetch_without_cdn_ms: f64,
}

/// An edge whose `/stats` could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unreachable {
    /// Edge name.
    pub edge: String,
    /// Why.
    pub error: String,
}

/// What `cdn stats` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// World name.
    pub world: String,
    /// Region of the origin.
    pub origin_region: String,
    /// One row per edge that answered, in world order.
    pub edges: Vec<EdgeRow>,
    /// The origin, if it answered.
    pub origin: Option<OriginRow>,
    /// Sums and the counterfactual.
    pub total: Totals,
    /// Edges that did not answer (not in the totals).
    pub unreachable: Vec<Unreachable>,
    /// Each edge's what-if caches, if it keeps any (edge/src/shadow.rs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<crate::shadow::EdgeShadows>,
    /// With an origin shield: each edge's place in the tiers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierRow>,
    /// Each edge's hits by cache tier and disk-tier reads (edges with a
    /// disk tier).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_tiers: Vec<CacheTierRow>,
    /// A replicated origin's sites as their admin APIs answered (filled
    /// in by `cdn stats`; the text report prints them after the tables).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origin_sites: Vec<crate::origins::SiteRow>,
}

/// One edge's hits by cache tier and what its disk tier read (docs/disk.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheTierRow {
    /// Edge name.
    pub edge: String,
    /// Its counters.
    pub counts: api::edge::CacheTiers,
    /// Bytes read from its disk tier's device.
    pub disk_read: u64,
}

/// One edge in an origin shield's tiers (docs/topology.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierRow {
    /// Edge name.
    pub edge: String,
    /// `shield` or `edge` (fills from the shield).
    pub role: String,
    /// Fills sent to the shield (edges).
    pub shield_fills: u64,
    /// Requests sent to the origin (fills, revalidations, passes).
    pub origin_fills: u64,
    /// Fills sent to the origin because the shield was down (in `origin_fills`).
    pub fallbacks: u64,
    /// Bytes on the link to the shield (edges: read from it) or to lower
    /// tiers (the shield: written to them).
    pub link_bytes: u64,
    /// Bytes read from the origin.
    pub origin_bytes: u64,
    /// Lower tiers' requests (the shield).
    pub tier_requests: u64,
    /// The shield as this edge sees it.
    pub shield_state: Option<String>,
    /// Lower tiers' fills answered without the cache, a purge not caught up with (the shield).
    pub behind_purge: u64,
    /// The world purge sequence applied.
    pub purge_seq: u64,
    /// The inter-tier transfer line of its bill.
    #[serde(with = "decimal")]
    pub inter_tier: Money,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn ms(d: Option<Duration>) -> f64 {
    d.map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The tiers table: per edge, fills from the shield and from the origin,
/// the bytes on each link and the inter-tier transfer's dollars.
fn render_tiers(rows: &[TierRow]) -> String {
    let mut s = String::from("\nTiers (origin shield; docs/topology.md)\n");
    let _ = writeln!(
        s,
        "{:<10} {:<7} {:>13} {:>13} {:>10} {:>14} {:>10} {:>13} {:>12} {:>13}",
        "edge",
        "role",
        "shield fills",
        "origin fills",
        "fallbacks",
        "GB tier link",
        "GB origin",
        "tier requests",
        "$ inter-tier",
        "shield state"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<10} {:<7} {:>13} {:>13} {:>10} {:>14} {:>10} {:>13} {:>12} {:>13}",
            r.edge,
            r.role,
            r.shield_fills,
            r.origin_fills,
            r.fallbacks,
            gb(r.link_bytes),
            gb(r.origin_bytes),
            r.tier_requests,
            r.inter_tier.to_string(),
            r.shield_state.as_deref().unwrap_or("-")
        );
    }
    s.push_str(
        "(GB tier link: an edge's bytes read from the shield, the shield's bytes written to lower tiers; \
         $ inter-tier: the edges' shield bytes at prices.inter_tier_usd_per_gb)\n",
    );
    let behind: u64 = rows.iter().map(|r| r.behind_purge).sum();
    if behind > 0 {
        let _ =
            writeln!(s, "({behind} lower-tier fills answered without the shield's cache: a purge not caught up with)");
    }
    s
}

impl Report {
    /// Prices the counters of every edge (`Err`: unreachable) and the origin.
    pub fn build(w: &World, edges: &[(String, Result<Stats, String>)], origin: Option<&StatsSnapshot>) -> Report {
        Report::build_via(w, edges, origin, &[])
    }

    /// [`Report::build`], saying which edges' counters came from the bus.
    pub fn build_via(
        w: &World,
        edges: &[(String, Result<Stats, String>)],
        origin: Option<&StatsSnapshot>,
        from_bus: &[String],
    ) -> Report {
        let mut unreachable = Vec::new();
        let mut answered: Vec<(String, String, &Stats)> = Vec::new();
        for (name, got) in edges {
            match got {
                Ok(s) => {
                    let region = w
                        .edge(name)
                        .map(|e| e.region.clone())
                        .or_else(|| s.region.clone())
                        .unwrap_or_else(|| "?".into());
                    answered.push((name.clone(), region, s));
                }
                Err(e) => unreachable.push(Unreachable { edge: name.clone(), error: e.clone() }),
            }
        }
        let usage: Vec<(&str, world::price::Usage)> =
            answered.iter().map(|(_, r, s)| (r.as_str(), s.usage())).collect();
        let fetched: u64 = usage.iter().map(|(_, u)| u.bytes_from_origin).sum();
        let direct = origin.map_or(0, |o| o.bytes_out.saturating_sub(fetched));
        let bills = w.roll_up(&usage, direct);
        let origin_region = w.origin.region.clone();
        let (mut cached, mut cached_body, mut body) = (0u64, 0u64, 0u64);
        let (mut rtt_sum, mut rtt_without_sum) = (0.0, 0.0);
        let mut rows = Vec::new();
        for (i, (name, region, s)) in answered.iter().enumerate() {
            let u = s.usage();
            let mean = s.body_bytes.total.checked_div(s.requests.total).unwrap_or(0);
            let cold = |to: &str| {
                w.link(region, to)
                    .map_or(0.0, |l| ms(Some(crate::estimate::fetch_time(&l, &world::transfer::Conn::Cold, mean))))
            };
            let to_edge = cold(region);
            let edge_to_origin = cold(&origin_region);
            let rtt_ms = to_edge + (1.0 - s.hit_ratio) * edge_to_origin;
            cached += s.requests.hit + s.requests.stale;
            cached_body += s.body_bytes.hit + s.body_bytes.stale;
            body += s.body_bytes.total;
            rtt_sum += rtt_ms * s.requests.total as f64;
            rtt_without_sum += edge_to_origin * s.requests.total as f64;
            rows.push(EdgeRow {
                edge: name.clone(),
                region: region.clone(),
                requests: s.requests.total,
                hit_ratio: s.hit_ratio,
                byte_hit_ratio: s.byte_hit_ratio,
                bytes_to_clients: u.bytes_to_clients,
                bytes_from_origin: u.bytes_from_origin,
                bill: bills.edges[i],
                without_cdn: bills.edges_without_cdn[i],
                fetch_ms: rtt_ms,
                fetch_without_cdn_ms: edge_to_origin,
                via: if from_bus.contains(name) { "bus" } else { "http" }.into(),
                upstreams: s.upstreams.clone(),
            });
        }
        let requests: u64 = rows.iter().map(|r| r.requests).sum();
        let bytes_to_clients: u64 = rows.iter().map(|r| r.bytes_to_clients).sum();
        let origin = origin.map(|o| OriginRow {
            region: origin_region.clone(),
            requests: o.requests,
            bytes_out: o.bytes_out,
            bytes_direct: direct,
            direct_cost: bills.direct,
        });
        let total = Totals {
            requests,
            hit_ratio: ratio(cached, requests),
            byte_hit_ratio: ratio(cached_body, body),
            bytes_to_clients,
            bytes_from_origin: fetched,
            bill: bills.total,
            with_cdn: bills.with_cdn,
            without_cdn: bills.without_cdn,
            savings: bills.savings(),
            fetch_ms: if requests == 0 { 0.0 } else { rtt_sum / requests as f64 },
            fetch_without_cdn_ms: if requests == 0 { 0.0 } else { rtt_without_sum / requests as f64 },
        };
        let shadow = crate::shadow::of(answered.iter().map(|(name, _, s)| (name.as_str(), Some(*s))));
        let tiers = answered
            .iter()
            .enumerate()
            .filter_map(|(i, (name, _, s))| {
                let t = s.tier.as_ref()?;
                let shield = t.role == "shield";
                Some(TierRow {
                    edge: name.clone(),
                    role: t.role.clone(),
                    shield_fills: t.shield_requests,
                    origin_fills: s.origin_requests,
                    fallbacks: t.shield_fallbacks,
                    link_bytes: if shield { t.bytes_to_tiers } else { t.bytes_from_shield },
                    origin_bytes: s.bytes_from_origin,
                    tier_requests: t.tier_requests.total,
                    shield_state: t.shield_state.clone(),
                    behind_purge: t.behind_purge,
                    purge_seq: t.purge_seq,
                    inter_tier: bills.edges[i].inter_tier,
                })
            })
            .collect();
        let cache_tiers = answered
            .iter()
            .filter(|(_, _, s)| s.disk_capacity > 0 || s.cache_tiers.disk_reads > 0)
            .map(|(name, _, s)| CacheTierRow {
                edge: name.clone(),
                counts: s.cache_tiers.clone(),
                disk_read: s.disk_read,
            })
            .collect();
        Report {
            world: w.name.clone(),
            origin_region,
            edges: rows,
            origin,
            total,
            unreachable,
            shadow,
            tiers,
            cache_tiers,
            origin_sites: Vec::new(),
        }
    }

    /// The tables.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "cdnlab stats: world `{}` (counters since each component started; GB = 2^30 bytes)\n",
            self.world
        );
        let _ = writeln!(
            s,
            "{:<10} {:<9} {:>9} {:>7} {:>9} {:>10} {:>10} {:>13} {:>11} {:>16} {:>10} {:>11}",
            "edge",
            "region",
            "requests",
            "hit",
            "byte hit",
            "GB out",
            "GB origin",
            "$ CDN egress",
            "$ requests",
            "$ origin egress",
            "$ fill",
            "$ total"
        );
        for r in &self.edges {
            let n = Nums {
                requests: r.requests,
                hit_ratio: r.hit_ratio,
                byte_hit_ratio: r.byte_hit_ratio,
                out: r.bytes_to_clients,
                from: r.bytes_from_origin,
            };
            row(&mut s, &r.edge, &r.region, &n, &r.bill);
        }
        let t = &self.total;
        let n = Nums {
            requests: t.requests,
            hit_ratio: t.hit_ratio,
            byte_hit_ratio: t.byte_hit_ratio,
            out: t.bytes_to_clients,
            from: t.bytes_from_origin,
        };
        row(&mut s, "total", "", &n, &t.bill);
        s.push_str("($ origin egress: the origin's egress for what the edges fetched; $ fill: the CDN's fee for it)\n");
        if !self.tiers.is_empty() {
            s.push_str(&render_tiers(&self.tiers));
        }
        for u in &self.unreachable {
            let _ = writeln!(s, "{:<10} unreachable: {}", u.edge, u.error);
        }
        let on_bus: Vec<&str> = self.edges.iter().filter(|r| r.via == "bus").map(|r| r.edge.as_str()).collect();
        if !on_bus.is_empty() {
            let polled: Vec<&str> = self.edges.iter().filter(|r| r.via != "bus").map(|r| r.edge.as_str()).collect();
            let _ = writeln!(
                s,
                "(counters read from the control bus: {}{})",
                on_bus.join(", "),
                if polled.is_empty() { String::new() } else { format!("; polled by HTTP: {}", polled.join(", ")) }
            );
        }
        if self.edges.iter().any(|r| !r.upstreams.is_empty()) {
            s.push_str(&upstream_table(&self.edges));
        }
        match &self.origin {
            Some(o) => {
                let _ = writeln!(
                    s,
                    "\norigin ({}): {} requests, {} GB out, of which {} GB straight to clients: {}",
                    o.region,
                    o.requests,
                    gb(o.bytes_out),
                    gb(o.bytes_direct),
                    o.direct_cost
                );
            }
            None => s.push_str(
                "\norigin: no stats (its admin /stats did not answer: cdnlab's origin is down, or the origin is your own \
                 server, which has none); bytes it sent clients directly are not counted\n",
            ),
        }
        let _ = writeln!(s, "\nWithout the CDN: every client byte from the origin in {}", self.origin_region);
        let _ = writeln!(
            s,
            "(time: a cold fetch of the edge's mean response by the network model, docs/network.md; with the CDN a miss adds one from the origin)"
        );
        let _ = writeln!(
            s,
            "{:<10} {:>10} {:>16} {:>16} {:>16}",
            "edge", "GB", "$ origin egress", "time with CDN", "time without"
        );
        for r in &self.edges {
            let _ = writeln!(
                s,
                "{:<10} {:>10} {:>16} {:>13.1} ms {:>13.1} ms",
                r.edge,
                gb(r.bytes_to_clients),
                r.without_cdn.to_string(),
                r.fetch_ms,
                r.fetch_without_cdn_ms
            );
        }
        let _ = writeln!(
            s,
            "{:<10} {:>10} {:>16} {:>13.1} ms {:>13.1} ms",
            "total",
            gb(t.bytes_to_clients + self.origin.as_ref().map_or(0, |o| o.bytes_direct)),
            t.without_cdn.to_string(),
            t.fetch_ms,
            t.fetch_without_cdn_ms
        );
        let verdict = if t.savings.0 >= 0 { "saves" } else { "costs more by" };
        let _ = writeln!(
            s,
            "\nWith the CDN {} (edges {} + origin direct {}); without {}: the CDN {} {}.",
            t.with_cdn,
            t.bill.total,
            self.origin.as_ref().map_or(Money::ZERO, |o| o.direct_cost),
            t.without_cdn,
            verdict,
            Money(t.savings.0.abs())
        );
        if !self.cache_tiers.is_empty() {
            s.push_str(&render_cache_tiers(&self.cache_tiers));
        }
        if !self.shadow.is_empty() {
            let _ = write!(s, "\n{}", crate::shadow::render(&self.shadow, false));
        }
        s
    }
}

/// Every edge's upstream links: fetches on kept (warm) and new (cold)
/// connections, the connections opened, and the bytes each way (the run
/// report's links table, with the counters since each edge started).
fn upstream_table(edges: &[EdgeRow]) -> String {
    use crate::report::links::{LinkCounts, LinkRow, render};
    let rows: Vec<LinkRow> = edges
        .iter()
        .flat_map(|r| {
            r.upstreams.iter().map(|u| LinkRow { from: r.edge.clone(), to: u.name.clone(), counts: LinkCounts::of(u) })
        })
        .collect();
    format!("\n{}", render(&rows))
}

/// The cache tiers table: hits by tier, disk reads, promotions and the
/// device bytes per read.
fn render_cache_tiers(rows: &[CacheTierRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\nCache tiers (hits and stale answers by the tier that held the entry; docs/disk.md)");
    let _ = writeln!(
        s,
        "{:<10} {:>12} {:>12} {:>12} {:>11} {:>9} {:>14}",
        "edge", "memory hits", "disk hits", "disk reads", "promotions", "rule", "bytes / read"
    );
    for r in rows {
        let t = &r.counts;
        let _ = writeln!(
            s,
            "{:<10} {:>12} {:>12} {:>12} {:>11} {:>9} {:>14}",
            r.edge,
            t.memory_hits,
            t.disk_hits,
            t.disk_reads,
            t.promotions,
            t.promotion,
            t.bytes_per_read(r.disk_read)
        );
    }
    s
}

/// The numbers of one table row.
struct Nums {
    requests: u64,
    hit_ratio: f64,
    byte_hit_ratio: f64,
    out: u64,
    from: u64,
}

fn gb(b: u64) -> String {
    format!("{:.6}", b as f64 / GB as f64)
}

fn pct(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn row(s: &mut String, name: &str, region: &str, n: &Nums, b: &Bill) {
    let _ = writeln!(
        s,
        "{:<10} {:<9} {:>9} {:>7} {:>9} {:>10} {:>10} {:>13} {:>11} {:>16} {:>10} {:>11}",
        name,
        region,
        n.requests,
        pct(n.hit_ratio),
        pct(n.byte_hit_ratio),
        gb(n.out),
        gb(n.from),
        b.cdn_egress.to_string(),
        b.requests.to_string(),
        b.origin_egress.to_string(),
        b.fill.to_string(),
        b.total.to_string()
    );
}

/// Reads `/stats` of every edge and of the origin.
pub async fn collect(w: &World) -> (Vec<(String, Result<Stats, String>)>, Option<StatsSnapshot>) {
    match reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(3)).build() {
        Ok(http) => collect_with(&http, w).await,
        Err(e) => (w.edges.iter().map(|x| (x.name.clone(), Err(e.to_string()))).collect(), None),
    }
}

/// [`collect`] with a client of the caller's (the dashboard polls every second).
pub async fn collect_with(
    http: &reqwest::Client,
    w: &World,
) -> (Vec<(String, Result<Stats, String>)>, Option<StatsSnapshot>) {
    let token = w.admin_token();
    let get = |url: String| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let mut r = http.get(&url);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            let resp = r.send().await.map_err(|e| format!("{url}: {}", short(&e)))?;
            if !resp.status().is_success() {
                return Err(format!("{url}: HTTP {}", resp.status()));
            }
            resp.bytes().await.map_err(|e| format!("{url}: {e}"))
        }
    };
    let edges = futures_util::future::join_all(w.edges.iter().map(|e| {
        let get = get(format!("http://{}/stats", e.admin));
        let name = e.name.clone();
        async move {
            let s = get.await.and_then(|b| serde_json::from_slice::<Stats>(&b).map_err(|e| format!("bad /stats: {e}")));
            (name, s)
        }
    }))
    .await;
    let origin = get(format!("http://{}/stats", w.origin.admin))
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<StatsSnapshot>(&b).ok());
    (edges, origin)
}

/// A short reason for a failed admin request.
pub(crate) fn short(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused (is `cdn up` running?)".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        e.to_string()
    }
}

/// Runs `cdn stats`.
pub async fn run(args: StatsArgs) -> anyhow::Result<()> {
    let mut w = World::load_or_demo(args.world.as_deref())?;
    let (edges, origin, from_bus) = match &args.bus {
        Some(url) => {
            let b = bus::Bus::connect(url, &w.name, "cdn-stats", &bus::ConnectOptions::default()).await?;
            add_members_of(&mut w, &b).await?;
            collect_on_bus(&w, &b, BUS_WAIT).await?
        }
        None => {
            let (edges, origin) = collect(&w).await;
            (edges, origin, Vec::new())
        }
    };
    let mut report = Report::build_via(&w, &edges, origin.as_ref(), &from_bus);
    if w.is_replicated() {
        report.origin_sites = crate::origins::rows(&crate::origins::sites(&w).await);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
        if !report.origin_sites.is_empty() {
            print!("{}", crate::origins::render(&report.origin_sites));
        }
        print!("{}", crate::pop_stats::node_tables(&w).await);
    }
    if report.edges.is_empty() {
        anyhow::bail!("no edge of world `{}` answered (is `cdn up` running?)", w.name);
    }
    Ok(())
}

/// How long `cdn stats --bus` listens for the edges' counters (they
/// publish every [`bus::stats::INTERVAL`]): two intervals and some slack.
pub const BUS_WAIT: Duration = Duration::from_millis(2500);

/// Every edge's counters as published on the bus within `wait` (returns as
/// soon as each edge of `w` has been heard), the ones not heard polled at
/// their admin address, and the origin's (polled: it is not on the bus);
/// also the names of the edges heard on the bus.
pub async fn collect_on_bus(
    w: &World,
    b: &bus::Bus,
    wait: Duration,
) -> anyhow::Result<(Vec<(String, Result<Stats, String>)>, Option<StatsSnapshot>, Vec<String>)> {
    let names: Vec<String> = w.edges.iter().map(|e| e.name.clone()).collect();
    let heard = bus::stats::collect(b, &names, wait).await?;
    let mut got: Vec<(String, Option<Stats>)> = names
        .iter()
        .map(|n| (n.clone(), heard.get(n).and_then(|v| serde_json::from_value::<Stats>(v.clone()).ok())))
        .collect();
    let from_bus: Vec<String> = got.iter().filter(|(_, s)| s.is_some()).map(|(n, _)| n.clone()).collect();
    // The edges not heard (down, cut off from the bus, or older): polled.
    let mut rest = w.clone();
    rest.edges.retain(|e| !from_bus.contains(&e.name));
    let (polled, origin) = collect(&rest).await;
    let mut polled = polled.into_iter();
    let edges = got
        .drain(..)
        .map(|(n, s)| match s {
            Some(s) => (n, Ok(s)),
            None => polled.next().unwrap_or_else(|| (n.clone(), Err("not heard on the bus".into()))),
        })
        .collect();
    Ok((edges, origin, from_bus))
}

/// Adds to `w` the edges registered in its membership bucket on the bus at
/// `url` that it does not list (in a region it knows).
pub async fn add_members(w: &mut World, url: &str) -> anyhow::Result<()> {
    let b = bus::Bus::connect(url, &w.name, "cdn-stats", &bus::ConnectOptions::default()).await?;
    add_members_of(w, &b).await
}

/// [`add_members`] on a bus already connected.
pub async fn add_members_of(w: &mut World, b: &bus::Bus) -> anyhow::Result<()> {
    let members = bus::members::Membership::open(b).await?.list().await?;
    for m in members.into_iter().filter(|m| m.role == "edge") {
        if w.edges.iter().any(|e| e.name == m.node) {
            continue;
        }
        match m.region.filter(|r| w.regions.iter().any(|x| &x.name == r)) {
            Some(region) => w.edges.push(world::Edge::at(&m.node, &region, m.public, m.admin)),
            None => tracing::warn!(edge = %m.node, "a member in no region of this world: left out"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::edge::TierStats;

    /// With an origin shield, `cdn stats` has a Tiers table: each edge's
    /// shield fills and origin fills, the bytes on its link and their
    /// inter-tier dollars (priced at `inter_tier_usd_per_gb`, in the bill).
    #[test]
    fn a_shield_world_gets_a_tiers_table_with_the_inter_tier_dollars() {
        let w = World::parse("w.toml", &format!("{}\n[shield]\nregion = \"newyork\"\n", world::load::DEMO_TEXT))
            .unwrap_or_else(|e| panic!("{e}"));
        let gib = 1u64 << 30;
        let edge = |name: &str, t: TierStats| {
            let mut s = crate::dashboard::hub::tests::stats(name, 10, 0, 5);
            s.origin_requests = if t.role == "shield" { 7 } else { 1 };
            s.tier = Some(t);
            (name.to_string(), Ok(s))
        };
        let seoul = TierStats {
            role: "edge".into(),
            shield: Some("newyork".into()),
            shield_state: Some("up".into()),
            shield_requests: 5,
            shield_fallbacks: 1,
            bytes_from_shield: gib,
            ..TierStats::default()
        };
        let newyork = TierStats { role: "shield".into(), bytes_to_tiers: gib, ..TierStats::default() };
        let r = Report::build(&w, &[edge("seoul", seoul), edge("newyork", newyork)], None);
        assert_eq!(r.tiers.len(), 2);
        let s = &r.tiers[0];
        assert_eq!((s.shield_fills, s.origin_fills, s.fallbacks, s.link_bytes), (5, 1, 1, gib));
        assert_eq!(s.inter_tier, Money::from_usd(0.02), "1 GiB at the default $0.02/GB");
        assert_eq!(r.edges[0].bill.inter_tier, s.inter_tier);
        assert_eq!(r.tiers[1].inter_tier, Money::ZERO);
        let text = r.render();
        assert!(text.contains("Tiers (origin shield") && text.contains("shield fills"), "{text}");
        let line = text.lines().find(|l| l.starts_with("seoul ") && l.contains(" edge ")).unwrap_or_default();
        assert!(line.contains("$0.020000") && line.contains(" up"), "{line}");
    }
}

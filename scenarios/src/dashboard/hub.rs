//! The dashboard's state: the topology, every node's numbers now, the
//! charts' history and the journal, updated once a round by [`Hub::apply`],
//! which also broadcasts the round's `tick` message to every open page.
//!
//! A page that connects gets an `init` message (everything so far) built
//! under the same lock that `apply` holds while it broadcasts, and is
//! subscribed under it too: it sees every tick after its init exactly once.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use api::edge::Stats;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;
use world::World;

use crate::dashboard::feed::{RunFeed, RunNow};
use crate::dashboard::model::{
    GEODNS, GeoNow, Health, NodeNow, ORIGIN, Percentiles, Point, RouteNow, Topology, edge_id,
};
use crate::dashboard::poll::{Probe, Readings};
use crate::dashboard::prom_text::{self, Buckets};
use crate::dashboard::purges::Observed;
use crate::events::{Ctx, Entry, Source};

/// Points kept for the charts (15 minutes at one a second).
const HISTORY: usize = 900;

/// Rounds (about a second each) over which your own origin's answers to
/// the edges are judged.
const ORIGIN_WINDOW: usize = 10;

/// What every page shares.
pub struct Hub {
    /// The world.
    pub world: Arc<World>,
    /// What controls act through (the same context scenario events use).
    pub ctx: Arc<Ctx>,
    /// The run, during `cdn run`.
    pub run: Option<Arc<RunFeed>>,
    /// `up` or `run`.
    pub mode: &'static str,
    /// Open outage started from the page: its journal entry.
    pub open_outage: Mutex<Option<u64>>,
    routes: geodns::choice::Routes,
    state: Mutex<State>,
    ticks: broadcast::Sender<Arc<str>>,
}

struct Prev {
    at: Instant,
    /// Per node id.
    counters: HashMap<String, Counters>,
    answers: BTreeMap<String, u64>,
}

/// A node's counters at one reading (origin fetches, their errors and hits:
/// edges only).
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    requests: u64,
    bytes_out: u64,
    origin_fetches: u64,
    origin_errors: u64,
    hits: u64,
}

struct State {
    topo: Topology,
    prev: Option<Prev>,
    /// Per edge, its counters since the world started: its last good
    /// reading plus what the edge's earlier processes counted.
    last_stats: HashMap<String, Stats>,
    /// Per edge, its last good reading as `/stats` said it.
    raw_stats: HashMap<String, Stats>,
    /// Per edge, the counters of its processes before a restart, added up.
    before_restart: HashMap<String, Stats>,
    nodes: BTreeMap<String, NodeNow>,
    geo: GeoNow,
    latency: BTreeMap<String, Percentiles>,
    latency_source: &'static str,
    edge_buckets: HashMap<String, Buckets>,
    history: VecDeque<Point>,
    journal: BTreeMap<u64, Entry>,
    journal_rev: u64,
    run: Option<RunNow>,
    /// Where each region's clients went last round.
    routed: HashMap<String, String>,
    /// Purges the page did not send, read from the edges.
    observed: Observed,
    /// Per round, the last [`ORIGIN_WINDOW`]: the edges' origin fetches
    /// and, of those, errors (failed or 5xx).
    origin_answers: VecDeque<(u64, u64)>,
}

/// The static part of the run, for `init`.
#[derive(Serialize)]
struct RunInfo<'a> {
    scenario: &'a str,
    question: Option<&'a str>,
    planned: u64,
    duration_s: f64,
    warmup_s: Option<f64>,
    start_unix_ms: u64,
    timeline: Vec<TimelineItem<'a>>,
}

#[derive(Serialize)]
struct TimelineItem<'a> {
    at_s: f64,
    kind: &'a str,
}

/// `init`: everything so far.
#[derive(Serialize)]
struct Init<'a> {
    r#type: &'static str,
    mode: &'static str,
    token_required: bool,
    topology: &'a Topology,
    run: Option<RunInfo<'a>>,
    history: &'a VecDeque<Point>,
    journal: Vec<&'a Entry>,
    now: TickBody<'a>,
}

/// `tick`: one round.
#[derive(Serialize)]
struct Tick<'a> {
    r#type: &'static str,
    #[serde(flatten)]
    body: TickBody<'a>,
    point: Option<&'a Point>,
    journal: Vec<&'a Entry>,
}

#[derive(Serialize)]
struct TickBody<'a> {
    t: u64,
    nodes: &'a BTreeMap<String, NodeNow>,
    geodns: &'a GeoNow,
    latency: &'a BTreeMap<String, Percentiles>,
    latency_source: &'static str,
    totals: Totals,
    run: Option<&'a RunNow>,
}

#[derive(Serialize, Default, Clone, Copy)]
struct Totals {
    requests: u64,
    rps: f64,
    hit_ratio: f64,
    origin_rps: f64,
    usd_with: f64,
    usd_without: f64,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn probe_health(p: &Probe) -> (Health, Option<String>) {
    match p {
        Ok((200, body)) if body.to_ascii_lowercase().contains("degraded") => {
            (Health::Degraded, Some(body.trim().chars().take(120).collect()))
        }
        Ok((200, _)) => (Health::Up, None),
        Ok((s, body)) => (Health::Degraded, Some(format!("/healthz answered {s}: {}", body.trim()))),
        Err(e) => (Health::Down, Some(e.clone())),
    }
}

/// Your own origin's health. It has no `/healthz`, and the dashboard sends
/// it no request of its own (its logs, and the request counts runs
/// compare, see only the edges' traffic), so it is judged by what it
/// does: down when it does not accept a connection; degraded when, of the
/// requests the edges sent it over the last [`ORIGIN_WINDOW`] rounds
/// (`fetches`), any failed or were answered 5xx (`errors`); else up. With
/// no traffic there are no answers to judge: up means it accepts
/// connections.
fn external_health(p: &Probe, fetches: u64, errors: u64) -> (Health, Option<String>) {
    match p {
        Err(e) => (Health::Down, Some(format!("your origin: {e}"))),
        Ok(_) if errors > 0 => (
            Health::Degraded,
            Some(format!(
                "your origin accepts connections, but {errors} of the {fetches} requests the edges sent it in about \
                 the last {ORIGIN_WINDOW} s failed or were answered 5xx"
            )),
        ),
        Ok(_) => (Health::Up, None),
    }
}

/// The counters of an edge's earlier process(es) `earlier` and of its
/// current one `now`, added up; gauges (memory, disk, in flight, health)
/// and settings are `now`'s, and the ratios are recomputed.
fn counted_by_both(earlier: &Stats, now: &Stats) -> Stats {
    let both = |f: fn(&Stats) -> u64| f(earlier) + f(now);
    let requests = api::edge::ByOutcome::of(|o| earlier.requests.get(o) + now.requests.get(o));
    let body_bytes = api::edge::ByOutcome::of(|o| earlier.body_bytes.get(o) + now.body_bytes.get(o));
    let mut admission = now.admission;
    admission.refused += earlier.admission.refused;
    Stats {
        hit_ratio: requests.cached_ratio(),
        byte_hit_ratio: body_bytes.cached_ratio(),
        requests,
        body_bytes,
        bytes_to_clients: both(|s| s.bytes_to_clients),
        bytes_from_clients: both(|s| s.bytes_from_clients),
        client_connections: both(|s| s.client_connections),
        client_connections_refused: both(|s| s.client_connections_refused),
        bytes_from_origin: both(|s| s.bytes_from_origin),
        bytes_to_origin: both(|s| s.bytes_to_origin),
        origin_requests: both(|s| s.origin_requests),
        origin_errors: both(|s| s.origin_errors),
        stored: both(|s| s.stored),
        not_stored: both(|s| s.not_stored),
        admission,
        disk_written: both(|s| s.disk_written),
        disk_read: both(|s| s.disk_read),
        ..now.clone()
    }
}

fn rate(now: u64, before: Option<u64>, dt: f64) -> f64 {
    match before {
        // A counter that went down: the process started again from zero.
        Some(b) if now >= b => (now - b) as f64 / dt,
        Some(_) => now as f64 / dt,
        None => 0.0,
    }
}

impl Hub {
    /// A hub for `world`.
    pub fn new(world: Arc<World>, ctx: Arc<Ctx>, run: Option<Arc<RunFeed>>) -> Hub {
        let topo = Topology::of_world(&world).with_origin_url(ctx.origin_url.as_deref());
        let observed = Observed::new(world.edges.iter().map(|e| (e.name.clone(), e.admin)).collect());
        let (ticks, _) = broadcast::channel(16);
        Hub {
            routes: geodns::choice::Routes::new(&world),
            mode: if run.is_some() { "run" } else { "up" },
            world,
            ctx,
            run,
            open_outage: Mutex::new(None),
            state: Mutex::new(State {
                topo,
                prev: None,
                last_stats: HashMap::new(),
                raw_stats: HashMap::new(),
                before_restart: HashMap::new(),
                nodes: BTreeMap::new(),
                geo: GeoNow::default(),
                latency: BTreeMap::new(),
                latency_source: "edges",
                edge_buckets: HashMap::new(),
                history: VecDeque::new(),
                journal: BTreeMap::new(),
                journal_rev: 0,
                run: None,
                routed: HashMap::new(),
                observed,
                origin_answers: VecDeque::new(),
            }),
            ticks,
        }
    }

    /// Per edge, the last purge read from its `/purge/recent`.
    pub fn purge_cursors(&self) -> Vec<u64> {
        self.state.lock().observed.cursors()
    }

    /// Subscribes to ticks and returns the `init` message, atomically.
    pub fn join(&self) -> (String, broadcast::Receiver<Arc<str>>) {
        let st = self.state.lock();
        let rx = self.ticks.subscribe();
        let run = self.run.as_ref().map(|r| RunInfo {
            scenario: &r.scenario,
            question: r.question.as_deref(),
            planned: r.planned,
            duration_s: r.duration_s,
            warmup_s: r.warmup_s,
            start_unix_ms: r.start_unix_ms,
            timeline: r.timeline.iter().map(|(at_s, kind, _)| TimelineItem { at_s: *at_s, kind }).collect(),
        });
        let init = Init {
            r#type: "init",
            mode: self.mode,
            token_required: self.world.admin_token().is_some(),
            topology: &st.topo,
            run,
            history: &st.history,
            journal: st.journal.values().collect(),
            now: body(&st, unix_ms()),
        };
        (serde_json::to_string(&init).unwrap_or_default(), rx)
    }

    /// Takes one round of readings into the state and broadcasts the tick.
    pub fn apply(&self, r: Readings) {
        let now = Instant::now();
        let t = unix_ms();
        let mut st = self.state.lock();
        let st = &mut *st;
        let dt = st.prev.as_ref().map_or(1.0, |p| now.duration_since(p.at).as_secs_f64().max(1e-3));
        let prev_counters = st.prev.as_ref().map(|p| p.counters.clone()).unwrap_or_default();
        let before = |id: &str, f: fn(&Counters) -> u64| prev_counters.get(id).map(f);
        let mut counters = HashMap::new();

        // Edges: the last good reading stands in for an edge that is down;
        // an edge that started again (its counters went down) keeps what
        // its earlier process counted, as the run's report does
        // (`run::EdgeTally`): "so far" never goes down.
        for (name, got) in &r.edges {
            if let Ok(s) = got {
                if let Some(prev) = st.raw_stats.get(name)
                    && s.requests.total < prev.requests.total
                {
                    let earlier = match st.before_restart.get(name) {
                        Some(e) => counted_by_both(e, prev),
                        None => prev.clone(),
                    };
                    st.before_restart.insert(name.clone(), earlier);
                }
                st.raw_stats.insert(name.clone(), s.clone());
                let since_start = match st.before_restart.get(name) {
                    Some(e) => counted_by_both(e, s),
                    None => s.clone(),
                };
                st.last_stats.insert(name.clone(), since_start);
            }
        }
        let priced: Vec<(String, Result<Stats, String>)> = r
            .edges
            .iter()
            .map(|(name, got)| match (got, st.last_stats.get(name)) {
                (_, Some(s)) => (name.clone(), Ok(s.clone())),
                (Err(e), None) => (name.clone(), Err(e.clone())),
                (Ok(s), None) => (name.clone(), Ok(s.clone())),
            })
            .collect();
        let bill = crate::stats::Report::build(&self.world, &priced, r.origin.as_ref());
        let mut point = Point { t, ..Default::default() };
        let mut window = Buckets::default();
        // This round's origin fetches and errors, over the edges read now.
        let (mut round_fetches, mut round_errors) = (0u64, 0u64);
        let mut by_region: BTreeMap<String, Buckets> = BTreeMap::new();
        for (i, (name, got)) in r.edges.iter().enumerate() {
            let id = edge_id(name);
            let Some(s) = st.last_stats.get(name) else {
                let (health, why) = probe_health(&r.edge_health[i]);
                st.nodes.insert(id, NodeNow { health: Some(health), why, ..Default::default() });
                continue;
            };
            let c = Counters {
                requests: s.requests.total,
                bytes_out: s.bytes_to_clients,
                origin_fetches: s.origin_requests,
                origin_errors: s.origin_errors,
                hits: s.requests.hit + s.requests.stale,
            };
            let (mut health, mut why) = probe_health(&r.edge_health[i]);
            if let (Health::Up, Err(e)) = (health, got) {
                (health, why) = (Health::Degraded, Some(e.clone()));
            }
            let row = bill.edges.iter().find(|e| &e.edge == name);
            let fresh = got.is_ok();
            let n = NodeNow {
                health: Some(health),
                why,
                requests: c.requests,
                rps: if fresh { rate(c.requests, before(&id, |c| c.requests), dt) } else { 0.0 },
                hit_ratio: Some(s.hit_ratio),
                byte_hit_ratio: Some(s.byte_hit_ratio),
                bytes_out: c.bytes_out,
                bytes_out_ps: if fresh { rate(c.bytes_out, before(&id, |c| c.bytes_out), dt) } else { 0.0 },
                origin_fetches: c.origin_fetches,
                origin_fetches_ps: if fresh {
                    rate(c.origin_fetches, before(&id, |c| c.origin_fetches), dt)
                } else {
                    0.0
                },
                memory_bytes: s.memory_bytes as u64,
                memory_capacity: s.memory_capacity as u64,
                disk_written: s.disk_written,
                disk_capacity: s.disk_capacity,
                usd: row.map_or(0.0, |r| r.bill.total.as_usd()),
                usd_without_cdn: row.map_or(0.0, |r| r.without_cdn.as_usd()),
                stale: !fresh,
            };
            if fresh {
                let dn = rate(c.requests, before(&id, |c| c.requests), 1.0);
                let dh = rate(c.hits, before(&id, |c| c.hits), 1.0);
                if prev_counters.contains_key(&id) {
                    round_fetches += rate(c.origin_fetches, before(&id, |c| c.origin_fetches), 1.0) as u64;
                    round_errors += rate(c.origin_errors, before(&id, |c| c.origin_errors), 1.0) as u64;
                }
                if dn > 0.0 && prev_counters.contains_key(&id) {
                    point.edge_hit.insert(id.clone(), dh / dn);
                }
                counters.insert(id.clone(), c);
            }
            st.nodes.insert(id.clone(), n);
            // Server-side latency from the edge's histogram (no clients of ours).
            if let Some(text) = r.edge_metrics.get(i).and_then(|m| m.as_deref()) {
                let mut b = Buckets::default();
                for smp in prom_text::samples(text) {
                    if smp.name == "cdnlab_edge_request_duration_seconds_bucket"
                        && let Some(le) = smp.label("le").and_then(|v| v.replace("+Inf", "inf").parse::<f64>().ok())
                    {
                        b.add(le, smp.value);
                    }
                }
                if let Some(old) = st.edge_buckets.get(&id) {
                    for (le, n) in b.minus(old).0 {
                        window.add(le, n);
                    }
                }
                let region = self.world.edge(name).map(|e| e.region.clone()).unwrap_or_default();
                let reg = by_region.entry(region).or_default();
                for &(le, n) in &b.0 {
                    reg.add(le, n);
                }
                st.edge_buckets.insert(id, b);
            }
        }

        // Origin: cdnlab's (its /healthz, /stats, /faults), or yours (only
        // whether it answers; the edges' origin fetches stand in for its count).
        let origin_now = if self.ctx.origin_url.is_some() {
            if st.origin_answers.len() >= ORIGIN_WINDOW {
                st.origin_answers.pop_front();
            }
            st.origin_answers.push_back((round_fetches, round_errors));
            let (fetches, errors) = st.origin_answers.iter().fold((0, 0), |(f, e), (rf, re)| (f + rf, e + re));
            let (health, why) = external_health(&r.origin_health, fetches, errors);
            point.origin_rps = st
                .nodes
                .iter()
                .filter(|(id, n)| id.starts_with("edge:") && !n.stale)
                .map(|(_, n)| n.origin_fetches_ps)
                .sum();
            NodeNow { health: Some(health), why, rps: point.origin_rps, ..Default::default() }
        } else {
            let (mut health, mut why) = probe_health(&r.origin_health);
            if let Some(f) = &r.origin_faults
                && *f != api::origin::Faults::default()
                && health == Health::Up
            {
                health = Health::Degraded;
                why = Some(fault_words(f));
            }
            let o = r.origin.clone().unwrap_or_default();
            let origin_before = before(ORIGIN, |c| c.requests);
            point.origin_rps = if r.origin.is_some() { rate(o.requests, origin_before, dt) } else { 0.0 };
            let old = st.nodes.get(ORIGIN).cloned().unwrap_or_default();
            if r.origin.is_some() {
                counters.insert(
                    ORIGIN.into(),
                    Counters { requests: o.requests, bytes_out: o.bytes_out, ..Default::default() },
                );
                NodeNow {
                    health: Some(health),
                    why,
                    requests: o.requests,
                    rps: point.origin_rps,
                    bytes_out: o.bytes_out,
                    bytes_out_ps: rate(o.bytes_out, before(ORIGIN, |c| c.bytes_out), dt),
                    usd: bill.origin.as_ref().map_or(0.0, |x| x.direct_cost.as_usd()),
                    ..Default::default()
                }
            } else {
                NodeNow { health: Some(health), why, stale: true, ..old }
            }
        };
        st.nodes.insert(ORIGIN.into(), origin_now);

        // GeoDNS.
        let (health, why) = probe_health(&r.geodns_health);
        st.nodes.insert(GEODNS.into(), NodeNow { health: Some(health), why, ..Default::default() });
        let mut geo = GeoNow::default();
        let mut usable: HashMap<String, bool> = HashMap::new();
        if let Some(rows) = r.geodns_edges.as_ref().and_then(|v| v.get("edges")).and_then(|v| v.as_array()) {
            for row in rows {
                let (Some(name), Some(state)) = (row.get("edge").and_then(|v| v.as_str()), row.get("state")) else {
                    continue;
                };
                geo.edge_state.insert(edge_id(name), state.as_str().unwrap_or("unknown").to_string());
                usable.insert(name.to_string(), row.get("usable").and_then(|v| v.as_bool()).unwrap_or(false));
            }
        }
        let answers_before = st.prev.as_ref().map(|p| p.answers.clone()).unwrap_or_default();
        if let Some(text) = &r.geodns_metrics {
            for smp in prom_text::samples(text) {
                if smp.name == api::geodns::DNS_ANSWERS
                    && let Some(e) = smp.label("edge")
                {
                    let id = if e == "origin" { ORIGIN.to_string() } else { edge_id(e) };
                    let n = smp.value as u64;
                    geo.answers_ps.insert(id.clone(), rate(n, answers_before.get(&id).copied(), dt));
                    geo.answers.insert(id, n);
                } else if smp.name == api::geodns::DNS_ANSWERS_BY_REGION
                    && let (Some(region), Some(e)) = (smp.label("client_region"), smp.label("edge"))
                    && smp.value > 0.0
                {
                    let id = if e == "origin" { ORIGIN.to_string() } else { edge_id(e) };
                    geo.by_region.entry(region.to_string()).or_default().insert(id, smp.value as u64);
                }
            }
        }
        let client = self.run.as_ref().map(|f| f.client_tick());
        if !usable.is_empty() {
            for (ri, region) in self.world.regions.iter().enumerate() {
                let (ranking, _) = self.routes.region(ri);
                let ok = |e: usize| usable.get(&self.routes.edges[e].name).copied().unwrap_or(false);
                let (to, failover) = match ranking.first(ok) {
                    Some((e, _, skipped)) => (edge_id(&self.routes.edges[e].name), skipped > 0),
                    None => (ORIGIN.to_string(), true),
                };
                let served_by_ps = client
                    .as_ref()
                    .and_then(|c| c.served.get(ri))
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), *v as f64 / dt)).collect())
                    .unwrap_or_default();
                geo.routes.push(RouteNow { region: region.name.clone(), to, failover, served_by_ps });
            }
        }

        // Latency: the clients' own, during a run; else the edges' view.
        match client {
            Some(c) => {
                point.latency = c.window;
                st.latency = c.regions;
                st.latency_source = "clients";
            }
            None => {
                point.latency = window.percentiles_ms();
                st.latency = by_region.iter().filter_map(|(k, b)| Some((k.clone(), b.percentiles_ms()?))).collect();
                st.latency_source = "edges";
            }
        }
        point.usd_with = bill.total.with_cdn.as_usd();
        point.usd_without = bill.total.without_cdn.as_usd();
        // Failovers as they happen: a region's clients sent somewhere else.
        for r in &geo.routes {
            let before = st.routed.insert(r.region.clone(), r.to.clone());
            if let Some(before) = before.filter(|b| *b != r.to) {
                let kind = if r.failover { "geodns-failover" } else { "geodns-failback" };
                let name = |id: &str| id.trim_start_matches("edge:").to_string();
                let detail = format!("{} clients: {} → {}", r.region, name(&before), name(&r.to));
                let seq = self.ctx.journal.begin(Source::Observed, kind, &detail);
                self.ctx.journal.finish(seq, true, true, "seen in GeoDNS's health table".into(), None);
            }
        }
        st.geo = geo;
        st.run = self.run.as_ref().map(|f| f.now());
        let answers = st.geo.answers.clone();
        st.prev = Some(Prev { at: now, counters, answers });
        if st.history.len() >= HISTORY {
            st.history.pop_front();
        }
        st.history.push_back(point);

        // Journal: entries new or changed since the last round; then the
        // purges others sent, seen at the edges (ours are claimed first).
        let (changed, rev) = self.ctx.journal.changed_since(st.journal_rev);
        let mut seqs: Vec<u64> = changed.iter().map(|e| e.seq).collect();
        for e in changed {
            st.observed.claim(&e);
            st.journal.insert(e.seq, e);
        }
        let busy = st.journal.values().any(|e| e.kind == "purge" && e.source != Source::Observed && !e.done);
        st.observed.take(&r.edge_purges);
        st.observed.settle(busy, t, &self.ctx.journal);
        let (changed, rev) = self.ctx.journal.changed_since(rev);
        st.journal_rev = rev;
        for e in changed {
            seqs.push(e.seq);
            st.journal.insert(e.seq, e);
        }
        seqs.sort_unstable();
        seqs.dedup();
        let tick = Tick {
            r#type: "tick",
            body: body(st, t),
            point: st.history.back(),
            journal: seqs.iter().filter_map(|s| st.journal.get(s)).collect(),
        };
        if let Ok(json) = serde_json::to_string(&tick) {
            let _ = self.ticks.send(json.into());
        }
    }
}

fn body(st: &State, t: u64) -> TickBody<'_> {
    let mut totals = Totals::default();
    let mut hits = 0.0;
    for (id, n) in &st.nodes {
        if id.starts_with("edge:") {
            totals.requests += n.requests;
            totals.rps += n.rps;
            hits += n.hit_ratio.unwrap_or(0.0) * n.requests as f64;
        }
    }
    totals.hit_ratio = if totals.requests == 0 { 0.0 } else { hits / totals.requests as f64 };
    if let Some(p) = st.history.back() {
        totals.origin_rps = p.origin_rps;
        totals.usd_with = p.usd_with;
        totals.usd_without = p.usd_without;
    }
    TickBody {
        t,
        nodes: &st.nodes,
        geodns: &st.geo,
        latency: &st.latency,
        latency_source: st.latency_source,
        totals,
        run: st.run.as_ref(),
    }
}

fn fault_words(f: &api::origin::Faults) -> String {
    let mut w = Vec::new();
    if f.outage != api::origin::Outage::Off {
        w.push(format!("outage {}", f.outage.as_str()));
    }
    if f.latency_ms > 0 {
        w.push(format!("+{} ms", f.latency_ms));
    }
    if f.error_rate > 0.0 {
        w.push(format!("{:.0}% errors", f.error_rate * 100.0));
    }
    if f.corrupt {
        w.push("corrupt bodies".into());
    }
    w.join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn health_from_healthz() {
        assert_eq!(probe_health(&Ok((200, "ok\n".into()))).0, Health::Up);
        assert_eq!(probe_health(&Ok((200, "degraded: disk errors\n".into()))).0, Health::Degraded);
        let (h, why) = probe_health(&Ok((503, "no\n".into())));
        assert_eq!((h, why.as_deref()), (Health::Degraded, Some("/healthz answered 503: no")));
        let (h, why) = probe_health(&Err("connection refused".into()));
        assert_eq!((h, why.as_deref()), (Health::Down, Some("connection refused")));
    }

    #[test]
    fn your_origin_is_judged_by_its_connections_and_its_answers_to_the_edges() {
        let accepts = Ok((200, String::new()));
        assert_eq!(external_health(&accepts, 0, 0), (Health::Up, None), "no traffic: accepts connections");
        assert_eq!(external_health(&accepts, 40, 0), (Health::Up, None));
        let (h, why) = external_health(&accepts, 40, 3);
        assert_eq!(h, Health::Degraded);
        assert!(why.unwrap().contains("3 of the 40 requests the edges sent it"));
        let (h, why) = external_health(&Err("connection refused".into()), 40, 40);
        assert_eq!((h, why.as_deref()), (Health::Down, Some("your origin: connection refused")));
    }

    /// An edge that starts again counts from zero in `/stats`; the page,
    /// like the run's report (`run::EdgeTally`), keeps what its earlier
    /// process counted: requests, hit ratio and dollars so far never go
    /// down.
    #[tokio::test]
    async fn an_edge_restart_does_not_take_back_what_it_counted() {
        let w = Arc::new(World::demo().unwrap());
        let hub = Hub::new(w.clone(), ctx(&w, None), None);
        let names: Vec<&str> = w.edges.iter().map(|e| e.name.as_str()).collect();
        let round = |first: Stats| {
            let mut all: Vec<Stats> = names.iter().map(|n| stats(n, 0, 0, 0)).collect();
            all[0] = Stats { bytes_to_clients: first.requests.total * 1000, ..first };
            readings(&w, &all)
        };
        let node = |hub: &Hub| {
            let (init, _) = hub.join();
            let v: serde_json::Value = serde_json::from_str(&init).unwrap();
            let n = &v["now"]["nodes"][edge_id(names[0])];
            (n["requests"].as_u64().unwrap(), n["hit_ratio"].as_f64().unwrap(), n["usd"].as_f64().unwrap(), v)
        };
        hub.apply(round(stats(names[0], 60, 0, 40)));
        let (n1, h1, usd1, _) = node(&hub);
        assert_eq!((n1, h1), (100, 0.6));
        // killed and started again: its /stats counts from zero
        hub.apply(round(stats(names[0], 5, 0, 5)));
        let (n2, h2, usd2, v) = node(&hub);
        assert_eq!(n2, 110, "100 before the restart and 10 after");
        assert!((h2 - 65.0 / 110.0).abs() < 1e-9, "{h2}");
        assert!(usd2 > usd1, "dollars so far: {usd1} then {usd2}");
        assert_eq!(v["now"]["totals"]["requests"].as_u64(), Some(110));
        hub.apply(round(stats(names[0], 15, 0, 5)));
        assert_eq!(node(&hub).0, 120, "the same process again: 100 + 20");
    }

    /// Issue 18: your origin answering 5xx is degraded on the page, judged
    /// from the edges' `/stats` over the last rounds, and up again once
    /// its answers are good for a whole window.
    #[tokio::test]
    async fn your_origin_answering_5xx_through_the_edges_is_degraded_then_up_again() {
        let w = Arc::new(World::demo().unwrap());
        let hub = Hub::new(w.clone(), ctx(&w, Some("http://127.0.0.1:3000")), None);
        let reading = |fetches: u64, errors: u64| {
            let s: Vec<Stats> =
                w.edges.iter().map(|e| Stats { origin_errors: errors, ..stats(&e.name, 0, 0, fetches) }).collect();
            Readings { origin_health: Ok((200, String::new())), ..readings(&w, &s) }
        };
        let origin = |hub: &Hub| hub.state.lock().nodes.get(ORIGIN).cloned().unwrap();
        hub.apply(reading(10, 0));
        hub.apply(reading(20, 0));
        assert_eq!(origin(&hub).health, Some(Health::Up));
        hub.apply(reading(30, 4));
        let o = origin(&hub);
        assert_eq!(o.health, Some(Health::Degraded), "{o:?}");
        assert!(o.why.unwrap().contains("12 of the 60 requests"), "4 errors on each of 3 edges, of 2 rounds × 3 × 10");
        for n in 0..ORIGIN_WINDOW as u64 {
            hub.apply(reading(40 + 10 * n, 4));
        }
        assert_eq!(origin(&hub).health, Some(Health::Up), "a whole window of good answers");
    }

    /// An edge's `/stats` with these request counts (and a fill per miss).
    pub(crate) fn stats(name: &str, hit: u64, stale: u64, miss: u64) -> Stats {
        let requests = api::edge::Requests { hit, stale, miss, total: hit + stale + miss, ..Default::default() };
        Stats {
            edge: name.into(),
            region: None,
            hit_ratio: requests.cached_ratio(),
            byte_hit_ratio: 0.0,
            requests,
            body_bytes: Default::default(),
            bytes_to_clients: 0,
            bytes_from_clients: 0,
            client_connections: 0,
            client_connections_refused: 0,
            bytes_from_origin: 0,
            bytes_to_origin: 0,
            origin_requests: miss,
            origin_errors: 0,
            upstreams: Vec::new(),
            stored: 0,
            not_stored: 0,
            admission: Default::default(),
            inflight: 0,
            memory_bytes: 0,
            memory_capacity: 0,
            memory_entries: 0,
            disk_capacity: 0,
            disk_written: 0,
            disk_read: 0,
            cache_tiers: Default::default(),
            rtt_to_origin_ms: 0.0,
            cost: Default::default(),
            disk: Default::default(),
            health: Default::default(),
            bus: None,
            shadow: None,
            tier: None,
            origin_sites: Vec::new(),
            origin_floor: 0,
            origin_floors_scoped: 0,
            cluster: None,
        }
    }

    fn ctx(w: &Arc<World>, origin_url: Option<&str>) -> Arc<Ctx> {
        Arc::new(Ctx {
            world: w.clone(),
            http: reqwest::Client::new(),
            sup: Arc::new(tokio::sync::Mutex::new(crate::supervisor::Supervisor::new(true))),
            versions: Default::default(),
            start: Instant::now(),
            announce: false,
            journal: Default::default(),
            origin_url: origin_url.map(str::to_string),
            tally: None,
            bus: None,
        })
    }

    fn readings(w: &World, s: &[Stats]) -> Readings {
        let n = w.edges.len();
        Readings {
            edges: w.edges.iter().zip(s).map(|(e, s)| (e.name.clone(), Ok(s.clone()))).collect(),
            edge_health: vec![Ok((200, "ok".into())); n],
            edge_metrics: vec![None; n],
            edge_purges: vec![None; n],
            origin: None,
            origin_health: Err("not started".into()),
            origin_faults: None,
            geodns_health: Err("not started".into()),
            geodns_edges: None,
            geodns_metrics: None,
        }
    }

    /// Stale hits (stale-while-revalidate, stale-if-error, max-stale) are
    /// hits on the page as in the report (`Kind::Hit | Kind::Stale`) and in
    /// `cdn stats`: the header's hit ratio and the chart's per-edge hit ratio.
    #[tokio::test]
    async fn stale_hits_count_as_hits_like_the_report() {
        let w = Arc::new(World::demo().unwrap());
        let hub = Hub::new(w.clone(), ctx(&w, None), None);
        let names: Vec<&str> = w.edges.iter().map(|e| e.name.as_str()).collect();
        hub.apply(readings(&w, &names.iter().map(|n| stats(n, 2, 0, 2)).collect::<Vec<_>>()));
        // Then six more requests at the first edge, all stale hits.
        let mut later: Vec<Stats> = names.iter().map(|n| stats(n, 2, 0, 2)).collect();
        later[0] = stats(names[0], 2, 6, 2);
        hub.apply(readings(&w, &later));
        let (init, _) = hub.join();
        let v: serde_json::Value = serde_json::from_str(&init).unwrap();
        let want = (2.0 * 3.0 + 6.0) / (4.0 * 3.0 + 6.0); // (hits + stale) / requests, all edges
        let got = v["now"]["totals"]["hit_ratio"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "header hit ratio {got}, want {want}");
        let id = edge_id(names[0]);
        let point = v["history"].as_array().unwrap().last().unwrap();
        assert_eq!(point["edge_hit"][&id].as_f64(), Some(1.0), "{point}");
    }

    #[test]
    fn rates_survive_a_restart() {
        assert_eq!(rate(150, Some(100), 2.0), 25.0);
        assert_eq!(rate(30, Some(100), 2.0), 15.0); // started again from zero
        assert_eq!(rate(30, None, 2.0), 0.0); // no earlier reading: no rate yet
    }
}

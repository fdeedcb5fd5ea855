//! Scenario files (`scenarios/*.toml`): which world, what traffic, what
//! happens when, what must hold at the end. Parsed strictly: an unknown
//! field, a wrong type, an unknown region, edge or expectation is an error
//! naming the file, line and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use world::bounds::*;
use world::config::{CacheRule, CatalogRule, SizeModel};
use world::toml_file::{Doc, FileError, Problems, Seg};
use world::{ByteSize, Dur, Eviction, World};

/// A scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (reports go to `reports/<name>-<time>/`).
    pub name: String,
    /// The question this scenario answers.
    #[serde(default)]
    pub question: Option<String>,
    /// World file, relative to the scenario file (default: the demo world).
    #[serde(default)]
    pub world: Option<PathBuf>,
    /// How long to drive traffic (wall clock).
    #[serde(default)]
    pub duration: Option<Dur>,
    /// Or: how many requests to send.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Seed of every random choice: the same seed, the same requests.
    #[serde(default = "seed_default")]
    pub seed: u64,
    /// Simulated seconds per wall second (overrides the world's).
    #[serde(default)]
    pub time_scale: Option<f64>,
    /// Changes to the world for this scenario.
    #[serde(default)]
    pub overrides: Overrides,
    /// The traffic.
    pub workload: Workload,
    /// Timed events.
    #[serde(default, rename = "event")]
    pub events: Vec<Event>,
    /// Assertions on report fields: `hit_ratio = ">= 0.85"`.
    #[serde(default)]
    pub expect: BTreeMap<String, String>,
    /// Run once per value of one parameter and chart the result.
    #[serde(default)]
    pub sweep: Option<Sweep>,
}

fn seed_default() -> u64 {
    1
}

/// World changes a scenario makes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Memory tier of every edge.
    #[serde(default)]
    pub memory: Option<ByteSize>,
    /// Disk tier of every edge.
    #[serde(default)]
    pub disk: Option<ByteSize>,
    /// Largest object an edge stores whole.
    #[serde(default)]
    pub max_object: Option<ByteSize>,
    /// Memory eviction policy of every edge.
    #[serde(default)]
    pub eviction: Option<Eviction>,
    /// Edge TTL rules (replace the world's).
    #[serde(default, rename = "cache_rule")]
    pub cache_rules: Option<Vec<CacheRule>>,
    /// Origin header rules (replace the world's), e.g. shorter max-age.
    #[serde(default, rename = "origin_rule")]
    pub origin_rules: Option<Vec<CatalogRule>>,
}

/// The traffic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Catalog objects requested (`/obj/0` … `/obj/{objects-1}`).
    #[serde(default = "objects_default")]
    pub objects: u64,
    /// Object sizes (override the world's catalog).
    #[serde(default)]
    pub sizes: Option<SizeModel>,
    /// Which objects are requested.
    #[serde(default)]
    pub popularity: Popularity,
    /// Requests per wall second, all regions together (synthetic traffic;
    /// a trace sets its own pace).
    #[serde(default)]
    pub rate: f64,
    /// Replay this request trace instead of the synthetic generator
    /// (relative to the scenario file): its keys and sizes become origin
    /// objects `/t/{key}/{size}`, its timestamps (simulated time, divided
    /// by the time scale) the send times, its clients spread over the
    /// regions of `clients` (see `docs/traces.md`).
    #[serde(default)]
    pub trace: Option<PathBuf>,
    /// The trace's format: oracle, csv, wiki-upload, wiki-text,
    /// access-log (default: from the file's extension).
    #[serde(default)]
    pub trace_format: Option<String>,
    /// The column mapping of a csv trace, e.g.
    /// `"header=true,time=time,key=key,size=size"`.
    #[serde(default)]
    pub trace_csv: Option<String>,
    /// Rate over the day in each region's local time.
    #[serde(default)]
    pub diurnal: Option<Diurnal>,
    /// Share of requests from each region (normalised).
    pub clients: BTreeMap<String, f64>,
    /// Requests in flight at most.
    #[serde(default = "concurrency_default")]
    pub concurrency: usize,
    /// Source addresses per region (clients 127.k.1.1, 127.k.1.2, …).
    #[serde(default = "sources_default")]
    pub sources_per_region: u32,
}

fn objects_default() -> u64 {
    20_000
}
fn concurrency_default() -> usize {
    256
}
fn sources_default() -> u32 {
    8
}

/// Popularity: Zipf over objects plus one-hit wonders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Popularity {
    /// Zipf exponent.
    #[serde(default = "zipf_default")]
    pub zipf: f64,
    /// Share of requests for objects requested only once.
    #[serde(default)]
    pub one_hit_wonders: f64,
}

fn zipf_default() -> f64 {
    0.8
}

impl Default for Popularity {
    fn default() -> Self {
        Popularity { zipf: zipf_default(), one_hit_wonders: 0.0 }
    }
}

/// Daily rate curve by local time: `trough` at 04:00, `peak` at 20:00.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diurnal {
    /// Rate multiplier at the evening peak.
    #[serde(default = "peak_default")]
    pub peak: f64,
    /// Rate multiplier at the night trough.
    #[serde(default = "trough_default")]
    pub trough: f64,
    /// Simulated local time at the start, hours after midnight UTC.
    #[serde(default)]
    pub start_utc_hour: f64,
}

fn peak_default() -> f64 {
    1.6
}
fn trough_default() -> f64 {
    0.3
}

/// One timed event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Event {
    /// Purge at every edge.
    Purge {
        /// When (since the start).
        at: Dur,
        /// Exact URL.
        #[serde(default)]
        url: Option<String>,
        /// URL prefix.
        #[serde(default)]
        prefix: Option<String>,
        /// Surrogate key.
        #[serde(default)]
        tag: Option<String>,
        /// Everything.
        #[serde(default)]
        all: bool,
        /// Mark stale instead of removing.
        #[serde(default)]
        soft: bool,
    },
    /// New content at the origin (a new version of one path or a prefix).
    Bump {
        /// When.
        at: Dur,
        /// One path.
        #[serde(default)]
        path: Option<String>,
        /// Every path under a prefix.
        #[serde(default)]
        prefix: Option<String>,
    },
    /// The origin stops answering for a while.
    OriginOutage {
        /// When.
        at: Dur,
        /// For how long.
        #[serde(rename = "for")]
        duration: Dur,
        /// `reset` (connections dropped), `hang`, or `status` (503s).
        #[serde(default)]
        mode: Option<String>,
    },
    /// The origin answers slowly for a while.
    OriginSlow {
        /// When.
        at: Dur,
        /// For how long.
        #[serde(rename = "for")]
        duration: Dur,
        /// Added latency.
        latency: Dur,
    },
    /// The origin fails a share of requests for a while.
    OriginErrors {
        /// When.
        at: Dur,
        /// For how long.
        #[serde(rename = "for")]
        duration: Dur,
        /// Share of requests answered 503.
        rate: f64,
    },
    /// The origin flips a byte in every body for a while, keeping each
    /// body's `Content-Digest`: a test of the driver's integrity check.
    OriginCorrupt {
        /// When.
        at: Dur,
        /// For how long.
        #[serde(rename = "for")]
        duration: Dur,
    },
    /// An edge process is killed (and restarted later, if asked).
    EdgeKill {
        /// When.
        at: Dur,
        /// Which edge.
        edge: String,
        /// Restart it after this long.
        #[serde(default)]
        restart_after: Option<Dur>,
    },
    /// Extra traffic for one object or prefix.
    FlashCrowd {
        /// When.
        at: Dur,
        /// For how long.
        #[serde(rename = "for")]
        duration: Dur,
        /// Requests per second on top of the workload.
        rate: f64,
        /// One path.
        #[serde(default)]
        path: Option<String>,
        /// Or objects under this prefix (`/obj/` picks among the first 100).
        #[serde(default)]
        prefix: Option<String>,
        /// Only from this region (default: the workload's mix).
        #[serde(default)]
        region: Option<String>,
    },
}

impl Event {
    /// When it fires.
    pub fn at(&self) -> Dur {
        match self {
            Event::Purge { at, .. }
            | Event::Bump { at, .. }
            | Event::OriginOutage { at, .. }
            | Event::OriginSlow { at, .. }
            | Event::OriginErrors { at, .. }
            | Event::OriginCorrupt { at, .. }
            | Event::EdgeKill { at, .. }
            | Event::FlashCrowd { at, .. } => *at,
        }
    }

    /// The purge request of a purge event.
    pub fn purge_request(&self) -> Option<edge::purge::PurgeRequest> {
        match self {
            Event::Purge { url, prefix, tag, all, soft, .. } => Some(edge::purge::PurgeRequest {
                url: url.clone(),
                prefix: prefix.clone(),
                tag: tag.clone(),
                all: all.then_some(true),
                soft: *soft,
            }),
            _ => None,
        }
    }

    /// Its kind, as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Purge { .. } => "purge",
            Event::Bump { .. } => "bump",
            Event::OriginOutage { .. } => "origin-outage",
            Event::OriginSlow { .. } => "origin-slow",
            Event::OriginErrors { .. } => "origin-errors",
            Event::OriginCorrupt { .. } => "origin-corrupt",
            Event::EdgeKill { .. } => "edge-kill",
            Event::FlashCrowd { .. } => "flash-crowd",
        }
    }
}

/// A parameter sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// `memory` (edge memory tier), `zipf`, or `rate`.
    pub param: String,
    /// The values, in order (sizes as strings for `memory`).
    pub values: Vec<toml::Value>,
}

/// Report fields an expectation may name.
pub const EXPECTABLE: [&str; 15] = [
    "requests",
    "hit_ratio",
    "byte_hit_ratio",
    "origin_offload",
    "errors",
    "error_ratio",
    "corrupt",
    "served_after_purge",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "cost_usd",
    "origin_only_cost_usd",
    "savings_usd",
    "model_hit_ratio_gap",
];

/// A comparison in an expectation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cmp {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `==`
    Eq,
}

/// Parses `">= 0.85"`.
pub fn parse_expectation(s: &str) -> Result<(Cmp, f64), String> {
    let s = s.trim();
    let (cmp, rest) = if let Some(r) = s.strip_prefix(">=") {
        (Cmp::Ge, r)
    } else if let Some(r) = s.strip_prefix("<=") {
        (Cmp::Le, r)
    } else if let Some(r) = s.strip_prefix("==") {
        (Cmp::Eq, r)
    } else if let Some(r) = s.strip_prefix('>') {
        (Cmp::Gt, r)
    } else if let Some(r) = s.strip_prefix('<') {
        (Cmp::Lt, r)
    } else {
        return Err(format!("`{s}`: start with >=, >, <=, < or =="));
    };
    let v: f64 = rest.trim().parse().map_err(|_| format!("`{s}`: `{}` is not a number", rest.trim()))?;
    Ok((cmp, v))
}

impl Cmp {
    /// Whether `actual` satisfies the comparison with `want`.
    pub fn holds(self, actual: f64, want: f64) -> bool {
        match self {
            Cmp::Ge => actual >= want,
            Cmp::Gt => actual > want,
            Cmp::Le => actual <= want,
            Cmp::Lt => actual < want,
            Cmp::Eq => (actual - want).abs() < 1e-9,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
            Cmp::Le => "<=",
            Cmp::Lt => "<",
            Cmp::Eq => "==",
        }
    }
}

/// A scenario and the world it runs in.
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// Its world, overrides applied.
    pub world: World,
    /// Its world before the overrides (for sweeps).
    pub base: World,
    /// The scenario file.
    pub path: PathBuf,
}

/// Reads and checks a scenario file and its world.
pub fn load(path: &Path) -> Result<Loaded, FileError> {
    let text = world::toml_file::read(path)?;
    let label = path.display().to_string();
    let (s, doc) = Doc::parse::<Scenario>(&label, &text)?;
    let world = match &s.world {
        Some(w) => {
            let p = path.parent().unwrap_or(Path::new(".")).join(w);
            World::load(&p).map_err(|e| FileError { message: format!("world {}: {}", p.display(), e.message), ..e })?
        }
        None => World::demo()?,
    };
    let mut s = s;
    if let Some(t) = &s.workload.trace
        && t.is_relative()
    {
        s.workload.trace = Some(path.parent().unwrap_or(Path::new(".")).join(t));
    }
    check(&s, &world, &doc)?;
    let base = world.clone();
    let world = apply_overrides(&s, world);
    Ok(Loaded { scenario: s, world, base, path: path.to_path_buf() })
}

/// Parses and checks scenario text against `world` (what [`load`] does
/// after reading the files); for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub fn parse_text(label: &str, text: &str, world: &World) -> Result<Scenario, FileError> {
    let (s, doc) = Doc::parse::<Scenario>(label, text)?;
    check(&s, world, &doc)?;
    Ok(s)
}

/// Every check parsing cannot make, in one pass: every problem is
/// reported ([`Problems`]), each at its field, with the bounds of
/// [`world::bounds`].
fn check(s: &Scenario, w: &World, doc: &Doc<'_>) -> Result<(), FileError> {
    let mut p = Problems::new(doc);
    let k = Seg::Key;
    let regions = || w.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
    if s.duration.is_none() && s.requests.is_none() && s.workload.trace.is_none() {
        p.at(&[], "say how long: `duration = \"60s\"` or `requests = 100000`");
    }
    if let Some(d) = s.duration
        && (d.0.is_zero() || d.0 > MAX_DURATION)
    {
        p.at(&[k("duration")], format!("duration {d} must be > 0 and at most {}", Dur(MAX_DURATION)));
    }
    if let Some(n) = s.requests
        && !(1..=MAX_REQUESTS).contains(&n)
    {
        p.at(&[k("requests")], format!("requests {n} must be 1 to {MAX_REQUESTS}"));
    }
    if let Some(ts) = s.time_scale
        && !(ts.is_finite() && ts > 0.0 && ts <= MAX_TIME_SCALE)
    {
        p.at(&[k("time_scale")], format!("time_scale {} must be > 0 and ≤ {MAX_TIME_SCALE:e}", num(ts)));
    }
    let o = &s.overrides;
    if o.memory.is_some() || o.disk.is_some() || o.max_object.is_some() {
        let d = &w.edge_defaults;
        let (m, dk, mo) =
            (o.memory.unwrap_or(d.memory), o.disk.unwrap_or(d.disk), o.max_object.unwrap_or(d.max_object));
        if let Err((f, msg)) = world::bounds::check_cache_sizes(m.0, dk.0, mo.0) {
            p.at(&[k("overrides"), k(f)], msg);
        }
    }
    let wl = &s.workload;
    let wk = |f: &'static str| [k("workload"), k(f)];
    if let Some(t) = &wl.trace {
        if wl.rate != 0.0 {
            p.at(&wk("rate"), "a trace sets its own pace: remove `rate` (speed it up with `time_scale`)");
        }
        if let Err(m) = crate::trace_workload::check(t, wl) {
            p.at(&wk("trace"), m);
        }
    } else if !(wl.rate.is_finite() && wl.rate > 0.0 && wl.rate <= MAX_RATE) {
        p.at(&wk("rate"), format!("rate {} must be > 0 and at most {MAX_RATE} requests/s", num(wl.rate)));
    }
    if wl.objects == 0 || wl.objects > MAX_WORKLOAD_OBJECTS {
        p.at(&wk("objects"), format!("objects {} must be 1 to {MAX_WORKLOAD_OBJECTS}", wl.objects));
    }
    if let Some(sz) = &wl.sizes {
        world::load::check_size_model(&mut p, sz, &wk("sizes"));
    }
    let pop = [k("workload"), k("popularity")];
    p.range(&[pop[0], pop[1], k("zipf")], "zipf", wl.popularity.zipf, 0.0, MAX_ZIPF);
    p.range(&[pop[0], pop[1], k("one_hit_wonders")], "one_hit_wonders", wl.popularity.one_hit_wonders, 0.0, 1.0);
    let mut peak = 1.0f64;
    if let Some(d) = &wl.diurnal {
        let at = |f: &'static str| [k("workload"), k("diurnal"), k(f)];
        for (f, v) in [("peak", d.peak), ("trough", d.trough)] {
            if !(v.is_finite() && v > 0.0 && v <= MAX_DIURNAL) {
                p.at(&at(f), format!("diurnal.{f} {} must be > 0 and at most {MAX_DIURNAL}", num(v)));
            }
        }
        p.range(&at("start_utc_hour"), "diurnal.start_utc_hour", d.start_utc_hour, 0.0, 24.0);
        peak = d.peak.max(d.trough);
    }
    if wl.clients.is_empty()
        || wl.clients.values().any(|v| !(v.is_finite() && (0.0..=1e6).contains(v)))
        || wl.clients.values().sum::<f64>() <= 0.0
    {
        p.at(&wk("clients"), "clients: give each region a share from 0 to 1e6, not all 0");
    }
    for r in wl.clients.keys() {
        if w.region(r).is_none() {
            p.at(&[k("workload"), k("clients"), Seg::Key(r)], format!("unknown region `{r}` (regions: {})", regions()));
        }
    }
    if wl.concurrency == 0 || wl.concurrency > MAX_CONCURRENCY {
        p.at(&wk("concurrency"), format!("concurrency {} must be 1 to {MAX_CONCURRENCY}", wl.concurrency));
    }
    if wl.sources_per_region == 0 || wl.sources_per_region > MAX_SOURCES {
        p.at(
            &wk("sources_per_region"),
            format!("sources_per_region {} must be 1 to {MAX_SOURCES}", wl.sources_per_region),
        );
    }
    if s.events.len() > MAX_EVENTS {
        p.at(&[k("event")], format!("{} events: at most {MAX_EVENTS}", s.events.len()));
    }
    // Requests the driver will plan (and keep a sample of): rate × duration,
    // flash crowds included, capped by `requests`.
    let mut planned = wl.rate * peak * s.duration.map_or(f64::INFINITY, |d| d.0.as_secs_f64());
    for (i, e) in s.events.iter().enumerate() {
        let at = |f: &'static str| [k("event"), Seg::Index(i), k(f)];
        if e.at().0 > MAX_DURATION {
            p.at(&at("at"), format!("at {} must be at most {}", e.at(), Dur(MAX_DURATION)));
        }
        let window = match e {
            Event::OriginOutage { duration, .. }
            | Event::OriginSlow { duration, .. }
            | Event::OriginErrors { duration, .. }
            | Event::OriginCorrupt { duration, .. }
            | Event::FlashCrowd { duration, .. } => Some(*duration),
            Event::EdgeKill { restart_after, .. } => *restart_after,
            _ => None,
        };
        if let Some(d) = window
            && d.0 > MAX_DURATION
        {
            let f = if matches!(e, Event::EdgeKill { .. }) { "restart_after" } else { "for" };
            p.at(&at(f), format!("{f} {d} must be at most {}", Dur(MAX_DURATION)));
        }
        match e {
            Event::Purge { url, prefix, tag, all, .. } => {
                let kinds = url.is_some() as u8 + prefix.is_some() as u8 + tag.is_some() as u8 + *all as u8;
                if kinds != 1 {
                    p.at(&at("do"), "a purge needs exactly one of url, prefix, tag, all = true");
                } else if let Some(Err(m)) = e.purge_request().map(|r| r.spec()) {
                    let f = if url.is_some() {
                        "url"
                    } else if prefix.is_some() {
                        "prefix"
                    } else {
                        "tag"
                    };
                    p.at(&at(f), m.to_string());
                }
            }
            Event::Bump { path, prefix, .. } if path.is_some() == prefix.is_some() => {
                p.at(&at("do"), "a bump needs exactly one of path, prefix");
            }
            Event::EdgeKill { edge, .. } if w.edge(edge).is_none() => {
                let edges = w.edges.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ");
                p.at(&at("edge"), format!("unknown edge `{edge}` (edges: {edges})"));
            }
            Event::OriginErrors { rate, .. } => p.range(&at("rate"), "rate", *rate, 0.0, 1.0),
            Event::OriginOutage { mode: Some(m), .. } if !["reset", "hang", "status"].contains(&m.as_str()) => {
                p.at(&at("mode"), format!("mode `{m}`: use reset, hang or status"));
            }
            Event::OriginSlow { latency, .. } if latency.0 > MAX_ADDED_LATENCY => {
                p.at(&at("latency"), format!("latency {latency} must be at most {}", Dur(MAX_ADDED_LATENCY)));
            }
            Event::FlashCrowd { path, prefix, rate, region, duration, .. } => {
                if path.is_some() == prefix.is_some() {
                    p.at(&at("do"), "a flash crowd needs exactly one of path, prefix");
                }
                if !(rate.is_finite() && *rate > 0.0 && *rate <= MAX_RATE) {
                    p.at(&at("rate"), format!("rate {} must be > 0 and at most {MAX_RATE} requests/s", num(*rate)));
                } else {
                    planned += rate * duration.0.as_secs_f64().min(MAX_DURATION.as_secs_f64());
                }
                if let Some(r) = region
                    && w.region(r).is_none()
                {
                    p.at(&at("region"), format!("unknown region `{r}` (regions: {})", regions()));
                }
            }
            _ => {}
        }
    }
    let planned = s.requests.map_or(planned, |n| planned.min(n as f64));
    if p.is_empty() && wl.trace.is_none() && planned > MAX_REQUESTS as f64 {
        let at = if s.requests.is_some() { k("requests") } else { k("duration") };
        p.at(
            &[at],
            format!(
                "this run plans {planned:.0} requests (rate × duration, flash crowds included); at most {MAX_REQUESTS}: \
                 lower the rate or the duration, or set requests"
            ),
        );
    }
    for (key, v) in &s.expect {
        let at = [k("expect"), Seg::Key(key)];
        if !EXPECTABLE.contains(&key.as_str()) {
            p.at(&at, format!("unknown report field `{key}` (known: {})", EXPECTABLE.join(", ")));
        }
        if let Err(m) = parse_expectation(v) {
            p.at(&at, m);
        }
    }
    if let Some(sw) = &s.sweep {
        if !["memory", "zipf", "rate"].contains(&sw.param.as_str()) {
            p.at(&[k("sweep"), k("param")], format!("sweep param `{}`: use memory, zipf or rate", sw.param));
        }
        let at = [k("sweep"), k("values")];
        if sw.values.is_empty() || sw.values.len() > MAX_SWEEP_VALUES {
            p.at(&at, format!("sweep needs 1 to {MAX_SWEEP_VALUES} values"));
        }
        for (i, v) in sw.values.iter().enumerate() {
            if let Err(m) = sweep_value(&sw.param, v, w) {
                p.at(&[at[0], at[1], Seg::Index(i)], m);
            }
        }
    }
    p.finish()
}

/// A sweep value as the parameter needs it: a memory size in bounds (the
/// world's disk and max_object kept), a Zipf exponent, a rate.
pub fn sweep_value(param: &str, v: &toml::Value, w: &World) -> Result<SweepValue, String> {
    let num = || v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
    match param {
        "memory" => {
            let b = match v {
                toml::Value::String(t) => world::units::parse_bytes(t)?,
                toml::Value::Integer(n) if *n >= 0 => ByteSize(*n as u64),
                _ => return Err(format!("sweep memory value {v} must be a size like \"16MiB\"")),
            };
            let d = &w.edge_defaults;
            world::bounds::check_cache_sizes(b.0, d.disk.0, d.max_object.0).map_err(|(_, m)| m)?;
            Ok(SweepValue::Memory(b))
        }
        "zipf" => match num() {
            Some(a) if a.is_finite() && (0.0..=MAX_ZIPF).contains(&a) => Ok(SweepValue::Zipf(a)),
            _ => Err(format!("sweep zipf value {v} must be a number from 0 to {MAX_ZIPF}")),
        },
        _ => match num() {
            Some(r) if r.is_finite() && r > 0.0 && r <= MAX_RATE => Ok(SweepValue::Rate(r)),
            _ => Err(format!("sweep rate value {v} must be > 0 and at most {MAX_RATE} requests/s")),
        },
    }
}

/// One checked sweep value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SweepValue {
    /// Edge memory tier.
    Memory(ByteSize),
    /// Zipf exponent.
    Zipf(f64),
    /// Requests per second.
    Rate(f64),
}

/// The world with the scenario's changes applied.
pub fn apply_overrides(s: &Scenario, mut w: World) -> World {
    let o = &s.overrides;
    if let Some(m) = o.memory {
        w.edge_defaults.memory = m;
        w.edges.iter_mut().for_each(|e| e.memory = None);
    }
    if let Some(d) = o.disk {
        w.edge_defaults.disk = d;
        w.edges.iter_mut().for_each(|e| e.disk = None);
    }
    if let Some(m) = o.max_object {
        w.edge_defaults.max_object = m;
        w.edges.iter_mut().for_each(|e| e.max_object = None);
    }
    if let Some(ev) = o.eviction {
        w.edge_defaults.eviction = ev;
        w.edges.iter_mut().for_each(|e| e.eviction = None);
    }
    if let Some(r) = &o.cache_rules {
        w.cache.rules = r.clone();
    }
    if let Some(r) = &o.origin_rules {
        w.catalog.rules = r.clone();
    }
    if let Some(ts) = s.time_scale {
        w.time_scale = ts;
    }
    if let Some(sz) = &s.workload.sizes {
        w.catalog.size = sz.clone();
    }
    // Room for one-hit wonders above the popular objects.
    w.catalog.objects = s.workload.objects.saturating_mul(1 + 64).max(w.catalog.objects);
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
duration = "10s"
seed = 3

[workload]
rate = 100
clients = { seoul = 0.5, tokyo = 0.5 }

[[event]]
at = "2s"
do = "purge"
tag = "group-1"

[[event]]
at = "3s"
do = "flash-crowd"
path = "/obj/1"
rate = 50
for = "2s"

[expect]
hit_ratio = ">= 0.5"
"#;

    fn parse(text: &str) -> Result<Scenario, FileError> {
        let (s, doc) = Doc::parse::<Scenario>("s.toml", text)?;
        check(&s, &World::demo().unwrap(), &doc)?;
        Ok(s)
    }

    fn line(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn a_good_scenario_parses() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.events.len(), 2);
        assert_eq!(s.events[1].kind(), "flash-crowd");
        assert_eq!(s.workload.popularity.zipf, 0.8);
    }

    #[test]
    fn mistakes_are_refused_with_line_and_field() {
        let cases = [
            (GOOD.replace("rate = 100", "rte = 100"), "rte"),
            (GOOD.replace("seoul = 0.5", "paris = 0.5"), "paris"),
            (GOOD.replace("tag = \"group-1\"", "tag = \"group-1\"\nurl = \"/x\""), "do = \"purge\""),
            (GOOD.replace("do = \"purge\"", "do = \"explode\""), "explode"),
            (GOOD.replace("hit_ratio = \">= 0.5\"", "hit_rate = \">= 0.5\""), "hit_rate"),
            (GOOD.replace("hit_ratio = \">= 0.5\"", "hit_ratio = \"about 0.5\""), "about 0.5"),
            (GOOD.replace("seed = 3", "seed = \"three\""), "three"),
        ];
        for (text, needle) in cases {
            let e = parse(&text).expect_err(needle);
            assert_eq!(e.at.map(|a| a.0), Some(line(&text, needle)), "{needle}: {e}");
        }
    }

    #[test]
    fn every_shipped_scenario_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for f in std::fs::read_dir(dir).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") && p.file_name().is_some_and(|n| n != "Cargo.toml") {
                let l = load(&p).unwrap_or_else(|e| panic!("{e}"));
                assert!(l.scenario.question.is_some(), "{}: say what question it answers", p.display());
                n += 1;
            }
        }
        assert_eq!(n, 9, "the scenarios shipped in scenarios/*.toml");
    }

    /// Issue 12, defect 8: a rate of 1e12 aborted the driver on allocation
    /// failure, `requests = 0` reported a negative elapsed time; both, and
    /// every other number, now have bounds reported at their line.
    #[test]
    fn numbers_out_of_bounds_are_refused_with_line_and_field() {
        let cases = [
            (GOOD.replace("rate = 100\n", "rate = 1e12\n"), "rate = 1e12", "rate 1e12 must be"),
            (GOOD.replace("duration = \"10s\"", "requests = 0"), "requests = 0", "requests 0 must be 1"),
            (GOOD.replace("duration = \"10s\"", "duration = \"30d\""), "30d", "duration"),
            (GOOD.replace("rate = 100\n", "rate = 100\nobjects = 1000000000000\n"), "objects =", "objects"),
            (GOOD.replace("rate = 100\n", "rate = 100\nconcurrency = 0\n"), "concurrency", "concurrency 0"),
            (GOOD.replace("rate = 50", "rate = 1e300"), "rate = 1e300", "rate 1e300"),
            (GOOD.replace("for = \"2s\"", "for = \"400d\""), "400d", "for"),
            (GOOD.replace("rate = 100\n", "rate = 100\npopularity = { zipf = 1e9 }\n"), "zipf", "zipf"),
            (GOOD.replace("seed = 3", "seed = 3\n[overrides]\ndisk = \"1000TiB\""), "1000TiB", "disk 1000TiB"),
            (GOOD.replace("tag = \"group-1\"", "url = \"no-slash\""), "no-slash", "url"),
            (
                GOOD.replace("duration = \"10s\"", "duration = \"24h\"").replace("rate = 100\n", "rate = 500\n"),
                "24h",
                "plans 43200100 requests",
            ),
        ];
        for (text, needle, msg) in cases {
            let e = parse(&text).expect_err(needle);
            assert_eq!(e.at.map(|a| a.0), Some(line(&text, needle)), "{needle}: {e}");
            assert!(e.message.contains(msg), "{needle}: {e}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = GOOD
            .replace("rate = 100\n", "rate = 0\n")
            .replace("rate = 50", "rate = -1")
            .replace("seed = 3", "seed = 3\nrequests = 0");
        let e = parse(&text).unwrap_err();
        let lines: Vec<usize> = e.all().map(|e| e.at.unwrap().0).collect();
        assert_eq!(lines, vec![line(&text, "requests = 0"), line(&text, "rate = 0"), line(&text, "rate = -1")], "{e}");
    }

    #[test]
    fn sweep_values_are_checked_on_load() {
        let sweep = |param: &str, values: &str| format!("{GOOD}\n[sweep]\nparam = \"{param}\"\nvalues = {values}\n");
        assert!(parse(&sweep("memory", "[\"16MiB\", \"64MiB\"]")).is_ok());
        for (param, values, msg) in [
            ("memory", "[\"16MiB\", \"2TiB\"]", "memory 2TiB"),
            ("memory", "[true]", "must be a size"),
            ("zipf", "[0.5, 1e9]", "zipf value"),
            ("rate", "[100, 0]", "rate value 0"),
        ] {
            let e = parse(&sweep(param, values)).expect_err(values);
            assert!(e.message.contains(msg), "{values}: {e}");
        }
    }

    #[test]
    fn expectations_parse_and_compare() {
        assert_eq!(parse_expectation(">= 0.85").unwrap(), (Cmp::Ge, 0.85));
        assert_eq!(parse_expectation("== 0").unwrap(), (Cmp::Eq, 0.0));
        assert!(Cmp::Lt.holds(1.0, 2.0) && !Cmp::Gt.holds(1.0, 2.0));
        assert!(parse_expectation("0.5").is_err());
    }
}

//! Scenario files (`scenarios/*.toml`): which world, what traffic, what
//! happens when, what must hold at the end. Parsed strictly: an unknown
//! field, a wrong type, an unknown region, edge or expectation is an error
//! naming the file, line and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use world::config::{CacheRule, CatalogRule, SizeModel};
use world::toml_file::{Doc, FileError, Seg};
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

fn check(s: &Scenario, w: &World, doc: &Doc<'_>) -> Result<(), FileError> {
    let err = |path: &[Seg<'_>], msg: String| Err(doc.error_at(path, msg));
    let regions = || w.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
    if s.duration.is_none() && s.requests.is_none() && s.workload.trace.is_none() {
        return err(&[], "say how long: `duration = \"60s\"` or `requests = 100000`".into());
    }
    if let Some(ts) = s.time_scale
        && !(ts.is_finite() && ts > 0.0 && ts <= 1e6)
    {
        return err(&["time_scale".into()], format!("time_scale {ts} must be > 0"));
    }
    let wl = &s.workload;
    if let Some(t) = &wl.trace {
        if wl.rate != 0.0 {
            return err(
                &["workload".into(), "rate".into()],
                "a trace sets its own pace: remove `rate` (speed it up with `time_scale`)".into(),
            );
        }
        crate::trace_workload::check(t, wl).map_err(|m| doc.error_at(&["workload".into(), "trace".into()], m))?;
    } else if !(wl.rate.is_finite() && wl.rate > 0.0) {
        return err(&["workload".into(), "rate".into()], format!("rate {} must be > 0", wl.rate));
    }
    if wl.objects == 0 {
        return err(&["workload".into(), "objects".into()], "objects must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&wl.popularity.one_hit_wonders) || !(0.0..=100.0).contains(&wl.popularity.zipf) {
        return err(&["workload".into(), "popularity".into()], "zipf must be ≥ 0 and one_hit_wonders in 0..1".into());
    }
    if wl.clients.is_empty()
        || wl.clients.values().any(|v| !v.is_finite() || *v < 0.0)
        || wl.clients.values().sum::<f64>() <= 0.0
    {
        return err(&["workload".into(), "clients".into()], "clients: give each region a share ≥ 0, not all 0".into());
    }
    for r in wl.clients.keys() {
        if w.region(r).is_none() {
            return err(
                &["workload".into(), "clients".into(), Seg::Key(r)],
                format!("unknown region `{r}` (regions: {})", regions()),
            );
        }
    }
    if wl.concurrency == 0 || wl.sources_per_region == 0 || wl.sources_per_region > 250 {
        return err(&["workload".into()], "concurrency must be ≥ 1 and sources_per_region 1..250".into());
    }
    for (i, e) in s.events.iter().enumerate() {
        let at = |f: &'static str| [Seg::Key("event"), Seg::Index(i), Seg::Key(f)];
        match e {
            Event::Purge { url, prefix, tag, all, .. } => {
                let kinds = url.is_some() as u8 + prefix.is_some() as u8 + tag.is_some() as u8 + *all as u8;
                if kinds != 1 {
                    return err(&at("do"), "a purge needs exactly one of url, prefix, tag, all = true".into());
                }
            }
            Event::Bump { path, prefix, .. } if path.is_some() == prefix.is_some() => {
                return err(&at("do"), "a bump needs exactly one of path, prefix".into());
            }
            Event::EdgeKill { edge, .. } if w.edge(edge).is_none() => {
                let edges = w.edges.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ");
                return err(&at("edge"), format!("unknown edge `{edge}` (edges: {edges})"));
            }
            Event::OriginErrors { rate, .. } if !(0.0..=1.0).contains(rate) => {
                return err(&at("rate"), format!("rate {rate} must be in 0..1"));
            }
            Event::OriginOutage { mode: Some(m), .. } if !["reset", "hang", "status"].contains(&m.as_str()) => {
                return err(&at("mode"), format!("mode `{m}`: use reset, hang or status"));
            }
            Event::FlashCrowd { path, prefix, rate, region, .. } => {
                if path.is_some() == prefix.is_some() {
                    return err(&at("do"), "a flash crowd needs exactly one of path, prefix".into());
                }
                if !(rate.is_finite() && *rate > 0.0) {
                    return err(&at("rate"), format!("rate {rate} must be > 0"));
                }
                if let Some(r) = region
                    && w.region(r).is_none()
                {
                    return err(&at("region"), format!("unknown region `{r}` (regions: {})", regions()));
                }
            }
            _ => {}
        }
    }
    for (k, v) in &s.expect {
        let at = [Seg::Key("expect"), Seg::Key(k)];
        if !EXPECTABLE.contains(&k.as_str()) {
            return err(&at, format!("unknown report field `{k}` (known: {})", EXPECTABLE.join(", ")));
        }
        parse_expectation(v).map_err(|m| doc.error_at(&at, m))?;
    }
    if let Some(sw) = &s.sweep {
        let at = [Seg::Key("sweep"), Seg::Key("param")];
        if !["memory", "zipf", "rate"].contains(&sw.param.as_str()) {
            return err(&at, format!("sweep param `{}`: use memory, zipf or rate", sw.param));
        }
        if sw.values.is_empty() {
            return err(&[Seg::Key("sweep"), Seg::Key("values")], "sweep needs at least one value".into());
        }
    }
    Ok(())
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

    #[test]
    fn expectations_parse_and_compare() {
        assert_eq!(parse_expectation(">= 0.85").unwrap(), (Cmp::Ge, 0.85));
        assert_eq!(parse_expectation("== 0").unwrap(), (Cmp::Eq, 0.0));
        assert!(Cmp::Lt.holds(1.0, 2.0) && !Cmp::Gt.holds(1.0, 2.0));
        assert!(parse_expectation("0.5").is_err());
    }
}

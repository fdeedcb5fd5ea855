//! Scenario files (`scenarios/*.toml`): which world, what traffic, what
//! happens when, what must hold at the end. Parsed strictly: an unknown
//! field, a wrong type, an unknown region, edge or expectation is an error
//! naming the file, line and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cachesim::trace::{Format, Op, Reader};
use serde::{Deserialize, Serialize};
use world::bounds::*;
use world::config::SizeModel;
use world::toml_file::{Doc, FileError, Key, Problems, Seg};
use world::{Dur, World};

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
    /// Your own origin, and where the origin is.
    #[serde(default)]
    pub origin: OriginSpec,
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
    /// The start of the run left out of the statistics (a cold cache):
    /// a duration (`"20s"`) or a number of requests.
    #[serde(default)]
    pub warmup: Option<Warmup>,
    /// Changes to the world for this scenario (see [`Overrides`]).
    #[serde(default)]
    pub overrides: toml::Table,
    /// The traffic.
    pub workload: Workload,
    /// Run the world on a control bus (docs/bus.md): a local nats-server
    /// on a free loopback port, the edges and GeoDNS following it, purge
    /// events published to its log, and the edges' counters read from
    /// their stats subjects (an edge not heard there is polled).
    #[serde(default)]
    pub bus: bool,
    /// Timed events.
    #[serde(default, rename = "event")]
    pub events: Vec<Event>,
    /// Assertions on report fields: `hit_ratio = ">= 0.85"`.
    #[serde(default)]
    pub expect: BTreeMap<String, String>,
    /// Run once per value of one setting and chart the result.
    #[serde(default)]
    pub sweep: Option<Sweep>,
    /// Side-by-side runs: each arm a `name` and changes to this scenario
    /// (any field, `overrides` included), with the same seed and workload.
    #[serde(default, rename = "arm")]
    pub arms: Vec<toml::Table>,
}

fn origin_seq_default() -> bool {
    true
}

fn seed_default() -> u64 {
    1
}

/// Where the origin is, and whose it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginSpec {
    /// Your own server behind the edges instead of cdnlab's synthetic
    /// origin, e.g. `http://127.0.0.1:3000` (loopback only).
    #[serde(default)]
    pub url: Option<String>,
    /// `Host` the edges send it (default: the URL's authority).
    #[serde(default)]
    pub host: Option<String>,
    /// The region the origin is in (default: the world's `origin.region`):
    /// every miss pays the round trip from the edge's region to it.
    #[serde(default)]
    pub region: Option<String>,
}

/// The start of a run left out of the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Warmup {
    /// The first requests, by count.
    Requests(u64),
    /// The first seconds (wall clock).
    Time(Dur),
}

/// What `[overrides]` may hold, besides any edge setting
/// ([`world::EdgeSettings::FIELDS`], applied to every edge).
pub const OVERRIDE_TABLES: [&str; 5] = ["edge", "region", "world", "cache_rule", "origin_rule"];

/// Keys an `[[arm]]` may not change: arms share the seed (and so the
/// workload's draws); a sweep and arms are one or the other.
pub const NOT_ARMABLE: [&str; 3] = ["seed", "arm", "sweep"];

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
    /// Request the URLs of this list instead of `/obj/N` (relative to the
    /// scenario file): one per line, `PATH [WEIGHT [SIZE]]` (weights:
    /// shares of requests, default by Zipf over the list's order; sizes in
    /// bytes, needed with cdnlab's origin, which serves each path as an
    /// object of that size). `#` starts a comment.
    #[serde(default)]
    pub urls: Option<PathBuf>,
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

impl Workload {
    /// The format of this workload's trace file `path` (named, or guessed
    /// from the file: `cdn replay`'s rules).
    pub fn trace_format(&self, path: &Path) -> Result<Format, String> {
        crate::replay::resolve_format(path, self.trace_format.as_deref(), self.trace_csv.as_deref())
            .map_err(|e| e.to_string())
    }
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
        /// With a replicated origin, send the primary's position
        /// (`origin_seq`), so no edge refills the purged object from a
        /// replica that has not seen the write; `false` sends none (the
        /// purge race, shown: docs/topology.md).
        #[serde(default = "origin_seq_default")]
        origin_seq: bool,
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
    /// An origin site's process is killed (the primary unless `site`
    /// names a replica's region), and restarted later if asked: a
    /// replicated origin's failover (docs/topology.md).
    OriginKill {
        /// When.
        at: Dur,
        /// Which origin site (region); default: the world file's primary.
        #[serde(default)]
        site: Option<String>,
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
            | Event::OriginKill { at, .. }
            | Event::FlashCrowd { at, .. } => *at,
        }
    }

    /// The purge request of a purge event.
    pub fn purge_request(&self) -> Option<api::edge::PurgeRequest> {
        match self {
            Event::Purge { url, prefix, tag, all, soft, origin_seq, .. } => Some(api::edge::PurgeRequest {
                url: url.clone(),
                prefix: prefix.clone(),
                tag: tag.clone(),
                all: all.then_some(true),
                soft: *soft,
                // Position 0 raises no floor, and is not stamped with the primary's.
                origin_seq: (!origin_seq).then_some(0),
                ..Default::default()
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
            Event::OriginKill { .. } => "origin-kill",
            Event::FlashCrowd { .. } => "flash-crowd",
        }
    }
}

/// A parameter sweep: one arm per value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The setting: `memory` (every edge's memory tier), `zipf`, `rate`,
    /// or the dotted path of any scenario field
    /// (`overrides.edge.seoul.memory`, `workload.popularity.one_hit_wonders`).
    pub param: String,
    /// The values, in order (sizes as strings: `"16MiB"`).
    pub values: Vec<toml::Value>,
}

impl Sweep {
    /// The dotted path `param` stands for.
    pub fn path(&self) -> String {
        match self.param.as_str() {
            "memory" => "overrides.memory".into(),
            "zipf" => "workload.popularity.zipf".into(),
            "rate" => "workload.rate".into(),
            p => p.into(),
        }
    }
}

/// Declares [`Field`]: the report fields an expectation may name, each
/// once, with its name in `[expect]` and what it measures. The report
/// reads them in one exhaustive `match` (`Report::value`), so a field
/// declared here and not read there does not compile.
macro_rules! expectable {
    ($($field:ident = $name:literal: $doc:literal),* $(,)?) => {
        /// A report field an expectation may name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Field {
            $(#[doc = $doc] $field),*
        }

        impl Field {
            /// Every field, in the order the docs list them.
            pub const ALL: &[Field] = &[$(Field::$field),*];

            /// The name in `[expect]`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Field::$field => $name),*
                }
            }

            /// What it measures.
            pub fn doc(self) -> &'static str {
                match self {
                    $(Field::$field => $doc),*
                }
            }
        }
    };
}

expectable! {
    Requests = "requests": "requests sent (after the warm-up)",
    HitRatio = "hit_ratio": "fresh and stale hits / requests",
    ByteHitRatio = "byte_hit_ratio": "body bytes from edge caches / all body bytes",
    OriginOffload = "origin_offload": "1 − bytes the edges fetched from the origin / bytes they sent to clients",
    Errors = "errors": "failed requests",
    ErrorRatio = "error_ratio": "errors / requests",
    Corrupt = "corrupt": "bodies that did not match their Content-Digest",
    ServedAfterPurge = "served_after_purge": "responses older than a purge acknowledged before their request",
    P50Ms = "p50_ms": "median latency with the CDN, ms",
    P95Ms = "p95_ms": "95th percentile latency with the CDN, ms",
    P99Ms = "p99_ms": "99th percentile latency with the CDN, ms",
    OriginOnlyP50Ms = "origin_only_p50_ms": "median latency without the CDN (modelled: every request to the origin), ms",
    CostUsd = "cost_usd": "dollars with the CDN, this run",
    OriginOnlyCostUsd = "origin_only_cost_usd": "dollars without the CDN (every client byte from the origin), this run",
    SavingsUsd = "savings_usd": "origin_only_cost_usd − cost_usd",
    MonthlySavingsUsd = "monthly_savings_usd": "the savings of a month at this run's request rate",
    ModelHitRatioGap = "model_hit_ratio_gap": "largest |live − modelled| hit ratio over the edges (trace workloads)",
    OriginRequests = "origin_requests": "requests the edges sent the origin (with a shield: its and any fallback's)",
    OriginRequestsPerObject = "origin_requests_per_object": "origin_requests / distinct objects requested (1: each fetched once for all edges)",
    MaxNodeLoadShare = "max_node_load_share": "the largest share of its PoP's work one PoP node did (client requests + peer fills it answered as the owner)",
}

impl Field {
    /// The field called `name` in `[expect]`.
    pub fn named(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// Whether a trace workload sends request `r`: a read, of a size cdnlab's origin
/// can serve (any size from your own origin).
pub fn trace_sends(r: &cachesim::trace::Request, own: bool) -> bool {
    r.op == Op::Read && (own || r.size > 0)
}

/// Reads a trace workload's whole file once: every record must parse and every object
/// must be one the origin can serve (with your own origin: every URL a path).
fn check_trace(path: &Path, wl: &Workload, own: bool) -> Result<(), String> {
    let f = wl.trace_format(path)?;
    let mut reader = Reader::open(path, &f).map_err(|e| e.to_string())?;
    let mut reads = 0u64;
    let mut i = 0u64;
    while let Some(r) = reader.next() {
        i += 1;
        let r = r.map_err(|e| e.to_string())?;
        if own && trace_sends(&r, own) {
            reads += 1;
            let key = reader.key_text().unwrap_or_default();
            if !key.starts_with('/') || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                return Err(format!(
                    "{}: request {i}: `{key}` is not a path to request from your origin",
                    path.display()
                ));
            }
        } else if trace_sends(&r, own) {
            reads += 1;
            if r.size > api::origin::TRACE_MAX_SIZE {
                return Err(format!(
                    "{}: request {} asks for {} bytes; the origin serves trace objects up to {}",
                    path.display(),
                    i,
                    r.size,
                    world::ByteSize(api::origin::TRACE_MAX_SIZE)
                ));
            }
        }
    }
    if reads == 0 {
        return Err(format!("{}: no reads of size > 0 to replay", path.display()));
    }
    Ok(())
}

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

/// One run of a scenario: the scenario with an arm's changes, and its world.
#[derive(Debug, Clone)]
pub struct Arm {
    /// The arm's name (the scenario's name when it has no arms).
    pub name: String,
    /// The scenario, the arm's changes applied.
    pub scenario: Scenario,
    /// Its world, every override applied.
    pub world: World,
    /// The swept value as a number, for a sweep's chart.
    pub x: Option<f64>,
}

/// A scenario file, resolved.
#[derive(Debug)]
pub struct Loaded {
    /// The scenario as written (no arm applied).
    pub scenario: Scenario,
    /// Its world, the scenario's overrides applied.
    pub world: World,
    /// The arms (or the sweep's values), each resolved; empty without.
    pub arms: Vec<Arm>,
    /// The scenario file.
    pub path: PathBuf,
}

/// Reads and checks a scenario file, its world and every arm; every
/// problem is reported at once, each at the file and line that set it.
pub fn load(path: &Path) -> Result<Loaded, FileError> {
    let text = world::toml_file::read(path)?;
    let label = path.display().to_string();
    let dir = path.parent().unwrap_or(Path::new("."));
    let (table, doc) = Doc::parse_table(&label, &text)?;
    let base = WorldSource::File(dir);
    let (scenario, world) = resolve(table.clone(), &doc, &base, dir)?;
    let arms = arms(&scenario, &table, &doc, &base, dir)?;
    Ok(Loaded { scenario, world, arms, path: path.to_path_buf() })
}

/// Parses and checks scenario text against `world` (what [`load`] does
/// after reading the files); for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub fn parse_text(label: &str, text: &str, world: &World) -> Result<(Scenario, World), FileError> {
    let (table, doc) = Doc::parse_table(label, text)?;
    let src = WorldSource::Given(world);
    let (s, w) = resolve(table.clone(), &doc, &src, Path::new("."))?;
    arms(&s, &table, &doc, &src, Path::new("."))?;
    Ok((s, w))
}

/// Where a scenario's world comes from.
enum WorldSource<'a> {
    /// The scenario's `world` file (relative to this folder) or the demo.
    File(&'a Path),
    /// This world (tests and fuzzing).
    Given(&'a World),
}

/// The scenario in `table` and its world with every override applied,
/// checked.
fn resolve(table: toml::Table, doc: &Doc, src: &WorldSource<'_>, dir: &Path) -> Result<(Scenario, World), FileError> {
    let (s, bad_fields) = doc.deserialize_all::<Scenario>(table);
    let Some(mut s) = s else {
        return Err(world::toml_file::combine(bad_fields).unwrap_or_else(|| doc.error_at(&[], "cannot be read")));
    };
    for p in [&mut s.workload.trace, &mut s.workload.urls].into_iter().flatten() {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    }
    let (mut wtable, mut wdoc) = match (src, &s.world) {
        (WorldSource::Given(w), _) => {
            let t = toml::Table::try_from(*w).map_err(|e| doc.error_at(&[], format!("world: {e}")))?;
            (t, Doc::empty(&format!("world `{}`", w.name)))
        }
        (WorldSource::File(d), Some(w)) => world::load::read_doc(&d.join(w), 0).map_err(|e| match e.at {
            None => doc.error_at(&[Seg::Key("world")], format!("world: {}", e.message)),
            Some(_) => e,
        })?,
        (WorldSource::File(_), None) => {
            world::load::parse_doc(world::load::DEMO_LABEL, world::load::DEMO_TEXT, Path::new("."), 0)?
        }
    };
    let mut p = Problems::new(doc);
    for e in bad_fields {
        p.add(e);
    }
    apply_overrides(&s, &mut wtable, &mut wdoc, doc, &mut p);
    let world = World::from_doc(wtable, &wdoc);
    let mut world = match world {
        Ok(w) => w,
        Err(e) => {
            for e in e.all() {
                p.add(FileError { more: Vec::new(), ..e.clone() });
            }
            // the scenario's own checks, against the world as it was
            match src {
                WorldSource::Given(w) => check(&s, w, &mut p),
                WorldSource::File(_) => {}
            }
            p.finish()?;
            unreachable!("problems were recorded")
        }
    };
    if let WorldSource::Given(w) = src {
        world.source = w.source.clone();
    } else if let Some(w) = &s.world {
        world.source = dir.join(w);
    } else {
        world.source = PathBuf::from("scenarios/worlds/demo.toml");
    }
    check(&s, &world, &mut p);
    p.finish()?;
    // Room for one-hit wonders above the popular objects.
    world.catalog.objects = s.workload.objects.saturating_mul(1 + 64).max(world.catalog.objects);
    Ok((s, world))
}

/// The scenario's changes to its world, merged into the world's document
/// ([`Doc::overlay`], the merge `extends` uses) so that a bad value is
/// reported at the scenario's line:
///
/// - `[overrides]` edge settings (`memory = "16MiB"`): every edge;
/// - `[overrides.region.NAME]`: every edge in region NAME;
/// - `[overrides.edge.NAME]`: edge NAME;
/// - `[overrides.world]`: anything in the world file (`origin.region`,
///   `latency`, `prices`, …);
/// - `cache_rule` / `origin_rule`: the world's `[[cache.rule]]` /
///   `[[catalog.rule]]`, replaced;
/// - `time_scale`, `origin.region`, `origin.host`, `workload.sizes`.
pub fn apply_overrides(s: &Scenario, w: &mut toml::Table, wdoc: &mut Doc, sdoc: &Doc, p: &mut Problems<'_>) {
    let layer = wdoc.add_layer(sdoc.clone());
    let key = |k: &str| Key::Name(k.to_string());
    let named = |w: &toml::Table, array: &str, field: &str, value: &str| -> Vec<String> {
        w.get(array)
            .and_then(|e| e.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_table())
                    .filter(|e| field.is_empty() || e.get(field).and_then(|v| v.as_str()) == Some(value))
                    .filter_map(|e| e.get("name").and_then(|n| n.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let edges = named(w, "edge", "", "");
    let regions = named(w, "region", "", "");
    // every edge, then the rules, then a region's edges, then one edge,
    // then anything else: the narrower wins
    let rank = |k: &str| match k {
        "cache_rule" | "origin_rule" => 1,
        "region" => 2,
        "edge" => 3,
        "world" => 4,
        _ => 0,
    };
    let mut ordered: Vec<(&String, &toml::Value)> = s.overrides.iter().collect();
    ordered.sort_by_key(|(k, _)| rank(k));
    for (k, v) in ordered {
        let from = [key("overrides"), key(k)];
        match k.as_str() {
            "edge" | "region" => {
                let Some(t) = v.as_table() else {
                    p.at(&[Seg::Key("overrides"), Seg::Key(k)], format!("overrides.{k}: a table of names"));
                    continue;
                };
                for (name, settings) in t {
                    let at = [Seg::Key("overrides"), Seg::Key(k), Seg::Key(name)];
                    let targets = if k == "edge" {
                        if !edges.contains(name) {
                            p.at(&at, format!("unknown edge `{name}` (edges: {})", edges.join(", ")));
                            continue;
                        }
                        vec![name.clone()]
                    } else {
                        if !regions.contains(name) {
                            p.at(&at, format!("unknown region `{name}` (regions: {})", regions.join(", ")));
                            continue;
                        }
                        named(w, "edge", "region", name)
                    };
                    if !settings.is_table() {
                        p.at(&at, format!("overrides.{k}.{name}: a table of edge settings"));
                        continue;
                    }
                    let from = [key("overrides"), key(k), key(name)];
                    for e in targets {
                        wdoc.overlay(w, &["edge", &e], settings, layer, &from);
                    }
                }
            }
            "world" => match v {
                toml::Value::Table(_) => wdoc.overlay(w, &[], v, layer, &from),
                _ => p.at(&[Seg::Key("overrides"), Seg::Key(k)], "overrides.world: a table, as in a world file"),
            },
            "cache_rule" => wdoc.overlay(w, &["cache", "rule"], v, layer, &from),
            "origin_rule" => wdoc.overlay(w, &["catalog", "rule"], v, layer, &from),
            _ => {
                // an edge setting, for every edge (an unknown one is refused
                // where the world's edge_defaults are read)
                wdoc.overlay(w, &["edge_defaults", k], v, layer, &from);
                for e in &edges {
                    wdoc.overlay(w, &["edge", e, k], v, layer, &from);
                }
            }
        }
    }
    let Ok(scenario) = toml::Table::try_from(s) else { return };
    for (at, from) in [
        (&["time_scale"][..], &["time_scale"][..]),
        (&["origin", "region"], &["origin", "region"]),
        (&["origin", "host"], &["origin", "host"]),
        (&["catalog", "size"], &["workload", "sizes"]),
    ] {
        let mut v = scenario.get(from[0]);
        for f in &from[1..] {
            v = v.and_then(|v| v.get(f));
        }
        if let Some(v) = v {
            let from: Vec<Key> = from.iter().map(|f| key(f)).collect();
            wdoc.overlay(w, at, v, layer, &from);
        }
    }
}

/// The arms of a scenario (its `[[arm]]`s, or one per `[sweep]` value),
/// each applied to the scenario's document and resolved like the scenario.
fn arms(
    s: &Scenario,
    table: &toml::Table,
    doc: &Doc,
    src: &WorldSource<'_>,
    dir: &Path,
) -> Result<Vec<Arm>, FileError> {
    let mut p = Problems::new(doc);
    let mut patches: Vec<(String, toml::Table, Vec<Key>, Option<f64>)> = Vec::new();
    let key = |k: &str| Key::Name(k.to_string());
    if s.sweep.is_some() && !s.arms.is_empty() {
        p.at(&[Seg::Key("sweep")], "a scenario has a [sweep] or [[arm]]s, not both");
    }
    if let Some(sw) = &s.sweep {
        if sw.values.is_empty() || sw.values.len() > MAX_SWEEP_VALUES {
            p.at(&[Seg::Key("sweep"), Seg::Key("values")], format!("sweep needs 1 to {MAX_SWEEP_VALUES} values"));
        }
        let path = sw.path();
        let segs: Vec<&str> = path.split('.').collect();
        if segs.iter().any(|x| x.is_empty()) || NOT_ARMABLE.contains(&segs[0]) || segs[0] == "name" {
            p.at(&[Seg::Key("sweep"), Seg::Key("param")], format!("sweep param `{}` cannot be swept", sw.param));
        }
        for (i, v) in sw.values.iter().enumerate() {
            let toml::Value::Table(patch) = world::toml_file::nest(&segs, v.clone()) else { continue };
            let (label, x) = match v {
                toml::Value::String(t) => {
                    (t.clone(), world::units::parse_bytes(t).ok().map(|b| b.0 as f64 / 1048576.0))
                }
                toml::Value::Integer(n) => (n.to_string(), Some(*n as f64)),
                toml::Value::Float(f) => (f.to_string(), Some(*f)),
                other => (other.to_string(), None),
            };
            patches.push((label, patch, vec![key("sweep"), key("values"), Key::Index(i)], x));
        }
    }
    let mut names = std::collections::HashSet::new();
    for (i, a) in s.arms.iter().enumerate() {
        let at = |f: &'static str| [Seg::Key("arm"), Seg::Index(i), Seg::Key(f)];
        let name = match a.get("name") {
            Some(toml::Value::String(n)) if is_arm_name(n) => n.clone(),
            _ => {
                p.at(&at("name"), "an arm needs a `name`: letters, digits, `-`, `_` or `.`, at most 63");
                continue;
            }
        };
        if !names.insert(name.clone()) {
            p.at(&at("name"), format!("arm `{name}` is named twice"));
        }
        for k in a.keys() {
            if NOT_ARMABLE.contains(&k.as_str()) {
                p.at(
                    &[Seg::Key("arm"), Seg::Index(i), Seg::Key(k)],
                    format!("an arm cannot change `{k}`: arms share it"),
                );
            }
        }
        let mut patch = a.clone();
        patch.remove("name");
        patches.push((name, patch, vec![key("arm"), Key::Index(i)], None));
    }
    if s.arms.len() > MAX_SWEEP_VALUES {
        p.at(&[Seg::Key("arm")], format!("{} arms: at most {MAX_SWEEP_VALUES}", s.arms.len()));
    }
    p.finish()?;
    let mut found: Vec<FileError> = Vec::new();
    let mut out = Vec::new();
    for (name, patch, from, x) in patches {
        let mut t = table.clone();
        let mut adoc = doc.clone();
        let layer = adoc.add_layer(doc.clone());
        adoc.overlay(&mut t, &[], &toml::Value::Table(patch), layer, &from);
        t.remove("arm");
        t.remove("sweep");
        match resolve(t, &adoc, src, dir) {
            Ok((scenario, world)) => out.push(Arm { name, scenario, world, x }),
            Err(e) => found.extend(e.all().map(|e| FileError { more: Vec::new(), ..e.clone() })),
        }
    }
    let mut it = found.into_iter();
    match it.next() {
        None => Ok(out),
        Some(mut first) => {
            first.more = it.filter(|e| *e != first).collect();
            first.more.dedup();
            Err(first)
        }
    }
}

fn is_arm_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 63 && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Every check parsing cannot make, in one pass: every problem is
/// reported ([`Problems`]), each at its field, with the bounds of
/// [`world::bounds`].
fn check(s: &Scenario, w: &World, p: &mut Problems<'_>) {
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
    if let Some(u) = &s.origin.url
        && let Err(e) = world::uri::parse_origin_url(u)
    {
        p.at(&[k("origin"), k("url")], e.to_string());
    }
    if let Some(h) = &s.origin.host
        && let Err(e) = world::uri::checked_host(h.clone())
    {
        p.at(&[k("origin"), k("host")], e.to_string());
    }
    if let Some(Warmup::Time(d)) = s.warmup
        && s.duration.is_some_and(|all| d.0 >= all.0)
    {
        p.at(&[k("warmup")], format!("warmup {d} must be shorter than the duration"));
    }
    if let Some(Warmup::Requests(n)) = s.warmup
        && s.requests.is_some_and(|all| n >= all)
    {
        p.at(&[k("warmup")], format!("warmup {n} must be fewer requests than `requests`"));
    }
    let wl = &s.workload;
    let wk = |f: &'static str| [k("workload"), k(f)];
    let own = s.origin.url.is_some();
    if wl.trace.is_some() && wl.urls.is_some() {
        p.at(&wk("urls"), "a workload replays a trace or requests a URL list, not both");
    }
    if let Some(u) = &wl.urls {
        match cachesim::trace::urls::UrlList::read(u, MAX_WORKLOAD_OBJECTS as usize) {
            Err(e) => p.at(&wk("urls"), e.to_string()),
            Ok(list) if !own && list.entries.iter().any(|e| e.size.is_none()) => p.at(
                &wk("urls"),
                format!(
                    "{}: give every URL a size (`PATH WEIGHT SIZE`): cdnlab's origin serves each path as an object of \
                     that size; or set origin.url to request your own server",
                    u.display()
                ),
            ),
            Ok(_) => {}
        }
    }
    if own {
        for (i, e) in s.events.iter().enumerate() {
            if matches!(
                e,
                Event::Bump { .. }
                    | Event::OriginOutage { .. }
                    | Event::OriginSlow { .. }
                    | Event::OriginErrors { .. }
                    | Event::OriginCorrupt { .. }
            ) {
                p.at(
                    &[k("event"), Seg::Index(i), k("do")],
                    format!("`{}` acts on cdnlab's origin; this scenario uses yours (origin.url)", e.kind()),
                );
            }
        }
    }
    if let Some(t) = &wl.trace {
        if own
            && let Ok(f) = wl.trace_format(t)
            && !f.has_paths()
        {
            p.at(&wk("trace"), format!("a {} trace has no URLs to request from your origin", f.name()));
        }
        if wl.rate != 0.0 {
            p.at(&wk("rate"), "a trace sets its own pace: remove `rate` (speed it up with `time_scale`)");
        }
        if let Err(m) = check_trace(t, wl, own) {
            p.at(&wk("trace"), m);
        }
    } else if !(wl.rate.is_finite() && wl.rate > 0.0 && wl.rate <= MAX_RATE) {
        p.at(&wk("rate"), format!("rate {} must be > 0 and at most {MAX_RATE} requests/s", num(wl.rate)));
    }
    if wl.objects == 0 || wl.objects > MAX_WORKLOAD_OBJECTS {
        p.at(&wk("objects"), format!("objects {} must be 1 to {MAX_WORKLOAD_OBJECTS}", wl.objects));
    }
    if let Some(sz) = &wl.sizes {
        world::load::check_size_model(p, sz, &wk("sizes"));
    }
    let pop = [k("workload"), k("popularity")];
    p.range(&[pop[0], pop[1], k("zipf")], "zipf", wl.popularity.zipf, 0.0, MAX_ZIPF);
    p.range(&[pop[0], pop[1], k("one_hit_wonders")], "one_hit_wonders", wl.popularity.one_hit_wonders, 0.0, 1.0);
    if wl.urls.is_some() && wl.popularity.one_hit_wonders > 0.0 {
        p.at(&[pop[0], pop[1], k("one_hit_wonders")], "one_hit_wonders: a URL list has no objects beyond its URLs");
    }
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
            Event::EdgeKill { restart_after, .. } | Event::OriginKill { restart_after, .. } => *restart_after,
            _ => None,
        };
        if let Some(d) = window
            && d.0 > MAX_DURATION
        {
            let f =
                if matches!(e, Event::EdgeKill { .. } | Event::OriginKill { .. }) { "restart_after" } else { "for" };
            p.at(&at(f), format!("{f} {d} must be at most {}", Dur(MAX_DURATION)));
        }
        match e {
            Event::Purge { url, prefix, tag, all, .. } => {
                let kinds = url.is_some() as u8 + prefix.is_some() as u8 + tag.is_some() as u8 + *all as u8;
                if kinds != 1 {
                    p.at(&at("do"), "a purge needs exactly one of url, prefix, tag, all = true");
                } else if let Some(Err(m)) = e.purge_request().map(|r| api::purge::PurgeSpec::try_from(&r)) {
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
            Event::OriginKill { site: Some(s), .. } if w.origin_site(s).is_none() => {
                let sites = w.origin_sites().into_iter().map(|s| s.region).collect::<Vec<_>>().join(", ");
                p.at(&at("site"), format!("no origin site in `{s}` (sites: {sites})"));
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
        if Field::named(key).is_none() {
            let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
            p.at(&at, format!("unknown report field `{key}` (known: {})", known.join(", ")));
        }
        if let Err(m) = parse_expectation(v) {
            p.at(&at, m);
        }
    }
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
        Ok(parse_text("s.toml", text, &World::demo().unwrap())?.0)
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
            assert!(e.all().any(|e| e.at.map(|a| a.0) == Some(line(&text, needle))), "{needle}: {e}");
        }
    }

    #[test]
    fn every_shipped_scenario_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for d in [dir.to_path_buf(), dir.join("own-site")] {
            for f in std::fs::read_dir(d).unwrap() {
                let p = f.unwrap().path();
                if p.extension().is_some_and(|e| e == "toml") && p.file_name().is_some_and(|n| n != "Cargo.toml") {
                    let l = load(&p).unwrap_or_else(|e| panic!("{e}"));
                    assert!(l.scenario.question.is_some(), "{}: say what question it answers", p.display());
                    n += 1;
                }
            }
        }
        assert_eq!(n, 15, "the scenarios shipped in scenarios/*.toml and scenarios/own-site/");
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
    fn sweep_values_are_checked_on_load_at_their_line() {
        let sweep = |param: &str, values: &str| format!("{GOOD}\n[sweep]\nparam = \"{param}\"\nvalues = {values}\n");
        assert!(parse(&sweep("memory", "[\"16MiB\", \"64MiB\"]")).is_ok());
        for (param, values, msg) in [
            ("memory", "[\"16MiB\", \"2TiB\"]", "memory 2TiB"),
            ("memory", "[true]", "invalid type"),
            ("zipf", "[0.5, 1e9]", "zipf 1e9"),
            ("rate", "[100, 0]", "rate 0"),
            ("overrides.edge.seoul.memory", "[\"8MiB\", \"2TiB\"]", "memory 2TiB"),
        ] {
            let text = sweep(param, values);
            let e = parse(&text).expect_err(values);
            assert!(e.message.contains(msg), "{values}: {e}");
            assert_eq!(e.at.map(|a| a.0), Some(line(&text, "values =")), "{values}: {e}");
        }
    }

    fn load_text(text: &str) -> Result<Loaded, FileError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(&p, text).unwrap();
        load(&p)
    }

    #[test]
    fn overrides_reach_every_edge_one_region_one_edge_or_any_world_setting() {
        let text = format!(
            "{GOOD}\n[overrides]\nmemory = \"8MiB\"\nmin_uses = 2\n[overrides.region.tokyo]\nmemory = \"16MiB\"\n\
             [overrides.edge.seoul]\nmemory = \"32MiB\"\n[overrides.world]\norigin = {{ region = \"seoul\" }}\n\
             geodns = {{ ttl = \"5s\" }}\n"
        );
        let (_, w) = parse_text("s.toml", &text, &World::demo().unwrap()).unwrap();
        let mem = |e: &str| w.settings_of(w.edge(e).unwrap()).memory.0 >> 20;
        assert_eq!((mem("seoul"), mem("tokyo"), mem("newyork")), (32, 16, 8), "edge over region over every edge");
        assert!(w.edges.iter().all(|e| w.settings_of(e).min_uses == 2), "any edge setting, every edge");
        assert_eq!(w.origin.region, "seoul");
        assert_eq!(w.geodns.ttl, world::Dur::secs(5));
    }

    #[test]
    fn bad_overrides_are_reported_at_the_scenario_line_all_at_once() {
        let text = format!(
            "{GOOD}\n[overrides]\nmemroy = \"8MiB\"\n[overrides.edge.seol]\nmemory = \"16MiB\"\n\
             [overrides.edge.tokyo]\ndisk = \"1000TiB\"\n[overrides.world]\norigin = {{ region = \"mars\" }}\n"
        );
        let e = parse(&text).unwrap_err();
        let got: Vec<usize> = e.all().map(|e| e.at.unwrap().0).collect();
        let want = vec![line(&text, "memroy"), line(&text, "seol"), line(&text, "1000TiB"), line(&text, "mars")];
        for w in &want {
            assert!(got.contains(w), "line {w} missing from {got:?}:\n{e}");
        }
        assert!(e.all().all(|e| e.file == "s.toml"), "{e}");
    }

    #[test]
    fn arms_apply_any_change_with_the_same_seed_and_report_mistakes_at_their_line() {
        let text = format!(
            "{GOOD}\n[[arm]]\nname = \"small\"\noverrides = {{ memory = \"4MiB\" }}\n\
             [[arm]]\nname = \"shield-less-seoul-origin\"\n[arm.overrides.world.origin]\nregion = \"seoul\"\n\
             [[arm]]\nname = \"faster\"\nworkload = {{ rate = 200 }}\n"
        );
        let l = load_text(&text).unwrap();
        let names: Vec<&str> = l.arms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["small", "shield-less-seoul-origin", "faster"]);
        assert_eq!(l.arms[0].world.edge_defaults.memory.0, 4 << 20);
        assert_eq!(l.arms[1].world.origin.region, "seoul");
        assert_eq!(l.arms[2].scenario.workload.rate, 200.0);
        assert!(
            l.arms.iter().all(|a| a.scenario.seed == 3 && a.scenario.workload.clients == l.scenario.workload.clients)
        );
        let bad = text.replace("memory = \"4MiB\"", "memory = \"2TiB\"").replace("rate = 200", "rate = -1");
        let e = load_text(&bad).unwrap_err();
        let got: Vec<usize> = e.all().map(|e| e.at.unwrap().0).collect();
        assert_eq!(got, vec![line(&bad, "2TiB"), line(&bad, "rate = -1")], "{e}");
        let seeded = format!("{GOOD}\n[[arm]]\nname = \"x\"\nseed = 9\n");
        let e = load_text(&seeded).unwrap_err();
        assert_eq!(e.at.unwrap().0, line(&seeded, "seed = 9"), "{e}");
    }

    #[test]
    fn your_own_origin_refuses_events_on_cdnlabs_origin() {
        let text = format!(
            "{GOOD}\n[origin]\nurl = \"http://127.0.0.1:3000\"\n[[event]]\nat = \"1s\"\ndo = \"bump\"\npath = \"/a\"\n"
        );
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("acts on cdnlab's origin"), "{e}");
        let far = format!("{GOOD}\n[origin]\nurl = \"http://192.0.2.1:3000\"\n");
        assert!(parse(&far).unwrap_err().message.contains("loopback"), "only loopback origins");
    }

    #[test]
    fn expectations_parse_and_compare() {
        assert_eq!(parse_expectation(">= 0.85").unwrap(), (Cmp::Ge, 0.85));
        assert_eq!(parse_expectation("== 0").unwrap(), (Cmp::Eq, 0.0));
        assert!(Cmp::Lt.holds(1.0, 2.0) && !Cmp::Gt.holds(1.0, 2.0));
        assert!(parse_expectation("0.5").is_err());
    }
}

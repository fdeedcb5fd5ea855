//! `cdn replay TRACE`: the offline trace lab. Loads a trace into memory
//! ([`cachesim::Trace`]), replays it against every requested model at every
//! requested cache size (in parallel, one model and size per job), adds
//! Belady's MIN and the PFOO-L bound, prices the origin bytes at the
//! world's list prices, and writes a table, `replay.json` and SVG curves.
//!
//! ```text
//! cdn replay trace.oracleGeneral --sizes 1GiB,10% --policies lru,s3fifo,belady
//! cdn replay edge.log --format access-log --mrc
//! ```

pub mod charts;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use cachesim::mrc::Mrc;
use cachesim::replay::{self, Counts, Model};
use cachesim::trace::{Format, Reader};
use cachesim::{Trace, bound};
use indicatif::{ProgressBar, ProgressStyle};

pub use report::{ReplayReport, Row};

/// Flags of `cdn replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The trace file.
    pub trace: PathBuf,
    /// Its format: oracle, csv, wiki-upload, wiki-text, access-log
    /// (default: from the file name's extension).
    #[arg(long)]
    pub format: Option<String>,
    /// CSV column mapping: "key=2,time=1,size=3,op=4,header=true,delimiter=tab,time_unit=ms".
    #[arg(long)]
    pub csv: Option<String>,
    /// Models, comma-separated: lru, fifo, clock, sieve, s3fifo, lfu,
    /// wtinylfu, belady, bound (default: all).
    #[arg(long, value_delimiter = ',')]
    pub policies: Vec<String>,
    /// Cache sizes, comma-separated: bytes ("64MiB", "2GB") or shares of
    /// the trace's working set ("10%"). Default: 1%, 10% and 50%.
    #[arg(long, value_delimiter = ',', conflicts_with = "mrc")]
    pub sizes: Vec<String>,
    /// A miss-ratio curve: --points sizes, log-spaced from 0.1% of the
    /// working set to all of it (LRU from one exact stack-distance pass).
    #[arg(long)]
    pub mrc: bool,
    /// Points of the curve (with --mrc).
    #[arg(long, default_value_t = 20)]
    pub points: usize,
    /// World whose list prices price the origin bytes (default: the demo world).
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Report directory (default: reports/replay-<trace>-<time>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the JSON report instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Runs in parallel (default: the machine's cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// A model of the replay: an online policy, Belady, or the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    /// A simulated model.
    Model(Model),
    /// PFOO-L.
    Bound,
}

impl Entry {
    /// Its name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Entry::Model(m) => m.as_str(),
            Entry::Bound => "bound",
        }
    }
}

/// Parses `--policies` (empty: everything).
pub fn parse_models(words: &[String]) -> anyhow::Result<Vec<Entry>> {
    if words.is_empty() {
        let mut all: Vec<Entry> = cachesim::policy::Kind::ALL.iter().map(|k| Entry::Model(Model::Online(*k))).collect();
        all.extend([Entry::Model(Model::Belady), Entry::Bound]);
        return Ok(all);
    }
    let mut v = Vec::new();
    for w in words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        let e = if w.eq_ignore_ascii_case("bound") || w.eq_ignore_ascii_case("pfoo-l") {
            Entry::Bound
        } else {
            Entry::Model(Model::parse(w).with_context(|| {
                format!("unknown policy `{w}` (lru, fifo, clock, sieve, s3fifo, lfu, wtinylfu, belady, bound)")
            })?)
        };
        if !v.contains(&e) {
            v.push(e);
        }
    }
    Ok(v)
}

/// Parses `--sizes` against a working set of `ws` bytes.
pub fn parse_sizes(words: &[String], ws: u64) -> anyhow::Result<Vec<u64>> {
    let words: Vec<String> =
        if words.is_empty() { vec!["1%".into(), "10%".into(), "50%".into()] } else { words.to_vec() };
    let mut v = Vec::new();
    for w in words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        let cap = if let Some(p) = w.strip_suffix('%') {
            let p: f64 = p
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| p.is_finite() && *p > 0.0)
                .with_context(|| format!("`{w}`: a share of the working set is a number > 0 followed by %"))?;
            ((ws as f64) * p / 100.0).round().max(1.0) as u64
        } else {
            world::units::parse_bytes(w).map_err(anyhow::Error::msg)?.0
        };
        anyhow::ensure!(cap > 0, "`{w}`: a cache of 0 bytes caches nothing");
        if !v.contains(&cap) {
            v.push(cap);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// `points` log-spaced sizes from 0.1% of the working set to all of it.
pub fn curve_sizes(ws: u64, points: usize) -> Vec<u64> {
    let hi = ws.max(1) as f64;
    let lo = (hi / 1000.0).max(1.0);
    let n = points.max(2);
    let mut v: Vec<u64> =
        (0..n).map(|i| (lo * (hi / lo).powf(i as f64 / (n - 1) as f64)).round().max(1.0) as u64).collect();
    v.dedup();
    v
}

/// Opens and loads a trace, with a progress bar over its bytes.
pub fn load_trace(path: &Path, format: &Format, quiet: bool) -> anyhow::Result<Trace> {
    let reader = Reader::open(path, format)?;
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = bar(quiet, len, "{elapsed_precise} loading [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}");
    let trace = Trace::load(reader, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    Ok(trace)
}

fn bar(quiet: bool, len: u64, template: &str) -> ProgressBar {
    let b = if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    b.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "),
    );
    b
}

/// The format of `--format`, or the one the file name suggests.
pub fn resolve_format(path: &Path, format: Option<&str>, csv: Option<&str>) -> anyhow::Result<Format> {
    match format {
        Some(f) => Format::parse(f, csv).map_err(anyhow::Error::msg),
        None => {
            let mut f = Format::guess(path).with_context(|| {
                format!(
                    "{}: say the format with --format (oracle, csv, wiki-upload, wiki-text, access-log, common-log)",
                    path.display()
                )
            })?;
            if let (Format::Csv(_), Some(spec)) = (&f, csv) {
                f = Format::parse("csv", Some(spec)).map_err(anyhow::Error::msg)?;
            }
            Ok(f)
        }
    }
}

/// One measured cell.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    /// Model.
    pub entry: Entry,
    /// Capacity, bytes.
    pub capacity: u64,
    /// What it counted.
    pub counts: Counts,
    /// `simulated`, `stack` (the one-pass LRU curve) or `bound`.
    pub method: &'static str,
    /// Wall seconds of the run.
    pub seconds: f64,
}

/// Runs every model at every capacity over `trace`, `jobs` at a time.
pub fn run_all(
    trace: &Trace,
    models: &[Entry],
    capacities: &[u64],
    use_stack: bool,
    jobs: usize,
    quiet: bool,
) -> Vec<Cell> {
    let n = trace.len() as u64;
    let needs_next = models.iter().any(|m| matches!(m, Entry::Model(Model::Belady) | Entry::Bound));
    let next = needs_next.then(|| trace.next_use());
    let lru = Entry::Model(Model::Online(cachesim::policy::Kind::Lru));
    let stack = (use_stack && models.contains(&lru)).then(|| Mrc::lru(trace, |_| {}));
    let mut work: Vec<(Entry, u64)> = Vec::new();
    let mut cells = Vec::new();
    for &m in models {
        for &c in capacities {
            match &stack {
                Some(mrc) if m == lru && mrc.exact_at(c) => {
                    let (misses, miss_bytes) = mrc.at(c);
                    cells.push(Cell {
                        entry: m,
                        capacity: c,
                        counts: Counts { requests: mrc.requests, bytes: mrc.bytes, misses, miss_bytes },
                        method: "stack",
                        seconds: 0.0,
                    });
                }
                _ => work.push((m, c)),
            }
        }
    }
    let done = AtomicU64::new(0);
    let total = n * work.len() as u64;
    let bar = bar(quiet, total, "{elapsed_precise} replay [{bar:30}] {pos}/{len} requests {per_sec} {msg}");
    let next_idx = AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..jobs.max(1).min(work.len().max(1)) {
            handles.push(s.spawn(|| {
                loop {
                    let i = next_idx.fetch_add(1, Ordering::Relaxed);
                    let Some(&(m, c)) = work.get(i) else { break };
                    let t0 = Instant::now();
                    let (counts, method) = match m {
                        Entry::Model(model) => (replay::run(model, c, trace, next.as_deref(), &done), "simulated"),
                        Entry::Bound => {
                            let b = bound::pfoo_lower(trace, next.as_deref().unwrap_or(&[]), c);
                            done.fetch_add(n, Ordering::Relaxed);
                            let counts = Counts {
                                requests: n,
                                bytes: trace.stats.bytes,
                                misses: b.misses,
                                miss_bytes: b.miss_bytes,
                            };
                            (counts, "bound")
                        }
                    };
                    let cell = Cell { entry: m, capacity: c, counts, method, seconds: t0.elapsed().as_secs_f64() };
                    if let Ok(mut r) = results.lock() {
                        r.push(cell);
                    }
                }
            }));
        }
        // the progress bar, from this thread, until every worker is done
        while !handles.iter().all(|h| h.is_finished()) {
            bar.set_position(done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    bar.finish_and_clear();
    cells.extend(results.into_inner().unwrap_or_default());
    cells.sort_by_key(|c| (c.capacity, c.entry));
    cells
}

/// Runs `cdn replay`.
pub fn main(args: ReplayArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let format = resolve_format(&args.trace, args.format.as_deref(), args.csv.as_deref())?;
    let world = world::World::load_or_demo(args.world.as_deref())?;
    let models = parse_models(&args.policies)?;
    let trace = load_trace(&args.trace, &format, args.quiet)?;
    let load_s = t0.elapsed().as_secs_f64();
    anyhow::ensure!(
        !trace.is_empty(),
        "{}: no requests to replay (after skipping size-0 and non-read ones)",
        args.trace.display()
    );
    let ws = trace.stats.unique_bytes;
    let capacities = if args.mrc { curve_sizes(ws, args.points) } else { parse_sizes(&args.sizes, ws)? };
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let t1 = Instant::now();
    let cells = run_all(&trace, &models, &capacities, args.mrc, jobs, args.quiet);
    let replay_s = t1.elapsed().as_secs_f64();
    let rep = ReplayReport::build(&args.trace, &format, &trace, &world, &capacities, &cells, load_s, replay_s);
    let out = args.out.clone().unwrap_or_else(|| {
        let t = world::clock::file_stamp(std::time::SystemTime::now());
        let name = args.trace.file_stem().map_or("trace".into(), |s| s.to_string_lossy().to_string());
        PathBuf::from("reports").join(format!("replay-{name}-{t}"))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join("replay.json"), serde_json::to_string_pretty(&rep)?)?;
    charts::write_all(&rep, &out)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        print!("{}", rep.table());
        println!("report: {}", out.join("replay.json").display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_bytes_and_shares_of_the_working_set() {
        let v = parse_sizes(&["10%".into(), "1MiB".into(), "10%".into()], 1000 << 20).unwrap();
        assert_eq!(v, [1 << 20, 100 << 20]);
        assert!(parse_sizes(&["-5%".into()], 100).is_err());
        assert!(parse_sizes(&["0".into()], 100).is_err());
        assert!(parse_sizes(&["ten".into()], 100).is_err());
        assert_eq!(parse_sizes(&[], 1000).unwrap(), [10, 100, 500]);
    }

    #[test]
    fn curve_sizes_span_the_working_set() {
        let v = curve_sizes(1 << 30, 10);
        assert_eq!(v.len(), 10);
        assert_eq!(*v.last().unwrap(), 1 << 30);
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(curve_sizes(1, 5), [1]);
    }

    #[test]
    fn models_parse_and_default_to_everything() {
        assert_eq!(parse_models(&[]).unwrap().len(), 9);
        let m = parse_models(&["lru".into(), "OPT".into(), "bound".into(), "lru".into()]).unwrap();
        assert_eq!(m.len(), 3);
        assert!(parse_models(&["arc".into()]).is_err());
    }
}

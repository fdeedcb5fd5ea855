//! The result of `cdn replay`: one row per model and cache size with miss
//! ratio, byte miss ratio, origin bytes and their price, and the gaps to
//! Belady and to the bound; as a table and as `replay.json`.

use std::fmt::Write as _;
use std::path::Path;

use cachesim::trace::Format;
use cachesim::{LoadStats, Trace};
use serde::Serialize;
use world::World;
use world::price::Money;

use super::{Cell, Entry};

/// One model at one size.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Model name (`lru`, …, `belady`, `bound`).
    pub model: String,
    /// Cache size, bytes.
    pub capacity: u64,
    /// Requests replayed.
    pub requests: u64,
    /// Misses (for `bound`: no policy has fewer).
    pub misses: u64,
    /// Bytes fetched from the origin (for `bound`: no policy fetches fewer).
    pub miss_bytes: u64,
    /// misses / requests.
    pub miss_ratio: f64,
    /// miss bytes / bytes requested.
    pub byte_miss_ratio: f64,
    /// The origin bytes at the world's list prices (origin egress + fill).
    #[serde(with = "world::price::decimal")]
    pub origin_usd: Money,
    /// Dollars above Belady at the same size (none without a Belady row).
    #[serde(with = "opt_decimal")]
    pub over_belady_usd: Option<Money>,
    /// Dollars above the bound at the same size.
    #[serde(with = "opt_decimal")]
    pub over_bound_usd: Option<Money>,
    /// `simulated`, `stack` (the exact one-pass LRU curve) or `bound`.
    pub method: &'static str,
    /// Wall seconds this row took (0 for rows read off the LRU curve).
    pub seconds: f64,
}

mod opt_decimal {
    use serde::Serializer;
    use world::price::Money;

    pub fn serialize<S: Serializer>(m: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
        match m {
            Some(m) => s.serialize_str(&m.to_decimal()),
            None => s.serialize_none(),
        }
    }
}

/// What was replayed.
#[derive(Debug, Clone, Serialize)]
pub struct TraceInfo {
    /// The file.
    pub path: String,
    /// Its format.
    pub format: &'static str,
    /// What loading found.
    pub stats: LoadStats,
    /// Seconds to read it.
    pub load_seconds: f64,
}

/// The whole replay.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// The trace.
    pub trace: TraceInfo,
    /// World whose prices were used.
    pub world: String,
    /// Cache sizes, bytes.
    pub capacities: Vec<u64>,
    /// One row per model and size, by size then model.
    pub rows: Vec<Row>,
    /// Wall seconds of all runs.
    pub replay_seconds: f64,
}

/// What `bytes` from the origin cost: the origin's egress and the CDN's
/// fill fee, at list prices, from zero (one month's first bytes).
pub fn origin_cost(w: &World, bytes: u64) -> Money {
    w.prices.origin_cost(bytes)
}

impl ReplayReport {
    /// Assembles the report from measured cells.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        path: &Path,
        format: &Format,
        trace: &Trace,
        w: &World,
        capacities: &[u64],
        cells: &[Cell],
        load_seconds: f64,
        replay_seconds: f64,
    ) -> ReplayReport {
        let mut rows = Vec::new();
        for &cap in capacities {
            let here: Vec<&Cell> = cells.iter().filter(|c| c.capacity == cap).collect();
            let cost_of = |e: Entry| here.iter().find(|c| c.entry == e).map(|c| origin_cost(w, c.counts.miss_bytes));
            let belady = cost_of(Entry::Model(cachesim::replay::Model::Belady));
            let bound = cost_of(Entry::Bound);
            for c in here {
                let usd = origin_cost(w, c.counts.miss_bytes);
                let is_bound = c.entry == Entry::Bound;
                rows.push(Row {
                    model: c.entry.name().to_string(),
                    capacity: cap,
                    requests: c.counts.requests,
                    misses: c.counts.misses,
                    miss_bytes: c.counts.miss_bytes,
                    miss_ratio: c.counts.miss_ratio(),
                    byte_miss_ratio: c.counts.byte_miss_ratio(),
                    origin_usd: usd,
                    over_belady_usd: belady.filter(|_| !is_bound).map(|b| usd - b),
                    over_bound_usd: bound.map(|b| usd - b),
                    method: c.method,
                    seconds: c.seconds,
                });
            }
        }
        ReplayReport {
            trace: TraceInfo {
                path: path.display().to_string(),
                format: format.name(),
                stats: trace.stats,
                load_seconds,
            },
            world: w.name.clone(),
            capacities: capacities.to_vec(),
            rows,
            replay_seconds,
        }
    }

    /// The rows of one size.
    pub fn at(&self, cap: u64) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.capacity == cap)
    }

    /// The online policy with the fewest misses at `cap`.
    pub fn best_online(&self, cap: u64) -> Option<&Row> {
        self.at(cap).filter(|r| r.method != "bound" && r.model != "belady").min_by_key(|r| (r.misses, r.miss_bytes))
    }

    /// The terminal table.
    pub fn table(&self) -> String {
        let st = &self.trace.stats;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} ({}): {} requests, {} objects, working set {}, largest object {}, {:.1} s of traffic",
            self.trace.path,
            self.trace.format,
            st.requests,
            st.objects,
            world::ByteSize(st.unique_bytes),
            world::ByteSize(st.max_size as u64),
            st.span_ms as f64 / 1000.0
        );
        if st.skipped_zero_size + st.skipped_not_read > 0 {
            let _ = writeln!(
                s,
                "  skipped {} size-0 and {} non-read requests of {} records",
                st.skipped_zero_size, st.skipped_not_read, st.records
            );
        }
        let _ = writeln!(
            s,
            "  origin bytes priced at world `{}` list prices (origin egress + fill); loaded in {:.2} s, replayed in {:.2} s",
            self.world, self.trace.load_seconds, self.replay_seconds
        );
        for &cap in &self.capacities {
            let share = cap as f64 / st.unique_bytes.max(1) as f64 * 100.0;
            let _ = writeln!(s, "\ncache {} ({share:.1}% of the working set)", world::ByteSize(cap));
            let _ = writeln!(
                s,
                "  {:<9} {:>10} {:>10} {:>14} {:>12} {:>12} {:>12}",
                "model", "miss ratio", "byte miss", "origin bytes", "origin $", "vs belady", "vs bound"
            );
            for r in self.at(cap) {
                let gap = |m: Option<Money>| {
                    m.map_or("—".to_string(), |m| if m.0 >= 0 { format!("+{m}") } else { m.to_string() })
                };
                let _ = writeln!(
                    s,
                    "  {:<9} {:>10.4} {:>10.4} {:>14} {:>12} {:>12} {:>12}{}",
                    r.model,
                    r.miss_ratio,
                    r.byte_miss_ratio,
                    world::ByteSize(r.miss_bytes).to_string(),
                    r.origin_usd.to_string(),
                    if r.model == "belady" || r.model == "bound" { "—".into() } else { gap(r.over_belady_usd) },
                    if r.model == "bound" { "—".into() } else { gap(r.over_bound_usd) },
                    if r.method == "stack" { "  (LRU curve)" } else { "" }
                );
            }
            if let Some(b) = self.best_online(cap) {
                let tied: Vec<&str> = self
                    .at(cap)
                    .filter(|r| r.method != "bound" && r.model != "belady" && r.misses == b.misses)
                    .map(|r| r.model.as_str())
                    .collect();
                if tied.len() > 1 {
                    let _ = writeln!(
                        s,
                        "  best online policies (tied): {} (miss ratio {:.4})",
                        tied.join(", "),
                        b.miss_ratio
                    );
                } else {
                    let _ = writeln!(s, "  best online policy: {} (miss ratio {:.4})", b.model, b.miss_ratio);
                }
            }
        }
        s
    }
}

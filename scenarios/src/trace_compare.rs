//! The live run of a trace workload beside the offline model of the same
//! requests: for each edge, the requests it answered (in plan order,
//! errors left out) are replayed through `cachesim` with the edge's
//! memory-tier policy, and the two hit ratios are reported side by side.
//!
//! Which capacity: the edge's memory tier. Its disk tier is a second
//! cache behind it (foyer's block engine, FIFO by blocks); with a disk the
//! live hit ratio includes disk hits, so the report adds the model at
//! memory + disk bytes as a second reference. The trace-replay scenario
//! runs without a disk so that the comparison is one cache against one
//! model. The memory tier also counts each entry's key and headers (the
//! edge's weigher) while the model counts bodies: the report shows the
//! edge's mean entry weight (`/stats`) beside the model's mean cached body
//! so the difference is visible, without guessing a correction.

use serde::Serialize;
use world::{Eviction, World};

use cachesim::policy::{Cache, Hashed, Kind, Policy};

use crate::driver::{Kind as Outcome, Sample};

/// One edge, live and modelled.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EdgeModel {
    /// Edge name.
    pub edge: String,
    /// Its memory-tier policy (the model's).
    pub policy: String,
    /// Requests it answered (errors excluded).
    pub requests: u64,
    /// Fresh and stale hits / requests, as clients saw them.
    pub live_hit_ratio: f64,
    /// Memory tier capacity, bytes.
    pub memory: u64,
    /// Disk tier capacity, bytes (0: none).
    pub disk: u64,
    /// The model at the memory capacity, counting bodies only.
    pub model_hit_ratio: f64,
    /// Mean weight of the edge's memory entries at the end (body, key and
    /// headers; edge `/stats`).
    pub live_mean_entry: Option<u64>,
    /// Mean body of the objects the model holds at the end.
    pub model_mean_body: u64,
    /// The model at memory + disk bytes (edges with a disk tier).
    pub model_hit_ratio_with_disk: Option<f64>,
}

/// Every edge that answered requests.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TraceComparison {
    /// Per edge.
    pub edges: Vec<EdgeModel>,
}

/// The model of an edge's memory policy (`lfu` in a world file is foyer's
/// W-TinyLFU).
pub fn kind_of(e: Eviction) -> Kind {
    match e {
        Eviction::Lru => Kind::Lru,
        Eviction::Lfu => Kind::WTinyLfu,
        Eviction::S3fifo => Kind::S3Fifo,
        Eviction::Sieve => Kind::Sieve,
        Eviction::Fifo => Kind::Fifo,
    }
}

/// Hits and the mean size of the cached objects at the end.
fn model(kind: Kind, cap: u64, reqs: &[(u64, u32)]) -> (u64, f64) {
    let mut c = Cache::<Hashed>::new(kind, cap, 1024);
    let hits = reqs.iter().filter(|&&(k, s)| c.access(k, s)).count() as u64;
    (hits, c.used() as f64 / c.len().max(1) as f64)
}

/// `(key, size)` of a planned path `/t/{key}/{size}`: the key for the
/// model is a hash of the whole path, as the edge keys on it.
fn request_of(path: &str) -> Option<(u64, u32)> {
    let (_, size) = path.strip_prefix("/t/")?.split_once('/')?;
    Some((world::rng::hash64(path.as_bytes()), size.parse().ok()?))
}

/// The comparison for a finished run: `paths[i]` is planned request i,
/// `stats[e]` the last `/stats` of edge e.
pub fn compare(w: &World, paths: &[String], samples: &[Sample], stats: &[Option<api::edge::Stats>]) -> TraceComparison {
    let mut edges = Vec::new();
    for (ei, e) in w.edges.iter().enumerate() {
        let mut mine: Vec<&Sample> =
            samples.iter().filter(|s| s.edge as usize == ei && s.kind != Outcome::Error).collect();
        if mine.is_empty() {
            continue;
        }
        mine.sort_by_key(|s| s.plan);
        let reqs: Vec<(u64, u32)> =
            mine.iter().filter_map(|s| paths.get(s.plan as usize).and_then(|p| request_of(p))).collect();
        let live_hits = mine.iter().filter(|s| matches!(s.kind, Outcome::Hit | Outcome::Stale)).count() as u64;
        let settings = w.settings_of(e);
        let kind = kind_of(settings.eviction);
        let (memory, disk) = (settings.memory.0, settings.disk.0);
        let n = reqs.len().max(1) as f64;
        let (hits, mean_body) = model(kind, memory, &reqs);
        let live_mean_entry = stats
            .get(ei)
            .and_then(Option::as_ref)
            .filter(|s| s.memory_entries > 0)
            .map(|s| (s.memory_bytes / s.memory_entries) as u64);
        let mut row = EdgeModel {
            edge: e.name.clone(),
            policy: kind.as_str().to_string(),
            requests: mine.len() as u64,
            live_hit_ratio: live_hits as f64 / mine.len() as f64,
            memory,
            disk,
            model_hit_ratio: hits as f64 / n,
            live_mean_entry,
            model_mean_body: mean_body as u64,
            model_hit_ratio_with_disk: None,
        };
        if disk > 0 {
            row.model_hit_ratio_with_disk = Some(model(kind, memory + disk, &reqs).0 as f64 / n);
        }
        edges.push(row);
    }
    TraceComparison { edges }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_model_requests() {
        let (k, s) = request_of("/t/42/1000").unwrap();
        assert_eq!(s, 1000);
        assert_ne!(k, request_of("/t/42/1001").unwrap().0, "another size is another object");
        assert!(request_of("/obj/1").is_none());
        assert_eq!(kind_of(Eviction::Lfu), Kind::WTinyLfu);
    }
}

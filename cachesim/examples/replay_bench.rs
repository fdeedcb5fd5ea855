//! Offline replay throughput on one core: loads an oracleGeneral trace into
//! memory, then replays it once per policy at one cache size and prints
//! requests per second (the replay alone; loading is timed separately).
//!
//! ```text
//! cargo run --release -p cachesim --example replay_bench -- TRACE [CAPACITY_BYTES|PERCENT%] [POLICY,...]
//! ```
//!
//! Policies: lru, fifo, sieve, …, belady; `hashed-<policy>` runs the same
//! policy with the hash-map slots the edge's shadow caches would use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use cachesim::Trace;
use cachesim::policy::{Cache, Hashed, Kind, Policy};
use cachesim::replay::{self, Model};
use cachesim::trace::{Format, Reader};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: replay_bench TRACE [CAPACITY|P%] [POLICY,...]");
    let t0 = Instant::now();
    let trace = Trace::load(Reader::open(path.as_ref(), &Format::Oracle).unwrap(), |_| {}).unwrap();
    let load = t0.elapsed().as_secs_f64();
    let ws = trace.stats.unique_bytes;
    let cap = match args.get(2).map(String::as_str) {
        Some(p) if p.ends_with('%') => (ws as f64 * p.trim_end_matches('%').parse::<f64>().unwrap() / 100.0) as u64,
        Some(b) => b.parse().unwrap(),
        None => ws / 10,
    };
    let policies = args.get(3).map_or("lru,fifo,sieve", String::as_str);
    println!(
        "trace {path}: {} requests, {} objects, working set {ws} B; loaded in {load:.2} s; capacity {cap} B",
        trace.len(),
        trace.objects()
    );
    let progress = AtomicU64::new(0);
    for name in policies.split(',') {
        let t = Instant::now();
        let counts = if let Some(k) = name.strip_prefix("hashed-") {
            let kind = Kind::parse(k).expect("policy");
            let mut c = Cache::<Hashed>::new(kind, cap, 0);
            let mut counts = replay::Counts::default();
            for (&id, &size) in trace.ids.iter().zip(&trace.sizes) {
                let key = trace.keys[id as usize];
                let miss = !c.access(key, size);
                counts.misses += miss as u64;
                counts.miss_bytes += if miss { size as u64 } else { 0 };
                counts.bytes += size as u64;
            }
            counts.requests = trace.len() as u64;
            println!(
                "{name:<16} metadata {:.1} bytes per cached object ({} objects, {} bytes of heap)",
                c.heap_bytes() as f64 / c.len().max(1) as f64,
                c.len(),
                c.heap_bytes()
            );
            counts
        } else {
            let model = Model::parse(name).expect("policy");
            let next = (model == Model::Belady).then(|| trace.next_use());
            replay::run(model, cap, &trace, next.as_deref(), &progress)
        };
        let s = t.elapsed().as_secs_f64();
        println!(
            "{name:<16} {:>8.2} M requests/s  ({s:.3} s)  miss ratio {:.4}  byte miss ratio {:.4}",
            trace.len() as f64 / s / 1e6,
            counts.miss_ratio(),
            counts.byte_miss_ratio()
        );
    }
}

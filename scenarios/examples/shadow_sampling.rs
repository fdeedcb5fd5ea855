//! How far sampled what-if caches (the edge's `shadow_sample`, SHARDS
//! spatial sampling, edge/src/shadow.rs) land from exact ones on this
//! project's workloads: Zipf popularity (`scenarios::workload::Zipf`, as
//! scenarios draw objects) at α 0.8, 0.9 and 1.0 over 100,000 objects of
//! lognormal sizes (median 20 KB, σ 1.2, as `scripts/tracegen.py` draws
//! them), 1M requests, the three shadows docs/traces.md measures. Which
//! keys a rate samples depends on their names: each rate is tried on
//! `SALTS` namings of the same objects (`/obj/{i}?s={salt}`), and the
//! table prints the exact hit ratio, then per rate the mean and the worst
//! absolute error over the namings, plain and with SHARDS' adjustment
//! (the sampled requests' shortfall against R × all requests counted as
//! hits: the paper's `SHARDS_adj`, which needs the count of all requests).
//!
//! `cargo run -p scenarios --example shadow_sampling` (a measurement,
//! not a test: docs/traces.md, "Sampled shadows", has a run).

#![allow(clippy::unwrap_used)] // a measurement over constant specs

use edge::shadow::{RealCache, Shadows, key_hash};
use scenarios::workload::Zipf;
use world::policy::ShadowCache;
use world::price::Prices;
use world::rng::Rng;

const OBJECTS: u64 = 100_000;
const REQUESTS: usize = 1_000_000;
const CACHES: [&str; 3] = ["lru:64MiB", "sieve:256MiB", "s3fifo:1GiB"];
const SALTS: u64 = 5;
const RATES: [f64; 2] = [0.1, 0.01];

/// Object ranks and sizes of each request of a Zipf(`alpha`) stream.
fn stream(alpha: f64, seed: u64) -> (Vec<u32>, Vec<u64>) {
    let zipf = Zipf::new(OBJECTS, alpha);
    let mut sizes = Rng::new(seed ^ 0x5eed);
    let size: Vec<u64> = (0..OBJECTS).map(|_| (20_000.0 * (1.2 * sizes.normal()).exp()).max(1.0) as u64).collect();
    let mut rng = Rng::new(seed);
    ((0..REQUESTS).map(|_| zipf.sample(&mut rng) as u32).collect(), size)
}

/// Each cache's (hit ratio, hit ratio adjusted) at sample `rate`, the
/// objects named with `salt`.
fn ratios(ranks: &[u32], size: &[u64], salt: u64, rate: f64) -> Vec<(f64, f64)> {
    let keys: Vec<u64> = (0..OBJECTS).map(|i| key_hash(&format!("/obj/{i}?s={salt}"))).collect();
    let specs: Vec<ShadowCache> = CACHES.iter().map(|s| ShadowCache::parse(s).unwrap()).collect();
    let sh = Shadows::sampled(&specs, rate, RealCache { policy: "none".into(), capacity: 0 }).unwrap();
    let prices = Prices::default();
    for chunk in ranks.chunks(10_000) {
        for &r in chunk {
            sh.record(keys[r as usize], size[r as usize], false);
        }
        sh.stats(&prices);
    }
    let s = sh.stats(&prices);
    assert_eq!(s.dropped, 0);
    let expected = rate * ranks.len() as f64;
    s.caches
        .iter()
        .map(|r| {
            let hits = r.hit_ratio * s.samples as f64;
            (r.hit_ratio, ((hits + expected - s.samples as f64) / expected).clamp(0.0, 1.0))
        })
        .collect()
}

fn main() {
    println!("hit ratio, exact and sampled: mean | worst absolute error over {SALTS} namings of the keys");
    print!("{:<5} {:<14} {:>6}", "alpha", "cache", "exact");
    for r in RATES {
        print!(" | R={r:<5} err  worst  adj err  worst");
    }
    println!();
    for (alpha, seed) in [(0.8, 1), (0.9, 2), (1.0, 3)] {
        let (ranks, size) = stream(alpha, seed);
        let exact = ratios(&ranks, &size, 0, 1.0);
        let sampled: Vec<Vec<Vec<(f64, f64)>>> =
            RATES.iter().map(|&r| (1..=SALTS).map(|salt| ratios(&ranks, &size, salt, r)).collect()).collect();
        for (i, name) in CACHES.iter().enumerate() {
            let e = exact[i].0;
            print!("{alpha:<5} {name:<14} {e:>6.3}");
            for runs in &sampled {
                let err: Vec<f64> = runs.iter().map(|c| (c[i].0 - e).abs()).collect();
                let adj: Vec<f64> = runs.iter().map(|c| (c[i].1 - e).abs()).collect();
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
                print!(" |   {:>9.3} {:>6.3} {:>8.3} {:>6.3}", mean(&err), max(&err), mean(&adj), max(&adj));
            }
            println!();
        }
    }
}

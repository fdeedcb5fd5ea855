//! What shadow caches cost (docs/traces.md, "Shadow caches"): heap bytes
//! per cached object, counted by the allocator (`stats_alloc`) while one
//! shadow cache of each policy takes 1M distinct keys, and CPU per request:
//! the request path's part (`Shadows::record`: hash the key, queue the
//! sample) and the drain's part (three shadows updated per sample), on a
//! skewed stream of 2M requests over 1M keys.
//!
//! ```text
//! cargo run --release -p edge --example shadow_cost
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::hint::black_box;
use std::time::Instant;

use edge::shadow::{QUEUE, RealCache, Shadows, key_hash};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use world::policy::{Kind, ShadowCache};
use world::price::Prices;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap held since `region` began (glibc's 16-byte chunk overhead per live
/// allocation included, as edge/tests/memory.rs counts it).
fn held(region: &Region<'_, System>) -> isize {
    let c = region.change();
    c.bytes_allocated as isize - c.bytes_deallocated as isize + 16 * (c.allocations as isize - c.deallocations as isize)
}

fn real() -> RealCache {
    RealCache { policy: "s3fifo".into(), capacity: 0 }
}

fn feed(sh: &Shadows, keys: impl Iterator<Item = (u64, u64)>) {
    for (i, (k, size)) in keys.enumerate() {
        sh.record(k, size, false);
        if i % (QUEUE / 2) == QUEUE / 2 - 1 {
            sh.stats(&Prices::default());
        }
    }
    sh.stats(&Prices::default());
}

fn main() {
    const N: u64 = 1_000_000;
    println!("heap per cached object, {N} distinct keys of 1000 bytes, nothing evicted (cache of 1 TiB):");
    for policy in Kind::ALL {
        let spec = ShadowCache { policy, capacity: world::ByteSize(1 << 40) };
        let region = Region::new(GLOBAL);
        let sh = Shadows::new(&[spec], real()).unwrap();
        let empty = held(&region);
        feed(&sh, (0..N).map(|i| (world::rng::mix(i), 1000)));
        let s = sh.stats(&Prices::default());
        let c = &s.caches[0];
        let total = held(&region);
        println!(
            "  {:<9} {:>6.1} B/object by the allocator ({} objects; the queue and empty cache {} KiB), heap_bytes() says {:.1}",
            policy.as_str(),
            (total - empty) as f64 / c.entries.unwrap() as f64,
            c.entries.unwrap(),
            empty / 1024,
            c.heap_bytes.unwrap() as f64 / c.entries.unwrap() as f64
        );
        drop(sh);
    }
    println!("in steady state, 100,000 objects cached (cache of 100,000 × 1000 bytes) after {N} distinct keys:");
    for policy in Kind::ALL {
        let spec = ShadowCache { policy, capacity: world::ByteSize(100_000 * 1000) };
        let region = Region::new(GLOBAL);
        let sh = Shadows::new(&[spec], real()).unwrap();
        let empty = held(&region);
        feed(&sh, (0..N).map(|i| (world::rng::mix(i), 1000)));
        let c = sh.stats(&Prices::default()).caches[0].clone();
        println!(
            "  {:<9} {:>6.1} B/object by the allocator ({} objects)",
            policy.as_str(),
            (held(&region) - empty) as f64 / c.entries.unwrap() as f64,
            c.entries.unwrap()
        );
    }

    // CPU: a skewed stream (a few keys very often, most rarely), sizes 1 B–64 KiB
    let stream: Vec<(String, u64)> = (0..2 * N)
        .map(|i| {
            let x = world::rng::mix(i ^ 0x5eed);
            let id = (x % N) * (x % 16) / 15;
            (format!("/obj/{id}?v=1"), 1 + world::rng::mix(id) % 65_536)
        })
        .collect();
    let specs = ["lru:64MiB", "sieve:256MiB", "s3fifo:1GiB"].map(|s| ShadowCache::parse(s).unwrap());
    let sh = Shadows::new(&specs, real()).unwrap();
    let (mut record_ns, mut drain_ns) = (0u128, 0u128);
    for batch in stream.chunks(QUEUE / 2) {
        let t = Instant::now();
        for (target, size) in batch {
            sh.record(key_hash(black_box(target)), *size, false);
        }
        record_ns += t.elapsed().as_nanos();
        let t = Instant::now();
        sh.stats(&Prices::default());
        drain_ns += t.elapsed().as_nanos();
    }
    let s = sh.stats(&Prices::default());
    let n = stream.len() as f64;
    println!(
        "CPU per request, {} requests (dropped {}), three shadows {}:",
        s.requests,
        s.dropped,
        specs.map(|s| s.to_string()).join(", ")
    );
    println!("  request path (hash the key, queue the sample): {:.1} ns", record_ns as f64 / n);
    println!("  drain (three caches updated):                  {:.1} ns", drain_ns as f64 / n);
    for c in &s.caches {
        println!("  {:<13} hit ratio {:.3}, {} objects", c.cache, c.hit_ratio, c.entries.unwrap());
    }
}

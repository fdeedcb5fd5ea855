//! Planning a transfer allocates nothing, so a sender may plan every
//! response: this test binary counts every allocation (`stats_alloc`).
//!
//! It runs without libtest's harness (`harness = false` in world/Cargo.toml):
//! the harness's main thread allocates just after it starts a test's thread
//! (it records the running test), which the process-wide count blamed on
//! the code under test in about one run in four on a busy machine. Here
//! `main` is the only thread.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::time::{Duration, UNIX_EPOCH};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use world::link::{Jitter, Link};
use world::transfer::{Conn, Response, plan};
use world::{Bandwidth, Dur};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    planning_and_walking_the_rounds_does_not_allocate();
    println!("test planning_and_walking_the_rounds_does_not_allocate ... ok");
}

fn planning_and_walking_the_rounds_does_not_allocate() {
    let link = Link {
        jitter: Jitter::Normal { sigma: Dur::millis(3) },
        loss: 0.01,
        bandwidth: Bandwidth::mbit(100),
        tls: true,
        ..Link::ideal(Duration::from_millis(150))
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let region = Region::new(GLOBAL);
    let mut sum = 0u64;
    for seed in 0..200 {
        let p = plan(&link, &Conn::Cold, 300, 10_000_000, now, seed);
        sum += p.rounds().map(|r| r.end).sum::<u64>();
        let again = Response::new(&link, &p.after(), 1_000_000, now + p.total(), seed);
        sum += again.bytes_by(Duration::from_millis(100));
    }
    let change = region.change();
    assert!(sum > 0);
    assert_eq!(change.allocations + change.reallocations, 0, "allocations while planning: {change:?}");
    // The counter works: a Vec allocates.
    let region = Region::new(GLOBAL);
    let v = std::hint::black_box(vec![sum; 4]);
    assert!(region.change().allocations >= 1 && v.len() == 4);
}

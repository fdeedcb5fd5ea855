//! The admission experiment: does refusing to cache one-hit wonders pay?
//!
//! One synthetic origin (the demo catalog: lognormal sizes around 24 KiB)
//! and, for each admission setting, a fresh in-process edge with a small
//! cache (16 MiB memory over 64 MiB disk) in the demo world's New York
//! region. The same seeded workload goes through each: 60% of requests
//! pick one of 5,000 popular objects by Zipf(0.9), 40% ask for an object
//! nobody asks for again (a one-hit wonder). Requests are sequential on
//! one keep-alive connection, so a run is reproducible.
//!
//! Prints a Markdown table: hit ratio, byte hit ratio, origin fetches and
//! bytes, responses stored, disk bytes written, and dollars at the demo
//! world's list prices: the origin's egress for the fills, the whole bill
//! with the CDN, and the same client bytes from the origin alone.
//!
//! ```text
//! cargo run --release -p tests --example admission -- [requests] [seed]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use world::World;
use world::price::Usage;
use world::rng::Rng;

const POPULAR: usize = 5_000;
const ZIPF_S: f64 = 0.9;
const ONE_HIT_SHARE: f64 = 0.4;

/// Zipf over `n` ranks: the cumulative distribution, searched by bisection.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut c: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(s)).collect();
        let total: f64 = c.iter().sum();
        let mut acc = 0.0;
        for x in c.iter_mut() {
            acc += *x / total;
            *x = acc;
        }
        Zipf(c)
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.next_f64();
        self.0.partition_point(|&p| p < u).min(self.0.len() - 1)
    }
}

/// The request targets of one run.
fn workload(requests: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let zipf = Zipf::new(POPULAR, ZIPF_S);
    let mut next_once = 1_000_000u64;
    (0..requests)
        .map(|_| {
            if rng.next_f64() < ONE_HIT_SHARE {
                next_once += 1;
                format!("/obj/{next_once}")
            } else {
                format!("/obj/{}", zipf.sample(&mut rng))
            }
        })
        .collect()
}

struct Run {
    label: String,
    stats: edge::admin::Stats,
    secs: f64,
}

async fn run(origin: std::net::SocketAddr, w: &World, min_uses: u32, targets: &[String]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let mut c = edge::Config::from_world(w, "newyork").unwrap();
    c.origin = origin;
    c.listen = any;
    c.admin = any;
    c.store.dir = dir.path().join("cache");
    c.store.memory = 16 << 20;
    c.store.disk = 64 << 20;
    c.store.max_object = 1 << 20;
    c.rtt_to_origin = Duration::ZERO;
    c.admin_token = None;
    c.min_uses = min_uses;
    c.min_uses_window = Duration::from_secs(600);
    let e = edge::spawn(c).await.unwrap();
    let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(1).build().unwrap();
    let started = Instant::now();
    for t in targets {
        let r = http.get(e.url(t)).send().await.unwrap();
        assert!(r.status().is_success(), "{t}: {}", r.status());
        r.bytes().await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    // Let the disk tier's background writes finish before reading its counters.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = e.stats();
    e.shutdown().await.unwrap();
    let label = if min_uses <= 1 { "store every fill (min_uses = 1)".into() } else { format!("min_uses = {min_uses}") };
    Run { label, stats, secs }
}

fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / (1 << 20) as f64)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let w = World::demo().unwrap();
    let mut oc = origin::Config::from_world(&w);
    oc.admin_token = None;
    oc.catalog.objects = 2_000_000;
    oc.catalog.size.max = world::ByteSize::mib(1);
    let any = "127.0.0.1:0".parse().unwrap();
    let o = origin::spawn(oc, any, any).await.unwrap();
    let targets = workload(requests, seed);
    let distinct = targets.iter().collect::<std::collections::HashSet<_>>().len();
    let mut runs = Vec::new();
    for min_uses in [1, 2, 3] {
        runs.push(run(o.public, &w, min_uses, &targets).await);
    }
    let prices = w.prices_in("newyork");
    println!(
        "{requests} requests (seed {seed}, {distinct} distinct URLs): {:.0}% Zipf({ZIPF_S}) over {POPULAR} objects, \
         {:.0}% one-hit wonders; edge: 16 MiB memory + 64 MiB disk, prices of the demo world's newyork region.\n",
        (1.0 - ONE_HIT_SHARE) * 100.0,
        ONE_HIT_SHARE * 100.0
    );
    println!(
        "| admission | hit ratio | byte hit ratio | origin fetches | MiB from origin | stored | refused | MiB written to disk | $ origin egress | $ with CDN | $ without CDN |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &runs {
        let s = &r.stats;
        let u: Usage = s.usage();
        let bill = prices.bill(&u, &Usage::default(), 0);
        println!(
            "| {} | {:.1}% | {:.1}% | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            s.hit_ratio * 100.0,
            s.byte_hit_ratio * 100.0,
            s.origin_requests,
            mib(s.bytes_from_origin),
            s.stored,
            s.admission.refused,
            mib(s.disk_written),
            bill.origin_egress,
            bill.total,
            s.cost.without_cdn,
        );
        eprintln!("{}: {:.1}s", r.label, r.secs);
    }
    o.shutdown().await;
}

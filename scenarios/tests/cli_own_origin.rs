//! The SRE's journey with the real `cdn` binary: a scenario against your
//! own origin (a scripted server on loopback), its URLs from a list, a
//! warm-up, and two arms side by side (origin in New York, origin in
//! Seoul). The report gives, per client region, latency with the CDN
//! (measured) and without it (one modelled round trip to the origin's
//! region), and the origin saw only the listed URLs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use tests::{Reply, ScriptedOrigin};

mod common;
use common::{Slot, test_world};

const URLS: &str = "# path            weight
/                 40
/app.js           25
/img/logo.png     20
/about?lang=ko    15
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_against_your_origin_reports_latency_with_and_without_the_cdn_per_region() {
    let origin = ScriptedOrigin::start().await;
    for (path, size) in [("/", 5_000), ("/app.js", 40_000), ("/img/logo.png", 12_000), ("/about?lang=ko", 3_000)] {
        origin.set(path, Reply::ok(vec![b'x'; size]).cc("public, max-age=3600"));
    }
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world_file = test_world(dir.path(), &slot);
    std::fs::write(dir.path().join("urls.txt"), URLS).unwrap();
    let url = format!("http://{}", origin.addr);
    let text = format!(
        r#"name = "own"
question = "should our site sit behind a CDN?"
world = "{}"
seed = 4
duration = "5s"
warmup = "1s"

[origin]
url = "{url}"

[workload]
urls = "urls.txt"
rate = 120
clients = {{ seoul = 0.4, tokyo = 0.3, newyork = 0.3 }}

[[arm]]
name = "origin-newyork"

[[arm]]
name = "origin-seoul"
origin = {{ region = "seoul" }}

[expect]
error_ratio = "== 0"
"#,
        world_file.display()
    );
    let file = dir.path().join("own.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let (f, o) = (file.clone(), out.clone());
    let run = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_cdn")).arg("run").arg(&f).arg("--out").arg(&o).arg("--quiet").output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));

    let w = world::World::load(&world_file).unwrap();
    for (dir_name, origin_region) in [("01-origin-newyork", "newyork"), ("02-origin-seoul", "seoul")] {
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(dir_name).join("report.json")).unwrap()).unwrap();
        assert_eq!(r["origin"], url.as_str(), "{dir_name}");
        assert_eq!(r["origin_region"], origin_region);
        assert_eq!(r["warmup"]["until_s"].as_f64(), Some(1.0));
        let warm = r["warmup"]["requests"].as_u64().unwrap();
        let measured = r["totals"]["requests"].as_u64().unwrap();
        let planned: u64 = r["series"].as_array().unwrap().iter().map(|s| s["requests"].as_u64().unwrap()).sum();
        assert_eq!(warm + measured, planned, "the warm-up's requests are left out of the totals, not lost");
        assert!(warm > 60 && measured > 300, "{warm} warm-up and {measured} measured requests at 120/s");
        assert_eq!(r["totals"]["errors"].as_u64(), Some(0));
        let regions = r["regions"].as_array().unwrap();
        assert_eq!(regions.len(), 3, "{dir_name}");
        for g in regions {
            let name = g["name"].as_str().unwrap();
            let to_origin = w.rtt(name, origin_region).unwrap().as_secs_f64() * 1000.0;
            let without = g["without_cdn_p50_ms"].as_f64().unwrap();
            // Without the CDN: a cold fetch from the origin over the link
            // (TCP and TLS handshakes, the request, then the response in
            // slow start): at least three round trips, and these small
            // objects take one data round.
            assert!(
                without >= 3.0 * to_origin && without < 4.0 * to_origin + 5.0,
                "{dir_name} {name}: without the CDN {without} ms, a cold fetch over the modelled RTT {to_origin} ms"
            );
            let with = g["p50_ms"].as_f64().unwrap();
            let in_region = w.rtt(name, name).unwrap().as_secs_f64() * 1000.0;
            // four URLs cached by every edge after the warm-up: the median
            // request is a hit, one round trip to the region's own edge.
            // Shown by the hit ratio and the modelled floor, not by a
            // measured ceiling: a busy machine (another core at 100%) made
            // that p50 42 ms against a 2 ms round trip.
            let hit = g["hit_ratio"].as_f64().unwrap();
            assert!(hit > 0.5, "{dir_name} {name}: hit ratio {hit}, so the median request is not a hit");
            assert!(with >= in_region, "{dir_name} {name}: p50 {with} ms, in-region RTT {in_region} ms");
            if to_origin > 100.0 {
                assert!(with < without / 2.0, "{dir_name} {name}: {with} ms with the CDN against {without} without");
            }
        }
        assert!(r["verdict"].as_str().unwrap().contains("faster for"), "{}", r["verdict"]);
        let md = std::fs::read_to_string(out.join(dir_name).join("report.md")).unwrap();
        assert!(md.contains("## What this run says") && md.contains("p50 without"), "{md}");
    }
    // The origin saw only the listed URLs, each fetched at most once per
    // edge and arm (max-age=3600), and cdnlab's synthetic paths never.
    let targets = origin.targets();
    let listed: Vec<&str> =
        URLS.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_whitespace().next()).collect();
    assert!(targets.iter().all(|t| listed.contains(&t.as_str())), "{targets:?}");
    for p in &listed {
        let n = origin.count(p);
        assert!((1..=6).contains(&n), "{p}: {n} origin requests (3 edges × 2 arms at most)");
    }
    let arms = std::fs::read_to_string(out.join("arms.md")).unwrap();
    assert!(arms.contains("[origin-newyork]") && arms.contains("[origin-seoul]"), "{arms}");
    assert!(out.join("arms-p50.svg").exists());
    assert!(stdout.contains("without the CDN p50"), "{stdout}");
}

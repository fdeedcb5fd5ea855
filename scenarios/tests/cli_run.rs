//! `cdn run` with the real binary: a short scenario produces a report whose
//! client-side totals agree with the edges' own counters; a failing
//! expectation exits non-zero; the integrity check catches corrupt bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

mod common;
use common::{Slot, test_world};

/// A scenario file on the slot's world. A count of requests (`requests =
/// N`), not a duration, says how long, so a busy machine changes how long a
/// run takes, not what it did.
fn scenario(dir: &Path, slot: &Slot, name: &str, body: &str) -> std::path::PathBuf {
    let world = test_world(dir, slot);
    let text = format!("name = \"{name}\"\nquestion = \"test\"\nworld = \"{}\"\nseed = 5\n{body}", world.display());
    let p = dir.join("scenario.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn run(file: &Path, out: &Path) -> (std::process::Output, serde_json::Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_cdn"))
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .output()
        .unwrap();
    let report = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|_| {
        panic!("no report: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    });
    (o, serde_json::from_str(&report).unwrap())
}

#[test]
fn a_short_scenario_reports_totals_that_match_the_edges() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let file = scenario(
        dir.path(),
        &slot,
        "totals",
        r#"requests = 1200
[workload]
objects = 300
rate = 150
clients = { seoul = 0.4, tokyo = 0.35, newyork = 0.25 }
[[event]]
at = "2s"
do = "bump"
path = "/obj/0"
[[event]]
at = "3s"
do = "purge"
url = "/obj/0"
[expect]
corrupt = "== 0"
served_after_purge = "== 0"
"#,
    );
    let out = dir.path().join("out");
    let (o, r) = run(&file, &out);
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let t = &r["totals"];
    let requests = t["requests"].as_u64().unwrap();
    assert_eq!(requests, 1200);
    // Client-side counts against the edges' own /stats.
    let edges = r["edges"].as_array().unwrap();
    let edge_requests: u64 = edges.iter().map(|e| e["requests"].as_u64().unwrap()).sum();
    assert_eq!(edge_requests, requests, "every client request was counted by exactly one edge");
    let kinds = &t["by_kind"];
    let client_hits = kinds["hit"].as_u64().unwrap_or(0) + kinds["stale"].as_u64().unwrap_or(0);
    let edge_hits: f64 = edges.iter().map(|e| e["hit_ratio"].as_f64().unwrap() * e["requests"].as_f64().unwrap()).sum();
    assert_eq!(client_hits, edge_hits.round() as u64, "hits seen by clients = hits counted by edges");
    assert_eq!(t["errors"].as_u64(), Some(0));
    // Every region's clients were served by their own region's edge.
    for reg in r["regions"].as_array().unwrap() {
        let name = reg["name"].as_str().unwrap();
        let by = reg["served_by"].as_object().unwrap();
        assert_eq!(by.keys().collect::<Vec<_>>(), vec![name], "{name} served by {by:?}");
    }
    assert_eq!(r["events"].as_array().unwrap().len(), 2);
    // Time to first byte beside total time, per region and size band.
    let timing = &r["timing"];
    for rows in [&timing["regions"], &timing["sizes"]] {
        let rows = rows.as_array().unwrap();
        assert!(!rows.is_empty(), "{timing}");
        for row in rows {
            let ttfb = row["ttfb_p50_ms"].as_f64().unwrap();
            assert!(ttfb > 0.0 && ttfb <= row["total_p50_ms"].as_f64().unwrap(), "{row}");
        }
    }
    let answered: u64 = timing["regions"].as_array().unwrap().iter().map(|x| x["requests"].as_u64().unwrap()).sum();
    assert_eq!(answered, requests);
    // Every edge's link to the origin: each fetch warm or cold, its bytes the edges' origin bytes.
    let links = r["links"].as_array().unwrap();
    assert_eq!(links.len(), edges.len(), "{links:?}");
    let sum = |v: &[serde_json::Value], f: &dyn Fn(&serde_json::Value) -> u64| v.iter().map(f).sum::<u64>();
    let fetched = sum(links, &|l| l["warm"].as_u64().unwrap() + l["cold"].as_u64().unwrap());
    assert_eq!(fetched, sum(edges, &|e| e["origin_requests"].as_u64().unwrap()));
    assert!(sum(links, &|l| l["warm"].as_u64().unwrap()) > 0, "kept connections were reused: {links:?}");
    let link_bytes = sum(links, &|l| l["bytes_in"].as_u64().unwrap());
    assert_eq!(link_bytes, sum(edges, &|e| e["bytes_from_origin"].as_u64().unwrap()));
    for f in ["report.md", "hit-ratio.svg", "latency.svg", "origin.svg", "cost.svg"] {
        assert!(out.join(f).exists(), "{f}");
    }
}

/// An edge killed by the scenario is read once more just before the kill:
/// every request it answered is in the report, not only those up to the
/// run's last once-a-second reading of its `/stats` (the kill comes 0.7 s
/// after one: about 100 of these requests), and what its restarted process
/// answers (if GeoDNS has not sent its clients elsewhere) is counted from
/// zero on top.
#[test]
fn a_killed_and_restarted_edge_is_counted_up_to_the_kill() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let file = scenario(
        dir.path(),
        &slot,
        "kill",
        r#"requests = 900
[workload]
objects = 200
rate = 150
clients = { tokyo = 1.0 }
[[event]]
at = "2.7s"
do = "edge-kill"
edge = "tokyo"
restart_after = "1s"
"#,
    );
    let (o, r) = run(&file, &dir.path().join("out"));
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let t = &r["totals"];
    let (requests, errors) = (t["requests"].as_u64().unwrap(), t["errors"].as_u64().unwrap());
    assert_eq!(requests, 900);
    // The clients' failures are the requests sent to the dead edge: every
    // other request was answered by an edge, which counted it.
    let edges = r["edges"].as_array().unwrap();
    let counted: u64 = edges.iter().map(|e| e["requests"].as_u64().unwrap()).sum();
    let answered = requests - errors;
    assert!(
        counted.abs_diff(answered) <= 3,
        "the edges counted {counted} requests, the clients had {answered} answered ({errors} failed): {edges:?}"
    );
    // Per edge: what the clients sent it, less (for Tokyo) what failed.
    let tokyo_clients = r["regions"].as_array().unwrap().iter().find(|g| g["name"] == "tokyo").unwrap();
    let sent_to = |name: &str| tokyo_clients["served_by"][name].as_u64().unwrap_or(0);
    let counted_by = |name: &str| edges.iter().find(|e| e["name"] == name).unwrap()["requests"].as_u64().unwrap();
    assert!(sent_to("tokyo") > 300, "the kill came in the middle of Tokyo's traffic: {}", r["regions"]);
    assert!(counted_by("tokyo").abs_diff(sent_to("tokyo") - errors) <= 3, "{edges:?} {}", r["regions"]);
    assert!(counted_by("seoul").abs_diff(sent_to("seoul")) <= 3, "{edges:?} {}", r["regions"]);
    let kill = &r["events"][0];
    assert!(kill["effect"].as_str().unwrap().starts_with("killed; back after 1s"), "{kill}");
    let notes = r["notes"].to_string();
    assert!(!notes.contains("without a last reading"), "{notes}");
}

#[test]
fn a_failing_expectation_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let file = scenario(
        dir.path(),
        &slot,
        "failing",
        r#"requests = 150
[workload]
objects = 100
rate = 50
clients = { newyork = 1.0 }
[expect]
hit_ratio = ">= 1.5"
"#,
    );
    let (o, r) = run(&file, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL hit_ratio"));
    assert_eq!(r["expectations"][0]["ok"], serde_json::Value::Bool(false));
}

#[test]
fn the_integrity_check_catches_corrupt_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    // The origin corrupts bodies from the start until 6 s after the last
    // request was planned (the run waits for the window to close): every
    // fill is corrupt, and nearly every request is a fill (100,000 objects,
    // 120 requests), unless the driver falls more than 6 s behind.
    let file = scenario(
        dir.path(),
        &slot,
        "corrupt",
        r#"requests = 120
[workload]
objects = 100000
rate = 60
clients = { seoul = 1.0 }
[[event]]
at = "0s"
do = "origin-corrupt"
for = "8s"
[expect]
corrupt = "== 0"
"#,
    );
    let (o, r) = run(&file, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(1), "corrupt bodies fail the run");
    let corrupt = r["totals"]["corrupt"].as_u64().unwrap();
    assert!(corrupt > 60, "{corrupt} of 120 bodies counted corrupt");
}

#[test]
fn a_trace_workload_replays_the_trace_live_and_compares_with_the_model() {
    let dir = tempfile::tempdir().unwrap();
    // 240 requests, 30 objects of 2..31 KB, one a simulated 0.1 s: 24
    // simulated seconds, 2 wall seconds at time scale 12
    let mut csv = String::from("time,key,size,client\n");
    let mut x = 9u64;
    for i in 0..240u64 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let k = (x >> 33) % 30 * ((x >> 40) % 2) + (x >> 50) % 3;
        csv.push_str(&format!("{}.{},{},{},c{}\n", i / 10, i % 10, 1000 + k, 2000 + 1000 * k, i % 7));
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let slot = Slot::claim();
    let file = scenario(
        dir.path(),
        &slot,
        "trace",
        r#"time_scale = 12
[overrides]
memory = "1MiB"
disk = "0"
eviction = "lru"
[workload]
trace = "t.csv"
trace_csv = "header=true,time=time,key=key,size=size,client=client"
clients = { seoul = 0.5, tokyo = 0.5 }
[expect]
corrupt = "== 0"
model_hit_ratio_gap = "<= 0.2"
"#,
    );
    let out = dir.path().join("out");
    let (o, r) = run(&file, &out);
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(r["totals"]["requests"].as_u64(), Some(240), "every trace request was sent");
    assert_eq!(r["totals"]["errors"].as_u64(), Some(0));
    // 24 simulated seconds at time scale 12 are 2 wall seconds; unscaled
    // they would be at least 24 (a busy machine may stretch 2, not to 24).
    assert!(r["duration_s"].as_f64().unwrap() < 20.0, "24 simulated seconds at time scale 12");
    let t = r["trace"]["edges"].as_array().unwrap();
    assert_eq!(t.len(), 2, "clients in two regions, one edge each: {t:?}");
    let modelled: u64 = t.iter().map(|e| e["requests"].as_u64().unwrap()).sum();
    assert_eq!(modelled, 240);
    for e in t {
        assert_eq!(e["policy"], "lru");
        let (live, model) = (e["live_hit_ratio"].as_f64().unwrap(), e["model_hit_ratio"].as_f64().unwrap());
        assert!(live > 0.3 && model > 0.3, "{e}");
    }
    // seven clients, each always in the same region: both regions get some
    let regions = r["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 2);
    assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("## Live against the offline model"));
}

/// `bus = true`: the run starts a nats-server of its own, its edges follow
/// it, the purge event is published to the log once (every edge answers
/// with the log's sequence number) and the edges' counters are read from
/// the bus (the report says so, edge by edge), and still add up to what
/// the clients sent.
#[test]
fn a_run_on_a_bus_reads_the_edges_counters_from_the_bus() {
    if !bus::server::installed() {
        assert!(std::env::var_os("CI").is_none(), "nats-server is not installed");
        eprintln!("SKIPPED a_run_on_a_bus_reads_the_edges_counters_from_the_bus: nats-server is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let file = scenario(
        dir.path(),
        &slot,
        "on-bus",
        r#"requests = 900
bus = true
[workload]
objects = 200
rate = 150
clients = { seoul = 0.4, tokyo = 0.35, newyork = 0.25 }
[[event]]
at = "2s"
do = "purge"
url = "/obj/0"
[expect]
served_after_purge = "== 0"
"#,
    );
    let (o, r) = run(&file, &dir.path().join("out"));
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let requests = r["totals"]["requests"].as_u64().unwrap();
    assert_eq!(requests, 900);
    let edges = r["edges"].as_array().unwrap();
    let counted: u64 = edges.iter().map(|e| e["requests"].as_u64().unwrap()).sum();
    assert_eq!(counted, requests, "the counters read from the bus add up to what the clients sent: {edges:?}");
    // The purge went through the log: one sequence number, every edge.
    let effect = r["events"][0]["effect"].as_str().unwrap();
    assert!(
        effect.starts_with("all 3 edges acknowledged")
            && effect.ends_with("; through the control bus (purge 1 of its log)"),
        "{effect}"
    );
    // Which source each edge's numbers came from, in the report.
    let notes: Vec<&str> = r["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    let note = notes
        .iter()
        .find(|n| n.starts_with("edge counters were read from the control bus"))
        .unwrap_or_else(|| panic!("no note on where the edges' counters came from: {notes:?}"));
    for e in ["seoul", "tokyo", "newyork"] {
        let part = note.split("; ").find(|p| p.contains(&format!("{e} "))).unwrap();
        let from_bus: u64 = part.split_whitespace().find_map(|w| w.parse().ok()).unwrap();
        assert!(from_bus >= 3, "{e}: {part}");
        assert!(part.trim_end_matches('.').ends_with("(last: the control bus)"), "{part}");
    }
}

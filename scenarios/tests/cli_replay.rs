//! `cdn replay` with the real binary on the shipped fixtures: the JSON
//! report has a row per model and size with the bound ≤ Belady ≤ every
//! policy (unit sizes) and the SVG curves are written; `--mrc` reads LRU
//! off the stack-distance curve; bad input fails with a located message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cachesim/tests/fixtures").join(name)
}

fn replay(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cdn"))
        .arg("replay")
        .args(args)
        .args(["--quiet", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn rows(o: &Output) -> Vec<serde_json::Value> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["rows"].as_array().unwrap().clone()
}

fn misses(rows: &[serde_json::Value], model: &str, cap: u64) -> u64 {
    rows.iter().find(|r| r["model"] == model && r["capacity"] == cap).unwrap()["misses"].as_u64().unwrap()
}

#[test]
fn a_replay_reports_every_model_at_every_size_with_prices_and_curves() {
    let dir = tempfile::tempdir().unwrap();
    // the Wikimedia text fixture with every object 1 byte is not possible;
    // the CSV fixture without a size column is: unit sizes, Belady optimal
    let o = replay(
        &[
            fixture("small.csv").to_str().unwrap(),
            "--csv",
            "header=true,key=key,time=time,op=op",
            "--sizes",
            "3,10",
            "--json",
        ],
        dir.path(),
    );
    let rows = rows(&o);
    assert_eq!(rows.len(), 2 * 9, "7 policies, Belady and the bound at 2 sizes");
    for cap in [3u64, 10] {
        let belady = misses(&rows, "belady", cap);
        let bound = misses(&rows, "bound", cap);
        assert!(bound <= belady, "bound {bound} > belady {belady} at {cap}");
        for p in ["lru", "fifo", "clock", "sieve", "s3fifo", "lfu", "wtinylfu"] {
            assert!(belady <= misses(&rows, p, cap), "{p} beats Belady with unit sizes at {cap}");
        }
    }
    let lru = rows.iter().find(|r| r["model"] == "lru" && r["capacity"] == 10).unwrap();
    assert!(lru["origin_usd"].as_str().unwrap().starts_with("0.0"), "priced in decimal dollars: {lru}");
    assert!(lru["over_belady_usd"].is_string());
    for f in ["replay.json", "miss-ratio.svg", "byte-miss-ratio.svg", "origin-cost.svg"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
}

#[test]
fn the_table_names_the_best_policy_and_the_lru_curve_is_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let o = replay(
        &[fixture("zipf-small.oracleGeneral").to_str().unwrap(), "--mrc", "--points", "6", "--policies", "lru,sieve"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(table.contains("250 requests") && table.contains("best online policy:"), "{table}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("replay.json")).unwrap()).unwrap();
    let curve = v["rows"].as_array().unwrap();
    let max = v["trace"]["stats"]["max_size"].as_u64().unwrap();
    for r in curve.iter().filter(|r| r["model"] == "lru") {
        let want = if r["capacity"].as_u64().unwrap() >= max { "stack" } else { "simulated" };
        assert_eq!(r["method"], want, "{r}");
    }
    // the curve's LRU rows equal simulated ones at the same sizes
    let caps: Vec<String> =
        curve.iter().filter(|r| r["method"] == "stack").map(|r| r["capacity"].to_string()).collect();
    assert!(!caps.is_empty());
    let o2 = replay(
        &[
            fixture("zipf-small.oracleGeneral").to_str().unwrap(),
            "--sizes",
            &caps.join(","),
            "--policies",
            "lru",
            "--json",
        ],
        &dir.path().join("sim"),
    );
    for r in rows(&o2) {
        let cap = r["capacity"].as_u64().unwrap();
        assert_eq!(r["misses"].as_u64().unwrap(), misses(curve, "lru", cap));
        let stack = curve.iter().find(|x| x["model"] == "lru" && x["capacity"] == cap).unwrap();
        assert_eq!(r["miss_bytes"], stack["miss_bytes"]);
    }
}

#[test]
fn bad_input_fails_with_a_located_message() {
    let dir = tempfile::tempdir().unwrap();
    let o = replay(&[fixture("bad-truncated.oracleGeneral").to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("bad-truncated.oracleGeneral: record 3: truncated"), "{err}");
    let o = replay(&[fixture("small.csv").to_str().unwrap(), "--policies", "arc"], dir.path());
    assert!(String::from_utf8(o.stderr).unwrap().contains("unknown policy `arc`"));
    let o = replay(&[fixture("zipf-small.oracleGeneral").to_str().unwrap(), "--sizes", "lots"], dir.path());
    assert!(!o.status.success());
    let o = replay(&["/nonexistent.bin", "--format", "oracle"], dir.path());
    assert!(String::from_utf8(o.stderr).unwrap().contains("/nonexistent.bin: cannot open"));
}

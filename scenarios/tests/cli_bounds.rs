//! Issue 12, defect 8, with the real binary: numbers out of bounds in a
//! world file, a scenario file or an `edge` flag are refused at once with
//! the file, line and field (exit 2), never a panic, an allocation abort, an
//! edge that never gets ready, or a report with a negative elapsed time.
//! Nothing here binds a port: every command fails while reading its input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

fn cdn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cdn")).args(args).env_remove("RUST_LOG").output().unwrap()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

/// Exit 2, no panic, and stderr names `file:line:` and `msg`.
fn refused(o: &Output, file: &Path, line: usize, msg: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked") && !err.contains("memory allocation"), "{err}");
    assert!(err.contains(&format!("{}:{line}:", file.display())), "want line {line}: {err}");
    assert!(err.contains(msg), "want `{msg}`: {err}");
    assert!(o.stdout.is_empty() || !String::from_utf8_lossy(&o.stdout).contains("cdnlab-ready"), "started anyway");
}

fn world_with(dir: &Path, from: &str, to: &str) -> (std::path::PathBuf, String) {
    let text = world::load::DEMO_TEXT.replace(from, to);
    assert_ne!(text, world::load::DEMO_TEXT, "{from}");
    let p = dir.join("bad-world.toml");
    std::fs::write(&p, &text).unwrap();
    (p, text)
}

#[test]
fn an_rtt_of_1e308_ms_stops_cdn_up_geodns_and_the_edge_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (w, text) = world_with(dir.path(), "ms = 30 }", "ms = 1e308 }");
    let line = line_of(&text, "1e308");
    let ws = w.to_str().unwrap();
    for args in
        [vec!["up", "--world", ws], vec!["geodns", "--world", ws], vec!["edge", "--world", ws, "--name", "seoul"]]
    {
        let t = Instant::now();
        let o = cdn(&args);
        refused(&o, &w, line, "latency.rtt: ms 1e308 is out of range");
        assert!(t.elapsed() < tests::PATIENCE, "{args:?} took {:?}", t.elapsed());
    }
}

#[test]
fn a_1000_tib_disk_or_a_u64_max_memory_tier_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to, msg) in [
        ("disk = \"256MiB\"", "disk = \"1000TiB\"", "disk 1000TiB"),
        ("memory = \"64MiB\"", "memory = \"18446744073709551615\"", "memory 16777216.0TiB"),
    ] {
        let (w, text) = world_with(dir.path(), from, to);
        let o = cdn(&["edge", "--world", w.to_str().unwrap(), "--name", "tokyo"]);
        refused(&o, &w, line_of(&text, to), msg);
    }
    // The same through the flags of a standalone edge.
    for (flag, value) in [("--disk", "1000TiB"), ("--memory", "18446744073709551615")] {
        let t = Instant::now();
        let data = dir.path().join("standalone");
        let o = cdn(&[
            "edge",
            "--origin",
            "http://127.0.0.1:9",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            flag,
            value,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("{flag}: ")) && err.contains("must be"), "{err}");
        assert!(t.elapsed() < tests::PATIENCE, "took {:?}", t.elapsed());
        assert!(!data.exists(), "refused before touching the data directory");
    }
}

#[test]
fn a_scenario_rate_of_1e12_or_zero_requests_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let base =
        "name = \"b\"\nquestion = \"bounds\"\nduration = \"10s\"\n\n[workload]\nrate = 100\nclients = { seoul = 1 }\n";
    for (from, to, msg) in [
        ("rate = 100", "rate = 1e12", "rate 1e12 must be > 0 and at most 100000 requests/s"),
        ("duration = \"10s\"", "requests = 0", "requests 0 must be 1 to 10000000"),
    ] {
        let text = base.replace(from, to);
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, &text).unwrap();
        let out = dir.path().join("out");
        let t = Instant::now();
        let o = cdn(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
        refused(&o, &p, line_of(&text, to), msg);
        assert!(t.elapsed() < tests::PATIENCE, "took {:?}", t.elapsed());
        assert!(!out.join("report.json").exists(), "no report for a refused scenario");
    }
}

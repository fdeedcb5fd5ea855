//! The real binary and the CLI helpers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hickory_server::proto::rr::RecordType;

use crate::support::*;

/// Starts the binary with `args`; returns the child and its ready line.
fn start_bin(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_geodns"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line)
}

fn addr_of(line: &str, role: &str) -> std::net::SocketAddr {
    let key = format!("{role}=");
    line.split_whitespace().find_map(|w| w.strip_prefix(&key)).unwrap().parse().unwrap()
}

#[tokio::test]
async fn binary_prints_one_ready_line_and_serves_a_generated_or_given_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.mmdb");
    let out = Command::new(env!("CARGO_BIN_EXE_geodns"))
        .args(["build-mmdb", "--out", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for extra in [vec![], vec!["--mmdb", db.to_str().unwrap()]] {
        let mut args = vec!["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"];
        args.extend(extra);
        let (mut child, line) = start_bin(&args);
        assert!(line.starts_with("cdnlab-ready geodns geodns dns=127.0.0.1:"), "{line}");
        let (dns, http) = (addr_of(&line, "dns"), addr_of(&line, "http"));
        // No --world: the demo world, whose edges are not running here, so
        // health stays unknown and each region still gets its own edge.
        let q = query("cdn.test.", RecordType::A, Some("198.51.100.0/24"));
        assert_eq!(addrs(&udp(dns, ip("127.1.0.1"), &q).await), vec![ip("127.2.0.1")]);
        let (status, _, _) = http_get(http, ip("127.0.0.1"), "/healthz", &[]).await;
        assert_eq!(status, 200);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn missing_or_corrupt_database_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, b"no").unwrap();
    for path in [dir.path().join("missing.mmdb"), junk] {
        let out = Command::new(env!("CARGO_BIN_EXE_geodns"))
            .args(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--mmdb", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty(), "printed a ready line anyway");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("GeoIP database") && err.contains(path.file_name().unwrap().to_str().unwrap()), "{err}");
    }
}

/// Issue 12, defect 5: GeoDNS listened on any address it was given.
#[test]
fn a_non_loopback_address_is_refused_naming_the_flag_that_allows_it() {
    for (flag, other) in [("--dns", "--http"), ("--http", "--dns")] {
        let out = Command::new(env!("CARGO_BIN_EXE_geodns"))
            .args([flag, "0.0.0.0:0", other, "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty(), "printed a ready line anyway");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("{flag} 0.0.0.0:0: not a loopback address")), "{err}");
        assert!(err.contains("--allow-non-loopback"), "{err}");
    }
}

#[tokio::test]
async fn resolve_command_asks_the_running_geodns_or_decides_offline() {
    // Its HTTP side on a port the test keeps, so that once it stops nothing
    // answers there.
    let http = tests::net::reserve();
    let mut w = world();
    w.geodns.http = http.addr();
    let g = start(&w, geodns::health::Mode::Off).await;
    assert_eq!(g.http, http.addr());
    // Asked: the running geodns decides (its health checks are off).
    let (v, note) = geodns::resolve::decision(&w, ip("203.0.113.9")).await.unwrap();
    assert_eq!((v["edge"].as_str(), v["health"].as_str(), note), (Some("seoul"), Some("off"), None));
    geodns::resolve_command(&w, ip("203.0.113.9"), true).await.unwrap();
    g.shutdown().await.unwrap();
    // Nobody listens now: offline, from the world, and it says so.
    let (v, note) = geodns::resolve::decision(&w, ip("203.0.113.9")).await.unwrap();
    assert_eq!((v["edge"].as_str(), v["health"].as_str()), (Some("seoul"), Some("unknown")));
    assert!(note.is_some_and(|n| n.contains("offline decision")));
    geodns::resolve_command(&w, ip("203.0.113.9"), false).await.unwrap();
    let v = geodns::resolve::offline(&w, ip("2001:db8:3::7")).unwrap();
    assert_eq!(v["edge"], "newyork");
    assert_eq!(v["health"], "unknown");
    let text = geodns::resolve::human(&v);
    assert!(text.starts_with("2001:db8:3::7 → edge newyork (newyork) at 127.3.0.1:8080"), "{text}");
}

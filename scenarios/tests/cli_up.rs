//! `cdn up` with the real binary: starts, answers, shuts down with no child
//! left; reports an address in use; children exit when `cdn up` is killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::test_world;

fn cdn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cdn"))
}

/// Processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
            && pid != std::process::id()
        {
            out.push(pid);
        }
    }
    out
}

fn wait_for_up(child: &mut Child) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            let done = l.contains("Ctrl-C stops everything");
            lines.push(l);
            if done {
                return lines;
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!("cdn up exited early ({s}): {lines:?}");
        }
    }
    panic!("cdn up did not come up: {lines:?}");
}

fn get(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c.get(url).send().await.unwrap();
        let cs = r.headers().get("cache-status").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (r.status().as_u16(), cs)
    })
}

fn wait_gone(needle: &str, within: Duration) -> Vec<u32> {
    let deadline = Instant::now() + within;
    loop {
        let left = processes_with(needle);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn up_starts_answers_and_stops_with_no_child_left() {
    let dir = tempfile::tempdir().unwrap();
    let world = test_world(dir.path(), 201);
    let mut child = cdn().arg("up").arg("--world").arg(&world).arg("--quiet").stdout(Stdio::piped()).spawn().unwrap();
    let lines = wait_for_up(&mut child);
    assert!(lines.iter().any(|l| l.contains("edge tokyo") && l.contains("127.201.2.1:8080")), "{lines:?}");
    assert!(lines.iter().filter(|l| l.contains("curl ")).count() >= 3, "three curl lines: {lines:?}");
    let needle = world.display().to_string();
    assert_eq!(processes_with(&needle).len(), 6, "cdn up + origin + 3 edges + geodns");

    let (s1, cs1) = get("http://127.201.1.1:8080/obj/1");
    let (s2, cs2) = get("http://127.201.1.1:8080/obj/1");
    assert_eq!((s1, s2), (200, 200));
    assert!(cs1.contains("fwd=uri-miss") && cs1.contains("stored"), "{cs1}");
    assert!(cs2.contains("; hit;"), "{cs2}");

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(wait_gone(&needle, Duration::from_secs(5)), Vec::<u32>::new(), "children left behind");
}

#[test]
fn children_exit_when_cdn_up_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let world = test_world(dir.path(), 202);
    let mut child = cdn().arg("up").arg("--world").arg(&world).arg("--quiet").stdout(Stdio::piped()).spawn().unwrap();
    wait_for_up(&mut child);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let needle = world.display().to_string();
    assert_eq!(wait_gone(&needle, Duration::from_secs(10)), Vec::<u32>::new(), "orphans after kill -9");
}

#[test]
fn an_address_in_use_is_reported_with_component_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let world = test_world(dir.path(), 203);
    let _squatter = std::net::TcpListener::bind("127.203.2.1:8080").unwrap();
    let mut child = cdn()
        .arg("up")
        .arg("--world")
        .arg(&world)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(err.contains("edge tokyo") && err.contains("127.203.2.1:8080") && err.contains("in use"), "{err}");
    assert_eq!(wait_gone(&world.display().to_string(), Duration::from_secs(5)), Vec::<u32>::new());
}

#[test]
fn a_bad_world_file_is_refused_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, world::load::DEMO_TEXT.replace("eviction = \"s3fifo\"", "eviction = \"sometimes\"")).unwrap();
    let out = cdn().arg("up").arg("--world").arg(&p).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = world::load::DEMO_TEXT.lines().position(|l| l.contains("eviction = \"s3fifo\"")).unwrap() + 1;
    assert!(err.contains(&format!("bad.toml:{line}:")) && err.contains("sometimes"), "{err}");
}

/// A stand-in for "your own server": plain HTTP/1.1 on an ephemeral
/// loopback port, `Cache-Control` deciding what the edges keep; counts the
/// requests for `/mine`.
fn your_server() -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 {
                            return;
                        }
                        if l == "\r\n" {
                            break;
                        }
                    }
                    let (status, cc, body) = if request_line.starts_with("GET /mine ") {
                        counter.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", "public, max-age=60", "mine")
                    } else {
                        ("404 Not Found", "no-store", "nope")
                    };
                    let r = format!(
                        "HTTP/1.1 {status}\r\ncache-control: {cc}\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(r.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, hits)
}

#[test]
fn up_with_your_own_origin_puts_it_behind_every_edge() {
    let dir = tempfile::tempdir().unwrap();
    let world = test_world(dir.path(), 204);
    let (addr, mine) = your_server();
    let url = format!("http://{addr}");
    let mut child = cdn()
        .arg("up")
        .arg("--world")
        .arg(&world)
        .arg("--origin")
        .arg(&url)
        .arg("--quiet")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = wait_for_up(&mut child);
    assert!(lines.iter().any(|l| l.contains("origin (yours)") && l.contains(&url)), "{lines:?}");
    let needle = world.display().to_string();
    assert_eq!(processes_with(&needle).len(), 5, "cdn up + 3 edges + geodns, no synthetic origin");

    let (s1, cs1) = get("http://127.204.1.1:8080/mine");
    let (s2, cs2) = get("http://127.204.1.1:8080/mine");
    let (s3, cs3) = get("http://127.204.2.1:8080/mine");
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert!(cs1.contains("edge-seoul") && cs1.contains("fwd=uri-miss") && cs1.contains("stored"), "{cs1}");
    assert!(cs2.contains("edge-seoul; hit;"), "{cs2}");
    assert!(cs3.contains("edge-tokyo") && cs3.contains("fwd=uri-miss"), "{cs3}");
    assert_eq!(mine.load(std::sync::atomic::Ordering::SeqCst), 2, "one fill per edge, the hit stayed at the edge");
    let (s4, cs4) = get("http://127.204.1.1:8080/other");
    assert_eq!(s4, 404);
    assert!(!cs4.contains("stored"), "no-store from your server is not stored: {cs4}");

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(wait_gone(&needle, Duration::from_secs(5)), Vec::<u32>::new(), "children left behind");
}

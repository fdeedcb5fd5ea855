//! A server started as `cdn up` starts it (stdin a pipe its parent keeps
//! open, `CDNLAB_EXIT_WITH_PARENT` set) exits promptly on SIGTERM: the
//! thread watching stdin must not keep the process alive (issue 19: a
//! SIGTERMed edge logged "edge stopped" and lingered until `cdn up` exited).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Slot, test_world};

/// Starts `cdn <args>` as `cdn up` would and waits for its ready line.
fn start(args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdn"))
        .args(args)
        .env(runtime::shutdown::EXIT_WITH_PARENT_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.by_ref().map_while(Result::ok).any(|l| l.starts_with("cdnlab-ready "));
    assert!(ready, "{args:?}: no ready line");
    // keep reading stdout so the child never blocks on a full pipe
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// SIGTERM, then the time until the process is gone (`None`: still there
/// after 20 s; it is killed then).
fn stop_time(mut child: Child) -> Option<Duration> {
    let t0 = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    while t0.elapsed() < Duration::from_secs(20) {
        if child.try_wait().unwrap().is_some() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn edge_origin_and_geodns_exit_on_sigterm_while_their_parent_keeps_stdin_open() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let w = world.to_str().unwrap();
    let data = dir.path().join("standalone");
    let edge = [
        "edge",
        "--origin",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    for args in [&edge[..], &["origin", "--world", w], &["geodns", "--world", w]] {
        let child = start(args);
        let took = stop_time(child);
        assert!(took.is_some(), "cdn {}: still running 20 s after SIGTERM", args[0]);
    }
}

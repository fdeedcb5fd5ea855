//! The real binary: ready line, SIGTERM, a bad world, a busy address.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_origin");

#[tokio::test]
async fn the_binary_prints_one_ready_line_serves_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&words[..3], ["cdnlab-ready", "origin", "origin"], "{line}");
    let public = words[3].strip_prefix("public=").unwrap().to_string();
    let admin = words[4].strip_prefix("admin=").unwrap().to_string();

    let c = crate::util::client();
    assert_eq!(c.get(format!("http://{public}/obj/1")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(format!("http://{admin}/healthz")).send().await.unwrap().status(), 200);
    // The demo world has an admin token.
    assert_eq!(c.post(format!("http://{admin}/bump")).body("{}").send().await.unwrap().status(), 401);

    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = wait(&mut child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
}

#[test]
fn a_bad_world_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "name = \"x\"\nnot_a_field = 1\n").unwrap();
    let out = Command::new(BIN).arg("--world").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:", path.display())), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_busy_address_is_named_in_the_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let out = Command::new(BIN).args(["--listen", &addr.to_string(), "--admin", "127.0.0.1:0"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr.to_string()) && err.contains("in use"), "{err}");
    assert!(out.stdout.is_empty(), "no ready line when binding fails");
}

#[test]
fn a_missing_root_or_a_non_loopback_address_exits_2() {
    let out = Command::new(BIN).args(["--root", "/definitely/not/here", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    for flag in ["--listen", "--admin"] {
        let out = Command::new(BIN).args([flag, "0.0.0.0:0"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("{flag} 0.0.0.0:0")) && err.contains("--allow-non-loopback"), "{err}");
    }
}

fn wait(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("origin did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

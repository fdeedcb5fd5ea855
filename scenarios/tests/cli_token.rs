//! Issue 12, defect 5, with the real binary: a standalone `cdn edge` with
//! no token prints the one it generates once, keeps it (0600) in its data
//! directory for `cdn purge --edge … --data-dir …`, and refuses purges
//! without it; a non-loopback listener is refused unless allowed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child process killed (and reaped) when dropped, so a failing
/// assertion never leaves it running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cdn edge` in front of `origin` on ephemeral loopback ports, with its
/// data in `dir`: the child, the lines it printed before its ready line,
/// and its admin address.
fn start_edge(origin: SocketAddr, dir: &Path) -> (Killed, Vec<String>, SocketAddr) {
    let child = Command::new(env!("CARGO_BIN_EXE_cdn"))
        .args(["edge", "--origin", &format!("http://{origin}"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .env_remove(world::load::ADMIN_TOKEN_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    loop {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "edge exited: {lines:?}");
        if let Some(admin) = runtime::server::ready_addr(&l, "admin") {
            return (child, lines, admin);
        }
        lines.push(l.trim().to_string());
    }
}

fn cdn_purge(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_cdn"))
        .arg("purge")
        .args(args)
        .env_remove(world::load::ADMIN_TOKEN_ENV)
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).to_string())
}

#[tokio::test]
async fn a_standalone_edge_generates_its_token_once_and_cdn_purge_finds_it() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let origin = origin::spawn(origin::Config::default(), any, any).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("edge");
    let (child, printed, admin) = start_edge(origin.public, &dir);
    let file = dir.join("admin-token");
    let token = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert!(printed[0].contains(&format!("admin token {token}")) && printed[0].contains("admin-token"), "{printed:?}");

    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = c.post(format!("http://{admin}/purge")).body(r#"{"all":true}"#).send().await.unwrap();
    assert_eq!(r.status(), 401, "no purge without the token");
    let (code, out) =
        cdn_purge(&["--url", "/obj/1", "--edge", &admin.to_string(), "--data-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all 1 edges acknowledged"), "{out}");
    let (code, out) = cdn_purge(&["--url", "/obj/1", "--edge", &admin.to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED") && out.contains("pass --data-dir"), "{out}");

    drop(child);
    let (_child, printed, _) = start_edge(origin.public, &dir);
    assert!(printed.is_empty(), "the token is printed once, when generated: {printed:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
}

#[test]
fn non_loopback_listeners_are_refused_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, other) in [("--listen", "--admin"), ("--admin", "--listen")] {
        let o = Command::new(env!("CARGO_BIN_EXE_cdn"))
            .args(["edge", "--origin", "http://127.0.0.1:9", flag, "0.0.0.0:0", other, "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(tmp.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("{flag} 0.0.0.0:0: not a loopback address")), "{err}");
        assert!(err.contains("--allow-non-loopback"), "{err}");
    }
    // The dashboard (its controls purge, bump and kill) has no such flag.
    for args in [vec!["up", "--dashboard", "0.0.0.0:0"], vec!["run", "--dashboard", "0.0.0.0:0", "none.toml"]] {
        let o = Command::new(env!("CARGO_BIN_EXE_cdn")).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--dashboard 0.0.0.0:0: not a loopback address"), "{args:?}: {err}");
    }
    for (what, args) in
        [("origin", vec!["origin", "--admin", "0.0.0.0:0"]), ("geodns", vec!["geodns", "--dns", "0.0.0.0:0"])]
    {
        let o = Command::new(env!("CARGO_BIN_EXE_cdn")).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("not a loopback address") && err.contains("--allow-non-loopback"), "{what}: {err}");
    }
}

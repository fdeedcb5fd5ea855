//! `cdn up` with the real binary: starts, answers, shuts down with no child
//! left; reports an address in use; children exit when `cdn up` is killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Slot, processes_with, test_world, wait_for_up};
use tests::PATIENCE;
use tests::scripted::{Reply, ScriptedOrigin};

fn cdn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cdn"))
}

/// A running `cdn up`, killed when dropped: a failed assertion must not
/// leave it (and the children that hold the test's output open) running.
struct Up(Child);

impl Up {
    fn start(cmd: &mut Command) -> Up {
        Up(cmd.spawn().unwrap())
    }

    /// Stops it as Ctrl-C would and waits for it.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.0.wait().unwrap()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill(); // its children exit when it dies
            let _ = self.0.wait();
        }
    }
}

fn get(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c.get(url).send().await.unwrap();
        let cs = r.headers().get("cache-status").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let status = r.status().as_u16();
        // To the body's end: a miss streams through and is stored before
        // its last byte, so a next request expects a hit only after this.
        let _ = r.bytes().await;
        (status, cs)
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
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let mut up = Up::start(cdn().arg("up").arg("--world").arg(&world).arg("--quiet").stdout(Stdio::piped()));
    let lines = wait_for_up(&mut up.0);
    let tokyo = format!("{}:8080", slot.ip(2));
    assert!(lines.iter().any(|l| l.contains("edge tokyo") && l.contains(&tokyo)), "{lines:?}");
    assert!(lines.iter().filter(|l| l.contains("curl ")).count() >= 3, "three curl lines: {lines:?}");
    let needle = world.display().to_string();
    assert_eq!(processes_with(&needle).len(), 6, "cdn up + origin + 3 edges + geodns");

    let seoul = format!("http://{}:8080/obj/1", slot.ip(1));
    let (s1, cs1) = get(&seoul);
    let (s2, cs2) = get(&seoul);
    assert_eq!((s1, s2), (200, 200));
    assert!(cs1.contains("fwd=uri-miss") && cs1.contains("stored"), "{cs1}");
    assert!(cs2.contains("; hit;"), "{cs2}");

    let status = up.terminate();
    assert!(status.success(), "{status}");
    assert_eq!(wait_gone(&needle, PATIENCE), Vec::<u32>::new(), "children left behind");
}

#[test]
fn children_exit_when_cdn_up_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let mut up = Up::start(cdn().arg("up").arg("--world").arg(&world).arg("--quiet").stdout(Stdio::piped()));
    wait_for_up(&mut up.0);
    up.0.kill().unwrap(); // SIGKILL: no chance to clean up
    up.0.wait().unwrap();
    let needle = world.display().to_string();
    assert_eq!(wait_gone(&needle, PATIENCE), Vec::<u32>::new(), "orphans after kill -9");
}

#[test]
fn an_address_in_use_is_reported_with_component_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let tokyo = format!("{}:8080", slot.ip(2));
    let _squatter = std::net::TcpListener::bind(&tokyo).unwrap();
    let mut up = Up::start(
        cdn().arg("up").arg("--world").arg(&world).arg("--quiet").stdout(Stdio::null()).stderr(Stdio::piped()),
    );
    let mut err = String::new();
    up.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = up.0.wait().unwrap();
    assert!(!status.success());
    assert!(err.contains("edge tokyo") && err.contains(&tokyo) && err.contains("in use"), "{err}");
    assert_eq!(wait_gone(&world.display().to_string(), PATIENCE), Vec::<u32>::new());
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

#[test]
fn up_with_your_own_origin_puts_it_behind_every_edge() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    // "Your own server": the project's scripted origin, headers deciding
    // what the edges keep.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let yours = rt.block_on(ScriptedOrigin::start());
    yours.set("/mine", Reply::ok("mine").cc("public, max-age=60"));
    // Storable but for no-store, so no-store is what keeps it out.
    yours.set("/other", Reply::status(404, "nope").cc("public, max-age=60, no-store"));
    // Last-Modified only: --default-ttl decides its lifetime, and says so.
    yours.set("/dated", Reply::ok("dated").header("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"));
    let url = format!("http://{}", yours.addr);
    let mut up = Up::start(
        cdn()
            .arg("up")
            .arg("--world")
            .arg(&world)
            .arg("--origin")
            .arg(&url)
            .args(["--default-ttl", "7m"])
            .arg("--quiet")
            .stdout(Stdio::piped()),
    );
    let lines = wait_for_up(&mut up.0);
    assert!(lines.iter().any(|l| l.contains("origin (yours)") && l.contains(&url)), "{lines:?}");
    let needle = world.display().to_string();
    assert_eq!(processes_with(&needle).len(), 5, "cdn up + 3 edges + geodns, no synthetic origin");

    let at = |k: u8, path: &str| format!("http://{}:8080{path}", slot.ip(k));
    let (s1, cs1) = get(&at(1, "/mine"));
    let (s2, cs2) = get(&at(1, "/mine"));
    let (s3, cs3) = get(&at(2, "/mine"));
    let (s4, cs4) = get(&at(3, "/mine"));
    assert_eq!((s1, s2, s3, s4), (200, 200, 200, 200));
    assert!(cs1.contains("edge-seoul") && cs1.contains("fwd=uri-miss") && cs1.contains("stored"), "{cs1}");
    assert!(cs2.contains("edge-seoul; hit;"), "{cs2}");
    assert!(cs3.contains("edge-tokyo") && cs3.contains("fwd=uri-miss"), "{cs3}");
    assert!(cs4.contains("edge-newyork") && cs4.contains("fwd=uri-miss"), "{cs4}");
    assert_eq!(yours.count("/mine"), 3, "one fill per edge, the hit stayed at the edge");
    let (s5, cs5) = get(&at(1, "/other"));
    assert_eq!(s5, 404);
    assert!(
        !cs5.contains("stored") && cs5.contains("detail=no-store"),
        "no-store from your server is not stored: {cs5}"
    );
    let (s6, _) = get(&at(1, "/other"));
    assert_eq!(s6, 404);
    assert_eq!(yours.count("/other"), 2, "nothing stored, so the second GET went to your server too");
    let (s7, cs7) = get(&at(1, "/dated"));
    assert_eq!(s7, 200);
    assert!(cs7.contains("; stored; detail=default-ttl"), "{cs7}");
    let ttl: i64 = cs7.split("ttl=").nth(1).and_then(|t| t.split(';').next()).unwrap().parse().unwrap();
    assert!((415..=420).contains(&ttl), "--default-ttl 7m, not the heuristic's years: {cs7}");

    assert!(up.terminate().success());
    assert_eq!(wait_gone(&needle, PATIENCE), Vec::<u32>::new(), "children left behind");
}

/// Lines of a child's stderr, read on a thread.
fn stderr_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits (60 s at most) for a line containing `needle`.
fn wait_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200))
            && l.contains(needle)
        {
            return l;
        }
    }
    panic!("no line with `{needle}` within 60 s");
}

/// Kills the Tokyo edge of the world in `needle` as a crash would.
fn kill_tokyo(needle: &str) {
    let tokyo: Vec<u32> = processes_with(needle).into_iter().filter(|p| is_tokyo_edge(*p)).collect();
    assert_eq!(tokyo.len(), 1, "one tokyo edge");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(tokyo[0] as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
}

fn is_tokyo_edge(pid: u32) -> bool {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
    args.windows(2).any(|w| w[0] == b"--name" && w[1] == b"tokyo") && args.iter().any(|a| *a == b"edge")
}

/// Polls an edge's `/stats` until its disk tier has written something
/// (60 s at most).
fn wait_disk_written(stats: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = c.get(stats).send().await {
                let s: serde_json::Value = r.json().await.unwrap();
                if s["disk_written"].as_u64().unwrap_or(0) > 0 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{stats}: nothing written to disk within 60 s");
    })
}

/// Polls `url` until it answers 200 (60 s at most).
fn wait_answering(url: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if c.get(url).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{url} did not answer within 60 s");
    })
}

#[test]
fn a_crashed_edge_is_reported_and_cdn_restart_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let mut up = Up::start(
        cdn().arg("up").arg("--world").arg(&world).arg("--quiet").stdout(Stdio::piped()).stderr(Stdio::piped()),
    );
    let errs = stderr_lines(&mut up.0);
    wait_for_up(&mut up.0);
    let needle = world.display().to_string();
    // restarting an edge that runs is refused, with the reason
    let o = cdn().arg("restart").arg("tokyo").arg("--world").arg(&world).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is running"), "{}", String::from_utf8_lossy(&o.stderr));
    kill_tokyo(&needle);
    wait_line(&errs, "edge tokyo exited unexpectedly");
    wait_line(&errs, "`cdn restart tokyo` starts it again");
    let o = cdn().arg("restart").arg("tokyo").arg("--world").arg(&world).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("edge tokyo: started again, ready in"), "{out}");
    assert_eq!(get(&format!("http://{}:8080/obj/1", slot.ip(2))).0, 200, "the Tokyo edge answers again");
    assert_eq!(processes_with(&needle).len(), 6, "cdn up + origin + 3 edges + geodns");
    let o = cdn().arg("restart").arg("osaka").arg("--world").arg(&world).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("no edge `osaka`"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(up.terminate().success());
    assert_eq!(wait_gone(&needle, PATIENCE), Vec::<u32>::new(), "children left behind");
}

#[test]
fn with_restart_after_a_crashed_edge_comes_back_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let mut up = Up::start(
        cdn()
            .arg("up")
            .arg("--world")
            .arg(&world)
            .arg("--quiet")
            .arg("--restart-after")
            .arg("500ms")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let errs = stderr_lines(&mut up.0);
    wait_for_up(&mut up.0);
    let needle = world.display().to_string();
    kill_tokyo(&needle);
    wait_line(&errs, "edge tokyo exited unexpectedly");
    wait_line(&errs, "edge tokyo is back");
    wait_answering(&format!("http://{}:8080/obj/1", slot.ip(2)));
    assert!(up.terminate().success());
    assert_eq!(wait_gone(&needle, PATIENCE), Vec::<u32>::new(), "children left behind");
}

/// Status, Cache-Status and body of a GET.
fn get_body(url: &str) -> (u16, String, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c.get(url).send().await.unwrap();
        let cs = r.headers().get("cache-status").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (r.status().as_u16(), cs, r.text().await.unwrap())
    })
}

/// Issue 19: a cache belongs to its origin. `cdn up --origin B` on the
/// data directories `cdn up --origin A` filled is refused, naming both
/// origins and `--fresh`; with `--fresh` it serves B's content, never A's;
/// a restarted edge keeps what it stored since (`--fresh` is for the first
/// start only).
#[test]
fn a_cache_filled_from_one_origin_is_never_served_for_another() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let needle = world.display().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let a = rt.block_on(ScriptedOrigin::start());
    let b = rt.block_on(ScriptedOrigin::start());
    for (o, text) in [(&a, "from A"), (&b, "from B")] {
        o.set("/same", Reply::ok(text).cc("public, max-age=600"));
    }
    let (url_a, url_b) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    let up = |origin: &str, extra: &[&str]| {
        let mut c = cdn();
        c.arg("up").arg("--world").arg(&world).arg("--origin").arg(origin).arg("--quiet").args(extra);
        c
    };

    let mut first = Up::start(up(&url_a, &[]).stdout(Stdio::piped()));
    wait_for_up(&mut first.0);
    let (s, cs, body) = get_body(&format!("http://{}:8080/same", slot.ip(1)));
    assert_eq!((s, body.as_str()), (200, "from A"), "{cs}");
    assert!(cs.contains("stored"), "{cs}");
    assert!(first.terminate().success());
    assert_eq!(wait_gone(&needle, Duration::from_secs(10)), Vec::<u32>::new(), "children left behind");

    // Origin B on the same data directories: refused, nothing served.
    let mut refused = Up::start(up(&url_b, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()));
    let errs = stderr_lines(&mut refused.0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = refused.0.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let (_, cs, body) = get_body(&format!("http://{}:8080/same", slot.ip(1)));
            panic!("cdn up --origin B started on A's cache and answered {body:?} ({cs})");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    while let Ok(l) = errs.recv_timeout(Duration::from_secs(10)) {
        err.push_str(&l);
        err.push('\n');
    }
    assert!(!status.success(), "{err}");
    assert!(err.contains(&url_a) && err.contains(&url_b) && err.contains("cdn up --fresh"), "{err}");
    // Refused up front, for every edge at once, each named with its
    // directory; not one edge started and died ("exited before ready").
    assert!(err.contains("nothing started: the data directories of 3 of 3 edges"), "{err}");
    for edge in ["seoul", "tokyo", "newyork"] {
        let line = format!("edge {edge}: {} holds the cache of origin {url_a}", dir.path().join(edge).display());
        assert!(err.contains(&line), "{line}\n{err}");
    }
    assert!(!err.contains("before ready") && !err.contains("exited"), "{err}");
    assert_eq!(wait_gone(&needle, Duration::from_secs(10)), Vec::<u32>::new(), "children left behind");
    assert_eq!(b.count("/same"), 0);

    // With --fresh: B's content, fetched from B, on every edge.
    let mut second = Up::start(up(&url_b, &["--fresh"]).stdout(Stdio::piped()).stderr(Stdio::piped()));
    let errs = stderr_lines(&mut second.0);
    wait_for_up(&mut second.0);
    for region in 1..=3 {
        let (s, cs, body) = get_body(&format!("http://{}:8080/same", slot.ip(region)));
        assert_eq!((s, body.as_str()), (200, "from B"), "edge {region}: {cs}");
        assert!(cs.contains("fwd=uri-miss"), "edge {region}: {cs}");
    }
    assert_eq!(a.count("/same"), 1, "A was asked once, by the first run");
    // A restarted edge keeps what it stored since --fresh emptied it: once
    // the disk tier has written it (the write is asynchronous, and a
    // kill -9 before it loses the entry as a real crash would).
    wait_disk_written(&format!("http://{}:9080/stats", slot.ip(2)));
    kill_tokyo(&needle);
    wait_line(&errs, "edge tokyo exited unexpectedly");
    let o = cdn().arg("restart").arg("tokyo").arg("--world").arg(&world).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (s, cs, body) = get_body(&format!("http://{}:8080/same", slot.ip(2)));
    assert_eq!((s, body.as_str()), (200, "from B"), "{cs}");
    assert!(cs.contains("hit") && cs.contains("detail=disk"), "kept across the restart: {cs}");
    assert!(second.terminate().success());
    assert_eq!(wait_gone(&needle, Duration::from_secs(10)), Vec::<u32>::new(), "children left behind");
}

/// Issue 23's follow-up, with the real binaries: `cdn up --origin URL
/// --origin-host NAME` has every edge send the origin exactly that `Host`,
/// whatever the client sent; a bad `--origin-host` is refused at once,
/// naming the value, with a non-zero exit and nothing started.
#[test]
fn cdn_up_origin_host_is_the_host_your_origin_sees() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let needle = world.display().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let yours = rt.block_on(ScriptedOrigin::start());
    yours.set("/h", Reply::ok("h").cc("no-store"));
    let url = format!("http://{}", yours.addr);

    let o = cdn()
        .args(["up", "--world"])
        .arg(&world)
        .args(["--origin", &url, "--origin-host", "www.example/admin", "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("origin host `www.example/admin`") && err.contains("host[:port]"), "{err}");
    assert_eq!(processes_with(&needle), Vec::<u32>::new(), "nothing started");
    assert_eq!(yours.targets(), Vec::<String>::new());

    let mut up = Up::start(
        cdn()
            .args(["up", "--world"])
            .arg(&world)
            .args(["--origin", &url, "--origin-host", "www.example:8443", "--quiet"])
            .stdout(Stdio::piped()),
    );
    wait_for_up(&mut up.0);
    let rt2 = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for k in 1..=3 {
        let edge = format!("http://{}:8080/h", slot.ip(k));
        for client_host in [None, Some("evil.example")] {
            let status = rt2.block_on(async {
                let c = reqwest::Client::builder().no_proxy().build().unwrap();
                let mut r = c.get(&edge);
                if let Some(h) = client_host {
                    r = r.header("host", h);
                }
                r.send().await.unwrap().status().as_u16()
            });
            assert_eq!(status, 200, "{edge} with Host {client_host:?}");
            let got = yours.last("/h").unwrap();
            let hosts: Vec<_> = got.headers.get_all("host").iter().collect();
            assert_eq!(hosts, ["www.example:8443"], "{edge}, client Host {client_host:?}");
        }
    }
    assert_eq!(yours.count("/h"), 6, "no-store: every request reached your origin");
    assert!(up.terminate().success());
    assert_eq!(wait_gone(&needle, PATIENCE), Vec::<u32>::new(), "children left behind");
}

/// A shield world started by `cdn up`: the summary names the shield's
/// tier listener; a miss in Seoul goes through the New York shield (both
/// entries in Cache-Status), Tokyo's miss on the same object is a hit at
/// the shield, and the origin is asked once.
#[test]
fn up_starts_a_shield_world_whose_edges_fill_through_the_shield() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let tier = format!("{}:8080", slot.ip(4));
    let mut text = std::fs::read_to_string(&world).unwrap();
    text.push_str(&format!("\n[shield]\nregion = \"newyork\"\nlisten = \"{tier}\"\n"));
    std::fs::write(&world, text).unwrap();
    let mut up = Up::start(cdn().arg("up").arg("--world").arg(&world).arg("--quiet").stdout(Stdio::piped()));
    let lines = wait_for_up(&mut up.0);
    assert!(
        lines.iter().any(|l| l.contains("shield tier") && l.contains(&tier) && l.contains("seoul, tokyo fill from it")),
        "{lines:?}"
    );
    let needle = world.display().to_string();
    assert_eq!(processes_with(&needle).len(), 6, "cdn up + origin + 3 edges (one of them the shield) + geodns");

    let (s, cs) = get(&format!("http://{}:8080/obj/7", slot.ip(1)));
    assert_eq!(s, 200);
    assert!(cs.starts_with("edge-newyork; fwd=uri-miss") && cs.contains(", edge-seoul; fwd=uri-miss"), "{cs}");
    let (s, cs) = get(&format!("http://{}:8080/obj/7", slot.ip(2)));
    assert_eq!(s, 200);
    assert!(cs.starts_with("edge-newyork; hit") && cs.contains(", edge-tokyo; fwd=uri-miss"), "{cs}");
    let origin_stats = format!("http://{}:9080/stats", slot.ip(0));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let v: serde_json::Value = rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        c.get(&origin_stats).send().await.unwrap().json().await.unwrap()
    });
    assert_eq!(v["requests"].as_u64(), Some(1), "one origin request for two edges' misses: {v}");

    let status = up.terminate();
    assert!(status.success(), "{status}");
    assert_eq!(wait_gone(&needle, PATIENCE), Vec::<u32>::new(), "children left behind");
}

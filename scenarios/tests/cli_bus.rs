//! `cdn up --bus` and `cdn purge --bus` with the real binaries and a real
//! nats-server on a free loopback port (docs/bus.md): the edges join the
//! bus, register in the membership bucket and take purges from the log;
//! `cdn purge` reports their acknowledgements from the bus, names an edge
//! that does not acknowledge, and fails loudly when the bus is not there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Slot, test_world};
use scenarios::purge::Report;

fn cdn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cdn"))
}

/// A running `cdn up`, killed when dropped.
struct Up(Child);

impl Up {
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.0.wait().unwrap()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for `cdn up --bus`'s line naming the control bus.
fn wait_for_up(child: &mut Child) -> Vec<String> {
    common::wait_for_line(child, "Control bus:")
}

async fn cache_status(url: &str) -> String {
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let status = r.headers().get("cache-status").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    // Read the body to its end: a miss streams through (its head leaves
    // before the fill completes), and the fill is stored before its last
    // byte, so only a client that read it all may expect a hit next.
    r.bytes().await.unwrap();
    status
}

/// `cdn purge --world W <args> --json` → (exit code, report or stderr).
async fn cdn_purge(world: &std::path::Path, args: &[&str]) -> (i32, Result<Report, String>) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cdn"))
        .arg("purge")
        .arg("--world")
        .arg(world)
        .args(args)
        .arg("--json")
        .env_remove(bus::URL_ENV)
        .output()
        .await
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str(&stdout) {
        Ok(r) => (code, Ok(r)),
        Err(_) => (code, Err(String::from_utf8_lossy(&out.stderr).to_string())),
    }
}

async fn members(url: &str) -> Vec<bus::members::Member> {
    let b = bus::Bus::connect(url, "demo", "test", &bus::ConnectOptions::default()).await.unwrap();
    bus::members::Membership::open(&b).await.unwrap().list().await.unwrap()
}

const EDGES: [&str; 3] = ["seoul", "tokyo", "newyork"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_up_joins_the_bus_and_cdn_purge_goes_through_it() {
    let Some(nats) = bus::testing::server("cdn_up_joins_the_bus_and_cdn_purge_goes_through_it").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let mut up = Up(cdn()
        .arg("up")
        .arg("--world")
        .arg(&world)
        .args(["--quiet", "--no-dashboard", "--bus", &nats.url()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap());
    let lines = wait_for_up(&mut up.0);
    assert!(lines.iter().any(|l| l.contains(&format!("Control bus: {}", nats.url()))), "{lines:?}");

    // Every edge registered itself, in step.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = members(&nats.url()).await;
        if EDGES.iter().all(|e| m.iter().any(|x| x.node == *e && x.status == "up")) {
            break;
        }
        assert!(Instant::now() < deadline, "not every edge registered: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // An edge the world file does not list joins through the bus (in this
    // process: the world's origin, region tokyo).
    let free = |ip: &str| std::net::TcpListener::bind(format!("{ip}:0")).unwrap().local_addr().unwrap();
    let tokyo = slot.ip(2).to_string();
    let (public, admin) = (free(&tokyo), free(&tokyo));
    let origin = std::net::SocketAddr::new(slot.ip(0).into(), 8080);
    let mut c = edge::Config::standalone(origin, public, admin, dir.path().join("osaka"));
    c.name = "osaka".into();
    c.region = Some("tokyo".into());
    c.bus = Some(edge::control::BusConfig::new(&nats.url(), "demo"));
    let osaka = edge::spawn(c).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !members(&nats.url()).await.iter().any(|m| m.node == "osaka" && m.status == "up") {
        assert!(Instant::now() < deadline, "osaka never registered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cdn"))
        .args(["stats", "--json", "--bus", &nats.url(), "--world"])
        .arg(&world)
        .output()
        .await
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = stats["edges"].as_array().unwrap().iter().filter_map(|e| e["edge"].as_str()).collect();
    assert_eq!(names, ["seoul", "tokyo", "newyork", "osaka"], "cdn stats finds the joined edge: {stats}");
    let via: Vec<&str> = stats["edges"].as_array().unwrap().iter().filter_map(|e| e["via"].as_str()).collect();
    assert_eq!(via, ["bus"; 4], "every edge's counters read from the bus: {stats}");

    let mut urls: Vec<String> = (1..=3).map(|k| format!("http://{}:8080/obj/1", slot.ip(k))).collect();
    urls.push(osaka.url("/obj/1"));
    for u in &urls {
        cache_status(u).await;
        assert!(cache_status(u).await.contains("; hit;"), "{u} cached");
    }
    let (code, report) = cdn_purge(&world, &["--bus", &nats.url(), "--url", "/obj/1"]).await;
    let report = report.unwrap();
    assert_eq!(code, 0, "{report:?}");
    assert!(report.complete() && report.acknowledged == 4 && report.all_acknowledged_ms.is_some(), "{report:?}");
    assert_eq!(report.edges[3].edge, "osaka", "a member the world file does not list is expected too");
    let seqs: Vec<Option<u64>> = report.edges.iter().map(|e| e.response.as_ref().and_then(|r| r.bus_seq)).collect();
    assert!(seqs.iter().all(|s| s.is_some() && *s == seqs[0]), "one purge in the log, applied by each: {seqs:?}");
    assert!(report.edges.iter().all(|e| e.response.as_ref().is_some_and(|r| r.objects == 1)), "{report:?}");
    for u in &urls {
        assert!(cache_status(u).await.contains("fwd=uri-miss"), "{u} purged");
    }

    // A world file naming an edge that is not running: named, exit 1.
    let text = std::fs::read_to_string(&world).unwrap()
        + &format!(
            "\n[[edge]]\nname = \"ghost\"\nregion = \"tokyo\"\nlisten = \"{tokyo}:8081\"\nadmin = \"{tokyo}:9081\"\n"
        );
    let ghost_world = dir.path().join("ghost.toml");
    std::fs::write(&ghost_world, text).unwrap();
    let (code, report) =
        cdn_purge(&ghost_world, &["--bus", &nats.url(), "--tag", "obj-1", "--deadline", "800ms"]).await;
    let report = report.unwrap();
    assert_eq!((code, report.failed.clone(), report.acknowledged), (1, vec!["ghost".to_string()], 4), "{report:?}");
    let ghost = report.edges.iter().find(|e| e.edge == "ghost").unwrap();
    assert!(ghost.error.as_deref().is_some_and(|e| e.contains("no acknowledgement")), "{ghost:?}");

    // A clean stop takes the records out at once (before their TTL of 5 s).
    osaka.shutdown().await.unwrap();
    assert!(up.terminate().success());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let m = members(&nats.url()).await;
        if m.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "records left after a clean stop: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn cdn_purge_with_no_bus_there_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, out) = cdn_purge(&world, &["--bus", &format!("nats://127.0.0.1:{port}"), "--all"]).await;
    let err = out.unwrap_err();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("NOT published"), "{err}");
}

/// A `cdn` component (`cdn geodns …`, `cdn edge …`) started as a child,
/// once it has printed its ready line; killed when dropped.
struct Component(Child);

impl Component {
    fn start(args: &[&str]) -> Component {
        let mut child = cdn()
            .args(args)
            .env_remove(bus::URL_ENV)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Killed and reaped on drop, whichever way this ends.
        let mut c = Component(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200))
                && l.starts_with("cdnlab-ready")
            {
                return c;
            }
            if let Some(s) = c.0.try_wait().unwrap() {
                panic!("cdn {args:?} exited early ({s})");
            }
        }
        c.kill9();
        panic!("cdn {args:?} never ready");
    }

    fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The A answer for `cdn.test` from the geodns at `server`, asked from
/// source address `from` (GeoDNS locates the client by it): a plain DNS
/// query over UDP, decoded by hand.
async fn dig_a(server: std::net::SocketAddr, from: std::net::Ipv4Addr) -> Option<std::net::Ipv4Addr> {
    let sock = tokio::net::UdpSocket::bind((from, 0)).await.unwrap();
    let id: u16 = rand_id();
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in ["cdn", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]); // root; A; IN
    sock.send_to(&q, server).await.unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await.ok()?.ok()?;
    let r = &buf[..n];
    // Same id, NOERROR, one answer; the answer (name pointer, type, class,
    // TTL, length 4) ends the message: its last 4 bytes are the address.
    if r.len() < q.len() + 16 || r[..2] != id.to_be_bytes() || r[3] & 0x0F != 0 || r[6..8] != [0, 1] {
        return None;
    }
    Some(std::net::Ipv4Addr::new(r[n - 4], r[n - 3], r[n - 2], r[n - 1]))
}

fn rand_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish() as u16
}

/// Polls until GeoDNS answers `want` to a client at `from`.
async fn until_answer(server: std::net::SocketAddr, from: std::net::Ipv4Addr, want: std::net::Ipv4Addr, why: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = dig_a(server, from).await;
        if got == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{why}: GeoDNS answers {got:?} to {from}, not {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GeoDNS's `/edges` row of `edge`.
async fn geodns_row(http: std::net::SocketAddr, edge: &str) -> Option<serde_json::Value> {
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let v: serde_json::Value = c.get(format!("http://{http}/edges")).send().await.ok()?.json().await.ok()?;
    v["edges"].as_array()?.iter().find(|e| e["edge"] == edge).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geodns_answers_an_edge_that_joins_through_the_bus_and_drops_it_when_it_dies() {
    let Some(nats) =
        bus::testing::server("geodns_answers_an_edge_that_joins_through_the_bus_and_drops_it_when_it_dies").await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let w = world.to_str().unwrap();
    let url = nats.url();
    // GeoDNS following the bus, and the Seoul edge; Tokyo's and New York's
    // edges (in the world file) are not running, so health sends a Tokyo
    // client to Seoul.
    let _geodns = Component::start(&["geodns", "--world", w, "--bus", &url]);
    let _seoul = Component::start(&["edge", "--world", w, "--name", "seoul", "--bus", &url]);
    let (dns, http) =
        (std::net::SocketAddr::new(slot.ip(0).into(), 1053), std::net::SocketAddr::new(slot.ip(0).into(), 8053));
    let tokyo_client = std::net::Ipv4Addr::new(127, 2, 77, 9);
    until_answer(dns, tokyo_client, slot.ip(1), "only seoul is up").await;

    // An edge the world file does not list starts in Tokyo (another
    // address: another host as far as GeoDNS can tell) and joins through
    // the bus: Tokyo's clients are sent to it, without editing a file.
    let osaka_ip = slot.ip(4).to_string();
    let (public, admin) = (format!("{osaka_ip}:8080"), format!("{osaka_ip}:9080"));
    let osaka_dir = dir.path().join("osaka");
    let mut osaka = Component::start(&[
        "edge",
        "--world",
        w,
        "--name",
        "osaka",
        "--region",
        "tokyo",
        "--listen",
        &public,
        "--admin",
        &admin,
        "--data-dir",
        osaka_dir.to_str().unwrap(),
        "--bus",
        &url,
    ]);
    until_answer(dns, tokyo_client, slot.ip(4), "osaka joined in tokyo").await;
    let row = geodns_row(http, "osaka").await.unwrap();
    assert_eq!(
        (row["source"].as_str(), row["present"].as_bool(), row["state"].as_str()),
        (Some("bus"), Some(true), Some("up")),
        "{row}"
    );
    // A Seoul client still goes to Seoul.
    assert_eq!(dig_a(dns, std::net::Ipv4Addr::new(127, 1, 77, 9)).await, Some(slot.ip(1)));

    // It dies without a word (kill -9): its record expires (TTL 5 s) and
    // GeoDNS drops it; Tokyo's clients go back to Seoul.
    osaka.kill9();
    until_answer(dns, tokyo_client, slot.ip(1), "osaka died").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = geodns_row(http, "osaka").await.unwrap();
        if row["present"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "osaka's expired record never dropped it: {row}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn cdn_purge_authenticates_to_the_bus_with_the_token_from_its_environment() {
    if !bus::server::installed() {
        let _ = bus::testing::server("cdn_purge_authenticates_to_the_bus_with_the_token_from_its_environment").await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = bus::server::ServerConfig {
        auth: Some(bus::auth::Auth::token("cli-s3cret")),
        ..bus::server::ServerConfig::ephemeral(&dir.path().join("nats"))
    };
    let nats = bus::server::NatsServer::start(config).await.unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let purge = |token: Option<&str>| {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_cdn"));
        c.arg("purge").arg("--world").arg(&world);
        c.args(["--bus", &nats.url(), "--all", "--deadline", "300ms"]).env_remove(bus::URL_ENV);
        for v in [bus::auth::TOKEN_ENV, bus::auth::USER_ENV, bus::auth::PASSWORD_ENV, bus::auth::CREDS_ENV] {
            c.env_remove(v);
        }
        if let Some(t) = token {
            c.env(bus::auth::TOKEN_ENV, t);
        }
        c.output()
    };
    let out = purge(None).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("authorization violation") && err.contains("NOT published"), "{err}");
    // With the token: published (no edge runs, so none acknowledges: exit 1).
    let out = purge(Some("cli-s3cret")).await.unwrap();
    let (stdout, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(!err.contains("NOT published") && !format!("{stdout}{err}").contains("cli-s3cret"), "{stdout}{err}");
    let b = bus::Bus::connect(
        &nats.url(),
        "demo",
        "test",
        &bus::ConnectOptions { auth: Some(bus::auth::Auth::token("cli-s3cret")), ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(bus::purge::PurgeLog::open(&b).await.unwrap().position().await.unwrap().last, 1, "one purge in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_split_over_two_cdn_up_with_only_meets_through_the_bus() {
    let Some(nats) = bus::testing::server("a_world_split_over_two_cdn_up_with_only_meets_through_the_bus").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let world = test_world(dir.path(), &slot);
    let up = |only: &str| {
        Up(cdn()
            .arg("up")
            .arg("--world")
            .arg(&world)
            .args(["--quiet", "--no-dashboard", "--bus", &nats.url(), "--only", only])
            .env_remove(bus::URL_ENV)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap())
    };
    let mut here = up("origin,geodns,edge:seoul");
    let lines = wait_for_up(&mut here.0);
    assert!(lines.iter().any(|l| l.contains("edge tokyo") && l.contains("(not here: --only)")), "{lines:?}");
    let mut there = up("edge:tokyo,edge:newyork");
    let lines = wait_for_up(&mut there.0);
    assert!(lines.iter().any(|l| l.starts_with("  origin") && l.contains("(not here: --only)")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("  edge tokyo") && !l.contains("not here")), "{lines:?}");

    // One purge, acknowledged by the edges of both.
    for k in 1..=3 {
        cache_status(&format!("http://{}:8080/obj/3", slot.ip(k))).await;
    }
    let (code, report) = cdn_purge(&world, &["--bus", &nats.url(), "--url", "/obj/3"]).await;
    let report = report.unwrap();
    assert_eq!((code, report.acknowledged), (0, 3), "{report:?}");
    for k in 1..=3 {
        let cs = cache_status(&format!("http://{}:8080/obj/3", slot.ip(k))).await;
        assert!(cs.contains("fwd=uri-miss"), "edge {k}: {cs}");
    }
    // GeoDNS (in the first) answers Tokyo's clients with the Tokyo edge (in the second).
    let dns = std::net::SocketAddr::new(slot.ip(0).into(), 1053);
    until_answer(dns, std::net::Ipv4Addr::new(127, 2, 77, 9), slot.ip(2), "tokyo from the other cdn up").await;
    assert!(there.terminate().success());
    assert!(here.terminate().success());
}

//! `cdn purge` with the real binary against a world of in-process edges (and
//! one edge as a child process, to kill it): every kind, hard and soft, on
//! all edges; purges under load; unreachable, late and refusing edges; a
//! crash right after a purge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use scenarios::purge::Report;
use tempfile::TempDir;
use tests::net::Reserved;
use tests::{Reply, ScriptedOrigin};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const TOKEN: &str = "cdnlab-demo-token";
const NAMES: [&str; 3] = ["seoul", "tokyo", "newyork"];

/// An origin and three edges in this process, and a world file naming them.
struct Lab {
    dir: TempDir,
    world: PathBuf,
    origin: origin::Handle,
    edges: Vec<Option<edge::Handle>>,
    addrs: Vec<(SocketAddr, SocketAddr)>,
    /// Ports of the edges that are down (and of GeoDNS, which no test here
    /// starts): held, so nothing answers there and nothing else takes them.
    _reserved: Vec<Arc<Reserved>>,
}

fn edge_config(
    lab_dir: &std::path::Path,
    name: &str,
    origin: SocketAddr,
    public: SocketAddr,
    admin: SocketAddr,
) -> edge::Config {
    let mut c = edge::Config::standalone(origin, public, admin, lab_dir.join(name));
    c.name = name.into();
    c.admin_token = Some(TOKEN.into());
    c.store.memory = 8 << 20;
    c.store.disk = 16 << 20;
    c.store.max_object = 1 << 20;
    c
}

/// `up[k]`: whether edge k runs (a stopped edge keeps its addresses,
/// reserved, so nothing answers there until [`Lab::start`]).
async fn lab(up: [bool; 3]) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let w = world::World::demo().unwrap();
    let mut oc = origin::Config::from_world(&w);
    oc.admin_token = None;
    oc.catalog.size.median = world::ByteSize::kib(2);
    oc.catalog.size.max = world::ByteSize::kib(64);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let origin = origin::spawn(oc, any, any).await.unwrap();
    let mut reserved = Vec::new();
    let mut hold = || {
        let r = Arc::new(tests::net::reserve());
        reserved.push(r.clone());
        r.addr()
    };
    let (dns, geo_http) = (hold(), hold());
    let mut text = world::load::DEMO_TEXT
        .replace("127.0.0.1:8080", &origin.public.to_string())
        .replace("127.0.0.1:9080", &origin.admin.to_string())
        .replace("127.0.0.1:1053", &dns.to_string())
        .replace("127.0.0.1:8053", &geo_http.to_string());
    let mut edges = Vec::new();
    let mut addrs = Vec::new();
    for (k, name) in NAMES.iter().enumerate() {
        let (edge, public, admin) = if up[k] {
            let e = edge::spawn(edge_config(dir.path(), name, origin.public, any, any)).await.unwrap();
            let (p, a) = (e.public, e.admin);
            (Some(e), p, a)
        } else {
            (None, hold(), hold())
        };
        text = text
            .replace(&format!("127.{}.0.1:8080", k + 1), &public.to_string())
            .replace(&format!("127.{}.0.1:9080", k + 1), &admin.to_string());
        edges.push(edge);
        addrs.push((public, admin));
    }
    let world = dir.path().join("world.toml");
    std::fs::write(&world, text).unwrap();
    Lab { dir, world, origin, edges, addrs, _reserved: reserved }
}

impl Lab {
    fn url(&self, k: usize, path: &str) -> String {
        format!("http://{}{path}", self.addrs[k].0)
    }

    /// Starts edge k (which was down).
    async fn start(&mut self, k: usize) {
        let (public, admin) = self.addrs[k];
        let c = edge_config(self.dir.path(), NAMES[k], self.origin.public, public, admin);
        self.edges[k] = Some(edge::spawn(c).await.unwrap());
    }

    /// `cdn purge --world … <args>` → (exit code, stdout). Unless `args`
    /// set one, the deadline is generous: edges that answer are waited for
    /// however busy the machine (the CLI returns once all acknowledged).
    async fn cdn_purge(&self, args: &[&str]) -> (i32, String) {
        let patient: &[&str] = if args.contains(&"--deadline") { &[] } else { &["--deadline", "60s"] };
        let out = Command::new(env!("CARGO_BIN_EXE_cdn"))
            .arg("purge")
            .arg("--world")
            .arg(&self.world)
            .args(args)
            .args(patient)
            .env_remove(world::load::ADMIN_TOKEN_ENV)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty() || out.status.code() != Some(0), "stderr: {stderr}");
        (out.status.code().unwrap_or(-1), stdout)
    }

    async fn cdn_purge_json(&self, args: &[&str]) -> (i32, Report) {
        let mut a = args.to_vec();
        a.push("--json");
        let (code, out) = self.cdn_purge(&a).await;
        (code, serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")))
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(tests::PATIENCE).build().unwrap()
}

async fn cache_status(url: &str) -> String {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let status = r.headers().get("cache-status").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    // Read the body to its end: a miss streams through (its head leaves
    // before the fill completes), and the fill is stored before its last
    // byte, so only a client that read it all may expect a hit next.
    r.bytes().await.unwrap();
    status
}

const OBJECTS: [&str; 4] = ["/obj/1", "/obj/2", "/obj/12", "/obj/102"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_purge_reaches_every_edge_for_each_kind_hard_and_soft() {
    let lab = lab([true; 3]).await;
    // object N carries the surrogate keys obj-N and group-(N % 100)
    for (args, affected) in [
        (vec!["--url", "/obj/1"], vec!["/obj/1"]),
        (vec!["--prefix", "/obj/1"], vec!["/obj/1", "/obj/12", "/obj/102"]),
        (vec!["--tag", "group-2"], vec!["/obj/2", "/obj/102"]),
        (vec!["--all"], OBJECTS.to_vec()),
    ] {
        for soft in [false, true] {
            for k in 0..3 {
                for p in OBJECTS {
                    cache_status(&lab.url(k, p)).await;
                    assert!(cache_status(&lab.url(k, p)).await.contains("; hit;"), "{p} cached on edge {k}");
                }
            }
            let mut a = args.clone();
            if soft {
                a.push("--soft");
            }
            let (code, report) = lab.cdn_purge_json(&a).await;
            assert_eq!(code, 0, "{a:?}: {report:?}");
            assert!(report.complete() && report.acknowledged == 3 && report.all_acknowledged_ms.is_some());
            assert_eq!(report.soft, soft);
            for e in &report.edges {
                let r = e.response.as_ref().unwrap();
                assert_eq!(r.objects, affected.len() as u64, "{a:?} on {}: {r:?}", e.edge);
                assert!(e.ok && e.error.is_none() && e.latency_ms > 0.0, "{e:?}");
            }
            for k in 0..3 {
                for p in OBJECTS {
                    let cs = cache_status(&lab.url(k, p)).await;
                    if !affected.contains(&p) {
                        assert!(cs.contains("; hit;"), "{a:?}: {p} untouched on edge {k}: {cs}");
                    } else if soft {
                        assert!(cs.contains("fwd=stale") && cs.contains("fwd-status=304"), "{a:?}: {p} on {k}: {cs}");
                    } else {
                        assert!(cs.contains("fwd=uri-miss"), "{a:?}: {p} on {k}: {cs}");
                    }
                }
            }
        }
    }
    let (code, text) = lab.cdn_purge(&["--tag", "obj-1"]).await;
    assert_eq!(code, 0);
    assert!(text.starts_with("purge tag obj-1 (hard) on 3 edges of world `demo`"), "{text}");
    for name in NAMES {
        assert!(text.lines().any(|l| l.trim_start().starts_with(name) && l.contains(" ok ")), "{name}: {text}");
    }
    assert!(text.contains("all 3 edges acknowledged; the last after"), "{text}");
}

/// `cdn purge` names its purge and says when it started: every edge's
/// record of it (`GET /purge/recent`) carries both, and the dashboard's
/// timeline (`dashboard::purges::Observed`, fed those very records) shows
/// it as one purge with every edge's acknowledgement counted from the
/// CLI's start, as the CLI counts its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cdn_purge_is_on_the_timeline_with_every_edge_timed_from_its_start() {
    use scenarios::dashboard::purges::Observed;
    use scenarios::events::{Journal, Source};
    let lab = lab([true; 3]).await;
    let (code, report) = lab.cdn_purge_json(&["--url", "/obj/1"]).await;
    assert_eq!(code, 0, "{report:?}");
    let (id, sent) = (report.id.clone().expect("the CLI names its purge"), report.sent_unix_ms.unwrap());
    let mut answers = Vec::new();
    for (_, admin) in &lab.addrs {
        let r: api::edge::RecentPurges =
            client().get(format!("http://{admin}/purge/recent")).send().await.unwrap().json().await.unwrap();
        let mine: Vec<_> = r.purges.iter().filter(|p| p.id.as_deref() == Some(id.as_str())).collect();
        assert_eq!(mine.len(), 1, "{id} at {}: {r:?}", r.edge);
        assert_eq!(mine[0].sent_unix_ms, Some(sent), "{r:?}");
        answers.push(Some(r));
    }
    let j = Journal::default();
    let mut o = Observed::new(NAMES.iter().map(|n| n.to_string()).zip(lab.addrs.iter().map(|a| a.1)).collect());
    o.take(&answers);
    o.settle(false, edge::purge::recent::wall_ms(), &j);
    let entries: Vec<_> = j.changed_since(0).0.into_iter().filter(|e| e.kind == "purge").collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!((e.source, e.at_unix_ms, e.done, e.ok), (Source::Observed, sent, true, true), "{e:?}");
    let shown = e.purge.as_ref().unwrap();
    assert_eq!(shown.id.as_deref(), Some(id.as_str()));
    for (k, name) in NAMES.iter().enumerate() {
        let rec = answers[k].as_ref().unwrap().purges.iter().find(|p| p.id.as_deref() == Some(id.as_str())).unwrap();
        let bar = shown.edges.iter().find(|r| r.edge == *name).unwrap();
        assert!(bar.ok, "{bar:?}");
        assert_eq!(bar.latency_ms, (rec.acked_unix_ms - sent) as f64, "{name}: from the CLI's start");
        // the edge acknowledged before its answer reached the CLI (ms on the page, finer in the CLI)
        let cli = report.edges.iter().find(|r| r.edge == *name).unwrap().latency_ms;
        assert!(bar.latency_ms <= cli.ceil() + 1.0, "{name}: page {} ms, CLI {cli} ms", bar.latency_ms);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_edge_makes_cdn_purge_fail_and_name_it() {
    let lab = lab([true, false, true]).await;
    // Deadlines long enough for the live edges on a busy machine.
    let (code, text) = lab.cdn_purge(&["--url", "/obj/1", "--deadline", "3s"]).await;
    assert_eq!(code, 1, "{text}");
    let tokyo = text.lines().find(|l| l.trim_start().starts_with("tokyo")).unwrap();
    assert!(tokyo.contains("FAILED") && tokyo.contains("connection refused") && tokyo.contains("attempts"), "{tokyo}");
    assert!(text.contains("2 of 3 edges acknowledged; NOT acknowledged: tokyo"), "{text}");
    let (code, report) = lab.cdn_purge_json(&["--all", "--deadline", "3s"]).await;
    assert_eq!(code, 1);
    assert_eq!((report.failed, report.acknowledged, report.all_acknowledged_ms), (vec!["tokyo".to_string()], 2, None));
    let t = &report.edges[1];
    assert!(!t.ok && t.attempts > 1 && t.latency_ms >= 3000.0, "retried until the deadline: {t:?}");
    for e in [&report.edges[0], &report.edges[2]] {
        assert!(e.ok && e.latency_ms < t.latency_ms, "{} did not wait for tokyo: {e:?}", e.edge);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_that_comes_up_late_is_retried_and_a_refusal_is_not() {
    let mut lab = lab([true, true, false]).await;
    // Until it is up, newyork's admin address answers 503 (a stand-in on
    // the reserved port), so the test sees the CLI try before the edge is up.
    let mut starting = ScriptedOrigin::start_on(lab.addrs[2].1).await;
    starting.set("/purge", Reply::status(503, "starting"));
    let world = lab.world.clone();
    let cli = tokio::spawn(async move {
        Command::new(env!("CARGO_BIN_EXE_cdn"))
            .args(["purge", "--prefix", "/", "--json", "--deadline", "60s", "--world"])
            .arg(world)
            .env_remove(world::load::ADMIN_TOKEN_ENV)
            .output()
            .await
            .unwrap()
    });
    starting.wait_for("/purge", 1).await;
    starting.stop().await;
    lab.start(2).await;
    let out = cli.await.unwrap();
    let report: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:?}");
    assert!(report.edges[2].attempts > 1, "newyork answered after retries: {:?}", report.edges[2]);

    // a wrong token is a refusal: reported at once, not retried
    let text = std::fs::read_to_string(&lab.world).unwrap().replace(TOKEN, "not-the-token");
    std::fs::write(&lab.world, text).unwrap();
    let (code, report) = lab.cdn_purge_json(&["--all"]).await;
    assert_eq!((code, report.acknowledged), (1, 0));
    for e in &report.edges {
        assert_eq!(e.attempts, 1);
        assert!(e.error.as_deref().unwrap().contains("HTTP 401: wrong admin token"), "{e:?}");
    }
    // a bad URL never leaves the machine
    let (code, _) = lab.cdn_purge(&["--url", "no-slash"]).await;
    assert_eq!(code, 2);
}

/// When each request was sent, and the ETag it got.
type Log = Vec<(Instant, String)>;

/// ETags of the responses to requests sent after `t` (and before `until`).
fn sent_between(log: &Mutex<Log>, t: Instant, until: Option<Instant>) -> Vec<String> {
    log.lock().iter().filter(|(s, _)| *s > t && until.is_none_or(|u| *s < u)).map(|(_, e)| e.clone()).collect()
}

/// Waits until more than 20 requests sent after `t` were answered.
async fn enough(log: &Mutex<Log>, t: Instant) {
    tests::eventually("20 responses", || async { sent_between(log, t, None).len() > 20 }).await;
}

/// Clients keep fetching one object on every edge while the origin bumps it
/// and `cdn purge` purges it. Every request sent after `cdn purge` returned
/// must get the new ETag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_no_response_after_the_acknowledgement_carries_the_old_etag() {
    let lab = lab([true; 3]).await;
    let path = "/obj/5";
    let stop = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Log>> = Arc::default();
    let mut clients = Vec::new();
    for k in 0..3 {
        for _ in 0..2 {
            let (url, stop, log, c) = (lab.url(k, path), stop.clone(), log.clone(), client());
            clients.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let r = c.get(&url).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    let etag = r.headers()["etag"].to_str().unwrap().to_string();
                    r.bytes().await.unwrap();
                    log.lock().push((sent, etag));
                }
            }));
        }
    }
    let sent_after = |t: Instant, until: Option<Instant>| sent_between(&log, t, until);
    let mut rounds = Vec::new();
    for soft in [false, true] {
        enough(&log, Instant::now()).await; // the clients are busy
        let old = client().get(lab.url(0, path)).send().await.unwrap().headers()["etag"].to_str().unwrap().to_string();
        lab.origin.bump(origin::Bump::Path(path.into())).unwrap();
        let bumped = Instant::now();
        // The edges still serve what they stored: the bump alone changes nothing.
        tests::eventually("stale content served after the bump", || async {
            sent_after(bumped, None).iter().filter(|e| **e == old).count() >= 6
        })
        .await;
        let mut args = vec!["--url", path];
        if soft {
            args.push("--soft");
        }
        let (code, report) = lab.cdn_purge_json(&args).await;
        let acked = Instant::now();
        assert_eq!(code, 0, "{report:?}");
        rounds.push((old, acked));
    }
    enough(&log, rounds[1].1).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    for (i, (old, acked)) in rounds.iter().enumerate() {
        let next = rounds.get(i + 1).map(|r| r.1);
        let after = sent_after(*acked, next);
        let old_after = after.iter().filter(|e| *e == old).count();
        assert!(after.len() > 20, "round {i}: enough requests after the ack ({})", after.len());
        assert_eq!(old_after, 0, "round {i}: {old_after} of {} responses after the ack had the old ETag", after.len());
    }
}

/// An edge killed (SIGKILL) right after acknowledging purges comes back
/// without the purged objects: the hard one misses, the soft one revalidates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_killed_right_after_a_purge_does_not_bring_the_object_back() {
    let lab = lab([false; 3]).await;
    let data = lab.dir.path().join("child");
    let (public_port, admin_port) = (tests::net::reserve(), tests::net::reserve());
    let (public, admin) = (public_port.addr(), admin_port.addr());
    let start = || async {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cdn"))
            .args(["edge", "--origin", &format!("http://{}", lab.origin.public)])
            .args(["--listen", &public.to_string(), "--admin", &admin.to_string()])
            .args(["--memory", "8MiB", "--disk", "16MiB", "--max-object", "1MiB"])
            .arg("--data-dir")
            .arg(&data)
            .env(world::load::ADMIN_TOKEN_ENV, TOKEN)
            .env(runtime::shutdown::EXIT_WITH_PARENT_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(tests::PATIENCE, async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if l.starts_with("cdnlab-ready") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready.ok(), Some(true), "edge child did not come up");
        child
    };
    let url = |p: &str| format!("http://{public}{p}");
    let purge = |body: &'static str| async move {
        let r = client().post(format!("http://{admin}/purge")).bearer_auth(TOKEN).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
    };
    let mut child = start().await;
    for p in ["/obj/3", "/obj/4", "/obj/6"] {
        cache_status(&url(p)).await;
    }
    // Everything stored is on disk: a clean stop flushes it (rather than
    // hoping the background writer got there). Back up, the objects are in
    // memory again too, as before a stop.
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().await.unwrap().success());
    let mut child = start().await;
    for p in ["/obj/3", "/obj/4", "/obj/6"] {
        let cs = cache_status(&url(p)).await;
        assert!(cs.contains("; hit;") && cs.ends_with("detail=disk"), "{p} on disk: {cs}");
    }
    purge(r#"{"url": "/obj/3", "soft": true}"#).await;
    purge(r#"{"url": "/obj/4"}"#).await;
    child.kill().await.unwrap(); // SIGKILL: no flush, no snapshot
    let _child = start().await;
    let cs3 = cache_status(&url("/obj/3")).await;
    let cs4 = cache_status(&url("/obj/4")).await;
    let cs6 = cache_status(&url("/obj/6")).await;
    // Soft: the stale copy the purge stored may or may not have reached the
    // disk before the kill. If not, either the fresh copy is still there and
    // the journal replay re-stales it (a revalidation), or its removal got
    // there first and the object is fetched again. Never a fresh hit.
    assert!(
        !cs3.contains("; hit") && (cs3.contains("fwd=stale") || cs3.contains("fwd=uri-miss")),
        "soft-purged: revalidated (or fetched again), not a fresh hit: {cs3}"
    );
    assert!(cs4.contains("fwd=uri-miss"), "hard-purged: a miss: {cs4}");
    assert!(cs6.contains("; hit;") && cs6.ends_with("detail=disk"), "untouched: from disk: {cs6}");
}

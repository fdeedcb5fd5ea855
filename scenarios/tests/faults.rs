//! The fault suite (issue 12): a real `cdn edge` process under load is
//! killed with SIGKILL and restarted, has bits flipped in its data files
//! between restarts, sees its origin reset connections, and runs on a disk
//! that fills up and frees (a size-limited tmpfs: that part needs root).
//! After each fault, three invariants:
//!
//! - zero corrupt bodies: every 200 is checked against its `Content-Digest`;
//! - zero responses older than an acknowledged purge: objects are bumped at
//!   the origin, then purged; a request sent after the purge was answered
//!   must get the new version (its ETag says which);
//! - the edge serves again within seconds (the time is measured).
//!
//! Load and rounds are bounded; `CDNLAB_FAULT_ROUNDS` scales the rounds and
//! `scripts/fault-suite.sh` runs this file with more of them and prints the
//! summaries. Each fault prints one summary line (`--nocapture` shows them);
//! `CDNLAB_FAULT_DEBUG=1` also prints the first failed answers of each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

const TOKEN: &str = "fault-suite-token";
/// Objects the load asks for (`/obj/0` …).
const OBJECTS: u64 = 300;
/// Concurrent clients.
const CLIENTS: usize = 6;
/// How long an edge may take to serve again after a fault.
const RECOVERY: Duration = Duration::from_secs(10);

fn rounds() -> usize {
    std::env::var("CDNLAB_FAULT_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

/// A port on 127.0.0.1 kept for the edge (reserved, see `tests::net`), so
/// a restarted edge finds its addresses free and nothing else takes them
/// while it is down.
fn port() -> tests::net::Reserved {
    tests::net::reserve()
}

/// A `cdn edge` child process, killed (and reaped) when dropped.
struct EdgeProc {
    child: Child,
}

impl Drop for EdgeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the edge under test is started (again and again).
struct EdgeSpec {
    origin: SocketAddr,
    public: SocketAddr,
    admin: SocketAddr,
    dir: PathBuf,
    disk: &'static str,
}

impl EdgeSpec {
    /// The edge's log (every start appends), beside its data directory.
    fn log_path(&self) -> PathBuf {
        self.dir.with_extension("log")
    }

    fn log(&self) -> std::fs::File {
        std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap()
    }

    /// Starts the edge and waits for its ready line (the time it took).
    fn start(&self) -> (EdgeProc, Duration) {
        let t = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_cdn"))
            .args(["edge", "--origin", &format!("http://{}", self.origin)])
            .args(["--listen", &self.public.to_string(), "--admin", &self.admin.to_string()])
            .args(["--memory", "2MiB", "--disk", self.disk, "--max-object", "256KiB"])
            .arg("--data-dir")
            .arg(&self.dir)
            .env(world::load::ADMIN_TOKEN_ENV, TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(self.log())
            .spawn()
            .unwrap();
        let mut p = EdgeProc { child };
        let mut out = BufReader::new(p.child.stdout.take().unwrap());
        loop {
            let mut l = String::new();
            if out.read_line(&mut l).unwrap() == 0 {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!("the edge exited before it was ready; its log ends:\n{}", tail.join("\n"));
            }
            if l.starts_with("cdnlab-ready ") {
                break;
            }
        }
        // Keep reading so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in out.lines() {});
        (p, t.elapsed())
    }
}

impl EdgeProc {
    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a clean stop: drain, flush, compact) and wait.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "the edge did not stop within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    corrupt: AtomicU64,
    stale: AtomicU64,
    notes: Mutex<Vec<String>>,
}

impl Tally {
    fn note(&self, s: String) {
        let mut n = self.notes.lock();
        if n.len() < 20 {
            n.push(s);
        }
    }
}

/// Clients asking the edge for objects until stopped, checking each answer.
struct Load {
    tally: Arc<Tally>,
    /// Per path: the least version a request sent now may get (set when a
    /// purge after a bump was answered).
    floor: Arc<Mutex<HashMap<String, u64>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(edge: SocketAddr) -> Load {
        let tally = Arc::new(Tally::default());
        let floor = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
        let tasks = (0..CLIENTS)
            .map(|i| {
                let (tally, floor, stop, http) = (tally.clone(), floor.clone(), stop.clone(), http.clone());
                tokio::spawn(async move {
                    let mut rng = world::rng::Rng::new(7 + i as u64);
                    while !stop.load(Ordering::Relaxed) {
                        let path = format!("/obj/{}", rng.below(OBJECTS));
                        let want = floor.lock().get(&path).copied().unwrap_or(0);
                        check(&http, edge, &path, want, &tally).await;
                    }
                })
            })
            .collect();
        Load { tally, floor, stop, tasks }
    }

    async fn finish(self) -> Arc<Tally> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        self.tally
    }

    /// Waits until at least `n` more answers came back.
    async fn answers(&self, n: u64) {
        let start = self.tally.ok.load(Ordering::Relaxed);
        let deadline = Instant::now() + tests::PATIENCE;
        while self.tally.ok.load(Ordering::Relaxed) < start + n {
            assert!(Instant::now() < deadline, "fewer than {n} answers in {:?}", tests::PATIENCE);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// One request: a 200 must match its Content-Digest and be at least
/// version `want`.
async fn check(http: &reqwest::Client, edge: SocketAddr, path: &str, want: u64, tally: &Tally) {
    let r = match http.get(format!("http://{edge}{path}")).send().await {
        Ok(r) => r,
        Err(_) => {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            return;
        }
    };
    if r.status() != 200 {
        tally.errors.fetch_add(1, Ordering::Relaxed);
        if std::env::var("CDNLAB_FAULT_DEBUG").is_ok() {
            let s = r.status();
            let cs = r.headers().get("cache-status").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            tally.note(format!(
                "{path}: {s} {cs} {}",
                r.text().await.unwrap_or_default().chars().take(100).collect::<String>()
            ));
        }
        return;
    }
    let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (digest, etag, cs) = (h("content-digest"), h("etag"), h("cache-status"));
    let Ok(body) = r.bytes().await else {
        tally.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    if digest.is_empty() || tests::content_digest(&body) != digest {
        tally.corrupt.fetch_add(1, Ordering::Relaxed);
        tally.note(format!("corrupt body for {path} ({} bytes, {cs})", body.len()));
        return;
    }
    let version = scenarios::driver::etag_version(&etag).unwrap_or(0);
    if version < want {
        tally.stale.fetch_add(1, Ordering::Relaxed);
        tally.note(format!("{path}: version {version} after a purge acknowledged at version {want} ({cs})"));
        return;
    }
    tally.ok.fetch_add(1, Ordering::Relaxed);
}

/// The origin and the edge's admin API.
struct Lab {
    origin: origin::Handle,
    http: reqwest::Client,
    spec: EdgeSpec,
    _ports: (tests::net::Reserved, tests::net::Reserved),
}

/// What a purge got.
#[derive(Debug, PartialEq)]
enum Purge {
    Persisted,
    NotPersisted,
}

impl Lab {
    async fn new(dir: PathBuf, disk: &'static str) -> Lab {
        let mut oc = origin::Config { admin_token: Some(TOKEN.into()), ..origin::Config::default() };
        oc.catalog.objects = 2 * OBJECTS; // the load asks for the first half only
        oc.catalog.size.median = world::ByteSize::kib(4);
        oc.catalog.size.max = world::ByteSize::kib(64);
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let origin = origin::spawn(oc, any, any).await.unwrap();
        let ports = (port(), port());
        let spec = EdgeSpec { origin: origin.public, public: ports.0.addr(), admin: ports.1.addr(), dir, disk };
        let http = reqwest::Client::builder().no_proxy().timeout(tests::PATIENCE).build().unwrap();
        Lab { origin, http, spec, _ports: ports }
    }

    /// Bumps `path` at the origin, purges it at the edge; on an answer the
    /// load's floor for it rises to the new version.
    async fn bump_and_purge(&self, load: &Load, path: &str) -> Purge {
        let v = self.origin.bump(origin::Bump::Path(path.into())).unwrap().version.unwrap();
        let r = self
            .http
            .post(format!("http://{}/purge", self.spec.admin))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "url": path }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        let got = match status {
            200 => Purge::Persisted,
            507 => Purge::NotPersisted,
            s => panic!("purge of {path}: {s} {body}"),
        };
        assert_eq!(body["persisted"].as_bool(), Some(got == Purge::Persisted), "{body}");
        load.floor.lock().insert(path.into(), v);
        got
    }

    async fn admin_get(&self, path: &str) -> String {
        self.http.get(format!("http://{}{path}", self.spec.admin)).send().await.unwrap().text().await.unwrap()
    }

    /// Polls until the edge answers a request again; the time it took.
    async fn serving(&self, since: Instant) -> Duration {
        let deadline = Instant::now() + RECOVERY;
        loop {
            if let Ok(r) = self.http.get(format!("http://{}/obj/0", self.spec.public)).send().await
                && r.status() == 200
            {
                return since.elapsed();
            }
            assert!(Instant::now() < deadline, "not serving {RECOVERY:?} after the fault");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn report(fault: &str, tally: &Tally, recovered: &[Duration]) {
    let worst = recovered.iter().max().copied().unwrap_or_default();
    println!(
        "fault suite: {fault}: {} answers checked, {} errors while faulty, {} corrupt, {} older than an acknowledged purge; \
         serving again within {:.0} ms (worst of {})",
        tally.ok.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        tally.corrupt.load(Ordering::Relaxed),
        tally.stale.load(Ordering::Relaxed),
        worst.as_secs_f64() * 1e3,
        recovered.len()
    );
    let notes = tally.notes.lock();
    if std::env::var("CDNLAB_FAULT_DEBUG").is_ok() {
        println!("  {notes:#?}");
    }
    assert_eq!(tally.corrupt.load(Ordering::Relaxed), 0, "{fault}: corrupt bodies: {notes:?}");
    assert_eq!(tally.stale.load(Ordering::Relaxed), 0, "{fault}: responses older than a purge: {notes:?}");
}

/// Flips `n` random bits in the edge's data files (not its lock or token):
/// the disk tier, the purge journal and its snapshot.
fn flip_bits(dir: &Path, n: usize, rng: &mut world::rng::Rng) -> usize {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                stack.push(p);
            } else if name != "LOCK" && name != "admin-token" && e.metadata().is_ok_and(|m| m.len() > 0) {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut per_file = vec![0usize; files.len()];
    for _ in 0..n {
        per_file[rng.below(files.len() as u64) as usize] += 1;
    }
    for (p, k) in files.iter().zip(per_file) {
        if k == 0 {
            continue;
        }
        let mut data = std::fs::read(p).unwrap();
        // Disk tier files are mostly empty: aim at the 4 KiB pages written.
        let written: Vec<usize> = (0..data.len())
            .step_by(4096)
            .filter(|i| data[*i..(*i + 4096).min(data.len())].iter().any(|b| *b != 0))
            .collect();
        for _ in 0..k {
            let base = if written.is_empty() { 0 } else { written[rng.below(written.len() as u64) as usize] };
            let at = (base + rng.below(4096) as usize).min(data.len() - 1);
            data[at] ^= 1 << rng.below(8);
        }
        std::fs::write(p, &data).unwrap();
    }
    n
}

/// Kill -9 under load right after acknowledged purges, bit flips between
/// restarts, an origin that resets every connection for a while.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_bit_flips_and_origin_resets_under_load() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::new(tmp.path().join("edge"), "16MiB").await;
    let (mut edge, _) = lab.spec.start();
    let load = Load::start(lab.spec.public);
    load.answers(200).await;

    // kill -9 right after purges, then restart.
    let mut recovered = Vec::new();
    for round in 0..3 * rounds() {
        for k in 0..3 {
            lab.bump_and_purge(&load, &format!("/obj/{}", (round * 3 + k) as u64 % OBJECTS)).await;
        }
        edge.kill9();
        let t = Instant::now();
        (edge, _) = lab.spec.start();
        recovered.push(lab.serving(t).await);
        load.answers(50).await;
    }
    let tally = load.finish().await;
    report("kill -9 and restart", &tally, &recovered);

    // Bit flips in the data files between a kill and the restart.
    let load = Load::start(lab.spec.public);
    load.answers(100).await;
    let mut rng = world::rng::Rng::new(12);
    let mut recovered = Vec::new();
    let (mut flipped, mut lost) = (0, 0);
    for round in 0..2 * rounds() {
        lab.bump_and_purge(&load, &format!("/obj/{}", 100 + round)).await;
        edge.kill9();
        flipped += flip_bits(&lab.spec.dir, 200, &mut rng);
        let t = Instant::now();
        (edge, _) = lab.spec.start();
        recovered.push(lab.serving(t).await);
        lost += usize::from(lab.admin_get("/healthz").await.contains("purge state not fully recovered"));
        load.answers(100).await;
    }
    let tally = load.finish().await;
    let what = format!(
        "{flipped} bits flipped in the data files ({lost} of {} restarts found the purge state damaged)",
        recovered.len()
    );
    report(&what, &tally, &recovered);

    // The origin resets every connection for a while.
    let load = Load::start(lab.spec.public);
    load.answers(50).await;
    let faults = format!("http://{}/faults", lab.origin.admin);
    let r = lab.http.post(&faults).bearer_auth(TOKEN).json(&serde_json::json!({"outage": "reset"})).send().await;
    assert_eq!(r.unwrap().status(), 200);
    let errors = load.tally.errors.load(Ordering::Relaxed);
    // Until the resets reach the clients (misses answered 502).
    let deadline = Instant::now() + tests::PATIENCE;
    while load.tally.errors.load(Ordering::Relaxed) <= errors {
        assert!(Instant::now() < deadline, "the resets never reached the clients");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    lab.bump_and_purge(&load, "/obj/200").await;
    let t = Instant::now();
    assert_eq!(lab.http.delete(&faults).bearer_auth(TOKEN).send().await.unwrap().status(), 200);
    let back = lab.serving(t).await;
    load.answers(100).await;
    let tally = load.finish().await;
    assert!(tally.errors.load(Ordering::Relaxed) > errors, "the resets reached the clients (misses got 502)");
    report("origin resetting connections", &tally, &[back]);
    assert!(edge.stop().success(), "a clean stop");
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A size-limited tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status();
        assert!(st.unwrap().success(), "mount tmpfs");
        Tmpfs { dir }
    }

    /// Fills what is left with a file (until ENOSPC); its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let p = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&p).unwrap();
        let chunk = vec![0xA5u8; 64 << 10];
        while f.write_all(&chunk).is_ok() {}
        while f.write_all(&chunk[..512]).is_ok() {}
        let _ = f.sync_all();
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// The disk fills up under load: purges still apply (and say when they are
/// not persisted), `/healthz` and `/metrics` say so, a kill -9 and a clean
/// stop on the full disk both leave an edge that starts, nothing purged
/// comes back; then the disk frees and the edge is healthy again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_up_and_frees() {
    if !is_root() {
        eprintln!("fault suite: a_disk_that_fills_up_and_frees SKIPPED: mounting a tmpfs needs root");
        return;
    }
    let fs = Tmpfs::mount("16m");
    let lab = Lab::new(fs.dir.path().join("edge"), "8MiB").await;
    let (edge, _) = lab.spec.start();
    let load = Load::start(lab.spec.public);
    load.answers(300).await;
    for k in 0..3 {
        lab.bump_and_purge(&load, &format!("/obj/{k}")).await;
    }
    let filler = fs.fill();
    // Purges until one cannot be persisted (the journal's last page fills
    // up first); each is applied either way, and checked by the load.
    let mut not_persisted = None;
    for k in 10..200 {
        if lab.bump_and_purge(&load, &format!("/obj/{k}")).await == Purge::NotPersisted {
            not_persisted = Some(k);
            break;
        }
    }
    let k = not_persisted.expect("a purge on the full disk is reported not persisted");
    load.answers(100).await;
    let health = lab.admin_get("/healthz").await;
    assert!(health.starts_with("degraded\n") && health.contains("No space left on device"), "{health}");
    assert!(health.contains("1 purge(s) applied but not persisted"), "{health}");
    let metrics = lab.admin_get("/metrics").await;
    let m = tests::prom::parse(&metrics).unwrap();
    assert_eq!(m.value("cdnlab_edge_disk_state", &[("edge", "edge"), ("state", "failing")]), 1.0, "{metrics}");
    assert!(m.value("cdnlab_edge_disk_write_errors_total", &[("edge", "edge"), ("kind", "journal")]) >= 1.0);
    // `cdn purge` names the edge that could not persist, and fails.
    let out = Command::new(env!("CARGO_BIN_EXE_cdn"))
        .args(["purge", "--url", "/obj/250", "--edge", &lab.spec.admin.to_string()])
        .env(world::load::ADMIN_TOKEN_ENV, TOKEN)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("NOT PERSISTED") && text.contains("No space left on device"), "{text}");

    // kill -9 on the full disk: it starts again, and /obj/{k} is not back.
    edge.kill9();
    let t = Instant::now();
    let (edge, _) = lab.spec.start();
    let mut recovered = vec![lab.serving(t).await];
    let health = lab.admin_get("/healthz").await;
    assert!(health.contains("purge state not fully recovered"), "{health}");
    load.answers(200).await;
    // A clean stop on the full disk (its snapshot cannot be written): it starts again.
    assert!(edge.stop().success());
    let t = Instant::now();
    let (edge, _) = lab.spec.start();
    recovered.push(lab.serving(t).await);
    load.answers(100).await;

    // The disk frees: healthy again within seconds.
    std::fs::remove_file(filler).unwrap();
    let t = Instant::now();
    loop {
        let h = lab.admin_get("/healthz").await;
        if h.starts_with("ok\n") {
            break;
        }
        assert!(t.elapsed() < tests::PATIENCE, "still degraded after the disk freed: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let healed = t.elapsed();
    lab.bump_and_purge(&load, &format!("/obj/{}", k + 1)).await;
    assert_eq!(lab.bump_and_purge(&load, "/obj/251").await, Purge::Persisted);
    load.answers(100).await;
    let tally = load.finish().await;
    println!("fault suite: the disk freed: healthy again after {:.1} s", healed.as_secs_f64());
    report("a disk that fills up and frees", &tally, &recovered);
    // The disk tier writes again: objects never asked for before (so not
    // held in memory from the full-disk time) are read from disk after a
    // restart (foyer's writer survived the full disk).
    let fresh: Vec<String> = (0..20).map(|i| format!("/obj/{}", OBJECTS + i)).collect();
    for p in &fresh {
        lab.http.get(format!("http://{}{p}", lab.spec.public)).send().await.unwrap().bytes().await.unwrap();
    }
    assert!(edge.stop().success());
    let (_edge, _) = lab.spec.start();
    let mut from_disk = 0;
    for p in &fresh {
        let r = lab.http.get(format!("http://{}{p}", lab.spec.public)).send().await.unwrap();
        let cs = r.headers().get("cache-status").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        from_disk += usize::from(cs.contains("; hit;") && cs.ends_with("detail=disk"));
    }
    assert_eq!(from_disk, 20, "objects stored after the disk freed, read back from disk after a restart");
}

/// A disk tier that cannot be reserved (larger than the free space) does
/// not run sparse, where foyer would stop writing once the filesystem
/// fills: the edge serves from memory and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_tier_larger_than_its_filesystem_runs_from_memory_and_says_why() {
    if !is_root() {
        eprintln!("fault suite: a_disk_tier_larger_than_its_filesystem… SKIPPED: mounting a tmpfs needs root");
        return;
    }
    let fs = Tmpfs::mount("8m");
    let lab = Lab::new(fs.dir.path().join("edge"), "16MiB").await;
    let (edge, _) = lab.spec.start();
    let load = Load::start(lab.spec.public);
    load.answers(100).await;
    lab.bump_and_purge(&load, "/obj/1").await;
    let health = lab.admin_get("/healthz").await;
    assert!(health.starts_with("degraded\n") && health.contains("disk tier off"), "{health}");
    assert!(health.contains("cannot reserve its space") && health.contains("No space left on device"), "{health}");
    let stats: serde_json::Value = serde_json::from_str(&lab.admin_get("/stats").await).unwrap();
    assert_eq!(stats["disk"]["state"], "off", "{stats}");
    load.answers(100).await;
    let tally = load.finish().await;
    report("a disk tier larger than its filesystem", &tally, &[]);
    assert!(edge.stop().success());
}

//! The dashboard in a real browser: Debian's Chromium driven through
//! chromedriver (WebDriver, with the `fantoccini` client), against the real
//! `cdn up` binary on generated worlds whose addresses collide with nothing
//! else (a claimed [`Slot`] each). What a user would check by looking: the page loads
//! with no console error, shows every node, shows the numbers `/stats`
//! says; a purge from the page reaches every edge; a wrong token is refused
//! visibly; killing an edge turns it red and GeoDNS (asked over real DNS)
//! moves its clients; fifty edges load fast and render quickly.
//!
//! `.ci/run` installs `chromium` and `chromium-driver`. Without
//! chromedriver on the PATH these tests fail in CI (`CI` set) or when
//! `CDNLAB_REQUIRE_BROWSER=1`, and are skipped with a message elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use serde_json::{Value, json};

mod common;
use common::{Slot, test_world};

const TOKEN: &str = "cdnlab-demo-token";

// ---------- worlds ----------

/// The demo world (three edges, the demo's client ranges) on the slot's
/// addresses.
fn demo_world(dir: &Path, slot: &Slot) -> PathBuf {
    let p = test_world(dir, slot);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(&format!("{}:8060", slot.ip(0))), "the demo world names its dashboard address");
    p
}

/// `n` regions spread over the globe, one small edge each, edge k on the
/// slot's address k (the origin, GeoDNS and the dashboard on address 0).
fn wide_world(dir: &Path, slot: &Slot, n: u8) -> PathBuf {
    let o = slot.ip(0);
    let mut t = format!(
        "name = \"wide\"\nadmin_token = \"{TOKEN}\"\n\n[origin]\nregion = \"r01\"\nlisten = \"{o}:8080\"\nadmin = \"{o}:9080\"\n\n\
         [edge_defaults]\nmemory = \"4MiB\"\ndisk = \"8MiB\"\nmax_object = \"256KiB\"\ndata_dir = \"{}/{{edge}}\"\n\n\
         [geodns]\ndns = \"{o}:1053\"\nhttp = \"{o}:8053\"\n\n[dashboard]\nlisten = \"{o}:8060\"\n",
        dir.display()
    );
    for k in 1..=n {
        let lat = -55.0 + ((k as u32 * 37) % 110) as f64;
        let lon = -175.0 + ((k as u32 * 73) % 350) as f64;
        let ip = slot.ip(k);
        t.push_str(&format!(
            "\n[[region]]\nname = \"r{k:02}\"\ncity = \"City {k:02}\"\nlat = {lat}\nlon = {lon}\nclients = \"127.{k}.0.0/16\"\n\n\
             [[edge]]\nname = \"e{k:02}\"\nregion = \"r{k:02}\"\nlisten = \"{ip}:8080\"\nadmin = \"{ip}:9080\"\n"
        ));
    }
    let p = dir.join("world.toml");
    std::fs::write(&p, t).unwrap();
    p
}

// ---------- processes ----------

/// A running `cdn up`: SIGTERM and a wait when dropped.
struct Up {
    child: Child,
    dashboard: String,
}

impl Up {
    fn start(world: &Path) -> Up {
        Up::start_with(world, &[])
    }

    /// `cdn up` with more arguments (`--origin URL`).
    fn start_with(world: &Path, more: &[&str]) -> Up {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cdn"))
            .args(["up", "--quiet", "--world"])
            .arg(world)
            .args(more)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut dashboard = None;
        let mut lines = Vec::new();
        loop {
            assert!(Instant::now() < deadline, "cdn up did not come up: {lines:?}");
            if let Some(s) = child.try_wait().unwrap() {
                panic!("cdn up exited ({s}): {lines:?}");
            }
            let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) else { continue };
            if let Some(rest) = l.trim_start().strip_prefix("dashboard") {
                dashboard = rest.split_whitespace().next().map(str::to_string);
            }
            let done = l.contains("Ctrl-C stops everything");
            lines.push(l);
            if done {
                break;
            }
        }
        let dashboard = dashboard.unwrap_or_else(|| panic!("no dashboard line in {lines:?}"));
        Up { child, dashboard }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on a free port, with a headless Chromium session.
struct Browser {
    driver: Child,
    client: Option<Client>,
    _profile: tempfile::TempDir,
}

fn chromedriver_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("chromedriver")).find(|p| p.is_file())
}

/// chromedriver, or `None` (after saying why) when it is not installed and
/// the browser is not required here.
fn chromedriver() -> Option<PathBuf> {
    let found = chromedriver_path();
    let required = std::env::var_os("CI").is_some() || std::env::var_os("CDNLAB_REQUIRE_BROWSER").is_some();
    if found.is_none() && required {
        panic!("chromedriver not found: `apt-get install chromium chromium-driver` (.ci/run does)");
    }
    if found.is_none() {
        eprintln!("SKIPPED: chromedriver not installed (apt-get install chromium chromium-driver)");
    }
    found
}

/// Starts chromedriver on a port the kernel picks (`--port=0`; it names
/// the port) in its own process group, so the browsers it starts go with
/// it even when a failed assertion leaves no chance to close the session.
/// `None` (after printing its output) when it exits before it listens:
/// given port 0 it takes a free IPv4 port and then wants the same port on
/// IPv6, which something else may hold; another try gets another port.
fn spawn_driver(driver_path: &Path) -> Option<(Child, u16)> {
    let mut driver = Command::new(driver_path)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for out in [
        Box::new(driver.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(driver.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line); // and keep draining, so it never blocks on a full pipe
            }
        });
    }
    drop(tx);
    let mut said = Vec::new();
    loop {
        match rx.recv_timeout(tests::PATIENCE) {
            Ok(l) => {
                if let Some(p) = l.strip_prefix("ChromeDriver was started successfully on port ") {
                    return Some((driver, p.trim_end_matches('.').parse().unwrap()));
                }
                said.push(l);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let status = driver.wait().unwrap();
                eprintln!("chromedriver exited ({status}) before it listened:\n{}", said.join("\n"));
                return None;
            }
            Err(e) => panic!("chromedriver did not say on which port it listens ({e}): {said:?}"),
        }
    }
}

impl Browser {
    async fn start(driver_path: &Path) -> Browser {
        let (driver, port) = (0..5)
            .find_map(|_| spawn_driver(driver_path))
            .expect("chromedriver exited before it listened, five times (its output is above)");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let deadline = Instant::now() + tests::PATIENCE;
        while http.get(format!("{url}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1400,1400", format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        Browser { driver, client: Some(client), _profile: profile }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Console messages at level SEVERE (errors) since the last call.
    async fn console_errors(&self) -> Vec<String> {
        let v = self.c().issue_cmd(BrowserLog).await.expect("chromedriver's browser log");
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    async fn text(&self, css: &str) -> String {
        match self.c().find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.c().execute(script, vec![]).await.unwrap()
    }

    async fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.driver.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.wait();
    }
}

/// chromedriver's `POST /session/{id}/se/log` (Chrome's console, with
/// `goog:loggingPrefs`): not part of W3C WebDriver, so not in fantoccini.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

// ---------- helpers ----------

/// Polls `f` until it returns `Some`, up to `secs` seconds and never less
/// than [`tests::PATIENCE`] (a busy machine must not fail a correct page).
/// A bar of the purge timeline: edge, acknowledged (`true`/`false`), tooltip.
type Bar = (String, String, String);

async fn until<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let limit = Duration::from_secs(secs).max(tests::PATIENCE);
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(tests::PATIENCE).build().unwrap()
}

async fn stats(admin: SocketAddr) -> edge::admin::Stats {
    http().get(format!("http://{admin}/stats")).send().await.unwrap().json().await.unwrap()
}

/// Whether the edge at `public` holds `path` (`only-if-cached`: 504 when not).
async fn cached(public: SocketAddr, path: &str) -> bool {
    let r =
        http().get(format!("http://{public}{path}")).header("cache-control", "only-if-cached").send().await.unwrap();
    r.status() == 200
}

/// The A record GeoDNS answers a client at `client` (real DNS over UDP).
async fn dns_a(server: SocketAddr, client: IpAddr, zone: &str) -> Option<IpAddr> {
    let sock = tokio::net::UdpSocket::bind(SocketAddr::new(client, 0)).await.unwrap();
    let mut m = Message::query();
    m.metadata.id = 4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(zone).unwrap(), RecordType::A));
    sock.send_to(&m.to_vec().unwrap(), server).await.unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await.ok()?.ok()?;
    let r = Message::from_vec(&buf[..n]).ok()?;
    r.answers.iter().find_map(|rec| match &rec.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        _ => None,
    })
}

async fn open(b: &Browser, up: &Up) {
    b.c().goto(&up.dashboard).await.unwrap();
    until(20, "the first data on the page", || async {
        let r = b.js("return window.__dash && window.__dash.initAt > 0").await;
        r.as_bool().filter(|x| *x)
    })
    .await;
}

async fn use_token(b: &Browser, token: &str) -> String {
    // An earlier answer must not be taken for this one.
    b.js("document.querySelector('#token-msg').textContent = ''; return 1").await;
    let input = b.c().find(Locator::Id("token")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(token).await.unwrap();
    b.c().find(Locator::Id("token-go")).await.unwrap().click().await.unwrap();
    until(10, "an answer to the token", || async {
        let t = b.text("#token-msg").await;
        (!t.is_empty()).then_some(t)
    })
    .await
}

fn world_of(path: &Path) -> world::World {
    world::World::load(path).unwrap()
}

// ---------- tests ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_loads_clean_shows_every_node_and_the_numbers_of_stats() {
    let Some(driver) = chromedriver() else { return };
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let wf = demo_world(dir.path(), &slot);
    let w = world_of(&wf);
    let up = Up::start(&wf);
    // Some traffic first: misses then hits, so the numbers are not all zero.
    for i in 0..30 {
        for e in &w.edges {
            let r = http().get(format!("http://{}/obj/{}", e.listen, i % 7)).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await;
        }
    }
    let b = Browser::start(&driver).await;
    open(&b, &up).await;

    // Every node of the world is on the map, and in the table.
    let on_map = b.js("return [...document.querySelectorAll('#map [data-node]')].map(e => e.dataset.node)").await;
    let mut on_map: Vec<String> = serde_json::from_value(on_map).unwrap();
    on_map.sort();
    let mut want: Vec<String> = w.edges.iter().map(|e| format!("edge:{}", e.name)).collect();
    want.extend(["origin".to_string(), "geodns".to_string()]);
    want.sort();
    assert_eq!(on_map, want);
    let rows = b.js("return document.querySelectorAll('#nodes tbody tr[data-node]').length").await;
    assert_eq!(rows.as_u64(), Some(want.len() as u64));

    // The numbers match /stats (read now; the page may take one update).
    let mut expect = Vec::new();
    for e in &w.edges {
        let s = stats(e.admin).await;
        assert!(s.requests.total >= 30, "{}: {}", e.name, s.requests.total);
        expect.push((e.name.clone(), s));
    }
    let total: u64 = expect.iter().map(|(_, s)| s.requests.total).sum();
    until(3, "the page to show what /stats says", || async {
        for (name, s) in &expect {
            let row = format!("#nodes tr[data-node=\"edge:{name}\"]");
            let requests = b.text(&format!("{row} [data-field=requests]")).await.replace(',', "");
            let hit = b.text(&format!("{row} [data-field=hit]")).await;
            let byte_hit = b.text(&format!("{row} [data-field=byte_hit]")).await;
            if requests != s.requests.total.to_string()
                || hit != format!("{:.1}%", s.hit_ratio * 100.0)
                || byte_hit != format!("{:.1}%", s.byte_hit_ratio * 100.0)
            {
                return None;
            }
        }
        let t = b.text("#t-requests").await.replace(',', "");
        (t == total.to_string()).then_some(())
    })
    .await;
    // Every node is up, and shown green.
    for id in &want {
        let h = b.js(&format!("return document.querySelector('#map [data-node=\"{id}\"]').dataset.health")).await;
        assert_eq!(h, "up", "{id}");
    }
    let fill =
        b.js("return getComputedStyle(document.querySelector('#map [data-node=\"edge:seoul\"] .shape')).fill").await;
    assert_eq!(fill, "rgb(46, 157, 91)");

    // Several ticks later, still no console error at all.
    let ticks = b.js("return window.__dash.ticks").await.as_u64().unwrap();
    until(10, "two more ticks", || async {
        (b.js("return window.__dash.ticks").await.as_u64().unwrap() >= ticks + 2).then_some(())
    })
    .await;
    assert_eq!(b.console_errors().await, Vec::<String>::new());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_from_the_page_reaches_every_edge_and_a_wrong_token_is_refused() {
    let Some(driver) = chromedriver() else { return };
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let wf = demo_world(dir.path(), &slot);
    let w = world_of(&wf);
    let up = Up::start(&wf);
    for e in &w.edges {
        http().get(format!("http://{}/obj/5", e.listen)).send().await.unwrap().bytes().await.unwrap();
        assert!(cached(e.listen, "/obj/5").await, "{} holds /obj/5", e.name);
    }
    let b = Browser::start(&driver).await;
    open(&b, &up).await;

    // A wrong token is refused, visibly, and does nothing.
    let said = use_token(&b, "not-the-token").await;
    assert!(said.contains("Refused") && said.contains("wrong admin token"), "{said}");
    b.js("sessionStorage.setItem('cdnlab-admin-token', 'still-wrong'); return 1").await;
    b.c().find(Locator::Id("purge-value")).await.unwrap().send_keys("/obj/5").await.unwrap();
    b.c().find(Locator::Id("purge-go")).await.unwrap().click().await.unwrap();
    let said = until(10, "the refusal", || async {
        let t = b.text("#control-msg").await;
        t.starts_with("Refused").then_some(t)
    })
    .await;
    assert!(said.contains("wrong admin token"), "{said}");
    for e in &w.edges {
        assert!(cached(e.listen, "/obj/5").await, "{} still holds /obj/5 after a refused purge", e.name);
    }

    // The right token, then the purge.
    let said = use_token(&b, TOKEN).await;
    assert!(said.contains("Token accepted"), "{said}");
    b.c().find(Locator::Id("purge-go")).await.unwrap().click().await.unwrap();
    let said = until(15, "the purge's answer", || async {
        let t = b.text("#control-msg").await;
        t.starts_with("Purged").then_some(t)
    })
    .await;
    assert!(said.contains(&format!("all {} edges acknowledged", w.edges.len())), "{said}");
    for e in &w.edges {
        assert!(!cached(e.listen, "/obj/5").await, "{} no longer holds /obj/5", e.name);
    }
    // The purge timeline shows every edge's acknowledgement.
    let acks = until(5, "the purge in the timeline", || async {
        let v = b
            .js("return [...document.querySelectorAll('#purges li .bar')].map(e => [e.dataset.edge, e.dataset.ok])")
            .await;
        let v: Vec<(String, String)> = serde_json::from_value(v).unwrap();
        (v.len() == w.edges.len()).then_some(v)
    })
    .await;
    for e in &w.edges {
        assert!(acks.contains(&(e.name.clone(), "true".into())), "{acks:?}");
    }

    // A purge the page did not send (`cdn purge`, the CLI) is on the
    // timeline too, under the CLI's id, with every edge's acknowledgement
    // timed from the CLI's start; the page's own purge is there once (not
    // again as seen at the edges).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdn"))
        .args(["purge", "--world"])
        .arg(&wf)
        .args(["--prefix", "/obj/", "--deadline", "60s", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "cdn purge: {}", String::from_utf8_lossy(&out.stderr));
    let cli: scenarios::purge::Report = serde_json::from_slice(&out.stdout).unwrap();
    let cli_id = cli.id.expect("the CLI names its purge");
    let seen = until(10, "the CLI's purge in the timeline with every edge", || async {
        let v = b
            .js("return [...document.querySelectorAll('#purges li[data-source=observed]')].map(li => \
                 [li.dataset.purgeId, li.firstChild.textContent, \
                  [...li.querySelectorAll('.bar')].map(e => [e.dataset.edge, e.dataset.ok, e.title])])")
            .await;
        let v: Vec<(String, String, Vec<Bar>)> = serde_json::from_value(v).unwrap();
        v.into_iter().find(|(_, _, bars)| bars.iter().filter(|(_, ok, _)| ok == "true").count() == w.edges.len())
    })
    .await;
    assert_eq!(seen.0, cli_id, "{seen:?}");
    assert!(seen.1.contains("observed: prefix /obj/") && seen.1.contains("of its sender's start"), "{seen:?}");
    assert!(seen.2.iter().all(|(_, _, title)| title.ends_with("ms after the sender's start")), "{seen:?}");
    let mut edges: Vec<String> = seen.2.into_iter().map(|(e, _, _)| e).collect();
    edges.sort();
    let mut want: Vec<String> = w.edges.iter().map(|e| e.name.clone()).collect();
    want.sort();
    assert_eq!(edges, want);
    let n = |src: &'static str| {
        let b = &b;
        async move { b.js(&format!("return document.querySelectorAll('#purges li[data-source={src}]').length")).await }
    };
    assert_eq!(n("dashboard").await.as_u64(), Some(1));
    assert_eq!(n("observed").await.as_u64(), Some(1), "the page's purge was not shown again as seen at the edges");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_edge_from_the_page_turns_it_red_and_geodns_moves_its_clients() {
    let Some(driver) = chromedriver() else { return };
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let wf = demo_world(dir.path(), &slot);
    let w = world_of(&wf);
    let up = Up::start(&wf);
    let tokyo = w.edge("tokyo").unwrap().listen.ip();
    let seoul = w.edge("seoul").unwrap().listen.ip();
    let client: IpAddr = "127.2.0.9".parse().unwrap(); // in Tokyo's client range
    let answer = until(20, "GeoDNS to answer Tokyo's edge", || async {
        dns_a(w.geodns.dns, client, &w.geodns.zone).await.filter(|a| *a == tokyo)
    })
    .await;
    assert_eq!(answer, tokyo);
    let b = Browser::start(&driver).await;
    open(&b, &up).await;
    assert!(use_token(&b, TOKEN).await.contains("Token accepted"));

    b.c().find(Locator::Id("edge-name")).await.unwrap().select_by_value("tokyo").await.unwrap();
    b.c().find(Locator::Id("edge-kill")).await.unwrap().click().await.unwrap();
    let said = until(15, "the kill's answer", || async {
        let t = b.text("#control-msg").await;
        t.contains("killed").then_some(t)
    })
    .await;
    assert!(said.contains("Edge tokyo"), "{said}");
    // Red on the map …
    until(10, "tokyo drawn down", || async {
        let h = b.js("return document.querySelector('#map [data-node=\"edge:tokyo\"]').dataset.health").await;
        (h == "down").then_some(())
    })
    .await;
    let fill =
        b.js("return getComputedStyle(document.querySelector('#map [data-node=\"edge:tokyo\"] .shape')).fill").await;
    assert_eq!(fill, "rgb(211, 52, 58)");
    // … and GeoDNS sends Tokyo's clients to Seoul, over real DNS.
    let moved = until(30, "GeoDNS to move Tokyo's clients", || async {
        dns_a(w.geodns.dns, client, &w.geodns.zone).await.filter(|a| *a != tokyo)
    })
    .await;
    assert_eq!(moved, seoul);
    // The page says so too.
    until(10, "the page to show the move", || async {
        let t = b.text("#routes tr[data-region=tokyo] [data-field=to]").await;
        (t == "seoul (moved)").then_some(())
    })
    .await;
    let journal = b.text("#journal").await;
    assert!(journal.contains("geodns-failover tokyo clients: tokyo → seoul"), "{journal}");
    // The answers by client region and edge: Tokyo's clients were answered
    // Tokyo, then Seoul; the page shows GeoDNS's own counts (its /stats).
    let by: Value = http().get(format!("http://{}/stats", w.geodns.http)).send().await.unwrap().json().await.unwrap();
    let (home, away) =
        (by["answers_by_region"]["tokyo"]["tokyo"].as_u64(), by["answers_by_region"]["tokyo"]["seoul"].as_u64());
    assert!(home >= Some(1) && away >= Some(1), "{by}");
    until(5, "the page's matrix to show them", || async {
        let cell = |e: &str| format!("#geo-matrix tr[data-region=tokyo] td[data-answer=\"edge:{e}\"]");
        let (h, a) = (b.text(&cell("tokyo")).await.replace(',', ""), b.text(&cell("seoul")).await.replace(',', ""));
        (h.parse::<u64>().ok() >= home && a.parse::<u64>().ok() >= away).then_some(())
    })
    .await;

    // Restart from the page: green again, and the clients go home.
    b.c().find(Locator::Id("edge-restart")).await.unwrap().click().await.unwrap();
    until(60, "tokyo up again", || async {
        let h = b.js("return document.querySelector('#map [data-node=\"edge:tokyo\"]').dataset.health").await;
        (h == "up").then_some(())
    })
    .await;
    until(30, "GeoDNS to answer Tokyo's edge again", || async {
        dns_a(w.geodns.dns, client, &w.geodns.zone).await.filter(|a| *a == tokyo)
    })
    .await;
    assert_eq!(b.console_errors().await, Vec::<String>::new());
    b.close().await;
}

/// Your own origin (`cdn up --origin URL`): shown as yours; up while it
/// answers well, degraded once it answers the edges 5xx (judged from the
/// edges' `/stats`, no request of the dashboard's own), down when it stops
/// accepting connections; bump and outage (cdnlab's origin only) are off
/// on the page with the reason, and the API refuses them (409, reason).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn your_own_origin_is_shown_as_yours_degraded_on_5xx_down_when_gone_and_its_controls_are_off() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(driver) = chromedriver() else { return };
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let wf = demo_world(dir.path(), &slot);
    let w = world_of(&wf);
    // Your origin: any HTTP server, with no cdnlab admin API; it answers
    // 503 once `failing` is set.
    let listener = tokio::net::TcpListener::bind((slot.ip(7), 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let failing = Arc::new(AtomicBool::new(false));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let f = failing.clone();
    let app = axum::Router::new().fallback(move || {
        let f = f.clone();
        async move {
            if f.load(Ordering::Relaxed) {
                (axum::http::StatusCode::SERVICE_UNAVAILABLE, "your origin is failing")
            } else {
                (axum::http::StatusCode::OK, "hello from your origin")
            }
        }
    });
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let up = Up::start_with(&wf, &["--origin", &url]);
    let b = Browser::start(&driver).await;
    open(&b, &up).await;
    let health = || async { b.js("return document.querySelector('#map [data-node=\"origin\"]').dataset.health").await };
    until(5, "your origin drawn up", || async { (health().await == "up").then_some(()) }).await;
    let label = b.text("#map [data-node=\"origin\"] text").await;
    assert_eq!(label, "origin (yours)");
    let name = b.text("#nodes tr[data-node=\"origin\"] [data-field=name]").await;
    assert_eq!(name, "origin (yours)");

    // Bump and outage: off on the page, with the reason shown …
    let off = b
        .js("return ['#bump-path', '#bump-go', '#outage-mode', '#outage-start', '#outage-stop'].map(s => document.querySelector(s).disabled)")
        .await;
    assert_eq!(off, json!([true, true, true, true, true]));
    let note = b.text("#origin-note").await;
    assert!(note.contains("Bump and origin outage are off") && note.contains(&url), "{note:?}");
    assert_eq!(b.text("#purge-go").await, "Purge");
    let purge_on = b.js("return document.querySelector('#purge-go').disabled").await;
    assert_eq!(purge_on, json!(false), "purges still go to the edges");
    // … and refused by the API with a 4xx and the reason, token or not.
    for (method, path, body) in [
        (reqwest::Method::POST, "/api/bump", json!({ "path": "/x" })),
        (reqwest::Method::POST, "/api/origin/outage", json!({ "mode": "reset" })),
        (reqwest::Method::DELETE, "/api/origin/outage", json!(null)),
    ] {
        let r = http()
            .request(method.clone(), format!("{}{path}", up.dashboard.trim_end_matches('/')))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{method} {path}");
        let why: Value = r.json().await.unwrap();
        let why = why["error"].as_str().unwrap_or_default().to_string();
        assert!(why.contains("your origin") && why.contains(&url), "{method} {path}: {why}");
    }

    // It answers the edges 503: degraded, saying why.
    failing.store(true, Ordering::Relaxed);
    let seoul = w.edge("seoul").unwrap().listen;
    for _ in 0..3 {
        let r = http().get(format!("http://{seoul}/page")).send().await.unwrap();
        assert_eq!(r.status(), 503, "your origin's 503 passed through");
    }
    let why = until(10, "your origin drawn degraded, saying why", || async {
        let why = b
            .js("return document.querySelector('#nodes tr[data-node=\"origin\"] [data-field=health] span').title")
            .await;
        let why = why.as_str().unwrap_or_default().to_string();
        (health().await == "degraded" && why.contains("3 of the 3 requests")).then_some(why)
    })
    .await;
    assert!(why.contains("the edges sent it") && why.contains("5xx"), "{why:?}");
    // Good answers again: up, once the bad ones have left the window.
    failing.store(false, Ordering::Relaxed);
    http().get(format!("http://{seoul}/page")).send().await.unwrap();
    until(30, "your origin drawn up again", || async { (health().await == "up").then_some(()) }).await;

    // It stops answering: down.
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    until(10, "your origin drawn down", || async { (health().await == "down").then_some(()) }).await;
    assert_eq!(b.console_errors().await, Vec::<String>::new());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_edges_load_in_well_under_a_second_and_render_quickly() {
    let Some(driver) = chromedriver() else { return };
    let dir = tempfile::tempdir().unwrap();
    let slot = Slot::claim();
    let wf = wide_world(dir.path(), &slot, 50);
    let up = Up::start(&wf);
    let b = Browser::start(&driver).await;
    // The budgets (load under 1 s, first data under 1.5 s) are what the
    // page does on an idle machine; this one may be busy (other test
    // binaries, compilers, a busy loop), which can stall any one load for
    // longer. So the page is loaded up to five times and one load must
    // keep both: a page that is slow every time still fails.
    let mut loads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        open(&b, &up).await;
        let loaded = t.elapsed();
        let nav = b
            .js("const n = performance.getEntriesByType('navigation')[0]; return [n.domContentLoadedEventEnd, n.loadEventEnd, window.__dash.initAt]")
            .await;
        let nav: Vec<f64> = serde_json::from_value(nav).unwrap();
        eprintln!(
            "50 edges: DOMContentLoaded {:.0} ms, load {:.0} ms, first data drawn {:.0} ms (WebDriver round trip included: {loaded:?})",
            nav[0], nav[1], nav[2]
        );
        loads.push((nav[1], nav[2]));
        if nav[1] < 1000.0 && nav[2] < 1500.0 {
            break;
        }
    }
    assert!(
        loads.iter().any(|&(load, first)| load < 1000.0 && first < 1500.0),
        "no load within 1 s with the first data drawn within 1.5 s (ms, load and first data): {loads:?}"
    );
    let edges = b.js("return document.querySelectorAll('#map [data-role=edge]').length").await;
    assert_eq!(edges.as_u64(), Some(50));
    let ticks = b.js("return window.__dash.ticks").await.as_u64().unwrap();
    until(20, "five more ticks", || async {
        (b.js("return window.__dash.ticks").await.as_u64().unwrap() >= ticks + 5).then_some(())
    })
    .await;
    // Rendering: the median tick, for the same reason (a tick the machine
    // stalled is slow; a page whose rendering is slow is slow every tick).
    let mut render: Vec<f64> = serde_json::from_value(b.js("return window.__dash.renderMs").await).unwrap();
    render.sort_by(f64::total_cmp);
    let (median, worst) = (render[render.len() / 2], render[render.len() - 1]);
    eprintln!("50 edges: {} ticks rendered, median {median:.1} ms, worst {worst:.1} ms", render.len());
    assert!(median < 100.0, "the median tick took {median} ms to render (all: {render:?})");
    assert_eq!(b.console_errors().await, Vec::<String>::new());
    b.close().await;
}

//! `cdn purge (--url U | --prefix P | --tag T | --all) [--soft] [--world FILE | --edge ADMIN [--data-dir DIR]] [--json]`:
//! sends one purge to every edge of a world (or to standalone edges named
//! by their admin address) at once and reports, per edge, whether and when
//! it acknowledged, and when the last one did.
//!
//! Each edge gets `POST /purge` on its admin address with a bearer token:
//! `CDNLAB_ADMIN_TOKEN` if set, else the world's `admin_token`, else the
//! token the edge keeps in its data directory (`{data_dir}/admin-token`,
//! generated on its first start; `--data-dir` for a standalone edge).
//! Transient failures (connection refused or reset, timeouts, 5xx, 429)
//! are retried with exponential backoff until the deadline; refusals (401,
//! 403, 400) are not, nor is 507: the edge applied the purge in memory but
//! could not persist it (a full disk), which the report says. An
//! acknowledgement means the edge applied the purge to every later request
//! and made it durable. The exit status is 0 when every edge acknowledged,
//! 1 when some did not (they are listed, with why), 2 when the command
//! itself is wrong (bad flags, bad world).
//!
//! With `--bus URL` (or `CDNLAB_BUS`) the purge goes into the world's
//! purge log on the control bus instead ([`through_bus`], docs/bus.md):
//! published once, applied by every edge that follows the log (those down
//! now when they return, before serving anything it covers), and the report
//! is made of the edges' acknowledgements on the bus. The exit status is
//! the same; a bus that cannot be reached is an error (status 2): nothing
//! was published.
//!
//! [`fan_out`] is the library entry point (scenario events and the purge
//! benchmark use it too).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api::edge::PurgeRequest;
use api::edge::PurgeResponse;
use clap::{ArgGroup, Parser};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use world::World;
use world::units::parse_duration;

/// Flags of `cdn purge`.
#[derive(Debug, Parser)]
#[command(group(ArgGroup::new("what").required(true).args(["url", "prefix", "tag", "all"])))]
#[command(group(ArgGroup::new("where").args(["world", "edge"])))]
pub struct PurgeArgs {
    /// One URL, every Vary variant of it: `/obj/7?x=1`.
    #[arg(long)]
    pub url: Option<String>,
    /// Every cached key starting with this: `/img/`.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Every response carrying this surrogate key (`Surrogate-Key` / `Cache-Tag`).
    #[arg(long)]
    pub tag: Option<String>,
    /// Everything.
    #[arg(long)]
    pub all: bool,
    /// Mark stale instead of removing: the next request revalidates.
    #[arg(long)]
    pub soft: bool,
    /// World file (default: the built-in demo world).
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// A standalone edge's admin address instead of a world's edges
    /// (repeat for several), e.g. 127.0.0.1:10100.
    #[arg(long, value_name = "ADMIN")]
    pub edge: Vec<SocketAddr>,
    /// The standalone edges' data directory, where they keep admin-token.
    #[arg(long, value_name = "DIR", requires = "edge")]
    pub data_dir: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// In a world with origin replicas, send the purge without the
    /// primary's position: edges may then refill the purged object from
    /// a replica that has not seen the write yet (to see the race).
    #[arg(long)]
    pub no_origin_seq: bool,
    /// Give up on edges that have not acknowledged after this long.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub deadline: Duration,
    /// Publish the purge to the world's control bus (`nats://HOST:PORT`,
    /// the one `cdn up --bus` started or joined) instead of sending it to
    /// each edge; acknowledgements come back through the bus.
    #[arg(long, env = bus::URL_ENV, value_name = "URL", conflicts_with = "edge")]
    pub bus: Option<String>,
}

impl PurgeArgs {
    /// The purge request these flags describe.
    pub fn request(&self) -> PurgeRequest {
        PurgeRequest {
            url: self.url.clone(),
            prefix: self.prefix.clone(),
            tag: self.tag.clone(),
            all: self.all.then_some(true),
            soft: self.soft,
            ..Default::default()
        }
    }
}

/// An edge to purge.
#[derive(Debug, Clone)]
pub struct EdgeTarget {
    /// Its name.
    pub name: String,
    /// Its admin address.
    pub admin: SocketAddr,
    /// Its own token (from its data directory), when not the fan-out's.
    pub token: Option<String>,
    /// Why it has no token, when none could be found.
    pub no_token: Option<String>,
    /// An upper tier (the world's origin shield): purged before the
    /// others ([`fan_out`]).
    pub upper_tier: bool,
}

impl EdgeTarget {
    /// An edge at `admin` using the fan-out's token.
    pub fn new(name: &str, admin: SocketAddr) -> EdgeTarget {
        EdgeTarget { name: name.into(), admin, token: None, no_token: None, upper_tier: false }
    }

    /// Every edge of a world (every node of a PoP, in its place:
    /// [`World::cache_servers`]), each with its token: `CDNLAB_ADMIN_TOKEN`
    /// or the world's, else the one in its data directory.
    pub fn of_world(w: &World) -> Vec<EdgeTarget> {
        let shared = w.admin_token();
        w.cache_servers()
            .iter()
            .map(|e| {
                let t = match &shared {
                    Some(t) => EdgeTarget { token: Some(t.clone()), ..EdgeTarget::new(&e.name, e.admin) },
                    None => EdgeTarget::with_token_in(&e.name, e.admin, &w.data_dir_of(e)),
                };
                EdgeTarget { upper_tier: w.is_shield(e), ..t }
            })
            .collect()
    }

    /// An edge whose token is in `{data_dir}/admin-token`.
    pub fn with_token_in(name: &str, admin: SocketAddr, data_dir: &std::path::Path) -> EdgeTarget {
        let path = runtime::auth::token_file(data_dir);
        let mut t = EdgeTarget::new(name, admin);
        match runtime::auth::read_token_file(&path) {
            Ok(Some(tok)) => t.token = Some(tok),
            Ok(None) => {
                t.no_token = Some(format!(
                    "no admin token: {} does not exist (and neither CDNLAB_ADMIN_TOKEN nor a world admin_token is set)",
                    path.display()
                ))
            }
            Err(e) => t.no_token = Some(format!("no admin token: {}: {e}", path.display())),
        }
        t
    }
}

/// How to fan out.
#[derive(Debug, Clone)]
pub struct FanOut {
    /// Bearer token.
    pub token: Option<String>,
    /// Overall deadline, from the start of the fan-out.
    pub deadline: Duration,
    /// Longest wait for one attempt.
    pub attempt_timeout: Duration,
    /// First backoff (doubled per retry, capped at 500 ms).
    pub backoff: Duration,
}

impl Default for FanOut {
    fn default() -> Self {
        FanOut {
            token: None,
            deadline: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(2),
            backoff: Duration::from_millis(25),
        }
    }
}

/// One edge's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EdgeResult {
    /// Edge name.
    pub edge: String,
    /// Admin address.
    pub admin: SocketAddr,
    /// Whether it acknowledged: applied and persisted. An edge that applied
    /// the purge in memory but could not persist it has a `response` (with
    /// `persisted: false`) and is not ok.
    pub ok: bool,
    /// Time from the start of the fan-out to its acknowledgement (or to
    /// giving up), ms.
    pub latency_ms: f64,
    /// Attempts made.
    pub attempts: u32,
    /// Its answer, when it acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<PurgeResponse>,
    /// Why not, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole fan-out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// The purge's id, sent to every edge with it ([`new_id`]): the edges'
    /// `GET /purge/recent` records of this purge carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the fan-out (or the publish) started, Unix ms: what every
    /// edge's `latency_ms` counts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_unix_ms: Option<u64>,
    /// `url`, `prefix`, `tag` or `all`.
    pub kind: String,
    /// The URL, prefix or tag as sent.
    pub target: String,
    /// Soft purge.
    pub soft: bool,
    /// Per edge, in world order.
    pub edges: Vec<EdgeResult>,
    /// Edges that acknowledged.
    pub acknowledged: usize,
    /// Names of the edges that did not.
    pub failed: Vec<String>,
    /// Time until the last edge acknowledged, ms (`None` unless all did).
    pub all_acknowledged_ms: Option<f64>,
    /// Objects affected, summed over edges.
    pub objects: u64,
}

impl Report {
    /// Whether every edge acknowledged.
    pub fn complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// A purge that was not published to the bus (`why`): no edge
    /// acknowledged it.
    pub fn not_published(req: &PurgeRequest, edges: &[EdgeTarget], why: &str) -> Report {
        let results: Vec<EdgeResult> = edges
            .iter()
            .map(|e| EdgeResult {
                edge: e.name.clone(),
                admin: e.admin,
                ok: false,
                latency_ms: 0.0,
                attempts: 0,
                response: None,
                error: Some(format!("the purge was NOT published: {why}")),
            })
            .collect();
        Report::of(req, results)
    }

    /// The report of `req` from every edge's result.
    fn of(req: &PurgeRequest, results: Vec<EdgeResult>) -> Report {
        let (kind, target) = kind_and_target(req);
        Report::named(req, kind, target, results)
    }

    /// [`Report::of`] with the purge's kind and target given (the bus names
    /// them from the checked [`api::purge::PurgeSpec`]).
    fn named(req: &PurgeRequest, kind: &str, target: String, results: Vec<EdgeResult>) -> Report {
        let failed: Vec<String> = results.iter().filter(|r| !r.ok).map(|r| r.edge.clone()).collect();
        Report {
            id: req.id.clone(),
            sent_unix_ms: req.sent_unix_ms,
            kind: kind.into(),
            target,
            soft: req.soft,
            acknowledged: results.len() - failed.len(),
            all_acknowledged_ms: failed.is_empty().then(|| results.iter().map(|r| r.latency_ms).fold(0.0, f64::max)),
            objects: results.iter().filter_map(|r| r.response.as_ref()).map(|r| r.objects).sum(),
            edges: results,
            failed,
        }
    }
}

/// `url` and the URL, `prefix`, `tag`, or `all`.
fn kind_and_target(req: &PurgeRequest) -> (&'static str, String) {
    match (&req.url, &req.prefix, &req.tag) {
        (Some(u), _, _) => ("url", u.clone()),
        (_, Some(p), _) => ("prefix", p.clone()),
        (_, _, Some(t)) => ("tag", t.clone()),
        _ => ("all", String::new()),
    }
}

enum Attempt {
    Done(PurgeResponse),
    /// Applied in memory, not persisted (507): not retried.
    NotPersisted(PurgeResponse),
    Retry(String),
    Refused(String),
}

async fn attempt(c: &reqwest::Client, url: &str, body: &[u8], token: Option<&str>, timeout: Duration) -> Attempt {
    let mut req =
        c.post(url).timeout(timeout).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_vec());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Attempt::Retry(short_error(&e)),
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        return match serde_json::from_str::<PurgeResponse>(&text) {
            Ok(r) => Attempt::Done(r),
            Err(e) => Attempt::Refused(format!("unexpected answer ({e}): {}", text.trim())),
        };
    }
    if status == reqwest::StatusCode::INSUFFICIENT_STORAGE
        && let Ok(r) = serde_json::from_str::<PurgeResponse>(&text)
    {
        return Attempt::NotPersisted(r);
    }
    let why = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string());
    let msg = format!("HTTP {}: {why}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Attempt::Retry(msg)
    } else {
        Attempt::Refused(msg)
    }
}

/// A short reason for a transport error (`connection refused`, `timed out`).
fn short_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                _ => io.to_string(),
            };
        }
        last = Some(s.to_string());
        src = s.source();
    }
    last.unwrap_or_else(|| e.to_string())
}

async fn one_edge(
    c: reqwest::Client,
    e: EdgeTarget,
    body: Arc<Vec<u8>>,
    opts: Arc<FanOut>,
    start: Instant,
) -> EdgeResult {
    let url = format!("http://{}/purge", e.admin);
    let deadline = start + opts.deadline;
    let mut backoff = opts.backoff;
    let mut attempts = 0;
    let token = e.token.as_deref().or(opts.token.as_deref());
    let (response, error) = loop {
        if token.is_none()
            && let Some(why) = &e.no_token
        {
            break (None, Some(why.clone()));
        }
        attempts += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        match attempt(&c, &url, &body, token, opts.attempt_timeout.min(left)).await {
            Attempt::Done(r) => break (Some(r), None),
            Attempt::NotPersisted(r) => {
                let why = r.error.clone().unwrap_or_else(|| "applied in memory but not persisted".into());
                break (Some(r), Some(format!("HTTP 507: {why}")));
            }
            Attempt::Refused(why) => break (None, Some(why)),
            Attempt::Retry(why) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break (None, Some(format!("{why} ({attempts} attempts)")));
                }
                tokio::time::sleep(backoff.min(left)).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
                if Instant::now() >= deadline {
                    break (None, Some(format!("{why} ({attempts} attempts)")));
                }
            }
        }
    };
    EdgeResult {
        edge: e.name,
        admin: e.admin,
        ok: response.as_ref().is_some_and(|r| r.persisted),
        latency_ms: start.elapsed().as_secs_f64() * 1000.0,
        attempts,
        response,
        error,
    }
}

static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A purge id unique to this sender: `purge-<pid>-<Unix ms>-<n>`.
pub fn new_id() -> String {
    let n = IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("purge-{}-{}-{n}", std::process::id(), edge::purge::recent::wall_ms())
}

static LAST_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A world purge sequence for a purge sent now: Unix microseconds at the
/// sender's start, and above any this process gave before. Every cdnlab
/// process runs on one machine, so purges sent one after another are in
/// order whoever sends them; two senders at the same instant are ordered
/// by the tier order of [`fan_out`] (shields first), and the edges'
/// comparison errs on the safe side (docs/topology.md).
pub fn new_seq() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    let prev = LAST_SEQ.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
    if prev >= now { LAST_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 } else { now }
}

/// `req` named ([`new_id`], unless it has an id), stamped with the
/// sender's start, now, and given a world purge sequence ([`new_seq`]):
/// what goes to every edge (or into the bus's log).
fn stamped(req: &PurgeRequest) -> PurgeRequest {
    let mut req = req.clone();
    req.id.get_or_insert_with(new_id);
    req.sent_unix_ms.get_or_insert_with(edge::purge::recent::wall_ms);
    req.seq.get_or_insert_with(new_seq);
    req
}

/// Sends `req` to every edge; returns when each has acknowledged or been
/// given up on. Upper tiers (an origin shield) first, all at once, then,
/// once they have answered or been given up on, every other edge at once:
/// so an edge that has applied the purge fills from a shield that has too
/// (and if the shield has not, the purge sequence the edge sends with its
/// fills makes it catch up or answer without its cache: docs/topology.md).
/// The request carries an id, the fan-out's start and a world purge
/// sequence ([`stamped`]), so the edges' records of it (`GET
/// /purge/recent`) say which purge they are and when it was sent. The
/// report lists the edges in the order given.
pub async fn fan_out(c: &reqwest::Client, edges: &[EdgeTarget], req: &PurgeRequest, opts: &FanOut) -> Report {
    let start = Instant::now();
    let req = &stamped(req);
    let body = Arc::new(serde_json::to_vec(req).unwrap_or_default());
    let opts = Arc::new(opts.clone());
    let failed = |e: &EdgeTarget, err: tokio::task::JoinError| EdgeResult {
        edge: e.name.clone(),
        admin: e.admin,
        ok: false,
        latency_ms: start.elapsed().as_secs_f64() * 1000.0,
        attempts: 0,
        response: None,
        error: Some(format!("internal error: {err}")),
    };
    let mut results: Vec<Option<EdgeResult>> = vec![None; edges.len()];
    for upper in [true, false] {
        let tasks: Vec<_> = edges
            .iter()
            .enumerate()
            .filter(|(_, e)| e.upper_tier == upper)
            .map(|(i, e)| (i, tokio::spawn(one_edge(c.clone(), e.clone(), body.clone(), opts.clone(), start))))
            .collect();
        for (i, t) in tasks {
            results[i] = Some(t.await.unwrap_or_else(|err| failed(&edges[i], err)));
        }
    }
    let results = results.into_iter().flatten().collect();
    Report::of(req, results)
}

/// `1 object`, `3 objects`.
pub fn count(n: u64, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// The report as text, one line per edge.
pub fn render(r: &Report, world: &str) -> String {
    let what = if r.kind == "all" { "everything".to_string() } else { format!("{} {}", r.kind, r.target) };
    let mode = if r.soft { "soft" } else { "hard" };
    let mut s = format!("purge {what} ({mode}) on {} edges of {world}\n", r.edges.len());
    let w = r.edges.iter().map(|e| e.edge.len()).max().unwrap_or(4).max(4);
    s.push_str(&format!("  {:<w$}  {:<21}  {:<13}  {:>7}  {:>10}\n", "edge", "admin", "result", "objects", "latency"));
    for e in &r.edges {
        let objects = e.response.as_ref().map_or("-".to_string(), |p| p.objects.to_string());
        let result = match (e.ok, &e.response) {
            (true, _) => "ok",
            (false, Some(_)) => "NOT PERSISTED",
            (false, None) => "FAILED",
        };
        let mut line = format!(
            "  {:<w$}  {:<21}  {:<13}  {:>7}  {:>7.1} ms",
            e.edge,
            e.admin.to_string(),
            result,
            objects,
            e.latency_ms
        );
        if let Some(why) = &e.error {
            line.push_str(&format!("  {why}"));
        } else if e.attempts > 1 {
            line.push_str(&format!("  (after {} attempts)", e.attempts));
        }
        s.push_str(&line);
        s.push('\n');
    }
    match r.all_acknowledged_ms {
        Some(ms) => s.push_str(&format!(
            "all {} edges acknowledged; the last after {ms:.1} ms; {} affected\n",
            r.edges.len(),
            count(r.objects, "object")
        )),
        None => s.push_str(&format!(
            "{} of {} edges acknowledged; NOT acknowledged: {}\n",
            r.acknowledged,
            r.edges.len(),
            r.failed.join(", ")
        )),
    }
    s
}

/// Runs `cdn purge`; the exit status says whether every edge acknowledged.
pub async fn main(args: PurgeArgs) -> ExitCode {
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("cdn purge: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &PurgeArgs) -> anyhow::Result<bool> {
    let mut req = args.request();
    // Refuse a bad URL here rather than once per edge.
    api::purge::PurgeSpec::try_from(&req).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (targets, label) = if args.edge.is_empty() {
        let w = World::load_or_demo(args.world.as_deref())?;
        // A replicated origin: the purge carries the primary's position,
        // so no edge refills it from a replica that has not seen the
        // write (docs/topology.md, "Replicated origin").
        if !args.no_origin_seq {
            crate::origins::stamp(&w, &mut req).await;
        }
        (EdgeTarget::of_world(&w), format!("world `{}`", w.name))
    } else {
        let env = std::env::var(world::load::ADMIN_TOKEN_ENV).ok().filter(|t| !t.is_empty());
        let targets = args
            .edge
            .iter()
            .map(|a| match (&env, &args.data_dir) {
                (Some(t), _) => EdgeTarget { token: Some(t.clone()), ..EdgeTarget::new(&a.to_string(), *a) },
                (None, Some(d)) => EdgeTarget::with_token_in(&a.to_string(), *a, d),
                (None, None) => EdgeTarget {
                    no_token: Some(
                        "no admin token: pass --data-dir DIR (the edge's data directory, which holds admin-token) \
                         or set CDNLAB_ADMIN_TOKEN"
                            .into(),
                    ),
                    ..EdgeTarget::new(&a.to_string(), *a)
                },
            })
            .collect();
        (targets, "standalone".to_string())
    };
    let report = match &args.bus {
        Some(url) => {
            let w = World::load_or_demo(args.world.as_deref())?;
            through_bus(url, &w, &req, args.deadline).await?
        }
        None => {
            let c = reqwest::Client::builder().no_proxy().build().context("HTTP client")?;
            let opts = FanOut { deadline: args.deadline, ..FanOut::default() };
            fan_out(&c, &targets, &req, &opts).await
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, &label));
    }
    Ok(report.complete())
}

/// Publishes `req` once to world `w`'s purge log on the bus at `url` and
/// gathers acknowledgements until every expected edge has sent one or
/// `deadline` has passed. Expected: the world file's edges and every node
/// in the membership bucket (edges that joined without being in the file).
/// An edge that does not acknowledge in time is reported as such; it still
/// applies the purge from the log before it serves anything it covers.
pub async fn through_bus(url: &str, w: &World, req: &PurgeRequest, deadline: Duration) -> anyhow::Result<Report> {
    let opts = bus::ConnectOptions::default();
    let b = bus::Bus::connect(url, &w.name, "cdn-purge", &opts)
        .await
        .with_context(|| format!("control bus {url}: the purge was NOT published"))?;
    on_bus(&b, w, req, deadline).await
}

/// [`through_bus`] on a bus already connected (the purge benchmark keeps
/// one). Latencies count from the start of the publish.
pub async fn on_bus(b: &bus::Bus, w: &World, req: &PurgeRequest, deadline: Duration) -> anyhow::Result<Report> {
    let url = b.url();
    let mut expect: Vec<(String, SocketAddr)> = w.cache_servers().into_iter().map(|e| (e.name, e.admin)).collect();
    match bus::members::Membership::open(b).await {
        Ok(m) => match m.list().await {
            Ok(members) => {
                for m in members.into_iter().filter(|m| m.role == "edge") {
                    // A member's own admin address: it may run elsewhere than the file says.
                    match expect.iter_mut().find(|(n, _)| n == &m.node) {
                        Some(known) => known.1 = m.admin,
                        None => expect.push((m.node, m.admin)),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "membership not listed: expecting the world file's edges only"),
        },
        Err(e) => tracing::warn!(error = %e, "membership bucket not opened: expecting the world file's edges only"),
    }
    let names: Vec<String> = expect.iter().map(|(n, _)| n.clone()).collect();
    let log = bus::purge::PurgeLog::open(b).await.with_context(|| format!("control bus {url}: purge log"))?;
    let req = &stamped(req);
    let body = serde_json::to_vec(req)?;
    let g = log
        .publish_gathering(body.into(), &names, deadline)
        .await
        .with_context(|| format!("control bus {url}: the purge was NOT published"))?;
    let results: Vec<EdgeResult> = expect
        .iter()
        .map(|(name, admin)| match g.acks.iter().find(|a| &a.ack.node == name) {
            Some(a) => EdgeResult {
                edge: name.clone(),
                admin: *admin,
                ok: a.ack.ok,
                latency_ms: a.latency_ms,
                attempts: 1,
                response: serde_json::from_value(a.ack.detail.clone()).ok(),
                error: (!a.ack.ok).then(|| a.ack.detail.to_string()),
            },
            None => EdgeResult {
                edge: name.clone(),
                admin: *admin,
                ok: false,
                latency_ms: deadline.as_secs_f64() * 1000.0,
                attempts: 1,
                response: None,
                error: Some(format!(
                    "no acknowledgement of purge {} within {deadline:?}: down or cut off; it applies the purge \
                     from the log before serving anything it covers",
                    g.seq
                )),
            },
        })
        .collect();
    let spec = api::purge::PurgeSpec::try_from(req).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Report::named(req, spec.target.kind(), spec.target.pattern().into(), results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An admin API that records when each purge arrived (and what it
    /// said) and acknowledges it `delay` later.
    async fn admin(name: &'static str, delay: Duration) -> (SocketAddr, tokio::task::JoinHandle<(Instant, String)>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut c, _) = l.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = c.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        break body.to_string();
                    }
                }
            };
            let arrived = Instant::now();
            tokio::time::sleep(delay).await;
            let r = PurgeResponse {
                edge: name.into(),
                kind: "url".into(),
                target: "/x".into(),
                soft: false,
                seq: 1,
                objects: 0,
                keys: 0,
                inflight: 0,
                took_us: 1,
                persisted: true,
                error: None,
                bus_seq: None,
            };
            let json = serde_json::to_string(&r).unwrap();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                json.len()
            );
            c.write_all(head.as_bytes()).await.unwrap();
            c.write_all(json.as_bytes()).await.unwrap();
            (arrived, body)
        });
        (addr, task)
    }

    /// The shield gets the purge first; the other edges once it has
    /// answered (it takes 300 ms here), all with the same world sequence.
    #[tokio::test]
    async fn the_fan_out_purges_the_shield_before_the_edges_with_one_world_sequence() {
        let (shield, s_task) = admin("newyork", Duration::from_millis(300)).await;
        let (edge, e_task) = admin("seoul", Duration::ZERO).await;
        let edges =
            [EdgeTarget::new("seoul", edge), EdgeTarget { upper_tier: true, ..EdgeTarget::new("newyork", shield) }];
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let req = PurgeRequest { url: Some("/x".into()), ..Default::default() };
        let opts = FanOut { token: Some("t".into()), ..FanOut::default() };
        let started = Instant::now();
        let r = fan_out(&c, &edges, &req, &opts).await;
        assert!(r.complete(), "{r:?}");
        assert_eq!(r.edges.iter().map(|e| e.edge.as_str()).collect::<Vec<_>>(), ["seoul", "newyork"], "given order");
        let ((s_at, s_body), (e_at, e_body)) = (s_task.await.unwrap(), e_task.await.unwrap());
        assert!(
            e_at.duration_since(started) >= s_at.duration_since(started) + Duration::from_millis(300),
            "the edge got the purge {:?} after the start, the shield {:?} (and answered 300 ms later)",
            e_at.duration_since(started),
            s_at.duration_since(started)
        );
        let seq = |b: &str| serde_json::from_str::<PurgeRequest>(b).unwrap().seq;
        assert!(seq(&s_body).is_some_and(|s| s > 0) && seq(&s_body) == seq(&e_body), "{s_body} / {e_body}");
    }

    #[test]
    fn world_purge_sequences_grow_even_within_a_microsecond() {
        let a = new_seq();
        let b = new_seq();
        let c = new_seq();
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn a_purge_not_published_names_every_edge_as_not_acknowledging_and_why() {
        let w = World::demo().unwrap_or_else(|e| panic!("{e}"));
        let req = PurgeRequest { tag: Some("group-3".into()), soft: true, ..Default::default() };
        let r = Report::not_published(&req, &EdgeTarget::of_world(&w), "no connection to nats://127.0.0.1:1");
        assert!(!r.complete());
        assert_eq!((r.kind.as_str(), r.target.as_str(), r.soft), ("tag", "group-3", true));
        assert_eq!((r.acknowledged, r.all_acknowledged_ms, r.objects), (0, None, 0));
        assert_eq!(r.failed, ["seoul", "tokyo", "newyork"]);
        for e in &r.edges {
            assert_eq!(e.error.as_deref(), Some("the purge was NOT published: no connection to nats://127.0.0.1:1"));
        }
        assert_eq!(crate::events::purge_effect(&r), "0 acknowledged; not: seoul, tokyo, newyork");
    }
}

//! The load driver: sends the planned requests from each client's own
//! loopback source address (127.k.1.x for region k), resolving the CDN name
//! through GeoDNS over real DNS from that address (answers cached for their
//! TTL, like a stub resolver), fetching from the edge the answer names,
//! verifying every body against its `Content-Digest`, and recording one
//! [`Sample`] per request.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, mpsc};
use world::World;

use crate::workload::Planned;

/// What became of a request, from the client's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Fresh from an edge's cache.
    Hit,
    /// Fetched from the origin by the edge.
    Miss,
    /// Served stale by the edge (stale-while-revalidate, stale-if-error).
    Stale,
    /// Validated with the origin and served from the cache.
    Revalidated,
    /// Passed through the edge uncached.
    Pass,
    /// Served by the origin directly (no edge was healthy).
    Origin,
    /// Failed: DNS, connection, timeout, or a 5xx.
    Error,
}

/// One request as the client saw it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Its position in the plan.
    pub plan: u32,
    /// When it was planned, ms since the start.
    pub at_ms: u32,
    /// Client region (index in the world).
    pub region: u8,
    /// Edge that answered (index in the world), [`ORIGIN`] or [`NONE`].
    pub edge: u8,
    /// For a PoP edge: the node that answered (its 0-based position in
    /// the PoP, named by the last `Cache-Status` entry, the one the
    /// answering node wrote, [`Driver::node_of`]); [`NONE`] otherwise.
    pub node: u8,
    /// HTTP status (0: no response).
    pub status: u16,
    /// Outcome.
    pub kind: Kind,
    /// Body bytes received.
    pub bytes: u32,
    /// Measured time, µs: from the request's start (DNS included) to its
    /// last body byte. The servers pace their responses by the network
    /// model (`runtime::pace`), so this is the modelled network's time;
    /// nothing is added here (with pacing off it is loopback time).
    pub latency_us: u32,
    /// Time to first byte: the same, to the first body byte (to the end of
    /// the head for an empty body), µs.
    pub ttfb_us: u32,
    /// The body did not match its `Content-Digest`.
    pub corrupt: bool,
    /// An object version older than a purge acknowledged before the request.
    pub stale_after_purge: bool,
    /// Part of a flash crowd.
    pub flash: bool,
}

/// `Sample::edge` for a response straight from the origin.
pub const ORIGIN: u8 = 254;
/// `Sample::edge` when no server answered.
pub const NONE: u8 = 255;

/// Counters for the progress display.
#[derive(Default)]
pub struct Live {
    /// Requests sent.
    pub sent: AtomicU64,
    /// Requests finished.
    pub done: AtomicU64,
    /// Hits (fresh and stale).
    pub hits: AtomicU64,
    /// Errors.
    pub errors: AtomicU64,
    /// Corrupt bodies.
    pub corrupt: AtomicU64,
}

/// Which objects a purge or bump covered.
#[derive(Debug, Clone)]
pub enum Scope {
    /// One path.
    Url(String),
    /// Paths under a prefix.
    Prefix(String),
    /// A surrogate key (`obj-N`, `group-K`).
    Tag(String),
    /// Everything.
    All,
}

impl Scope {
    fn covers(&self, path: &str, id: Option<u64>, groups: u64) -> bool {
        match self {
            Scope::Url(u) => u == path,
            Scope::Prefix(p) => path.starts_with(p.as_str()),
            Scope::All => true,
            Scope::Tag(t) => match (t.strip_prefix("obj-"), t.strip_prefix("group-"), id) {
                (Some(n), _, Some(id)) => n.parse() == Ok(id),
                (_, Some(g), Some(id)) => groups > 0 && g.parse() == Ok(id % groups),
                _ => false,
            },
        }
    }
}

/// Bumps and acknowledged purges, to judge whether a response is older
/// than a purge its request came after.
#[derive(Default)]
pub struct Versions {
    bumps: Mutex<Vec<(Scope, Instant)>>,
    purges: Mutex<Vec<(Scope, Instant)>>,
}

impl Versions {
    /// Records a bump done at `t`.
    pub fn bumped(&self, s: Scope, t: Instant) {
        self.bumps.lock().push((s, t));
    }
    /// Records a purge acknowledged by every edge at `t`.
    pub fn purged(&self, s: Scope, t: Instant) {
        self.purges.lock().push((s, t));
    }

    /// Whether a response with object version `v`, for a request sent at
    /// `sent`, is older than a purge acknowledged before it.
    fn stale(&self, path: &str, id: Option<u64>, v: u64, sent: Instant, groups: u64) -> bool {
        let purges = self.purges.lock();
        let bumps = self.bumps.lock();
        purges.iter().filter(|(s, ack)| *ack <= sent && s.covers(path, id, groups)).any(|(_, ack)| {
            let current = 1 + bumps.iter().filter(|(b, t)| t <= ack && b.covers(path, id, groups)).count() as u64;
            v < current
        })
    }
}

struct Source {
    ip: IpAddr,
    http: Client<HttpConnector, Empty<Bytes>>,
    answer: Mutex<Option<(SocketAddr, Instant)>>,
}

/// The driver.
pub struct Driver {
    world: Arc<World>,
    sources: Vec<Vec<Arc<Source>>>,
    dns: SocketAddr,
    zone: Name,
    host: String,
    /// Progress counters.
    pub live: Arc<Live>,
    /// Purge and bump bookkeeping.
    pub versions: Arc<Versions>,
    addr_edge: HashMap<IpAddr, u8>,
    /// Each PoP node's `Cache-Status` name (`edge-seoul-2`) → (its PoP's
    /// edge index, its position in the PoP).
    node_names: HashMap<String, (u8, u8)>,
}

impl Driver {
    /// A driver for `world` with `per_region` source addresses per region.
    pub fn new(world: Arc<World>, per_region: u32) -> anyhow::Result<Driver> {
        let mut sources = Vec::new();
        for r in &world.regions {
            let base = match r.clients.addr() {
                IpAddr::V4(a) => u32::from(a),
                IpAddr::V6(_) => anyhow::bail!("region {}: the driver needs IPv4 client networks", r.name),
            };
            let slots = (0..per_region)
                .map(|i| {
                    let ip = IpAddr::V4((base + 256 + 1 + i).into());
                    let mut conn = HttpConnector::new();
                    conn.set_local_address(Some(ip));
                    conn.set_nodelay(true);
                    conn.set_connect_timeout(Some(Duration::from_secs(2)));
                    let http = Client::builder(TokioExecutor::new())
                        .pool_idle_timeout(Duration::from_secs(30))
                        .pool_max_idle_per_host(64)
                        .build(conn);
                    Arc::new(Source { ip, http, answer: Mutex::new(None) })
                })
                .collect();
            sources.push(slots);
        }
        let mut addr_edge = HashMap::new();
        for (i, e) in world.edges.iter().enumerate() {
            addr_edge.insert(e.listen.ip(), i as u8);
        }
        addr_edge.insert(world.origin.listen.ip(), ORIGIN);
        let node_names = world
            .edges
            .iter()
            .enumerate()
            .flat_map(|(i, e)| world::pop::nodes_of(e).into_iter().map(move |n| (i, n)))
            .map(|(i, n)| (format!("edge-{}", n.name), (i as u8, n.index as u8)))
            .collect();
        let zone = Name::from_ascii(format!("{}.", world.geodns.zone.trim_end_matches('.')))?;
        Ok(Driver {
            dns: world.geodns.dns,
            host: world.geodns.zone.clone(),
            zone,
            sources,
            world,
            live: Arc::default(),
            versions: Arc::default(),
            addr_edge,
            node_names,
        })
    }

    /// Sends every planned request at its time (open loop, at most
    /// `concurrency` in flight), sending a [`Sample`] for each.
    pub async fn run(
        self: Arc<Self>,
        plan: impl Iterator<Item = Planned>,
        start: Instant,
        concurrency: usize,
        out: mpsc::UnboundedSender<Sample>,
    ) {
        let sem = Arc::new(Semaphore::new(concurrency));
        for (i, p) in plan.enumerate() {
            tokio::time::sleep_until((start + p.at).into()).await;
            let Ok(permit) = sem.clone().acquire_owned().await else { break };
            let (d, out) = (self.clone(), out.clone());
            d.live.sent.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut s = d.one(&p).await;
                s.plan = i as u32;
                d.live.done.fetch_add(1, Ordering::Relaxed);
                if matches!(s.kind, Kind::Hit | Kind::Stale) {
                    d.live.hits.fetch_add(1, Ordering::Relaxed);
                }
                if s.kind == Kind::Error {
                    d.live.errors.fetch_add(1, Ordering::Relaxed);
                }
                if s.corrupt {
                    d.live.corrupt.fetch_add(1, Ordering::Relaxed);
                }
                let _ = out.send(s);
                drop(permit);
            });
        }
        // wait for the requests in flight
        let _ = sem.acquire_many(concurrency as u32).await;
    }

    async fn one(&self, p: &Planned) -> Sample {
        let src = &self.sources[p.region][p.source as usize % self.sources[p.region].len()];
        let mut s = Sample {
            plan: 0,
            at_ms: p.at.as_millis() as u32,
            region: p.region as u8,
            edge: NONE,
            node: NONE,
            status: 0,
            kind: Kind::Error,
            bytes: 0,
            latency_us: 0,
            ttfb_us: 0,
            corrupt: false,
            stale_after_purge: false,
            flash: p.flash,
        };
        let t0 = Instant::now();
        let Some(addr) = self.resolve(src).await else { return s };
        s.edge = self.addr_edge.get(&addr.ip()).copied().unwrap_or(NONE);
        let req = match Request::get(format!("http://{addr}{}", p.path))
            .header(http::header::HOST, &self.host)
            .body(Empty::new())
        {
            Ok(r) => r,
            Err(_) => return s,
        };
        let resp = match tokio::time::timeout(Duration::from_secs(15), src.http.request(req)).await {
            Ok(Ok(r)) => r,
            _ => {
                // a dead edge: forget the answer so the next request asks again
                *src.answer.lock() = None;
                return s;
            }
        };
        let (parts, body) = resp.into_parts();
        s.status = parts.status.as_u16();
        s.node = self.node_of(&parts.headers, s.edge);
        let (body, first_byte) = match tokio::time::timeout(Duration::from_secs(30), read_body(body, || t0.elapsed()))
            .await
        {
            Ok(Ok(b)) => b,
            Ok(Err(_)) | Err(_) => {
                // Cut short (the connection closed before the body's
                // length, e.g. the edge was killed mid-transfer) or too
                // slow: a failed request the client knows about, not a
                // corrupt one (`corrupt` counts bodies that arrived
                // whole and did not match their Content-Digest).
                tracing::warn!(path = %p.path, status = s.status, at_ms = s.at_ms, edge = s.edge, "response body cut short or timed out: counted as an error");
                return s;
            }
        };
        let elapsed = t0.elapsed();
        s.bytes = body.len() as u32;
        s.kind = classify(&parts.headers, s.status, s.edge);
        if s.status == 200
            && let Some(want) = parts.headers.get("content-digest").and_then(|v| v.to_str().ok())
        {
            let got = format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body)));
            s.corrupt = got != want;
        }
        if s.status == 200
            && let Some(v) = parts.headers.get(http::header::ETAG).and_then(|v| v.to_str().ok()).and_then(etag_version)
        {
            let id = p.path.strip_prefix("/obj/").and_then(|i| i.parse().ok());
            s.stale_after_purge = self.versions.stale(&p.path, id, v, t0, self.world.catalog.groups);
        }
        s.latency_us = elapsed.as_micros().min(u32::MAX as u128) as u32;
        s.ttfb_us = first_byte.as_micros().min(u32::MAX as u128) as u32;
        s
    }

    /// The PoP node of edge `edge` that answered: the cache named by the
    /// response's last `Cache-Status` entry (RFC 9211: the cache nearest
    /// the client, here the node the balancer handed the connection to;
    /// a peer's or shield's entries come before it). [`NONE`] for a plain
    /// edge, or an entry naming no node of that PoP.
    fn node_of(&self, h: &http::HeaderMap, edge: u8) -> u8 {
        if self.node_names.is_empty() {
            return NONE;
        }
        let cs = h.get("cache-status").and_then(|v| v.to_str().ok()).unwrap_or("");
        let last = cs.rsplit(',').next().unwrap_or("");
        let name = last.split(';').next().unwrap_or("").trim();
        match self.node_names.get(name) {
            Some((e, n)) if *e == edge => *n,
            _ => NONE,
        }
    }

    /// The server for this client: a cached DNS answer, or a new query to
    /// GeoDNS from the client's own address.
    async fn resolve(&self, src: &Source) -> Option<SocketAddr> {
        if let Some((a, until)) = *src.answer.lock()
            && Instant::now() < until
        {
            return Some(a);
        }
        let (ip, ttl) = self.query(src.ip).await?;
        let port = self
            .world
            .edges
            .iter()
            .map(|e| e.listen)
            .chain([self.world.origin.listen])
            .find(|a| a.ip() == ip)
            .map_or(8080, |a| a.port());
        let addr = SocketAddr::new(ip, port);
        let wall_ttl = Duration::from_secs(ttl as u64).div_f64(self.world.time_scale.max(1e-9));
        *src.answer.lock() = Some((addr, Instant::now() + wall_ttl));
        Some(addr)
    }

    async fn query(&self, from: IpAddr) -> Option<(IpAddr, u32)> {
        let sock = UdpSocket::bind(SocketAddr::new(from, 0)).await.ok()?;
        let mut m = Message::query();
        m.metadata.id =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.subsec_nanos() as u16);
        m.add_query(Query::query(self.zone.clone(), RecordType::A));
        let wire = m.to_vec().ok()?;
        for _ in 0..3 {
            sock.send_to(&wire, self.dns).await.ok()?;
            let mut buf = [0u8; 1500];
            if let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await {
                let r = Message::from_vec(&buf[..n]).ok()?;
                return r.answers.iter().find_map(|a| match &a.data {
                    RData::A(x) => Some((IpAddr::V4(x.0), a.ttl)),
                    _ => None,
                });
            }
        }
        None
    }
}

/// Reads a body whole, with the time (`elapsed()`, since the request
/// began) of its first byte (of its end when it has none): a miss that
/// streams through shows its first byte long before its last.
async fn read_body<B>(mut body: B, elapsed: impl Fn() -> Duration) -> Result<(Bytes, Duration), B::Error>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut chunks = Vec::new();
    let mut first = None;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data()
            && !data.is_empty()
        {
            first.get_or_insert_with(&elapsed);
            chunks.push(data);
        }
    }
    let first = first.unwrap_or_else(elapsed);
    Ok((if chunks.len() == 1 { chunks.swap_remove(0) } else { chunks.concat().into() }, first))
}

/// The outcome a response's `Cache-Status` reports: its last entry's, the
/// cache nearest the client (RFC 9211 §2: one entry per cache, the one
/// nearest the origin first; behind an origin shield the shield's entry
/// comes first and says nothing of whether this edge had it).
pub fn classify(h: &http::HeaderMap, status: u16, edge: u8) -> Kind {
    if edge == ORIGIN {
        return if status >= 500 { Kind::Error } else { Kind::Origin };
    }
    let cs = h.get("cache-status").and_then(|v| v.to_str().ok()).unwrap_or("");
    let last = cs.rsplit(',').next().unwrap_or("");
    let has = |p: &str| last.split(';').any(|x| x.trim() == p || x.trim().starts_with(&format!("{p}=")));
    let param =
        |p: &str| last.split(';').find_map(|x| x.trim().strip_prefix(&format!("{p}=")).map(|v| v.trim().to_string()));
    let detail = param("detail").unwrap_or_default();
    if status >= 500 && detail != "stale-if-error" {
        return Kind::Error;
    }
    if has("hit") {
        return if detail.starts_with("stale") || detail == "max-stale" { Kind::Stale } else { Kind::Hit };
    }
    if detail == "stale-if-error" {
        return Kind::Stale;
    }
    match (param("fwd").as_deref(), param("fwd-status").as_deref()) {
        (Some("bypass"), _) => Kind::Pass,
        (_, Some("304")) => Kind::Revalidated,
        (Some(_), _) => Kind::Miss,
        (None, _) => Kind::Pass,
    }
}

/// The version in a synthetic ETag (`"o7-v2-…"`).
pub fn etag_version(etag: &str) -> Option<u64> {
    let rest = etag.trim_matches('"').split('-').nth(1)?;
    rest.strip_prefix('v')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(cs: &str) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        m.insert("cache-status", cs.parse().unwrap());
        m
    }

    #[test]
    fn outcomes_come_from_cache_status() {
        assert_eq!(classify(&h("edge-a; hit; ttl=5; detail=memory"), 200, 0), Kind::Hit);
        assert_eq!(classify(&h("edge-a; hit; ttl=-5; detail=stale-while-revalidate"), 200, 0), Kind::Stale);
        assert_eq!(classify(&h("edge-a; fwd=stale; fwd-status=503; detail=stale-if-error"), 200, 0), Kind::Stale);
        assert_eq!(classify(&h("edge-a; fwd=stale; fwd-status=304; ttl=5"), 200, 0), Kind::Revalidated);
        assert_eq!(classify(&h("edge-a; fwd=uri-miss; fwd-status=200; stored"), 200, 0), Kind::Miss);
        assert_eq!(classify(&h("edge-a; fwd=bypass"), 200, 0), Kind::Pass);
        assert_eq!(classify(&h("edge-a; fwd=uri-miss"), 502, 0), Kind::Error);
        assert_eq!(classify(&http::HeaderMap::new(), 200, ORIGIN), Kind::Origin);
        // behind a shield: the edge's own entry (the last) decides
        let tiered = "edge-newyork; hit; ttl=5; detail=memory, edge-seoul; fwd=uri-miss; fwd-status=200; stored";
        assert_eq!(classify(&h(tiered), 200, 0), Kind::Miss);
        let tiered = "edge-newyork; fwd=uri-miss; fwd-status=200; stored, edge-seoul; hit; ttl=5; detail=memory";
        assert_eq!(classify(&h(tiered), 200, 0), Kind::Hit);
    }

    /// A PoP's response is the node's that wrote the last Cache-Status
    /// entry (the owner's entry comes before it on a peer fill).
    #[test]
    fn the_answering_node_is_named_by_the_last_cache_status_entry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/worlds/cluster.toml");
        let w = World::load(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"));
        let seoul = w.edges.iter().position(|e| e.name == "seoul").unwrap_or_else(|| panic!("seoul")) as u8;
        let d = Driver::new(Arc::new(w), 1).unwrap_or_else(|e| panic!("{e}"));
        let peer =
            "edge-seoul-3; hit; ttl=5; detail=memory, edge-seoul-1; fwd=uri-miss; fwd-status=200; detail=peer-owned";
        assert_eq!(d.node_of(&h(peer), seoul), 0);
        assert_eq!(d.node_of(&h("edge-seoul-3; hit; ttl=5"), seoul), 2);
        assert_eq!(d.node_of(&h("edge-seoul-3; hit; ttl=5"), seoul + 1), NONE, "not that edge's node");
        assert_eq!(d.node_of(&h("edge-tokyo; hit; ttl=5"), seoul + 1), NONE, "a plain edge");
        assert_eq!(d.node_of(&http::HeaderMap::new(), seoul), NONE);
    }

    /// TTFB is taken at the first body byte, not at the end.
    #[tokio::test]
    async fn the_first_byte_is_timed_when_it_arrives() {
        use futures_util::StreamExt;
        let now = Arc::new(AtomicU64::new(5));
        let later = now.clone();
        let frames = futures_util::stream::iter([&b"first"[..], b"last"]).enumerate().map(move |(i, c)| {
            if i == 1 {
                later.store(900, Ordering::Relaxed); // the rest comes 895 ms later
            }
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from_static(c)))
        });
        let clock = now.clone();
        let elapsed = move || Duration::from_millis(clock.load(Ordering::Relaxed));
        let (body, first) = read_body(http_body_util::StreamBody::new(frames), elapsed).await.unwrap();
        assert_eq!((&body[..], first), (&b"firstlast"[..], Duration::from_millis(5)));
        let (empty, at) = read_body(http_body_util::Empty::<Bytes>::new(), || Duration::from_millis(7)).await.unwrap();
        assert_eq!((empty.len(), at), (0, Duration::from_millis(7)), "an empty body: its end");
    }

    #[test]
    fn purges_judge_versions_by_the_bumps_before_them() {
        let v = Versions::default();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(10);
        let t2 = t0 + Duration::from_millis(20);
        v.bumped(Scope::Url("/obj/7".into()), t0);
        v.purged(Scope::Tag("group-7".into()), t1);
        // sent after the purge: version 1 is too old, version 2 is right
        assert!(v.stale("/obj/7", Some(7), 1, t2, 100));
        assert!(!v.stale("/obj/7", Some(7), 2, t2, 100));
        // sent before the purge: not judged
        assert!(!v.stale("/obj/7", Some(7), 1, t0, 100));
        // other objects of other groups: untouched
        assert!(!v.stale("/obj/8", Some(8), 1, t2, 100));
        assert_eq!(etag_version("\"o7-v2-abcd\""), Some(2));
    }
}

//! The network model on the wire (issue 14, item 3): an edge and the
//! origin pace what they send by the link between the peer's region and
//! their own, so a client waits what the model says — and only a client
//! in a region. On a manual clock: a test advances simulated time and
//! looks at what has arrived (waiting a little wall time for it); it never
//! sleeps for the model's time.
//!
//! The demo world: the edge is in Seoul, clients from 127.2.x.y are in
//! Tokyo (RTT 30 ms), from 127.1.x.y in Seoul (2 ms); the origin is in New
//! York (185 ms from Seoul); every link TLS, 100 Mbit/s, no loss, no jitter.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use runtime::pace::{Fetching, Pacing};
use tests::{Reply, ScriptedOrigin, client, start_edge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use world::transfer::{Conn, plan};
use world::{Clock, World};

const MS: Duration = Duration::from_millis(1);
/// Wall time given to bytes that are due to arrive (and to show that
/// bytes that are not due do not).
const SETTLE: Duration = Duration::from_millis(60);
const TOKYO: [u8; 4] = [127, 2, 1, 1];
const SEOUL: [u8; 4] = [127, 1, 1, 1];

fn demo() -> World {
    World::demo().unwrap()
}

fn manual() -> Clock {
    Clock::manual(SystemTime::now())
}

/// A client connection from `from`, reading whatever has arrived.
struct Client {
    sock: TcpStream,
    got: Vec<u8>,
}

impl Client {
    async fn connect(from: [u8; 4], to: SocketAddr) -> Client {
        let s = TcpSocket::new_v4().unwrap();
        s.bind(SocketAddr::from((from, 0))).unwrap();
        let sock = s.connect(to).await.unwrap();
        sock.set_nodelay(true).unwrap();
        // Let the server accept it before the test moves the clock: a new
        // connection's handshakes count from its accept.
        tokio::time::sleep(SETTLE).await;
        Client { sock, got: Vec::new() }
    }

    async fn get(&mut self, path: &str) {
        self.got.clear();
        let req = format!("GET {path} HTTP/1.1\r\nhost: cdn.test\r\n\r\n");
        self.sock.write_all(req.as_bytes()).await.unwrap();
        // Let the server read it before the test moves the clock: a
        // request on a kept connection counts from when it is read.
        tokio::time::sleep(SETTLE).await;
    }

    /// Reads what arrives within [`SETTLE`]; the bytes received so far.
    async fn settle(&mut self) -> usize {
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(Ok(n)) = tokio::time::timeout(SETTLE, self.sock.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            self.got.extend_from_slice(&buf[..n]);
        }
        self.got.len()
    }
}

/// An edge in Seoul on `clock`, paced as the world says, in front of a
/// scripted origin holding `/a` (`size` bytes), filled by a request from
/// 127.0.0.1 (not paced). Returns the edge, the origin and the length of
/// `/a`'s response as the edge sends it (head included).
async fn seoul_edge_with(w: &World, clock: &Clock, size: usize) -> (tests::TestEdge, ScriptedOrigin, u64) {
    seoul_edge_tweaked(w, clock, size, |_| {}).await
}

/// [`seoul_edge_with`], with `tweak` applied to the edge's configuration.
async fn seoul_edge_tweaked(
    w: &World,
    clock: &Clock,
    size: usize,
    tweak: impl FnOnce(&mut edge::Config),
) -> (tests::TestEdge, ScriptedOrigin, u64) {
    let o = ScriptedOrigin::start().await;
    o.set("/a", Reply::ok(Bytes::from(vec![b'x'; size])).cc("max-age=600"));
    let (c, pacing) = (clock.clone(), Pacing::new(w, "seoul", clock.clone()));
    let e = start_edge(o.addr, move |cfg| {
        cfg.clock = c;
        cfg.pacing = pacing;
        tweak(cfg);
    })
    .await;
    local_get(&e, size).await; // the fill
    let len = local_get(&e, size).await;
    (e, o, len)
}

/// `/a` fetched from 127.0.0.1 (outside every region, not paced) on a new
/// connection: the length of the response (head included).
async fn local_get(e: &tests::TestEdge, size: usize) -> u64 {
    let mut local = Client::connect([127, 0, 0, 1], e.handle.public).await;
    local.get("/a").await;
    while local.settle().await < size {}
    local.got.len() as u64
}

/// Advances `clock` to `at` (from `t0`), then lets the bytes due arrive.
async fn at(clock: &Clock, t0: SystemTime, at: Duration, c: &mut Client) -> usize {
    let now = clock.now().duration_since(t0).unwrap();
    clock.advance(at.saturating_sub(now));
    c.settle().await
}

/// Checks one fetch against the model: nothing a millisecond before its
/// time to first byte, something at it; not everything a millisecond
/// before its total, everything at it.
async fn fetch_takes(clock: &Clock, c: &mut Client, ttfb: Duration, total: Duration, len: u64) {
    let t0 = clock.now();
    c.get("/a").await;
    assert_eq!(at(clock, t0, ttfb - MS, c).await, 0, "bytes before the modelled first byte ({ttfb:?})");
    assert!(at(clock, t0, ttfb, c).await > 0, "no byte at the modelled first byte ({ttfb:?})");
    if total > ttfb + MS {
        assert!((at(clock, t0, total - MS, c).await as u64) < len, "all bytes before the modelled total ({total:?})");
    }
    assert_eq!(at(clock, t0, total, c).await as u64, len, "not all bytes at the modelled total ({total:?})");
}

#[tokio::test]
async fn a_client_from_another_region_waits_the_modelled_time_and_a_kept_connection_skips_the_handshake() {
    let (w, clock) = (demo(), manual());
    let (e, _o, len) = seoul_edge_with(&w, &clock, 100_000).await;
    let link = w.link("tokyo", "seoul").unwrap();
    let req = "GET /a HTTP/1.1\r\nhost: cdn.test\r\n\r\n".len() as u64;
    let cold = plan(&link, &Conn::Cold, req, len, clock.now(), 0);
    // Cold over TLS: 2 RTT of handshakes, R/2 up, R/2 down: 90 ms to the
    // first byte; 100 kB in three rounds.
    assert!(cold.ttfb() >= 90 * MS && cold.response.round_count == 3, "{cold:?}");
    let mut c = Client::connect(TOKYO, e.handle.public).await;
    fetch_takes(&clock, &mut c, cold.ttfb(), cold.total(), len).await;
    // The same connection right away: no handshake, the window it left.
    let warm = plan(&link, &cold.after(), req, len, clock.now(), 0);
    assert!(warm.ttfb() < cold.ttfb() - 2 * link.rtt + MS, "{warm:?}");
    fetch_takes(&clock, &mut c, warm.ttfb(), warm.total(), len).await;
    assert!(warm.total() < cold.total() - 2 * link.rtt);
}

/// A hit on a promoted head whose body is in the disk tier's body file is
/// sent with `sendfile` (edge/src/sendfile.rs), which writes to the socket
/// round any pacer: for a client in a region the edge reads the body back
/// and writes it through the pacer instead, so it waits the modelled time.
#[tokio::test]
async fn a_body_file_hit_for_a_client_in_another_region_waits_the_modelled_time() {
    let (w, clock) = (demo(), manual());
    let size = 100_000;
    let (e, _o, _) = seoul_edge_tweaked(&w, &clock, size, |cfg| cfg.store.disk = 128 << 20).await;
    // Memory empty: a disk hit, a second one that promotes the head, a
    // third sent from the body file with `sendfile` (all from 127.0.0.1).
    let e = e.restart().await;
    let mut len = 0;
    for _ in 0..3 {
        len = local_get(&e, size).await;
    }
    let t = e.handle.stats().cache_tiers;
    assert_eq!((t.disk_hits, t.promotions, t.body_sends), (3, 1, 1), "{t:?}");
    let link = w.link("tokyo", "seoul").unwrap();
    let req = "GET /a HTTP/1.1\r\nhost: cdn.test\r\n\r\n".len() as u64;
    let cold = plan(&link, &Conn::Cold, req, len, clock.now(), 0);
    let mut c = Client::connect(TOKYO, e.handle.public).await;
    fetch_takes(&clock, &mut c, cold.ttfb(), cold.total(), len).await;
    // A fourth disk hit of the same promoted head, not sent with `sendfile`.
    let t = e.handle.stats().cache_tiers;
    assert_eq!((t.disk_hits, t.body_sends), (4, 1), "{t:?}");
}

#[tokio::test]
async fn a_connection_idle_past_the_rto_starts_slow_again() {
    let (w, clock) = (demo(), manual());
    let (e, _o, len) = seoul_edge_with(&w, &clock, 200_000).await;
    let link = w.link("tokyo", "seoul").unwrap();
    let req = "GET /a HTTP/1.1\r\nhost: cdn.test\r\n\r\n".len() as u64;
    let mut c = Client::connect(TOKYO, e.handle.public).await;
    let first = plan(&link, &Conn::Cold, req, len, clock.now(), 0);
    fetch_takes(&clock, &mut c, first.ttfb(), first.total(), len).await;
    let kept = plan(&link, &first.after(), req, len, clock.now(), 0);
    // A minute idle (the RTO is 230 ms): the window is back to 10 segments.
    clock.advance(Duration::from_secs(60));
    // The answer is now a byte longer (`age: 60`): its length as an
    // unpaced client gets it at this instant.
    let mut local = Client::connect([127, 0, 0, 1], e.handle.public).await;
    local.get("/a").await;
    let len = local.settle().await as u64;
    let idle = plan(&link, &first.after(), req, len, clock.now(), 0);
    assert!(idle.response.round_count > kept.response.round_count, "{idle:?} {kept:?}");
    fetch_takes(&clock, &mut c, idle.ttfb(), idle.total(), len).await;
}

#[tokio::test]
async fn a_client_outside_every_region_and_a_world_without_pacing_are_not_paced() {
    let (w, clock) = (demo(), manual());
    let (e, _o, len) = seoul_edge_with(&w, &clock, 100_000).await;
    // 127.0.0.1: the whole response without the clock moving.
    let mut local = Client::connect([127, 0, 0, 1], e.handle.public).await;
    local.get("/a").await;
    assert_eq!(local.settle().await as u64, len);
    // A Tokyo client of an edge whose world says `pacing = false`.
    let mut off = demo();
    off.network.pacing = false;
    assert!(!Pacing::new(&off, "seoul", clock.clone()).is_on());
    let (e2, _o2, len2) = seoul_edge_with(&off, &clock, 100_000).await;
    let mut tokyo = Client::connect(TOKYO, e2.handle.public).await;
    tokyo.get("/a").await;
    assert_eq!(tokyo.settle().await as u64, len2);
    // And the same client of the paced edge gets nothing until the clock moves.
    let mut paced = Client::connect(TOKYO, e.handle.public).await;
    paced.get("/a").await;
    assert_eq!(paced.settle().await, 0);
}

/// A miss through a paced origin: the origin (New York) paces the edge's
/// fetch over the 185 ms link, the edge streams what arrives to its Seoul
/// client as it comes. The client's first bytes come when the origin's
/// first round reaches the edge, long before the origin's last round.
#[tokio::test]
async fn a_streamed_miss_reaches_the_client_before_the_fill_completes() {
    let (w, clock) = (demo(), manual());
    let mut oc = origin::Config::from_world(&w);
    oc.admin_token = None;
    oc.clock = clock.clone();
    oc.pacing = Pacing::new(&w, &w.origin.region, clock.clone());
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let o = origin::spawn(oc, any, any).await.unwrap();
    let (c, pacing) = (clock.clone(), Pacing::new(&w, "seoul", clock.clone()));
    let e = start_edge(o.public, move |cfg| {
        cfg.clock = c;
        cfg.pacing = pacing;
        cfg.source = Some([127, 1, 0, 1].into());
        cfg.store.max_object = 8 << 20;
    })
    .await;
    // An object over half a megabyte (the catalog's sizes are lognormal).
    let (path, size) = (0..5000u64)
        .find_map(|i| {
            let s = w.catalog.size.size_of(i);
            (s > 500_000).then(|| (format!("/obj/{i}"), s))
        })
        .expect("a large object in the first 5000");
    let upstream = w.link("seoul", &w.origin.region).unwrap();
    let fill = plan(&upstream, &Conn::Cold, 200, size, clock.now(), 0);
    assert!(fill.response.round_count >= 5, "{fill:?}");
    let t0 = clock.now();
    let mut seoul = Client::connect(SEOUL, e.handle.public).await;
    seoul.get(&path).await;
    // Step through simulated time in 10 ms steps until the first bytes.
    let mut first = None;
    for step in 1..=1000u32 {
        clock.advance(10 * MS);
        if seoul.settle().await > 0 {
            first = Some(10 * MS * step);
            break;
        }
    }
    let first = first.expect("no byte within 10 s of simulated time");
    assert_eq!(clock.now().duration_since(t0).unwrap(), first);
    assert!(first >= fill.ttfb(), "the client's first byte ({first:?}) before the origin's ({:?})", fill.ttfb());
    assert!(first < fill.total(), "first bytes only once the fill was complete: {first:?} ≥ {:?}", fill.total());
    assert!((seoul.got.len() as u64) < size, "everything at once");
    // The rest follows, and it is the whole object.
    clock.advance(Duration::from_secs(10));
    while seoul.settle().await < size as usize {}
    let whole = client().get(e.url(&path)).send().await.unwrap();
    assert_eq!(whole.bytes().await.unwrap().len() as u64, size);
}

/// Your own origin (`--origin URL`: a plain server on 127.0.0.1 here)
/// paces nothing, so the edge applies the link between its region and
/// the origin's as it reads the fill. A miss from a Tokyo client: its
/// request reaches the Seoul edge at the client link's time, the fill's
/// bytes reach the edge over the Seoul–New York link (a new connection:
/// handshakes and slow start) and go on to the client as they come. The
/// hit after it waits the client link only.
#[tokio::test]
async fn a_miss_from_an_origin_that_does_not_pace_waits_the_origin_link_and_a_hit_does_not() {
    let (w, clock) = (demo(), manual());
    let size = 100_000;
    let o = ScriptedOrigin::start().await;
    o.set("/a", Reply::ok(Bytes::from(vec![b'x'; size])).cc("max-age=600"));
    let (c, pacing) = (clock.clone(), Pacing::new(&w, "seoul", clock.clone()));
    let fetching = Fetching::new(&w, "seoul", &w.origin.region, clock.clone());
    let e = start_edge(o.addr, move |cfg| {
        cfg.clock = c;
        cfg.pacing = pacing;
        cfg.origin_unpaced = fetching;
    })
    .await;
    let (client_link, origin_link) = (w.link("tokyo", "seoul").unwrap(), w.link("seoul", &w.origin.region).unwrap());
    let req = "GET /a HTTP/1.1\r\nhost: cdn.test\r\n\r\n".len() as u64;
    // The client's request is at the edge at `asked`; the edge's fetch of
    // about 200 bytes for about 100 kB (1 ms either side covers the exact
    // sizes of its request and the origin's head).
    let asked = plan(&client_link, &Conn::Cold, req, 0, clock.now(), 0).request_at_server;
    let fill = plan(&origin_link, &Conn::Cold, 200, size as u64 + 100, clock.now(), 0);
    assert!(fill.ttfb() >= 3 * origin_link.rtt && fill.response.round_count == 3, "{fill:?}");
    let t0 = clock.now();
    let mut tokyo = Client::connect(TOKYO, e.handle.public).await;
    tokyo.get("/a").await;
    assert_eq!(at(&clock, t0, asked, &mut tokyo).await, 0);
    assert_eq!(o.count("/a"), 1, "the fill starts when the request is at the edge");
    let ttfb = asked + fill.ttfb();
    assert_eq!(at(&clock, t0, ttfb - MS, &mut tokyo).await, 0, "bytes before the origin link's first byte");
    assert!(at(&clock, t0, ttfb + MS, &mut tokyo).await > 0, "no byte at the origin link's first byte");
    let total = asked + fill.total();
    let early = at(&clock, t0, total - MS, &mut tokyo).await;
    let len = at(&clock, t0, total + MS, &mut tokyo).await;
    assert!(early < len && len > size, "all {len} bytes before the origin link's last ({early} then)");
    // The hit: the client link alone, on a new connection.
    let hit = local_get(&e, size).await;
    let cold = plan(&client_link, &Conn::Cold, req, hit, clock.now(), 0);
    let mut again = Client::connect(TOKYO, e.handle.public).await;
    fetch_takes(&clock, &mut again, cold.ttfb(), cold.total(), hit).await;
    assert_eq!(o.count("/a"), 1);
}

/// A GeoIP database for `w` in which Seoul's and Tokyo's client networks
/// are swapped: 127.1.x.y is in Tokyo by it, in Seoul by the world.
fn swapped(w: &World) -> geoip::GeoIp {
    let mut d = w.clone();
    let at = |name: &str| d.regions.iter().position(|r| r.name == name).unwrap();
    let (seoul, tokyo) = (at("seoul"), at("tokyo"));
    let c = d.regions[seoul].clients;
    d.regions[seoul].clients = d.regions[tokyo].clients;
    d.regions[tokyo].clients = c;
    geoip::GeoIp::from_bytes(geoip::build::build(&d).unwrap(), "swapped").unwrap()
}

/// With a GeoIP database (`--mmdb`) the edge locates its clients by it, by
/// the rule GeoDNS follows: a client the world's networks put in Seoul
/// and the database in Tokyo waits the Tokyo–Seoul link (30 ms), not
/// Seoul's own (2 ms).
#[tokio::test]
async fn a_client_is_paced_by_where_the_geoip_database_places_it() {
    let (w, clock) = (demo(), manual());
    let pacing = Pacing::new(&w, "seoul", clock.clone()).with_geoip(std::sync::Arc::new(swapped(&w)));
    let (e, _o, len) = seoul_edge_tweaked(&w, &clock, 100_000, move |cfg| cfg.pacing = pacing).await;
    let link = w.link("tokyo", "seoul").unwrap();
    let req = "GET /a HTTP/1.1\r\nhost: cdn.test\r\n\r\n".len() as u64;
    let cold = plan(&link, &Conn::Cold, req, len, clock.now(), 0);
    let mut c = Client::connect(SEOUL, e.handle.public).await;
    fetch_takes(&clock, &mut c, cold.ttfb(), cold.total(), len).await;
}

/// `--mmdb FILE` on the edge: the database is read at start; a file that
/// is missing or not a database is refused with its name.
#[test]
fn the_edges_mmdb_flag_reads_the_database_and_refuses_a_bad_one_by_name() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("demo.mmdb");
    std::fs::write(&good, geoip::build::build(&demo()).unwrap()).unwrap();
    let bad = dir.path().join("junk.mmdb");
    std::fs::write(&bad, b"not a database").unwrap();
    let config = |f: &std::path::Path| {
        edge::cli::Args::parse_from(["edge", "--name", "seoul", "--mmdb", f.to_str().unwrap()]).config()
    };
    assert!(config(&good).unwrap().pacing.is_on());
    for f in [bad, dir.path().join("missing.mmdb")] {
        let e = config(&f).unwrap_err().to_string();
        assert!(e.starts_with("--mmdb: GeoIP database") && e.contains(f.to_str().unwrap()), "{e}");
    }
}

/// `--no-pacing` on the servers' command lines turns pacing off as the
/// world's switch does.
#[test]
fn no_pacing_flags_turn_it_off() {
    use clap::Parser;
    let a = edge::cli::Args::parse_from(["edge", "--name", "seoul", "--no-pacing"]);
    assert!(!a.config().unwrap().pacing.is_on());
    let a = edge::cli::Args::parse_from(["edge", "--name", "seoul"]);
    assert!(a.config().unwrap().pacing.is_on());
}

/// Which origin the edge paces as it reads: one given with `--origin`
/// (yours: it paces nothing), not the world's own (at the world's origin
/// address: it paces what it sends), not with `--no-pacing`, not
/// standalone (no region, no link).
#[test]
fn the_edge_paces_what_it_reads_from_your_own_origin_only() {
    use clap::Parser;
    let paced = |args: &[&str]| {
        let a = edge::cli::Args::parse_from([&["edge"], args].concat());
        a.config().unwrap().origin_unpaced.is_on()
    };
    assert!(paced(&["--name", "seoul", "--origin", "http://127.0.0.1:9999"]));
    let ours = format!("http://{}", demo().origin.listen);
    assert!(!paced(&["--name", "seoul", "--origin", &ours]));
    assert!(!paced(&["--name", "seoul"]));
    assert!(!paced(&["--name", "seoul", "--origin", "http://127.0.0.1:9999", "--no-pacing"]));
    assert!(!paced(&["--origin", "http://127.0.0.1:9999", "--listen", "127.0.0.1:8999"]));
}

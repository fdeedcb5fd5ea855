//! The pacer on an in-memory pipe and a manual clock: what it holds and
//! lets through at each instant of simulated time, against the model's
//! own figures ([`world::transfer::plan`]).

use std::time::{Duration, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream};
use world::transfer::{Conn, plan};

use super::*;

const MS: Duration = Duration::from_millis(1);
/// Wall time a test waits to see that nothing happens.
const QUIET: Duration = Duration::from_millis(40);

fn paced(link: Link, clock: &Clock) -> (DuplexStream, Paced<DuplexStream>) {
    let (client, server) = tokio::io::duplex(4 << 20);
    let peer: SocketAddr = "127.1.1.1:40000".parse().unwrap();
    (client, Paced { inner: server, pacer: Some(Box::new(Pacer::new(link, clock.clone(), peer))) })
}

/// A manual clock, a 100 ms link without TLS (a cold request is in at
/// 1.5 RTT), and a pipe whose server end is paced over it.
fn pipe() -> (Clock, Link, DuplexStream, Paced<DuplexStream>) {
    let clock = Clock::manual(UNIX_EPOCH + Duration::from_secs(1_000_000));
    let link = Link::ideal(100 * MS);
    let (client, server) = paced(link, &clock);
    (clock, link, client, server)
}

/// The server end answers two requests, each with `head` and a body of
/// `body` bytes.
fn serve_twice(mut server: Paced<DuplexStream>, head: String, body: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for _ in 0..2 {
            let mut buf = [0u8; 128];
            let _ = server.read(&mut buf).await.unwrap();
            server.write_all(head.as_bytes()).await.unwrap();
            server.write_all(&vec![7u8; body]).await.unwrap();
        }
    })
}

/// Bytes the client can read now (waiting `QUIET` for more).
async fn drain(c: &mut (impl AsyncRead + Unpin)) -> usize {
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    while let Ok(Ok(n)) = tokio::time::timeout(QUIET, c.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got += n;
    }
    got
}

#[tokio::test]
async fn a_request_is_held_until_the_model_has_it_at_the_server() {
    let (clock, _, mut client, mut server) = pipe();
    let req = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n";
    client.write_all(req).await.unwrap();
    let mut buf = [0u8; 128];
    let reading = tokio::spawn(async move {
        let n = server.read(&mut buf).await.unwrap();
        (n, server)
    });
    tokio::time::sleep(QUIET).await;
    clock.advance(149 * MS);
    tokio::time::sleep(QUIET).await;
    assert!(!reading.is_finished(), "handed to the server before the model has it there");
    clock.advance(MS);
    let (n, _server) = tokio::time::timeout(Duration::from_secs(2), reading).await.unwrap().unwrap();
    assert_eq!(n, req.len());
}

#[tokio::test]
async fn a_response_goes_out_by_rounds_and_the_next_one_is_warm() {
    let (clock, link, mut client, server) = pipe();
    let body = 100_000usize;
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {body}\r\n\r\n");
    let total = (head.len() + body) as u64;
    let req = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n";
    // The model's figures for this fetch: a cold one, then a warm one.
    let cold = plan(&link, &Conn::Cold, req.len() as u64, total, clock.now(), 1);
    let warm = plan(&link, &cold.after(), req.len() as u64, total, clock.now() + cold.total(), 1);
    assert_eq!(cold.response.round_count, 3, "10, 20, then the rest of 69 segments");
    assert_eq!(warm.response.round_count, 1, "the window it left holds the whole response");
    let serve = serve_twice(server, head, body);
    client.write_all(req).await.unwrap();
    clock.advance(150 * MS); // the request is in; sending starts
    tokio::time::sleep(QUIET).await;
    assert_eq!(drain(&mut client).await, 0, "nothing before the first round's R/2");
    // Round i's bytes arrive R/2 after it leaves; rounds leave R apart.
    let mut got = 0;
    for (i, r) in cold.response.rounds().enumerate() {
        let at = if i == 0 { 50 * MS } else { 100 * MS };
        clock.advance(at);
        got += drain(&mut client).await;
        assert_eq!(got as u64, r.end, "round {i}");
    }
    assert_eq!(got as u64, total);
    // The next request on this connection, right away: warm, no handshake.
    client.write_all(req).await.unwrap();
    tokio::time::sleep(QUIET).await;
    clock.advance(49 * MS);
    assert_eq!(drain(&mut client).await, 0);
    clock.advance(MS + 50 * MS); // in at R/2; first round R/2 later
    let first = drain(&mut client).await as u64;
    let r0 = warm.response.rounds().next().unwrap();
    assert_eq!(first, r0.end, "a warm connection's first round is its window: {}", r0.end);
    clock.advance(100 * MS);
    assert_eq!(first + drain(&mut client).await as u64, total);
    let _ = serve.await;
}

#[tokio::test]
async fn an_idle_connection_restarts_its_window() {
    let (clock, _, mut client, server) = pipe();
    let body = 100_000usize;
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {body}\r\n\r\n");
    let serve = serve_twice(server, head, body);
    let req = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n";
    client.write_all(req).await.unwrap();
    tokio::time::sleep(QUIET).await;
    clock.advance(Duration::from_secs(1));
    let mut got = 0;
    while got < body {
        got += drain(&mut client).await;
    }
    // Idle for a minute (RTO 300 ms): the window is back to 10 segments.
    clock.advance(Duration::from_secs(60));
    client.write_all(req).await.unwrap();
    tokio::time::sleep(QUIET).await;
    clock.advance(100 * MS); // in at R/2, first round R/2 later
    assert_eq!(drain(&mut client).await, 14_600, "10 segments, as on a new connection");
    clock.advance(Duration::from_secs(1));
    drain(&mut client).await;
    let _ = serve.await;
}

#[tokio::test]
async fn an_unpaced_connection_is_its_stream() {
    let (mut client, server) = tokio::io::duplex(1024);
    let mut server = Paced::unpaced(server);
    assert!(!server.is_paced());
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(server.read(&mut buf).await.unwrap(), 18);
    server.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
    assert_eq!(client.read(&mut buf).await.unwrap(), 38);
}

/// A GeoIP database whose places differ from `w`'s networks: Seoul's and
/// Tokyo's client networks swapped, New York's further networks left
/// out, and 10.9.0.0/16 in Osaka (near no region).
fn elsewhere(w: &World) -> Arc<geoip::GeoIp> {
    let mut d = w.clone();
    let at = |name: &str| d.regions.iter().position(|r| r.name == name).unwrap();
    let (seoul, tokyo, newyork) = (at("seoul"), at("tokyo"), at("newyork"));
    let c = d.regions[seoul].clients;
    d.regions[seoul].clients = d.regions[tokyo].clients;
    d.regions[tokyo].clients = c;
    d.regions[newyork].geoip.clear();
    let mut osaka = d.regions[tokyo].clone();
    (osaka.name, osaka.city, osaka.lat, osaka.lon) = ("osaka".into(), "Osaka".into(), 34.69, 135.50);
    (osaka.clients, osaka.geoip) = ("10.9.0.0/16".parse().unwrap(), Vec::new());
    d.regions.push(osaka);
    Arc::new(geoip::GeoIp::from_bytes(geoip::build::build(&d).unwrap(), "elsewhere").unwrap())
}

#[test]
fn with_a_geoip_database_a_peer_takes_the_link_from_where_it_places_it() {
    let w = World::demo().unwrap();
    let clock = Clock::manual(UNIX_EPOCH);
    let plain = Pacing::new(&w, "seoul", clock);
    let located = plain.clone().with_geoip(elsewhere(&w));
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let link = |a: &str| w.link(a, "seoul");
    // 127.1.x.y: Seoul by the world's networks, Tokyo by the database.
    assert_eq!(plain.link_for(ip("127.1.1.1")), link("seoul"));
    assert_eq!(located.link_for(ip("127.1.1.1")), link("tokyo"));
    assert_eq!(located.link_for(ip("127.2.1.1")), link("seoul"));
    // Between regions: the link from the point.
    let osaka = located.link_for(ip("10.9.1.1")).unwrap();
    assert_eq!(Some(osaka), w.link_from_point(34.69, 135.50, "seoul"));
    assert!(osaka.rtt != link("tokyo").unwrap().rtt && osaka.rtt != link("seoul").unwrap().rtt);
    assert_eq!(plain.link_for(ip("10.9.1.1")), None);
    // Not in the database: the world's networks; in neither: not paced.
    assert_eq!(located.link_for(ip("192.0.2.200")), link("newyork"));
    assert_eq!(located.link_for(ip("127.0.0.1")), None);
    // Pacing off stays off.
    assert!(!Pacing::off().with_geoip(elsewhere(&w)).is_on());
}

/// Fetching from an upstream that paces nothing: the request goes out at
/// once, the response (written by the upstream all at once) is read by
/// the model's rounds, as the paced server's would arrive; the next fetch
/// on the connection is warm.
#[tokio::test]
async fn a_fetch_from_an_upstream_that_does_not_pace_reads_its_response_by_rounds() {
    let clock = Clock::manual(UNIX_EPOCH + Duration::from_secs(1_000_000));
    let link = Link::ideal(100 * MS);
    let (mut upstream, edge) = tokio::io::duplex(4 << 20);
    let local: SocketAddr = "127.1.0.1:40000".parse().unwrap();
    let mut edge = Fetching { over: Some((link, clock.clone())) }.wrap(edge, local);
    let body = 100_000usize;
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {body}\r\n\r\n");
    let total = (head.len() + body) as u64;
    let req = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n";
    let cold = plan(&link, &Conn::Cold, req.len() as u64, total, clock.now(), 1);
    assert_eq!(cold.response.round_count, 3);
    for round in 0..2 {
        edge.write_all(req).await.unwrap();
        let mut buf = [0u8; 128];
        assert_eq!(upstream.read(&mut buf).await.unwrap(), req.len(), "the request goes out at once");
        upstream.write_all(head.as_bytes()).await.unwrap();
        upstream.write_all(&vec![7u8; body]).await.unwrap();
        if round == 1 {
            // Warm: in at R/2, the whole response (its window) R/2 later.
            clock.advance(99 * MS);
            assert_eq!(drain(&mut edge).await, 0);
            clock.advance(MS);
            assert_eq!(drain(&mut edge).await as u64, total);
            break;
        }
        clock.advance(150 * MS); // the handshake and the request
        assert_eq!(drain(&mut edge).await, 0, "nothing before the first round's R/2");
        let mut got = 0;
        for (i, r) in cold.response.rounds().enumerate() {
            clock.advance(if i == 0 { 50 * MS } else { 100 * MS });
            got += drain(&mut edge).await;
            assert_eq!(got as u64, r.end, "round {i}");
        }
    }
}

//! Helpers: a world on ephemeral ports, geodns in-process,
//! a DNS client bound to a chosen source address, a tiny HTTP client.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use geodns::health::Mode;
use hickory_server::proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_server::proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_server::proto::rr::{Name, RData, RecordType};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};
use world::World;

/// Longest wait for one TCP or HTTP answer (a hang fails the test, a busy machine does not).
pub const T: Duration = tests::PATIENCE;

/// The demo world with geodns on ephemeral ports.
pub fn world() -> World {
    let mut w = World::demo().unwrap();
    w.geodns.dns = "127.0.0.1:0".parse().unwrap();
    w.geodns.http = "127.0.0.1:0".parse().unwrap();
    w
}

pub async fn start(w: &World, health: Mode) -> geodns::Handle {
    let mut c = geodns::Config::from_world(w);
    c.health = health;
    c.udp_workers = 1;
    geodns::spawn(c).await.unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A query for `name`/`qtype`, with an ECS option when `ecs` is given.
pub fn query(name: &str, qtype: RecordType, ecs: Option<&str>) -> Vec<u8> {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    if let Some(s) = ecs {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::from_str(s).unwrap()));
        m.edns = Some(e);
    }
    m.to_vec().unwrap()
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static ID: AtomicU16 = AtomicU16::new(1);
    ID.fetch_add(7919, Ordering::Relaxed)
}

/// Sends `q` over UDP from `from` and waits for the answer (asking again
/// every second, as a resolver would, for up to [`T`]).
pub async fn udp(server: SocketAddr, from: IpAddr, q: &[u8]) -> Message {
    let s = UdpSocket::bind(SocketAddr::new(from, 0)).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + T;
    while tokio::time::Instant::now() < deadline {
        s.send_to(q, server).await.unwrap();
        if let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_secs(1), s.recv_from(&mut buf)).await {
            return Message::from_vec(&buf[..n]).unwrap();
        }
    }
    panic!("no UDP answer from {server} in {T:?}");
}

/// Sends `q` over TCP from `from` and reads the answer.
pub async fn tcp(server: SocketAddr, from: IpAddr, q: &[u8]) -> Message {
    tokio::time::timeout(T, async {
        let sock = TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(from, 0)).unwrap();
        let mut s = sock.connect(server).await.unwrap();
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(q);
        s.write_all(&framed).await.unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.unwrap();
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await.unwrap();
        Message::from_vec(&buf).unwrap()
    })
    .await
    .expect("TCP answer in time")
}

/// The A/AAAA addresses of an answer.
pub fn addrs(m: &Message) -> Vec<IpAddr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// The ECS option echoed in an answer.
pub fn ecs(m: &Message) -> Option<ClientSubnet> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(cs) => Some(*cs),
        _ => None,
    }
}

/// `GET path` on `server` from source address `from`, with extra headers.
pub async fn http_get(
    server: SocketAddr,
    from: IpAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, String) {
    tokio::time::timeout(T, async {
        let sock = TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(from, 0)).unwrap();
        let s = sock.connect(server).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
        tokio::spawn(conn);
        let mut req = http::Request::get(path).header("host", server.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = send.send_request(req.body(Empty::<Bytes>::new()).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (parts.status.as_u16(), parts.headers, String::from_utf8_lossy(&body).into_owned())
    })
    .await
    .expect("HTTP answer in time")
}

//! Garbage in: no crash, and the server keeps answering.

use std::net::SocketAddr;
use std::time::Duration;

use geodns::health::Mode;
use hickory_server::proto::rr::RecordType;
use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;

use crate::support::*;

fn packets() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let good = query("cdn.test.", RecordType::A, Some("203.0.113.0/24"));
    // Every truncation of a good query.
    for cut in 0..good.len() {
        v.push(good[..cut].to_vec());
    }
    // Every single-byte corruption of the header and question.
    for i in 0..good.len() {
        let mut p = good.clone();
        p[i] ^= 0xFF;
        v.push(p);
    }
    // Random bytes of random lengths (seeded, so failures reproduce).
    let mut rng = world::rng::Rng::new(42);
    for _ in 0..400 {
        let mut p = vec![0u8; rng.below(600) as usize];
        rng.fill(&mut p);
        v.push(p);
    }
    // Hand-made nasties: a compression loop, a label past the end, a
    // response (never answered), many questions, ECS with a bad family and
    // a too-long prefix, an OPT claiming more data than there is.
    let hdr = |qd: u8, ar: u8| vec![0x12, 0x34, 0x00, 0x00, 0, qd, 0, 0, 0, 0, 0, ar];
    let mut p = hdr(1, 0);
    p.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
    v.push(p);
    let mut p = hdr(1, 0);
    p.extend_from_slice(&[63, b'a', b'b']);
    v.push(p);
    let mut p = good;
    p[2] |= 0x80;
    v.push(p);
    let mut p = hdr(200, 0);
    for _ in 0..5 {
        p.extend_from_slice(&[3, b'c', b'd', b'n', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1]);
    }
    v.push(p);
    for (fam, src) in [(9u8, 24u8), (1, 40), (2, 200), (1, 0)] {
        let mut p = hdr(1, 1);
        p.extend_from_slice(&[3, b'c', b'd', b'n', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1]);
        p.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, fam, src, 0, 203, 0, 113]);
        v.push(p);
    }
    let mut p = hdr(1, 1);
    p.extend_from_slice(&[3, b'c', b'd', b'n', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1]);
    p.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0xFF, 0xFF, 0, 8]);
    v.push(p);
    v
}

async fn still_answers(dns: SocketAddr) {
    let q = query("cdn.test.", RecordType::A, Some("198.51.100.0/24"));
    assert_eq!(addrs(&udp(dns, ip("127.0.0.1"), &q).await), vec![ip("127.2.0.1")]);
    assert_eq!(addrs(&tcp(dns, ip("127.0.0.1"), &q).await), vec![ip("127.2.0.1")]);
}

#[tokio::test]
async fn malformed_truncated_and_random_packets_do_not_stop_the_server() {
    let g = start(&world(), Mode::Off).await;
    let ps = packets();
    // UDP: fire everything, read whatever comes back (answers must parse
    // or be header-only FORMERR), then a normal query.
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for p in &ps {
        s.send_to(p, g.dns).await.unwrap();
    }
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(300), s.recv_from(&mut buf)).await {
        assert!(n >= 12, "runt answer of {n} bytes");
        assert_ne!(buf[2] & 0x80, 0, "answer without QR");
    }
    still_answers(g.dns).await;
    // TCP: each packet framed on its own connection, and raw garbage.
    for p in ps.iter().step_by(7) {
        let mut c = tokio::net::TcpStream::connect(g.dns).await.unwrap();
        let mut framed = (p.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(p);
        let _ = c.write_all(&framed).await;
        let mut c2 = tokio::net::TcpStream::connect(g.dns).await.unwrap();
        let _ = c2.write_all(p).await;
    }
    still_answers(g.dns).await;
    g.shutdown().await.unwrap();
}

/// Issue 12, defect 8: each malformed EDNS option cost a WARN line (hickory
/// logs one per query), so anyone could flood the log. The line is now
/// throttled (runtime::logging, tested there) and the queries are counted.
#[tokio::test]
async fn malformed_edns_options_are_counted_in_metrics() {
    let g = start(&world(), Mode::Off).await;
    // An ECS option claiming 6 bytes with 4 left in the record (the shape
    // hickory warns about), then one whose address has bits past its prefix.
    let q = |rdata: &[u8]| {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[3, b'c', b'd', b'n', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1]);
        p.extend_from_slice(&[0, 0, 41, 16, 0, 0, 0, 0, 0, 0, rdata.len() as u8]);
        p.extend_from_slice(rdata);
        p
    };
    let incomplete = q(&[0, 8, 0, 6, 0, 1, 24, 0]);
    let bits_past_prefix = q(&[0, 8, 0, 7, 0, 1, 16, 0, 203, 0, 113]);
    assert!(geodns::udp::edns_malformed(&incomplete) && geodns::udp::edns_malformed(&bits_past_prefix));
    let good = query("cdn.test.", RecordType::A, Some("198.51.100.0/24"));
    assert!(!geodns::udp::edns_malformed(&good));
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = vec![0u8; 4096];
    for p in [&incomplete, &bits_past_prefix].into_iter().cycle().take(50) {
        s.send_to(p, g.dns).await.unwrap();
        let (n, _) = tokio::time::timeout(T, s.recv_from(&mut buf)).await.unwrap().unwrap();
        assert!(n >= 12 && buf[2] & 0x80 != 0, "answered");
    }
    let (_, _, metrics) = http_get(g.http, ip("127.0.0.1"), "/metrics", &[]).await;
    assert!(metrics.contains("cdnlab_geodns_dns_malformed_edns_total 50"), "{metrics}");
    still_answers(g.dns).await;
    g.shutdown().await.unwrap();
}

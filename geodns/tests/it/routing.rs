//! Where each client is sent.

use geodns::health::Mode;
use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::{RData, RecordType};

use crate::support::*;

#[tokio::test]
async fn each_region_by_source_address_over_udp_and_tcp() {
    let g = start(&world(), Mode::Off).await;
    for k in 1..=3 {
        let from = ip(&format!("127.{k}.4.5"));
        let want = vec![ip(&format!("127.{k}.0.1"))];
        let q = query("cdn.test.", RecordType::A, None);
        let m = udp(g.dns, from, &q).await;
        assert_eq!(addrs(&m), want, "udp from {from}");
        assert!(m.metadata.authoritative);
        assert_eq!(m.answers[0].ttl, 20);
        assert_eq!(addrs(&tcp(g.dns, from, &q).await), want, "tcp from {from}");
    }
    g.shutdown().await.unwrap();
}

#[tokio::test]
async fn each_region_by_ecs_v4_and_v6_with_the_scope_of_its_network() {
    let g = start(&world(), Mode::Off).await;
    let lo = ip("127.0.0.1");
    for (subnet, edge, scope) in [
        ("127.1.7.0/24", "127.1.0.1", 16),
        ("203.0.113.0/24", "127.1.0.1", 24),
        ("2001:db8:1::/48", "127.1.0.1", 48),
        ("127.2.200.0/24", "127.2.0.1", 16),
        ("198.51.100.0/24", "127.2.0.1", 24),
        ("2001:db8:2:4400::/56", "127.2.0.1", 48),
        ("127.3.0.0/16", "127.3.0.1", 16),
        ("192.0.2.128/25", "127.3.0.1", 24),
        ("2001:db8:3::/48", "127.3.0.1", 48),
    ] {
        let q = query("cdn.test.", RecordType::A, Some(subnet));
        for m in [udp(g.dns, lo, &q).await, tcp(g.dns, lo, &q).await] {
            assert_eq!(addrs(&m), vec![ip(edge)], "ECS {subnet}");
            let echo = ecs(&m).expect("ECS echoed");
            let sent: ipnet::IpNet = subnet.parse().unwrap();
            assert_eq!(echo.addr(), sent.addr(), "{subnet}");
            assert_eq!(echo.source_prefix(), sent.prefix_len(), "{subnet}");
            assert_eq!(echo.scope_prefix(), scope, "ECS {subnet}");
        }
    }
    g.shutdown().await.unwrap();
}

#[tokio::test]
async fn ecs_wins_over_the_source_address_and_prefix_zero_means_source() {
    let g = start(&world(), Mode::Off).await;
    let q = query("cdn.test.", RecordType::A, Some("127.3.0.0/24"));
    assert_eq!(addrs(&udp(g.dns, ip("127.1.0.1"), &q).await), vec![ip("127.3.0.1")]);
    // Source prefix 0: the client asked for its address not to be used.
    let q = query("cdn.test.", RecordType::A, Some("0.0.0.0/0"));
    let m = udp(g.dns, ip("127.2.0.1"), &q).await;
    assert_eq!(addrs(&m), vec![ip("127.2.0.1")]);
    assert_eq!(ecs(&m).unwrap().scope_prefix(), 0);
    g.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_location_goes_to_the_default_region() {
    let g = start(&world(), Mode::Off).await;
    // The demo world's default region is newyork.
    let q = query("cdn.test.", RecordType::A, None);
    assert_eq!(addrs(&udp(g.dns, ip("127.0.0.1"), &q).await), vec![ip("127.3.0.1")]);
    let q = query("cdn.test.", RecordType::A, Some("127.9.0.0/24"));
    assert_eq!(addrs(&udp(g.dns, ip("127.1.0.1"), &q).await), vec![ip("127.3.0.1")]);
    let q = query("cdn.test.", RecordType::A, Some("2001:db8:9::/48"));
    assert_eq!(addrs(&tcp(g.dns, ip("127.1.0.1"), &q).await), vec![ip("127.3.0.1")]);
    g.shutdown().await.unwrap();
}

/// A GeoLite2-City-shaped file with places that are no region's city: the
/// answer is the edge with the lowest great-circle RTT.
#[tokio::test]
async fn a_place_between_regions_goes_to_the_modelled_nearest_edge() {
    #[derive(serde::Serialize)]
    struct Names {
        en: &'static str,
    }
    #[derive(serde::Serialize)]
    struct City {
        names: Names,
    }
    #[derive(serde::Serialize)]
    struct Location {
        latitude: f64,
        longitude: f64,
    }
    #[derive(serde::Serialize)]
    struct Rec {
        city: City,
        location: Location,
    }
    let places = [
        ("127.200.0.0/16", "Honolulu", 21.31, -157.86),
        ("127.201.0.0/16", "London", 51.51, -0.13),
        ("127.202.0.0/16", "Busan", 35.18, 129.08),
        ("127.203.0.0/16", "Chicago", 41.88, -87.63),
    ];
    let mut w = mmdb_writer::Writer::builder("GeoLite2-City").build();
    for (net, city, lat, lon) in places {
        let rec =
            Rec { city: City { names: Names { en: city } }, location: Location { latitude: lat, longitude: lon } };
        w.insert(net.parse::<ipnet::IpNet>().unwrap(), &rec).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("places.mmdb");
    std::fs::write(&path, w.to_bytes().unwrap()).unwrap();

    let world = world();
    let mut c = geodns::Config::from_world(&world);
    c.health = Mode::Off;
    c.mmdb = geodns::Mmdb::File(path);
    let g = geodns::spawn(c).await.unwrap();
    for (net, city, lat, lon) in places {
        // The expected edge, from the formula itself.
        let want = world
            .edges
            .iter()
            .min_by_key(|e| {
                let r = world.region(&e.region).unwrap();
                world::latency::rtt_between_points(lat, lon, r.lat, r.lon)
            })
            .unwrap();
        let sub = net.replace(".0.0/16", ".1.0/24");
        let m = udp(g.dns, ip("127.0.0.1"), &query("cdn.test.", RecordType::A, Some(&sub))).await;
        assert_eq!(addrs(&m), vec![want.listen.ip()], "{city}");
        assert_eq!(ecs(&m).unwrap().scope_prefix(), 16, "{city}");
    }
    // Honolulu is nearest Tokyo, London and Chicago nearest New York; Busan
    // is within reach of Seoul's table only by great circle (over 50 km).
    let m = udp(g.dns, ip("127.200.3.4"), &query("cdn.test.", RecordType::A, None)).await;
    assert_eq!(addrs(&m), vec![ip("127.2.0.1")]);
    let (_, _, body) = http_get(g.http, ip("127.0.0.1"), "/resolve?ip=127.201.0.9", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["edge"], "newyork");
    assert_eq!(v["basis"]["kind"], "point");
    g.shutdown().await.unwrap();
}

#[tokio::test]
async fn zone_records_and_errors() {
    let mut w = world();
    w.edges[1].ipv6 = Some("2001:db8:2::1".parse().unwrap());
    let g = start(&w, Mode::Off).await;
    let from = ip("127.2.0.7");
    // AAAA where the edge has one; NODATA (SOA in authority) where not.
    let m = udp(g.dns, from, &query("cdn.test.", RecordType::AAAA, None)).await;
    assert_eq!(addrs(&m), vec![ip("2001:db8:2::1")]);
    let m = udp(g.dns, ip("127.1.0.7"), &query("cdn.test.", RecordType::AAAA, None)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    // ANY: the chosen edge's addresses.
    let m = tcp(g.dns, from, &query("cdn.test.", RecordType::ANY, None)).await;
    assert_eq!(addrs(&m), vec![ip("127.2.0.1"), ip("2001:db8:2::1")]);
    // Case does not matter.
    let m = udp(g.dns, from, &query("CdN.TeSt.", RecordType::A, None)).await;
    assert_eq!(addrs(&m), vec![ip("127.2.0.1")]);
    // SOA and NS with glue.
    let m = udp(g.dns, from, &query("cdn.test.", RecordType::SOA, None)).await;
    assert!(matches!(m.answers[0].data, RData::SOA(_)));
    let m = udp(g.dns, from, &query("cdn.test.", RecordType::NS, None)).await;
    assert!(matches!(&m.answers[0].data, RData::NS(ns) if ns.0.to_string() == "ns.cdn.test."));
    let mut glue = m.clone();
    glue.answers = m.additionals.clone();
    assert_eq!(addrs(&glue), vec![ip("127.0.0.1")]);
    let m = udp(g.dns, from, &query("ns.cdn.test.", RecordType::A, None)).await;
    assert_eq!(addrs(&m), vec![ip("127.0.0.1")]);
    // NXDOMAIN inside the zone, REFUSED outside it.
    let m = udp(g.dns, from, &query("www.cdn.test.", RecordType::A, None)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    let m = tcp(g.dns, from, &query("example.org.", RecordType::A, None)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    let m = udp(g.dns, from, &query("test.", RecordType::A, None)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // Types without data at the apex: NODATA.
    let m = udp(g.dns, from, &query("cdn.test.", RecordType::MX, None)).await;
    assert_eq!((m.metadata.response_code, m.answers.len()), (ResponseCode::NoError, 0));
    g.shutdown().await.unwrap();
}

/// Answers to one client are grouped into segmented sends (UDP GSO) when
/// they arrive together; the client must still get one well-formed
/// datagram per query, each answering its own question.
#[tokio::test]
async fn a_burst_from_one_client_gets_one_answer_per_query() {
    let g = start(&world(), Mode::Off).await;
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let subnets = ["127.1.0.0/24", "127.2.0.0/24", "127.3.0.0/24", "203.0.113.0/24"];
    let mut want = std::collections::HashMap::new();
    for i in 0..100u16 {
        let region = usize::from(i) % subnets.len();
        let mut q = query("cdn.test.", RecordType::A, Some(subnets[region]));
        q[..2].copy_from_slice(&i.to_be_bytes());
        want.insert(i, ip(&format!("127.{}.0.1", region % 3 + 1)));
        s.send_to(&q, g.dns).await.unwrap();
    }
    let mut buf = [0u8; 4096];
    while !want.is_empty() {
        let (n, _) = tokio::time::timeout(tests::PATIENCE, s.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no answer for ids {:?}", want.keys()))
            .unwrap();
        let m = hickory_server::proto::op::Message::from_vec(&buf[..n]).expect("one DNS message per datagram");
        let edge = want.remove(&m.metadata.id).expect("an answer to a query sent once, answered once");
        assert_eq!(addrs(&m), vec![edge], "id {}", m.metadata.id);
    }
    // The counts land just after each batch is sent. How many answers went
    // segmented depends on timing; never more than were answered.
    let sample = |m: &str, name: &str| -> u64 {
        m.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok()).expect(name)
    };
    let noerror = "cdnlab_geodns_dns_responses_total{transport=\"udp\",rcode=\"noerror\"}";
    tests::eventually("100 answers counted", || async {
        sample(&http_get(g.http, ip("127.0.0.1"), "/metrics", &[]).await.2, noerror) >= 100
    })
    .await;
    let m = http_get(g.http, ip("127.0.0.1"), "/metrics", &[]).await.2;
    assert_eq!(sample(&m, noerror), 100, "{m}");
    assert!(sample(&m, "cdnlab_geodns_udp_segmented_answers_total") <= 100, "{m}");
    g.shutdown().await.unwrap();
}

/// Answers are counted by the client's region (by source address or ECS;
/// `other` when located in no region) and the edge answered, on `/stats`
/// and as `/metrics` labels, over UDP (the fast path) and TCP alike.
#[tokio::test]
async fn answers_are_counted_per_client_region_and_edge() {
    let g = start(&world(), Mode::Off).await;
    let q = query("cdn.test.", RecordType::A, None);
    for _ in 0..3 {
        udp(g.dns, ip("127.2.4.5"), &q).await; // tokyo by source → tokyo
    }
    tcp(g.dns, ip("127.2.4.5"), &q).await;
    let ecs_seoul = query("cdn.test.", RecordType::A, Some("203.0.113.0/24"));
    udp(g.dns, ip("127.2.4.5"), &ecs_seoul).await; // seoul by ECS, from a tokyo address
    udp(g.dns, ip("127.0.0.1"), &q).await; // no location → default region's edge, client region "other"
    let (status, _, body) = http_get(g.http, ip("127.0.0.1"), "/stats", &[]).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let by = &v["answers_by_region"];
    assert_eq!(by["tokyo"]["tokyo"], 4, "{body}");
    assert_eq!(by["seoul"]["seoul"], 1, "{body}");
    assert_eq!(by["other"]["newyork"], 1, "{body}");
    assert!(by["tokyo"].get("seoul").is_none() && by.get("newyork").is_none(), "{body}");
    let (_, _, metrics) = http_get(g.http, ip("127.0.0.1"), "/metrics", &[]).await;
    for line in [
        "cdnlab_geodns_dns_answers_by_region_total{client_region=\"tokyo\",edge=\"tokyo\"} 4",
        "cdnlab_geodns_dns_answers_by_region_total{client_region=\"seoul\",edge=\"seoul\"} 1",
        "cdnlab_geodns_dns_answers_by_region_total{client_region=\"other\",edge=\"newyork\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in\n{metrics}");
    }
    g.shutdown().await.unwrap();
}

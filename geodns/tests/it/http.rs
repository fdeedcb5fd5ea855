//! The HTTP side: /resolve, /r/{path}, /edges, /metrics.

use geodns::health::Mode;
use hickory_server::proto::rr::RecordType;

use crate::support::*;

#[tokio::test]
async fn resolve_explains_the_decision() {
    let g = start(&world(), Mode::Off).await;
    for (q, edge, region, city) in [
        ("203.0.113.7", "seoul", "seoul", "Seoul"),
        ("2001:db8:2::42", "tokyo", "tokyo", "Tokyo"),
        ("127.3.9.9", "newyork", "newyork", "New York"),
    ] {
        let (status, _, body) = http_get(g.http, ip("127.0.0.1"), &format!("/resolve?ip={q}"), &[]).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["edge"], edge);
        assert_eq!(v["region"], region);
        assert_eq!(v["geoip"]["city"], city);
        assert_eq!(v["rtt_ms"], 2.0);
        assert_eq!(v["origin_fallback"], false);
        assert_eq!(v["health"], "off");
        assert_eq!(v["ranking"].as_array().unwrap().len(), 3);
        assert!(v["why"].as_str().unwrap().contains(&format!("nearest edge is {edge}")), "{v}");
    }
    // Unknown: default region. Without ?ip: the caller's address.
    let (_, _, body) = http_get(g.http, ip("127.0.0.1"), "/resolve?ip=127.99.0.1", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["edge"].as_str(), v["basis"]["kind"].as_str()), (Some("newyork"), Some("unknown")));
    let (_, _, body) = http_get(g.http, ip("127.2.0.9"), "/resolve", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["edge"].as_str(), v["located_by"].as_str()), (Some("tokyo"), Some("source")));
    // Bad input is a clear 400.
    let (status, _, body) = http_get(g.http, ip("127.0.0.1"), "/resolve?ip=not-an-ip", &[]).await;
    assert_eq!(status, 400);
    assert!(body.contains("not an IP address"), "{body}");
    g.shutdown().await.unwrap();
}

#[tokio::test]
async fn redirect_uses_the_connection_source_and_forwarded_for_only_from_trusted_proxies() {
    // The demo world trusts 127.0.0.1 only.
    let g = start(&world(), Mode::Off).await;
    let (status, h, _) = http_get(g.http, ip("127.2.0.9"), "/r/obj/1?v=2", &[]).await;
    assert_eq!(status, 302);
    assert_eq!(h["location"], "http://127.2.0.1:8080/obj/1?v=2");
    assert_eq!(h["x-cdnlab-target"], "edge-tokyo");
    // The path goes on as sent, still percent-encoded.
    let (_, h, _) = http_get(g.http, ip("127.2.0.9"), "/r/img/a%20b.jpg", &[]).await;
    assert_eq!(h["location"], "http://127.2.0.1:8080/img/a%20b.jpg");
    // Untrusted peer (127.2.0.9): its X-Forwarded-For is ignored.
    let xff = [("x-forwarded-for", "127.1.0.5")];
    let (_, h, _) = http_get(g.http, ip("127.2.0.9"), "/r/img/cat.jpg", &xff).await;
    assert_eq!(h["location"], "http://127.2.0.1:8080/img/cat.jpg");
    // Trusted peer (127.0.0.1): the forwarded client counts.
    let (_, h, _) = http_get(g.http, ip("127.0.0.1"), "/r/img/cat.jpg", &xff).await;
    assert_eq!(h["location"], "http://127.1.0.1:8080/img/cat.jpg");
    let (_, h, _) = http_get(g.http, ip("127.0.0.1"), "/r/x", &[("x-forwarded-for", "2001:db8:3::1")]).await;
    assert_eq!(h["location"], "http://127.3.0.1:8080/x");
    g.shutdown().await.unwrap();
}

#[tokio::test]
async fn edges_table_metrics_and_not_found() {
    let g = start(&world(), Mode::Off).await;
    let (_, _, body) = http_get(g.http, ip("127.0.0.1"), "/edges", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["health"], "off");
    let names: Vec<&str> = v["edges"].as_array().unwrap().iter().map(|e| e["edge"].as_str().unwrap()).collect();
    assert_eq!(names, ["seoul", "tokyo", "newyork"]);
    for _ in 0..3 {
        udp(g.dns, ip("127.1.0.3"), &query("cdn.test.", RecordType::A, Some("127.1.0.0/24"))).await;
    }
    tcp(g.dns, ip("127.1.0.3"), &query("nope.cdn.test.", RecordType::A, None)).await;
    assert_eq!(http_get(g.http, ip("127.0.0.1"), "/healthz", &[]).await.0, 200);
    // The UDP loop counts a batch just after sending it: a client can hold
    // its answer before the count lands.
    let udp3 = "cdnlab_geodns_dns_responses_total{transport=\"udp\",rcode=\"noerror\"} 3";
    tests::eventually("three UDP answers counted", || async {
        http_get(g.http, ip("127.0.0.1"), "/metrics", &[]).await.2.contains(udp3)
    })
    .await;
    let (status, _, m) = http_get(g.http, ip("127.0.0.1"), "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(m.contains(udp3), "{m}");
    assert!(m.contains("cdnlab_geodns_dns_responses_total{transport=\"tcp\",rcode=\"nxdomain\"} 1"), "{m}");
    assert!(m.contains("cdnlab_geodns_dns_answers_total{edge=\"seoul\"} 3"), "{m}");
    assert!(m.contains("cdnlab_geodns_dns_ecs_queries_total 3"), "{m}");
    assert!(m.contains("cdnlab_geodns_edge_up{edge=\"tokyo\"} -1"), "{m}");
    assert!(m.contains("cdnlab_geodns_http_requests_total{route=\"healthz\"} 1"), "{m}");
    assert!(m.contains("cdnlab_geodns_http_requests_total{route=\"edges\"} 1"), "{m}");
    let (status, _, _) = http_get(g.http, ip("127.0.0.1"), "/nope", &[]).await;
    assert_eq!(status, 404);
    g.shutdown().await.unwrap();
}

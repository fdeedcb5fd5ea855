//! Failover by health checks, and the origin fallback.

use std::time::Duration;

use geodns::health::Mode;
use hickory_server::proto::rr::RecordType;
use tests::scripted::{Reply, ScriptedOrigin};
use world::World;

use crate::support::*;

const INTERVAL: Duration = Duration::from_millis(150);

/// A world whose edges' admin addresses are stand-ins answering
/// `/healthz`, checked every 150 ms (fall 2, rise 2).
async fn world_with_stand_ins() -> (World, Vec<ScriptedOrigin>) {
    let mut w = world();
    let mut ins = Vec::new();
    for e in w.edges.iter_mut() {
        let s = ScriptedOrigin::start().await;
        s.set("/healthz", Reply::ok("ok\n"));
        e.admin = s.addr;
        ins.push(s);
    }
    w.geodns.health.interval = world::Dur(INTERVAL);
    w.geodns.health.timeout = world::Dur(Duration::from_millis(100));
    (w, ins)
}

async fn a_for(g: &geodns::Handle, from: &str) -> Vec<std::net::IpAddr> {
    addrs(&udp(g.dns, ip(from), &query("cdn.test.", RecordType::A, None)).await)
}

async fn edges_json(g: &geodns::Handle) -> serde_json::Value {
    serde_json::from_str(&http_get(g.http, ip("127.0.0.1"), "/edges", &[]).await.2).unwrap()
}

#[tokio::test]
async fn failover_within_two_intervals_and_back_after_recovery() {
    let (w, mut ins) = world_with_stand_ins().await;
    let g = start(&w, Mode::Check).await;
    // All three up (health armed).
    let up = until(Duration::from_secs(5), || async {
        edges_json(&g).await["edges"].as_array().unwrap().iter().all(|e| e["state"] == "up")
    })
    .await;
    assert!(up.is_some(), "edges never came up: {}", edges_json(&g).await);
    assert_eq!(a_for(&g, "127.1.0.9").await, vec![ip("127.1.0.1")]);

    // Seoul's edge stops: Seoul's clients go to the next nearest, Tokyo.
    ins[0].stop().await;
    let took = until(INTERVAL * 6, || async { a_for(&g, "127.1.0.9").await == vec![ip("127.2.0.1")] }).await;
    let took = took.expect("no failover");
    // fall = 2: two failed checks, at most two intervals after the stop
    // (plus scheduling slack on a busy machine).
    assert!(took <= INTERVAL * 2 + Duration::from_millis(250), "failover took {took:?}");
    assert_eq!(a_for(&g, "127.2.0.9").await, vec![ip("127.2.0.1")]);
    let (_, _, body) = http_get(g.http, ip("127.0.0.1"), "/resolve?ip=127.1.0.9", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["edge"], "tokyo");
    assert!(v["why"].as_str().unwrap().contains("seoul down"), "{v}");
    assert_eq!(v["health"], "checked");

    // It returns: back to Seoul after `rise` good checks.
    ins[0].resume().await;
    let back = until(INTERVAL * 8, || async { a_for(&g, "127.1.0.9").await == vec![ip("127.1.0.1")] }).await;
    let back = back.expect("never returned to seoul");
    assert!(back <= INTERVAL * 3 + Duration::from_millis(200), "return took {back:?}");
    g.shutdown().await.unwrap();
    for s in &mut ins {
        s.stop().await;
    }
}

#[tokio::test]
async fn no_healthy_edge_answers_the_origin_and_says_so() {
    let (w, mut ins) = world_with_stand_ins().await;
    let g = start(&w, Mode::Check).await;
    assert!(until(Duration::from_secs(5), || async { edges_json(&g).await["health"] == "checked" }).await.is_some());
    for s in &mut ins {
        s.stop().await;
    }
    let origin = vec![w.origin.listen.ip()];
    assert!(until(INTERVAL * 8, || async { a_for(&g, "127.2.0.9").await == origin }).await.is_some());
    let (_, _, body) = http_get(g.http, ip("127.0.0.1"), "/resolve?ip=198.51.100.4", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["origin_fallback"], true);
    assert_eq!(v["address"], w.origin.listen.to_string());
    assert!(v["why"].as_str().unwrap().contains("no edge is healthy"), "{v}");
    let (status, headers, _) = http_get(g.http, ip("127.2.0.9"), "/r/obj/1", &[]).await;
    assert_eq!(status, 302);
    assert_eq!(headers["location"], format!("http://{}/obj/1", w.origin.listen));
    g.shutdown().await.unwrap();
}

/// Before any edge has answered a check (edges not started, or geodns run
/// alone as in the DNS benchmark) routing is by distance alone.
#[tokio::test]
async fn before_any_edge_answers_routing_is_by_distance() {
    let mut w = world();
    for e in w.edges.iter_mut() {
        // Nothing listens here: every check fails.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        e.admin = l.local_addr().unwrap();
    }
    w.geodns.health.interval = world::Dur(Duration::from_millis(50));
    let g = start(&w, Mode::Check).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let v = edges_json(&g).await;
    assert_eq!(v["health"], "unknown");
    assert!(v["edges"].as_array().unwrap().iter().all(|e| e["state"] == "down" && e["usable"] == true), "{v}");
    for k in 1..=3 {
        assert_eq!(a_for(&g, &format!("127.{k}.0.9")).await, vec![ip(&format!("127.{k}.0.1"))]);
    }
    g.shutdown().await.unwrap();
}

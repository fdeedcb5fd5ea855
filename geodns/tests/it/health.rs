//! Failover by health checks, and the origin fallback.

use std::time::Duration;

use geodns::health::Mode;
use hickory_server::proto::rr::RecordType;
use tests::scripted::{Reply, ScriptedOrigin};
use world::World;

use crate::support::*;

const INTERVAL: Duration = Duration::from_millis(100);

/// A world whose edges' admin addresses are stand-ins answering
/// `/healthz`, checked every 100 ms (fall 2, rise 2). The check timeout is
/// generous: a stopped stand-in refuses at once (its port stays reserved),
/// and a live one must not be marked down because the machine is busy.
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
    w.geodns.health.timeout = world::Dur(Duration::from_secs(5));
    (w, ins)
}

async fn a_for(g: &geodns::Handle, from: &str) -> Vec<std::net::IpAddr> {
    addrs(&udp(g.dns, ip(from), &query("cdn.test.", RecordType::A, None)).await)
}

async fn edges_json(g: &geodns::Handle) -> serde_json::Value {
    serde_json::from_str(&http_get(g.http, ip("127.0.0.1"), "/edges", &[]).await.2).unwrap()
}

/// Edge `i`'s row of `/edges`: (state, checks failed in a row, passed in a row).
async fn row(g: &geodns::Handle, i: usize) -> (String, u64, u64) {
    let v = edges_json(g).await;
    let e = &v["edges"][i];
    (e["state"].as_str().unwrap().to_string(), e["fail_streak"].as_u64().unwrap(), e["ok_streak"].as_u64().unwrap())
}

/// Asks, until the answer for a Seoul client is `to`, and checks on every
/// round that the answer moved exactly when the `streak` (failed or passed
/// checks in a row, as `/edges` reports them) reached 2, the world's
/// `fall` and `rise`: never before (an answer of `to` is followed by a row
/// showing the streak), never later (a row showing it is followed by `to`).
/// This runs on one thread with the health checks, so a row and the state
/// it shows are one moment.
async fn follow(g: &geodns::Handle, to: &str, streak: impl Fn(&(String, u64, u64)) -> u64) {
    let deadline = tokio::time::Instant::now() + tests::PATIENCE;
    for round in 1u64.. {
        let before = row(g, 0).await;
        let answer = a_for(g, "127.1.0.9").await;
        let after = row(g, 0).await;
        if answer == vec![ip(to)] {
            assert!(streak(&after) >= 2, "answered {to} in round {round} with the seoul edge at {after:?}");
            return;
        }
        assert!(streak(&before) < 2, "seoul edge at {before:?}, yet {answer:?} was answered");
        assert!(tokio::time::Instant::now() < deadline, "no move to {to} in {:?}: {after:?}", tests::PATIENCE);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unreachable!()
}

#[tokio::test]
async fn failover_after_fall_failed_checks_and_back_after_rise_good_ones() {
    let (w, mut ins) = world_with_stand_ins().await;
    let g = start(&w, Mode::Check).await;
    // All three up (health armed).
    tests::eventually("every edge up", || async {
        edges_json(&g).await["edges"].as_array().unwrap().iter().all(|e| e["state"] == "up")
    })
    .await;
    assert_eq!(a_for(&g, "127.1.0.9").await, vec![ip("127.1.0.1")]);

    // Seoul's edge stops: after two failed checks Seoul's clients go to the
    // next nearest, Tokyo.
    ins[0].stop().await;
    follow(&g, "127.2.0.1", |r| r.1).await;
    let (state, fails, _) = row(&g, 0).await;
    assert!(state == "down" && fails >= 2, "{state} after {fails} failed checks");
    assert_eq!(a_for(&g, "127.2.0.9").await, vec![ip("127.2.0.1")]);
    let (_, _, body) = http_get(g.http, ip("127.0.0.1"), "/resolve?ip=127.1.0.9", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["edge"], "tokyo");
    assert!(v["why"].as_str().unwrap().contains("seoul down"), "{v}");
    assert_eq!(v["health"], "checked");

    // It returns: back to Seoul after two good checks.
    ins[0].resume().await;
    follow(&g, "127.1.0.1", |r| r.2).await;
    g.shutdown().await.unwrap();
    for s in &mut ins {
        s.stop().await;
    }
}

#[tokio::test]
async fn no_healthy_edge_answers_the_origin_and_says_so() {
    let (w, mut ins) = world_with_stand_ins().await;
    let g = start(&w, Mode::Check).await;
    tests::eventually("health armed", || async { edges_json(&g).await["health"] == "checked" }).await;
    for s in &mut ins {
        s.stop().await;
    }
    let origin = vec![w.origin.listen.ip()];
    tests::eventually("the origin's address answered", || async { a_for(&g, "127.2.0.9").await == origin }).await;
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
    let mut dead = Vec::new();
    for e in w.edges.iter_mut() {
        // Nothing listens here, and nothing can start to: every check fails.
        let r = tests::net::reserve();
        e.admin = r.addr();
        dead.push(r);
    }
    w.geodns.health.interval = world::Dur(Duration::from_millis(50));
    let g = start(&w, Mode::Check).await;
    // Every edge has failed `fall` checks and is down, yet all stay usable.
    tests::eventually("every edge down", || async {
        edges_json(&g).await["edges"].as_array().unwrap().iter().all(|e| e["state"] == "down")
    })
    .await;
    let v = edges_json(&g).await;
    assert_eq!(v["health"], "unknown");
    assert!(v["edges"].as_array().unwrap().iter().all(|e| e["state"] == "down" && e["usable"] == true), "{v}");
    for k in 1..=3 {
        assert_eq!(a_for(&g, &format!("127.{k}.0.9")).await, vec![ip(&format!("127.{k}.0.1"))]);
    }
    g.shutdown().await.unwrap();
}

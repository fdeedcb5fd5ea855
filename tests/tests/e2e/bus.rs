//! Edges on the control bus (docs/bus.md) with a real `nats-server` on a
//! free loopback port: a purge given to one edge reaches every edge from
//! the world's purge log; an edge that was down while purges were issued
//! serves none of the purged objects when it returns; with the bus gone
//! edges keep serving (what they cannot vouch for comes from the origin)
//! and purges fail loudly. Skipped with a message when nats-server is not
//! installed, unless `CI` is set (`.ci/run` installs it).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::{Reply, ScriptedOrigin, TestEdge, client, header, start_edge};

const TOKEN: &str = "bus-test-token";
const WORLD: &str = "bustest";

/// An edge named `name` following the bus at `url` (a lease of 1 s, so the
/// tests see it fall out of step quickly).
async fn edge(origin: std::net::SocketAddr, url: &str, name: &str) -> TestEdge {
    let (url, name) = (url.to_string(), name.to_string());
    start_edge(origin, move |c| {
        c.name = name;
        c.admin_token = Some(TOKEN.into());
        let mut b = edge::control::BusConfig::new(&url, WORLD);
        b.lease = Duration::from_secs(1);
        c.bus = Some(b);
    })
    .await
}

async fn post_purge(e: &TestEdge, body: &Value) -> reqwest::Response {
    client().post(format!("http://{}/purge", e.handle.admin)).bearer_auth(TOKEN).json(body).send().await.unwrap()
}

/// GET → Cache-Status (asserting a success).
async fn get(e: &TestEdge, path: &str) -> String {
    let r = client().get(e.url(path)).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    header(&r, "cache-status")
}

fn is_hit(cs: &str) -> bool {
    cs.contains("; hit;")
}

async fn stats(e: &TestEdge) -> Value {
    client().get(format!("http://{}/stats", e.handle.admin)).send().await.unwrap().json().await.unwrap()
}

/// Polls `/stats` until the edge has applied purge `seq` from the log.
async fn applied(e: &TestEdge, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = stats(e).await;
        if s["bus"]["applied_seq"].as_u64().is_some_and(|a| a >= seq) {
            return;
        }
        assert!(Instant::now() < deadline, "{} never applied purge {seq}: {}", e.config.name, s["bus"]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `/stats` until the edge says it is in step with the log.
async fn in_step(e: &TestEdge) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = stats(e).await;
        if s["bus"]["in_step"] == true {
            return;
        }
        assert!(Instant::now() < deadline, "{} never in step: {}", e.config.name, s["bus"]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn cached(body: &str) -> Reply {
    Reply::ok(body.to_string()).cc("max-age=600")
}

#[tokio::test]
async fn a_purge_given_to_one_edge_reaches_every_edge_through_the_log() {
    let Some(nats) = bus::testing::server("a_purge_given_to_one_edge_reaches_every_edge_through_the_log").await else {
        return;
    };
    let o = ScriptedOrigin::start().await;
    o.set("/x", cached("x"));
    o.set("/y", cached("y"));
    let mut edges = Vec::new();
    for name in ["a", "b", "c"] {
        edges.push(edge(o.addr, &nats.url(), name).await);
    }
    for e in &edges {
        in_step(e).await;
        for p in ["/x", "/y"] {
            get(e, p).await;
            assert!(is_hit(&get(e, p).await), "{p} cached on {}", e.config.name);
        }
    }
    let r = post_purge(&edges[0], &json!({"url": "/x", "id": "cli-1:bus", "sent_unix_ms": 1_795_000_000_000u64})).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let seq = v["bus_seq"].as_u64().unwrap_or_else(|| panic!("answered from the log: {v}"));
    assert_eq!((v["edge"].as_str(), v["objects"].as_u64()), (Some("a"), Some(1)), "{v}");
    for e in &edges {
        applied(e, seq).await;
        assert!(!is_hit(&get(e, "/x").await), "/x purged on {}", e.config.name);
        assert!(is_hit(&get(e, "/y").await), "/y untouched on {}", e.config.name);
        // The sender's id and start came through the log with the purge
        // (the dashboard's purge timeline times every edge from them).
        let r: Value =
            client().get(format!("http://{}/purge/recent", e.handle.admin)).send().await.unwrap().json().await.unwrap();
        let last = r["purges"].as_array().and_then(|p| p.last()).unwrap_or_else(|| panic!("{r}"));
        assert_eq!(
            (last["id"].as_str(), last["sent_unix_ms"].as_u64()),
            (Some("cli-1:bus"), Some(1_795_000_000_000)),
            "{} recorded the sender: {r}",
            e.config.name
        );
    }
    assert_eq!(o.count("/x"), 6, "each edge fetched /x twice: before and after the purge");
}

#[tokio::test]
async fn an_edge_down_during_100_purges_serves_none_of_them_when_it_returns() {
    let Some(nats) = bus::testing::server("an_edge_down_during_100_purges_serves_none_of_them_when_it_returns").await
    else {
        return;
    };
    let o = ScriptedOrigin::start().await;
    let paths: Vec<String> = (0..100).map(|i| format!("/o/{i}")).collect();
    for p in &paths {
        o.set(p, cached(p));
    }
    o.set("/keep", cached("keep"));
    let a = edge(o.addr, &nats.url(), "a").await;
    let b = edge(o.addr, &nats.url(), "b").await;
    in_step(&b).await;
    for p in paths.iter().map(String::as_str).chain(["/keep"]) {
        get(&b, p).await;
        assert!(is_hit(&get(&b, p).await), "{p} cached on b");
    }
    // b goes away (its cache flushed to disk); 100 purges are issued meanwhile.
    let TestEdge { handle, dir, mut config } = b;
    (config.listen, config.admin) = (handle.public, handle.admin);
    handle.shutdown().await.unwrap();
    let mut last = 0;
    for p in &paths {
        let r = post_purge(&a, &json!({"url": p})).await;
        assert_eq!(r.status(), 200);
        last = r.json::<Value>().await.unwrap()["bus_seq"].as_u64().unwrap();
    }
    assert!(last >= 100);
    // b returns on the same data directory and serves at once, before it
    // has caught up: not one purged object is served from its cache.
    if let Some(b) = config.bus.as_mut() {
        b.wait_at_start = Duration::ZERO;
    }
    let b = TestEdge { handle: edge::spawn(config.clone()).await.unwrap(), dir, config };
    let before: Vec<usize> = paths.iter().map(|p| o.count(p)).collect();
    for p in &paths {
        assert!(!is_hit(&get(&b, p).await), "{p} was purged while b was down");
    }
    let after: Vec<usize> = paths.iter().map(|p| o.count(p)).collect();
    assert!(before.iter().zip(&after).all(|(x, y)| y == &(x + 1)), "every purged object came from the origin");
    applied(&b, last).await;
    in_step(&b).await;
    assert!(is_hit(&get(&b, "/keep").await), "in step again: what no purge covered is served from the cache");
    assert_eq!(o.count("/keep"), 1);
}

#[tokio::test]
async fn with_the_bus_gone_edges_serve_from_the_origin_and_purges_fail_loudly() {
    let Some(mut nats) =
        bus::testing::server("with_the_bus_gone_edges_serve_from_the_origin_and_purges_fail_loudly").await
    else {
        return;
    };
    let o = ScriptedOrigin::start().await;
    o.set("/x", cached("x"));
    let a = edge(o.addr, &nats.server.url(), "a").await;
    in_step(&a).await;
    get(&a, "/x").await;
    assert!(is_hit(&get(&a, "/x").await));
    nats.server.kill().await;
    // Out of step once the lease (1 s) runs out: degraded, and nothing
    // stored before is served (a purge elsewhere may have covered it).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = stats(&a).await["health"].clone();
        if h["status"] == "degraded" {
            assert!(h["problems"].to_string().contains("control bus"), "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "never out of step: {h}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!is_hit(&get(&a, "/x").await), "out of step: from the origin");
    assert!(is_hit(&get(&a, "/x").await), "what it stored since is served");
    assert_eq!(o.count("/x"), 2);
    let r = post_purge(&a, &json!({"url": "/x"})).await;
    assert_eq!(r.status(), 503, "a purge with the bus gone fails loudly");
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().is_some_and(|e| e.contains("control bus")), "{v}");
    // The bus comes back: the edge is in step again and purges go through.
    nats.server.restart().await.unwrap();
    in_step(&a).await;
    let r = post_purge(&a, &json!({"url": "/x"})).await;
    assert_eq!(r.status(), 200);
    assert!(!is_hit(&get(&a, "/x").await));
}

/// Edges a and b on the bus; b caches `/purged` and `/keep` and is stopped
/// (its cache kept in its directory, its configuration kept to start it
/// again at the same addresses).
async fn b_cached_and_stopped(url: &str) -> (ScriptedOrigin, TestEdge, (tempfile::TempDir, edge::Config)) {
    let o = ScriptedOrigin::start().await;
    for p in ["/purged", "/keep"] {
        o.set(p, cached(p));
    }
    let a = edge(o.addr, url, "a").await;
    let b = edge(o.addr, url, "b").await;
    in_step(&b).await;
    for p in ["/purged", "/keep"] {
        get(&b, p).await;
        assert!(is_hit(&get(&b, p).await), "{p} cached on b");
    }
    let TestEdge { handle, dir, mut config } = b;
    (config.listen, config.admin) = (handle.public, handle.admin);
    handle.shutdown().await.unwrap();
    (o, a, (dir, config))
}

/// An edge started again on its data directory, serving at once (no wait
/// to be in step).
async fn start_again(dir: tempfile::TempDir, mut config: edge::Config) -> TestEdge {
    if let Some(b) = config.bus.as_mut() {
        b.wait_at_start = Duration::ZERO;
    }
    TestEdge { handle: edge::spawn(config.clone()).await.unwrap(), dir, config }
}

#[tokio::test]
async fn an_edge_that_starts_behind_the_log_serves_nothing_stored_before_until_it_has_caught_up() {
    let Some(mut nats) =
        bus::testing::server("an_edge_that_starts_behind_the_log_serves_nothing_stored_before_until_it_has_caught_up")
            .await
    else {
        return;
    };
    let (o, a, (dir, config)) = b_cached_and_stopped(&nats.url()).await;
    // b is stopped; a purge it has not applied goes into the log; then the
    // bus goes away, so b cannot catch up when it starts again.
    let r = post_purge(&a, &json!({"url": "/purged"})).await;
    assert_eq!(r.status(), 200);
    let seq = r.json::<Value>().await.unwrap()["bus_seq"].as_u64().unwrap();
    nats.server.kill().await;
    let b = start_again(dir, config).await;
    // Behind the log and unable to catch up: from its first request on,
    // nothing stored before is served, not even what no purge covers (it
    // cannot know that yet).
    for p in ["/purged", "/keep"] {
        let before = o.count(p);
        assert!(!is_hit(&get(&b, p).await), "{p}: out of step, from the origin");
        assert_eq!(o.count(p), before + 1, "{p} fetched");
        assert!(is_hit(&get(&b, p).await), "{p}: what it stored since is served");
    }
    let s = stats(&b).await;
    assert_eq!((s["bus"]["in_step"].as_bool(), s["health"]["status"].as_str()), (Some(false), Some("degraded")), "{s}");
    // The bus is back: b catches up and is in step, and serves from its
    // cache again. (Its copy of /purged, fetched after the purge, is
    // removed when the purge is applied late: one more miss, never a
    // stale answer.)
    nats.server.restart().await.unwrap();
    applied(&b, seq).await;
    in_step(&b).await;
    assert!(is_hit(&get(&b, "/keep").await));
}

#[tokio::test]
async fn soft_purges_and_purge_all_reach_every_edge_through_the_log() {
    let Some(nats) = bus::testing::server("soft_purges_and_purge_all_reach_every_edge_through_the_log").await else {
        return;
    };
    let o = ScriptedOrigin::start().await;
    for p in ["/x", "/y"] {
        o.set(p, Reply::ok(p.to_string()).cc("max-age=600").header("etag", &format!("\"{p}\"")).auto_304());
    }
    let a = edge(o.addr, &nats.url(), "a").await;
    let b = edge(o.addr, &nats.url(), "b").await;
    for e in [&a, &b] {
        in_step(e).await;
        for p in ["/x", "/y"] {
            get(e, p).await;
            assert!(is_hit(&get(e, p).await), "{p} cached on {}", e.config.name);
        }
    }
    // A soft URL purge given to a: on both edges /x is revalidated (a
    // conditional request, answered 304), /y untouched.
    let r = post_purge(&a, &json!({"url": "/x", "soft": true})).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["soft"], true, "{v}");
    let seq = v["bus_seq"].as_u64().unwrap();
    for e in [&a, &b] {
        applied(e, seq).await;
        let cs = get(e, "/x").await;
        assert!(cs.contains("fwd=stale") && cs.contains("fwd-status=304"), "{}: /x revalidated: {cs}", e.config.name);
        assert!(o.last("/x").unwrap().headers.contains_key("if-none-match"), "conditional");
        assert!(is_hit(&get(e, "/y").await), "{}: /y untouched", e.config.name);
    }
    // A soft purge-all: everything revalidated on both.
    let r = post_purge(&b, &json!({"all": true, "soft": true})).await;
    let seq = r.json::<Value>().await.unwrap()["bus_seq"].as_u64().unwrap();
    for e in [&a, &b] {
        applied(e, seq).await;
        for p in ["/x", "/y"] {
            let cs = get(e, p).await;
            assert!(
                cs.contains("fwd=stale") && cs.contains("fwd-status=304"),
                "{}: {p} revalidated: {cs}",
                e.config.name
            );
        }
    }
    // A hard purge-all: nothing is served from either cache.
    let r = post_purge(&a, &json!({"all": true})).await;
    let seq = r.json::<Value>().await.unwrap()["bus_seq"].as_u64().unwrap();
    for e in [&a, &b] {
        applied(e, seq).await;
        for p in ["/x", "/y"] {
            let cs = get(e, p).await;
            assert!(cs.contains("fwd=uri-miss"), "{}: {p} purged: {cs}", e.config.name);
        }
    }
}

#[tokio::test]
async fn purges_gone_from_the_log_make_a_returning_edge_purge_everything() {
    let Some(nats) = bus::testing::server("purges_gone_from_the_log_make_a_returning_edge_purge_everything").await
    else {
        return;
    };
    let (o, a, (dir, config)) = b_cached_and_stopped(&nats.url()).await;
    // While b is away, a purge is issued and then leaves the log (as when
    // the stream's limits drop the oldest purges): b can never apply it.
    let r = post_purge(&a, &json!({"url": "/purged"})).await;
    let seq = r.json::<Value>().await.unwrap()["bus_seq"].as_u64().unwrap();
    let nb = bus::Bus::connect(&nats.url(), WORLD, "test", &bus::ConnectOptions::default()).await.unwrap();
    let stream = nb.jetstream().get_stream(nb.names().purge_stream()).await.unwrap();
    stream.purge().sequence(seq + 1).await.unwrap();
    let b = start_again(dir, config).await;
    in_step(&b).await;
    let s = stats(&b).await;
    assert_eq!(s["bus"]["lost_state"].as_u64(), Some(1), "{}", s["bus"]);
    assert!(s["health"].to_string().contains("treated as purged"), "{}", s["health"]);
    // In step, and yet nothing stored before is served: not the purged
    // object (never resurrected) nor the other (it cannot tell them apart).
    for p in ["/purged", "/keep"] {
        let before = o.count(p);
        assert!(get(&b, p).await.contains("fwd=uri-miss"), "{p}: purged with everything");
        assert_eq!(o.count(p), before + 1);
    }
}

//! The origin shield, with real components: a shield edge (its tier
//! listener on an ephemeral port) in front of the scripted origin, and
//! edges that fill from it. Collapsing across edges, Cache-Status of both
//! tiers, the shield down (fallback to the origin, or 502 without it), the
//! tiered purge race, and `CDN-Purge-Seq` from clients.

use std::time::Duration;

use serde_json::{Value, json};
use tests::{Gate, Reply, ScriptedOrigin, TestEdge, client, eventually, header, start_edge};

const TOKEN: &str = "shield-test-token";

/// The shield: an edge named `shield` with a tier listener, waiting
/// `catch_up` for purges lower tiers have applied.
async fn shield(origin: std::net::SocketAddr, catch_up: Duration) -> TestEdge {
    start_edge(origin, |c| {
        c.name = "shield".into();
        c.admin_token = Some(TOKEN.into());
        c.tier_listen = Some("127.0.0.1:0".parse().unwrap());
        c.catch_up = catch_up;
        c.store.disk = 0; // memory only: a lookup is a map read
    })
    .await
}

/// An edge named `name` that fills from `shield` (fallback as given;
/// checks every 50 ms, down after one failure, up after one success).
async fn behind(shield: &TestEdge, origin: std::net::SocketAddr, name: &str, fallback: bool) -> TestEdge {
    let tier = shield.handle.tier.expect("the shield has a tier listener");
    let admin = shield.handle.admin;
    let name = name.to_string();
    start_edge(origin, move |c| {
        c.name = name.clone();
        c.admin_token = Some(TOKEN.into());
        c.shield = Some(edge::tier::ShieldConfig {
            name: "shield".into(),
            listen: tier,
            admin,
            rtt: Duration::ZERO,
            fallback,
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(500),
            thresholds: runtime::health::Thresholds::new(1, 1),
        });
    })
    .await
}

fn tier(e: &TestEdge) -> edge::stats::TierStats {
    e.handle.stats().tier.expect("tier stats")
}

/// GET → (status, Cache-Status, body).
async fn get(e: &TestEdge, path: &str) -> (u16, String, String) {
    let r = client().get(e.url(path)).send().await.unwrap();
    let (status, cs) = (r.status().as_u16(), header(&r, "cache-status"));
    (status, cs, r.text().await.unwrap())
}

async fn purge(e: &TestEdge, body: Value) {
    let r =
        client().post(format!("http://{}/purge", e.handle.admin)).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{body}");
}

/// N edges miss on one key at once; the shield holds one origin request
/// open until every edge's fill has reached it: the origin is asked
/// once, and each answer lists the shield's entry, then the edge's.
#[tokio::test]
async fn concurrent_misses_on_n_edges_make_one_origin_request_through_the_shield() {
    let o = ScriptedOrigin::start().await;
    let gate = Gate::new();
    // The delay after the gate leaves every fill already at the shield
    // time to join the one in flight rather than to look up after it.
    o.set("/hot", Reply::ok("hot body").cc("max-age=600").hold(&gate).delay(Duration::from_millis(200)));
    let s = shield(o.addr, Duration::from_secs(1)).await;
    let names = ["seoul", "tokyo", "paris", "lima"];
    let mut edges = Vec::new();
    for n in names {
        edges.push(behind(&s, o.addr, n, true).await);
    }
    let gets: Vec<_> = edges
        .iter()
        .map(|e| {
            let url = e.url("/hot");
            tokio::spawn(async move {
                let r = client().get(url).send().await.unwrap();
                let cs = header(&r, "cache-status");
                (r.status().as_u16(), cs, r.text().await.unwrap())
            })
        })
        .collect();
    // Every edge has sent its fill to the shield, and the shield has
    // accepted a connection from each, before the origin answers.
    eventually("every edge's fill sent to the shield", || async { edges.iter().all(|e| tier(e).shield_requests == 1) })
        .await;
    eventually("a connection from every edge at the shield, one request at the origin", || async {
        tier(&s).tier_connections == names.len() as u64 && o.count("/hot") >= 1
    })
    .await;
    gate.open();
    let mut leaders = 0;
    for (g, n) in gets.into_iter().zip(names) {
        let (status, cs, body) = g.await.unwrap();
        assert_eq!((status, body.as_str()), (200, "hot body"), "{n}: {cs}");
        // RFC 9211: the shield's entry first, as it sent it, then the edge's.
        let (up, own) = cs.split_once(", ").unwrap_or_else(|| panic!("{n}: one entry only: {cs}"));
        assert!(up.starts_with("edge-shield; fwd=uri-miss; fwd-status=200"), "{n}: {cs}");
        assert!(own.starts_with(&format!("edge-{n}; fwd=uri-miss; fwd-status=200; ttl=")), "{n}: {cs}");
        leaders += usize::from(!up.contains("collapsed"));
    }
    assert_eq!(o.count("/hot"), 1, "one origin request for the key across {} edges", names.len());
    assert_eq!(leaders, 1, "one fill at the shield, the others collapsed onto it");
    let st = tier(&s);
    assert_eq!((st.role.as_str(), st.tier_requests.miss), ("shield", names.len() as u64), "{st:?}");
    assert_eq!(s.handle.stats().origin_requests, 1);
    for e in &edges {
        let t = tier(e);
        assert_eq!((t.shield_requests, t.shield_fallbacks, e.handle.stats().origin_requests), (1, 0, 0), "{t:?}");
        assert!(t.bytes_from_shield > "hot body".len() as u64, "{t:?}");
        // the link's line among the edge's upstreams counts the same fill
        let st = e.handle.stats();
        let (t, line) = (st.tier.unwrap(), st.upstreams.iter().find(|u| u.name == "shield").expect("shield line"));
        assert_eq!((line.requests, line.errors, line.cold), (t.shield_requests, 0, 1), "{line:?}");
        assert_eq!(line.bytes_received, t.bytes_from_shield, "{line:?}");
        // the edge stored it: a hit now, its own entry only
        let (_, cs, _) = get(e, "/hot").await;
        assert!(cs.starts_with(&format!("edge-{}; hit;", e.config.name)) && !cs.contains(", "), "{cs}");
    }
}

/// The shield killed: the edge's next fill is refused a connection and
/// goes to the origin (fallback), and once the checks mark the shield
/// down fills go to the origin without trying it. Without fallback the
/// client gets 502.
#[tokio::test]
async fn with_the_shield_down_edges_fill_from_the_origin_or_answer_502_without_fallback() {
    let o = ScriptedOrigin::start().await;
    for p in ["/a", "/b", "/c", "/d"] {
        o.set(p, Reply::ok(format!("body of {p}")).cc("max-age=600"));
    }
    let s = shield(o.addr, Duration::from_secs(1)).await;
    let e = behind(&s, o.addr, "seoul", true).await;
    let strict = behind(&s, o.addr, "tokyo", false).await;
    let (status, cs, _) = get(&e, "/a").await;
    assert_eq!(status, 200);
    assert!(cs.starts_with("edge-shield; fwd=uri-miss") && cs.contains(", edge-seoul; fwd=uri-miss"), "{cs}");
    eventually("the shield seen up", || async { tier(&e).shield_state.as_deref() == Some("up") }).await;

    s.handle.shutdown().await.unwrap();
    let (status, cs, body) = get(&e, "/b").await;
    assert_eq!((status, body.as_str()), (200, "body of /b"), "{cs}");
    assert!(cs.starts_with("edge-seoul; fwd=uri-miss; fwd-status=200"), "from the origin, one entry: {cs}");
    assert_eq!(o.count("/b"), 1);
    assert!(tier(&e).shield_fallbacks >= 1, "{:?}", tier(&e));

    eventually("the shield seen down", || async { tier(&e).shield_state.as_deref() == Some("down") }).await;
    let sent = tier(&e).shield_requests;
    let (status, _, _) = get(&e, "/c").await;
    assert_eq!(status, 200);
    assert_eq!(tier(&e).shield_requests, sent, "a shield known down is not tried");
    assert_eq!(e.handle.stats().origin_requests, 2);

    let (status, cs, _) = get(&strict, "/d").await;
    assert_eq!(status, 502, "no fallback: {cs}");
    assert_eq!(o.count("/d"), 0);
}

/// The tiered purge race: the edge has applied a purge (world sequence
/// 42) the shield has not. The edge's refill carries `CDN-Purge-Seq: 42`;
/// the shield waits `catch_up` for it, then answers without its cache:
/// the new version, never the purged one. A purge that does arrive while
/// the fill waits lets the shield answer as usual.
#[tokio::test]
async fn an_edge_never_refills_a_purged_object_from_a_shield_that_has_not_applied_the_purge() {
    let o = ScriptedOrigin::start().await;
    o.set("/v", Reply::ok("version 1").cc("max-age=600"));
    let s = shield(o.addr, Duration::from_millis(300)).await;
    let e = behind(&s, o.addr, "seoul", true).await;
    assert_eq!(get(&e, "/v").await.2, "version 1");
    let (_, cs, _) = get(&s, "/v").await;
    assert!(cs.starts_with("edge-shield; hit"), "the shield holds version 1: {cs}");

    // A new version at the origin; the purge reaches the edge only.
    o.set("/v", Reply::ok("version 2").cc("max-age=600"));
    purge(&e, json!({ "url": "/v", "seq": 42 })).await;
    assert_eq!(tier(&e).purge_seq, 42);
    let (status, cs, body) = get(&e, "/v").await;
    assert_eq!((status, body.as_str()), (200, "version 2"), "refilled from a shield behind the purge: {cs}");
    assert!(cs.starts_with("edge-shield; fwd=request; fwd-status=200") && cs.contains("detail=purge-catch-up"), "{cs}");
    assert_eq!(tier(&s).behind_purge, 1);
    assert_eq!(o.count("/v"), 2);
}

/// The purge reaches the shield while the edge's refill waits for it: the
/// shield then answers as usual (its purged copy gone: from the origin).
#[tokio::test]
async fn a_purge_that_reaches_the_shield_while_the_refill_waits_lets_it_answer_as_usual() {
    let o = ScriptedOrigin::start().await;
    o.set("/v", Reply::ok("version 1").cc("max-age=600"));
    let s = shield(o.addr, Duration::from_secs(30)).await;
    let e = behind(&s, o.addr, "seoul", true).await;
    assert_eq!(get(&e, "/v").await.2, "version 1");
    o.set("/v", Reply::ok("version 2").cc("max-age=600"));
    purge(&e, json!({ "url": "/v", "seq": 7 })).await;
    let waiting = {
        let url = e.url("/v");
        tokio::spawn(async move {
            let r = client().get(url).send().await.unwrap();
            let cs = header(&r, "cache-status");
            (cs, r.text().await.unwrap())
        })
    };
    eventually("the edge's refill sent to the shield", || async { tier(&e).shield_requests == 2 }).await;
    purge(&s, json!({ "url": "/v", "seq": 7 })).await;
    let (cs, body) = waiting.await.unwrap();
    assert_eq!(body, "version 2", "{cs}");
    assert!(cs.starts_with("edge-shield; fwd=uri-miss") && !cs.contains("purge-catch-up"), "{cs}");
    assert_eq!((tier(&s).behind_purge, tier(&s).purge_seq), (0, 7));
}

/// `CDN-Purge-Seq` is between tiers only: a client's is not forwarded,
/// and the tier listener refuses a request without one.
#[tokio::test]
async fn purge_seq_from_a_client_is_dropped_and_the_tier_listener_needs_it() {
    let o = ScriptedOrigin::start().await;
    o.set("/x", Reply::ok("x").cc("max-age=600"));
    let s = shield(o.addr, Duration::from_millis(100)).await;
    let r = client().get(s.url("/x")).header("cdn-purge-seq", "999999").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let got = o.last("/x").expect("the origin got the fill");
    assert!(got.headers.get("cdn-purge-seq").is_none(), "forwarded to the origin: {:?}", got.headers);
    assert_eq!(tier(&s).behind_purge, 0, "a client's header is not a tier's");

    let tier_url = format!("http://{}/x", s.handle.tier.unwrap());
    let r = client().get(&tier_url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = client().get(&tier_url).header("cdn-purge-seq", "12x").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = client().get(&tier_url).header("cdn-purge-seq", "0").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "cache-status").starts_with("edge-shield; hit"));
}

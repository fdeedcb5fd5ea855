//! What-if caches in a live edge (`shadow`, edge/src/shadow.rs): fed the
//! requests the real cache answers, a shadow smaller than the real cache
//! hits less on a workload that needs the space, one as large hits as
//! often, and `/stats` and `/metrics` say the same.

use bytes::Bytes;
use edge::admin::Stats;
use tests::{Reply, ScriptedOrigin, client, start_edge};
use world::policy::ShadowCache;

const OBJECTS: usize = 40;
const SIZE: u64 = 20_000;

#[tokio::test]
async fn a_shadow_smaller_than_the_real_cache_hits_less_and_stats_and_metrics_agree() {
    let o = ScriptedOrigin::start().await;
    for i in 0..OBJECTS {
        o.set(
            &format!("/obj/{i}"),
            Reply::ok(Bytes::from(vec![b'a' + (i % 26) as u8; SIZE as usize])).cc("max-age=600"),
        );
    }
    o.set("/private", Reply::ok("mine").cc("private"));
    // 10 objects fit the small shadow, all 40 the large one and the real 16 MiB
    let specs = ["lru:200KiB", "lru:1MiB"].map(|s| ShadowCache::parse(s).unwrap());
    let e = start_edge(o.addr, |c| c.shadow = specs.to_vec()).await;
    let http = client();
    // three rounds in order: LRU of 10 objects never hits a cycle of 40
    for _ in 0..3 {
        for i in 0..OBJECTS {
            let r = http.get(e.url(&format!("/obj/{i}"))).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.bytes().await.unwrap().len() as u64, SIZE);
        }
    }
    // not samples: a pass, an error, a POST
    http.get(e.url("/private")).send().await.unwrap().bytes().await.unwrap();
    http.get(e.url("/missing")).send().await.unwrap().bytes().await.unwrap();
    http.post(e.url("/obj/0")).body("x").send().await.unwrap().bytes().await.unwrap();
    // a target the slow path canonicalises (`%31` is `1`): the same key
    let r = http.get(e.url("/obj/%31%30")).send().await.unwrap();
    let cs = tests::header(&r, "cache-status");
    assert!(cs.starts_with("edge-test; hit;"), "a hit on /obj/10: {cs}");
    r.bytes().await.unwrap();

    let s: Stats = http.get(format!("http://{}/stats", e.handle.admin)).send().await.unwrap().json().await.unwrap();
    let sh = s.shadow.as_ref().expect("shadow stats");
    let n = 3 * OBJECTS as u64 + 1;
    assert_eq!((sh.requests, sh.bytes, sh.dropped), (n, n * SIZE, 0));
    let (real, small, large) = (&sh.real, &sh.caches[0], &sh.caches[1]);
    assert_eq!((real.policy.as_str(), real.capacity), ("real", (16 + 64) << 20));
    assert_eq!(real.hits, n - OBJECTS as u64, "the real cache misses each object once");
    assert_eq!((small.cache.as_str(), small.hits), ("lru:200KiB", 0), "10 objects of LRU never hit a 40-object cycle");
    assert_eq!((large.cache.as_str(), large.hits), ("lru:1MiB", real.hits), "as large as the working set");
    assert!(small.hit_ratio < real.hit_ratio && (large.hit_ratio - real.hit_ratio).abs() < 1e-12);
    assert_eq!(small.origin_bytes, n * SIZE);
    assert_eq!(real.origin_bytes, OBJECTS as u64 * SIZE);
    assert_eq!(small.entries, Some(10));
    assert_eq!(large.entries, Some(OBJECTS as u64));
    assert!(small.origin_usd > large.origin_usd && large.origin_usd == real.origin_usd);
    assert_eq!(small.origin_usd, world::price::Prices::default().origin_cost(n * SIZE));

    let text = http.get(format!("http://{}/metrics", e.handle.admin)).send().await.unwrap().text().await.unwrap();
    let m = tests::prom::parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
    let edge = [("edge", "test")];
    assert_eq!(m.value("cdnlab_edge_shadow_requests_total", &edge), sh.requests as f64);
    assert_eq!(m.value("cdnlab_edge_shadow_bytes_total", &edge), sh.bytes as f64);
    assert_eq!(m.value("cdnlab_edge_shadow_dropped_total", &edge), 0.0);
    for (row, size) in [(real, "80MiB"), (small, "200KiB"), (large, "1MiB")] {
        let l = [("edge", "test"), ("policy", row.policy.as_str()), ("size", size)];
        assert_eq!(m.value("cdnlab_edge_shadow_hits_total", &l), row.hits as f64, "{}", row.cache);
        assert_eq!(m.value("cdnlab_edge_shadow_hit_bytes_total", &l), row.hit_bytes as f64, "{}", row.cache);
        assert_eq!(m.value("cdnlab_edge_shadow_origin_bytes_total", &l), row.origin_bytes as f64, "{}", row.cache);
        assert_eq!(m.value("cdnlab_edge_shadow_origin_dollars_total", &l), row.origin_usd.as_usd(), "{}", row.cache);
        if row.policy != "real" {
            assert_eq!(m.value("cdnlab_edge_shadow_entries", &l), row.entries.unwrap() as f64, "{}", row.cache);
        }
    }
}

#[tokio::test]
async fn an_edge_without_shadows_reports_none() {
    let o = ScriptedOrigin::start().await;
    o.set("/a", Reply::ok("a").cc("max-age=600"));
    let e = start_edge(o.addr, |_| {}).await;
    client().get(e.url("/a")).send().await.unwrap().bytes().await.unwrap();
    let text = client().get(format!("http://{}/stats", e.handle.admin)).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("shadow"), "{text}");
    let metrics =
        client().get(format!("http://{}/metrics", e.handle.admin)).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("cdnlab_edge_shadow"));
}

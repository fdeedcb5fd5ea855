//! Purges on one edge: each kind, hard and soft; Vary variants; fills in
//! flight when a purge lands; objects only on disk; restarts; auth and bad
//! requests. (Fan-out to every edge and purges under load: the `cdn purge`
//! tests in `scenarios/tests/cli_purge.rs`.)

use serde_json::{Value, json};
use tests::{Gate, Reply, ScriptedOrigin, TestEdge, client, eventually, header, start_edge};

const TOKEN: &str = "purge-test-token";

async fn edge(origin: std::net::SocketAddr) -> TestEdge {
    start_edge(origin, |c| c.admin_token = Some(TOKEN.into())).await
}

/// Purges and returns the edge's JSON answer (asserting 200).
async fn purge(e: &TestEdge, body: Value) -> Value {
    let r =
        client().post(format!("http://{}/purge", e.handle.admin)).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body} → {v}");
    v
}

/// GET → (Cache-Status, body).
async fn get(e: &TestEdge, path: &str) -> (String, String) {
    let r = client().get(e.url(path)).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    let cs = header(&r, "cache-status");
    (cs, r.text().await.unwrap())
}

fn is_hit(cs: &str) -> bool {
    cs.contains("; hit;")
}

fn is_miss(cs: &str) -> bool {
    cs.contains("fwd=uri-miss") || cs.contains("fwd=vary-miss")
}

/// Revalidated with the origin after a soft purge (304 or a new 200).
fn is_revalidation(cs: &str) -> bool {
    cs.contains("fwd=stale")
}

fn tagged(body: &str, tags: &str) -> Reply {
    Reply::ok(body.to_string())
        .cc("max-age=600")
        .header("etag", &format!("\"{body}\""))
        .header("surrogate-key", tags)
        .auto_304()
}

/// Five objects: two under /img/, /obj/1 (and a query variant), /obj/2.
async fn catalog() -> ScriptedOrigin {
    let o = ScriptedOrigin::start().await;
    o.set("/img/a.png", tagged("a", "img product-1"));
    o.set("/img/b.png", tagged("b", "img product-2"));
    o.set("/obj/1", tagged("o1", "obj").header("cache-tag", "product-1, blue"));
    o.set("/obj/2", tagged("o2", "obj product-2"));
    o
}

const PATHS: [&str; 5] = ["/img/a.png", "/img/b.png", "/obj/1", "/obj/1?x=1", "/obj/2"];

async fn warm(e: &TestEdge) {
    for p in PATHS {
        get(e, p).await;
        assert!(is_hit(&get(e, p).await.0), "{p} is cached");
    }
}

/// Which of PATHS are hits now (each request then re-caches what missed).
async fn hits(e: &TestEdge) -> Vec<&'static str> {
    let mut v = Vec::new();
    for p in PATHS {
        let (cs, _) = get(e, p).await;
        if is_hit(&cs) {
            v.push(p);
        } else {
            assert!(is_miss(&cs), "{p}: {cs}");
        }
    }
    v
}

#[tokio::test]
async fn each_kind_of_hard_purge_makes_exactly_its_objects_miss() {
    let o = catalog().await;
    let e = edge(o.addr).await;
    warm(&e).await;

    let r = purge(&e, json!({"url": "/obj/%31"})).await;
    assert_eq!(
        (r["kind"].as_str(), r["target"].as_str(), r["objects"].as_u64()),
        (Some("url"), Some("/obj/1"), Some(1))
    );
    assert!(r["took_us"].as_u64().is_some() && r["edge"] == "test", "{r}");
    assert_eq!(hits(&e).await, ["/img/a.png", "/img/b.png", "/obj/1?x=1", "/obj/2"]);

    let r = purge(&e, json!({"prefix": "/img/"})).await;
    assert_eq!(r["objects"], 2);
    assert_eq!(hits(&e).await, ["/obj/1", "/obj/1?x=1", "/obj/2"]);

    // product-1: /img/a.png (Surrogate-Key), /obj/1 and /obj/1?x=1 (Cache-Tag)
    let r = purge(&e, json!({"tag": "product-1"})).await;
    assert_eq!(r["objects"], 3);
    assert_eq!(hits(&e).await, ["/img/b.png", "/obj/2"]);

    let r = purge(&e, json!({"all": true})).await;
    assert_eq!(r["objects"], 5);
    assert_eq!(hits(&e).await, Vec::<&str>::new());
    assert_eq!(hits(&e).await, PATHS, "everything is cached again");
    assert_eq!(o.count("/obj/2"), 2, "/obj/2 was fetched at warm-up and after purge-all only");
}

#[tokio::test]
async fn each_kind_of_soft_purge_makes_the_next_request_revalidate() {
    let o = catalog().await;
    let e = edge(o.addr).await;
    warm(&e).await;
    for (body, affected) in [
        (json!({"url": "/obj/2", "soft": true}), vec!["/obj/2"]),
        (json!({"prefix": "/img/", "soft": true}), vec!["/img/a.png", "/img/b.png"]),
        (json!({"tag": "blue", "soft": true}), vec!["/obj/1", "/obj/1?x=1"]),
        (json!({"all": true, "soft": true}), PATHS.to_vec()),
    ] {
        let r = purge(&e, body.clone()).await;
        assert_eq!(r["objects"].as_u64(), Some(affected.len() as u64), "{body}: {r}");
        assert_eq!(r["soft"], true);
        for p in PATHS {
            let (cs, text) = get(&e, p).await;
            if affected.contains(&p) {
                assert!(is_revalidation(&cs) && cs.contains("fwd-status=304"), "{body}: {p}: {cs}");
                assert!(o.last(p).unwrap().headers.contains_key("if-none-match"), "{p}: conditional");
            } else {
                assert!(is_hit(&cs), "{body}: {p} untouched: {cs}");
            }
            assert!(!text.is_empty());
            assert!(is_hit(&get(&e, p).await.0), "{body}: {p} fresh again after the 304");
        }
    }
}

#[tokio::test]
async fn a_soft_purge_serves_stale_while_revalidate_allows() {
    let o = ScriptedOrigin::start().await;
    o.set("/swr", Reply::ok("v1").cc("max-age=600, stale-while-revalidate=60").header("etag", "\"v1\"").auto_304());
    let e = edge(o.addr).await;
    get(&e, "/swr").await;
    purge(&e, json!({"url": "/swr", "soft": true})).await;
    o.set("/swr", Reply::ok("v2").cc("max-age=600, stale-while-revalidate=60").header("etag", "\"v2\""));
    let (cs, body) = get(&e, "/swr").await;
    assert!(cs.contains("detail=stale-while-revalidate") && body == "v1", "served stale at once: {cs}");
    // the background refresh brings v2
    eventually("the background refresh to bring v2", || async {
        let (cs, body) = get(&e, "/swr").await;
        assert!(body != "v2" || is_hit(&cs), "v2 is stored fresh: {cs}");
        body == "v2"
    })
    .await;
}

#[tokio::test]
async fn a_url_purge_takes_every_vary_variant() {
    let o = ScriptedOrigin::start().await;
    o.set("/v", Reply::ok("body").cc("max-age=600").header("vary", "accept-encoding"));
    let e = edge(o.addr).await;
    let c = client();
    let fetch = |ae: &'static str| {
        let c = c.clone();
        let url = e.url("/v");
        async move { header(&c.get(url).header("accept-encoding", ae).send().await.unwrap(), "cache-status") }
    };
    for ae in ["gzip", "br"] {
        fetch(ae).await;
        assert!(is_hit(&fetch(ae).await), "{ae} variant cached");
    }
    let r = purge(&e, json!({"url": "/v"})).await;
    assert_eq!((r["objects"].as_u64(), r["keys"].as_u64()), (Some(2), Some(3)), "two variants and the Vary pointer");
    for ae in ["gzip", "br"] {
        let cs = fetch(ae).await;
        assert!(is_miss(&cs), "{ae}: {cs}");
    }
    // soft purge-all reaches variants through the Vary pointer too
    purge(&e, json!({"all": true, "soft": true})).await;
    for ae in ["gzip", "br"] {
        let cs = fetch(ae).await;
        assert!(is_revalidation(&cs), "{ae}: {cs}");
        assert!(is_hit(&fetch(ae).await), "{ae} fresh again");
    }
}

/// A miss whose origin fetch began before the purge: its response reaches
/// the client that asked, and nobody after the acknowledgement.
#[tokio::test]
async fn a_fill_in_flight_when_a_hard_purge_lands_is_not_served_afterwards() {
    let o = ScriptedOrigin::start().await;
    let old = Gate::new();
    o.push("/race", Reply::ok("v1").cc("max-age=600").hold(&old));
    o.set("/race", Reply::ok("v2").cc("max-age=600"));
    let e = edge(o.addr).await;
    let url = e.url("/race");
    let a = tokio::spawn(async move {
        let r = client().get(url).send().await.unwrap();
        (header(&r, "cache-status"), r.text().await.unwrap())
    });
    o.wait_for("/race", 1).await; // the old fill is at the origin, held there
    let r = purge(&e, json!({"url": "/race"})).await;
    assert_eq!(r["inflight"], 1, "{r}");
    let (cs_b, b) = get(&e, "/race").await;
    assert_eq!(b, "v2", "after the ack: a fetch of its own ({cs_b})");
    old.open();
    let (cs_a, a) = a.await.unwrap();
    assert_eq!(a, "v1", "the client that started the old fetch gets its answer");
    assert!(cs_a.contains("detail=purged-in-flight") && !cs_a.contains("stored"), "{cs_a}");
    let (cs_c, c) = get(&e, "/race").await;
    assert_eq!(c, "v2");
    assert!(is_hit(&cs_c), "{cs_c}");
}

#[tokio::test]
async fn fills_in_flight_under_soft_and_tag_purges_are_stored_stale_or_not_at_all() {
    let o = ScriptedOrigin::start().await;
    let old = Gate::new();
    o.push("/soft", Reply::ok("v1").cc("max-age=600").header("etag", "\"v1\"").hold(&old));
    o.set("/soft", Reply::ok("v2").cc("max-age=600").header("etag", "\"v2\""));
    o.push("/tagged", tagged("t1", "sale").hold(&old));
    o.set("/tagged", tagged("t2", "sale"));
    let e = edge(o.addr).await;
    let spawn_get = |path: &str| {
        let url = e.url(path);
        tokio::spawn(async move { client().get(url).send().await.unwrap().text().await.unwrap() })
    };
    let (a, b) = (spawn_get("/soft"), spawn_get("/tagged"));
    o.wait_for("/soft", 1).await;
    o.wait_for("/tagged", 1).await;
    purge(&e, json!({"url": "/soft", "soft": true})).await;
    let r = purge(&e, json!({"tag": "sale"})).await;
    assert_eq!(r["inflight"], 1, "a tag purge detaches every fill in flight ({r})");
    old.open();
    assert_eq!((a.await.unwrap(), b.await.unwrap()), ("v1".to_string(), "t1".to_string()));
    // soft: stored, but stale → revalidated, and the origin has v2 now
    let (cs, body) = get(&e, "/soft").await;
    assert!(is_revalidation(&cs) && body == "v2", "{cs} {body}");
    assert_eq!(o.last("/soft").unwrap().headers["if-none-match"], "\"v1\"");
    // hard (tag): not stored at all
    let (cs, body) = get(&e, "/tagged").await;
    assert!(is_miss(&cs) && body == "t2", "{cs} {body}");
}

#[tokio::test]
async fn a_purged_object_that_lived_only_on_disk_stays_purged() {
    let o = ScriptedOrigin::start().await;
    o.set("/small", tagged("small", "disk"));
    // 3 MB: heavier than an eighth of the memory shard, so it goes to disk only
    let big: String = "x".repeat(3_000_000);
    o.set("/big", Reply::ok(big.clone()).cc("max-age=600").header("surrogate-key", "disk"));
    let e = edge(o.addr).await;
    get(&e, "/small").await;
    get(&e, "/big").await;
    let (cs, _) = get(&e, "/big").await;
    assert!(cs.ends_with("detail=disk"), "the big object lives on disk only: {cs}");
    let r = purge(&e, json!({"url": "/big"})).await;
    assert_eq!(r["objects"], 1);
    let (cs, body) = get(&e, "/big").await;
    assert!(is_miss(&cs) && body.len() == big.len(), "{cs}");

    // after a restart the memory tier is empty: everything is on disk only
    let e = e.restart().await;
    let r = purge(&e, json!({"tag": "disk"})).await;
    assert_eq!(r["objects"], 2, "the index survived the restart: {r}");
    for p in ["/small", "/big"] {
        let (cs, _) = get(&e, p).await;
        assert!(is_miss(&cs), "{p}: {cs}");
    }
    // soft, disk only: read back and stored stale
    let e = e.restart().await;
    purge(&e, json!({"url": "/small", "soft": true})).await;
    let (cs, _) = get(&e, "/small").await;
    assert!(is_revalidation(&cs), "{cs}");
}

#[tokio::test]
async fn purges_survive_a_restart() {
    let o = ScriptedOrigin::start().await;
    for (p, tag) in [("/p/1", "one"), ("/p/2", "two"), ("/p/3", "three")] {
        o.set(p, tagged(p, tag));
    }
    let e = edge(o.addr).await;
    for p in ["/p/1", "/p/2", "/p/3"] {
        get(&e, p).await;
    }
    purge(&e, json!({"url": "/p/1"})).await;
    purge(&e, json!({"tag": "two", "soft": true})).await;
    let e = e.restart().await;
    let (cs1, _) = get(&e, "/p/1").await;
    let (cs2, _) = get(&e, "/p/2").await;
    let (cs3, _) = get(&e, "/p/3").await;
    assert!(is_miss(&cs1), "hard-purged /p/1 did not come back from disk: {cs1}");
    assert!(is_revalidation(&cs2), "soft-purged /p/2 is still stale: {cs2}");
    assert!(is_hit(&cs3) && cs3.ends_with("detail=disk"), "{cs3}");

    purge(&e, json!({"all": true})).await;
    let e = e.restart().await;
    for p in ["/p/1", "/p/2", "/p/3"] {
        let (cs, _) = get(&e, p).await;
        assert!(is_miss(&cs), "purge-all survived the restart: {p}: {cs}");
    }
    let status: Value =
        client().get(format!("http://{}/purge", e.handle.admin)).send().await.unwrap().json().await.unwrap();
    assert_eq!((status["seq"].as_u64(), status["responses"].as_u64()), (Some(3), Some(3)), "{status}");
}

#[tokio::test]
async fn purges_need_the_token() {
    let o = ScriptedOrigin::start().await;
    let e = edge(o.addr).await;
    let url = format!("http://{}/purge", e.handle.admin);
    let c = client();
    let body = json!({"all": true});
    let r = c.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("Bearer"));
    assert!(r.text().await.unwrap().contains("missing Authorization"));
    let r = c.post(&url).bearer_auth("wrong").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("wrong admin token"));
    let r = c.post(&url).basic_auth("admin", Some(TOKEN)).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c.post(&url).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_purge_requests_get_400_with_the_reason() {
    let o = ScriptedOrigin::start().await;
    let e = edge(o.addr).await;
    let url = format!("http://{}/purge", e.handle.admin);
    let c = client();
    for (body, why) in [
        ("not json", "invalid purge request"),
        ("{}", "exactly one of `url`, `prefix`, `tag` or `all: true` (got none)"),
        (r#"{"regex": ".*"}"#, "unknown field `regex`"),
        (r#"{"url": "/a", "prefix": "/b"}"#, "(got url and prefix)"),
        (r#"{"all": false}"#, "`all` must be true"),
        (r#"{"url": "obj/1"}"#, "must start with `/`"),
        (r#"{"tag": "two words"}"#, "no spaces"),
        (r#"{"url": "/a", "soft": "yes"}"#, "invalid type"),
        (r#"{"url": "/a", "id": "two words"}"#, "purge id: ' ' is not allowed"),
        (r#"{"url": "/a", "id": ""}"#, "purge id: 1 to 128 characters"),
        (r#"{"url": "/a", "sent_unix_ms": 5}"#, "`sent_unix_ms` needs an `id`"),
    ] {
        let r = c.post(&url).bearer_auth(TOKEN).body(body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains(why), "{body}: {v}");
    }
    let r = c.put(&url).bearer_auth(TOKEN).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = c.post(&url).bearer_auth(TOKEN).body(vec![b' '; 100 * 1024]).send().await.unwrap();
    assert_eq!(r.status(), 413);
}

/// Issue 12, defect 5: an edge with no configured token accepted every
/// purge. Now it uses the token kept in its data directory (created with
/// mode 0600 on its first start, the same after a restart), and where no
/// such file can be written the purge API is off, with the reason.
#[tokio::test]
async fn an_edge_without_a_configured_token_never_serves_purges_to_all() {
    use std::os::unix::fs::PermissionsExt;
    let o = ScriptedOrigin::start().await;
    let e = start_edge(o.addr, |c| c.admin_token = None).await;
    let c = client();
    let url = format!("http://{}/purge", e.handle.admin);
    let body = json!({"all": true});
    let r = c.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401, "a purge without a token");
    let file = e.config.store.dir.join("admin-token");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let token = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert_eq!(e.handle.admin_token().as_deref(), Some(token.as_str()));
    let r = c.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let e = e.restart().await;
    assert_eq!(e.handle.admin_token(), Some(token.clone()), "the same token after a restart");

    let not_a_dir = tempfile::NamedTempFile::new().unwrap();
    let off = start_edge(o.addr, |c| {
        c.admin_token = None;
        c.store.disk = 0;
        c.store.dir = not_a_dir.path().join("cache");
    })
    .await;
    let url = format!("http://{}/purge", off.handle.admin);
    for t in ["", "guess", token.as_str()] {
        let r = c.post(&url).bearer_auth(t).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 403, "{t}");
        let v: Value = r.json().await.unwrap();
        let why = v["error"].as_str().unwrap();
        assert!(why.contains("the purge API is off") && why.contains("CDNLAB_ADMIN_TOKEN"), "{why}");
    }
}

/// A sender's id and start time come back with the edge's record of the
/// purge (`GET /purge/recent`); a purge sent without them has neither.
#[tokio::test]
async fn purge_recent_keeps_the_senders_id_and_start() {
    let o = ScriptedOrigin::start().await;
    let e = edge(o.addr).await;
    purge(&e, json!({"url": "/a", "id": "cli-7:x", "sent_unix_ms": 1_795_000_000_000u64})).await;
    purge(&e, json!({"url": "/a"})).await;
    let r: Value =
        client().get(format!("http://{}/purge/recent", e.handle.admin)).send().await.unwrap().json().await.unwrap();
    let p = r["purges"].as_array().unwrap();
    assert_eq!((p[0]["id"].as_str(), p[0]["sent_unix_ms"].as_u64()), (Some("cli-7:x"), Some(1_795_000_000_000)));
    assert!(p[1].get("id").is_none() && p[1].get("sent_unix_ms").is_none(), "{r}");
}

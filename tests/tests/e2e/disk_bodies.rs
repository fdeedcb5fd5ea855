//! The disk tier's body file (docs/disk.md, "The body file"): bodies of
//! 16 KiB and more are kept in a file of the edge's own, their heads in
//! foyer; a disk hit reads the body back, and a hit on a promoted head
//! sends it with `sendfile`. Bytes and `Content-Digest` intact on every
//! path, across restarts; purges cover the bodies.

use bytes::Bytes;
use serde_json::{Value, json};
use tests::{Reply, ScriptedOrigin, TestEdge, client, content_digest, header, start_edge};

const TOKEN: &str = "disk-bodies-token";

/// An edge whose disk tier is large enough to share with a body file
/// (`store::body_file_share`: 64 MiB of bodies, 64 MiB for foyer).
async fn edge(origin: std::net::SocketAddr) -> TestEdge {
    start_edge(origin, |c| {
        c.store.disk = 128 << 20;
        c.admin_token = Some(TOKEN.into());
    })
    .await
}

fn object(len: u32, seed: u32) -> Bytes {
    (0..len).map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<u8>>().into()
}

/// GET → (Cache-Status, body), the body checked against its digest.
async fn get(e: &TestEdge, path: &str, want: &Bytes) -> String {
    let r = client().get(e.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let cs = header(&r, "cache-status");
    let digest = header(&r, "content-digest");
    let got = r.bytes().await.unwrap();
    assert_eq!(got.len(), want.len(), "{path}: {cs}");
    assert!(got == want, "{path}: the bytes differ ({cs})");
    assert_eq!(content_digest(&got), digest, "{path}: body matches its Content-Digest ({cs})");
    cs
}

async fn purge(e: &TestEdge, body: Value) -> Value {
    let r =
        client().post(format!("http://{}/purge", e.handle.admin)).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// After a restart (memory empty), the first disk hit reads the head from
/// foyer and the body from the body file (checked against its checksum:
/// an earlier run wrote it); the second promotes the head; the third is
/// answered by the raw path with `sendfile`. Every answer has the
/// object's bytes and digest.
#[tokio::test]
async fn a_disk_hit_is_sent_from_the_body_file_with_its_bytes_and_digest_intact() {
    let o = ScriptedOrigin::start().await;
    let big = object(300_000, 1);
    let reply = Reply::ok(big.clone())
        .cc("max-age=600")
        .header("etag", "\"b-1\"")
        .header("content-digest", &content_digest(&big));
    o.set("/big", reply);
    let e = edge(o.addr).await;
    assert!(get(&e, "/big", &big).await.contains("stored"));
    let e = e.restart().await;
    for round in 0..3 {
        let cs = get(&e, "/big", &big).await;
        assert!(cs.contains("; hit;") && cs.ends_with("detail=disk"), "round {round}: {cs}");
    }
    let t = e.handle.stats().cache_tiers;
    assert_eq!((t.disk_hits, t.promotions, t.body_sends), (3, 1, 1), "{t:?}");
    // A range and a HEAD of the promoted head go the full path.
    let r = client().get(e.url("/big")).header("range", "bytes=1000-1999").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), big.slice(1000..2000));
    let r = client().head(e.url("/big")).send().await.unwrap();
    assert_eq!(header(&r, "content-length"), "300000");
    // Many sends on one connection, pipelined by keep-alive.
    for _ in 0..20 {
        get(&e, "/big", &big).await;
    }
    assert_eq!(e.handle.stats().cache_tiers.body_sends, 21);
    assert_eq!(o.count("/big"), 1, "every answer came from the cache");
}

/// A purge of an object whose body is in the body file removes it: the
/// next request is a miss, also after a restart (the head's removal is
/// what the purge journal covers; the body is reachable only through it).
#[tokio::test]
async fn a_purged_body_file_entry_is_never_served_again_also_after_a_restart() {
    let o = ScriptedOrigin::start().await;
    let (a, b) = (object(100_000, 2), object(100_000, 3));
    let reply = |x: &Bytes| Reply::ok(x.clone()).cc("max-age=600").header("content-digest", &content_digest(x));
    o.set("/a", reply(&a).header("surrogate-key", "t"));
    o.set("/b", reply(&b));
    let e = edge(o.addr).await;
    get(&e, "/a", &a).await;
    get(&e, "/b", &b).await;
    let e = e.restart().await;
    for _ in 0..3 {
        get(&e, "/a", &a).await; // promoted: the raw path sends it
    }
    assert_eq!(e.handle.stats().cache_tiers.body_sends, 1);
    assert_eq!(purge(&e, json!({"tag": "t"})).await["objects"], 1);
    let cs = get(&e, "/a", &a).await;
    assert!(cs.contains("fwd=uri-miss"), "purged: {cs}");
    assert_eq!(o.count("/a"), 2);
    purge(&e, json!({"url": "/a"})).await;
    let e = e.restart().await;
    let cs = get(&e, "/a", &a).await;
    assert!(cs.contains("fwd=uri-miss"), "the purge survived the restart: {cs}");
    let cs = get(&e, "/b", &b).await;
    assert!(cs.contains("; hit;") && cs.ends_with("detail=disk"), "{cs}");
    assert_eq!((o.count("/a"), o.count("/b")), (3, 1));
}

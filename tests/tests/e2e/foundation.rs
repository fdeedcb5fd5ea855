//! The foundation: miss then hit, request collapsing, what is never shared,
//! restart from disk, oversize objects, origin failures, bad requests.

use std::time::Duration;

use bytes::Bytes;
use tests::{Gate, Reply, ScriptedOrigin, client, content_digest, eventually, header, start_edge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start_origin() -> origin::Handle {
    let w = world::World::demo().unwrap();
    let mut c = origin::Config::from_world(&w);
    c.admin_token = None;
    let any = "127.0.0.1:0".parse().unwrap();
    origin::spawn(c, any, any).await.unwrap()
}

#[tokio::test]
async fn first_request_misses_second_hits_from_memory() {
    let o = start_origin().await;
    let e = start_edge(o.public, |_| {}).await;
    let c = client();
    let r1 = c.get(e.url("/obj/1")).send().await.unwrap();
    assert_eq!(r1.status(), 200);
    let cs1 = header(&r1, "cache-status");
    assert!(cs1.starts_with("edge-test; fwd=uri-miss; fwd-status=200;") && cs1.contains("; stored"), "{cs1}");
    let b1 = r1.bytes().await.unwrap();
    let r2 = c.get(e.url("/obj/1")).send().await.unwrap();
    let cs2 = header(&r2, "cache-status");
    assert!(cs2.starts_with("edge-test; hit; ttl=") && cs2.ends_with("detail=memory"), "{cs2}");
    assert!(!header(&r2, "age").is_empty(), "a hit carries Age");
    assert!(header(&r2, "via").contains("edge-test"), "a hit carries Via");
    assert_eq!(r2.bytes().await.unwrap(), b1);
    assert_eq!(o.requests_for("/obj/1"), 1, "the hit did not reach the origin");
}

#[tokio::test]
async fn hundred_concurrent_misses_make_one_origin_request() {
    let o = ScriptedOrigin::start().await;
    let fill = Gate::new();
    o.set("/slow", Reply::ok("same for everyone").cc("max-age=60").hold(&fill));
    let e = start_edge(o.addr, |_| {}).await;
    // 100 clients, each on its own connection, all asking before the
    // origin answers: the fill is held until the edge has read every request.
    const REQ: &[u8] = b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let read_before = e.handle.stats().bytes_from_clients;
    let reqs: Vec<_> = (0..100)
        .map(|_| {
            let addr = e.handle.public;
            tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.write_all(REQ).await.unwrap();
                let mut out = Vec::new();
                s.read_to_end(&mut out).await.unwrap();
                String::from_utf8(out).unwrap()
            })
        })
        .collect();
    o.wait_for("/slow", 1).await;
    let all = read_before + 100 * REQ.len() as u64;
    eventually("the edge to read all 100 requests", || async { e.handle.stats().bytes_from_clients >= all }).await;
    fill.open();
    let results = futures_util::future::join_all(reqs).await;
    assert_eq!(o.count("/slow"), 1, "100 waiters, one origin request");
    let mut collapsed = 0;
    for r in &results {
        let r = r.as_ref().unwrap();
        assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("same for everyone"), "{r}");
        let cs = r.lines().find(|l| l.starts_with("cache-status:")).unwrap_or_default();
        collapsed += usize::from(cs.contains("; collapsed"));
        assert!(cs.contains("; collapsed") || cs.contains("fwd=uri-miss") || cs.contains("; hit;"), "{cs}");
    }
    // One led the fill; the others were read before it could finish and
    // joined it (a request whose lookup ran after the fill stored the
    // response would be a hit, which the edge is free to do).
    assert!(collapsed >= 1, "requests waited on the fill");
}

#[tokio::test]
async fn private_no_store_and_cookie_responses_are_never_served_from_cache() {
    let o = ScriptedOrigin::start().await;
    o.set("/nostore", Reply::ok("a").cc("no-store"));
    o.set("/private", Reply::ok("b").cc("private, max-age=60"));
    o.set("/cookie", Reply::ok("c").cc("max-age=60").header("set-cookie", "session=secret"));
    o.set("/nocc", Reply::ok("d"));
    let e = start_edge(o.addr, |_| {}).await;
    let c = client();
    for path in ["/nostore", "/private", "/cookie"] {
        for _ in 0..3 {
            let r = c.get(e.url(path)).send().await.unwrap();
            let cs = header(&r, "cache-status");
            assert!(!cs.contains("hit") && !cs.contains("stored"), "{path}: {cs}");
        }
        assert_eq!(o.count(path), 3, "{path} reached the origin every time");
    }
    // No explicit freshness and no validator: heuristics give nothing; not stored.
    c.get(e.url("/nocc")).send().await.unwrap();
    c.get(e.url("/nocc")).send().await.unwrap();
    assert_eq!(o.count("/nocc"), 2);
}

#[tokio::test]
async fn after_a_restart_the_same_bytes_come_from_disk() {
    let o = start_origin().await;
    let e = start_edge(o.public, |_| {}).await;
    let c = client();
    let r = c.get(e.url("/obj/7")).send().await.unwrap();
    let digest = header(&r, "content-digest");
    let body = r.bytes().await.unwrap();
    assert_eq!(content_digest(&body), digest);
    let e = e.restart().await;
    let r = c.get(e.url("/obj/7")).send().await.unwrap();
    let cs = header(&r, "cache-status");
    assert!(cs.contains("; hit;") && cs.ends_with("detail=disk"), "{cs}");
    assert_eq!(header(&r, "content-digest"), digest);
    let again = r.bytes().await.unwrap();
    assert_eq!(again, body);
    assert_eq!(content_digest(&again), digest, "body from disk matches its Content-Digest");
    assert_eq!(o.requests_for("/obj/7"), 1, "the restarted edge did not go back to the origin");
    // Its second disk hit, a reuse that fits the memory tier, copies it
    // into memory (the first did not: docs/disk.md, `disk_promotion`).
    let r = c.get(e.url("/obj/7")).send().await.unwrap();
    assert!(header(&r, "cache-status").ends_with("detail=disk"));
    assert_eq!(content_digest(&r.bytes().await.unwrap()), digest);
    let r = c.get(e.url("/obj/7")).send().await.unwrap();
    assert!(header(&r, "cache-status").ends_with("detail=memory"));
    let t = e.handle.stats().cache_tiers;
    assert_eq!((t.memory_hits, t.disk_hits, t.disk_reads, t.promotions), (1, 2, 2, 1), "{t:?}");
}

/// A body larger than the slice size goes to the disk tier as slices: a
/// disk hit reads its head and then one slice at a time as the response
/// streams (four reads of at most a slice each, never one read of the
/// whole body), with its bytes and `Content-Digest` intact, ranges too.
#[tokio::test]
async fn a_large_disk_entry_is_read_back_in_slices_with_its_bytes_and_digest_intact() {
    let o = ScriptedOrigin::start().await;
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let big = Bytes::from(big);
    let digest = content_digest(&big);
    let reply = Reply::ok(big.clone()).cc("max-age=600").header("etag", "\"big-1\"").header("content-digest", &digest);
    o.set("/big", reply.ranges());
    let e = start_edge(o.addr, |c| c.slice_size = 1 << 20).await;
    let c = client();
    let r = c.get(e.url("/big")).send().await.unwrap();
    assert!(header(&r, "cache-status").contains("stored"));
    assert_eq!(r.bytes().await.unwrap(), big);
    let e = e.restart().await; // the memory tier is empty: the disk tier answers
    let r = c.get(e.url("/big")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cs = header(&r, "cache-status");
    assert!(cs.contains("; hit;") && cs.contains("detail=slices"), "{cs}");
    assert_eq!(header(&r, "content-digest"), digest);
    let got = r.bytes().await.unwrap();
    assert_eq!(got.len(), big.len());
    assert!(got == big, "the bytes read back from disk differ");
    assert_eq!(content_digest(&got), digest, "body from disk matches its Content-Digest");
    let s = e.handle.stats();
    assert_eq!(
        (s.cache_tiers.disk_reads, s.cache_tiers.disk_hits),
        (4, 1),
        "the head and 3 slices, each read once: {:?}",
        s.cache_tiers
    );
    assert!(s.disk_read <= 4 * ((1 << 20) + (64 << 10)), "no read larger than a slice: {} bytes", s.disk_read);
    // A range across a slice boundary, from the slices on disk.
    let r = c.get(e.url("/big")).header("range", "bytes=1048000-1049000").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), big.slice(1_048_000..=1_049_000));
    assert_eq!(o.count("/big"), 1, "every answer came from the disk tier");
}

#[tokio::test]
async fn objects_over_the_max_size_stream_through_intact_and_are_not_stored() {
    let o = ScriptedOrigin::start().await;
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let big = Bytes::from(big);
    o.set("/big-length", Reply::ok(big.clone()).cc("max-age=600"));
    o.set("/big-chunked", Reply::ok(big.clone()).cc("max-age=600").chunked(64 * 1024));
    let e = start_edge(o.addr, |c| c.store.max_object = 1 << 20).await;
    let c = client();
    for path in ["/big-length", "/big-chunked"] {
        for _ in 0..2 {
            let r = c.get(e.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let cs = header(&r, "cache-status");
            // A chunked body's size shows only on the way, after its head
            // went out (a miss streams through as it arrives): only the
            // announced length can be called too big up front.
            if path == "/big-length" {
                assert!(cs.contains("detail=too-big") && !cs.contains("stored"), "{path}: {cs}");
            }
            let got = r.bytes().await.unwrap();
            assert_eq!(got.len(), big.len(), "{path}");
            assert!(got == big, "{path}: body intact");
        }
        assert_eq!(o.count(path), 2, "{path} was not stored");
    }
}

#[tokio::test]
async fn origin_down_gives_502_with_a_reason_and_cached_objects_still_serve() {
    let mut o = ScriptedOrigin::start().await;
    o.set("/kept", Reply::ok("kept").cc("max-age=600"));
    let e = start_edge(o.addr, |_| {}).await;
    let c = client();
    assert_eq!(c.get(e.url("/kept")).send().await.unwrap().status(), 200);
    o.stop().await;
    let r = c.get(e.url("/kept")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "cache-status").contains("; hit;"));
    let r = c.get(e.url("/not-cached")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    assert!(text.contains("origin unreachable: connection refused"), "{text}");
}

#[tokio::test]
async fn slow_origin_gives_504() {
    let o = ScriptedOrigin::start().await;
    let never = Gate::new(); // the origin answers only after the edge gave up
    o.set("/slow", Reply::ok("late").hold(&never));
    let e = start_edge(o.addr, |c| c.origin_timeout = Duration::from_millis(300)).await;
    let r = client().get(e.url("/slow")).send().await.unwrap();
    assert_eq!(r.status(), 504);
    assert!(r.text().await.unwrap().contains("origin timeout"));
    never.open();
}

async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(tests::PATIENCE, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test]
async fn malformed_requests_and_oversize_heads_get_4xx_and_the_edge_keeps_serving() {
    let o = ScriptedOrigin::start().await;
    o.set("/ok", Reply::ok("ok").cc("max-age=60"));
    let e = start_edge(o.addr, |_| {}).await;
    let garbage = raw(e.handle.public, b"\x16\x03\x01 not http at all\r\n\r\n").await;
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    let huge = format!("GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
    let r = raw(e.handle.public, huge.as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 431"), "{r}");
    let bad_escape = raw(e.handle.public, b"GET /a%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(bad_escape.starts_with("HTTP/1.1 400"), "{bad_escape}");
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(9000));
    let r = raw(e.handle.public, long.as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 414"), "{r}");
    let r = client().get(e.url("/ok")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn other_methods_pass_through_and_invalidate() {
    let o = ScriptedOrigin::start().await;
    o.set("/doc", Reply::ok("v1").cc("max-age=600"));
    let e = start_edge(o.addr, |_| {}).await;
    let c = client();
    c.get(e.url("/doc")).send().await.unwrap();
    assert!(header(&c.get(e.url("/doc")).send().await.unwrap(), "cache-status").contains("hit"));
    let r = c.post(e.url("/doc")).body("new").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "cache-status").contains("fwd=bypass"));
    assert_eq!(o.last("/doc").unwrap().method, http::Method::POST);
    let r = c.get(e.url("/doc")).send().await.unwrap();
    assert!(header(&r, "cache-status").contains("fwd=uri-miss"), "the POST invalidated /doc");
}

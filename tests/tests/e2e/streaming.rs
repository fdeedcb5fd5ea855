//! Misses stream through (issue 14, item 5): a miss's body reaches every
//! client collapsed on the fill as it arrives from the origin, while the
//! edge keeps a copy to store; what is stored is the whole body, intact;
//! a body the origin breaks off is never stored, and its clients see a
//! broken response, never a short one that looks complete.
//!
//! The origin sends the first part of each body and holds the rest behind
//! a [`Gate`]: whatever a client has read before the gate opens reached it
//! before the origin finished sending.

use bytes::Bytes;
use tests::{Gate, Reply, ScriptedOrigin, client, content_digest, header, start_edge};

const FIRST: usize = 50_000;

fn object() -> Bytes {
    Bytes::from((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect::<Vec<_>>())
}

/// Reads `r` until it has at least `n` bytes (or the patience runs out:
/// the edge is holding them back).
async fn read_at_least(r: &mut reqwest::Response, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let chunk = tokio::time::timeout(tests::PATIENCE, r.chunk()).await;
        let chunk = chunk.expect("bytes of a miss held back until the origin finished").unwrap();
        got.extend_from_slice(&chunk.expect("the body ended early"));
    }
    got
}

/// Reads the rest of `r` after `got`.
async fn read_rest(mut r: reqwest::Response, mut got: Vec<u8>) -> Result<Vec<u8>, reqwest::Error> {
    while let Some(c) = r.chunk().await? {
        got.extend_from_slice(&c);
    }
    Ok(got)
}

#[tokio::test]
async fn a_miss_reaches_two_collapsed_clients_before_the_origin_finishes_and_is_stored_whole() {
    let o = ScriptedOrigin::start().await;
    let body = object();
    let digest = content_digest(&body);
    let rest = Gate::new();
    let reply = Reply::ok(body.clone()).cc("max-age=600").header("content-digest", &digest);
    o.set("/s", reply.pause_after(FIRST, &rest));
    let e = start_edge(o.addr, |_| {}).await;
    let http = client();
    let mut a = tokio::time::timeout(tests::PATIENCE, http.get(e.url("/s")).send())
        .await
        .expect("the head of a miss held back until the origin finished")
        .unwrap();
    let a_first = read_at_least(&mut a, 1).await;
    // A second client while the body is still arriving: it joins the same
    // fill and reads the body from its first byte.
    let mut b = http.get(e.url("/s")).send().await.unwrap();
    let cs_b = header(&b, "cache-status");
    assert!(cs_b.contains("collapsed"), "{cs_b}");
    let b_first = read_at_least(&mut b, FIRST).await;
    assert_eq!(&b_first[..], &body[..b_first.len()], "the late client reads from the start");
    assert_eq!(&a_first[..], &body[..a_first.len()]);
    assert_eq!(o.count("/s"), 1, "one origin fetch for both");
    rest.open();
    let (a, b) = (read_rest(a, a_first).await.unwrap(), read_rest(b, b_first).await.unwrap());
    assert!(a == body && b == body, "both got the whole body");
    assert_eq!(content_digest(&a), digest);
    // Stored whole: the next request is a hit, with the same bytes and digest.
    let hit = http.get(e.url("/s")).send().await.unwrap();
    let cs = header(&hit, "cache-status");
    assert!(cs.contains("; hit"), "{cs}");
    assert_eq!(header(&hit, "content-digest"), digest);
    assert_eq!(header(&hit, "content-length"), body.len().to_string());
    let stored = hit.bytes().await.unwrap();
    assert!(stored == body, "the stored object is intact");
    assert_eq!(content_digest(&stored), digest);
    assert_eq!(o.count("/s"), 1);
}

#[tokio::test]
async fn a_chunked_miss_streams_too_and_is_stored_with_its_length() {
    let o = ScriptedOrigin::start().await;
    let body = object();
    let rest = Gate::new();
    // No Content-Length from the origin: chunked to the client, and the
    // stored copy gets its length once complete.
    o.set("/c", Reply::ok(body.clone()).cc("max-age=600").chunked(FIRST).pause_after(FIRST, &rest));
    let e = start_edge(o.addr, |_| {}).await;
    let http = client();
    let mut a = http.get(e.url("/c")).send().await.unwrap();
    assert_eq!((header(&a, "content-length"), header(&a, "transfer-encoding")), ("".into(), "chunked".into()));
    let first = read_at_least(&mut a, 1).await;
    rest.open();
    assert!(read_rest(a, first).await.unwrap() == body);
    let hit = http.get(e.url("/c")).send().await.unwrap();
    assert!(header(&hit, "cache-status").contains("; hit"));
    assert_eq!(header(&hit, "content-length"), body.len().to_string());
    assert!(hit.bytes().await.unwrap() == body);
}

/// With a `Content-Length` and without one (chunked: a client could not
/// tell a short body from a whole one, were it ended cleanly).
#[tokio::test]
async fn a_miss_the_origin_breaks_off_mid_body_is_not_stored_and_its_clients_see_it_broken() {
    let o = ScriptedOrigin::start().await;
    let body = object();
    let e = start_edge(o.addr, |_| {}).await;
    let http = client();
    for (path, chunked) in [("/b", false), ("/bc", true)] {
        let cut = Gate::new();
        let mut broken = Reply::ok(body.clone()).cc("max-age=600");
        if chunked {
            broken = broken.chunked(FIRST);
        }
        o.push(path, broken.break_after(FIRST, &cut));
        o.set(path, Reply::ok(body.clone()).cc("max-age=600"));
        let mut a = http.get(e.url(path)).send().await.unwrap();
        let a_first = read_at_least(&mut a, 1).await;
        let mut b = http.get(e.url(path)).send().await.unwrap();
        assert!(header(&b, "cache-status").contains("collapsed"), "{path}");
        let b_first = read_at_least(&mut b, FIRST).await;
        cut.open();
        assert!(
            read_rest(a, a_first).await.is_err(),
            "{path}: the first client's response is cut, not completed short"
        );
        assert!(read_rest(b, b_first).await.is_err(), "{path}: and so is the collapsed client's");
        // Not stored: the next request goes to the origin again.
        let again = http.get(e.url(path)).send().await.unwrap();
        let cs = header(&again, "cache-status");
        assert!(cs.contains("fwd=uri-miss"), "{path}: {cs}");
        assert!(again.bytes().await.unwrap() == body);
        assert_eq!(o.count(path), 2);
    }
    assert_eq!(e.handle.stats().stored, 2, "only the good copies were stored");
}

/// A client that has read its whole miss and asks again gets a hit: the
/// fill stores the object before its readers get the last byte (it was
/// the other way round, and a quick second request joined the fill still
/// running, or missed: seen as a flaky `cli_purge`). Racy by nature on
/// the old order, so many rounds on two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_has_its_whole_miss_hits_when_it_asks_again() {
    let o = ScriptedOrigin::start().await;
    let body = object();
    for i in 0..200 {
        o.set(&format!("/again/{i}"), Reply::ok(body.clone()).cc("max-age=600"));
    }
    let e = start_edge(o.addr, |_| {}).await;
    let http = client();
    for i in 0..200 {
        let url = e.url(&format!("/again/{i}"));
        let miss = http.get(&url).send().await.unwrap();
        assert!(miss.bytes().await.unwrap() == body);
        let again = http.get(&url).send().await.unwrap();
        let cs = header(&again, "cache-status");
        assert!(cs.contains("; hit"), "round {i}: {cs}");
    }
}

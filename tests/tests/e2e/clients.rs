//! Slow, idle and too many clients (defect 6 of issue 12), on both paths
//! of the public listener: a request head has one deadline from when the
//! connection is ready for it (a trickled head is cut off as surely as a
//! silent connection), idle keep-alive connections are closed, and a
//! connection over the limit is answered 503 with the reason.
//!
//! These wait on real sockets: the edge's timeouts are short, and what the
//! tests wait for has a deadline of [`PATIENCE`], so a busy machine makes
//! them slower, never red. What tells a timeout apart from its absence is
//! an order of events, not a measured time: a trickled head is cut off
//! before its last byte is sent, an idle connection is not closed before
//! its timeout.

use std::time::{Duration, Instant};

use tests::raw::RawConn;
use tests::{EchoOrigin, PATIENCE, TestEdge, client, eventually, header, start_edge};

/// What hands a connection to hyper (see `smuggling.rs`).
const HAND_OVER: &[u8] = b"GET /w HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n";

async fn edge(o: &EchoOrigin, tweak: impl FnOnce(&mut edge::Config)) -> TestEdge {
    let e = start_edge(o.addr, tweak).await;
    let r = client().get(e.url("/w")).send().await.unwrap();
    assert!(header(&r, "cache-status").contains("stored"));
    e
}

/// Opens a connection on the raw path, or one handed to hyper already.
async fn open(e: &TestEdge, hyper: bool) -> RawConn {
    let mut c = RawConn::open(e.handle.public).await;
    if hyper {
        c.send(HAND_OVER).await.unwrap();
        assert_eq!(c.response(false).await.unwrap().status, 200);
    }
    c
}

#[tokio::test]
async fn a_trickled_request_head_is_cut_off_at_its_deadline_on_both_paths() {
    let o = EchoOrigin::start(&[], "max-age=600").await;
    let e = edge(&o, |c| c.limits.idle_timeout = Duration::from_millis(800)).await;
    for hyper in [false, true] {
        let mut c = open(&e, hyper).await;
        // One byte every 100 ms (each well within any per-read timeout):
        // the head would take at least 40 s, fifty times the 800 ms
        // deadline, so however slow the machine, a per-head deadline cuts
        // it off before its end and a per-read one never does.
        let head = format!("GET /w HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n", "a".repeat(360));
        let started = Instant::now();
        let mut closed_at = None;
        for b in head.as_bytes() {
            if c.send(&[*b]).await.is_err() || c.closed_within(Duration::from_millis(100)).await {
                closed_at = Some(started.elapsed());
                break;
            }
        }
        let closed_at = closed_at.unwrap_or_else(|| panic!("hyper={hyper}: the whole head was accepted"));
        eprintln!("hyper={hyper}: a trickled head was cut off after {closed_at:?}");
        assert!(c.leftover().is_empty(), "hyper={hyper}: no answer to a head that never finished in time");
    }
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout_on_both_paths() {
    let o = EchoOrigin::start(&[], "max-age=600").await;
    let idle = Duration::from_millis(500);
    let e = edge(&o, |c| c.limits.idle_timeout = idle).await;
    for hyper in [false, true] {
        let mut c = open(&e, hyper).await;
        c.send(b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
        assert_eq!(c.response(false).await.unwrap().status, 200);
        let started = Instant::now();
        assert!(c.closed_within(PATIENCE).await, "hyper={hyper}: an idle connection is closed");
        // The timer started before the answer was read, so only a close
        // before the timeout can come sooner than half of it.
        assert!(started.elapsed() >= idle / 2, "hyper={hyper}: not before its idle timeout ({:?})", started.elapsed());
    }
    // A connection that never sends anything.
    let mut silent = RawConn::open(e.handle.public).await;
    assert!(silent.closed_within(PATIENCE).await, "a silent connection is closed");
}

#[tokio::test]
async fn a_connection_over_the_limit_gets_a_503_with_the_reason_and_the_limit_frees_up() {
    let o = EchoOrigin::start(&[], "max-age=600").await;
    let e = edge(&o, |c| c.limits.max_connections = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = RawConn::open(e.handle.public).await;
        c.send(b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
        assert_eq!(c.response(false).await.unwrap().status, 200);
        held.push(c);
    }
    let mut over = RawConn::open(e.handle.public).await;
    over.send(b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let r = over.response(false).await.expect("an answer, not a silent close");
    assert_eq!(r.status, 503, "{}", r.head);
    assert!(r.text().contains("limit of 3 connections"), "{}", r.text());
    assert_eq!(r.header("connection"), "close");
    assert!(over.closed_within(PATIENCE).await);
    assert!(e.handle.stats().client_connections_refused >= 1);
    // One leaves: a new connection is served again (polled: the edge
    // notices the closed connection when its task ends).
    drop(held.pop());
    eventually("a connection to be served again after one left", || async {
        let mut c = RawConn::open(e.handle.public).await;
        let _ = c.send(b"GET /w HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
        c.response(false).await.is_some_and(|r| r.status == 200)
    })
    .await;
}

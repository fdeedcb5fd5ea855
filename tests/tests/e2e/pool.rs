//! The edge's kept upstream connections (issue 14, item 4): a fetch on a
//! kept connection is warm, one that had to open a connection is cold, and
//! the pool size decides which: `/stats` counts both per upstream.

use tests::{Reply, ScriptedOrigin, client, start_edge};

/// Three misses one after another: the first opens the connection, the
/// next two find it kept.
#[tokio::test]
async fn later_misses_reuse_the_kept_connection_and_are_counted_warm() {
    let o = ScriptedOrigin::start().await;
    o.set("/a", Reply::ok("a").cc("max-age=600"));
    let e = start_edge(o.addr, |_| {}).await;
    let http = client();
    for q in ["/a?1", "/a?2", "/a?3"] {
        assert_eq!(http.get(e.url(q)).send().await.unwrap().bytes().await.unwrap(), "a");
    }
    let s = e.handle.stats();
    let u = &s.upstreams[0];
    assert_eq!((u.name.as_str(), u.requests), ("origin", 3));
    assert_eq!((u.cold, u.warm, u.connections_opened), (1, 2, 1), "{u:?}");
    assert_eq!(u.bytes_received, s.bytes_from_origin);
}

/// With no connection kept every fetch opens its own: all cold.
#[tokio::test]
async fn a_pool_of_zero_makes_every_fetch_cold() {
    let o = ScriptedOrigin::start().await;
    o.set("/a", Reply::ok("a").cc("max-age=600"));
    let e = start_edge(o.addr, |c| c.pool.max_idle = 0).await;
    let http = client();
    for q in ["/a?1", "/a?2", "/a?3"] {
        assert_eq!(http.get(e.url(q)).send().await.unwrap().bytes().await.unwrap(), "a");
    }
    let u = &e.handle.stats().upstreams[0];
    assert_eq!((u.cold, u.warm, u.connections_opened, u.pool), (3, 0, 3, 0), "{u:?}");
}

/// A kept connection idle past `upstream_idle_timeout` is not reused:
/// the next fetch is cold. (The pool's timer runs on the wall clock: the
/// test polls, each poll idle longer than the timeout, so the connection
/// is never kept alive by the polling itself.)
#[tokio::test]
async fn a_connection_idle_past_the_timeout_is_not_reused() {
    let o = ScriptedOrigin::start().await;
    o.set("/a", Reply::ok("a").cc("no-store"));
    let e = start_edge(o.addr, |c| c.pool.idle_timeout = std::time::Duration::from_millis(50)).await;
    let http = client();
    assert_eq!(http.get(e.url("/a")).send().await.unwrap().bytes().await.unwrap(), "a");
    let deadline = tokio::time::Instant::now() + tests::PATIENCE;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        assert_eq!(http.get(e.url("/a")).send().await.unwrap().bytes().await.unwrap(), "a");
        let u = &e.handle.stats().upstreams[0];
        if u.cold >= 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a connection idle past 50 ms was reused: {u:?}");
    }
}

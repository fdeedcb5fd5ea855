//! The raw hit path allocates nothing per request (the project's rule for
//! the hit path), also when its `Cache-Status` says how the entry's
//! lifetime came about (`detail=memory+heuristic`, issue 19): the header
//! value is a static detail in a per-thread table of rendered values, so
//! only the first hit of a (ttl, detail) formats it. Counted with this
//! binary's allocator (`stats_alloc`), one test at a time. The count is
//! process-wide, and under load another thread (the store's or libtest's)
//! has allocated a few times inside a window (4 allocations, once in a
//! full-suite run); so each check takes the quietest of three windows. A
//! hit path that allocates does so in every window.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;

use bytes::{Bytes, BytesMut};
use edge::entry::{CacheValue, StoredEntry};
use edge::freshness::{Flags, Timing};
use edge::fuzzing::{RawDecision, START_MS, memory_edge, raw_hit};
use edge::head::Head;
use edge::key::CacheKey;
use http::header::{CONTENT_LENGTH, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, StatusCode};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A 200 stored with `flags`, fresh for an hour from [`START_MS`].
fn entry(flags: Flags) -> CacheValue {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(5));
    headers.insert(LAST_MODIFIED, HeaderValue::from_static("Thu, 01 Jan 2026 00:00:00 GMT"));
    CacheValue::Response(StoredEntry {
        status: StatusCode::OK,
        head: Head::new(StatusCode::OK, &headers),
        body: Bytes::from_static(b"hello"),
        timing: Timing { birth_ms: START_MS, lifetime_ms: 3_600_000, swr_ms: 0, sie_ms: 0 },
        flags,
        tags: Box::default(),
        stored_ms: START_MS,
        slices: None,
        body_at: None,
    })
}

#[test]
fn raw_hits_allocate_nothing_with_or_without_a_lifetime_detail_even_interleaved() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let st = rt.block_on(memory_edge(&[("/plain", b"hello")])).unwrap();
    let mark = st.purge.mark();
    let stored = vec![
        (CacheKey::from_target("/heuristic").unwrap(), entry(Flags(Flags::HEURISTIC | Flags::MAX_TTL))),
        (CacheKey::from_target("/configured").unwrap(), entry(Flags(Flags::DEFAULT_TTL))),
    ];
    assert!(st.purging().store_fill(mark, stored));
    let mut out = BytesMut::with_capacity(64 << 10);
    for (path, detail) in
        [("/plain", "memory"), ("/heuristic", "memory+heuristic+max-ttl"), ("/configured", "memory+default-ttl")]
    {
        let req = format!("GET {path} HTTP/1.1\r\nHost: cdn.test\r\n\r\n");
        // The first hit renders the (ttl, detail) value once.
        assert!(matches!(raw_hit(&st, req.as_bytes(), &mut out), RawDecision::Answered { .. }));
        let head = String::from_utf8_lossy(&out).into_owned();
        assert!(head.contains(&format!("cache-status: edge-edge; hit; ttl=3600; detail={detail}\r\n")), "{head}");
        out.clear();
        let c = quietest(|| {
            for _ in 0..1000 {
                let RawDecision::Answered { body, .. } = raw_hit(&st, req.as_bytes(), &mut out) else {
                    panic!("{path}")
                };
                assert_eq!(&body[..], b"hello");
                out.clear();
            }
        });
        assert_eq!(c, (0, 0), "{path}: allocations, reallocations");
    }
    // Interleaved, same ttl, different details: each (ttl, detail) keeps
    // its own slot in the per-thread table instead of evicting the other's
    // value on every hit. (In this one test: libtest's own bookkeeping for
    // a second test would allocate while this one counts.)
    let reqs: Vec<String> = ["/plain", "/heuristic", "/configured"]
        .iter()
        .map(|p| format!("GET {p} HTTP/1.1\r\nHost: cdn.test\r\n\r\n"))
        .collect();
    let c = quietest(|| {
        for i in 0..3000 {
            let req = &reqs[i % reqs.len()];
            let RawDecision::Answered { .. } = raw_hit(&st, req.as_bytes(), &mut out) else { panic!("{req}") };
            out.clear();
        }
    });
    assert_eq!(c, (0, 0), "interleaved: allocations, reallocations");
}

/// (allocations, reallocations) during `run`, the fewest of three runs.
fn quietest(mut run: impl FnMut()) -> (usize, usize) {
    (0..3)
        .map(|_| {
            let region = Region::new(GLOBAL);
            run();
            let c = region.change();
            (c.allocations, c.reallocations)
        })
        .min()
        .unwrap()
}

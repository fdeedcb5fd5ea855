//! The memory tier's weight is what its entries really cost (issue 20):
//! over a fill of many small objects, the bytes the tier reports track the
//! process's real growth (resident memory from `/proc/self/statm`, and the
//! heap as a counting allocator sees it) within 10%. Before, a 512-byte
//! object weighed 6.3 KB (two header maps) and a `--memory 256MiB` tier
//! held 42,000 of them; a weight that undercounts lets the tier outgrow
//! its setting, one that overcounts wastes it.
//!
//! One test in this binary: the process's resident memory is the
//! measurement, so nothing else may run beside it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;

use bytes::Bytes;
use edge::entry::{CacheValue, StoredEntry};
use edge::freshness::{Flags, Timing};
use edge::head::Head;
use edge::key::CacheKey;
use edge::store::{Store, StoreConfig};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Resident bytes of this process.
fn resident() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: i64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A 512-byte object as the origin's trace objects (`/t/{key}/512`) are
/// stored: their header set after `to_client`, every value a slice of
/// the buffer the head was read into (as hyper parses them), a tag.
fn filled(i: u64, read_buffer: &Bytes) -> StoredEntry {
    let v = |len: usize| HeaderValue::from_maybe_shared(read_buffer.slice(..len)).unwrap();
    let mut headers = HeaderMap::new();
    for (name, len) in [
        ("content-type", 24),
        ("content-length", 3),
        ("accept-ranges", 5),
        ("etag", 16),
        ("last-modified", 29),
        ("surrogate-key", 8),
        ("cache-control", 20),
        ("repr-digest", 53),
        ("content-digest", 53),
        ("date", 29),
        ("via", 20),
    ] {
        headers.append(HeaderName::from_static(name), v(len));
    }
    // As a fill stores them: the body as hyper hands it (a slice of the
    // read buffer) copied with the head into one buffer.
    let (head, body) = Head::with_body(StatusCode::OK, &headers, &[read_buffer.slice(..512)]);
    StoredEntry {
        status: StatusCode::OK,
        head,
        body,
        timing: Timing { birth_ms: 1, lifetime_ms: 3_600_000, swr_ms: 0, sie_ms: 0 },
        flags: Flags(0),
        tags: [format!("t-{i}")].into(),
        stored_ms: 1,
        slices: None,
        body_at: None,
    }
}

#[test]
fn the_memory_tiers_bytes_track_the_processs_growth_over_many_small_objects() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = StoreConfig {
            name: "weight-test".into(),
            memory: 1 << 30,
            disk: 0,
            max_object: 1 << 20,
            write_buffer: 1 << 20,
            eviction: Default::default(),
            promotion: Default::default(),
            disk_slice: 0,
            dir: std::env::temp_dir().join("cdnlab-weight-test-unused"),
            body_file: false,
        };
        let store = Store::open(&c).await.unwrap();
        let read_buffer = Bytes::from(vec![b'v'; 16 << 10]);
        let n = 100_000u64;
        let (rss0, region) = (resident(), Region::new(GLOBAL));
        for i in 0..n {
            let key = CacheKey::from_target(&format!("/t/{i}/512")).unwrap();
            store.insert(key.clone(), CacheValue::Response(filled(i, &read_buffer)));
            // A hit clones the body (which gives it its shared header).
            let hit = store.get_memory(key.as_str()).unwrap();
            let CacheValue::Response(e) = hit.value() else { unreachable!() };
            drop(e.body.clone());
        }
        let grown = resident() - rss0;
        let c = region.change();
        let heap = (c.bytes_allocated as i64 - c.bytes_deallocated as i64)
            + 16 * (c.allocations as i64 - c.deallocations as i64);
        assert_eq!(store.memory_entries() as u64, n, "nothing evicted");
        let used = store.memory_usage() as i64;
        let per = |b: i64| b as f64 / n as f64;
        eprintln!(
            "{n} entries: the tier says {:.0} B each; resident grew {:.0} B, the heap {:.0} B each",
            per(used),
            per(grown),
            per(heap)
        );
        for (what, real) in [("resident memory", grown), ("heap", heap)] {
            let ratio = used as f64 / real as f64;
            assert!(
                (0.9..=1.1).contains(&ratio),
                "the tier reports {:.0} B per entry, the {what} grew {:.0} B per entry (ratio {ratio:.2})",
                per(used),
                per(real)
            );
        }
    });
}

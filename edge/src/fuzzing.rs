//! Entry points for the fuzz targets in `fuzz/` and for the regression
//! tests of what they found: thin wrappers that reach private parsers (the
//! raw hit path's request-head parser in [`crate::conn`]) without copying
//! them, and a small in-memory edge to run them against. Hidden from the
//! docs: not part of the edge's API. How to run the targets:
//! `docs/security.md`, section "Fuzzing".

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::conn::Raw;
use crate::entry::{CacheValue, StoredEntry};
use crate::freshness::{Flags, Timing};
use crate::head::Head;
use crate::key::CacheKey;
use crate::state::EdgeState;

/// What the raw hit path decided for the bytes read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawDecision {
    /// A fresh memory hit: the head is in `out`; `consumed` request bytes,
    /// then `body` (empty for HEAD).
    Answered {
        /// Request bytes this answer used.
        consumed: usize,
        /// The body to send after the head.
        body: Bytes,
    },
    /// A fresh hit on a head whose body is in the disk tier's body file:
    /// the head is in `out`; `consumed` request bytes, then `len` bytes
    /// sent from the file.
    File {
        /// Request bytes this answer used.
        consumed: usize,
        /// The body's length.
        len: u64,
    },
    /// The request head is not complete yet.
    Partial,
    /// For hyper and the full request path.
    Other,
}

/// Runs the raw hit path ([`crate::conn`]) on `buf`, exactly as a
/// connection does; an answer's head is appended to `out`.
pub fn raw_hit(st: &EdgeState, buf: &[u8], out: &mut BytesMut) -> RawDecision {
    match crate::conn::raw_hit(st, buf, out) {
        Raw::Answered { consumed, body } => RawDecision::Answered { consumed, body },
        Raw::File { consumed, at } => RawDecision::File { consumed, len: at.len },
        Raw::Partial => RawDecision::Partial,
        // Needs the disk tier's (async) lookup: the full path's, here.
        Raw::Stored { .. } => RawDecision::Other,
        Raw::Other => RawDecision::Other,
    }
}

/// The manual clock of [`memory_edge`] stands at this Unix time (ms).
pub const START_MS: u64 = 1_800_000_000_000;

/// A standalone edge with a memory tier only (no disk, no purge journal;
/// its origin address is never contacted) on a manual clock at
/// [`START_MS`], holding each `(target, body)` as a 200 response fresh for
/// an hour, stored through the same admission as a fill.
pub async fn memory_edge(objects: &[(&str, &[u8])]) -> Result<Arc<EdgeState>, crate::EdgeError> {
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mut c = crate::Config::standalone(any, any, any, std::env::temp_dir());
    c.store.memory = 16 << 20;
    c.store.disk = 0;
    c.admin_token = None;
    c.clock = world::Clock::manual(UNIX_EPOCH + Duration::from_millis(START_MS));
    let st = crate::build_state(c).await?;
    for (i, (target, body)) in objects.iter().enumerate() {
        let Ok(key) = CacheKey::from_target(target) else { continue };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        headers.insert(ETAG, HeaderValue::from_str(&format!("\"o{i}\"")).unwrap_or(HeaderValue::from_static("\"o\"")));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
        let value = CacheValue::Response(StoredEntry {
            status: StatusCode::OK,
            head: Head::new(StatusCode::OK, &headers),
            body: Bytes::copy_from_slice(body),
            timing: Timing { birth_ms: START_MS, lifetime_ms: 3_600_000, swr_ms: 0, sie_ms: 0 },
            flags: Flags::default(),
            tags: Box::default(),
            stored_ms: START_MS,
            slices: None,
            body_at: None,
        });
        let mark = st.purge.mark();
        st.purging().store_fill(mark, vec![(key, value)]);
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edge the `raw_hit` fuzz target runs against answers a plain GET
    /// on the raw path, so the fuzzer reaches the answer code too.
    #[tokio::test]
    async fn the_memory_edge_answers_a_plain_get_on_the_raw_path() {
        let st = memory_edge(&[("/obj/1", b"hello")]).await.unwrap();
        let mut out = BytesMut::new();
        let req: &[u8] = b"GET /obj/1 HTTP/1.1\r\nHost: cdn.test\r\n\r\nGET /obj/1 HTTP/1.1\r\nHost: cdn.test\r\nRange: bytes=0-1\r\n\r\n";
        let RawDecision::Answered { consumed, body } = raw_hit(&st, req, &mut out) else { panic!("not answered") };
        assert_eq!(&body[..], b"hello");
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n") && out.ends_with(b"\r\n\r\n"), "{out:?}");
        out.clear();
        assert_eq!(raw_hit(&st, &req[consumed..], &mut out), RawDecision::Other, "a range goes to the full path");
        assert_eq!(raw_hit(&st, b"GET /obj/1 HTTP/1.1\r\nHo", &mut out), RawDecision::Partial);
        assert!(out.is_empty());
    }
}

//! Large objects as fixed-size slices. An object bigger than the edge's
//! largest storable object, from an origin that serves byte ranges, is kept
//! as its response headers (a [`StoredEntry`] with `slices` set and no body)
//! plus slices under derived keys (`{key}\0slice={i}`), each fetched on
//! demand with a range request and stored. So the second viewer of a 500 MiB
//! video hits, and a range request fetches only the slices it covers.
//!
//! Every slice is fetched with `If-Range` on the object's validator and
//! checked against it (status 206, the exact `Content-Range`, the same
//! ETag/Last-Modified, the exact length); a slice that does not match means
//! the object changed at the origin: the stored headers are dropped and the
//! request starts over.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, request};
use http_body_util::BodyExt;
use hyper::body::Frame;

use crate::body::Body;
use crate::cache_status::{CacheStatus, Fwd};
use crate::conditional::{self, RangeAnswer};
use crate::entry::{CacheValue, SliceInfo, StoredEntry};
use crate::fetch::response;
use crate::fill::{Fetched, Ready};
use crate::freshness::Timing;
use crate::head::Head;
use crate::key::CacheKey;
use crate::respond::Rep;
use crate::state::EdgeState;
use crate::upstream::{FetchError, Upstream};

/// A sliced object's stored headers.
#[derive(Clone)]
pub struct SlicedMeta {
    /// Where the headers are stored; slice keys derive from it.
    pub key: CacheKey,
    /// Status (200).
    pub status: StatusCode,
    /// Headers of the whole representation.
    pub headers: HeaderMap,
    /// The slice layout.
    pub info: SliceInfo,
    /// Freshness.
    pub timing: Timing,
    /// Surrogate keys.
    pub tags: Vec<String>,
}

impl SlicedMeta {
    /// From a stored entry with slices.
    pub fn of(key: CacheKey, e: &StoredEntry) -> Option<SlicedMeta> {
        Some(SlicedMeta {
            key,
            status: e.status,
            headers: e.headers(),
            info: e.slices.as_deref().copied()?,
            timing: e.timing,
            tags: e.tags.to_vec(),
        })
    }

    /// From a fill that produced (or refreshed) a sliced object.
    pub fn of_ready(r: &Ready) -> Option<SlicedMeta> {
        Some(SlicedMeta {
            key: r.storage_key.clone()?,
            status: r.status,
            headers: r.headers.clone(),
            info: r.slices?,
            timing: r.timing,
            tags: r.tags.clone(),
        })
    }

    fn slice_key(&self, i: u64) -> CacheKey {
        self.key.slice_key(i)
    }

    /// The object's validator: ETag, else Last-Modified.
    fn validator(&self) -> Option<&HeaderValue> {
        self.headers.get(ETAG).or_else(|| self.headers.get(LAST_MODIFIED))
    }

    fn matches(&self, h: &HeaderMap) -> bool {
        match self.headers.get(ETAG) {
            Some(e) => h.get(ETAG) == Some(e),
            None => h.get(LAST_MODIFIED).is_some() && h.get(LAST_MODIFIED) == self.headers.get(LAST_MODIFIED),
        }
    }
}

/// What a sliced request needs to fetch missing slices.
pub struct SliceFetch {
    /// The URL's key, also the target sent.
    pub target: CacheKey,
    /// Origin-bound headers of the request.
    pub headers: HeaderMap,
}

/// Answers a GET/HEAD for a sliced object: 304 for a satisfied
/// precondition, 416 for an unsatisfiable range, else 200 or 206 with
/// the covered slices streamed in order (missing ones fetched as the
/// stream reaches them), with what its `Cache-Status` says (`cs`, made
/// `fwd=partial` when a slice is fetched now, `detail=slices`).
/// `Err(Changed)` means the object changed: the caller starts the request
/// over.
pub async fn serve_sliced(
    st: &Arc<EdgeState>,
    parts: &request::Parts,
    meta: SlicedMeta,
    how: SliceFetch,
    mut cs: CacheStatus,
    age: Option<u64>,
) -> Result<(Response<Body>, CacheStatus), FetchError> {
    let total = meta.info.total;
    let empty = Bytes::new();
    let rep = Rep { status: meta.status, headers: std::borrow::Cow::Borrowed(&meta.headers), body: &empty };
    if meta.status == StatusCode::OK && conditional::not_modified(&parts.headers, &meta.headers) {
        return Ok((st.responder.respond(parts, rep, age), cs));
    }
    let (status, a, b) = match conditional::range(&parts.headers, &meta.headers, total) {
        RangeAnswer::Full => (StatusCode::OK, 0, total.saturating_sub(1)),
        RangeAnswer::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b),
        RangeAnswer::Unsatisfiable => {
            let mut r = st.responder.respond(parts, rep, age);
            *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            let h = r.headers_mut();
            h.insert(CONTENT_RANGE, header(format!("bytes */{total}")));
            h.insert(CONTENT_LENGTH, HeaderValue::from(0));
            *r.body_mut() = Body::Empty;
            return Ok((r, cs));
        }
    };
    let size = meta.info.size;
    let (first, last) = (a / size, b / size);
    let all_stored = (first..=last).all(|i| st.store.contains(meta.slice_key(i).as_str()));
    if !all_stored && cs.is_hit() {
        cs = CacheStatus { fwd: Some(Fwd::Partial), stored: true, ..cs };
    }
    cs.detail = Some("slices");
    let mut h = meta.headers.clone();
    if let Some(a) = age {
        h.insert(http::header::AGE, HeaderValue::from(a));
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(b - a + 1));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(CONTENT_RANGE, header(format!("bytes {a}-{b}/{total}")));
    }
    let body = if parts.method == Method::HEAD || total == 0 {
        Body::Empty
    } else {
        // Fetch the first slice before answering, so a failure or a
        // changed object is a proper status rather than a cut body.
        let head = slice_bytes(st, &meta, first, &how).await?;
        slice_stream(st, meta, how, head, a, b)
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = h;
    Ok((r, cs))
}

fn slice_stream(st: &Arc<EdgeState>, meta: SlicedMeta, how: SliceFetch, head: Bytes, a: u64, b: u64) -> Body {
    struct S {
        pos: u64,
        head: Option<Bytes>,
    }
    let st = st.clone();
    let (meta, how) = (Arc::new(meta), Arc::new(how));
    let stream = futures_util::stream::unfold(S { pos: a, head: Some(head) }, move |mut s| {
        let (st, meta, how) = (st.clone(), meta.clone(), how.clone());
        async move {
            if s.pos > b {
                return None;
            }
            let i = s.pos / meta.info.size;
            let bytes = match s.head.take() {
                Some(x) => x,
                None => match slice_bytes(&st, &meta, i, &how).await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(key = %meta.key, slice = i, error = %e, "slice failed mid-response");
                        s.pos = b + 1;
                        return Some((Err(Box::new(e) as crate::body::BoxError), s));
                    }
                },
            };
            let (start, end) = meta.info.bounds(i);
            let from = (s.pos - start) as usize;
            let to = (b.min(end) - start) as usize;
            s.pos = start + to as u64 + 1;
            Some((Ok(Frame::data(bytes.slice(from..=to))), s))
        }
    });
    Body::stream(http_body_util::StreamBody::new(stream))
}

/// Slice `i` of an object: from the store if it matches the object,
/// else fetched once (however many requests need it) and stored.
async fn slice_bytes(st: &Arc<EdgeState>, meta: &SlicedMeta, i: u64, how: &SliceFetch) -> Result<Bytes, FetchError> {
    let key = meta.slice_key(i);
    let (start, end) = meta.info.bounds(i);
    let want = end - start + 1;
    if let Ok(Some((e, _))) = st.purging().stored(&key).await
        && let Some(r) = response(&e)
        && meta.matches(&r.headers())
        && r.body.len() as u64 == want
    {
        return Ok(r.body.clone());
    }
    let owner = st.clone();
    let (m, target, headers) = (meta.clone(), how.target.clone(), how.headers.clone());
    let (flight, _) = st.flights.join_or_start(&key, move |id| fetch_slice(owner, m, i, target, headers, id).boxed());
    match &*flight.await {
        Fetched::Ready(r) => Ok(r.body.clone()),
        Fetched::Failed(e) => Err(e.clone()),
        Fetched::Streamed(_) => Err(FetchError::Broken("slice fetch streamed".into())),
    }
}

async fn fetch_slice(
    st: Arc<EdgeState>,
    meta: SlicedMeta,
    i: u64,
    target: CacheKey,
    mut headers: HeaderMap,
    id: u64,
) -> Arc<Fetched> {
    let key = meta.slice_key(i);
    let out = fetch_slice_inner(&st, &meta, i, &target, &mut headers).await;
    if let Fetched::Failed(FetchError::Changed(_)) = &out {
        st.fetcher().invalidate(meta.key.primary()).await;
    }
    st.flights.finish(&key, id);
    Arc::new(out)
}

async fn fetch_slice_inner(
    st: &EdgeState,
    meta: &SlicedMeta,
    i: u64,
    target: &CacheKey,
    headers: &mut HeaderMap,
) -> Fetched {
    // A purge after this point overtakes the slice fetch.
    let mark = st.purge.mark();
    let (start, end) = meta.info.bounds(i);
    headers.insert(RANGE, header(format!("bytes={start}-{end}")));
    if let Some(v) = meta.validator() {
        headers.insert(IF_RANGE, v.clone());
    }
    let build = |up: &Upstream, sent: HeaderMap| -> Result<Request<Body>, FetchError> {
        let mut req = Request::new(Body::Empty);
        *req.uri_mut() = up.uri(target.as_str())?;
        *req.headers_mut() = sent;
        Ok(req)
    };
    let sent = std::mem::take(headers);
    // A read like any fill: with a replicated origin, the nearest site at
    // the object's purge floor (crate::origins).
    let answer = match &st.origins {
        Some(o) => o.send(&st.upstream, target.as_str(), |up| build(up, sent.clone())).await,
        None => match build(&st.upstream, sent) {
            Ok(req) => st.upstream.send(req).await,
            Err(e) => Err(e),
        },
    };
    let resp = match answer {
        Ok((_, r)) => r,
        Err(e) => return Fetched::Failed(e),
    };
    let (parts, body) = resp.into_parts();
    let expected_range = format!("bytes {start}-{end}/{}", meta.info.total);
    if parts.status == StatusCode::OK
        || (parts.status == StatusCode::PARTIAL_CONTENT
            && (!meta.matches(&parts.headers)
                || parts.headers.get(CONTENT_RANGE).is_none_or(|v| v.as_bytes() != expected_range.as_bytes())))
    {
        return Fetched::Failed(FetchError::Changed(format!("slice {i} of {} does not match", meta.key.primary())));
    }
    if parts.status != StatusCode::PARTIAL_CONTENT {
        return Fetched::Failed(FetchError::Broken(format!("origin answered {} to a slice request", parts.status)));
    }
    let want = end - start + 1;
    let body = match tokio::time::timeout(st.upstream.timeout(), body.collect()).await {
        Err(_) => return Fetched::Failed(FetchError::Timeout(st.upstream.timeout())),
        Ok(Err(e)) => return Fetched::Failed(FetchError::Broken(format!("slice body: {e}"))),
        // Copied to exactly its size: a body that came in one chunk is a
        // slice of the connection's read buffer, which a stored slice
        // would keep alive (docs/memory.md).
        Ok(Ok(c)) => Bytes::copy_from_slice(&c.to_bytes()),
    };
    if body.len() as u64 != want {
        return Fetched::Failed(FetchError::Broken(format!("slice {i}: {} bytes, expected {want}", body.len())));
    }
    let mut h = HeaderMap::new();
    for n in [ETAG, LAST_MODIFIED] {
        if let Some(v) = parts.headers.get(&n) {
            h.insert(n, v.clone());
        }
    }
    let entry = StoredEntry {
        status: StatusCode::PARTIAL_CONTENT,
        head: Head::new(StatusCode::PARTIAL_CONTENT, &h),
        body: body.clone(),
        timing: meta.timing,
        flags: Default::default(),
        tags: meta.tags.as_slice().into(),
        stored_ms: st.clock.unix_ms(),
        slices: None,
        body_at: None,
    };
    let value = CacheValue::Response(entry);
    let on_disk = meta.info.total as usize > st.store.memory_capacity() / 4;
    if st.purging().store_fill_placed(mark, vec![(meta.slice_key(i), value)], on_disk) {
        st.meter.stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Fetched::Ready(Box::new(Ready {
        status: StatusCode::PARTIAL_CONTENT,
        origin_status: 206,
        headers: HeaderMap::new(),
        shared_headers: None,
        body,
        timing: meta.timing,
        flags: Default::default(),
        stored: true,
        not_stored: None,
        shareable: true,
        revalidated: false,
        vary: Vec::new(),
        req_headers: HeaderMap::new(),
        slices: None,
        storage_key: None,
        stream: None,
        tags: Vec::new(),
        upstream_status: None,
    }))
}

fn header(s: String) -> HeaderValue {
    HeaderValue::try_from(s).unwrap_or(HeaderValue::from_static(""))
}

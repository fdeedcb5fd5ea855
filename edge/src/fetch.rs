//! Origin fetches: filling the cache on a miss (one per key, see
//! [`crate::flight`]), revalidating a stale entry (304 → refresh stored
//! headers and freshness), and passing uncacheable requests through.
//!
//! A fill streams the body to its clients as it arrives while it keeps a
//! copy to store ([`crate::growing`]), up to the edge's largest storable
//! object; a response announced bigger is sliced or streams to the
//! requesting client alone, one found bigger on the way is handed to that
//! client, and neither is stored.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use parking_lot::Mutex;
use world::CacheRule;

use crate::admission::Admission;
use crate::body::Body;
use crate::cluster::Cluster;
use crate::entry::{CacheValue, SliceInfo, StoredEntry, VarySpec};
use crate::fill::{Fetched, Fill, Ready};
use crate::freshness::policy::vary_names;
use crate::freshness::{Exchange, Flags, NotStored, Timing, evaluate};
use crate::growing::{Feeder, Growing};
use crate::head::Head;
use crate::headers::{self, CACHE_STATUS, tags_of};
use crate::key::CacheKey;
use crate::meter::Meter;
use crate::origins::Origins;
use crate::purge::order::{PURGE_SEQ, PurgeOrder};
use crate::purge::{Mark, Purging};
use crate::store::Entry;
use crate::tier::{Route, Shield};
use crate::upstream::{FetchError, Upstream};
use crate::vary::variant_key;

/// The stored response inside an entry.
pub fn response(e: &Entry) -> Option<&StoredEntry> {
    match e.value() {
        CacheValue::Response(r) => Some(r),
        CacheValue::Variants(_) => None,
    }
}

/// What an origin fetch uses, lent by the edge for one fetch (made by
/// `EdgeState::fetcher`): the way to the origin (and to the shield, when
/// the edge fills from one: [`crate::tier`]), the purger with the
/// store (a fill is stored through it, so a purge can overtake it), the
/// admission policy, the caching rules and the counters of stores.
pub struct Fetcher<'a> {
    /// The way to the origin.
    pub upstream: &'a Upstream,
    /// The way to the shield, when this edge fills from one.
    pub shield: Option<&'a Shield>,
    /// The sites of a replicated origin (fills go to the nearest healthy
    /// one at the purge floor: [`crate::origins`]).
    pub origins: Option<&'a Origins>,
    /// The PoP's other nodes, when this edge is a node of a hashed PoP
    /// (a fill of a key another node owns goes there: [`crate::cluster`]).
    pub cluster: Option<&'a Cluster>,
    /// The world purge sequence applied here (sent to the shield).
    pub order: &'a PurgeOrder,
    /// The purger lent the store: fills are stored, and URLs invalidated, through it.
    pub purging: Purging<'a, Arc<Fetched>>,
    /// Counters (stored, not stored).
    pub meter: &'a Meter,
    /// Which storable fills are stored.
    pub admission: &'a Admission,
    /// Per-path caching rules from the world.
    pub rules: &'a [CacheRule],
    /// `edge-{name}`: the surrogate name `CDN-Cache-Control` targets.
    pub label: &'a str,
    /// The `Via` value added to what the origin answered.
    pub via: &'a HeaderValue,
    /// Largest object stored whole.
    pub max_object: u64,
    /// Slice size for larger objects (0: stream them through uncached).
    pub slice_size: u64,
}

/// The caching rule for a path (longest prefix).
pub fn rule<'r>(rules: &'r [CacheRule], path: &str) -> Option<&'r CacheRule> {
    rules.iter().filter(|r| path.starts_with(&r.prefix)).max_by_key(|r| r.prefix.len())
}

impl Fetcher<'_> {
    fn now_ms(&self) -> u64 {
        self.purging.clock.unix_ms()
    }

    fn rule(&self, path: &str) -> Option<&CacheRule> {
        rule(self.rules, path)
    }

    /// Runs a fill up to the response head: what its clients get, and,
    /// for a body that streams to them, the rest of the fill, which the
    /// caller runs to the end with [`Fetcher::complete`] before it releases
    /// the flight (so clients arriving meanwhile join it and read the body
    /// from the start). Without a rest the fill is over.
    pub async fn fill(&self, f: &Fill) -> (Fetched, Option<Pending>) {
        // Before asking the origin: a purge after this point overtakes the fill.
        let mark = self.purging.purger.mark();
        let stale = f.stale.as_ref().and_then(|e| response(e).map(|r| (e, r)));
        let mut headers = f.headers.clone();
        if let Some((_, s)) = stale {
            if let Some(etag) = s.header(ETAG.as_str()) {
                headers.insert(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = s.header(LAST_MODIFIED.as_str()) {
                headers.insert(IF_MODIFIED_SINCE, lm);
            }
        }
        let method = if f.head { Method::HEAD } else { Method::GET };
        let (request_time, resp, from_shield) = match self.send_fill(method, &f.key, headers, f.peer).await {
            Ok(r) => r,
            Err(e) => return (Fetched::Failed(e), None),
        };
        let response_time = self.purging.clock.now();
        let (mut parts, body) = resp.into_parts();
        // The shield's (or the owning peer's) entries of Cache-Status, to
        // go before this edge's (an origin's is not a cache's: replaced,
        // as before).
        let upstream_status = if from_shield { parts.headers.remove(CACHE_STATUS) } else { None };
        if let Some((entry, s)) = stale {
            let head_ok = f.head && parts.status == StatusCode::OK && same_representation(&s.headers(), &parts.headers);
            if parts.status == StatusCode::NOT_MODIFIED || head_ok {
                let times = (request_time, response_time);
                let answer = (&parts.headers, parts.status.as_u16(), upstream_status);
                return (self.revalidated(f, entry, s, answer, times, mark), None);
            }
            if f.head {
                // RFC 9111 §4.3.5: a HEAD answer that does not match the
                // stored response invalidates it.
                self.invalidate(entry.key().primary()).await;
                return (self.head_only(f, parts), None);
            }
        }
        let rule = self.rule(f.key.path());
        let ev = evaluate(
            &Exchange {
                method: &Method::GET,
                req_headers: &f.headers,
                status: parts.status,
                resp_headers: &parts.headers,
                request_time,
                response_time,
                surrogate_id: self.label,
            },
            rule,
        );
        let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if let Some(total) = declared.filter(|l| *l > self.max_object) {
            if self.slice_size > 0 && ev.store.is_ok() && !f.no_store && sliceable(parts.status, &parts.headers) {
                // Keep the headers; the body will be fetched slice by slice.
                drop(body);
                return (self.sliced(f, parts, &ev, total, mark), None);
            }
            return (self.streamed(parts, Body::stream(body)), None);
        }
        // Cut-through: every client of the fill reads the body as it
        // arrives (crate::growing); the rest of the fill, reading it and
        // storing it, is `Pending`, run to the end by the flight's owner.
        let (growing, feeder) = Growing::new(declared);
        let tags = tags_of(&parts.headers);
        let client = headers::to_client(parts.headers, self.via, || self.purging.clock.http_date());
        let vary: Vec<HeaderName> =
            vary_names(&client).filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok()).collect();
        let mut not_stored = ev.store.err();
        if not_stored.is_none() && f.no_store {
            not_stored = Some(NotStored::RequestNoStore);
        }
        if not_stored.is_none() && f.peer.is_some() {
            // The owner keeps it (crate::cluster); a hot key is kept here too.
            match (f.keep, self.cluster) {
                (true, Some(c)) => c.hot.kept(),
                _ => not_stored = Some(NotStored::PeerOwned),
            }
        }
        if not_stored.is_none()
            && f.stale.is_none()
            && !self.admission.admit_fill(f.key.as_str(), self.rule(f.key.path()), self.now_ms())
        {
            // crate::admission: not used often enough yet (an entry being refreshed was admitted before)
            not_stored = Some(NotStored::Admission);
        }
        let shared_headers = (!ev.strip.is_empty()).then(|| {
            let mut h = client.clone();
            for n in &ev.strip {
                h.remove(n);
            }
            h
        });
        let mut store = not_stored.is_none().then(|| ToStore {
            mark,
            key: f.key.clone(),
            vary: vary.clone(),
            req: f.headers.clone(),
            entry: StoredEntry {
                status: parts.status,
                head: Head::new(parts.status, shared_headers.as_ref().unwrap_or(&client)),
                body: Bytes::new(),
                timing: ev.timing,
                flags: ev.flags,
                tags: tags.as_slice().into(),
                stored_ms: self.now_ms(),
                slices: None,
                body_at: None,
            },
        });
        let mut storage_key = store.as_ref().map(|_| match vary.is_empty() {
            true => f.key.clone(),
            false => variant_key(&f.key, &vary, &f.headers),
        });
        if let Some(k) = &storage_key
            && [&f.key, k].iter().any(|k| self.purging.overtaken(mark, k.as_str(), &tags))
        {
            // A purge overtook the fill while it waited for the head.
            (store, storage_key, not_stored) = (None, None, Some(NotStored::Purged));
        }
        let shareable = !matches!(
            ev.store,
            Err(NotStored::Private
                | NotStored::SetCookie
                | NotStored::Authorization
                | NotStored::NoStore
                | NotStored::VaryStar)
        );
        let ready = Fetched::Ready(Box::new(Ready {
            status: parts.status,
            origin_status: parts.status.as_u16(),
            headers: client,
            shared_headers,
            body: Bytes::new(),
            stream: Some(growing),
            timing: ev.timing,
            flags: ev.flags,
            stored: not_stored.is_none(),
            not_stored,
            shareable,
            revalidated: false,
            vary,
            req_headers: f.headers.clone(),
            slices: None,
            storage_key,
            tags,
            upstream_status,
        }));
        (ready, Some(Pending { body, feeder, store }))
    }

    /// Reads a streamed fill's body to the end, feeding its clients, then
    /// stores it if the fill was to be stored and no purge overtook it. A
    /// body that fails (or times out) mid-way fails its clients and is not
    /// stored; one without a declared length that grows past `max_object`
    /// is handed to the client that started the fill and not stored.
    /// `release` ends the fill's flight: after storing, or before its
    /// clients are failed, so a request after the failure starts afresh.
    pub async fn complete(&self, p: Pending, release: impl FnOnce()) {
        let Pending { mut body, mut feeder, store } = p;
        let limit = self.max_object;
        // The feeder holds back the byte that completes a declared length
        // until it ends the body, here after storing it: a client that has
        // its whole response and asks again finds it stored (a hit), never
        // the fill still running.
        let read = async {
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data()
                    && feeder.push(data) > limit
                {
                    return Ok(false);
                }
            }
            Ok::<bool, hyper::Error>(true)
        };
        let not_stored = &self.meter.not_stored;
        match tokio::time::timeout(self.upstream.timeout(), read).await {
            Err(_) => {
                release();
                feeder.fail(FetchError::Timeout(self.upstream.timeout()).to_string());
            }
            Ok(Err(e)) => {
                release();
                feeder.fail(format!("origin failed: response body: {e}"));
            }
            Ok(Ok(false)) => {
                release();
                feeder.hand_off(Body::stream(body));
                not_stored.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Ok(true)) => {
                let Some(mut t) = store else {
                    feeder.complete();
                    not_stored.fetch_add(1, Ordering::Relaxed);
                    return release();
                };
                let chunks = feeder.chunks();
                // A body sent without a length is stored with it; head and
                // body are stored in one buffer (one copy of the body).
                let mut h = t.entry.headers();
                h.insert(CONTENT_LENGTH, HeaderValue::from(chunks.iter().map(Bytes::len).sum::<usize>()));
                (t.entry.head, t.entry.body) = Head::with_body(t.entry.status, &h, &chunks);
                let counter = match self.insert_response(t.mark, &t.key, &t.vary, &t.req, t.entry) {
                    Some(_) => &self.meter.stored,
                    None => not_stored, // a purge overtook it
                };
                counter.fetch_add(1, Ordering::Relaxed);
                // Stored: now the readers may have the last byte and the end
                // (a body without a length ends only here, too).
                feeder.complete();
                release();
            }
        }
    }

    /// A 304 for a stale entry: refresh its headers and freshness, keep the body.
    #[allow(clippy::too_many_arguments)]
    fn revalidated(
        &self,
        f: &Fill,
        entry: &Entry,
        s: &StoredEntry,
        (fresh, origin_status, upstream_status): (&HeaderMap, u16, Option<HeaderValue>),
        (request_time, response_time): (std::time::SystemTime, std::time::SystemTime),
        mark: Mark,
    ) -> Fetched {
        let merged = headers::merge_304(&s.headers(), fresh);
        let ev = evaluate(
            &Exchange {
                method: &Method::GET,
                req_headers: &f.headers,
                status: s.status,
                resp_headers: &merged,
                request_time,
                response_time,
                surrogate_id: self.label,
            },
            self.rule(f.key.path()),
        );
        let mut not_stored = ev.store.err();
        if not_stored.is_none() && f.no_store {
            not_stored = Some(NotStored::RequestNoStore);
        }
        let tags = if fresh.contains_key("surrogate-key") || fresh.contains_key("cache-tag") {
            tags_of(fresh)
        } else {
            s.tags.to_vec()
        };
        if not_stored.is_none() {
            // A body stored in one buffer with its old head is copied into
            // one with the new head: kept as it is, it would hold the old
            // head's bytes that its weight no longer counts.
            let (head, body) = match s.head.precedes(&s.body) {
                true => Head::with_body(s.status, &merged, std::slice::from_ref(&s.body)),
                false => (Head::new(s.status, &merged), s.body.clone()),
            };
            let updated = StoredEntry {
                status: s.status,
                head,
                body,
                timing: ev.timing,
                flags: ev.flags,
                tags: tags.as_slice().into(),
                stored_ms: self.now_ms(),
                slices: s.slices.clone(),
                body_at: None,
            };
            if !self.purging.store_fill(mark, vec![(entry.key().clone(), CacheValue::Response(updated))]) {
                not_stored = Some(NotStored::Purged);
            }
        } else {
            // No longer storable: drop the stale copy.
            self.purging.store.remove(entry.key());
        }
        Fetched::Ready(Box::new(Ready {
            status: s.status,
            origin_status,
            headers: merged,
            shared_headers: None,
            body: s.body.clone(),
            timing: ev.timing,
            flags: ev.flags,
            stored: not_stored.is_none(),
            not_stored,
            shareable: true,
            revalidated: true,
            vary: Vec::new(),
            req_headers: f.headers.clone(),
            slices: s.slices.as_deref().copied(),
            storage_key: Some(entry.key().clone()),
            stream: None,
            tags,
            upstream_status,
        }))
    }

    fn streamed(&self, parts: http::response::Parts, body: Body) -> Fetched {
        self.meter.not_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut resp = Response::from_parts(parts, body);
        let h = std::mem::take(resp.headers_mut());
        *resp.headers_mut() = headers::to_client(h, self.via, || self.purging.clock.http_date());
        Fetched::Streamed(Mutex::new(Some(resp)))
    }

    /// Stores a response under its URL, or under its variant key with the
    /// URL pointing at the selecting fields. Returns the response's key, or
    /// `None` when a purge overtook the fill (see [`crate::purge`]).
    fn insert_response(
        &self,
        mark: Mark,
        key: &CacheKey,
        vary: &[HeaderName],
        req: &HeaderMap,
        entry: StoredEntry,
    ) -> Option<CacheKey> {
        if vary.is_empty() {
            self.purging.store_fill(mark, vec![(key.clone(), CacheValue::Response(entry))]).then(|| key.clone())
        } else {
            let spec = VarySpec { names: vary.to_vec(), stored_ms: entry.stored_ms };
            let variant = variant_key(key, vary, req);
            let stored = self.purging.store_fill(
                mark,
                vec![(key.clone(), CacheValue::Variants(spec)), (variant.clone(), CacheValue::Response(entry))],
            );
            stored.then_some(variant)
        }
    }

    /// A response too big to store whole, from an origin that serves byte
    /// ranges: store its headers with the slice layout; slices are fetched
    /// on demand ([`crate::slice`]).
    fn sliced(
        &self,
        f: &Fill,
        parts: http::response::Parts,
        ev: &crate::freshness::Evaluation,
        total: u64,
        mark: Mark,
    ) -> Fetched {
        let tags = tags_of(&parts.headers);
        let mut client = headers::to_client(parts.headers, self.via, || self.purging.clock.http_date());
        for n in &ev.strip {
            client.remove(n);
        }
        let vary: Vec<HeaderName> =
            vary_names(&client).filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok()).collect();
        let slices = Some(SliceInfo { total, size: self.slice_size });
        let meta = StoredEntry {
            status: parts.status,
            head: Head::new(parts.status, &client),
            body: Bytes::new(),
            timing: ev.timing,
            flags: ev.flags,
            tags: tags.as_slice().into(),
            stored_ms: self.now_ms(),
            slices: slices.map(Box::new),
            body_at: None,
        };
        let Some(storage_key) = self.insert_response(mark, &f.key, &vary, &f.headers, meta) else {
            // A purge overtook the fill: start over.
            return Fetched::Failed(FetchError::Changed("purged while its headers were fetched".into()));
        };
        self.meter.stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Fetched::Ready(Box::new(Ready {
            status: parts.status,
            origin_status: parts.status.as_u16(),
            headers: client,
            shared_headers: None,
            body: Bytes::new(),
            timing: ev.timing,
            flags: ev.flags,
            stored: true,
            not_stored: None,
            shareable: true,
            revalidated: false,
            vary,
            req_headers: f.headers.clone(),
            slices,
            storage_key: Some(storage_key),
            stream: None,
            tags,
            upstream_status: None,
        }))
    }

    /// The answer to a `HEAD` validation that replaced the stored response.
    fn head_only(&self, f: &Fill, parts: http::response::Parts) -> Fetched {
        self.meter.not_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Fetched::Ready(Box::new(Ready {
            status: parts.status,
            origin_status: parts.status.as_u16(),
            headers: headers::to_client(parts.headers, self.via, || self.purging.clock.http_date()),
            shared_headers: None,
            body: Bytes::new(),
            timing: Timing::default(),
            flags: Flags::default(),
            stored: false,
            not_stored: None,
            shareable: false,
            revalidated: false,
            vary: Vec::new(),
            req_headers: f.headers.clone(),
            slices: None,
            storage_key: None,
            stream: None,
            tags: Vec::new(),
            upstream_status: None,
        }))
    }

    /// Sends a fill's request (`method` on `target` with `headers`) to the
    /// shield, with the world purge sequence applied here in
    /// `CDN-Purge-Seq`, or to the origin: when there is no shield, when it
    /// is known down, or when it refuses the connection, with fallback on
    /// ([`crate::tier`]). The response, when the request left, and whether
    /// the shield answered.
    ///
    /// A fill of a key peer `peer` owns goes to that node's peer listener
    /// first, with the purge sequence too; when it refuses the connection
    /// (a node gone, not yet out of the ring), on as without it.
    async fn send_fill(
        &self,
        method: Method,
        target: &CacheKey,
        headers: HeaderMap,
        peer: Option<usize>,
    ) -> Result<(std::time::SystemTime, Response<Incoming>, bool), FetchError> {
        let build = |up: &Upstream, headers: HeaderMap| -> Result<Request<Body>, FetchError> {
            let mut req = Request::new(Body::Empty);
            *req.method_mut() = method.clone();
            *req.uri_mut() = up.uri(target.as_str())?;
            *req.headers_mut() = headers;
            Ok(req)
        };
        if let Some((c, p)) = self.cluster.zip(peer).and_then(|(c, i)| Some((c, c.peer(i)?))) {
            let mut tiered = headers.clone();
            tiered.insert(PURGE_SEQ, HeaderValue::from(self.order.applied()));
            tiered.insert(crate::headers::PEER_FILL, HeaderValue::from_static("1"));
            match p.upstream.send(build(&p.upstream, tiered)?).await {
                Ok((t, r)) => return Ok((t, r, true)),
                Err(FetchError::Connect(why)) => {
                    tracing::debug!(peer = %p.name, %why, "owner unreachable: filling from this node's upstream");
                    c.fell_back();
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(s) = self.shield {
            match s.route() {
                Route::Shield { fallback } => {
                    let mut tiered = headers.clone();
                    tiered.insert(PURGE_SEQ, HeaderValue::from(self.order.applied()));
                    match s.upstream.send(build(&s.upstream, tiered)?).await {
                        Ok((t, r)) => return Ok((t, r, true)),
                        Err(FetchError::Connect(why)) if fallback => {
                            tracing::debug!(shield = %s.config.name, %why, "shield unreachable: filling from the origin");
                            s.fell_back();
                        }
                        Err(e) => return Err(e),
                    }
                }
                Route::Origin => s.fell_back(),
            }
        }
        let (t, r) = match self.origins {
            Some(o) => o.send(self.upstream, target.as_str(), |up| build(up, headers.clone())).await?,
            None => self.upstream.send(build(self.upstream, headers)?).await?,
        };
        Ok((t, r, false))
    }

    /// Invalidates a URL (every variant and slice) as a hard purge does:
    /// indexed, durable, safe against fills and disk reads in flight.
    pub async fn invalidate(&self, url: &str) {
        let spec = crate::purge::PurgeSpec { target: crate::purge::Target::Url(url.to_string()), soft: false };
        if let Err(e) = self.purging.purge(&spec).await {
            tracing::warn!(url, error = %e, "invalidation failed");
        }
    }

    /// Sends a request to the origin uncached (other methods and
    /// responses, client preconditions the edge does not answer): `method`
    /// on the canonical `target`, with `sent` ([`headers::to_origin`],
    /// which never carries the client's framing). The body is framed by
    /// what it is: hyper sends its length when known and chunks it
    /// otherwise; an empty body of a method that defines content gets
    /// `Content-Length: 0` (RFC 9110 §8.6).
    ///
    /// With a replicated origin a GET or HEAD is a read, sent as a fill is
    /// (the nearest site at the object's purge floor); any other method
    /// goes to the primary now ([`Origins::writer`]), once: its body is
    /// not replayed.
    pub async fn pass(
        &self,
        method: Method,
        target: &CacheKey,
        mut sent: HeaderMap,
        body: Body,
    ) -> Result<Response<Body>, FetchError> {
        if body.is_end_stream() && matches!(method, Method::POST | Method::PUT | Method::PATCH) {
            sent.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        let build = |up: &Upstream, body: Body, sent: HeaderMap| -> Result<Request<Body>, FetchError> {
            let mut req = Request::new(body);
            *req.method_mut() = method.clone();
            *req.uri_mut() = up.uri(target.as_str())?;
            *req.headers_mut() = sent;
            Ok(req)
        };
        let read = matches!(method, Method::GET | Method::HEAD) && body.is_end_stream();
        let (_, resp) = match self.origins {
            Some(o) if read => {
                o.send(self.upstream, target.as_str(), |up| build(up, Body::Empty, sent.clone())).await?
            }
            Some(o) => {
                let up = o.writer(self.upstream);
                up.send(build(up, body, sent)?).await?
            }
            None => self.upstream.send(build(self.upstream, body, sent)?).await?,
        };
        let (mut parts, body) = resp.into_parts();
        parts.headers = headers::to_client(parts.headers, self.via, || self.purging.clock.http_date());
        Ok(Response::from_parts(parts, Body::stream(body)))
    }
}

/// Whether a `HEAD` answer describes the stored response (same strong
/// validator; or, without ETags, the same Last-Modified and length).
fn same_representation(stored: &HeaderMap, head: &HeaderMap) -> bool {
    match (stored.get(ETAG), head.get(ETAG)) {
        (Some(a), Some(b)) => a == b && !a.as_bytes().starts_with(b"W/"),
        (None, None) => {
            stored.get(LAST_MODIFIED).is_some()
                && stored.get(LAST_MODIFIED) == head.get(LAST_MODIFIED)
                && head.get(CONTENT_LENGTH).is_none_or(|l| Some(l) == stored.get(CONTENT_LENGTH))
        }
        _ => false,
    }
}

/// Whether an origin response can be cached as slices: a 200 with a known
/// length, byte ranges supported, and a validator to keep slices consistent.
fn sliceable(status: StatusCode, h: &HeaderMap) -> bool {
    status == StatusCode::OK
        && h.get(http::header::ACCEPT_RANGES).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"bytes"))
        && (h.get(ETAG).is_some_and(|e| !e.as_bytes().starts_with(b"W/")) || h.contains_key(LAST_MODIFIED))
        && !h.contains_key(http::header::CONTENT_ENCODING)
}

/// The rest of a streamed fill ([`Fetcher::fill`]): the body still to
/// read, its clients' shared copy, and what to store once it is complete.
pub struct Pending {
    body: Incoming,
    feeder: Feeder,
    store: Option<ToStore>,
}

/// A fill's response to store when its body is complete.
struct ToStore {
    mark: Mark,
    key: CacheKey,
    vary: Vec<HeaderName>,
    req: HeaderMap,
    entry: StoredEntry,
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A body that arrives in one chunk is a slice of the origin
    /// connection's read buffer (8 KiB and up); stored as it is, it would
    /// keep that whole buffer alive for as long as it is cached
    /// (docs/memory.md). The copy a streamed fill stores must own exactly
    /// its bytes.
    #[tokio::test]
    async fn a_collected_body_does_not_share_the_connections_read_buffer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 1024];
            let _ = s.read(&mut head).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").await.unwrap();
            s // kept open: the connection stays pooled-alive
        });
        let io = TokioIo::new(tokio::net::TcpStream::connect(addr).await.unwrap());
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let driver = tokio::spawn(conn);
        let req = http::Request::get("/").body(http_body_util::Empty::<Bytes>::new()).unwrap();
        let resp = send.send_request(req).await.unwrap();
        let (_growing, mut feeder) = Growing::new(None);
        let mut incoming = resp.into_body();
        while let Some(f) = incoming.frame().await {
            feeder.push(f.unwrap().into_data().unwrap());
        }
        let body = feeder.whole_with(&Bytes::new());
        assert_eq!(&body[..], b"hello");
        // Unique, and no larger than itself: not a slice of a bigger buffer.
        let owned = body.try_into_mut().expect("the body shares its allocation");
        assert_eq!(owned.capacity(), 5, "the body holds a {} byte allocation", owned.capacity());
        let _socket = origin.await.unwrap();
        driver.abort();
    }
}

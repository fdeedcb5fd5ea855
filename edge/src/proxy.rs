//! The request path of the public listener.
//!
//! ```text
//! request ─► refused? (Host, content on GET/HEAD, CONNECT: crate::inbound) ─► 400/405, close
//!    │ no
//!    ▼
//! request ─► fast hit? (GET/HEAD, no conditionals, memory tier, fresh) ─► 200 from memory
//!    │ no
//!    ▼
//! GET/HEAD ─► key ─► lookup (memory, disk, variant) ─► reuse? fresh ─► hit
//!    │                                                  │ stale within swr ─► serve stale + one background refresh
//!    │                                                  │ stale / no-cache ─► revalidate (fill with validators)
//!    │                                                  ▼ miss
//!    │                       fill: one origin fetch per key (waiters collapse) ─► respond as the body
//!    │                             arrives, every waiter from its first byte (crate::growing) ─► store if storable
//!    │                       origin failed + stale within stale-if-error ─► serve stale
//! other methods ─► pass through; a success invalidates the URL (and Location, Content-Location)
//! ```
//!
//! The key is the canonical target ([`crate::key`]), which is also the
//! target the origin is sent; the origin-bound headers are built once per
//! request ([`headers::to_origin`]) and `Vary` selects variants from them,
//! for storing, for lookups and for requests that wait on a fill.

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::future::FutureExt;
use http::header::{AGE, CONTENT_LOCATION, IF_MATCH, IF_UNMODIFIED_SINCE, LOCATION, RANGE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, request};
use hyper::body::Incoming;

use crate::body::Body;
use crate::cache_status::{CacheStatus, Fwd, age_value, hit_detail, hit_value};
use crate::cluster::Owner;
use crate::entry::{CacheValue, StoredEntry};
use crate::fetch::response;
use crate::fill::{Fetched, Fill};
use crate::freshness::{Flags, RequestDirectives, Reuse, reuse};
use crate::growing::Growing;
use crate::headers::{self, CACHE_STATUS};
use crate::inbound;
use crate::key::{CacheKey, KeyError, is_normal};
use crate::meter::Outcome;
use crate::respond::Rep;
use crate::slice::{self, SliceFetch, SlicedMeta};
use crate::state::EdgeState;
use crate::store::{Entry, Tier};
use crate::upstream::FetchError;
use crate::vary::variant_key;

enum Lookup {
    Hit(Entry, Tier),
    VaryMiss,
    Miss,
}

/// What the request path made of a request: the response, and what became
/// of the request ([`Outcome`]: the `outcome` label of the metrics, the
/// word in the access log). Every branch of the path below returns one;
/// [`crate::service`] counts it once. (The fast hits count themselves:
/// [`fresh_memory_hit`].)
pub struct Served {
    /// The response, head and body; its `Cache-Status` is `status`'s.
    pub response: Response<Body>,
    /// What became of the request: the `Cache-Status`, the metric label
    /// and the log word all come from it.
    pub status: CacheStatus,
}

impl Served {
    /// `response`, with the `Cache-Status` that `status` renders.
    fn new(st: &EdgeState, status: CacheStatus, mut response: Response<Body>) -> Served {
        response.headers_mut().insert(CACHE_STATUS, status.render(&st.responder.label));
        Served { response, status }
    }

    /// The edge's own error response (`status`, `reason`); `cs` says what
    /// the request went forward for, if it did.
    fn error(st: &EdgeState, status: StatusCode, reason: &str, cs: CacheStatus) -> Served {
        Served::new(st, cs.failed(), st.responder.error(status, reason))
    }

    /// What became of the request: the metric label and the log word.
    pub fn outcome(&self) -> Outcome {
        self.status.outcome()
    }
}

/// Request fields that keep a GET/HEAD off both fast hit paths (this one
/// and [`crate::conn`]'s): client cache directives, conditionals, ranges.
pub(crate) const NOT_FAST: [&str; 8] = [
    "cache-control",
    "pragma",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "range",
    "if-range",
];

/// Calls `answer` with the memory tier's entry for `target` and the
/// time, when a plain GET/HEAD may be answered from it as it is: fresh,
/// not no-cache, not sliced, not possibly covered by a purge-all (the
/// slow path decides those). `answer` gets the hit's `Age` and
/// `Cache-Status` values; the hit is counted. A promoted head whose body
/// is in the body file ([`StoredEntry::body_at`]) is answered only when
/// `file_body` (the raw path sends it with `sendfile`) and its body is
/// still there; it is a disk hit.
#[inline]
pub(crate) fn fresh_memory_hit<R>(
    st: &EdgeState,
    target: &str,
    file_body: bool,
    answer: impl FnOnce(&StoredEntry, HeaderValue, HeaderValue) -> R,
) -> Option<R> {
    if !is_normal(target) {
        return None;
    }
    let entry = st.store.get_memory(target)?;
    let CacheValue::Response(e) = entry.value() else { return None };
    let now = st.now_ms();
    if !sendable_as_is(st, e, now) {
        return None;
    }
    let tier = match &e.body_at {
        None => Tier::Memory,
        Some(at) if file_body && st.store.bodies().is_some_and(|b| b.valid(at)) => Tier::Disk,
        Some(_) => return None,
    };
    Some(answer_fast(st, target, e, tier, now, answer))
}

/// Whether a fast path may send a stored response as it is: fresh, not
/// no-cache, not sliced, not possibly covered by a purge-all (the full
/// path decides those).
#[inline]
fn sendable_as_is(st: &EdgeState, e: &StoredEntry, now: u64) -> bool {
    e.timing.is_fresh(now) && !e.flags.has(Flags::NO_CACHE) && e.slices.is_none() && !st.purge.may_cover(e.stored_ms)
}

/// Counts a fast path's hit (a disk hit as one too, the what-if caches
/// fed) and answers it with its `Age` and `Cache-Status` values.
#[inline]
fn answer_fast<R>(
    st: &EdgeState,
    target: &str,
    e: &StoredEntry,
    tier: Tier,
    now: u64,
    answer: impl FnOnce(&StoredEntry, HeaderValue, HeaderValue) -> R,
) -> R {
    if tier == Tier::Disk {
        st.meter.disk_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let age = age_value(e.timing.age_ms(now) / 1000);
    let status = hit_value(&st.responder.label, e.timing.ttl_secs(now), hit_detail(tier, e.flags));
    st.meter.count(Outcome::Hit);
    if let Some(s) = &st.shadow {
        s.fast_hit(target, e.body_len() as usize); // what-if caches (crate::shadow)
    }
    answer(e, age, status)
}

/// [`fresh_memory_hit`] for a key the memory tier does not hold: the
/// stored entry (from the disk tier, through the same purge checks as the
/// full path's lookup), answered by `answer` when it is a fresh response
/// the raw path may send as it is (not varying, not sliced, not
/// no-cache); the hit is counted. `None`: the full path decides (it looks
/// the key up again). Lets the raw path keep a connection whose first
/// request was a disk hit, so that its later hits on promoted heads are
/// sent from the body file ([`crate::sendfile`]).
pub(crate) async fn fresh_stored_hit<R>(
    st: &EdgeState,
    key: &CacheKey,
    answer: impl FnOnce(&StoredEntry, HeaderValue, HeaderValue) -> R,
) -> Option<R> {
    let (entry, tier) = st.purging().stored(key).await.ok()??;
    let entry = st.purging().unpurged(entry)?;
    let CacheValue::Response(e) = entry.value() else { return None };
    let now = st.now_ms();
    if !sendable_as_is(st, e, now) || e.body_at.is_some() {
        return None;
    }
    Some(answer_fast(st, key.as_str(), e, tier, now, answer))
}

/// A plain GET/HEAD answered from the memory tier, if fresh; no await,
/// no policy evaluation, the body handed out as a `Bytes` clone.
#[inline]
pub fn fast_hit(st: &EdgeState, req: &Request<Incoming>) -> Option<Response<Body>> {
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return None,
    };
    if req.headers().keys().any(|name| NOT_FAST.contains(&name.as_str())) {
        return None;
    }
    fresh_memory_hit(st, req.uri().path_and_query()?.as_str(), false, |e, age, status| {
        // The map is built from the entry's head (values are slices of it):
        // entries keep no map (crate::head); the raw path (crate::conn)
        // writes the head as it is.
        let mut h = e.head.to_map();
        h.reserve(2);
        h.insert(AGE, age);
        h.insert(CACHE_STATUS, status);
        let mut r = Response::new(if head { Body::Empty } else { Body::full(e.body.clone()) });
        *r.status_mut() = e.status;
        *r.headers_mut() = h;
        r
    })
}

/// Who sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// A client, on the public listener.
    Client,
    /// A lower tier, on a shield's tier listener, with the world purge
    /// sequence it has applied (`CDN-Purge-Seq`, [`crate::purge::order`]).
    Tier {
        /// What the lower tier has applied.
        purge_seq: u64,
        /// Another node of this PoP sent it (`CDN-Peer-Fill`): a peer
        /// fill, filled here. Otherwise, at a node of a shield PoP, a
        /// lower tier's fill: the key's owner is asked, as for a client.
        peer: bool,
    },
}

/// Every request the fast path did not answer.
pub async fn handle(st: &Arc<EdgeState>, req: Request<Incoming>, peer: IpAddr, from: From) -> Served {
    if let Err(refusal) = inbound::check(&req) {
        let mut served = Served::error(st, refusal.status(), &refusal.to_string(), bypass());
        let (name, value) = inbound::CLOSE;
        served.response.headers_mut().insert(name, value);
        return served;
    }
    let (parts, body) = req.into_parts();
    let key = match CacheKey::from_uri(&parts.uri) {
        Ok(k) => k,
        Err(e) => {
            let status = match e {
                KeyError::TooLong => StatusCode::URI_TOO_LONG,
                KeyError::Invalid(_) => StatusCode::BAD_REQUEST,
            };
            return Served::error(st, status, &e.to_string(), bypass());
        }
    };
    match parts.method {
        Method::GET | Method::HEAD => cacheable(st, parts, key, peer, from).await,
        _ => pass_other(st, parts, key, Body::stream(body), peer).await,
    }
}

async fn cacheable(st: &Arc<EdgeState>, parts: request::Parts, key: CacheKey, peer: IpAddr, from: From) -> Served {
    // A lower tier that has applied a purge this shield has not: wait for
    // it; if it does not come, answer without the cache (nothing stored,
    // no fill begun before), so the lower tier never refills what its
    // purge removed (crate::purge::order).
    let behind = match from {
        From::Tier { purge_seq, .. } if !st.order.caught_up(purge_seq, st.catch_up).await => {
            st.meter.behind_purge.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(key = %key, purge_seq, applied = st.order.applied(), "lower tier ahead of this shield's purges");
            Some(purge_seq)
        }
        _ => None,
    };
    let h = &parts.headers;
    if h.contains_key(IF_MATCH) || h.contains_key(IF_UNMODIFIED_SINCE) {
        // Preconditions for state-changing semantics: the origin decides.
        return pass_get(st, parts, &key, peer).await;
    }
    // What a fill sends the origin; variants are selected from it.
    let fwd = headers::to_origin(h, peer, &st.hop, true);
    // A sliced object that changed at the origin mid-request is looked
    // up again once.
    match cacheable_once(st, &key, &parts, &fwd, peer, (from, behind)).await {
        Ok(r) => r,
        Err(Retry) => match cacheable_once(st, &key, &parts, &fwd, peer, (from, behind)).await {
            Ok(r) => r,
            Err(Retry) => {
                let cs = CacheStatus::forward(Outcome::Error, Fwd::Miss);
                Served::error(st, StatusCode::BAD_GATEWAY, "the object kept changing at the origin", cs)
            }
        },
    }
}

/// `sent` is what a fill for this request sends the origin; `from`, who
/// sent the request; `behind`, the purge sequence of a lower tier this
/// shield has not caught up with (then nothing stored is used, and the
/// fill is a flight of its own).
async fn cacheable_once(
    st: &Arc<EdgeState>,
    key: &CacheKey,
    parts: &request::Parts,
    sent: &HeaderMap,
    peer: IpAddr,
    (from, behind): (From, Option<u64>),
) -> Result<Served, Retry> {
    let h = &parts.headers;
    let rd = RequestDirectives::from_headers(h);
    let now = st.now_ms();
    let looked = match behind {
        Some(_) => Lookup::Miss,
        None => lookup(st, key, sent).await,
    };
    let (stale, fwd) = match looked {
        Lookup::Hit(entry, tier) => {
            let Some(e) = response(&entry) else { return Ok(pass_get(st, parts.clone(), key, peer).await) };
            let ttl = e.timing.ttl_secs(now);
            let age = Some(e.timing.age_ms(now) / 1000);
            let served = match reuse(&e.timing, e.flags, &rd, now) {
                Reuse::Fresh => Some(CacheStatus::hit(ttl, hit_detail(tier, e.flags))),
                Reuse::StaleAccepted => Some(CacheStatus::stale_hit(ttl, "max-stale")),
                Reuse::StaleWhileRevalidate => {
                    refresh_in_background(st, key, sent, entry.clone());
                    Some(CacheStatus::stale_hit(ttl, "stale-while-revalidate"))
                }
                Reuse::Revalidate => None,
            };
            if let Some(cs) = served {
                if tier == Tier::Disk {
                    st.meter.disk_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if let Some(meta) = SlicedMeta::of(entry.key().clone(), e) {
                    return serve_slices(st, parts, key, sent, meta, cs, age).await;
                }
                return Ok(Served::new(st, cs, st.responder.respond(parts, Rep::of(e), age)));
            }
            let by_request = rd.no_cache || rd.max_age.is_some() || rd.min_fresh.is_some();
            let fwd = if e.timing.is_fresh(now) && by_request { Fwd::Request } else { Fwd::Stale };
            (Some(entry), fwd)
        }
        Lookup::VaryMiss => (None, Fwd::VaryMiss),
        Lookup::Miss => (None, Fwd::UriMiss),
    };
    if rd.only_if_cached {
        let why = "only-if-cached, and no usable stored response";
        return Ok(Served::error(st, StatusCode::GATEWAY_TIMEOUT, why, CacheStatus::forward(Outcome::Error, fwd)));
    }
    // A HEAD validates a stale entry with HEAD (RFC 9111 §4.3.5), in a
    // flight of its own so GET waiters never get a body-less answer.
    let head = parts.method == Method::HEAD && stale.is_some();
    // A node of a hashed PoP fills a client's (or, in a shield PoP, a
    // lower tier's) miss for a key another node owns from that node (a
    // peer's request is filled here, never passed on), in a flight of its own: a peer's request for the key, sent by a
    // node whose ring differs for a moment, never waits on it
    // (crate::cluster).
    let owner = match (from, &st.cluster) {
        (From::Client | From::Tier { peer: false, .. }, Some(c)) => match c.owner(key.as_str()) {
            Owner::Peer(i) => Some((i, c.hot.hit(key.as_str(), now))),
            Owner::Me => None,
        },
        _ => None,
    };
    let flight = match behind {
        Some(seq) => key.with_suffix(&format!("purge-seq-{seq}")),
        None if head => key.with_suffix("head"),
        None if owner.is_some() => key.with_suffix("peer"),
        None => key.clone(),
    };
    let fwd = if behind.is_some() { Fwd::Request } else { fwd };
    let fill = Fill {
        key: key.clone(),
        flight: flight.clone(),
        headers: sent.clone(),
        stale: stale.clone(),
        no_store: rd.no_store,
        head,
        peer: owner.map(|(i, _)| i),
        keep: owner.is_some_and(|(_, hot)| hot),
    };
    let (flight, leader) = join_fill(st, fill);
    let fetched = flight.await;
    match &*fetched {
        Fetched::Ready(r) => {
            if !(leader || r.shareable && r.vary_matches(sent)) {
                return Ok(pass_get(st, parts.clone(), key, peer).await);
            }
            if r.status.is_server_error()
                && let Some(served) = stale_if_error(st, parts, stale.as_ref(), r.origin_status)
            {
                return Ok(served);
            }
            let now = st.now_ms();
            let outcome = if r.revalidated {
                Outcome::Revalidated
            } else if r.shareable {
                Outcome::Miss
            } else {
                Outcome::Pass
            };
            let cs = CacheStatus {
                fwd_status: Some(r.origin_status),
                ttl: r.stored.then(|| r.timing.ttl_secs(now)),
                stored: r.stored,
                collapsed: !leader,
                // why not stored, or how its freshness is decided (or
                // that the cache was not used: a purge to catch up with)
                detail: match behind {
                    Some(_) => Some("purge-catch-up"),
                    None => r.not_stored.map(|n| n.as_str()).or(r.stored.then(|| r.flags.detail()).flatten()),
                },
                upstream: r.upstream_status.clone(),
                ..CacheStatus::forward(outcome, fwd)
            };
            let age = r.timing.age_ms(now) / 1000;
            let age = (age > 0 || r.revalidated).then_some(age);
            if let Some(meta) = SlicedMeta::of_ready(r) {
                return serve_slices(st, parts, key, sent, meta, cs, age).await;
            }
            let hdrs = if leader { &r.headers } else { r.shared_headers.as_ref().unwrap_or(&r.headers) };
            if let Some(g) = &r.stream {
                return Ok(serve_growing(st, parts, r.status, hdrs, g, leader, cs, age).await);
            }
            let rep = Rep { status: r.status, headers: std::borrow::Cow::Borrowed(hdrs), body: &r.body };
            Ok(Served::new(st, cs, st.responder.respond(parts, rep, age)))
        }
        Fetched::Streamed(slot) => {
            // Too big to store: the starter gets the stream, unless it
            // asked for a range, which the origin answers better.
            let taken = if leader && !h.contains_key(RANGE) { slot.lock().take() } else { None };
            match taken {
                Some(mut resp) => {
                    let cs = CacheStatus { detail: Some("too-big"), ..CacheStatus::forward(Outcome::Pass, fwd) };
                    if parts.method == Method::HEAD {
                        *resp.body_mut() = Body::Empty;
                    }
                    Ok(Served::new(st, cs, resp))
                }
                None => Ok(pass_get(st, parts.clone(), key, peer).await),
            }
        }
        Fetched::Failed(FetchError::Changed(_)) => Err(Retry),
        Fetched::Failed(err) => {
            if let Some(served) = stale_if_error(st, parts, stale.as_ref(), err.status().as_u16()) {
                return Ok(served);
            }
            tracing::debug!(key = %key, error = %err, "origin fetch failed");
            Ok(Served::error(st, err.status(), &err.to_string(), CacheStatus::forward(Outcome::Error, fwd)))
        }
    }
}

/// Serves a miss whose body is still arriving from the origin: the client
/// reads it as it arrives, from the first byte ([`crate::growing`]),
/// except a range, which is cut from the whole body once it is there.
#[allow(clippy::too_many_arguments)]
async fn serve_growing(
    st: &EdgeState,
    parts: &request::Parts,
    status: StatusCode,
    headers: &HeaderMap,
    g: &Arc<Growing>,
    starter: bool,
    cs: CacheStatus,
    age: Option<u64>,
) -> Served {
    if parts.method == Method::GET && status == StatusCode::OK && parts.headers.contains_key(RANGE) {
        return match g.whole().await {
            Ok(body) => Served::new(
                st,
                cs,
                st.responder.respond(
                    parts,
                    Rep { status, headers: std::borrow::Cow::Borrowed(headers), body: &body },
                    age,
                ),
            ),
            Err(why) => Served::error(st, StatusCode::BAD_GATEWAY, &why, cs),
        };
    }
    let body = Body::stream(g.reader(starter));
    Served::new(st, cs, st.responder.respond_stream(parts, status, headers, body, age))
}

/// Serves a sliced object of URL `key` (as `cs` says when it can be
/// served, an error when a slice cannot); a changed object means
/// starting over.
async fn serve_slices(
    st: &Arc<EdgeState>,
    parts: &request::Parts,
    key: &CacheKey,
    sent: &HeaderMap,
    meta: SlicedMeta,
    cs: CacheStatus,
    age: Option<u64>,
) -> Result<Served, Retry> {
    let how = SliceFetch { target: key.clone(), headers: sent.clone() };
    match slice::serve_sliced(st, parts, meta, how, cs.clone(), age).await {
        Ok((r, cs)) => Ok(Served::new(st, cs, r)),
        Err(FetchError::Changed(_)) => Err(Retry),
        Err(e) => Ok(Served::error(st, e.status(), &e.to_string(), cs)),
    }
}

/// Serves a stale entry after an origin failure, within its
/// stale-if-error window.
fn stale_if_error(st: &EdgeState, parts: &request::Parts, stale: Option<&Entry>, origin_status: u16) -> Option<Served> {
    let e = response(stale?)?;
    let now = st.now_ms();
    if now >= e.timing.fresh_until_ms().saturating_add(e.timing.sie_ms) {
        return None;
    }
    let cs = CacheStatus {
        fwd_status: Some(origin_status),
        ttl: Some(e.timing.ttl_secs(now)),
        detail: Some("stale-if-error"),
        ..CacheStatus::forward(Outcome::Stale, Fwd::Stale)
    };
    let age = Some(e.timing.age_ms(now) / 1000);
    Some(Served::new(st, cs, st.responder.respond(parts, Rep::of(e), age)))
}

/// Starts one background revalidation of `key`, unless one is running.
fn refresh_in_background(st: &Arc<EdgeState>, key: &CacheKey, sent: &HeaderMap, stale: Entry) {
    let fill = Fill {
        key: key.clone(),
        flight: key.clone(),
        headers: sent.clone(),
        stale: Some(stale),
        no_store: false,
        head: false,
        peer: None,
        keep: true,
    };
    let _ = join_fill(st, fill);
}

/// Joins the flight `fill.flight`, or starts it (the fill runs in a task
/// of its own, [`crate::flight`], and releases the flight when done).
/// `true` for the request that started it.
///
/// A fill whose body streams resolves the flight at its response head,
/// so its clients start reading at once; the rest of the fill (reading
/// the body, storing it) runs on in a task of its own, which releases the
/// flight after storing: clients arriving meanwhile join it and read the
/// body from its start ([`crate::growing`]).
fn join_fill(st: &Arc<EdgeState>, fill: Fill) -> (crate::flight::Flight<Arc<Fetched>>, bool) {
    let owner = st.clone();
    st.flights.join_or_start(&fill.flight.clone(), move |id| {
        async move {
            let release = Release { st: owner.clone(), flight: fill.flight.clone(), id };
            let (out, rest) = owner.fetcher().fill(&fill).await;
            if let Some(rest) = rest {
                tokio::spawn(async move {
                    let st = release.st.clone();
                    st.fetcher().complete(rest, move || drop(release)).await;
                });
            }
            Arc::new(out)
        }
        .boxed()
    })
}

/// Releases a fill's flight when dropped: when the fill is over, or when
/// its task ended early (panicked, cancelled), so a broken fill is never
/// joined again.
struct Release {
    st: Arc<EdgeState>,
    flight: CacheKey,
    id: u64,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.st.flights.finish(&self.flight, self.id);
    }
}

/// The stored response for `key`, its variant selected by `sent` (the
/// headers a fill would send the origin).
async fn lookup(st: &EdgeState, key: &CacheKey, sent: &HeaderMap) -> Lookup {
    let (entry, tier) = match st.purging().stored(key).await {
        Ok(Some(x)) => x,
        Ok(None) => return Lookup::Miss,
        Err(e) => {
            tracing::warn!(key = %key, error = %e, "cache read failed; treating as a miss");
            return Lookup::Miss;
        }
    };
    let Some(entry) = st.purging().unpurged(entry) else { return Lookup::Miss };
    let names = match entry.value() {
        CacheValue::Response(_) => return Lookup::Hit(entry, tier),
        CacheValue::Variants(spec) => spec.names.clone(),
    };
    match st.purging().stored(&variant_key(key, &names, sent)).await {
        Ok(Some((e, t))) if matches!(e.value(), CacheValue::Response(_)) => match st.purging().unpurged(e) {
            Some(e) => Lookup::Hit(e, t),
            None => Lookup::VaryMiss,
        },
        _ => Lookup::VaryMiss,
    }
}

/// GET/HEAD sent to the origin as the client asked (its preconditions
/// and range included; never a body), not stored.
async fn pass_get(st: &EdgeState, parts: request::Parts, key: &CacheKey, peer: IpAddr) -> Served {
    let head = parts.method == Method::HEAD;
    let sent = headers::to_origin(&parts.headers, peer, &st.hop, false);
    match st.fetcher().pass(parts.method, key, sent, Body::Empty).await {
        Ok(mut r) => {
            if head {
                *r.body_mut() = Body::Empty;
            }
            Served::new(st, CacheStatus::forward(Outcome::Pass, Fwd::Bypass), r)
        }
        Err(e) => Served::error(st, e.status(), &e.to_string(), bypass()),
    }
}

/// Methods other than GET/HEAD: through to the origin; a non-error
/// answer to an unsafe method invalidates the URL and the same-origin
/// `Location` / `Content-Location` (RFC 9111 §4.4).
async fn pass_other(st: &EdgeState, parts: request::Parts, key: CacheKey, body: Body, peer: IpAddr) -> Served {
    let unsafe_method = !matches!(parts.method, Method::OPTIONS | Method::TRACE);
    let sent = headers::to_origin(&parts.headers, peer, &st.hop, false);
    match st.fetcher().pass(parts.method, &key, sent, body).await {
        Ok(r) => {
            let ok = r.status().is_success() || r.status().is_redirection();
            if unsafe_method && ok {
                st.fetcher().invalidate(key.as_str()).await;
                for name in [LOCATION, CONTENT_LOCATION] {
                    let host = &st.hop.origin_host;
                    if let Some(k) = r.headers().get(name).and_then(|v| same_origin_key(v, host)) {
                        st.fetcher().invalidate(k.as_str()).await;
                    }
                }
            }
            Served::new(st, CacheStatus::forward(Outcome::Pass, Fwd::Bypass), r)
        }
        Err(e) => Served::error(st, e.status(), &e.to_string(), bypass()),
    }
}

/// The edge's own refusal of a request (`status`, `reason`), as the
/// request path answers one.
pub fn refused(st: &EdgeState, status: StatusCode, reason: &str) -> Response<Body> {
    Served::error(st, status, reason, bypass()).response
}

/// Went forward as not cacheable (an error of the request or the origin,
/// with [`Served::error`]).
fn bypass() -> CacheStatus {
    CacheStatus::forward(Outcome::Error, Fwd::Bypass)
}

/// Marker: start the request over (a sliced object changed at the origin).
struct Retry;

/// The cache key of a `Location`-like URI, if it is on this origin:
/// relative, or absolute with the host the origin is sent (configured,
/// never the client's: a client cannot make a response invalidate
/// another site's URLs, nor hide its own).
fn same_origin_key(v: &HeaderValue, origin_host: &HeaderValue) -> Option<CacheKey> {
    let s = v.to_str().ok()?.trim();
    if s.starts_with('/') && !s.starts_with("//") {
        return CacheKey::from_target(s).ok();
    }
    let uri: http::Uri = s.parse().ok()?;
    let authority = uri.authority()?.as_str();
    if origin_host.as_bytes().eq_ignore_ascii_case(authority.as_bytes()) {
        return CacheKey::from_uri(&uri).ok();
    }
    None
}

//! The public listener's hyper service: every request the raw fast path
//! ([`crate::conn`]) did not answer comes here. A plain fresh memory hit
//! is answered in `call` itself ([`proxy::fast_hit`]); anything else runs
//! the request path ([`proxy::handle`]) in a future.
//!
//! **Observing.** Both are counted here, once: a fast hit by
//! [`PublicService::observe_fast_hit`] (one clock read, three relaxed
//! atomic adds, no allocation; the access log costs a bool test when off),
//! every other request by [`PublicService::observed`], which counts the
//! outcome the request path returns ([`proxy::Served`]), its body bytes (a stream
//! is wrapped to count chunks as they go out) and the time to the response
//! head.

use std::convert::Infallible;
use std::future::{Ready as ReadyFut, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::{BoxFuture, Either, FutureExt};
use http::{Request, Response};
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::service::Service;
use runtime::serve::Peer;

use crate::access_log::Line;
use crate::body::{Body, BoxError};
use crate::inbound;
use crate::meter::Outcome;
use crate::proxy;
use crate::purge::order::PURGE_SEQ;
use crate::state::EdgeState;

/// The hyper service of the public listener: hits are answered in `call`
/// itself; everything else goes through the async path. A shield's tier
/// listener serves lower tiers with the same service, `tier` set: every
/// request takes the full path with the `CDN-Purge-Seq` it carries, and
/// is counted apart from clients' ([`crate::meter::Meter::count_tier`]).
#[derive(Clone)]
pub struct PublicService {
    st: Arc<EdgeState>,
    peer: Peer,
    tier: bool,
}

impl PublicService {
    /// The service for one client connection.
    pub fn new(st: Arc<EdgeState>, peer: Peer) -> Self {
        PublicService { st, peer, tier: false }
    }

    /// The service for one connection of a lower tier (tier listener).
    pub fn tier(st: Arc<EdgeState>, peer: Peer) -> Self {
        PublicService { st, peer, tier: true }
    }
}

type Resp = Result<Response<Body>, Infallible>;

impl Service<Request<Incoming>> for PublicService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<ReadyFut<Resp>, BoxFuture<'static, Resp>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let started = std::time::Instant::now(); // metrics: request duration
        if self.tier {
            let this = self.clone();
            return Either::Right(async move { Ok(this.tier_request(req).await) }.boxed());
        }
        if inbound::check(&req).is_ok()
            && let Some(r) = proxy::fast_hit(&self.st, &req)
        {
            self.observe_fast_hit(&req, &r, started); // metrics: bytes, time, access log
            return Either::Left(ready(Ok(r)));
        }
        let this = self.clone();
        Either::Right(async move { Ok(this.observed(req, started).await) }.boxed())
    }
}

impl PublicService {
    /// Counts a fast hit: its body bytes and its time; logs it if asked.
    #[inline]
    pub fn observe_fast_hit(&self, req: &Request<Incoming>, r: &Response<Body>, started: Instant) {
        let st = &self.st;
        let bytes = r.body().size_hint().exact().unwrap_or(0);
        st.meter.body(Outcome::Hit, bytes);
        let elapsed = started.elapsed();
        st.meter.duration(Outcome::Hit, elapsed);
        if st.access_log {
            let (peer, method, uri) = (self.peer, req.method(), req.uri());
            Line { peer, method, uri, outcome: Outcome::Hit, bytes: Some(bytes), elapsed }.emit(&st.name, r);
        }
    }

    /// Handles a lower tier's request: the full request path with the
    /// purge sequence it has applied (a malformed or missing one is
    /// refused: only tiers speak on this listener), counted by outcome as
    /// a tier request.
    async fn tier_request(self, req: Request<Incoming>) -> Response<Body> {
        let st = self.st;
        let seq = req.headers().get(PURGE_SEQ).and_then(crate::purge::order::parse);
        let Some(purge_seq) = seq else {
            st.meter.count_tier(Outcome::Error);
            let why = "tier listener: a request needs CDN-Purge-Seq (the purge sequence its sender has applied)";
            return proxy::refused(&st, http::StatusCode::BAD_REQUEST, why);
        };
        let peer = req.headers().contains_key(crate::headers::PEER_FILL);
        let served = proxy::handle(&st, req, self.peer.remote.ip(), proxy::From::Tier { purge_seq, peer }).await;
        st.meter.count_tier(served.outcome());
        served.response
    }

    /// Handles a request the fast path did not answer, counting its body
    /// bytes and time by outcome; logs it if asked.
    pub async fn observed(self, req: Request<Incoming>, started: Instant) -> Response<Body> {
        let (st, peer) = (self.st, self.peer);
        let logged = st.access_log.then(|| (req.method().clone(), req.uri().clone()));
        let looked = st.shadow.as_ref().and_then(|s| s.key_of(&req)); // what-if caches (crate::shadow)
        let served = proxy::handle(&st, req, peer.remote.ip(), proxy::From::Client).await;
        let outcome = served.outcome();
        let mut r = served.response;
        st.meter.count(outcome);
        let bytes = match r.body() {
            Body::Stream(_) => {
                let inner = std::mem::replace(r.body_mut(), Body::Empty);
                let hint = inner.size_hint().exact();
                *r.body_mut() = Body::stream(Counted { inner, st: st.clone(), outcome });
                hint
            }
            b => {
                let n = b.size_hint().exact().unwrap_or(0);
                st.meter.body(outcome, n);
                Some(n)
            }
        };
        if let Some(s) = &st.shadow {
            s.observe(looked, outcome, &r, bytes);
        }
        let elapsed = started.elapsed();
        st.meter.duration(outcome, elapsed);
        if let Some((method, uri)) = &logged {
            Line { peer, method, uri, outcome, bytes, elapsed }.emit(&st.name, &r);
        }
        r
    }
}

/// A streamed response body that counts its chunks as they are polled.
struct Counted {
    inner: Body,
    st: Arc<EdgeState>,
    outcome: Outcome,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &r
            && let Some(d) = f.data_ref()
        {
            this.st.meter.body(this.outcome, d.len() as u64);
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

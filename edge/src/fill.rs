//! What a cache fill is ([`Fill`]) and what it produced ([`Fetched`]):
//! the value a flight ([`crate::flight`]) hands every request waiting on
//! it. The fetching itself is in [`crate::fetch`].

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use parking_lot::Mutex;

use crate::body::Body;
use crate::entry::SliceInfo;
use crate::freshness::{Flags, NotStored, Timing};
use crate::growing::Growing;
use crate::key::CacheKey;
use crate::store::Entry;
use crate::upstream::FetchError;
use crate::vary::normalised;

/// What a fill produced.
pub enum Fetched {
    /// A complete response.
    Ready(Box<Ready>),
    /// Announced too big to buffer (and not sliced): streamed to the
    /// client that started the fill; others fetch for themselves.
    Streamed(Mutex<Option<Response<Body>>>),
    /// The origin could not be reached or failed mid-response.
    Failed(FetchError),
}

/// A complete response from a fill.
pub struct Ready {
    /// Status.
    pub status: StatusCode,
    /// Headers for the client that started the fill.
    pub headers: HeaderMap,
    /// Headers for other clients, when they differ (no `Set-Cookie`, …).
    pub shared_headers: Option<HeaderMap>,
    /// The body, when the fill had it whole (a revalidation, a slice).
    pub body: Bytes,
    /// The body still arriving from the origin (every miss with a body
    /// that is stored whole, or not stored at all): clients read it as it
    /// arrives; `body` is then empty.
    pub stream: Option<Arc<Growing>>,
    /// Freshness.
    pub timing: Timing,
    /// Reuse restrictions.
    pub flags: Flags,
    /// Whether it was stored (for a streamed body: whether it will be,
    /// once complete; one that fails mid-way, or is overtaken by a purge,
    /// is not).
    pub stored: bool,
    /// Why not, if not.
    pub not_stored: Option<NotStored>,
    /// Whether clients other than the starter may receive it.
    pub shareable: bool,
    /// Whether a stale entry was validated (origin answered 304).
    pub revalidated: bool,
    /// Status the origin answered.
    pub origin_status: u16,
    /// The response's `Vary` field names.
    pub vary: Vec<HeaderName>,
    /// What the fill sent the origin (waiters are matched against `Vary` on it).
    pub req_headers: HeaderMap,
    /// Set when the body is stored as slices (then `body` is empty).
    pub slices: Option<SliceInfo>,
    /// Where the response is stored (the URL's key or a variant key).
    pub storage_key: Option<CacheKey>,
    /// Its surrogate keys.
    pub tags: Vec<String>,
    /// The upper tier's `Cache-Status` as received, when the fill came from
    /// a shield: its entries come before this edge's (RFC 9211 §2).
    pub upstream_status: Option<HeaderValue>,
}

impl Ready {
    /// Whether a waiting request selects the same variant as the starter;
    /// `sent` is what the waiter's own fill would have sent the origin.
    pub fn vary_matches(&self, sent: &HeaderMap) -> bool {
        self.vary.iter().all(|n| normalised(n, sent) == normalised(n, &self.req_headers))
    }
}

/// One cache fill.
pub struct Fill {
    /// The URL's key, which is also the target sent to the origin.
    pub key: CacheKey,
    /// The key of the flight this fill runs in (the URL's key, or a
    /// derived one for a HEAD validation); the fill ends that flight.
    pub flight: CacheKey,
    /// Headers to send (already rewritten for the origin,
    /// [`headers::to_origin`]); variants are selected from them.
    pub headers: HeaderMap,
    /// The stale entry to revalidate, if any.
    pub stale: Option<Entry>,
    /// The client asked `no-store`.
    pub no_store: bool,
    /// Validate the stale entry with `HEAD` (the client sent `HEAD`,
    /// RFC 9111 §4.3.5) instead of a conditional `GET`.
    pub head: bool,
    /// The PoP node that owns the key, when another does: the fill goes to
    /// it (a peer fill, [`crate::cluster`]) and is not stored here...
    pub peer: Option<usize>,
    /// ... unless the key is hot: then it is stored here too.
    pub keep: bool,
}

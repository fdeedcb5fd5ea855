//! What a client's request allows (RFC 9111 §5.2.1): `max-age`,
//! `max-stale`, `min-fresh`, `no-cache` (and `Pragma: no-cache` without
//! `Cache-Control`), `no-store`, `only-if-cached`; and the decision whether a
//! stored response can be reused for it, including what the response's
//! `immutable` (RFC 8246) changes.

use http::HeaderMap;
use http::header::{CACHE_CONTROL, PRAGMA};

use super::directives::{Delta, Directives};
use super::policy::{Flags, Timing};

/// A request's cache directives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestDirectives {
    /// `no-cache` (or `Pragma: no-cache` without `Cache-Control`).
    pub no_cache: bool,
    /// `no-store`: do not store the response.
    pub no_store: bool,
    /// `only-if-cached`: 504 rather than contacting the origin.
    pub only_if_cached: bool,
    /// `max-age`: oldest acceptable age, seconds.
    pub max_age: Option<u64>,
    /// `min-fresh`: seconds of freshness still required.
    pub min_fresh: Option<u64>,
    /// `max-stale`: `Some(None)` for any staleness.
    pub max_stale: Option<Option<u64>>,
}

impl RequestDirectives {
    /// Reads the directives of a request.
    pub fn from_headers(h: &HeaderMap) -> RequestDirectives {
        if !h.contains_key(CACHE_CONTROL) {
            let pragma = h
                .get_all(PRAGMA)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("no-cache")));
            return RequestDirectives { no_cache: pragma, ..Default::default() };
        }
        let d = Directives::parse(h.get_all(CACHE_CONTROL));
        let secs = |n: &str| match d.delta(n) {
            Some(Delta::Secs(s)) => Some(s),
            _ => None,
        };
        RequestDirectives {
            no_cache: d.has("no-cache"),
            no_store: d.has("no-store"),
            only_if_cached: d.has("only-if-cached"),
            max_age: secs("max-age"),
            min_fresh: secs("min-fresh"),
            max_stale: d.optional_delta("max-stale").and_then(|v| match v {
                None => Some(None),
                Some(Delta::Secs(s)) => Some(Some(s)),
                Some(Delta::Invalid) => None,
            }),
        }
    }
}

/// How a stored response may serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Fresh enough for this request.
    Fresh,
    /// Stale, but the client's `max-stale` accepts it.
    StaleAccepted,
    /// Stale within stale-while-revalidate: serve it and refresh in the background.
    StaleWhileRevalidate,
    /// Must be validated with the origin first.
    Revalidate,
}

/// Decides reuse of a stored response for a request at `now_ms`.
///
/// A fresh `immutable` response (RFC 8246) will not change before it goes
/// stale, so a request's `max-age` or `min-fresh` (what a browser's plain
/// reload sends: `max-age=0`) is answered from the cache instead of asking
/// the origin for the same bytes. A forced reload (`no-cache`) and a stale
/// response are revalidated as usual. (The request directives only state
/// preferences, RFC 9111 §5.2.1, so a cache may serve the fresh copy.)
pub fn reuse(t: &Timing, flags: Flags, req: &RequestDirectives, now_ms: u64) -> Reuse {
    if req.no_cache || flags.has(Flags::NO_CACHE) {
        return Reuse::Revalidate;
    }
    if flags.has(Flags::IMMUTABLE) && t.is_fresh(now_ms) {
        return Reuse::Fresh;
    }
    let age_s = t.age_ms(now_ms) / 1000;
    if req.max_age.is_some_and(|m| age_s > m) {
        return Reuse::Revalidate;
    }
    if let Some(min) = req.min_fresh
        && t.ttl_secs(now_ms) < min as i64
    {
        return Reuse::Revalidate;
    }
    if t.is_fresh(now_ms) {
        return Reuse::Fresh;
    }
    let stale_ms = t.staleness_ms(now_ms);
    if let Some(ms) = req.max_stale
        && !flags.has(Flags::MUST_REVALIDATE)
        && !flags.has(Flags::SHARED_STRICT)
        && ms.is_none_or(|s| stale_ms <= s * 1000)
    {
        return Reuse::StaleAccepted;
    }
    if stale_ms < t.swr_ms && req.max_age.is_none() && req.min_fresh.is_none() {
        return Reuse::StaleWhileRevalidate;
    }
    Reuse::Revalidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cc: &str) -> RequestDirectives {
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, cc.parse().unwrap());
        RequestDirectives::from_headers(&h)
    }

    /// Stored at 0 s, fresh for 100 s.
    const T: Timing = Timing { birth_ms: 0, lifetime_ms: 100_000, swr_ms: 0, sie_ms: 0 };
    const IMMUTABLE: Flags = Flags(Flags::IMMUTABLE);

    #[test]
    fn a_fresh_immutable_response_is_reused_on_a_reload() {
        let at = 10_000; // 10 s old, 90 s left
        for cc in ["max-age=0", "max-age=5", "min-fresh=95", "max-age=0, min-fresh=200"] {
            assert_eq!(reuse(&T, IMMUTABLE, &req(cc), at), Reuse::Fresh, "{cc}");
            assert_eq!(reuse(&T, Flags::default(), &req(cc), at), Reuse::Revalidate, "{cc} without immutable");
        }
        // a forced reload, a response that asks for it, or staleness still go to the origin
        assert_eq!(reuse(&T, IMMUTABLE, &req("no-cache"), at), Reuse::Revalidate);
        let pragma = {
            let mut h = HeaderMap::new();
            h.insert(PRAGMA, "no-cache".parse().unwrap());
            RequestDirectives::from_headers(&h)
        };
        assert_eq!(reuse(&T, IMMUTABLE, &pragma, at), Reuse::Revalidate);
        assert_eq!(reuse(&T, Flags(Flags::IMMUTABLE | Flags::NO_CACHE), &req("max-age=0"), at), Reuse::Revalidate);
        assert_eq!(reuse(&T, IMMUTABLE, &req("max-age=0"), 100_000), Reuse::Revalidate, "stale at 100 s");
        assert_eq!(reuse(&T, IMMUTABLE, &req("max-stale=60"), 120_000), Reuse::StaleAccepted);
    }
}

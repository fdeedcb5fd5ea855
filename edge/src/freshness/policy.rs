//! Whether a response may be stored, and for how long it is fresh (RFC 9111
//! §3 and §4.2, shared-cache rules), with stale-while-revalidate and
//! stale-if-error (RFC 5861), targeted fields (`CDN-Cache-Control`, RFC 9213;
//! `Surrogate-Control`) and the world's per-path TTL rules.
//!
//! Order of decisions for the freshness lifetime:
//! 1. the governing directives: `CDN-Cache-Control` if present, else
//!    `Surrogate-Control`, else `Cache-Control` (+ `Expires`, which targeted
//!    fields override);
//! 2. explicit lifetime: `s-maxage` › `max-age` › `Expires − Date`;
//!    an invalid value means "already stale";
//! 3. otherwise, for heuristically cacheable statuses or `public` responses:
//!    the rule's `default_ttl` (or `negative_ttl` for 4xx/5xx), else 10% of
//!    `Date − Last-Modified`;
//! 4. the rule's `min_ttl`/`max_ttl` clamp the result (not for `no-cache`).

use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{AGE, AUTHORIZATION, CACHE_CONTROL, DATE, ETAG, EXPIRES, LAST_MODIFIED, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderName, Method, StatusCode};
use world::CacheRule;

use super::directives::{DELTA_MAX, Delta, Directives};

/// Statuses a cache may store without explicit freshness (RFC 9110 §15.1).
pub const HEURISTIC_STATUSES: [u16; 12] = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501];
/// Statuses whose caching rules this cache implements (for `must-understand`).
const UNDERSTOOD_STATUSES: [u16; 15] = [200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 500, 501];

/// `CDN-Cache-Control` (RFC 9213).
pub static CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");
/// `Surrogate-Control` (Edge Architecture Specification).
pub static SURROGATE_CONTROL: HeaderName = HeaderName::from_static("surrogate-control");

/// Why a response was not stored. The same words reach logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStored {
    /// The request method is not GET or HEAD.
    Method,
    /// A status this cache does not store (1xx, 206, 304, not understood).
    Status,
    /// `no-store` in the request.
    RequestNoStore,
    /// `no-store` in the response.
    NoStore,
    /// `private` in the response.
    Private,
    /// The request carried `Authorization` and the response did not allow sharing.
    Authorization,
    /// `Set-Cookie` without `public`.
    SetCookie,
    /// `Vary: *`.
    VaryStar,
    /// No explicit freshness, not heuristically cacheable, not public.
    NoFreshness,
    /// Stale at once with no validator to revalidate with.
    Useless,
    /// Bigger than the edge's largest storable object.
    TooBig,
    /// A purge arrived while the origin fetch was in flight (see `crate::purge`).
    Purged,
}

impl NotStored {
    /// Short name for logs, metrics and `Cache-Status` detail.
    pub fn as_str(self) -> &'static str {
        match self {
            NotStored::Method => "method",
            NotStored::Status => "status",
            NotStored::RequestNoStore => "request-no-store",
            NotStored::NoStore => "no-store",
            NotStored::Private => "private",
            NotStored::Authorization => "authorization",
            NotStored::SetCookie => "set-cookie",
            NotStored::VaryStar => "vary-star",
            NotStored::NoFreshness => "no-freshness",
            NotStored::Useless => "stale-without-validator",
            NotStored::TooBig => "too-big",
            NotStored::Purged => "purged-in-flight",
        }
    }
}

/// Flags that restrict how a stored response may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// `no-cache`: validate before every reuse.
    pub const NO_CACHE: u8 = 1;
    /// `must-revalidate` / `proxy-revalidate`: never serve stale.
    pub const MUST_REVALIDATE: u8 = 2;
    /// `s-maxage` (implies proxy-revalidate): no client `max-stale`, no
    /// configured grace; explicit `stale-*` directives still apply.
    pub const SHARED_STRICT: u8 = 4;
    /// `immutable`.
    pub const IMMUTABLE: u8 = 8;

    /// Whether flag `f` is set.
    pub fn has(self, f: u8) -> bool {
        self.0 & f != 0
    }
}

/// When a stored response was born and how long it may be used, in Unix
/// milliseconds of the edge's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// Response time minus its corrected initial age (RFC 9111 §4.2.3).
    pub birth_ms: u64,
    /// Freshness lifetime.
    pub lifetime_ms: u64,
    /// Stale-while-revalidate window after expiry.
    pub swr_ms: u64,
    /// Stale-if-error window after expiry.
    pub sie_ms: u64,
}

impl Timing {
    /// Until when the response is fresh.
    pub fn fresh_until_ms(&self) -> u64 {
        self.birth_ms.saturating_add(self.lifetime_ms)
    }
    /// Current age in ms.
    pub fn age_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.birth_ms)
    }
    /// Remaining freshness in seconds (negative once stale).
    pub fn ttl_secs(&self, now_ms: u64) -> i64 {
        let ttl = self.fresh_until_ms() as i64 - now_ms as i64;
        ttl.div_euclid(1000)
    }
    /// Whether fresh at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.fresh_until_ms()
    }
    /// How long stale at `now_ms` (0 while fresh).
    pub fn staleness_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.fresh_until_ms())
    }
}

/// A request and its response, as the cache saw them.
pub struct Exchange<'a> {
    /// Request method.
    pub method: &'a Method,
    /// Request headers (as sent to the origin).
    pub req_headers: &'a HeaderMap,
    /// Response status.
    pub status: StatusCode,
    /// Response headers.
    pub resp_headers: &'a HeaderMap,
    /// When the request was sent.
    pub request_time: SystemTime,
    /// When the response head arrived.
    pub response_time: SystemTime,
}

/// The verdict on one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Storable, or why not.
    pub store: Result<(), NotStored>,
    /// Freshness timing.
    pub timing: Timing,
    /// Reuse restrictions.
    pub flags: Flags,
    /// Fields the stored copy must not carry (`no-cache="f"`, `private="f"`,
    /// `Set-Cookie` of public responses).
    pub strip: Vec<HeaderName>,
}

/// Evaluates a response for storage and freshness, under a world rule.
pub fn evaluate(x: &Exchange<'_>, rule: Option<&CacheRule>) -> Evaluation {
    let h = x.resp_headers;
    let targeted = targeted_directives(h);
    let cc = Directives::parse(h.get_all(CACHE_CONTROL));
    let gov = targeted.as_ref().unwrap_or(&cc);
    let mut flags = 0u8;
    if gov.has("no-cache") && gov.field_names("no-cache").is_some_and(|f| f.is_empty()) {
        flags |= Flags::NO_CACHE;
    }
    if gov.has("must-revalidate") || gov.has("proxy-revalidate") {
        flags |= Flags::MUST_REVALIDATE;
    }
    if gov.delta("s-maxage").is_some() {
        flags |= Flags::SHARED_STRICT;
    }
    if gov.has("immutable") {
        flags |= Flags::IMMUTABLE;
    }
    let flags = Flags(flags);

    let mut strip = Vec::new();
    for d in ["no-cache", "private"] {
        for f in gov.field_names(d).unwrap_or_default() {
            if let Ok(n) = HeaderName::from_bytes(f.as_bytes()) {
                strip.push(n);
            }
        }
    }

    let timing = timing(x, gov, targeted.is_some(), rule, flags);
    let store = storable(x, gov, targeted.is_some(), &cc, rule, &mut strip).and_then(|()| {
        let has_validator = h.contains_key(ETAG) || h.contains_key(LAST_MODIFIED);
        if timing.lifetime_ms == 0 && timing.swr_ms == 0 && timing.sie_ms == 0 && !has_validator {
            Err(NotStored::Useless)
        } else {
            Ok(())
        }
    });
    Evaluation { store, timing, flags, strip }
}

/// The targeted directives governing this edge, if the response has any.
pub fn targeted_directives(h: &HeaderMap) -> Option<Directives> {
    for name in [&CDN_CACHE_CONTROL, &SURROGATE_CONTROL] {
        if h.contains_key(name) {
            let d = Directives::parse(h.get_all(name));
            if !d.is_empty() {
                return Some(d);
            }
        }
    }
    None
}

fn storable(
    x: &Exchange<'_>,
    gov: &Directives,
    targeted: bool,
    cc: &Directives,
    rule: Option<&CacheRule>,
    strip: &mut Vec<HeaderName>,
) -> Result<(), NotStored> {
    let h = x.resp_headers;
    let status = x.status.as_u16();
    if *x.method != Method::GET && *x.method != Method::HEAD {
        return Err(NotStored::Method);
    }
    if x.status.is_informational() || status == 206 || status == 304 {
        return Err(NotStored::Status);
    }
    let understood = UNDERSTOOD_STATUSES.contains(&status);
    let must_understand = gov.has("must-understand");
    if must_understand && !understood {
        return Err(NotStored::Status);
    }
    if Directives::parse(x.req_headers.get_all(CACHE_CONTROL)).has("no-store") {
        return Err(NotStored::RequestNoStore);
    }
    if gov.has("no-store") && !(must_understand && understood) {
        return Err(NotStored::NoStore);
    }
    if gov.has("private") && gov.field_names("private").is_some_and(|f| f.is_empty()) {
        return Err(NotStored::Private);
    }
    let public = gov.has("public");
    if x.req_headers.contains_key(AUTHORIZATION)
        && !(public || gov.has("s-maxage") || gov.has("must-revalidate") || cc.has("public"))
    {
        return Err(NotStored::Authorization);
    }
    if vary_names(h).any(|v| v == "*") {
        return Err(NotStored::VaryStar);
    }
    if h.contains_key(SET_COOKIE) {
        if !public {
            return Err(NotStored::SetCookie);
        }
        // Shared: never hand one client's cookie to another.
        strip.push(SET_COOKIE);
    }
    let explicit = gov.has("s-maxage") || gov.has("max-age") || (!targeted && h.contains_key(EXPIRES));
    let by_rule = rule.is_some_and(|r| r.default_ttl.is_some() || r.negative_ttl.is_some() || r.min_ttl.is_some());
    if !(explicit || public || HEURISTIC_STATUSES.contains(&status) || by_rule) {
        return Err(NotStored::NoFreshness);
    }
    Ok(())
}

fn timing(x: &Exchange<'_>, gov: &Directives, targeted: bool, rule: Option<&CacheRule>, flags: Flags) -> Timing {
    let h = x.resp_headers;
    let response_time = secs_f(x.response_time);
    let request_time = secs_f(x.request_time).min(response_time);
    let date = single_date(h, DATE).unwrap_or(response_time);
    // RFC 9111 §4.2.3
    let age_value = age_header(h) as f64;
    let apparent_age = (response_time - date).max(0.0);
    let corrected_age_value = age_value + (response_time - request_time);
    let corrected_initial_age = apparent_age.max(corrected_age_value);
    let birth = response_time - corrected_initial_age;

    let status = x.status.as_u16();
    let explicit: Option<f64> = match (gov.delta("s-maxage"), gov.delta("max-age")) {
        (Some(d), _) | (None, Some(d)) => Some(delta_secs(d)),
        (None, None) if !targeted && h.contains_key(EXPIRES) => Some(match single_date(h, EXPIRES) {
            Some(exp) => (exp - date).max(0.0),
            None => 0.0, // invalid Expires (e.g. "0"): already expired
        }),
        (None, None) => None,
    };
    let heuristic_ok = HEURISTIC_STATUSES.contains(&status) || gov.has("public");
    let mut lifetime = match explicit {
        Some(l) => l,
        None => {
            let configured = if status >= 400 {
                rule.and_then(|r| r.negative_ttl).or_else(|| rule.and_then(|r| r.default_ttl))
            } else {
                rule.and_then(|r| r.default_ttl)
            };
            match configured {
                Some(d) => d.0.as_secs_f64(),
                None if heuristic_ok => match single_date(h, LAST_MODIFIED) {
                    Some(lm) if lm < date => (date - lm) * 0.1,
                    _ => 0.0,
                },
                None => 0.0,
            }
        }
    };
    if let Some(r) = rule
        && !flags.has(Flags::NO_CACHE)
    {
        if let Some(min) = r.min_ttl {
            lifetime = lifetime.max(min.0.as_secs_f64());
        }
        if let Some(max) = r.max_ttl {
            lifetime = lifetime.min(max.0.as_secs_f64());
        }
    }
    // Stale windows: explicit directives, then the rule's grace.
    let (mut swr, mut sie) = (0.0f64, 0.0f64);
    if !flags.has(Flags::MUST_REVALIDATE) && !flags.has(Flags::NO_CACHE) {
        swr = gov.delta("stale-while-revalidate").map_or(0.0, delta_secs);
        sie = gov.delta("stale-if-error").map_or(0.0, delta_secs);
        if !flags.has(Flags::SHARED_STRICT)
            && let Some(r) = rule
        {
            swr = swr.max(r.grace.map_or(0.0, |g| g.0.as_secs_f64()));
            sie = sie.max(r.stale_if_error.map_or(0.0, |g| g.0.as_secs_f64()));
        }
    }
    Timing { birth_ms: ms(birth), lifetime_ms: ms(lifetime), swr_ms: ms(swr), sie_ms: ms(sie) }
}

fn delta_secs(d: Delta) -> f64 {
    match d {
        Delta::Secs(s) => s.min(DELTA_MAX) as f64,
        Delta::Invalid => 0.0,
    }
}

fn ms(secs: f64) -> u64 {
    if secs <= 0.0 { 0 } else { (secs * 1000.0).min(u64::MAX as f64 / 2.0) as u64 }
}

fn secs_f(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A date field given once, in any of the three HTTP date formats; `None`
/// when absent, repeated with different values, or invalid.
fn single_date(h: &HeaderMap, name: HeaderName) -> Option<f64> {
    let mut it = h.get_all(name).iter();
    let first = it.next()?;
    if it.any(|v| v != first) {
        return None;
    }
    let s = first.to_str().ok()?;
    httpdate::parse_http_date(s.trim()).ok().map(secs_f)
}

/// The `Age` field: first member of the first line, if a non-negative
/// integer (else ignored, RFC 9111 §5.1), capped at 2^31.
pub fn age_header(h: &HeaderMap) -> u64 {
    let Some(v) = h.get(AGE).and_then(|v| v.to_str().ok()) else { return 0 };
    let first = v.split(',').next().unwrap_or("").trim();
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    first.bytes().fold(0u64, |a, b| a.saturating_mul(10).saturating_add(u64::from(b - b'0'))).min(DELTA_MAX)
}

/// Lowercase field names listed in `Vary`.
pub fn vary_names(h: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    h.get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
}

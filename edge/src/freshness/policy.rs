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
//! 3. otherwise the lifetime a world rule configures ([`configured_ttl`]:
//!    `negative_ttl` for any 4xx/5xx; `default_ttl` only where heuristic
//!    freshness is allowed, a heuristically cacheable status or `public`),
//!    else, where allowed, the heuristic: 10% of `Date − Last-Modified`;
//! 4. the rule's `min_ttl`/`max_ttl` clamp the result of a storable
//!    response (not for `no-cache`); they never make one storable.

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
    /// Storable, but its URL was not used often enough yet ([`crate::admission`]).
    Admission,
    /// Filled from the PoP node that owns the key, which keeps it
    /// ([`crate::cluster`]).
    PeerOwned,
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
            NotStored::Admission => "admission",
            NotStored::PeerOwned => "peer-owned",
        }
    }
}

/// How a lifetime the origin did not give as it is came about, by
/// [`Flags::lifetime`]: a source word (`heuristic`: RFC 9111 §4.2.2;
/// `default-ttl`: the world rule's `default_ttl` or `negative_ttl`), then
/// the clamps that changed it (`min-ttl`, `max-ttl`), joined by `+` so
/// that they stay one token of a `Cache-Status` `detail` (RFC 9211 §2.8,
/// RFC 8941 §3.3.4: a token may hold `+`, never a comma or a space).
/// Written out with a tier first by `crate::cache_status` (macro below).
macro_rules! lifetime_words {
    ($p:literal, $sep:literal) => {
        [
            $p,
            concat!($p, $sep, "min-ttl"),
            concat!($p, $sep, "max-ttl"),
            concat!($p, $sep, "min-ttl+max-ttl"),
            concat!($p, $sep, "heuristic"),
            concat!($p, $sep, "heuristic+min-ttl"),
            concat!($p, $sep, "heuristic+max-ttl"),
            concat!($p, $sep, "heuristic+min-ttl+max-ttl"),
            concat!($p, $sep, "default-ttl"),
            concat!($p, $sep, "default-ttl+min-ttl"),
            concat!($p, $sep, "default-ttl+max-ttl"),
            concat!($p, $sep, "default-ttl+min-ttl+max-ttl"),
        ]
    };
}
pub(crate) use lifetime_words;

/// The lifetime words alone, by [`Flags::lifetime`] (`""`: explicit, unclamped).
pub const LIFETIME_WORDS: [&str; 12] = lifetime_words!("", "");

/// Flags that restrict how a stored response may be reused, and say where
/// its lifetime came from.
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
    /// The lifetime is heuristic (RFC 9111 §4.2.2): 10% of the time since
    /// `Last-Modified`, the origin giving no explicit freshness.
    pub const HEURISTIC: u8 = 16;
    /// The lifetime is the world rule's `default_ttl` or `negative_ttl`
    /// (`--default-ttl`), the origin giving no explicit freshness.
    pub const DEFAULT_TTL: u8 = 32;

    /// The lifetime was raised by the world rule's `min_ttl`.
    pub const MIN_TTL: u8 = 64;
    /// The lifetime was lowered by the world rule's `max_ttl`.
    pub const MAX_TTL: u8 = 128;

    /// Where the lifetime came from, as an index into [`LIFETIME_WORDS`]:
    /// the source (explicit, heuristic, default-ttl) × 4 + the clamps
    /// (none, `min_ttl`, `max_ttl`, both). 0: the origin's own lifetime.
    /// One table lookup (the hit path asks it on every hit).
    #[inline(always)]
    pub fn lifetime(self) -> usize {
        // By the four lifetime bits (HEURISTIC, DEFAULT_TTL, MIN_TTL,
        // MAX_TTL = bits 4..8); both sources at once cannot happen (counted
        // as heuristic).
        const INDEX: [u8; 16] = {
            let mut t = [0u8; 16];
            let mut bits = 0;
            while bits < 16 {
                let source = if bits & 1 != 0 {
                    1
                } else if bits & 2 != 0 {
                    2
                } else {
                    0
                };
                t[bits] = (source * 4 + (bits >> 2 & 1) + 2 * (bits >> 3 & 1)) as u8;
                bits += 1;
            }
            t
        };
        INDEX[(self.0 >> 4) as usize] as usize
    }

    /// The `Cache-Status` detail word for how this stored response's
    /// freshness is decided, when not by the origin's explicit lifetime
    /// as it is: `no-cache` (revalidated before every use, whatever its
    /// ttl), else [`LIFETIME_WORDS`] (`heuristic`, `default-ttl`,
    /// `min-ttl`, `heuristic+max-ttl`, …).
    pub fn detail(self) -> Option<&'static str> {
        if self.has(Flags::NO_CACHE) {
            Some("no-cache")
        } else {
            Some(LIFETIME_WORDS[self.lifetime()]).filter(|w| !w.is_empty())
        }
    }

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
        // Both times may be anywhere in u64 (a world rule's TTL can be
        // huge); their difference in seconds always fits an i64.
        let ttl = i128::from(self.fresh_until_ms()) - i128::from(now_ms);
        ttl.div_euclid(1000) as i64
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
    /// This cache's device token in `Surrogate-Control` targets (`edge-seoul`).
    pub surrogate_id: &'a str,
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
    let targeted = targeted_directives(h, x.surrogate_id);
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
    let (timing, source) = timing(x, gov, targeted.is_some(), rule, Flags(flags));
    let flags = Flags(flags | source);

    let mut strip = Vec::new();
    for d in ["no-cache", "private"] {
        for f in gov.field_names(d).unwrap_or_default() {
            if let Ok(n) = HeaderName::from_bytes(f.as_bytes()) {
                strip.push(n);
            }
        }
    }

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

/// The targeted directives governing this edge, if the response has any:
/// `CDN-Cache-Control`, else `Surrogate-Control` (directives targeted at
/// `surrogate_id` with `;token` override untargeted ones; directives
/// targeted at other devices are ignored).
pub fn targeted_directives(h: &HeaderMap, surrogate_id: &str) -> Option<Directives> {
    if h.contains_key(&CDN_CACHE_CONTROL) {
        let d = Directives::parse(h.get_all(&CDN_CACHE_CONTROL));
        if !d.is_empty() {
            return Some(d);
        }
    }
    if h.contains_key(&SURROGATE_CONTROL) {
        let d = surrogate_directives(h, surrogate_id);
        if !d.is_empty() {
            return Some(d);
        }
    }
    None
}

/// `Surrogate-Control` items (`max-age=60;edge-seoul`) that apply to this device.
fn surrogate_directives(h: &HeaderMap, me: &str) -> Directives {
    let mut general: Vec<String> = Vec::new();
    let mut mine: Vec<String> = Vec::new();
    for line in h.get_all(&SURROGATE_CONTROL).iter().filter_map(|v| v.to_str().ok()) {
        for item in split_outside_quotes(line, ',') {
            let mut parts = split_outside_quotes(item, ';').into_iter();
            let body = parts.next().unwrap_or("").trim();
            match parts.next().map(str::trim) {
                None => general.push(body.to_string()),
                Some(target) if target.eq_ignore_ascii_case(me) => mine.push(body.to_string()),
                Some(_) => {}
            }
        }
    }
    let name = |s: &str| s.split('=').next().unwrap_or("").trim().to_ascii_lowercase();
    let overridden: Vec<String> = mine.iter().map(|m| name(m)).collect();
    general.retain(|g| !overridden.contains(&name(g)));
    general.extend(mine);
    Directives::parse_str(&general.join(", "))
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let (mut out, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
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
    let by_rule = configured_ttl(status, public, rule).is_some();
    if !(explicit || heuristic_allowed(status, public) || by_rule) {
        return Err(NotStored::NoFreshness);
    }
    Ok(())
}

/// The timing, and the flags saying where a lifetime the origin did not
/// give came from ([`Flags::HEURISTIC`], [`Flags::DEFAULT_TTL`]; 0:
/// explicit) and which of the rule's clamps changed it ([`Flags::MIN_TTL`],
/// [`Flags::MAX_TTL`]).
fn timing(x: &Exchange<'_>, gov: &Directives, targeted: bool, rule: Option<&CacheRule>, flags: Flags) -> (Timing, u8) {
    let h = x.resp_headers;
    // RFC 9111 §4.2.3, in whole seconds as the RFC counts (HTTP dates have
    // no fractions), anchored at the exact response time.
    let response_ms = unix_ms(x.response_time);
    let request_ms = unix_ms(x.request_time).min(response_ms);
    let response_s = response_ms / 1000;
    let date = single_date(h, DATE);
    let age = age_field(h);
    let age_value = match age {
        AgeField::Valid(a) => a,
        _ => 0,
    };
    let apparent_age = date.map_or(0, |d| response_s.saturating_sub(d));
    let corrected_age_value = age_value.saturating_add((response_ms - request_ms) / 1000);
    let corrected_initial_age = apparent_age.max(corrected_age_value);
    let birth_ms = response_ms.saturating_sub(corrected_initial_age.saturating_mul(1000));
    let date = date.unwrap_or(response_s);

    let status = x.status.as_u16();
    let explicit: Option<u64> = match (gov.delta("s-maxage"), gov.delta("max-age")) {
        (Some(d), _) | (None, Some(d)) => Some(delta_secs(d)),
        (None, None) if !targeted && h.contains_key(EXPIRES) => Some(match single_date(h, EXPIRES) {
            Some(exp) => exp.saturating_sub(date),
            None => 0, // invalid Expires (e.g. "0"): already expired
        }),
        (None, None) => None,
    };
    let heuristic_ok = heuristic_allowed(status, gov.has("public"));
    let mut source = 0;
    let mut lifetime_ms = match explicit {
        Some(l) => l.saturating_mul(1000),
        None => match configured_ttl(status, gov.has("public"), rule) {
            Some(d) => {
                source = Flags::DEFAULT_TTL;
                d.0.as_millis() as u64
            }
            None if heuristic_ok => match single_date(h, LAST_MODIFIED) {
                Some(lm) if lm < date => {
                    source = Flags::HEURISTIC;
                    (date - lm) / 10 * 1000
                }
                _ => 0,
            },
            None => 0,
        },
    };
    if age == AgeField::Invalid {
        lifetime_ms = 0;
    } else if let Some(r) = rule
        && !flags.has(Flags::NO_CACHE)
    {
        if let Some(min) = r.min_ttl.map(|d| d.0.as_millis() as u64)
            && min > lifetime_ms
        {
            lifetime_ms = min;
            source |= Flags::MIN_TTL;
        }
        if let Some(max) = r.max_ttl.map(|d| d.0.as_millis() as u64)
            && max < lifetime_ms
        {
            lifetime_ms = max;
            source |= Flags::MAX_TTL;
        }
    }
    // Stale windows: explicit directives, then the rule's grace.
    let (mut swr, mut sie) = (0u64, 0u64);
    if !flags.has(Flags::MUST_REVALIDATE) && !flags.has(Flags::NO_CACHE) {
        swr = gov.delta("stale-while-revalidate").map_or(0, delta_secs) * 1000;
        sie = gov.delta("stale-if-error").map_or(0, delta_secs) * 1000;
        if !flags.has(Flags::SHARED_STRICT)
            && let Some(r) = rule
        {
            swr = swr.max(r.grace.map_or(0, |g| g.0.as_millis() as u64));
            sie = sie.max(r.stale_if_error.map_or(0, |g| g.0.as_millis() as u64));
        }
    }
    (Timing { birth_ms, lifetime_ms, swr_ms: swr, sie_ms: sie }, source)
}

/// Whether a response without explicit freshness may be given a lifetime
/// of the cache's choosing (RFC 9111 §4.2.2): its status is heuristically
/// cacheable ([`HEURISTIC_STATUSES`]) or it is marked `public`.
fn heuristic_allowed(status: u16, public: bool) -> bool {
    public || HEURISTIC_STATUSES.contains(&status)
}

/// The lifetime a world rule gives a response without explicit freshness,
/// if any; the one place that decides it, for both storability and the
/// lifetime.
///
/// - `negative_ttl`, for any error status (4xx, 5xx): the operator asks
///   for errors to be cached, so it is the one way a `500` or `503`
///   without explicit freshness is stored.
/// - `default_ttl`, only where heuristic freshness is allowed
///   ([`heuristic_allowed`]): it *replaces* the heuristic, so it reaches
///   no further than the heuristic may. A `default_ttl` meant for pages
///   never turns an origin's passing `503` (or a `302`) into a cached
///   answer for everyone.
pub fn configured_ttl(status: u16, public: bool, rule: Option<&CacheRule>) -> Option<world::Dur> {
    let r = rule?;
    match r.negative_ttl {
        Some(n) if status >= 400 => Some(n),
        _ if heuristic_allowed(status, public) => r.default_ttl,
        _ => None,
    }
}

fn delta_secs(d: Delta) -> u64 {
    match d {
        Delta::Secs(s) => s.min(DELTA_MAX),
        Delta::Invalid => 0,
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A date field given once, in any of the three HTTP date formats, as Unix
/// seconds; `None` when absent, repeated with different values, or invalid.
fn single_date(h: &HeaderMap, name: HeaderName) -> Option<u64> {
    let mut it = h.get_all(name).iter();
    let first = it.next()?;
    if it.any(|v| v != first) {
        return None;
    }
    let s = first.to_str().ok()?;
    httpdate::parse_http_date(s.trim()).ok().map(|t| unix_ms(t) / 1000)
}

/// The `Age` field of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeField {
    /// No `Age`.
    Absent,
    /// One non-negative integer, capped at 2^31.
    Valid(u64),
    /// Anything else: a list, several lines, a sign, a fraction, parameters.
    Invalid,
}

/// Reads `Age`. RFC 9111 §5.1 suggests using the first member of a list and
/// ignoring an invalid value; the edge instead treats any `Age` that is not
/// exactly one non-negative integer as making the response stale on
/// arrival: its age cannot be known, so it is revalidated rather than
/// served for longer than its origin meant (the conservative reading, and
/// what cache-tests.fyi expects).
pub fn age_field(h: &HeaderMap) -> AgeField {
    let mut lines = h.get_all(AGE).iter();
    let Some(first) = lines.next() else { return AgeField::Absent };
    if lines.next().is_some() {
        return AgeField::Invalid;
    }
    let v = first.to_str().unwrap_or("").trim_matches([' ', '\t']);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return AgeField::Invalid;
    }
    AgeField::Valid(
        v.bytes().fold(0u64, |a, b| a.saturating_mul(10).saturating_add(u64::from(b - b'0'))).min(DELTA_MAX),
    )
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::HeaderValue;
    use world::Dur;

    use super::*;

    const T0: u64 = 1_800_000_000; // a Unix second

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn date(secs: u64) -> String {
        world::clock::httpdate_fmt(at(secs))
    }

    fn eval_with(status: u16, resp: &[(&str, String)], req: &[(&str, &str)], rule: Option<&CacheRule>) -> Evaluation {
        let mut rh = HeaderMap::new();
        for (n, v) in resp {
            rh.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let mut qh = HeaderMap::new();
        for (n, v) in req {
            qh.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        evaluate(
            &Exchange {
                method: &Method::GET,
                req_headers: &qh,
                status: StatusCode::from_u16(status).unwrap(),
                resp_headers: &rh,
                request_time: at(T0),
                response_time: at(T0),
                surrogate_id: "edge-t",
            },
            rule,
        )
    }

    fn eval(resp: &[(&str, String)]) -> Evaluation {
        eval_with(200, resp, &[], None)
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn explicit_lifetime_precedence() {
        let cases: &[(&[(&str, String)], u64)] = &[
            (&[("cache-control", s("max-age=60"))], 60),
            (&[("cache-control", s("max-age=60, s-maxage=5"))], 5),
            (&[("cache-control", s("max-age=60")), ("expires", date(T0 + 900))], 60),
            (&[("date", date(T0)), ("expires", date(T0 + 900))], 900),
            (&[("date", date(T0 - 100)), ("expires", date(T0 + 900))], 1000),
            (&[("expires", s("0"))], 0),
            (&[("date", date(T0)), ("last-modified", date(T0 - 5000))], 500),
            (&[("cache-control", s("max-age=abc")), ("etag", s("\"x\""))], 0),
            (&[("cache-control", s("max-age=10, max-age=20")), ("etag", s("\"x\""))], 0),
        ];
        for (headers, want) in cases {
            let e = eval(headers);
            assert_eq!(e.timing.lifetime_ms, want * 1000, "{headers:?}");
        }
    }

    #[test]
    fn corrected_initial_age() {
        // Age header counts, the Date-based apparent age counts, the larger wins.
        let e = eval(&[("cache-control", s("max-age=100")), ("age", s("30"))]);
        assert_eq!(e.timing.birth_ms, (T0 - 30) * 1000);
        let e = eval(&[("cache-control", s("max-age=100")), ("date", date(T0 - 40)), ("age", s("30"))]);
        assert_eq!(e.timing.birth_ms, (T0 - 40) * 1000);
        let e = eval(&[("cache-control", s("max-age=100")), ("age", s("1, 2")), ("etag", s("\"e\""))]);
        assert_eq!(e.timing.lifetime_ms, 0, "a list-valued Age makes the response stale");
    }

    #[test]
    fn storability() {
        let stored =
            |status: u16, resp: &[(&str, String)], req: &[(&str, &str)]| eval_with(status, resp, req, None).store;
        let lm = || ("last-modified", date(T0 - 5000));
        assert_eq!(stored(200, &[lm()], &[]), Ok(()));
        assert_eq!(stored(302, &[lm()], &[]), Err(NotStored::NoFreshness));
        assert_eq!(stored(302, &[("cache-control", s("max-age=5"))], &[]), Ok(()));
        assert_eq!(stored(206, &[("cache-control", s("max-age=5"))], &[]), Err(NotStored::Status));
        assert_eq!(stored(200, &[("cache-control", s("no-store, max-age=5"))], &[]), Err(NotStored::NoStore));
        assert_eq!(stored(200, &[("cache-control", s("private"))], &[]), Err(NotStored::Private));
        assert_eq!(
            stored(200, &[("cache-control", s("max-age=5"))], &[("cache-control", "no-store")]),
            Err(NotStored::RequestNoStore)
        );
        assert_eq!(
            stored(200, &[("cache-control", s("max-age=5"))], &[("authorization", "x")]),
            Err(NotStored::Authorization)
        );
        assert_eq!(stored(200, &[("cache-control", s("s-maxage=5"))], &[("authorization", "x")]), Ok(()));
        assert_eq!(
            stored(200, &[("cache-control", s("max-age=5")), ("set-cookie", s("a=1"))], &[]),
            Err(NotStored::SetCookie)
        );
        assert_eq!(stored(200, &[("cache-control", s("max-age=5")), ("vary", s("*"))], &[]), Err(NotStored::VaryStar));
        assert_eq!(stored(200, &[("cache-control", s("max-age=0"))], &[]), Err(NotStored::Useless));
        assert_eq!(stored(200, &[("cache-control", s("no-store, must-understand, max-age=5"))], &[]), Ok(()));
        assert_eq!(stored(299, &[("cache-control", s("must-understand, max-age=5"))], &[]), Err(NotStored::Status));
    }

    #[test]
    fn targeted_fields_override_cache_control() {
        let e = eval(&[("cache-control", s("no-store")), ("cdn-cache-control", s("max-age=30"))]);
        assert_eq!((e.store, e.timing.lifetime_ms), (Ok(()), 30_000));
        let e = eval(&[("cache-control", s("max-age=30")), ("surrogate-control", s("max-age=90;edge-t, max-age=10"))]);
        assert_eq!(e.timing.lifetime_ms, 90_000);
        let e = eval(&[("cache-control", s("max-age=30")), ("surrogate-control", s("max-age=90;other"))]);
        assert_eq!(e.timing.lifetime_ms, 30_000, "a Surrogate-Control aimed elsewhere is ignored");
    }

    #[test]
    fn stale_windows_and_their_limits() {
        let rule = CacheRule {
            prefix: "/".into(),
            min_ttl: None,
            default_ttl: None,
            max_ttl: None,
            grace: Some(Dur::secs(50)),
            stale_if_error: Some(Dur::secs(70)),
            negative_ttl: None,
            ..CacheRule::default()
        };
        let w = |cc: &str, rule: Option<&CacheRule>| {
            let t = eval_with(200, &[("cache-control", s(cc))], &[], rule).timing;
            (t.swr_ms / 1000, t.sie_ms / 1000)
        };
        assert_eq!(w("max-age=1, stale-while-revalidate=9, stale-if-error=8", None), (9, 8));
        assert_eq!(w("max-age=1", Some(&rule)), (50, 70));
        assert_eq!(w("max-age=1, stale-while-revalidate=90", Some(&rule)), (90, 70));
        assert_eq!(w("max-age=1, must-revalidate, stale-while-revalidate=9", Some(&rule)), (0, 0));
        assert_eq!(w("s-maxage=1, stale-while-revalidate=9", Some(&rule)), (9, 0), "s-maxage: no configured grace");
    }

    #[test]
    fn rules_clamp_and_default() {
        let rule = CacheRule {
            prefix: "/".into(),
            min_ttl: Some(Dur::secs(60)),
            default_ttl: Some(Dur::secs(300)),
            max_ttl: Some(Dur::secs(600)),
            grace: None,
            stale_if_error: None,
            negative_ttl: Some(Dur::secs(20)),
            ..CacheRule::default()
        };
        let life = |status: u16, cc: Option<&str>| {
            let h: Vec<(&str, String)> = cc.map(|c| vec![("cache-control", s(c))]).unwrap_or_default();
            eval_with(status, &h, &[], Some(&rule)).timing.lifetime_ms / 1000
        };
        assert_eq!(life(200, Some("max-age=5")), 60);
        assert_eq!(life(200, Some("max-age=5000")), 600);
        assert_eq!(life(200, None), 300);
        assert_eq!(life(404, None), 60, "negative_ttl 20, raised by min_ttl 60");
        assert_eq!(life(200, Some("no-cache, max-age=5")), 5, "no-cache is not stretched");
    }

    /// Issue 19: `default_ttl` stands in for the heuristic and goes no
    /// further than it may (RFC 9111 §4.2.2): a `500`/`503`/`302` without
    /// explicit freshness stays uncached under a `default_ttl` (or a
    /// `min_ttl`, which only bounds storable responses); `negative_ttl` is
    /// the one way to cache such an error, and `public` allows it.
    #[test]
    fn default_ttl_reaches_only_heuristically_cacheable_responses() {
        let rule = |default: Option<u64>, negative: Option<u64>, min: Option<u64>| CacheRule {
            prefix: "/".into(),
            default_ttl: default.map(Dur::secs),
            negative_ttl: negative.map(Dur::secs),
            min_ttl: min.map(Dur::secs),
            ..CacheRule::default()
        };
        let verdict = |status: u16, cc: Option<&str>, r: &CacheRule| {
            let h: Vec<(&str, String)> = cc.map(|c| vec![("cache-control", s(c))]).unwrap_or_default();
            let e = eval_with(status, &h, &[], Some(r));
            (e.store, e.timing.lifetime_ms / 1000)
        };
        let default = rule(Some(300), None, None);
        for status in HEURISTIC_STATUSES.into_iter().filter(|s| *s != 206) {
            assert_eq!(verdict(status, None, &default), (Ok(()), 300), "{status}: heuristically cacheable");
        }
        for status in [500, 502, 503, 504, 302, 307, 403] {
            assert_eq!(verdict(status, None, &default).0, Err(NotStored::NoFreshness), "{status} with default_ttl");
            assert_eq!(
                verdict(status, None, &rule(None, None, Some(60))).0,
                Err(NotStored::NoFreshness),
                "{status} with min_ttl"
            );
            assert_eq!(verdict(status, Some("public"), &default), (Ok(()), 300), "{status} marked public");
            assert_eq!(verdict(status, Some("max-age=7"), &default), (Ok(()), 7), "{status} with explicit freshness");
        }
        let negative = rule(Some(300), Some(20), None);
        for status in [404, 500, 503] {
            assert_eq!(verdict(status, None, &negative), (Ok(()), 20), "{status}: negative_ttl caches errors");
        }
        assert_eq!(verdict(302, None, &negative).0, Err(NotStored::NoFreshness), "302 is not an error");
        assert_eq!(verdict(200, None, &negative), (Ok(()), 300));
    }

    /// Where a lifetime the origin did not give came from reaches
    /// `Cache-Status` through the flags (issue 19).
    #[test]
    fn the_flags_say_whether_a_lifetime_is_heuristic_configured_or_no_cache() {
        let lm = ("last-modified", date(T0 - 5000));
        let detail = |resp: &[(&str, String)], rule: Option<&CacheRule>| eval_with(200, resp, &[], rule).flags.detail();
        assert_eq!(detail(std::slice::from_ref(&lm), None), Some("heuristic"));
        assert_eq!(detail(&[("cache-control", s("max-age=60")), lm.clone()], None), None, "explicit");
        let rule = CacheRule { prefix: "/".into(), default_ttl: Some(Dur::secs(300)), ..CacheRule::default() };
        assert_eq!(detail(std::slice::from_ref(&lm), Some(&rule)), Some("default-ttl"));
        assert_eq!(detail(&[("cache-control", s("no-cache, max-age=3"))], None), Some("no-cache"));
        assert_eq!(detail(&[("cache-control", s("no-cache")), lm], None), Some("no-cache"), "no-cache wins");
    }

    /// Issue 19: a lifetime the world rule's `min_ttl` or `max_ttl`
    /// changed is marked as such, with its source; a clamp that changed
    /// nothing is not.
    #[test]
    fn the_flags_say_which_clamp_changed_a_lifetime() {
        let lm = ("last-modified", date(T0 - 5000)); // heuristic: 500 s
        let rule = CacheRule {
            prefix: "/".into(),
            min_ttl: Some(Dur::secs(60)),
            max_ttl: Some(Dur::secs(300)),
            ..CacheRule::default()
        };
        let eval = |resp: &[(&str, String)], rule: &CacheRule| {
            let e = eval_with(200, resp, &[], Some(rule));
            (e.timing.lifetime_ms / 1000, e.flags.detail())
        };
        assert_eq!(eval(&[("cache-control", s("max-age=5"))], &rule), (60, Some("min-ttl")));
        assert_eq!(eval(&[("cache-control", s("max-age=5000"))], &rule), (300, Some("max-ttl")));
        assert_eq!(eval(&[("cache-control", s("max-age=100"))], &rule), (100, None), "inside the clamps");
        assert_eq!(eval(&[("cache-control", s("max-age=300"))], &rule), (300, None), "at the bound: unchanged");
        assert_eq!(eval(std::slice::from_ref(&lm), &rule), (300, Some("heuristic+max-ttl")));
        let default = CacheRule { default_ttl: Some(Dur::secs(10)), ..rule.clone() };
        assert_eq!(eval(std::slice::from_ref(&lm), &default), (60, Some("default-ttl+min-ttl")));
        let crossed = CacheRule { min_ttl: Some(Dur::secs(900)), ..rule.clone() };
        assert_eq!(eval(&[("cache-control", s("max-age=5"))], &crossed), (300, Some("min-ttl+max-ttl")));
        let no_cache = eval(&[("cache-control", s("no-cache, max-age=5"))], &rule);
        assert_eq!(no_cache, (5, Some("no-cache")), "no-cache is not clamped");
    }

    /// Found by `fuzz/fuzz_targets/http_fields.rs`: a world rule's TTL (any
    /// whole number of seconds) can put the end of freshness past 2^63 ms,
    /// where the remaining TTL overflowed an i64.
    #[test]
    fn remaining_ttl_of_a_huge_rule_lifetime_does_not_overflow() {
        let rule =
            CacheRule { prefix: "/".into(), min_ttl: Some(Dur::secs(9_223_372_036_854_775)), ..CacheRule::default() };
        let e = eval_with(200, &[("cache-control", s("max-age=60"))], &[], Some(&rule));
        assert_eq!(e.timing.lifetime_ms, 9_223_372_036_854_775_000);
        let now = T0 * 1000;
        assert_eq!(e.timing.ttl_secs(now), 9_223_372_036_854_775);
        let t = Timing { birth_ms: 0, lifetime_ms: 1000, swr_ms: 0, sie_ms: 0 };
        assert_eq!(t.ttl_secs(u64::MAX), -18_446_744_073_709_551);
    }
}

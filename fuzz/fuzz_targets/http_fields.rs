//! The edge's and origin's header-field parsers: `Cache-Control`-style
//! directive lists (`edge/src/freshness/directives.rs`), what a request
//! allows (`request.rs`), storability and freshness of a response under a
//! world rule (`policy.rs`: `CDN-Cache-Control`, `Surrogate-Control`,
//! `Age`, `Date`, `Expires`, `Last-Modified`, `Vary`), preconditions and
//! `Range` on the edge (`edge/src/conditional.rs`) and `Range` on the
//! origin (`origin/src/range.rs`).
//!
//! Properties: never a panic or overflow; lifetimes and windows stay
//! within their bounds; the origin's selected ranges are sorted, disjoint
//! and inside the representation; and, differentially, whenever the edge
//! answers one range (or 416) for a `Range` field, the origin selects
//! exactly that range (or none) for the same field.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use edge::conditional::{self, RangeAnswer};
use edge::freshness::directives::{DELTA_MAX, Delta, Directives};
use edge::freshness::policy::{age_field, targeted_directives, vary_names};
use edge::freshness::{Exchange, RequestDirectives, evaluate, reuse};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use origin::range::{self, RangeError, Selection};
use world::{CacheRule, Dur};

const NAMES: [&str; 18] = [
    "cache-control",
    "pragma",
    "cdn-cache-control",
    "surrogate-control",
    "age",
    "date",
    "expires",
    "last-modified",
    "etag",
    "vary",
    "set-cookie",
    "authorization",
    "range",
    "if-range",
    "if-none-match",
    "if-modified-since",
    "content-type",
    "x-other",
];

const DIRECTIVES: [&str; 14] = [
    "max-age",
    "s-maxage",
    "no-cache",
    "no-store",
    "private",
    "public",
    "must-revalidate",
    "proxy-revalidate",
    "stale-while-revalidate",
    "stale-if-error",
    "max-stale",
    "min-fresh",
    "only-if-cached",
    "immutable",
];

/// A Unix time near the present, so dates in the fields matter.
const T0_MS: u64 = 1_800_000_000_000;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    req: Vec<(u8, &'a [u8])>,
    resp: Vec<(u8, &'a [u8])>,
    status: u16,
    method: u8,
    /// Request sent this long after T0, response this long after that.
    sent_after_ms: u32,
    took_ms: u32,
    /// Now, relative to T0 (may be before the response).
    now_ms: i64,
    rule: Option<Rule>,
    text: &'a str,
    len: u64,
}

#[derive(Arbitrary, Debug)]
struct Rule {
    min_ttl: Option<u64>,
    default_ttl: Option<u64>,
    max_ttl: Option<u64>,
    grace: Option<u64>,
    stale_if_error: Option<u64>,
    negative_ttl: Option<u64>,
}

fn map(fields: &[(u8, &[u8])]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in fields {
        let name = HeaderName::from_static(NAMES[usize::from(*n) % NAMES.len()]);
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.append(name, v);
        }
    }
    h
}

/// A world rule as a world file can give it: any whole number of seconds.
fn rule(r: &Rule) -> CacheRule {
    let d = |s: Option<u64>| s.map(Dur::secs);
    CacheRule {
        prefix: "/".into(),
        min_ttl: d(r.min_ttl),
        default_ttl: d(r.default_ttl),
        max_ttl: d(r.max_ttl),
        grace: d(r.grace),
        stale_if_error: d(r.stale_if_error),
        negative_ttl: d(r.negative_ttl),
        min_uses: None,
        min_uses_window: None,
    }
}

fn directives(d: &Directives) {
    for name in DIRECTIVES {
        let _ = d.has(name);
        let _ = d.value(name);
        if let Some(Delta::Secs(s)) = d.delta(name) {
            assert!(s <= DELTA_MAX, "{name}={s} above 2^31");
        }
        let _ = d.optional_delta(name);
        let _ = d.field_names(name);
    }
    for (n, _) in d.iter() {
        assert!(!n.is_empty() && n.bytes().all(|b| !b.is_ascii_uppercase()), "directive name {n:?}");
    }
}

fn ranges(text: &str, len: u64, req: &HeaderMap, resp: &HeaderMap) {
    let _ = conditional::not_modified(req, resp);
    let _ = conditional::range(req, resp, len);
    let edge = conditional::parse_range(text, len);
    if let RangeAnswer::Part(a, b) = edge {
        assert!(a <= b && b < len, "edge range {a}-{b} of {len}");
    }
    let origin = range::parse(text);
    if let Ok(specs) = &origin {
        assert!(!specs.is_empty() && specs.len() <= range::MAX_RANGES);
        match range::select(specs, len) {
            Selection::Ranges(rs) => {
                assert!(!rs.is_empty());
                for w in rs.windows(2) {
                    assert!(w[0].end.saturating_add(1) < w[1].start, "ranges not sorted and apart: {rs:?}");
                }
                for r in &rs {
                    assert!(r.start <= r.end && r.end < len, "range {r:?} of {len}");
                }
                match edge {
                    RangeAnswer::Part(a, b) => assert_eq!((rs.len(), rs[0].start, rs[0].end), (1, a, b), "{text:?}"),
                    RangeAnswer::Unsatisfiable => panic!("edge 416, origin {rs:?} for {text:?} of {len}"),
                    RangeAnswer::Full => {}
                }
            }
            Selection::Unsatisfiable => {
                assert!(!matches!(edge, RangeAnswer::Part(..)), "edge {edge:?}, origin 416 for {text:?} of {len}");
            }
        }
    } else if !matches!(origin, Err(RangeError::TooMany)) {
        // The origin ignores the field: the edge must not have read a range from it either.
        assert_eq!(edge, RangeAnswer::Full, "edge {edge:?}, origin {origin:?} for {text:?}");
    }
}

fuzz_target!(|input: Input<'_>| {
    let req = map(&input.req);
    let resp = map(&input.resp);

    // Directive lists, from fields and from plain text.
    directives(&Directives::parse(resp.get_all("cache-control")));
    directives(&Directives::parse_str(input.text));
    let rd = RequestDirectives::from_headers(&req);
    let _ = age_field(&resp);
    let _ = vary_names(&resp).count();
    if let Some(d) = targeted_directives(&resp, "edge-seoul") {
        directives(&d);
    }

    // A response's evaluation, then its reuse at some later (or earlier) time.
    let t0 = UNIX_EPOCH + Duration::from_millis(T0_MS);
    let request_time = t0 + Duration::from_millis(u64::from(input.sent_after_ms));
    let response_time = request_time + Duration::from_millis(u64::from(input.took_ms));
    let status = StatusCode::from_u16(input.status).unwrap_or(StatusCode::OK);
    let method = [Method::GET, Method::HEAD, Method::POST][usize::from(input.method) % 3].clone();
    let x = Exchange {
        method: &method,
        req_headers: &req,
        status,
        resp_headers: &resp,
        request_time,
        response_time,
        surrogate_id: "edge-seoul",
    };
    let rule = input.rule.as_ref().map(rule);
    let e = evaluate(&x, rule.as_ref());
    let response_ms = response_time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    assert!(e.timing.birth_ms <= response_ms, "born after the response: {e:?}");
    let now = T0_MS.saturating_add_signed(input.now_ms);
    let _ = reuse(&e.timing, e.flags, &rd, now);
    let _ = (e.timing.is_fresh(now), e.timing.ttl_secs(now), e.timing.staleness_ms(now), e.timing.age_ms(now));
    let _: SystemTime = response_time;

    // Range and preconditions.
    ranges(input.text, input.len, &req, &resp);
});

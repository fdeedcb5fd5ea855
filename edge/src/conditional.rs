//! Client preconditions and ranges answered from a response the edge holds:
//! `If-None-Match` / `If-Modified-Since` → 304 (RFC 9110 §13), `Range` with
//! `If-Range` → 206 or 416 (RFC 9110 §14).

use http::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE};
use http::{HeaderMap, HeaderValue};

/// Whether a request's `If-None-Match`/`If-Modified-Since` are satisfied
/// by a 200 response with these headers, so the answer is 304.
pub fn not_modified(req: &HeaderMap, resp: &HeaderMap) -> bool {
    if let Some(inm) = joined(req, IF_NONE_MATCH) {
        let Some(etag) = resp.get(ETAG).and_then(|v| v.to_str().ok()) else { return false };
        return inm.trim() == "*" || list_contains_weak(&inm, etag);
    }
    // Without Last-Modified, the response's Date stands in (RFC 9110 §13.1.3).
    let modified = resp.get(LAST_MODIFIED).or_else(|| resp.get(http::header::DATE));
    let (Some(ims), Some(lm)) = (date(req.get(IF_MODIFIED_SINCE)), date(modified)) else {
        return false;
    };
    lm <= ims
}

/// Headers a 304 carries over from the 200 it stands for (RFC 9110 §15.4.5).
pub const NOT_MODIFIED_KEEP: [&str; 8] =
    ["cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified", "surrogate-key"];

/// The part of a representation a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No (usable) range: send it all.
    Full,
    /// One satisfiable range, inclusive bounds.
    Part(u64, u64),
    /// No range overlaps the representation: 416.
    Unsatisfiable,
}

/// Evaluates `Range` (and `If-Range`) against a representation of `len`
/// bytes with response headers `resp`. Several ranges are answered with the
/// whole representation, which RFC 9110 §14.2 allows.
pub fn range(req: &HeaderMap, resp: &HeaderMap, len: u64) -> RangeAnswer {
    let Some(r) = req.get(RANGE).and_then(|v| v.to_str().ok()) else { return RangeAnswer::Full };
    if let Some(ir) = req.get(IF_RANGE).and_then(|v| v.to_str().ok()) {
        let ir = ir.trim();
        let ok = if ir.starts_with('"') {
            // strong comparison only
            resp.get(ETAG).and_then(|v| v.to_str().ok()).is_some_and(|e| e.trim() == ir)
        } else if ir.starts_with("W/") {
            false
        } else {
            resp.get(LAST_MODIFIED).and_then(|v| v.to_str().ok()).is_some_and(|lm| lm.trim() == ir)
        };
        if !ok {
            return RangeAnswer::Full;
        }
    }
    parse_range(r, len)
}

/// Parses a `Range` field for a representation of `len` bytes.
pub fn parse_range(r: &str, len: u64) -> RangeAnswer {
    let Some(spec) = r.trim().strip_prefix("bytes=") else { return RangeAnswer::Full };
    let parts: Vec<&str> = spec.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return RangeAnswer::Full;
    }
    let mut ranges = Vec::new();
    for p in &parts {
        let Some((a, b)) = p.split_once('-') else { return RangeAnswer::Full };
        let (a, b) = (a.trim(), b.trim());
        let num = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
        };
        let r = if a.is_empty() {
            // suffix: last n bytes
            let Some(n) = num(b) else { return RangeAnswer::Full };
            if n == 0 || len == 0 { None } else { Some((len.saturating_sub(n), len - 1)) }
        } else {
            let Some(start) = num(a) else { return RangeAnswer::Full };
            let end = if b.is_empty() {
                len.saturating_sub(1)
            } else {
                match num(b) {
                    Some(e) if e >= start => e.min(len.saturating_sub(1)),
                    _ => return RangeAnswer::Full, // invalid: ignore the field
                }
            };
            (start < len).then_some((start, end))
        };
        if let Some(r) = r {
            ranges.push(r);
        }
    }
    match ranges.as_slice() {
        [] => RangeAnswer::Unsatisfiable,
        [(a, b)] => RangeAnswer::Part(*a, *b),
        _ => RangeAnswer::Full,
    }
}

fn joined(h: &HeaderMap, name: http::HeaderName) -> Option<String> {
    let v: Vec<&str> = h.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    (!v.is_empty()).then(|| v.join(","))
}

/// Weak comparison of an entity-tag against a list (RFC 9110 §8.8.3.2).
fn list_contains_weak(list: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = opaque(etag);
    split_etags(list).into_iter().any(|t| opaque(t) == want)
}

/// Splits an entity-tag list, respecting commas inside quotes.
fn split_etags(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in list.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(list[start..].trim());
    out.retain(|t| !t.is_empty());
    out
}

fn date(v: Option<&HeaderValue>) -> Option<std::time::SystemTime> {
    httpdate::parse_http_date(v?.to_str().ok()?.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::headers::map_of as h;

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        let resp = h(&[("etag", "\"v1\"")]);
        assert!(not_modified(&h(&[("if-none-match", "W/\"v1\"")]), &resp));
        assert!(not_modified(&h(&[("if-none-match", "\"x\", \"v1\"")]), &resp));
        assert!(not_modified(&h(&[("if-none-match", "*")]), &resp));
        assert!(!not_modified(&h(&[("if-none-match", "\"v2\"")]), &resp));
        assert!(!not_modified(&h(&[("if-none-match", "\"v1\"")]), &HeaderMap::new()));
    }

    #[test]
    fn if_modified_since_only_without_if_none_match() {
        let resp = h(&[("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"), ("etag", "\"a\"")]);
        assert!(not_modified(&h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]), &resp));
        assert!(!not_modified(&h(&[("if-modified-since", "Sat, 05 Nov 1994 08:49:37 GMT")]), &resp));
        let both = h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"), ("if-none-match", "\"b\"")]);
        assert!(!not_modified(&both, &resp));
        let dated = h(&[("date", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert!(not_modified(&h(&[("if-modified-since", "Sun, 06 Nov 1994 09:00:00 GMT")]), &dated));
    }

    #[test]
    fn ranges_single_suffix_open_and_unsatisfiable() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAnswer::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), RangeAnswer::Part(0, 99));
        assert_eq!(parse_range("bytes=50-500", 100), RangeAnswer::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAnswer::Full);
        assert_eq!(parse_range("bytes=5-1", 100), RangeAnswer::Full);
        assert_eq!(parse_range("items=0-1", 100), RangeAnswer::Full);
        assert_eq!(parse_range("bytes=x-1", 100), RangeAnswer::Full);
    }

    #[test]
    fn if_range_mismatch_sends_everything() {
        let resp = h(&[("etag", "\"v1\""), ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        let ok = h(&[("range", "bytes=0-0"), ("if-range", "\"v1\"")]);
        let stale = h(&[("range", "bytes=0-0"), ("if-range", "\"v0\"")]);
        let weak = h(&[("range", "bytes=0-0"), ("if-range", "W/\"v1\"")]);
        let date = h(&[("range", "bytes=0-0"), ("if-range", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert_eq!(range(&ok, &resp, 10), RangeAnswer::Part(0, 0));
        assert_eq!(range(&stale, &resp, 10), RangeAnswer::Full);
        assert_eq!(range(&weak, &resp, 10), RangeAnswer::Full);
        assert_eq!(range(&date, &resp, 10), RangeAnswer::Part(0, 0));
    }
}

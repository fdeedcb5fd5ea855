//! Conditional requests (RFC 9110 §13): `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since`, evaluated in the order of §13.2.2,
//! and `If-Range` (§13.1.5).
//!
//! Dates compare in whole seconds, the resolution of `Last-Modified`.

use http::{HeaderMap, Method, header};

/// The validators of the selected representation.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The strong entity tag, quotes included (`"o7-v1-…"`).
    pub etag: &'a str,
    /// `Last-Modified`, Unix seconds.
    pub last_modified: u64,
}

/// The outcome of evaluating the preconditions of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Go on: answer the request normally.
    Proceed,
    /// 304 Not Modified (GET and HEAD only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions of a request against the representation.
pub fn evaluate(method: &Method, headers: &HeaderMap, v: Validators<'_>) -> Precondition {
    let safe = method == Method::GET || method == Method::HEAD;
    // Step 1 and 2: If-Match, else If-Unmodified-Since.
    if let Some(list) = joined(headers, &header::IF_MATCH) {
        if !matches(&list, v.etag, Compare::Strong) {
            return Precondition::Failed;
        }
    } else if let Some(since) = date(headers, &header::IF_UNMODIFIED_SINCE)
        && v.last_modified > since
    {
        return Precondition::Failed;
    }
    // Step 3 and 4: If-None-Match, else If-Modified-Since (GET/HEAD only).
    if let Some(list) = joined(headers, &header::IF_NONE_MATCH) {
        if matches(&list, v.etag, Compare::Weak) {
            return if safe { Precondition::NotModified } else { Precondition::Failed };
        }
    } else if safe
        && let Some(since) = date(headers, &header::IF_MODIFIED_SINCE)
        && v.last_modified <= since
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// Whether a `Range` header may be honoured: true without `If-Range`, or
/// when `If-Range` holds the current strong ETag or exactly the
/// `Last-Modified` date. Otherwise the whole representation is sent.
pub fn if_range_allows(headers: &HeaderMap, v: Validators<'_>) -> bool {
    let Some(value) = headers.get(header::IF_RANGE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return matches(value, v.etag, Compare::Strong);
    }
    httpdate::parse_http_date(value).ok().and_then(unix_secs).is_some_and(|d| d == v.last_modified)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    Strong,
    Weak,
}

/// All values of a list header, joined with commas; `None` when absent.
fn joined(headers: &HeaderMap, name: &header::HeaderName) -> Option<String> {
    let mut out: Option<String> = None;
    for v in headers.get_all(name) {
        // A value that is not visible ASCII cannot match; keep it as garbage.
        let s = v.to_str().unwrap_or("\u{1}");
        match &mut out {
            Some(o) => {
                o.push(',');
                o.push_str(s);
            }
            None => out = Some(s.to_string()),
        }
    }
    out
}

/// Whether an `If-Match`/`If-None-Match` list matches `current` (a strong
/// tag, quotes included). `*` matches any current representation. A list
/// that does not parse matches nothing.
fn matches(list: &str, current: &str, cmp: Compare) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let Some(tags) = parse_etags(list) else {
        return false;
    };
    tags.iter().any(|(weak, opaque)| (cmp == Compare::Weak || !weak) && *opaque == current)
}

/// Parses `1#entity-tag` into (weak, opaque-tag-with-quotes) pairs.
fn parse_etags(list: &str) -> Option<Vec<(bool, &str)>> {
    let mut out = Vec::new();
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, tail) = match rest.strip_prefix("W/") {
            Some(t) => (true, t),
            None => (false, rest),
        };
        let inner = tail.strip_prefix('"')?;
        let close = inner.find('"')?;
        let opaque = &tail[..close + 2];
        if !inner[..close].bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80) {
            return None;
        }
        out.push((weak, opaque));
        rest = &tail[close + 2..];
        let next = rest.trim_start_matches([' ', '\t']);
        if !(next.is_empty() || next.starts_with(',')) {
            return None;
        }
        rest = next;
    }
    if out.is_empty() { None } else { Some(out) }
}

/// An HTTP-date header in Unix seconds; `None` when absent or invalid
/// (an invalid date is ignored, RFC 9110 §13.1.3).
fn date(headers: &HeaderMap, name: &header::HeaderName) -> Option<u64> {
    let v = headers.get(name)?.to_str().ok()?;
    unix_secs(httpdate::parse_http_date(v.trim()).ok()?)
}

fn unix_secs(t: std::time::SystemTime) -> Option<u64> {
    t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const ETAG: &str = "\"o7-v2-abcd0123\"";
    // Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT
    const LM: u64 = 784_111_777;
    const V: Validators<'static> = Validators { etag: ETAG, last_modified: LM };

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        m
    }

    fn get(pairs: &[(&str, &str)]) -> Precondition {
        evaluate(&Method::GET, &h(pairs), V)
    }

    #[test]
    fn no_conditions_proceed() {
        assert_eq!(get(&[]), Precondition::Proceed);
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_star() {
        assert_eq!(get(&[("if-none-match", ETAG)]), Precondition::NotModified);
        assert_eq!(get(&[("if-none-match", "W/\"o7-v2-abcd0123\"")]), Precondition::NotModified);
        assert_eq!(get(&[("if-none-match", "\"x\", \"o7-v2-abcd0123\"")]), Precondition::NotModified);
        assert_eq!(get(&[("if-none-match", "\"x\""), ("if-none-match", ETAG)]), Precondition::NotModified);
        assert_eq!(get(&[("if-none-match", "*")]), Precondition::NotModified);
        assert_eq!(get(&[("if-none-match", "\"o7-v1-abcd0123\"")]), Precondition::Proceed);
        assert_eq!(get(&[("if-none-match", "garbage")]), Precondition::Proceed);
        // Unsafe methods get 412 instead of 304.
        assert_eq!(evaluate(&Method::PUT, &h(&[("if-none-match", "*")]), V), Precondition::Failed);
    }

    #[test]
    fn if_modified_since_applies_only_without_if_none_match() {
        assert_eq!(get(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]), Precondition::NotModified);
        assert_eq!(get(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:36 GMT")]), Precondition::Proceed);
        assert_eq!(get(&[("if-modified-since", "Sunday, 06-Nov-94 08:49:37 GMT")]), Precondition::NotModified);
        assert_eq!(get(&[("if-modified-since", "not a date")]), Precondition::Proceed);
        // A non-matching If-None-Match wins over a matching date.
        assert_eq!(
            get(&[("if-none-match", "\"old\""), ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            Precondition::Proceed
        );
        // Only GET and HEAD.
        assert_eq!(
            evaluate(&Method::POST, &h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]), V),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_match_needs_a_strong_match() {
        assert_eq!(get(&[("if-match", ETAG)]), Precondition::Proceed);
        assert_eq!(get(&[("if-match", "*")]), Precondition::Proceed);
        assert_eq!(get(&[("if-match", "W/\"o7-v2-abcd0123\"")]), Precondition::Failed);
        assert_eq!(get(&[("if-match", "\"other\"")]), Precondition::Failed);
        assert_eq!(get(&[("if-match", "\"unterminated")]), Precondition::Failed);
    }

    #[test]
    fn if_unmodified_since_fails_when_modified_later() {
        assert_eq!(get(&[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:36 GMT")]), Precondition::Failed);
        assert_eq!(get(&[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]), Precondition::Proceed);
        // Ignored when If-Match is present.
        assert_eq!(
            get(&[("if-match", ETAG), ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:36 GMT")]),
            Precondition::Proceed
        );
        assert_eq!(get(&[("if-unmodified-since", "yesterday")]), Precondition::Proceed);
    }

    #[test]
    fn if_match_failure_comes_before_not_modified() {
        assert_eq!(get(&[("if-match", "\"other\""), ("if-none-match", ETAG)]), Precondition::Failed);
    }

    #[test]
    fn if_range_takes_a_strong_etag_or_the_exact_date() {
        assert!(if_range_allows(&h(&[]), V));
        assert!(if_range_allows(&h(&[("if-range", ETAG)]), V));
        assert!(!if_range_allows(&h(&[("if-range", "\"o7-v1-abcd0123\"")]), V));
        assert!(!if_range_allows(&h(&[("if-range", "W/\"o7-v2-abcd0123\"")]), V));
        assert!(if_range_allows(&h(&[("if-range", "Sun, 06 Nov 1994 08:49:37 GMT")]), V));
        assert!(!if_range_allows(&h(&[("if-range", "Sun, 06 Nov 1994 08:49:38 GMT")]), V));
        assert!(!if_range_allows(&h(&[("if-range", "soon")]), V));
    }

    #[test]
    fn etag_lists_parse_with_commas_inside_tags() {
        assert_eq!(parse_etags("\"a,b\", W/\"c\"").unwrap(), vec![(false, "\"a,b\""), (true, "\"c\"")]);
        assert!(parse_etags("\"a\" \"b\"").is_none());
        assert!(parse_etags("").is_none());
    }
}

//! Header rewriting between client, edge and origin: hop-by-hop fields
//! (RFC 9110 §7.6.1, and any named in `Connection`) never cross the edge;
//! `Via` is added both ways; `Surrogate-Control` is for the edge only; a
//! 304 refreshes stored fields except those describing the stored body
//! (RFC 9111 §3.2).
//!
//! What the origin is sent is built in one place, [`to_origin`], and the
//! cache selects variants from exactly that map (never from the client's):
//! the client's framing (`Content-Length`, `Transfer-Encoding`) is never
//! forwarded (hyper frames what the edge actually sends), `Host` is the
//! host configured for the origin, and fields only a proxy may set
//! (`Forwarded`, `X-Forwarded-Host`, …) are dropped, since the edge is the
//! first proxy.

use std::net::IpAddr;

use http::header::{
    AGE, CONNECTION, CONTENT_LENGTH, DATE, EXPECT, HOST, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, RANGE, TE, TRAILER, TRANSFER_ENCODING, UPGRADE, VIA,
};
use http::{HeaderMap, HeaderName, HeaderValue};

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// `X-Forwarded-For`.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `Cache-Status`.
pub const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
/// `CDN-Purge-Seq`: the world purge sequence a lower tier has applied,
/// on its fills to an upper tier only, never from or to a client
/// ([`crate::purge::order`]).
pub const PURGE_SEQ: HeaderName = HeaderName::from_static("cdn-purge-seq");

/// Marks a peer fill inside a PoP ([`crate::cluster`]), so a node of a
/// shield PoP tells another node's request (fill it here, never pass it
/// on) from a lower tier's (ask the key's owner first). Like
/// `CDN-Purge-Seq`, between tiers only: dropped from what goes upstream.
pub const PEER_FILL: HeaderName = HeaderName::from_static("cdn-peer-fill");
/// `Surrogate-Capability`: how the edge announces itself to the origin.
pub const SURROGATE_CAPABILITY: HeaderName = HeaderName::from_static("surrogate-capability");

/// How this edge names itself, and its origin, on requests it forwards.
#[derive(Debug, Clone)]
pub struct Hop {
    /// `Via` value (`1.1 edge-seoul (cdnlab)`).
    pub via: HeaderValue,
    /// `Surrogate-Capability` value (`edge-seoul="Surrogate/1.0"`).
    pub capability: HeaderValue,
    /// `Host` sent to the origin: the one configured for it, whatever the
    /// client sent.
    pub origin_host: HeaderValue,
}

impl Hop {
    /// The hop names of cache `label` in front of an origin called `origin_host`.
    pub fn new(label: &str, origin_host: HeaderValue) -> Hop {
        let v =
            |s: String, fallback: &'static str| HeaderValue::try_from(s).unwrap_or(HeaderValue::from_static(fallback));
        Hop {
            via: v(format!("1.1 {label} (cdnlab)"), "1.1 cdnlab"),
            capability: v(format!("{label}=\"Surrogate/1.0\""), "cdnlab=\"Surrogate/1.0\""),
            origin_host,
        }
    }
}

/// Request fields only a proxy may set, to tell the origin about the
/// client's request (its host, scheme, port, original URL). The edge is
/// the first proxy, so a client's own are dropped: origins build links and
/// redirects from them, and the cache does not key on them.
const PROXY_ONLY: [&str; 11] = [
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-prefix",
    "x-forwarded-scheme",
    "x-original-url",
    "x-rewrite-url",
    "x-original-host",
    "x-host",
];

/// Fields that make some frameworks treat a request as another method: a
/// fill is a GET at the origin, whatever a client says.
const METHOD_OVERRIDES: [&str; 3] = ["x-http-method-override", "x-http-method", "x-method-override"];

/// Whether `name` spells a field the edge removes (framing, hop-by-hop,
/// `Host`, proxy-only) with `_` for `-`: servers that map both to the
/// same variable (CGI, WSGI, Rack) must not receive them in disguise.
fn disguised(name: &HeaderName) -> bool {
    let n = name.as_str();
    if !n.contains('_') {
        return false;
    }
    let dashed = n.replace('_', "-");
    ["content-length", "transfer-encoding", "host", "connection", "te", "trailer", "upgrade", "keep-alive", "expect"]
        .iter()
        .chain(PROXY_ONLY.iter())
        .chain(METHOD_OVERRIDES.iter())
        .any(|x| *x == dashed)
}

/// Removes hop-by-hop fields, including those `Connection` names.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    let listed: Vec<HeaderName> = h
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in listed {
        h.remove(n);
    }
    for n in [
        CONNECTION,
        KEEP_ALIVE,
        PROXY_CONNECTION,
        PROXY_AUTHENTICATE,
        PROXY_AUTHORIZATION,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ] {
        h.remove(n);
    }
}

/// Appends `value` to `Via`.
pub fn add_via(h: &mut HeaderMap, via: &HeaderValue) {
    h.append(VIA, via.clone());
}

/// Headers for a request to the origin: the client's end-to-end fields
/// (without its framing, `Host`, `Expect`, fields only a proxy sets, or
/// `CDN-Purge-Seq`, which only a fill to a shield carries, set by the
/// edge: [`crate::purge::order`]),
/// plus `Host` (the origin's configured one), `Via`, `X-Forwarded-For` and
/// `Surrogate-Capability`. With `for_fill`, the client's own preconditions
/// and range go away (the edge fetches whole responses to store them), and
/// so do method overrides. A body the edge forwards is framed by the
/// caller ([`crate::fetch`]'s `pass`), from the body itself.
pub fn to_origin(client: &HeaderMap, peer: IpAddr, me: &Hop, for_fill: bool) -> HeaderMap {
    let mut h = client.clone();
    strip_hop_by_hop(&mut h);
    for n in [CONTENT_LENGTH, HOST, EXPECT, PURGE_SEQ, PEER_FILL] {
        h.remove(n);
    }
    for n in PROXY_ONLY {
        h.remove(n);
    }
    if for_fill {
        for n in [IF_NONE_MATCH, IF_MODIFIED_SINCE, IF_MATCH, IF_UNMODIFIED_SINCE, RANGE, IF_RANGE] {
            h.remove(n);
        }
        for n in METHOD_OVERRIDES {
            h.remove(n);
        }
    }
    if h.keys().any(disguised) {
        let names: Vec<HeaderName> = h.keys().filter(|n| disguised(n)).cloned().collect();
        for n in names {
            h.remove(n);
        }
    }
    h.insert(HOST, me.origin_host.clone());
    add_via(&mut h, &me.via);
    h.append(SURROGATE_CAPABILITY, me.capability.clone());
    let xff = match h.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {peer}"),
        None => peer.to_string(),
    };
    if let Ok(v) = HeaderValue::try_from(xff) {
        h.insert(X_FORWARDED_FOR, v);
    }
    h
}

/// Response fields meant for the edge alone: removed before a response
/// reaches a client (as Fastly and Cloudflare do), kept in the entry's tags.
pub const EDGE_ONLY: [&str; 3] = ["surrogate-control", "surrogate-key", "cache-tag"];

/// Response headers as the edge passes them on: hop-by-hop and edge-only
/// fields (`Surrogate-Control`, `Surrogate-Key`, `Cache-Tag`) removed, `Age` dropped (the edge sets its own),
/// `Via` added, and a `Date` (IMF-fixdate, from the edge's clock) when the
/// origin sent none.
pub fn to_client(mut h: HeaderMap, via: &HeaderValue, date: impl FnOnce() -> HeaderValue) -> HeaderMap {
    strip_hop_by_hop(&mut h);
    for n in EDGE_ONLY {
        h.remove(n);
    }
    h.remove(AGE);
    add_via(&mut h, via);
    if !h.contains_key(DATE) {
        h.insert(DATE, date());
    }
    h
}

/// Fields a 304 must not change: they describe the stored body, which the
/// 304 does not carry (RFC 9111 §3.2), or the edge sets them itself.
const NOT_UPDATED_BY_304: [&str; 8] =
    ["content-length", "content-range", "content-encoding", "content-md5", "etag", "age", "via", "transfer-encoding"];

/// A stored response's headers refreshed by a 304 (RFC 9111 §3.2): every
/// field in the 304 replaces the stored one, except hop-by-hop fields and
/// those that describe the stored body.
pub fn merge_304(stored: &HeaderMap, fresh: &HeaderMap) -> HeaderMap {
    let mut fresh = fresh.clone();
    strip_hop_by_hop(&mut fresh);
    for n in EDGE_ONLY {
        fresh.remove(n);
    }
    let mut out = stored.clone();
    for name in fresh.keys() {
        if NOT_UPDATED_BY_304.contains(&name.as_str()) {
            continue;
        }
        out.remove(name);
        for v in fresh.get_all(name) {
            out.append(name.clone(), v.clone());
        }
    }
    out
}

/// A header map from static name/value pairs (tests).
#[cfg(test)]
pub(crate) fn map_of(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        m.append(*n, http::HeaderValue::from_static(v));
    }
    m
}

/// Surrogate keys: `Surrogate-Key` (space separated) and `Cache-Tag`
/// (comma separated), deduplicated.
pub fn tags_of(h: &HeaderMap) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let sk = h.get_all("surrogate-key").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split_whitespace());
    let ct = h.get_all("cache-tag").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    for t in sk.chain(ct).map(str::trim).filter(|t| !t.is_empty()) {
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_string());
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::map_of as h;

    fn hop() -> Hop {
        Hop::new("edge-x", HeaderValue::from_static("origin.example:8080"))
    }

    #[test]
    fn connection_listed_and_hop_by_hop_fields_are_removed() {
        let mut m = h(&[("connection", "x-secret, close"), ("x-secret", "1"), ("keep-alive", "5"), ("x-ok", "1")]);
        strip_hop_by_hop(&mut m);
        assert!(m.get("x-secret").is_none() && m.get("keep-alive").is_none() && m.get("connection").is_none());
        assert_eq!(m.get("x-ok").unwrap(), "1");
    }

    #[test]
    fn fills_drop_client_preconditions_and_add_forwarding_fields() {
        let c = h(&[("if-none-match", "\"a\""), ("range", "bytes=0-1"), ("accept", "*/*")]);
        let o = to_origin(&c, "127.1.0.9".parse().unwrap(), &hop(), true);
        assert_eq!(o.get("surrogate-capability").unwrap(), "edge-x=\"Surrogate/1.0\"");
        assert!(o.get("if-none-match").is_none() && o.get("range").is_none());
        assert_eq!(o.get("x-forwarded-for").unwrap(), "127.1.0.9");
        assert_eq!(o.get("via").unwrap(), "1.1 edge-x (cdnlab)");
        assert_eq!(o.get("accept").unwrap(), "*/*");
    }

    #[test]
    fn the_origin_gets_its_own_host_and_never_the_clients_framing_or_proxy_fields() {
        let c = h(&[
            ("host", "evil.example"),
            ("content-length", "5"),
            ("transfer-encoding", "chunked"),
            ("content_length", "7"),
            ("transfer_encoding", "chunked"),
            ("x_forwarded_host", "evil.example"),
            ("x-forwarded-host", "evil.example"),
            ("forwarded", "host=evil.example"),
            ("x-http-method-override", "DELETE"),
            ("expect", "100-continue"),
            ("x_custom", "kept"),
            ("connection", "x-lang"),
            ("x-lang", "fr"),
        ]);
        let o = to_origin(&c, "127.1.0.9".parse().unwrap(), &hop(), true);
        assert_eq!(o.get_all("host").iter().collect::<Vec<_>>(), ["origin.example:8080"]);
        for gone in [
            "content-length",
            "transfer-encoding",
            "content_length",
            "transfer_encoding",
            "x_forwarded_host",
            "x-forwarded-host",
            "forwarded",
            "x-http-method-override",
            "expect",
            "connection",
            "x-lang",
        ] {
            assert!(o.get(gone).is_none(), "{gone} is not forwarded");
        }
        assert_eq!(o.get("x_custom").unwrap(), "kept");
        let pass = to_origin(&c, "127.1.0.9".parse().unwrap(), &hop(), false);
        assert_eq!(pass.get("x-http-method-override").unwrap(), "DELETE", "a pass-through keeps its method fields");
        assert!(pass.get("content-length").is_none() && pass.get("host").unwrap() == "origin.example:8080");
    }

    #[test]
    fn a_304_refreshes_fields_but_not_the_body_description() {
        let stored = h(&[("content-length", "10"), ("cache-control", "max-age=1"), ("x-a", "old"), ("etag", "\"v\"")]);
        let fresh = h(&[
            ("content-length", "0"),
            ("cache-control", "max-age=60"),
            ("x-a", "new"),
            ("x-b", "b"),
            ("etag", "\"w\""),
            ("content-md5", "x"),
        ]);
        let m = merge_304(&stored, &fresh);
        assert!(m.get("content-md5").is_none());
        assert_eq!(m.get("content-length").unwrap(), "10");
        assert_eq!(m.get("cache-control").unwrap(), "max-age=60");
        assert_eq!(m.get("x-a").unwrap(), "new");
        assert_eq!(m.get("x-b").unwrap(), "b");
        assert_eq!(m.get("etag").unwrap(), "\"v\"");
    }

    #[test]
    fn surrogate_fields_and_age_stay_at_the_edge() {
        let m = to_client(
            h(&[("surrogate-control", "max-age=60"), ("age", "5"), ("surrogate-key", "a b"), ("cache-tag", "c")]),
            &HeaderValue::from_static("1.1 e"),
            || HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert!(m.get("surrogate-control").is_none() && m.get("age").is_none());
        assert!(m.get("surrogate-key").is_none() && m.get("cache-tag").is_none());
        assert!(m.get("date").is_some());
    }
}

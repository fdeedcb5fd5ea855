//! The origin an edge fronts, as a command line or a world file names it,
//! checked the same way by the servers and the `cdn` CLI (which refuses a
//! bad `--origin` before it starts anything): its URL (`http://`, a
//! loopback address: cdnlab talks to nothing else) and the `Host` value it
//! is sent (the `Host` rule itself: [`crate::bounds::valid_host`]). Also
//! the RFC 3986 byte classes the edge's cache keys are built from.

use std::net::SocketAddr;

/// The unreserved and sub-delim bytes of RFC 3986.
pub const UNRESERVED_AND_SUB_DELIMS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=";

/// A lookup table of the bytes in `a` and `b`.
pub const fn byte_set(a: &[u8], b: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < a.len() {
        t[a[i] as usize] = true;
        i += 1;
    }
    let mut i = 0;
    while i < b.len() {
        t[b[i] as usize] = true;
        i += 1;
    }
    t
}

/// Why an origin URL or host is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// The origin URL is not usable.
    #[error("--origin {0}: {1}")]
    Url(String, String),
    /// The origin host is not a `Host` value (why, naming it).
    #[error("{0}")]
    Host(String),
}

/// `host` if it is a usable `Host` value for the origin
/// ([`crate::bounds::check_origin_host`]).
pub fn checked_host(host: String) -> Result<String, OriginError> {
    match crate::bounds::check_origin_host(&host) {
        Ok(()) => Ok(host),
        Err(m) => Err(OriginError::Host(format!("origin host `{host}`: {m}"))),
    }
}

/// The authority of an origin URL as written (`http://localhost:3000/x` →
/// `localhost:3000`): the default `Host` for that origin.
pub fn origin_url_authority(url: &str) -> &str {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Parses `http://127.0.0.1:9000` (loopback IP literal or `localhost`).
pub fn parse_origin_url(url: &str) -> Result<SocketAddr, OriginError> {
    let bad = |why: &str| OriginError::Url(url.into(), why.into());
    let rest = url.strip_prefix("http://").ok_or_else(|| bad("must start with http://"))?;
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.replacen("localhost", "127.0.0.1", 1);
    let with_port = if authority.starts_with('[') {
        if authority.contains("]:") { authority } else { format!("{authority}:80") }
    } else if authority.contains(':') {
        authority
    } else {
        format!("{authority}:80")
    };
    let addr: SocketAddr =
        with_port.parse().map_err(|_| bad("needs an IP address and port, e.g. http://127.0.0.1:9000"))?;
    if !addr.ip().is_loopback() {
        return Err(bad("cdnlab only talks to loopback (127.0.0.0/8, ::1)"));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_urls_are_loopback_http_with_a_port() {
        assert_eq!(parse_origin_url("http://127.0.0.1:9000/x"), Ok("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(parse_origin_url("http://localhost"), Ok("127.0.0.1:80".parse().unwrap()));
        assert_eq!(parse_origin_url("http://[::1]"), Ok("[::1]:80".parse().unwrap()));
        let e = parse_origin_url("https://127.0.0.1:9000").unwrap_err().to_string();
        assert_eq!(e, "--origin https://127.0.0.1:9000: must start with http://");
        assert!(parse_origin_url("http://192.0.2.1:80").unwrap_err().to_string().contains("only talks to loopback"));
        assert_eq!(origin_url_authority("http://localhost:3000/x?y"), "localhost:3000");
        assert_eq!(checked_host("cdn.test:80".into()), Ok("cdn.test:80".into()));
        assert!(checked_host("a b".into()).unwrap_err().to_string().starts_with("origin host `a b`: must be"));
        assert!(checked_host(String::new()).is_err());
    }
}

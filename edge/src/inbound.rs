//! Client requests at the door: the checks every request passes before the
//! edge looks anything up, on both paths of the public listener (the raw
//! hit path in [`crate::conn`] hands anything doubtful to hyper, whose
//! service applies [`check`] first).
//!
//! - `Host` (RFC 9112 §3.2): an HTTP/1.1 request without one, any request
//!   with two, or one whose value is not `host[:port]` gets 400. The value
//!   is not used otherwise: the origin is sent the host configured for it
//!   ([`crate::headers::to_origin`]).
//! - A GET or HEAD whose framing announces content (`Content-Length` above
//!   0, any `Transfer-Encoding`) gets 400 and the connection is closed
//!   (RFC 9110 §9.3.1 allows rejecting it: content on a GET has no
//!   meaning, and is the classic vehicle of request smuggling). The body
//!   is never forwarded, so neither is its framing; a front proxy that
//!   disagrees with the edge about where such a request ends sees a
//!   closed connection, not a second request. `Content-Length: 0` is
//!   accepted (and not forwarded).
//! - `CONNECT` gets 405: the edge is not a tunnel.
//!
//! Every refusal closes the connection.

use http::header::{CONNECTION, HOST};
use http::{HeaderValue, Method, Request, StatusCode, Version};

/// Why a request is refused before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// HTTP/1.1 without `Host`.
    #[error("an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)")]
    NoHost,
    /// More than one `Host`.
    #[error("more than one Host header (RFC 9112 §3.2)")]
    ManyHosts,
    /// A `Host` value that is not `host[:port]`.
    #[error("the Host header is not host[:port]")]
    BadHost,
    /// Content on a GET or HEAD.
    #[error("a GET or HEAD request must not have content (Content-Length above 0 or Transfer-Encoding)")]
    BodyOnGet,
    /// `CONNECT`.
    #[error("CONNECT is not supported: this is a cache, not a tunnel")]
    Connect,
}

impl Refusal {
    /// The status the client gets.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Connect => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The `Connection: close` every refusal carries.
pub const CLOSE: (http::HeaderName, HeaderValue) = (CONNECTION, HeaderValue::from_static("close"));

/// Checks a request as parsed by hyper (which has already refused bad
/// framing: conflicting lengths, a `Transfer-Encoding` not ending in
/// `chunked`, obs-fold, …).
#[inline]
pub fn check<B: http_body::Body>(req: &Request<B>) -> Result<(), Refusal> {
    let mut hosts = req.headers().get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if req.version() >= Version::HTTP_11 => return Err(Refusal::NoHost),
        (None, _) => {}
        (Some(_), Some(_)) => return Err(Refusal::ManyHosts),
        (Some(h), None) if !valid_host(h.as_bytes()) => return Err(Refusal::BadHost),
        (Some(_), None) => {}
    }
    match *req.method() {
        Method::GET | Method::HEAD if !req.body().is_end_stream() => Err(Refusal::BodyOnGet),
        Method::CONNECT => Err(Refusal::Connect),
        _ => Ok(()),
    }
}

/// Whether `v` is a plausible `Host` value (`host[:port]`, empty allowed):
/// the world's rule, the one worlds and flags check their origin's `Host`
/// with too.
pub use world::bounds::valid_host;

#[cfg(test)]
mod tests {
    use super::*;

    fn req(
        method: &str,
        version: Version,
        hosts: &[&str],
        body: &'static str,
    ) -> Request<http_body_util::Full<bytes::Bytes>> {
        let mut b = Request::builder().method(method).uri("/a").version(version);
        for h in hosts {
            b = b.header(HOST, *h);
        }
        b.body(http_body_util::Full::new(bytes::Bytes::from_static(body.as_bytes()))).unwrap()
    }

    #[test]
    fn host_rules_of_rfc_9112() {
        use Version as V;
        assert_eq!(check(&req("GET", V::HTTP_11, &["a.example"], "")), Ok(()));
        assert_eq!(check(&req("GET", V::HTTP_11, &["127.0.0.1:8080"], "")), Ok(()));
        assert_eq!(check(&req("GET", V::HTTP_11, &["[::1]:80"], "")), Ok(()));
        assert_eq!(check(&req("GET", V::HTTP_11, &[], "")), Err(Refusal::NoHost));
        assert_eq!(check(&req("GET", V::HTTP_10, &[], "")), Ok(()), "HTTP/1.0 may omit Host");
        assert_eq!(check(&req("GET", V::HTTP_11, &["a", "b"], "")), Err(Refusal::ManyHosts));
        assert_eq!(check(&req("GET", V::HTTP_10, &["a", "a"], "")), Err(Refusal::ManyHosts));
        for bad in ["user@a", "a/b", "a b", "a?x", "é.example"] {
            assert_eq!(check(&req("GET", V::HTTP_11, &[bad], "")), Err(Refusal::BadHost), "{bad}");
        }
    }

    #[test]
    fn get_and_head_with_content_and_connect_are_refused() {
        let v = Version::HTTP_11;
        assert_eq!(check(&req("GET", v, &["a"], "x")), Err(Refusal::BodyOnGet));
        assert_eq!(check(&req("HEAD", v, &["a"], "x")), Err(Refusal::BodyOnGet));
        assert_eq!(check(&req("POST", v, &["a"], "x")), Ok(()));
        assert_eq!(check(&req("CONNECT", v, &["a"], "")), Err(Refusal::Connect));
        assert_eq!(Refusal::Connect.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}

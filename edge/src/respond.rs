//! Building responses from what the edge holds: `Age` on every response,
//! client preconditions answered with 304, ranges with 206/416, `HEAD`
//! without a body, and the edge's own error responses. (`Cache-Status` is
//! set from the request's outcome, where the request path returns it:
//! `crate::proxy::Served`.)

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{AGE, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, DATE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, request};

use crate::body::Body;
use crate::conditional::{self, NOT_MODIFIED_KEEP, RangeAnswer};
use crate::entry::StoredEntry;
use crate::headers::add_via;

/// A representation to send: status, headers, body.
#[derive(Clone)]
pub struct Rep<'a> {
    /// Status.
    pub status: StatusCode,
    /// Headers (a stored response's are built from its head, owned).
    pub headers: Cow<'a, HeaderMap>,
    /// Body.
    pub body: &'a Bytes,
}

impl<'a> Rep<'a> {
    /// A stored response.
    pub fn of(e: &'a StoredEntry) -> Self {
        Rep { status: e.status, headers: Cow::Owned(e.headers()), body: &e.body }
    }
}

/// How one edge answers: its name in `Cache-Status`, its `Via`, and the
/// clock its error responses are dated by. Every response the edge builds
/// from a representation, and every error of its own, is made here.
#[derive(Debug, Clone)]
pub struct Responder {
    /// `edge-{name}`: this cache's name in `Cache-Status` and `Via`.
    pub label: String,
    /// The `Via` value this edge adds.
    pub via: HeaderValue,
    /// The clock (`Date` of the edge's own responses).
    pub clock: world::Clock,
}

impl Responder {
    /// A response from a stored or fetched representation. `age` is set as
    /// `Age` when given.
    pub fn respond(&self, req: &request::Parts, rep: Rep<'_>, age: Option<u64>) -> Response<Body> {
        let Rep { status, headers, body } = rep;
        let (method, req) = (&req.method, &req.headers);
        let mut h = headers.into_owned();
        if let Some(a) = age {
            h.insert(AGE, crate::cache_status::age_value(a));
        }
        let head = *method == Method::HEAD;
        let mut out_status = status;
        let mut out_body = if head { Body::Empty } else { Body::full(body.clone()) };
        if status == StatusCode::OK && (head || *method == Method::GET) {
            if conditional::not_modified(req, &h) {
                return not_modified(&h);
            }
            match conditional::range(req, &h, body.len() as u64) {
                RangeAnswer::Full => {}
                RangeAnswer::Part(a, b) => {
                    out_status = StatusCode::PARTIAL_CONTENT;
                    let len = body.len();
                    h.insert(
                        CONTENT_RANGE,
                        HeaderValue::try_from(format!("bytes {a}-{b}/{len}")).unwrap_or(HeaderValue::from_static("")),
                    );
                    h.insert(CONTENT_LENGTH, HeaderValue::from(b - a + 1));
                    if !head {
                        out_body = Body::full(body.slice(a as usize..=b as usize));
                    }
                }
                RangeAnswer::Unsatisfiable => {
                    out_status = StatusCode::RANGE_NOT_SATISFIABLE;
                    h.insert(
                        CONTENT_RANGE,
                        HeaderValue::try_from(format!("bytes */{}", body.len()))
                            .unwrap_or(HeaderValue::from_static("")),
                    );
                    h.insert(CONTENT_LENGTH, HeaderValue::from(0));
                    out_body = Body::Empty;
                }
            }
        }
        let mut r = Response::new(out_body);
        *r.status_mut() = out_status;
        *r.headers_mut() = h;
        r
    }

    /// A response whose body is still arriving (a streamed miss,
    /// [`crate::growing`]): as [`Responder::respond`], except for ranges,
    /// which the caller cuts from the whole body instead.
    pub fn respond_stream(
        &self,
        req: &request::Parts,
        status: StatusCode,
        headers: &HeaderMap,
        body: Body,
        age: Option<u64>,
    ) -> Response<Body> {
        let mut h = headers.clone();
        if let Some(a) = age {
            h.insert(AGE, crate::cache_status::age_value(a));
        }
        let head = req.method == Method::HEAD;
        if status == StatusCode::OK
            && (head || req.method == Method::GET)
            && conditional::not_modified(&req.headers, &h)
        {
            return not_modified(&h);
        }
        let mut r = Response::new(if head { Body::Empty } else { body });
        *r.status_mut() = status;
        *r.headers_mut() = h;
        r
    }

    /// The edge's own error response, with a short reason in the body.
    pub fn error(&self, status: StatusCode, reason: &str) -> Response<Body> {
        let text = format!("{} {}: {reason}\n", status.as_u16(), status.canonical_reason().unwrap_or(""));
        let mut r = Response::new(Body::text(text));
        *r.status_mut() = status;
        let h = r.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(DATE, self.clock.http_date());
        add_via(h, &self.via);
        r
    }
}

/// The 304 for a representation with headers `h`: the fields a 304 keeps
/// (RFC 9110 §15.4.5), no body.
fn not_modified(h: &HeaderMap) -> Response<Body> {
    let mut keep = HeaderMap::with_capacity(NOT_MODIFIED_KEEP.len() + 3);
    for name in NOT_MODIFIED_KEEP.iter().copied().chain(["age", "cache-status", "via"]) {
        for v in h.get_all(name) {
            keep.append(http::HeaderName::from_static(name), v.clone());
        }
    }
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    *r.headers_mut() = keep;
    r
}

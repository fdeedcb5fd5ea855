//! Refusals: the one place a problem becomes a status code and a short
//! reason (plain text on the public side, JSON on the admin side). No
//! internals reach the body.

use std::borrow::Cow;

use http::{HeaderName, HeaderValue, Response, StatusCode, header};

use crate::body::Body;

/// A request answered with an error status and a short reason.
#[derive(Debug, Clone)]
pub struct Reject {
    /// The status.
    pub status: StatusCode,
    /// Why, for the body.
    pub reason: Cow<'static, str>,
    /// Extra headers (`Allow`, `WWW-Authenticate`, `Content-Range`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Reject {
    /// A refusal with `status` and `reason`.
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Self { status, reason: reason.into(), headers: Vec::new() }
    }

    /// 400 with a reason.
    pub fn bad_request(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }

    /// 405 with the methods allowed.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            .with(header::ALLOW, HeaderValue::from_static(allow))
    }

    /// 500 for a failure on our side; the detail goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// Adds a header.
    pub fn with(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// As a `text/plain` response.
    pub fn into_text(self) -> Response<Body> {
        let body = format!("{}\n", self.reason);
        self.build(HeaderValue::from_static("text/plain; charset=utf-8"), body)
    }

    /// As a JSON response `{"error": "…"}`.
    pub fn into_json(self) -> Response<Body> {
        let body = serde_json::json!({ "error": self.reason }).to_string();
        self.build(HeaderValue::from_static("application/json"), body)
    }

    fn build(self, content_type: HeaderValue, body: String) -> Response<Body> {
        let mut r = Response::new(Body::full(body));
        *r.status_mut() = self.status;
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, content_type);
        for (n, v) in self.headers {
            h.append(n, v);
        }
        r
    }
}

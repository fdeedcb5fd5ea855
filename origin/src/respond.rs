//! Answering GET and HEAD for one representation (a catalog object, an
//! echo resource or a file): preconditions (304/412), ranges (206, 416,
//! `multipart/byteranges`) and the full 200, with the same headers for GET
//! and HEAD.
//!
//! A 200 carries `Content-Digest` and `Repr-Digest` (equal: the content is
//! the whole representation). A 206 carries `Repr-Digest` only, because
//! `Content-Digest` would have to cover just the part sent (RFC 9530 §2).

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, header};

use crate::body::Body;
use crate::conditional::{self, Precondition, Validators};
use crate::files;
pub use crate::files::{Content, Piece};
use crate::range::{self, ByteRange, Selection};
use crate::reject::Reject;

/// `Repr-Digest` (RFC 9530).
pub static REPR_DIGEST: HeaderName = HeaderName::from_static("repr-digest");
/// `Content-Digest` (RFC 9530).
pub static CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");
/// `Surrogate-Key`: space-separated purge tags.
pub static SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");

/// What [`respond`] needs to know about the selected representation.
#[derive(Debug, Clone)]
pub struct Representation {
    /// Length of the whole representation.
    pub len: u64,
    /// Strong ETag, quotes included.
    pub etag: String,
    /// `Last-Modified`, Unix seconds.
    pub last_modified: u64,
    /// `Content-Type`.
    pub content_type: HeaderValue,
    /// `sha-256=:…:` of the whole representation.
    pub digest: Option<HeaderValue>,
    /// Headers sent with 200, 206 and 304: `Cache-Control`,
    /// `Surrogate-Key`, the rule's extra headers.
    pub meta: Vec<(HeaderName, HeaderValue)>,
    /// The bytes.
    pub content: Content,
}

/// The response to a GET or HEAD of `rep`.
pub fn respond(method: &Method, headers: &HeaderMap, rep: Representation) -> Response<Body> {
    let v = Validators { etag: &rep.etag, last_modified: rep.last_modified };
    match conditional::evaluate(method, headers, v) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let mut r = empty(StatusCode::NOT_MODIFIED);
            validators(r.headers_mut(), &rep);
            return r;
        }
        Precondition::Failed => return Reject::new(StatusCode::PRECONDITION_FAILED, "precondition failed").into_text(),
    }
    // Range applies to GET only (RFC 9110 §14.2).
    let selection = match headers.get(header::RANGE) {
        Some(h) if method == Method::GET && conditional::if_range_allows(headers, v) => {
            h.to_str().ok().and_then(|s| range::parse(s).ok()).map(|specs| range::select(&specs, rep.len))
        }
        _ => None,
    };
    let head = method == Method::HEAD;
    match selection {
        None => full(rep, head),
        Some(Selection::Unsatisfiable) => {
            let cr = HeaderValue::from_str(&format!("bytes */{}", rep.len)).unwrap_or(HeaderValue::from_static("*"));
            Reject::new(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable")
                .with(header::CONTENT_RANGE, cr)
                .into_text()
        }
        Some(Selection::Ranges(ranges)) if ranges.len() == 1 => single(rep, ranges[0]),
        Some(Selection::Ranges(ranges)) => multipart(rep, &ranges),
    }
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// ETag, Last-Modified and the meta headers: what a 304 carries too.
fn validators(h: &mut HeaderMap, rep: &Representation) {
    if let Ok(v) = HeaderValue::from_str(&rep.etag) {
        h.insert(header::ETAG, v);
    }
    let lm = world::clock::httpdate_fmt(UNIX_EPOCH + Duration::from_secs(rep.last_modified));
    if let Ok(v) = HeaderValue::from_str(&lm) {
        h.insert(header::LAST_MODIFIED, v);
    }
    for (n, v) in &rep.meta {
        h.append(n.clone(), v.clone());
    }
}

fn common(status: StatusCode, rep: &Representation, content_type: HeaderValue, len: u64) -> Response<Body> {
    let mut r = empty(status);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    validators(h, rep);
    if let Some(d) = &rep.digest {
        h.insert(REPR_DIGEST.clone(), d.clone());
    }
    r
}

fn full(rep: Representation, head: bool) -> Response<Body> {
    let mut r = common(StatusCode::OK, &rep, rep.content_type.clone(), rep.len);
    if let Some(d) = &rep.digest {
        r.headers_mut().insert(CONTENT_DIGEST.clone(), d.clone());
    }
    if !head && rep.len > 0 {
        *r.body_mut() = match rep.content {
            Content::Bytes(b) => Body::full(b),
            Content::File(path) => {
                files::stream(path, vec![Piece::File(ByteRange { start: 0, end: rep.len - 1 })], rep.len)
            }
        };
    }
    r
}

fn single(rep: Representation, br: ByteRange) -> Response<Body> {
    let mut r = common(StatusCode::PARTIAL_CONTENT, &rep, rep.content_type.clone(), br.len());
    if let Ok(v) = HeaderValue::from_str(&br.content_range(rep.len)) {
        r.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    *r.body_mut() = match rep.content {
        Content::Bytes(b) => Body::full(b.slice(br.start as usize..=br.end as usize)),
        Content::File(path) => files::stream(path, vec![Piece::File(br)], br.len()),
    };
    r
}

fn multipart(rep: Representation, ranges: &[ByteRange]) -> Response<Body> {
    let boundary = format!("cdnlab-{:016x}", world::rng::hash64(rep.etag.as_bytes()));
    let ct = rep.content_type.to_str().unwrap_or("application/octet-stream").to_string();
    let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
    for r in ranges {
        let head =
            format!("\r\n--{boundary}\r\nContent-Type: {ct}\r\nContent-Range: {}\r\n\r\n", r.content_range(rep.len));
        pieces.push(Piece::Bytes(Bytes::from(head)));
        pieces.push(Piece::File(*r));
    }
    pieces.push(Piece::Bytes(Bytes::from(format!("\r\n--{boundary}--\r\n"))));
    let len: u64 = pieces
        .iter()
        .map(|p| match p {
            Piece::Bytes(b) => b.len() as u64,
            Piece::File(r) => r.len(),
        })
        .sum();
    let content_type = HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
        .unwrap_or(HeaderValue::from_static("multipart/byteranges"));
    let mut r = common(StatusCode::PARTIAL_CONTENT, &rep, content_type, len);
    *r.body_mut() = match rep.content {
        Content::Bytes(b) => Body::chunks(
            pieces
                .into_iter()
                .map(|p| match p {
                    Piece::Bytes(x) => x,
                    Piece::File(r) => b.slice(r.start as usize..=r.end as usize),
                })
                .collect(),
        ),
        Content::File(path) => files::stream(path, pieces, len),
    };
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn rep(body: &'static [u8]) -> Representation {
        Representation {
            len: body.len() as u64,
            etag: "\"t-1\"".into(),
            last_modified: 784_111_777,
            content_type: HeaderValue::from_static("text/plain"),
            digest: Some(HeaderValue::from_static("sha-256=:x:")),
            meta: vec![(header::CACHE_CONTROL, HeaderValue::from_static("max-age=60"))],
            content: Content::Bytes(Bytes::from_static(body)),
        }
    }

    fn req(pairs: &[(HeaderName, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(n, v)| (n.clone(), HeaderValue::from_static(v))).collect()
    }

    async fn text(r: Response<Body>) -> String {
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_plain_get_is_200_with_every_header() {
        let r = respond(&Method::GET, &HeaderMap::new(), rep(b"hello"));
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h[header::CONTENT_LENGTH], "5");
        assert_eq!(h[header::ETAG], "\"t-1\"");
        assert_eq!(h[header::LAST_MODIFIED], "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(h[header::CACHE_CONTROL], "max-age=60");
        assert_eq!(h[&CONTENT_DIGEST], "sha-256=:x:");
        assert_eq!(h[header::ACCEPT_RANGES], "bytes");
        assert_eq!(text(r).await, "hello");
    }

    #[tokio::test]
    async fn head_has_the_headers_and_no_body() {
        let r = respond(&Method::HEAD, &req(&[(header::RANGE, "bytes=0-1")]), rep(b"hello"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::CONTENT_LENGTH], "5");
        assert_eq!(text(r).await, "");
    }

    #[tokio::test]
    async fn a_single_range_is_206_with_content_range() {
        let r = respond(&Method::GET, &req(&[(header::RANGE, "bytes=1-3")]), rep(b"hello"));
        assert_eq!(r.status(), 206);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 1-3/5");
        assert!(r.headers().get(&CONTENT_DIGEST).is_none());
        assert_eq!(r.headers()[&REPR_DIGEST], "sha-256=:x:");
        assert_eq!(text(r).await, "ell");
    }

    #[tokio::test]
    async fn several_ranges_are_multipart() {
        let r = respond(&Method::GET, &req(&[(header::RANGE, "bytes=0-0,-1")]), rep(b"hello"));
        assert_eq!(r.status(), 206);
        let ct = r.headers()[header::CONTENT_TYPE].to_str().unwrap().to_string();
        let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap().to_string();
        let len: usize = r.headers()[header::CONTENT_LENGTH].to_str().unwrap().parse().unwrap();
        let body = text(r).await;
        assert_eq!(body.len(), len);
        let want = format!(
            "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-0/5\r\n\r\nh\
             \r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 4-4/5\r\n\r\no\r\n--{boundary}--\r\n"
        );
        assert_eq!(body, want);
    }

    #[tokio::test]
    async fn an_unsatisfiable_range_is_416_and_garbage_is_ignored() {
        let r = respond(&Method::GET, &req(&[(header::RANGE, "bytes=9-")]), rep(b"hello"));
        assert_eq!(r.status(), 416);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */5");
        let r = respond(&Method::GET, &req(&[(header::RANGE, "bytes=x")]), rep(b"hello"));
        assert_eq!(r.status(), 200);
    }

    #[tokio::test]
    async fn a_stale_if_range_gets_the_whole_body() {
        let r =
            respond(&Method::GET, &req(&[(header::RANGE, "bytes=0-0"), (header::IF_RANGE, "\"t-0\"")]), rep(b"hello"));
        assert_eq!(r.status(), 200);
        let r =
            respond(&Method::GET, &req(&[(header::RANGE, "bytes=0-0"), (header::IF_RANGE, "\"t-1\"")]), rep(b"hello"));
        assert_eq!(r.status(), 206);
    }

    #[tokio::test]
    async fn not_modified_keeps_validators_and_cache_control() {
        let r = respond(&Method::GET, &req(&[(header::IF_NONE_MATCH, "\"t-1\"")]), rep(b"hello"));
        assert_eq!(r.status(), 304);
        assert_eq!(r.headers()[header::ETAG], "\"t-1\"");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "max-age=60");
        assert!(r.headers().get(header::CONTENT_LENGTH).is_none());
        let r = respond(&Method::GET, &req(&[(header::IF_MATCH, "\"nope\"")]), rep(b"hello"));
        assert_eq!(r.status(), 412);
    }
}

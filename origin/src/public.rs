//! The public listener: what edges and clients fetch.
//!
//! ```text
//! request ─ count ─ faults (reset │ hang │ latency → status │ error rate)
//!          └─ /obj/{id}   synthetic catalog (GET, HEAD)
//!          └─ /t/{key}/{size}  trace objects of any key and size (GET, HEAD)
//!          └─ /echo/…     GET/HEAD: a small resource; POST/PUT/DELETE/PATCH:
//!                         200, and the path's version is bumped (a write:
//!                         409 on a replica)
//!
//! In a replicated world every answer carries `CDN-Origin-Seq`, this
//! site's position (crate::replication).
//!          └─ anything else: a file under --root, or 404
//! ```

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::body::Body;
use crate::catalog;
use crate::conditional::{self, Precondition, Validators};
use crate::faults::Outage;
use crate::reject::Reject;
use crate::respond::{Content, Representation, SURROGATE_KEY, respond};
use crate::rules::Rule;
use crate::state::State;
use crate::versions::Bump;

/// Largest request body `/echo/` accepts.
pub const ECHO_MAX_BODY: u64 = 64 * 1024 * 1024;

const GET_HEAD: &str = "GET, HEAD";
const ECHO_METHODS: &str = "GET, HEAD, POST, PUT, DELETE, PATCH";

/// Answers one public request; a `hang` outage holds it until `shutdown`.
pub(crate) async fn handle(st: Arc<State>, req: Request<Incoming>, shutdown: runtime::Shutdown) -> Response<Body> {
    st.stats.request(req.uri().path());
    // Read before any version: the answer is at least as new as it says.
    let position = st.replication.config().replicated.then(|| st.replication.position());
    let faults = st.faults.get();
    match faults.outage {
        Outage::Reset => {
            st.stats.reset();
            return reset();
        }
        Outage::Hang => {
            st.stats.hang();
            shutdown.stopped().await;
            return reset();
        }
        Outage::Off | Outage::Status => {}
    }
    if faults.latency_ms > 0 {
        runtime::time::sleep(&st.clock, faults.latency()).await;
    }
    let injected = if faults.outage == Outage::Status {
        Some(StatusCode::SERVICE_UNAVAILABLE)
    } else if st.faults.draw_error(faults.error_rate) {
        Some(StatusCode::from_u16(faults.error_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE))
    } else {
        None
    };
    let mut resp = match injected {
        Some(status) => {
            st.stats.injected();
            Reject::new(status, "injected fault").into_text()
        }
        None => route(&st, req).await.unwrap_or_else(Reject::into_text),
    };
    if faults.corrupt
        && resp.status() == StatusCode::OK
        && let Body::Full(Some(b)) = resp.body_mut()
        && !b.is_empty()
    {
        let mut v = b.to_vec();
        v[0] ^= 0xFF;
        *b = Bytes::from(v);
    }
    resp.headers_mut().insert(header::DATE, st.clock.http_date());
    if let Some(p) = position {
        resp.headers_mut().insert(crate::replication::ORIGIN_SEQ, HeaderValue::from(p));
    }
    st.stats.response(resp.status().as_u16());
    tracing::debug!(status = resp.status().as_u16(), "answered");
    resp
}

/// A response hyper cannot send: it closes the connection without writing
/// a byte. The invalid `Content-Length` makes encoding the head fail (so
/// HEAD requests, whose bodies are never polled, are covered too); the
/// failing body is the second line of defence.
fn reset() -> Response<Body> {
    let mut r = Response::new(Body::Reset);
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("reset"));
    r
}

async fn route(st: &State, req: Request<Incoming>) -> Result<Response<Body>, Reject> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/obj/") {
        get_or_head(req.method())?;
        let id = catalog::parse_id(rest).filter(|id| *id < st.catalog.objects).ok_or_else(Reject::not_found)?;
        let rep = object(st, &req, id).await;
        return Ok(respond(req.method(), req.headers(), rep));
    }
    if let Some(rest) = path.strip_prefix("/t/") {
        get_or_head(req.method())?;
        let (key, size) = catalog::parse_trace_path(rest).ok_or_else(Reject::not_found)?;
        let rep = trace_object(st, &req, key, size).await;
        return Ok(respond(req.method(), req.headers(), rep));
    }
    if path.starts_with("/echo/") {
        return echo(st, req).await;
    }
    let Some(files) = &st.files else {
        return Err(Reject::not_found());
    };
    get_or_head(req.method())?;
    let found = files.lookup(path).await?;
    let v = st.versions.of(path);
    let rule = st.rules.for_path(path);
    let mtime = crate::versions::unix(found.mtime);
    let rep = Representation {
        len: found.len,
        etag: crate::files::file_etag(found.len, found.mtime, v.n),
        last_modified: if v.n > 1 { mtime.max(v.since) } else { mtime },
        content_type: match found.content_type {
            Some(ct) => HeaderValue::from_static(ct),
            None => content_type(rule),
        },
        digest: Some(found.digest),
        meta: meta(rule, None),
        content: found.content,
    };
    Ok(respond(req.method(), req.headers(), rep))
}

fn get_or_head(m: &Method) -> Result<(), Reject> {
    if m == Method::GET || m == Method::HEAD { Ok(()) } else { Err(Reject::method_not_allowed(GET_HEAD)) }
}

/// The representation of `/obj/{id}` at its current version. The body is
/// generated (or taken from the cache) only when the answer needs it: a
/// 304 or 412 is decided from the ETag and date alone.
async fn object(st: &State, req: &Request<Incoming>, id: u64) -> Representation {
    let path = req.uri().path();
    let v = st.versions.of(path);
    let size = catalog::object_size(&st.catalog.size, id);
    let etag = catalog::object_etag(id, v.n, size);
    let rule = st.rules.for_path(path);
    let keys = format!("obj-{id} group-{}", id % st.catalog.groups.max(1));
    let mut rep = Representation {
        len: size,
        etag,
        last_modified: v.since,
        content_type: content_type(rule),
        digest: None,
        meta: meta(rule, Some(keys)),
        content: Content::Bytes(Bytes::new()),
    };
    let validators = Validators { etag: &rep.etag, last_modified: rep.last_modified };
    if conditional::evaluate(req.method(), req.headers(), validators) == Precondition::Proceed {
        let made = st.bodies.get_or_generate(id, v.n, size).await;
        rep.digest = Some(made.digest);
        rep.content = Content::Bytes(made.body);
    }
    rep
}

/// The representation of trace object `/t/{key}/{size}` at its current
/// version; like [`object`], the body only when the answer needs it.
async fn trace_object(st: &State, req: &Request<Incoming>, key: u64, size: u64) -> Representation {
    let path = req.uri().path();
    let v = st.versions.of(path);
    let rule = st.rules.for_path(path);
    let mut rep = Representation {
        len: size,
        etag: catalog::trace_etag(key, size, v.n),
        last_modified: v.since,
        content_type: content_type(rule),
        digest: None,
        meta: meta(rule, Some(format!("t-{key}"))),
        content: Content::Bytes(Bytes::new()),
    };
    let validators = Validators { etag: &rep.etag, last_modified: rep.last_modified };
    if conditional::evaluate(req.method(), req.headers(), validators) == Precondition::Proceed {
        let (version, id) = (v.n, catalog::trace_cache_id(key, size));
        let made = st.bodies.get_or_make(id, version, size, move || catalog::generate_trace(key, size, version)).await;
        rep.digest = Some(made.digest);
        rep.content = Content::Bytes(made.body);
    }
    rep
}

async fn echo(st: &State, req: Request<Incoming>) -> Result<Response<Body>, Reject> {
    let path = req.uri().path().to_string();
    match *req.method() {
        Method::GET | Method::HEAD => {
            let v = st.versions.of(&path);
            let body = Bytes::from(format!("echo {path} v{}\n", v.n));
            let rule = st.rules.for_path(&path);
            let h = world::rng::hash64(path.as_bytes()) >> 32;
            let rep = Representation {
                len: body.len() as u64,
                etag: format!("\"e{h:08x}-v{}\"", v.n),
                last_modified: v.since,
                content_type: HeaderValue::from_static("text/plain; charset=utf-8"),
                digest: HeaderValue::from_str(&catalog::content_digest(&body)).ok(),
                meta: meta(rule, Some("echo".into())),
                content: Content::Bytes(body),
            };
            Ok(respond(req.method(), req.headers(), rep))
        }
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH => {
            let method = req.method().to_string();
            let received = drain(req.into_body(), ECHO_MAX_BODY).await?;
            let bumped = st
                .replication
                .write(&st.versions, &Bump::Path(path.clone()), st.clock.now(), None)
                .map_err(crate::admin::write_refused)?;
            let body = serde_json::json!({
                "method": method,
                "path": path,
                "received": received,
                "version": bumped.version,
            });
            let mut r = Response::new(Body::full(format!("{body}\n")));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(r)
        }
        _ => Err(Reject::method_not_allowed(ECHO_METHODS)),
    }
}

/// Reads and discards a request body, counting its bytes.
async fn drain(mut body: Incoming, limit: u64) -> Result<u64, Reject> {
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Reject::bad_request("request body ended early"))?;
        if let Some(d) = frame.data_ref() {
            n += d.len() as u64;
            if n > limit {
                return Err(Reject::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"));
            }
        }
    }
    Ok(n)
}

fn content_type(rule: Option<&Rule>) -> HeaderValue {
    rule.map_or(HeaderValue::from_static("application/octet-stream"), |r| r.content_type.clone())
}

/// Cache-Control, the rule's extra headers, and Surrogate-Key (`keys`
/// followed by the rule's tags).
fn meta(rule: Option<&Rule>, keys: Option<String>) -> Vec<(http::HeaderName, HeaderValue)> {
    let mut m = Vec::with_capacity(4);
    let tags = rule.map_or("", |r| r.tags.as_str());
    let keys = match (keys, tags.is_empty()) {
        (Some(k), true) => Some(k),
        (Some(k), false) => Some(format!("{k} {tags}")),
        (None, false) => Some(tags.to_string()),
        (None, true) => None,
    };
    if let Some(k) = keys.and_then(|k| HeaderValue::from_str(&k).ok()) {
        m.push((SURROGATE_KEY.clone(), k));
    }
    if let Some(r) = rule {
        m.push((header::CACHE_CONTROL, r.cache_control.clone()));
        m.extend(r.headers.iter().cloned());
    }
    m
}

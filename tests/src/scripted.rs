//! A scriptable origin for cache tests: each path answers what the test
//! says (status, headers, body, delay, a queue of replies), answers
//! `If-None-Match` with 304 when asked to, holds a reply until the test
//! opens its [`Gate`], and records every request.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use parking_lot::Mutex;

use crate::net::Reserved;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// A body of one chunk.
fn full(b: Bytes) -> BoxBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

/// Holds the replies that carry it (see [`Reply::hold`]) until the test
/// opens it: a fill the test needs in flight stays in flight exactly as long
/// as the test says, however slow the machine.
#[derive(Clone, Debug)]
pub struct Gate(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Lets every held reply (and every later one) go.
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    pub(crate) async fn passed(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// One scripted response.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Answer 304 when the request's `If-None-Match` equals this reply's `ETag`.
    pub auto_304: bool,
    /// Send the body chunked in pieces of this size, without `Content-Length`.
    pub chunked: Option<usize>,
    /// Answer single byte ranges with 206 (`Accept-Ranges: bytes`; `If-Range`
    /// compared with the reply's `ETag`).
    pub ranges: bool,
    /// Wait for this gate before answering (after the request is recorded).
    pub hold: Option<Gate>,
    /// Send only the body's first bytes, then wait for a gate (see
    /// [`Reply::pause_after`], [`Reply::break_after`]).
    pub pause: Option<Pause>,
}

/// A body sent in two parts with a gate between them: the first `at`
/// bytes at once; once the gate opens, the rest, or (`then_break`) an
/// error that cuts the connection short of its `Content-Length`.
#[derive(Clone, Debug)]
pub struct Pause {
    at: usize,
    gate: Gate,
    then_break: bool,
}

impl Reply {
    /// 200 with a body.
    pub fn ok(body: impl Into<Bytes>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
            auto_304: false,
            chunked: None,
            ranges: false,
            hold: None,
            pause: None,
        }
    }
    /// Any status with a body.
    pub fn status(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply { status, ..Reply::ok(body) }
    }
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Sets `Cache-Control`.
    pub fn cc(self, v: &str) -> Reply {
        self.header("cache-control", v)
    }
    /// Waits before answering (a latency to measure, never an ordering
    /// to rely on: a test that needs a fill in flight holds it with
    /// [`Reply::hold`], which no busy machine can outrun).
    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
    /// Holds the answer until `gate` opens (the request is recorded, and so
    /// visible to [`ScriptedOrigin::wait_for`], at once).
    pub fn hold(mut self, gate: &Gate) -> Reply {
        self.hold = Some(gate.clone());
        self
    }
    /// Answers matching `If-None-Match` with 304.
    pub fn auto_304(mut self) -> Reply {
        self.auto_304 = true;
        self
    }
    /// Answers byte ranges.
    pub fn ranges(mut self) -> Reply {
        self.ranges = true;
        self.headers.push(("accept-ranges".into(), "bytes".into()));
        self
    }
    /// Sends the first `at` bytes of the body (with its `Content-Length`,
    /// unless [`Reply::chunked`]) at once and the rest when `gate` opens: a
    /// response still arriving for as long as the test says.
    pub fn pause_after(mut self, at: usize, gate: &Gate) -> Reply {
        self.pause = Some(Pause { at, gate: gate.clone(), then_break: false });
        self
    }
    /// Sends the first `at` bytes of the body (with its `Content-Length`)
    /// at once, and when `gate` opens fails: the connection is cut short
    /// of the length announced (an origin failing mid-body).
    pub fn break_after(mut self, at: usize, gate: &Gate) -> Reply {
        self.pause = Some(Pause { at, gate: gate.clone(), then_break: true });
        self
    }
    /// Sends the body chunked.
    pub fn chunked(mut self, piece: usize) -> Reply {
        self.chunked = Some(piece.max(1));
        self
    }
}

/// A request the origin received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub target: String,
    /// Headers.
    pub headers: HeaderMap,
}

#[derive(Default)]
struct Script {
    routes: HashMap<String, (VecDeque<Reply>, Option<Reply>)>,
    log: Vec<Received>,
    clock: Option<world::Clock>,
}

/// The scripted origin.
pub struct ScriptedOrigin {
    /// Its address.
    pub addr: SocketAddr,
    /// Keeps the port ours while stopped (see [`crate::net`]).
    reserved: Option<Arc<Reserved>>,
    script: Arc<Mutex<Script>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ScriptedOrigin {
    /// Starts on 127.0.0.1 on a port the kernel picks, reserved for it
    /// until it is dropped: after [`ScriptedOrigin::stop`] connections are
    /// refused and nothing else can take the port, so
    /// [`ScriptedOrigin::resume`] finds it free.
    pub async fn start() -> ScriptedOrigin {
        Self::start_reserved(Arc::new(crate::net::reserve())).await
    }

    /// Starts on a reserved address (a stand-in that must answer where the
    /// test said something would).
    pub async fn start_reserved(reserved: Arc<Reserved>) -> ScriptedOrigin {
        Self::start_with(reserved.addr(), Some(reserved), Arc::default()).await
    }

    /// Starts on a given address.
    pub async fn start_on(addr: SocketAddr) -> ScriptedOrigin {
        Self::start_with(addr, None, Arc::default()).await
    }

    async fn start_with(
        addr: SocketAddr,
        reserved: Option<Arc<Reserved>>,
        script: Arc<Mutex<Script>>,
    ) -> ScriptedOrigin {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind scripted origin");
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let s = script.clone();
        let task = tokio::spawn(runtime::serve::serve_http(
            listener,
            Arc::default(),
            move |_| {
                let s = s.clone();
                hyper::service::service_fn(move |req| answer(s.clone(), req))
            },
            runtime::Shutdown::on(async move {
                let _ = rx.await;
            }),
        ));
        ScriptedOrigin { addr, reserved, script, stop: Some(stop), task: Some(task) }
    }

    /// The default reply for `path` (answered whenever the queue is empty).
    pub fn set(&self, path: &str, r: Reply) {
        self.script.lock().routes.entry(path.into()).or_default().1 = Some(r);
    }

    /// Queues a reply for `path`, answered once before the default.
    pub fn push(&self, path: &str, r: Reply) {
        self.script.lock().routes.entry(path.into()).or_default().0.push_back(r);
    }

    /// Dates replies that have no `Date` with this clock (the edge's, so
    /// both sides agree on the time); without it, hyper adds the wall time.
    pub fn set_clock(&self, clock: world::Clock) {
        self.script.lock().clock = Some(clock);
    }

    /// Requests received for `target` (path and query).
    pub fn count(&self, target: &str) -> usize {
        self.script.lock().log.iter().filter(|r| r.target == target).count()
    }

    /// Every request's target, in the order received.
    pub fn targets(&self) -> Vec<String> {
        self.script.lock().log.iter().map(|r| r.target.clone()).collect()
    }

    /// Waits until `target` has been requested at least `n` times (a held
    /// reply's request counts as soon as it arrived); panics after
    /// [`crate::PATIENCE`].
    pub async fn wait_for(&self, target: &str, n: usize) {
        crate::eventually(&format!("{n} request(s) for {target} at the origin"), || async { self.count(target) >= n })
            .await;
    }

    /// The last request for `target`.
    pub fn last(&self, target: &str) -> Option<Received> {
        self.script.lock().log.iter().rev().find(|r| r.target == target).cloned()
    }

    /// Stops listening (connections are refused afterwards).
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Starts again on the same address, with the same script and log.
    pub async fn resume(&mut self) {
        let again = Self::start_with(self.addr, self.reserved.clone(), self.script.clone()).await;
        *self = again;
    }
}

impl Drop for ScriptedOrigin {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn answer(script: Arc<Mutex<Script>>, req: Request<Incoming>) -> Result<Response<BoxBody>, Infallible> {
    let target = req.uri().path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
    let path = req.uri().path().to_string();
    let (reply, clock) = {
        let mut s = script.lock();
        let clock = s.clock.clone();
        s.log.push(Received { method: req.method().clone(), target: target.clone(), headers: req.headers().clone() });
        let route = s.routes.get_mut(&target).or(None);
        let route = match route {
            Some(r) => Some(r),
            None => s.routes.get_mut(&path),
        };
        (route.and_then(|(q, d)| q.pop_front().or_else(|| d.clone())), clock)
    };
    let Some(reply) = reply else {
        let mut r = Response::new(full(Bytes::from_static(b"no script for this path\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    };
    if let Some(gate) = &reply.hold {
        gate.passed().await;
    }
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut headers = HeaderMap::new();
    for (n, v) in &reply.headers {
        headers.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    if let Some(c) = clock
        && !headers.contains_key("date")
    {
        headers.insert("date", c.http_date());
    }
    if reply.auto_304 {
        let inm = req.headers().get("if-none-match").and_then(|v| v.to_str().ok()).unwrap_or("");
        let etag = headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or("\u{0}");
        if inm.split(',').any(|t| t.trim() == etag) {
            let mut r = Response::new(full(Bytes::new()));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            headers.remove("content-length");
            *r.headers_mut() = headers;
            return Ok(r);
        }
    }
    if reply.ranges
        && let Some((a, b)) = single_range(req.headers(), reply.body.len() as u64)
    {
        let if_range = req.headers().get("if-range").and_then(|v| v.to_str().ok());
        let etag = headers.get("etag").and_then(|v| v.to_str().ok());
        if if_range.is_none() || if_range == etag {
            let part = reply.body.slice(a as usize..=b as usize);
            headers.insert(
                "content-range",
                HeaderValue::from_str(&format!("bytes {a}-{b}/{}", reply.body.len())).unwrap(),
            );
            let mut r = Response::new(full(part));
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            *r.headers_mut() = headers;
            return Ok(r);
        }
    }
    let body = if req.method() == Method::HEAD {
        full(Bytes::new())
    } else if let Some(p) = reply.pause.clone() {
        paused(reply.body.clone(), p)
    } else if let Some(piece) = reply.chunked {
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> =
            reply.body.chunks(piece).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
        StreamBody::new(futures_util::stream::iter(chunks)).boxed()
    } else {
        full(reply.body.clone())
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    if (reply.pause.is_some() || req.method() == Method::HEAD) && reply.chunked.is_none() {
        headers.insert("content-length", HeaderValue::from(reply.body.len()));
    }
    *r.headers_mut() = headers;
    Ok(r)
}

/// The body of a paused reply ([`Pause`]).
fn paused(body: Bytes, p: Pause) -> BoxBody {
    use futures_util::StreamExt;
    let at = p.at.min(body.len());
    let first = Ok::<_, BoxError>(Frame::data(body.slice(..at)));
    let rest = async move {
        p.gate.passed().await;
        if p.then_break { Err("the scripted origin breaks mid-body".into()) } else { Ok(Frame::data(body.slice(at..))) }
    };
    BodyExt::boxed(StreamBody::new(futures_util::stream::iter([first]).chain(futures_util::stream::once(rest))))
}

/// `bytes=a-b` (or `a-`) within `len`.
fn single_range(h: &HeaderMap, len: u64) -> Option<(u64, u64)> {
    let r = h.get("range")?.to_str().ok()?.strip_prefix("bytes=")?;
    let (a, b) = r.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = if b.trim().is_empty() { len - 1 } else { b.trim().parse::<u64>().ok()?.min(len - 1) };
    (a <= b && b < len).then_some((a, b))
}

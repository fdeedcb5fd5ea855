//! Origins for keying and smuggling tests.
//!
//! [`EchoOrigin`] answers every request with what it was sent, as far as
//! the answer depends on it: target, `Host`, `X-Forwarded-Host` (as many
//! applications do, without saying so in `Vary`), and the fields it says it
//! varies on (`Vary`). The method is left out: a HEAD is answered from what
//! a GET stored. It is deterministic in exactly those inputs, so
//! a cache that serves a body to a request whose forwarded form would have
//! produced another body has keyed something it did not send, or sent
//! something it did not key.
//!
//! [`NaiveOrigin`] frames requests the way many servers do: it answers as
//! soon as it has a request head, then skips as many bytes as the request's
//! `Content-Length` says before reading the next head. A proxy that
//! forwards a `Content-Length` without its body makes it swallow the start
//! of the next request on the connection: responses shift.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::scripted::{Gate, Received};

/// The echo origin.
pub struct EchoOrigin {
    /// Its address.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl EchoOrigin {
    /// Starts on a free port; every answer carries `Cache-Control:
    /// cache_control` and `Vary` naming `vary` (when not empty).
    pub async fn start(vary: &[&str], cache_control: &str) -> EchoOrigin {
        Self::start_delayed(vary, cache_control, Duration::ZERO).await
    }

    /// [`EchoOrigin::start`], answering each request after `delay`.
    pub async fn start_delayed(vary: &[&str], cache_control: &str, delay: Duration) -> EchoOrigin {
        Self::start_with(vary, cache_control, delay, None).await
    }

    /// [`EchoOrigin::start`], holding every answer until `gate` opens (a
    /// fill the test needs in flight stays there; requests are logged as
    /// they arrive).
    pub async fn start_held(vary: &[&str], cache_control: &str, gate: &Gate) -> EchoOrigin {
        Self::start_with(vary, cache_control, Duration::ZERO, Some(gate.clone())).await
    }

    async fn start_with(vary: &[&str], cache_control: &str, delay: Duration, hold: Option<Gate>) -> EchoOrigin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind echo origin");
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let cfg = Arc::new(Cfg {
            vary: vary.iter().map(|s| s.to_ascii_lowercase()).collect(),
            cache_control: cache_control.to_string(),
            delay,
            hold,
        });
        let l = log.clone();
        tokio::spawn(runtime::serve::serve_http(
            listener,
            Arc::default(),
            move |_| {
                let (l, cfg) = (l.clone(), cfg.clone());
                hyper::service::service_fn(move |req| answer(l.clone(), cfg.clone(), req))
            },
            runtime::Shutdown::on(async move {
                let _ = rx.await;
            }),
        ));
        EchoOrigin { addr, log, stop: Some(stop) }
    }

    /// Every request received so far.
    pub fn log(&self) -> Vec<Received> {
        self.log.lock().clone()
    }
}

impl Drop for EchoOrigin {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

struct Cfg {
    vary: Vec<String>,
    cache_control: String,
    delay: Duration,
    hold: Option<Gate>,
}

/// The body the echo origin answers: what it was sent, in one line.
pub fn echo_line(target: &str, h: &HeaderMap, vary: &[String]) -> String {
    let host = h.get_all("host").iter().map(|v| String::from_utf8_lossy(v.as_bytes()).to_string()).collect::<Vec<_>>();
    let mut s = format!("{target} host={} x-forwarded-host={}", host.join("|"), list_value(h, "x-forwarded-host"));
    for n in vary {
        s.push_str(&format!(" {n}={}", list_value(h, n)));
    }
    s
}

/// A list-valued field as a server reads it: field lines joined, split on
/// commas, each member's whitespace collapsed, empty members dropped;
/// `<absent>` when there is no such field.
pub fn list_value(h: &HeaderMap, name: &str) -> String {
    let mut values = h.get_all(name).iter().peekable();
    if values.peek().is_none() {
        return "<absent>".into();
    }
    values
        .flat_map(|v: &HeaderValue| {
            String::from_utf8_lossy(v.as_bytes()).split(',').map(str::to_string).collect::<Vec<_>>()
        })
        .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

async fn answer(
    log: Arc<Mutex<Vec<Received>>>,
    cfg: Arc<Cfg>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = req.uri().path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
    let (vary, cc) = (&cfg.vary, &cfg.cache_control);
    let line = echo_line(&target, req.headers(), vary);
    log.lock().push(Received { method: req.method().clone(), target, headers: req.headers().clone() });
    let (parts, body) = req.into_parts();
    let _ = body.collect().await;
    if let Some(gate) = &cfg.hold {
        gate.passed().await;
    }
    if !cfg.delay.is_zero() {
        tokio::time::sleep(cfg.delay).await;
    }
    let mut r = Response::new(Full::new(if parts.method == http::Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(line.clone())
    }));
    let h = r.headers_mut();
    h.insert("cache-control", HeaderValue::from_str(cc).unwrap());
    if !vary.is_empty() {
        h.insert("vary", HeaderValue::from_str(&vary.join(", ")).unwrap());
    }
    h.insert("etag", HeaderValue::from_str(&format!("\"{:x}\"", fxhash(&line))).unwrap());
    if parts.method == http::Method::HEAD {
        h.insert("content-length", HeaderValue::from(line.len()));
    }
    Ok(r)
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The naive origin.
pub struct NaiveOrigin {
    /// Its address.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl NaiveOrigin {
    /// Starts on a free port. Every answer is `200`, `Cache-Control:
    /// max-age=60`, and the request target as the body.
    pub async fn start() -> NaiveOrigin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind naive origin");
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let l = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(naive_conn(s, l.clone()));
            }
        });
        NaiveOrigin { addr, log, task }
    }

    /// Request lines received so far (`GET /a`), or `garbage` for bytes
    /// that did not parse as a request.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().clone()
    }
}

impl Drop for NaiveOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn naive_conn(mut s: tokio::net::TcpStream, log: Arc<Mutex<Vec<String>>>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut skip = 0usize;
    let mut chunk = [0u8; 8192];
    loop {
        let drop_now = skip.min(buf.len());
        buf.drain(..drop_now);
        skip -= drop_now;
        if skip == 0 {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let target = req.path.unwrap_or("").to_string();
                    let line = format!("{} {target}", req.method.unwrap_or(""));
                    let cl = req
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    log.lock().push(line);
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncache-control: max-age=60\r\n\r\n{target}",
                        target.len()
                    );
                    if s.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                    buf.drain(..n);
                    skip = cl;
                    continue;
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => {
                    log.lock().push("garbage".into());
                    let _ = s
                        .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    return;
                }
            }
        }
        match s.read(&mut chunk).await {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

//! The bare hyper server of `bench/million.sh`: the anchor benchmark's
//! "speed of light" server (../shared/bench/conf/sol) with one change,
//! every GET path is answered with the same body of SIZE bytes, so a wrk
//! script over the edge's N keys runs unchanged against it.
//!
//! With a third argument, a file of `name: value` lines, every response
//! also carries those header fields: `bench/million.sh` gives it the
//! edge's own response head for one of the keys, so that this server
//! sends the same bytes per response as the edge and the comparison
//! measures the cache's work, not the size of the origin's head (the
//! trace objects' heads are ~480 B against this server's ~130 B).
//! `date` and the framing fields (`content-length`, `transfer-encoding`,
//! `connection`) in the file are left out: hyper writes its own.
//!
//! Usage: bare ADDR SIZE [HEADERS]   (loopback only; e.g. bare 127.0.0.1:18703 512)
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(size)) = (args.next(), args.next()) else {
        eprintln!("usage: bare ADDR SIZE [HEADERS]");
        std::process::exit(2);
    };
    let (Ok(addr), Ok(size)) = (addr.parse::<SocketAddr>(), size.parse::<usize>()) else {
        eprintln!("bare: ADDR like 127.0.0.1:18703, SIZE in bytes");
        std::process::exit(2);
    };
    if !addr.ip().is_loopback() {
        eprintln!("bare: loopback addresses only");
        std::process::exit(2);
    }
    let extra = match args.next() {
        None => None,
        Some(path) => match extra_headers(&path) {
            Ok(h) => Some(h),
            Err(e) => {
                eprintln!("bare: {path}: {e}");
                std::process::exit(2);
            }
        },
    };
    let body = Bytes::from((0..size).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
    let listener = TcpListener::bind(addr).await?;
    eprintln!("bare listening on http://{addr}, {size}-byte bodies");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept error: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        let extra = extra.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |_req: Request<Incoming>| {
                let mut r = Response::new(Full::new(body.clone()));
                match &extra {
                    Some(h) => *r.headers_mut() = h.clone(),
                    None => {
                        let h = r.headers_mut();
                        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
                        h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
                    }
                }
                async move { Ok::<_, Infallible>(r) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

/// The header fields of a `name: value` file, in order, without `date`
/// and the framing fields.
fn extra_headers(path: &str) -> Result<HeaderMap, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut map = HeaderMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(format!("line {}: not `name: value`", n + 1))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| format!("line {}: {e}", n + 1))?;
        if matches!(name.as_str(), "date" | "content-length" | "transfer-encoding" | "connection") {
            continue;
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|e| format!("line {}: {e}", n + 1))?;
        map.append(name, value);
    }
    Ok(map)
}

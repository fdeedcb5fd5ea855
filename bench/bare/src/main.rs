//! The bare hyper server of `bench/million.sh`: the anchor benchmark's
//! "speed of light" server (../shared/bench/conf/sol) with one change,
//! every GET path is answered with the same body of SIZE bytes, so a wrk
//! script over the edge's N keys runs unchanged against it.
//!
//! Usage: bare ADDR SIZE   (loopback only; e.g. bare 127.0.0.1:18703 512)
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(size)) = (args.next(), args.next()) else {
        eprintln!("usage: bare ADDR SIZE");
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
        tokio::spawn(async move {
            let svc = service_fn(move |_req: Request<Incoming>| {
                let mut r = Response::new(Full::new(body.clone()));
                let h = r.headers_mut();
                h.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
                h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
                async move { Ok::<_, Infallible>(r) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

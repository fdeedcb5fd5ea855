//! A minimal HTTP/1.1 GET over loopback (health checks of edges and of a
//! shield, `cdn resolve`): one connection per request, closed after it,
//! bounded by a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

/// Largest response body read.
const MAX_BODY: usize = 1 << 20;

/// `GET http://{addr}{path}`; the whole exchange must finish within `timeout`.
pub async fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(StatusCode, Bytes), String> {
    match tokio::time::timeout(timeout, exchange(addr, path, timeout)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

async fn exchange(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(StatusCode, Bytes), String> {
    let stream = crate::net::connect(addr, timeout).await.map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    let conn = tokio::spawn(conn);
    let req = Request::get(path)
        .header(header::HOST, addr.to_string())
        .header(header::CONNECTION, "close")
        .header(header::USER_AGENT, "cdnlab")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_BODY).collect().await.map_err(|e| e.to_string())?.to_bytes();
    conn.abort();
    Ok((status, body))
}

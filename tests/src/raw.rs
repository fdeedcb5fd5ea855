//! A raw HTTP/1.1 client for tests that send what no well-behaved client
//! would (no `Host`, two of them, conflicting framing, raw UTF-8 targets,
//! pipelined batches) and read the answers exactly as they come off the
//! socket.

use std::net::SocketAddr;
use std::time::Duration;

use crate::PATIENCE;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response as read from the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// The head, as text (status line and fields).
    pub head: String,
    /// The body (chunked bodies decoded).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A field's value (first occurrence, name case-insensitive), "" when absent.
    pub fn header(&self, name: &str) -> String {
        self.head
            .lines()
            .skip(1)
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// A client connection.
pub struct RawConn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> RawConn {
        RawConn { s: TcpStream::connect(addr).await.expect("connect"), buf: Vec::new() }
    }

    /// Writes bytes (ignoring a peer that already closed).
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.s.write_all(bytes).await
    }

    /// Reads the next response (to a HEAD when `head_only`); `None` when
    /// the connection ends first (closed or reset). Nothing within
    /// [`PATIENCE`] also gives `None`, but that is a generous bound for a
    /// busy machine, not a way to tell "no answer": a test that expects
    /// none has the peer close (`Connection: close`, a refusal).
    pub async fn response(&mut self, head_only: bool) -> Option<RawResponse> {
        loop {
            if let Some((r, used)) = parse(&self.buf, head_only) {
                self.buf.drain(..used);
                return Some(r);
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout(PATIENCE, self.s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// Whether the peer closes the connection within `within` (bytes that
    /// arrive meanwhile are kept for [`RawConn::response`]).
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline, self.s.read(&mut chunk)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Bytes received but not part of a response read so far.
    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }
}

/// Sends `bytes` on a new connection and reads up to `n` responses (fewer
/// if the connection ends).
pub async fn exchange(addr: SocketAddr, bytes: &[u8], n: usize) -> Vec<RawResponse> {
    exchange_as(addr, bytes, n, false).await
}

/// [`exchange`] for requests whose answers have no body when `head_only`
/// (HEAD).
pub async fn exchange_as(addr: SocketAddr, bytes: &[u8], n: usize, head_only: bool) -> Vec<RawResponse> {
    let mut c = RawConn::open(addr).await;
    let _ = c.send(bytes).await;
    let mut out = Vec::new();
    while out.len() < n {
        match c.response(head_only).await {
            Some(r) => out.push(r),
            None => break,
        }
    }
    out
}

/// One complete response at the start of `buf`, and its length.
fn parse(buf: &[u8], head_only: bool) -> Option<(RawResponse, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut r = RawResponse { status, head, body: Vec::new() };
    let start = end + 4;
    if head_only || status == 304 || status == 204 || (100..200).contains(&status) {
        return Some((r, start));
    }
    if r.header("transfer-encoding").eq_ignore_ascii_case("chunked") {
        let mut at = start;
        loop {
            let line_end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
            let size_text = String::from_utf8_lossy(&buf[at..line_end]).to_string();
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            at = line_end + 2;
            if size == 0 {
                let trailer_end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
                return Some((r, trailer_end + 2));
            }
            if buf.len() < at + size + 2 {
                return None;
            }
            r.body.extend_from_slice(&buf[at..at + size]);
            at += size + 2;
        }
    }
    let len: usize = r.header("content-length").parse().unwrap_or(0);
    if buf.len() < start + len {
        return None;
    }
    r.body = buf[start..start + len].to_vec();
    Some((r, start + len))
}

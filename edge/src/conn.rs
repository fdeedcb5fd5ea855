//! The public listener's connections. Requests that are fresh memory hits
//! are answered right here, from the request bytes: parsed with `httparse`,
//! answered with the entry's prebuilt response head, `Age` and
//! `Cache-Status`, and the body, in one vectored write (no copy of the
//! body, no header map). The first request that is anything else (a miss,
//! a conditional, a range, another method, a `Connection` header, HTTP/1.0,
//! a malformed or oversize head) hands the connection, with every byte read
//! so far, to hyper and the full request path ([`crate::proxy`]) for good.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use world::serve::{HEAD_TIMEOUT, MAX_HEAD_BYTES, Metered, Peer, Rewind, Shutdown, serve_hyper, write_all_vectored};

use crate::cache_status::{age_value, hit_value};
use crate::entry::CacheValue;
use crate::freshness::Flags;
use crate::key::is_normal;
use crate::meter::Outcome;
use crate::proxy::PublicService;
use crate::state::EdgeState;
use crate::store::Tier;

/// Request fields that send a request down the full path.
const NOT_FAST: [&str; 14] = [
    "cache-control",
    "pragma",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "range",
    "if-range",
    "connection",
    "transfer-encoding",
    "content-length",
    "expect",
    "upgrade",
    "te",
];

/// A fast answer: the response head (in the connection's write buffer) and
/// the body to send after it.
enum Raw {
    /// Answered; `consumed` request bytes, then this body (if any).
    Answered { consumed: usize, body: Option<Bytes> },
    /// The request head is not complete yet.
    Partial,
    /// Not for the fast path.
    Other,
}

/// Serves one public connection.
pub async fn serve(st: Arc<EdgeState>, mut io: Metered<TcpStream>, peer: Peer, mut shutdown: Shutdown) {
    let mut buf = BytesMut::with_capacity(4096);
    let mut head = BytesMut::with_capacity(1024);
    if !st.access_log {
        loop {
            // Answer every fast request already buffered.
            let started = Instant::now();
            match st.raw_hit(&buf, &mut head) {
                Raw::Answered { consumed, body } => {
                    buf.advance(consumed);
                    let empty: &[u8] = &[];
                    let b = body.as_deref().unwrap_or(empty);
                    let mut parts: [&[u8]; 2] = [&head, b];
                    if write_all_vectored(&mut io, &mut parts).await.is_err() {
                        return;
                    }
                    st.meter.body(Outcome::Hit, b.len() as u64);
                    st.meter.duration(Outcome::Hit, started.elapsed());
                    head.clear();
                    continue;
                }
                Raw::Other => break,
                Raw::Partial if buf.len() >= MAX_HEAD_BYTES => break, // hyper answers 431
                Raw::Partial => {}
            }
            // Read more: wait for a request, or for the server to stop
            // (only between requests); a started head must finish in time.
            let idle = buf.is_empty();
            let read = async {
                if idle {
                    io.read_buf(&mut buf).await
                } else {
                    match tokio::time::timeout(HEAD_TIMEOUT, io.read_buf(&mut buf)).await {
                        Ok(r) => r,
                        Err(_) => Ok(0),
                    }
                }
            };
            let n = tokio::select! {
                r = read => r,
                _ = shutdown.wait(), if idle => return,
            };
            match n {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
    let service = PublicService::new(st, peer);
    serve_hyper(Rewind::new(buf.freeze(), io), service, shutdown).await;
}

impl EdgeState {
    /// Parses one buffered request; if it is a plain GET/HEAD for a fresh
    /// entry of the memory tier, writes the response head into `out`.
    fn raw_hit(&self, buf: &[u8], out: &mut BytesMut) -> Raw {
        if buf.is_empty() {
            return Raw::Partial;
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let consumed = match req.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Raw::Partial,
            Err(_) => return Raw::Other,
        };
        let head_only = match req.method {
            Some("GET") => false,
            Some("HEAD") => true,
            _ => return Raw::Other,
        };
        if req.version != Some(1) {
            return Raw::Other;
        }
        if req.headers.iter().any(|h| NOT_FAST.iter().any(|n| h.name.eq_ignore_ascii_case(n))) {
            return Raw::Other;
        }
        let Some(target) = req.path.filter(|p| is_normal(p)) else { return Raw::Other };
        let Some(entry) = self.store.get_memory(target) else { return Raw::Other };
        let CacheValue::Response(e) = entry.value() else { return Raw::Other };
        let now = self.now_ms();
        if !e.timing.is_fresh(now)
            || e.flags.has(Flags::NO_CACHE)
            || e.slices.is_some()
            || self.purge.may_cover(e.stored_ms)
            || e.head_block.is_empty()
        {
            return Raw::Other;
        }
        out.extend_from_slice(&e.head_block);
        out.extend_from_slice(b"age: ");
        out.extend_from_slice(age_value(e.timing.age_ms(now) / 1000).as_bytes());
        out.extend_from_slice(b"\r\ncache-status: ");
        out.extend_from_slice(hit_value(&self.label, e.timing.ttl_secs(now), Tier::Memory.as_str()).as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        self.meter.count(Outcome::Hit);
        let body = (!head_only && !e.body.is_empty()).then(|| e.body.clone());
        Raw::Answered { consumed, body }
    }
}

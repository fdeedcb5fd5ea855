//! The public listener's connections. Requests that are fresh memory hits
//! are answered right here, from the request bytes: parsed with `httparse`,
//! answered with the entry's prebuilt response head, `Age` and
//! `Cache-Status`, and the body, in one vectored write (no copy of the
//! body, no header map). The first request that is anything else (a miss,
//! a conditional, a range, another method, framing or `Connection`
//! headers, HTTP/1.0, no `Host` or two, a malformed or oversize head)
//! hands the connection, with every byte read so far, to hyper and the
//! full request path ([`crate::proxy`]) for good; that path refuses what
//! must be refused ([`crate::inbound`]), so the raw path never needs to.
//! A plain GET/HEAD that is a fresh hit of the disk tier is answered here
//! too (after the disk read), so a connection whose first requests are
//! disk hits stays on this path; a hit on a promoted head whose body is in
//! the disk tier's body file is sent with `sendfile` ([`crate::sendfile`]).
//!
//! A request head must be complete `idle_timeout` after the connection
//! opened or answered its last request ([`runtime::serve::ConnLimits`]; on
//! a busy connection between ¾ and all of it, see `serve`): one deadline
//! per request, not restarted by each read, so neither a silent keep-alive
//! connection nor a client trickling a head holds a connection longer.
//! hyper applies the same rule after a hand-over.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderValue;
use runtime::net::write_all_vectored;
use runtime::serve::{Accepted, MAX_HEAD_BYTES, Peer, serve_hyper_timed};
use runtime::shutdown::Shutdown;
use tokio::io::AsyncReadExt;

use crate::bodyfile::BodyRef;
use crate::entry::StoredEntry;
use crate::inbound::valid_host;
use crate::key::{CacheKey, is_normal};
use crate::meter::Outcome;
use crate::proxy::{NOT_FAST, fresh_memory_hit, fresh_stored_hit};
use crate::sendfile::send_head_and_body;
use crate::service::PublicService;
use crate::state::EdgeState;

/// Request fields that hand the connection to hyper: framing and
/// connection management (on top of [`NOT_FAST`], which hyper's own fast
/// path shares).
const NOT_RAW: [&str; 6] = ["connection", "transfer-encoding", "content-length", "expect", "upgrade", "te"];

/// Whether a request field keeps a request off the raw path ([`NOT_FAST`],
/// [`NOT_RAW`]). Inlined into the loop over the request's fields.
#[inline(always)]
fn not_raw(name: &str) -> bool {
    NOT_FAST.iter().any(|n| name.eq_ignore_ascii_case(n)) || NOT_RAW.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// A fast answer: the response head (in the connection's write buffer) and
/// the body to send after it.
pub(crate) enum Raw {
    /// Answered; `consumed` request bytes, then this body (if any).
    Answered { consumed: usize, body: Bytes },
    /// Answered; `consumed` request bytes, then the body at this place in
    /// the disk tier's body file ([`crate::sendfile`]).
    File { consumed: usize, at: BodyRef },
    /// A plain GET/HEAD of `consumed` request bytes for a key the memory
    /// tier does not hold, on an edge with a body file: answered here if
    /// the disk tier has it fresh ([`fresh_stored_hit`]), else by hyper.
    Stored { consumed: usize, key: CacheKey, head_only: bool },
    /// The request head is not complete yet.
    Partial,
    /// Not for the fast path.
    Other,
}

/// Serves one public connection.
pub async fn serve(st: Arc<EdgeState>, mut io: Accepted, peer: Peer, mut shutdown: Shutdown) {
    let idle_timeout = st.limits.idle_timeout;
    let mut buf = BytesMut::with_capacity(4096);
    let mut head = BytesMut::with_capacity(1024);
    if !st.access_log {
        // The deadline of the request head being read: set when the
        // connection becomes ready for a request, never moved by a read.
        let deadline = tokio::time::sleep(idle_timeout);
        tokio::pin!(deadline);
        let mut answered: Option<Instant> = None;
        loop {
            // Answer every fast request already buffered.
            let started = Instant::now();
            let raw = match raw_hit(&st, &buf, &mut head) {
                Raw::Answered { consumed, body } => Some((consumed, HitBody::Bytes(body))),
                Raw::File { consumed, at } => Some((consumed, HitBody::File(at))),
                Raw::Stored { consumed, key, head_only } => {
                    match fresh_stored_hit(&st, &key, |e, age, status| write_head(&mut head, e, age, status, head_only))
                        .await
                    {
                        Some(body) => Some((consumed, body)),
                        None => break,
                    }
                }
                Raw::Other => break,
                Raw::Partial if buf.len() >= MAX_HEAD_BYTES => break, // hyper answers 431
                Raw::Partial => None,
            };
            match raw {
                Some((consumed, HitBody::Bytes(body))) => {
                    buf.advance(consumed);
                    let mut parts: [&[u8]; 2] = [&head, &body];
                    if write_all_vectored(&mut io, &mut parts).await.is_err() {
                        return;
                    }
                    st.meter.body(Outcome::Hit, body.len() as u64);
                    st.meter.duration(Outcome::Hit, started.elapsed());
                    head.clear();
                    answered = Some(started);
                    continue;
                }
                Some((consumed, HitBody::File(at))) => {
                    buf.advance(consumed);
                    let Some(bodies) = st.store.bodies() else { return };
                    if io.get_ref().is_paced() {
                        // `sendfile` would go round the pacer: a paced
                        // client gets the body read back (a pread from the
                        // page cache on this worker, as `sendfile` reads it)
                        // and written through the paced stream like any
                        // other body. `read` checks the segment after the
                        // read: a reused one is a miss, and hyper answers.
                        let Ok(Some(body)) = bodies.read(&at) else { return };
                        let mut parts: [&[u8]; 2] = [&head, &body];
                        if write_all_vectored(&mut io, &mut parts).await.is_err() {
                            return;
                        }
                    } else {
                        if send_head_and_body(&io, &head, bodies.file(), &at).await.is_err() {
                            return;
                        }
                        bodies.count_send(at.len);
                        // Its segment reused while it was sent: the bytes may
                        // be another body's. Close, so the client sees a cut
                        // response rather than a whole wrong one.
                        if !bodies.valid(&at) {
                            return;
                        }
                    }
                    st.meter.body(Outcome::Hit, at.len);
                    st.meter.duration(Outcome::Hit, started.elapsed());
                    head.clear();
                    answered = Some(started);
                    continue;
                }
                None => {}
            }
            if let Some(at) = answered.take() {
                // The next head's time starts with the last answer. The
                // timer is moved only when less than ¾ of the timeout is
                // left, so a busy connection moves it about once per
                // quarter timeout, not once per request: a head gets
                // between ¾ and all of `idle_timeout`.
                let ready = tokio::time::Instant::from_std(at);
                if deadline.deadline() < ready + idle_timeout * 3 / 4 {
                    deadline.as_mut().reset(ready + idle_timeout);
                }
            }
            // Read more: wait for a request, or for the server to stop
            // (only between requests), until the deadline. Reading first
            // and in that order: the deadline and the shutdown signal are
            // polled only when no bytes are there.
            let idle = buf.is_empty();
            let n = tokio::select! {
                biased;
                r = io.read_buf(&mut buf) => r,
                _ = &mut deadline => return,
                _ = shutdown.wait(), if idle => return,
            };
            match n {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
    let service = PublicService::new(st, peer);
    serve_hyper_timed(io.rewind(buf.freeze()), service, idle_timeout, shutdown).await;
}

/// Parses one buffered request; if it is a plain HTTP/1.1 GET/HEAD
/// with one valid `Host`, for a fresh entry of the memory tier, writes
/// the response head into `out` (a promoted head whose body is in the
/// disk tier's body file: [`Raw::File`]). For a key the memory tier does
/// not hold, on an edge with a body file: [`Raw::Stored`], the disk
/// tier's answer awaited by the caller.
pub(crate) fn raw_hit(st: &EdgeState, buf: &[u8], out: &mut BytesMut) -> Raw {
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
    let mut hosts = 0;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if hosts > 1 || !valid_host(h.value) {
                return Raw::Other;
            }
        } else if not_raw(h.name) {
            return Raw::Other;
        }
    }
    if hosts != 1 {
        return Raw::Other;
    }
    let Some(target) = req.path else { return Raw::Other };
    let body = fresh_memory_hit(st, target, true, |e, age, status| write_head(out, e, age, status, head_only));
    match body {
        Some(HitBody::Bytes(body)) => Raw::Answered { consumed, body },
        Some(HitBody::File(at)) => Raw::File { consumed, at },
        // Only with a body file (it is what this is for): an entry the raw
        // path cannot send (stale, sliced, varying) is read twice, here and
        // by the full path.
        None if st.store.bodies().is_some() && is_normal(target) && st.store.get_memory(target).is_none() => {
            match CacheKey::from_target(target) {
                Ok(key) => Raw::Stored { consumed, key, head_only },
                Err(_) => Raw::Other,
            }
        }
        None => Raw::Other,
    }
}

/// What follows a hit's head on the wire.
enum HitBody {
    /// These bytes (empty for HEAD).
    Bytes(Bytes),
    /// The body at this place in the disk tier's body file.
    File(BodyRef),
}

/// Writes a hit's response head into `out`: the entry's head, `Age` and
/// `Cache-Status`; the body to send after it (empty for HEAD), or where it
/// is in the body file.
fn write_head(out: &mut BytesMut, e: &StoredEntry, age: HeaderValue, status: HeaderValue, head_only: bool) -> HitBody {
    out.extend_from_slice(e.head.block());
    out.extend_from_slice(b"age: ");
    out.extend_from_slice(age.as_bytes());
    out.extend_from_slice(b"\r\ncache-status: ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    match &e.body_at {
        Some(at) if !head_only => HitBody::File(**at),
        _ if head_only => HitBody::Bytes(Bytes::new()),
        _ => HitBody::Bytes(e.body.clone()),
    }
}

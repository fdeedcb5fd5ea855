//! The accept loop every cdnlab server shares (origin, edge, geodns):
//! connections on an already-bound listener, bytes metered at the socket
//! ([`crate::metered`]), HTTP/1.1 through hyper, graceful shutdown on a
//! [`Shutdown`].
//!
//! Slow and idle clients are bounded ([`ConnLimits`]): at most
//! `max_connections` at once (one more is answered `503` with the reason
//! and closed, rather than left waiting in the backlog), and a connection
//! that has not sent a complete request head `idle_timeout` after it
//! opened or after its last response is closed; the deadline is not
//! restarted by each byte, so a client trickling a head is closed as
//! surely as a silent one. A failing `accept` (out of file descriptors)
//! is logged at most once every ten seconds.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::metered::{Metered, Traffic};
use crate::pace::{Paced, Pacing};
use crate::shutdown::{Shutdown, channel};

/// Largest request head accepted; bigger heads get 431.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// How long a client may take to send its request head, counted from when
/// the connection opened or its last response was sent (the default of
/// [`ConnLimits::idle_timeout`]).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one "accept failed" line per this interval.
pub const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Limits on a listener's client connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// A connection that has not sent a complete request head this long
    /// after it opened, or after its last response, is closed (idle
    /// keep-alive connections and slow heads alike; hyper's
    /// `header_read_timeout` counts the same way; the edge's raw hit path
    /// allows between ¾ and all of it on a busy connection).
    pub idle_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits { max_connections: default_max_connections(), idle_timeout: HEAD_TIMEOUT }
    }
}

/// Half the process's open-file limit (each client connection may hold an
/// origin connection too; the rest is for files and listeners), between
/// 16 and 16,384.
pub fn default_max_connections() -> usize {
    use nix::sys::resource::{Resource, getrlimit};
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
    usize::try_from(soft / 2).unwrap_or(usize::MAX).clamp(16, 16_384)
}

/// Lets one log line through per interval and counts the ones held back,
/// so a condition that repeats every few milliseconds (EMFILE on accept)
/// cannot flood the log.
#[derive(Debug)]
pub struct LogLimiter {
    every: Duration,
    last: Option<std::time::Instant>,
    held: u64,
}

impl LogLimiter {
    /// At most one line per `every`.
    pub fn new(every: Duration) -> Self {
        LogLimiter { every, last: None, held: 0 }
    }

    /// `Some(lines held back since the last one)` when a line may be
    /// written at `now`; `None` (and one more held back) otherwise.
    pub fn tick(&mut self, now: std::time::Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.every => {
                self.held += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held))
            }
        }
    }
}

/// How long shutdown waits for requests in flight.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's address.
    pub remote: SocketAddr,
    /// The address it connected to.
    pub local: SocketAddr,
}

/// An accepted connection as a handler gets it: metered, and paced by the
/// network model when its peer is in a region ([`crate::pace`]).
pub type Accepted = Metered<Paced<TcpStream>>;

/// Accepts connections on `listener` and runs `handle` on each (metered,
/// with its peer and a [`Shutdown`]) until `shutdown` fires; then waits
/// up to [`DRAIN_TIMEOUT`] for the handlers to finish. Default
/// [`ConnLimits`], not paced.
pub async fn serve_connections<H, F>(listener: TcpListener, traffic: Arc<Traffic>, handle: H, shutdown: Shutdown)
where
    H: Fn(Accepted, Peer, Shutdown) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    serve_connections_limited(listener, traffic, ConnLimits::default(), Pacing::off(), handle, shutdown).await
}

/// [`serve_connections`] with at most `limits.max_connections` handlers at
/// once: a connection beyond that is answered 503 and closed. (The
/// handler applies `limits.idle_timeout`.) Handlers see their own
/// [`Shutdown`] fire once the listener is closed. Each connection is
/// paced as `pacing` says for its peer (decided here, once).
pub async fn serve_connections_limited<H, F>(
    listener: TcpListener,
    traffic: Arc<Traffic>,
    limits: ConnLimits,
    pacing: Pacing,
    handle: H,
    shutdown: Shutdown,
) where
    H: Fn(Accepted, Peer, Shutdown) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (stop_handlers, handlers) = channel();
    let mut tasks = tokio::task::JoinSet::new();
    let refusing = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut accept_log = LogLimiter::new(ACCEPT_LOG_EVERY);
    let mut shutdown = shutdown;
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            _ = shutdown.wait() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning, and
                    // say so without a line per attempt.
                    if let Some(held_back) = accept_log.tick(std::time::Instant::now()) {
                        tracing::warn!(error = %e, held_back, "accept failed (at most one line per 10 s; `held_back`: failures since the last line)");
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        traffic.connections.fetch_add(1, Ordering::Relaxed);
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= limits.max_connections {
            traffic.refused.fetch_add(1, Ordering::Relaxed);
            refuse(stream, limits.max_connections, &refusing);
            continue;
        }
        let local = stream.local_addr().unwrap_or(remote);
        let _ = stream.set_nodelay(true);
        let io = Metered::new(pacing.wrap(stream, remote), traffic.clone());
        tasks.spawn(handle(io, Peer { remote, local }, handlers.clone()));
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    stop_handlers.stop();
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; closing");
        tasks.abort_all();
    }
}

/// Refusals being written at once; beyond this a connection over the limit
/// is closed without an answer.
const MAX_REFUSING: usize = 64;

/// Answers a connection over the limit `503` with the reason, then closes
/// it (after the client's side closes, or a second, so the answer is not
/// lost to a reset).
fn refuse(stream: TcpStream, limit: usize, refusing: &Arc<std::sync::atomic::AtomicUsize>) {
    if refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let refusing = refusing.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = stream;
        let body = format!("503 Service Unavailable: this server is at its limit of {limit} connections; try again\n");
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\
             cache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(format!("{head}{body}").as_bytes()).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            io::Result::Ok(())
        })
        .await;
        refusing.fetch_sub(1, Ordering::Relaxed);
    });
}

/// Serves one connection with hyper (HTTP/1.1, keep-alive, head timeout
/// and size limit) until it ends or `shutdown` asks it to finish its
/// request in flight and close.
pub async fn serve_hyper<I, S, B>(io: I, service: S, shutdown: Shutdown)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_hyper_timed(io, service, HEAD_TIMEOUT, shutdown).await
}

/// [`serve_hyper`] with its own head timeout: a connection whose next
/// request head is not complete `head_timeout` after it became ready for
/// one (opened, or sent its last response) is closed. hyper starts that
/// timer once per head, not per read.
pub async fn serve_hyper_timed<I, S, B>(io: I, service: S, head_timeout: Duration, mut shutdown: Shutdown)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(head_timeout).max_buf_size(MAX_HEAD_BYTES).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.wait() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` fires, then lets
/// requests in flight finish (up to [`DRAIN_TIMEOUT`]). `make` builds the
/// service for each connection. Malformed requests get 400 and oversize
/// heads 431 from hyper, without reaching the service.
pub async fn serve_http<M, S, B>(listener: TcpListener, traffic: Arc<Traffic>, make: M, shutdown: Shutdown)
where
    M: Fn(Peer) -> S,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_http_paced(listener, traffic, Pacing::off(), make, shutdown).await
}

/// [`serve_http`] with each connection paced as `pacing` says for its
/// peer (the origin's public listener, a shield's tier listener).
pub async fn serve_http_paced<M, S, B>(
    listener: TcpListener,
    traffic: Arc<Traffic>,
    pacing: Pacing,
    make: M,
    shutdown: Shutdown,
) where
    M: Fn(Peer) -> S,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let handle = |io, peer, sd| serve_hyper(io, make(peer), sd);
    serve_connections_limited(listener, traffic, ConnLimits::default(), pacing, handle, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_limiter_lets_one_line_through_per_interval_and_counts_the_rest() {
        let t0 = std::time::Instant::now();
        let mut l = LogLimiter::new(Duration::from_secs(10));
        assert_eq!(l.tick(t0), Some(0));
        for i in 1..=500u64 {
            assert_eq!(l.tick(t0 + Duration::from_millis(i * 19)), None);
        }
        assert_eq!(l.tick(t0 + Duration::from_secs(10)), Some(500));
        assert_eq!(l.tick(t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn the_default_connection_limit_leaves_half_the_descriptors() {
        use nix::sys::resource::{Resource, getrlimit};
        let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let m = default_max_connections() as u64;
        assert!((16..=16_384).contains(&m));
        assert!(m <= soft / 2 || m == 16, "{m} of {soft}");
    }
}

//! The HTTP accept loop every cdnlab server shares (origin, edge, geodns):
//! HTTP/1.1 on an already-bound listener, bytes metered at the socket,
//! graceful shutdown. It lives here because `world` is the one crate all
//! servers depend on, and the servers must not depend on each other.
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
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

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

/// Bytes and connections through one listener, counted at the socket.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Bytes read from clients (request heads and bodies).
    pub bytes_in: AtomicU64,
    /// Bytes written to clients (response heads and bodies), as sent.
    pub bytes_out: AtomicU64,
    /// Connections accepted (those refused at the limit included).
    pub connections: AtomicU64,
    /// Connections refused (answered 503 and closed) at the connection limit.
    pub refused: AtomicU64,
}

impl Traffic {
    /// Bytes written to clients so far.
    pub fn out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }
    /// Bytes read from clients so far.
    pub fn input(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }
}

/// A stream that adds every byte read or written to a [`Traffic`].
pub struct Metered<S> {
    inner: S,
    traffic: Arc<Traffic>,
    /// Bytes already read (and counted) that reads yield again first.
    pre: Bytes,
}

impl<S> Metered<S> {
    /// Wraps a stream.
    pub fn new(inner: S, traffic: Arc<Traffic>) -> Self {
        Self { inner, traffic, pre: Bytes::new() }
    }

    /// The same stream, whose next reads yield `pre` (bytes read from it
    /// already) before the rest: a connection handed over part-way
    /// through, so the next reader sees the whole request.
    pub fn rewind(mut self, pre: Bytes) -> Self {
        self.pre = pre;
        self
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.pre.is_empty() {
            let n = self.pre.len().min(buf.remaining());
            buf.put_slice(&self.pre.split_to(n));
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.traffic.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.traffic.bytes_out.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r {
            self.traffic.bytes_out.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl hyper_util::client::legacy::connect::Connection for Metered<TcpStream> {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        self.inner.connected()
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's address.
    pub remote: SocketAddr,
    /// The address it connected to.
    pub local: SocketAddr,
}

/// Tells connection handlers that the server is stopping.
#[derive(Clone, Debug)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    /// Resolves once the server is stopping.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }
}

/// Accepts connections on `listener` and runs `handle` on each (metered,
/// with its peer and a [`Shutdown`]) until `shutdown` resolves; then waits
/// up to [`DRAIN_TIMEOUT`] for the handlers to finish. Default
/// [`ConnLimits`].
pub async fn serve_connections<H, F>(
    listener: TcpListener,
    traffic: Arc<Traffic>,
    handle: H,
    shutdown: impl Future<Output = ()> + Send,
) where
    H: Fn(Metered<TcpStream>, Peer, Shutdown) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    serve_connections_limited(listener, traffic, ConnLimits::default(), handle, shutdown).await
}

/// [`serve_connections`] with at most `limits.max_connections` handlers at
/// once: a connection beyond that is answered 503 and closed. (The
/// handler applies `limits.idle_timeout`.)
pub async fn serve_connections_limited<H, F>(
    listener: TcpListener,
    traffic: Arc<Traffic>,
    limits: ConnLimits,
    handle: H,
    shutdown: impl Future<Output = ()> + Send,
) where
    H: Fn(Metered<TcpStream>, Peer, Shutdown) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let refusing = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut accept_log = LogLimiter::new(ACCEPT_LOG_EVERY);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
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
        let io = Metered::new(stream, traffic.clone());
        tasks.spawn(handle(io, Peer { remote, local }, Shutdown(rx.clone())));
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = tx.send(true);
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

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then lets
/// requests in flight finish (up to [`DRAIN_TIMEOUT`]). `make` builds the
/// service for each connection. Malformed requests get 400 and oversize
/// heads 431 from hyper, without reaching the service.
pub async fn serve_http<M, S, B>(
    listener: TcpListener,
    traffic: Arc<Traffic>,
    make: M,
    shutdown: impl Future<Output = ()> + Send,
) where
    M: Fn(Peer) -> S,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_connections(listener, traffic, |io, peer, sd| serve_hyper(io, make(peer), sd), shutdown).await
}

/// Writes every byte of `bufs` (vectored writes, so nothing is copied; the
/// slice list lives on the stack, so nothing is allocated either).
pub async fn write_all_vectored<W: AsyncWrite + Unpin, const N: usize>(
    w: &mut W,
    bufs: &mut [&[u8]; N],
) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut first = 0;
    while first < N {
        let slices: [io::IoSlice<'_>; N] = std::array::from_fn(|i| io::IoSlice::new(bufs[i]));
        let mut n = w.write_vectored(&slices[first..]).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "connection closed"));
        }
        while first < N && n >= bufs[first].len() {
            n -= bufs[first].len();
            first += 1;
        }
        if first < N {
            bufs[first] = &bufs[first][n..];
        }
    }
    Ok(())
}

/// Binds a TCP listener with a message that names what failed to bind.
pub async fn bind(what: &str, addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::AddrInUse => " (address already in use: is another cdnlab running?)",
            io::ErrorKind::AddrNotAvailable => " (address not available on this machine)",
            io::ErrorKind::PermissionDenied => " (permission denied)",
            _ => "",
        };
        io::Error::new(e.kind(), format!("{what}: cannot listen on {addr}: {e}{hint}"))
    })
}

/// When this environment variable is set, a server also stops when its
/// standard input closes: its parent (`cdn up`) is gone, so no orphan stays.
pub const EXIT_WITH_PARENT_ENV: &str = "CDNLAB_EXIT_WITH_PARENT";

/// Resolves on Ctrl-C, SIGTERM, or (with [`EXIT_WITH_PARENT_ENV`]) when
/// standard input closes.
pub async fn ctrl_c_or_term() {
    let parent_gone = async {
        if std::env::var_os(EXIT_WITH_PARENT_ENV).is_none() {
            return std::future::pending::<()>().await;
        }
        use tokio::io::AsyncReadExt;
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut t) => {
                    t.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
            _ = parent_gone => {}
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = parent_gone => {}
        }
    }
}

/// The fixed line a server prints on stdout once it listens, which `cdn up`
/// and the end-to-end tests wait for:
/// `cdnlab-ready <component> <name> <role>=<addr> …`.
pub fn ready_line(component: &str, name: &str, addrs: &[(&str, SocketAddr)]) -> String {
    let mut s = format!("cdnlab-ready {component} {name}");
    for (role, a) in addrs {
        s.push_str(&format!(" {role}={a}"));
    }
    s
}

/// Connects with a timeout (health checks, the origin client).
pub async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("connect to {addr} timed out"))),
    }
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

    /// A writer that takes at most `step` bytes per call, vectored or not.
    struct Trickle {
        got: Vec<u8>,
        step: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.got.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut left = self.step;
            for b in bufs {
                let n = b.len().min(left);
                self.got.extend_from_slice(&b[..n]);
                left -= n;
            }
            Poll::Ready(Ok(self.step - left))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn short_vectored_writes_still_write_every_byte_in_order() {
        for step in [1, 2, 3, 5, 64] {
            let mut w = Trickle { got: Vec::new(), step };
            let mut parts: [&[u8]; 3] = [b"head\r\n", b"", b"body bytes"];
            write_all_vectored(&mut w, &mut parts).await.unwrap();
            assert_eq!(w.got, b"head\r\nbody bytes", "step {step}");
        }
    }
}

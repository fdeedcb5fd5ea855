//! The edge's way to its origin, the one part every origin request goes
//! through (fills, slices, revalidations, passes; a shield, peer or
//! replica next): pooled keep-alive connections metered at the socket and
//! opened from the edge's own address in its region (so the upstream
//! locates the edge and paces its response over the link between them:
//! `runtime::pace`; the edge itself waits for nothing), the count of
//! requests sent and of those that failed or were answered 5xx, the time
//! to each response head, connect and response timeouts, and errors
//! classified into what the client should be told (502 or 504). Nothing
//! else counts origin requests.
//!
//! The pool is this module's: idle connections kept per upstream
//! ([`Pool`]: how many, for how long), and for every fetch whether it went
//! out on a kept (warm) connection or one opened for it (cold), counted
//! per upstream ([`Upstream::name`]) because a warm connection is what
//! spares a fetch the handshake and slow start (docs/network.md).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use runtime::metered::{Metered, Traffic};
use runtime::pace::{Fetching, Paced};
use runtime::prom::Histogram;
use tokio::io::ReadBuf;
use tokio::net::TcpStream;
use world::Clock;

use crate::body::Body;

/// Why an origin fetch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// No connection (refused, unreachable, connect timeout): 502.
    #[error("origin unreachable: {0}")]
    Connect(String),
    /// No response head in time: 504.
    #[error("origin timeout: no response within {0:?}")]
    Timeout(Duration),
    /// The connection broke or the response was malformed: 502.
    #[error("origin failed: {0}")]
    Broken(String),
    /// A slice did not match the stored object (the object changed).
    #[error("object changed at the origin: {0}")]
    Changed(String),
}

impl FetchError {
    /// The status the client gets.
    pub fn status(&self) -> http::StatusCode {
        match self {
            FetchError::Timeout(_) => http::StatusCode::GATEWAY_TIMEOUT,
            _ => http::StatusCode::BAD_GATEWAY,
        }
    }
}

/// How many idle connections an upstream keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Idle connections kept (0: every fetch opens its own).
    pub max_idle: usize,
    /// An idle connection is closed after this long.
    pub idle_timeout: Duration,
}

impl Default for Pool {
    fn default() -> Self {
        Pool { max_idle: 256, idle_timeout: Duration::from_secs(30) }
    }
}

/// Connects every request to the one origin address, metering the socket.
#[derive(Clone)]
struct Connector {
    addr: SocketAddr,
    /// The address connections leave from (`None`: the system's choice).
    source: Option<std::net::IpAddr>,
    timeout: Duration,
    traffic: Arc<Traffic>,
    /// This upstream's own bytes (`traffic` may be shared: every origin
    /// site's fills add up in the edge's origin traffic).
    own: Arc<Traffic>,
    /// Connections opened.
    opened: Arc<AtomicU64>,
    /// How responses are paced as they are read (off unless the upstream
    /// does not pace itself: your own origin).
    fetching: Fetching,
}

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Counted>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let (addr, source, timeout, traffic) = (self.addr, self.source, self.timeout, self.traffic.clone());
        let (opened, own, fetching) = (self.opened.clone(), self.own.clone(), self.fetching.clone());
        Box::pin(async move {
            let s = runtime::net::connect_from(source, addr, timeout).await?;
            let _ = s.set_nodelay(true);
            opened.fetch_add(1, Ordering::Relaxed);
            let local = s.local_addr()?;
            let inner = fetching.wrap(Metered::new(s, traffic), local);
            Ok(TokioIo::new(Counted { inner, uses: Uses::default(), own }))
        })
    }
}

/// The responses a connection has carried; hyper copies it into every
/// response's extensions ([`Connected::extra`]), so a response knows
/// whether its connection was new (it is the first) or kept (warm).
#[derive(Clone, Default)]
struct Uses(Arc<AtomicU64>);

/// An upstream connection that counts its responses ([`Uses`]) and its
/// upstream's own bytes.
struct Counted {
    inner: Paced<Metered<TcpStream>>,
    uses: Uses,
    own: Arc<Traffic>,
}

impl Connection for Counted {
    fn connected(&self) -> Connected {
        self.inner.get_ref().connected().extra(self.uses.clone())
    }
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            self.own.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.own.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What an upstream's fetches found: a kept connection or a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionUse {
    /// Fetches answered on a connection kept from an earlier fetch.
    pub warm: u64,
    /// Fetches answered on a connection opened for them.
    pub cold: u64,
    /// Connections opened (a fetch may open one and get a kept one first,
    /// which the pool then keeps: this can exceed `cold`).
    pub opened: u64,
}

/// The origin client.
pub struct Upstream {
    /// What the edge calls this upstream in its stats (`origin`).
    name: &'static str,
    client: Client<Connector, Body>,
    connector: Connector,
    addr: SocketAddr,
    pool: Pool,
    timeout: Duration,
    fetch_time: Option<Arc<Histogram>>,
    /// The clock requests are timed on.
    clock: Clock,
    /// Modelled round trip (reported; the upstream paces its responses).
    rtt: Duration,
    /// Requests sent.
    requests: AtomicU64,
    /// Of those, failed (no connection, no answer in time, broken) or
    /// answered 5xx.
    errors: AtomicU64,
    /// Responses on a kept connection.
    warm: AtomicU64,
    /// Responses on a connection opened for them.
    cold: AtomicU64,
    /// Connections opened (the connector counts them).
    opened: Arc<AtomicU64>,
}

impl Upstream {
    /// A client for the origin at `addr`, keeping idle connections as `pool` says.
    pub fn new(
        addr: SocketAddr,
        connect_timeout: Duration,
        timeout: Duration,
        pool: Pool,
        traffic: Arc<Traffic>,
    ) -> Upstream {
        let opened = Arc::new(AtomicU64::new(0));
        let own = Arc::new(Traffic::default());
        let connector = Connector {
            addr,
            source: None,
            timeout: connect_timeout,
            traffic,
            own,
            opened: opened.clone(),
            fetching: Fetching::off(),
        };
        Upstream {
            name: "origin",
            client: client(connector.clone(), pool),
            connector,
            addr,
            pool,
            timeout,
            fetch_time: None,
            clock: Clock::wall(),
            rtt: Duration::ZERO,
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            warm: AtomicU64::new(0),
            cold: AtomicU64::new(0),
            opened,
        }
    }

    /// The world's clock (requests are timed on it) and the network model's
    /// round trip to this upstream, as `/stats` reports it. Nothing waits
    /// for it here: the upstream paces its responses by the whole link
    /// (`runtime::pace`), given [`Upstream::from`] the edge's address in
    /// its region.
    pub fn modelled(mut self, clock: Clock, rtt: Duration) -> Upstream {
        self.clock = clock;
        self.rtt = rtt;
        self
    }

    /// Opens connections from `source` (the edge's address in its region),
    /// so the upstream locates this edge as GeoDNS would and paces its
    /// responses over the link between them. `None`: the system's choice
    /// (127.0.0.1 on loopback: not paced).
    pub fn from(mut self, source: Option<std::net::IpAddr>) -> Upstream {
        self.connector.source = source;
        self.client = client(self.connector.clone(), self.pool);
        self
    }

    /// Paces responses as they are read, as `f` says: for an upstream that
    /// does not pace what it sends (your own origin), the link between
    /// this edge's region and the origin's is applied here, by the
    /// receiver, with the pooled connection's window (docs/network.md).
    pub fn paced_here(mut self, f: Fetching) -> Upstream {
        self.connector.fetching = f;
        self.client = client(self.connector.clone(), self.pool);
        self
    }

    /// Records the time of every [`Upstream::send`] (to the response head or failure) in `h`.
    pub fn timed(mut self, h: Arc<Histogram>) -> Upstream {
        self.fetch_time = Some(h);
        self
    }

    /// The absolute URI for a canonical request target (the pool key is
    /// the origin). A target that does not parse is an error, never
    /// another URL.
    pub fn uri(&self, target: &str) -> Result<Uri, FetchError> {
        format!("http://{}{}", self.addr, target)
            .parse()
            .map_err(|_| FetchError::Broken(format!("request target {target:?} cannot be sent")))
    }

    /// What the edge calls this upstream (`origin`, `shield`; a peer later).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The same upstream, called `name` in the edge's stats.
    pub fn named(mut self, name: &'static str) -> Upstream {
        self.name = name;
        self
    }

    /// Its pool settings.
    pub fn pool(&self) -> Pool {
        self.pool
    }

    /// Fetches on kept and on new connections so far.
    pub fn connection_use(&self) -> ConnectionUse {
        ConnectionUse {
            warm: self.warm.load(Ordering::Relaxed),
            cold: self.cold.load(Ordering::Relaxed),
            opened: self.opened.load(Ordering::Relaxed),
        }
    }

    /// The origin's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Response timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The modelled round trip to this upstream.
    pub fn rtt(&self) -> Duration {
        self.rtt
    }

    /// Bytes read from this upstream and written to it so far (socket).
    pub fn bytes(&self) -> (u64, u64) {
        (self.connector.own.input(), self.connector.own.out())
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests sent so far that failed or were answered 5xx: how the
    /// origin is doing as the edge sees it (an origin with no health API of
    /// its own, such as yours behind `--origin`, is judged by it).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Counts the request and sends it; resolves when the response head
    /// arrives, with the time (on the clock) the request left: a fill's
    /// `request_time`.
    pub async fn send(&self, req: Request<Body>) -> Result<(SystemTime, Response<Incoming>), FetchError> {
        let sent_at = self.clock.now();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let r = match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Err(_) => Err(FetchError::Timeout(self.timeout)),
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(classify(&e)),
        };
        if let Some(h) = &self.fetch_time {
            h.record(started.elapsed());
        }
        if r.as_ref().map_or(true, |r| r.status().is_server_error()) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(Uses(n)) = r.as_ref().ok().and_then(|r| r.extensions().get::<Uses>()) {
            // The first response on a connection is the one it was opened for.
            let kept = n.fetch_add(1, Ordering::Relaxed) > 0;
            (if kept { &self.warm } else { &self.cold }).fetch_add(1, Ordering::Relaxed);
        }
        r.map(|r| (sent_at, r))
    }
}

/// The pooled client over `connector`.
fn client(connector: Connector, pool: Pool) -> Client<Connector, Body> {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(pool.idle_timeout)
        .pool_max_idle_per_host(pool.max_idle)
        // Without a timer idle connections expire only when next looked at.
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(connector)
}

fn classify(e: &hyper_util::client::legacy::Error) -> FetchError {
    let mut io_kind = None;
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        src = s.source();
    }
    if e.is_connect() {
        return FetchError::Connect(match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".into(),
            Some(std::io::ErrorKind::TimedOut) => "connect timed out".into(),
            Some(k) => format!("{k}"),
            None => "cannot connect".into(),
        });
    }
    FetchError::Broken(match io_kind {
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".into(),
        Some(k) => format!("{k}"),
        None => "connection closed before a complete response".into(),
    })
}

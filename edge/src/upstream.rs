//! The edge's way to its origin, the one part every origin request goes
//! through (fills, slices, revalidations, passes; a shield, peer or
//! replica next): pooled keep-alive connections metered at the socket,
//! the modelled round trip waited before each request (on the world's
//! clock), the count of requests sent and of those that failed or were
//! answered 5xx, the time to each response head,
//! connect and response timeouts, and errors classified into what the
//! client should be told (502 or 504). Nothing else sleeps for the
//! network model or counts origin requests.

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
use hyper_util::rt::{TokioExecutor, TokioIo};
use runtime::metered::{Metered, Traffic};
use runtime::prom::Histogram;
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

/// Connects every request to the one origin address, metering the socket.
#[derive(Clone)]
struct Connector {
    addr: SocketAddr,
    timeout: Duration,
    traffic: Arc<Traffic>,
}

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Metered<TcpStream>>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let (addr, timeout, traffic) = (self.addr, self.timeout, self.traffic.clone());
        Box::pin(async move {
            let s = runtime::net::connect(addr, timeout).await?;
            let _ = s.set_nodelay(true);
            Ok(TokioIo::new(Metered::new(s, traffic)))
        })
    }
}

/// The origin client.
pub struct Upstream {
    client: Client<Connector, Body>,
    addr: SocketAddr,
    timeout: Duration,
    fetch_time: Option<Arc<Histogram>>,
    clock: Clock,
    /// Modelled round trip, waited (on `clock`) before each request.
    rtt: Duration,
    /// Requests sent.
    requests: AtomicU64,
    /// Of those, failed (no connection, no answer in time, broken) or
    /// answered 5xx.
    errors: AtomicU64,
}

impl Upstream {
    /// A client for the origin at `addr`.
    pub fn new(addr: SocketAddr, connect_timeout: Duration, timeout: Duration, traffic: Arc<Traffic>) -> Upstream {
        let connector = Connector { addr, timeout: connect_timeout, traffic };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        Upstream {
            client,
            addr,
            timeout,
            fetch_time: None,
            clock: Clock::wall(),
            rtt: Duration::ZERO,
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Waits `rtt` of `clock` before each request: the network model's
    /// round trip to the origin (a world's `time_scale` applies; a manual
    /// clock only yields).
    pub fn modelled(mut self, clock: Clock, rtt: Duration) -> Upstream {
        self.clock = clock;
        self.rtt = rtt;
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

    /// The origin's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Response timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The modelled round trip waited before each request.
    pub fn rtt(&self) -> Duration {
        self.rtt
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

    /// Waits the modelled round trip, counts the request and sends it;
    /// resolves when the response head arrives, with the time (on the
    /// clock) the request left after the wait: a fill's `request_time`.
    pub async fn send(&self, req: Request<Body>) -> Result<(SystemTime, Response<Incoming>), FetchError> {
        runtime::time::sleep(&self.clock, self.rtt).await;
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
        r.map(|r| (sent_at, r))
    }
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

//! Wiring: the shared state, and the two listeners served through
//! [`runtime::serve::serve_http`] (bytes metered at the socket) until
//! the server's [`Shutdown`] fires.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;

use hyper::service::service_fn;
use runtime::Shutdown;
use runtime::metered::Traffic;
use runtime::serve::{Peer, serve_http};
use tokio::net::TcpListener;
use tracing::Instrument as _;
use world::Clock;

use crate::catalog::BodyCache;
use crate::faults::FaultState;
use crate::files::Files;
use crate::rules::Rules;
use crate::stats::{Extra, Stats, StatsSnapshot};
use crate::versions::Versions;
use crate::{Config, admin, public};

/// Everything a request may touch.
#[derive(Debug)]
pub(crate) struct State {
    pub clock: Clock,
    pub catalog: world::config::Catalog,
    pub rules: Rules,
    pub bodies: BodyCache,
    pub versions: Versions,
    pub files: Option<Files>,
    pub faults: FaultState,
    pub stats: Stats,
    pub admin_token: Option<String>,
    pub public_traffic: Arc<Traffic>,
    pub admin_traffic: Arc<Traffic>,
}

impl State {
    /// Checks the config and builds the state; the error says what is wrong.
    pub fn new(config: Config) -> io::Result<State> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        let rules = Rules::new(&config.catalog.rules).map_err(invalid)?;
        let max = config.catalog.size.max.bytes();
        if max > crate::MAX_OBJECT_SIZE {
            return Err(invalid(format!(
                "catalog.size.max {} is above the origin's limit of {} (bodies are generated in memory)",
                config.catalog.size.max,
                world::ByteSize(crate::MAX_OBJECT_SIZE)
            )));
        }
        let files = match &config.root {
            Some(root) => Some(Files::new(root, config.stream_threshold)?),
            None => None,
        };
        let admin_token = config.admin_token.clone().filter(|t| !t.is_empty());
        Ok(State {
            versions: Versions::new(config.clock.now()),
            clock: config.clock,
            rules,
            bodies: BodyCache::new(config.body_cache_bytes),
            files,
            faults: FaultState::new(config.fault_seed),
            stats: Stats::new(config.max_tracked_paths),
            admin_token,
            public_traffic: Arc::new(Traffic::default()),
            admin_traffic: Arc::new(Traffic::default()),
            catalog: config.catalog,
        })
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let t = &self.public_traffic;
        self.stats.snapshot(Extra {
            bytes_out: t.out(),
            bytes_in: t.input(),
            connections: t.connections.load(std::sync::atomic::Ordering::Relaxed),
            cache: self.bodies.counts(),
        })
    }
}

/// Serves both listeners until `shutdown` fires, then drains requests in
/// flight.
pub(crate) async fn run(st: Arc<State>, public: TcpListener, admin: TcpListener, shutdown: Shutdown) {
    if let (Ok(p), Ok(a)) = (public.local_addr(), admin.local_addr()) {
        tracing::info!(public = %p, admin = %a, objects = st.catalog.objects, root = ?st.files.as_ref().map(|f| f.root().to_path_buf()), "origin listening");
    }
    let (public_st, hang) = (st.clone(), shutdown.clone());
    let public = serve_http(
        public,
        st.public_traffic.clone(),
        move |_: Peer| {
            let (st, hang) = (public_st.clone(), hang.clone());
            service_fn(move |req| {
                let (st, hang) = (st.clone(), hang.clone());
                let span = tracing::debug_span!("public", method = %req.method(), path = req.uri().path());
                async move { Ok::<_, Infallible>(public::handle(st, req, hang).instrument(span).await) }
            })
        },
        shutdown.clone(),
    );
    let admin_st = st.clone();
    let admin = serve_http(
        admin,
        st.admin_traffic.clone(),
        move |_: Peer| {
            let st = admin_st.clone();
            service_fn(move |req| {
                let st = st.clone();
                let span = tracing::debug_span!("admin", method = %req.method(), path = req.uri().path());
                async move { Ok::<_, Infallible>(admin::handle(st, req).instrument(span).await) }
            })
        },
        shutdown,
    );
    tokio::join!(public, admin);
    tracing::info!("origin stopped");
}

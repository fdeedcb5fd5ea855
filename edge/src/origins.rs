//! A replicated origin as the edge sees it: the origin sites (the primary
//! and its read replicas), each an [`Upstream`] with a health state, in
//! order of modelled RTT from this edge. A fill goes to the nearest site
//! not known down, and on a refused connection to the next
//! ([`Origins::send`]).
//!
//! **The purge race.** A purge right after a bump could be refilled from
//! a replica that has not applied the bump yet, and the old version would
//! be back for its whole TTL. Every origin answer carries its site's
//! position (`CDN-Origin-Seq`, `origin::replication`); a purge sent with
//! `origin_seq` (the primary's position when it was sent) raises this
//! edge's *floor* before it is applied, and a fill answered below the
//! floor is dropped and asked of the next site ([`Origins::send`]),
//! counted as `behind`. So once a purge is acknowledged, no fill from a
//! site that has not seen the write is stored or served here.
//!
//! Health is checked as GeoDNS checks edges and an edge its shield, with
//! the same code ([`runtime::health`]): each site's admin `/healthz`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::{Request, Response};
use hyper::body::Incoming;
use runtime::health::{Checked, State, Thresholds};

use crate::body::Body;
use crate::upstream::{FetchError, Upstream};

pub use api::edge::OriginSiteStats;
pub use api::origin::ORIGIN_SEQ;

/// One origin site, from the world (`origin.replicas`).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    /// Its region (`tokyo`).
    pub name: String,
    /// Its public address, where fills go.
    pub listen: SocketAddr,
    /// Its admin address (`/healthz`).
    pub admin: SocketAddr,
    /// Modelled round trip from this edge.
    pub rtt: Duration,
    /// Whether it is the world file's primary (its upstream is the
    /// edge's own, which passes and slices use too).
    pub primary: bool,
}

/// How an edge reads a replicated origin.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginsConfig {
    /// Every site, primary included.
    pub sites: Vec<SiteConfig>,
    /// Time between checks.
    pub interval: Duration,
    /// A slower check fails.
    pub timeout: Duration,
    /// Successes and failures in a row that change a site's state.
    pub thresholds: Thresholds,
}

/// One site: its upstream (none for the primary: the edge's own), health
/// and counters.
pub struct Site {
    /// Its settings.
    pub config: SiteConfig,
    upstream: Option<Upstream>,
    /// Its health as this edge's checks see it.
    pub health: Checked,
    /// Fills it answered below the floor (dropped, asked elsewhere).
    behind: AtomicU64,
}

impl Site {
    fn upstream<'a>(&'a self, primary: &'a Upstream) -> &'a Upstream {
        self.upstream.as_ref().unwrap_or(primary)
    }
}

/// The sites in RTT order and the floor.
pub struct Origins {
    sites: Vec<Site>,
    floor: AtomicU64,
    interval: Duration,
    timeout: Duration,
    thresholds: Thresholds,
}

impl Origins {
    /// The sites of `c`, each replica with an upstream made by `make`
    /// (the primary uses the edge's own), nearest first (the primary
    /// first among equals).
    pub fn new(c: OriginsConfig, make: impl Fn(&SiteConfig) -> Upstream) -> Origins {
        let mut sites: Vec<Site> = c
            .sites
            .into_iter()
            .map(|s| Site {
                upstream: (!s.primary).then(|| make(&s)),
                config: s,
                health: Checked::default(),
                behind: AtomicU64::new(0),
            })
            .collect();
        sites.sort_by_key(|s| (s.config.rtt, !s.config.primary));
        Origins { sites, floor: AtomicU64::new(0), interval: c.interval, timeout: c.timeout, thresholds: c.thresholds }
    }

    /// The position fills must have reached.
    pub fn floor(&self) -> u64 {
        self.floor.load(Ordering::Acquire)
    }

    /// Raises the floor (a purge with `origin_seq`); never lowers it.
    pub fn raise_floor(&self, position: u64) {
        self.floor.fetch_max(position, Ordering::AcqRel);
    }

    /// Sends a fill built by `build` to the nearest site not known down
    /// whose answer is at the floor, in RTT order: a refused connection or
    /// an answer below the floor moves on to the next site. Sites known
    /// down are tried last. Fails when none answers at the floor.
    pub async fn send(
        &self,
        primary: &Upstream,
        build: impl Fn(&Upstream) -> Result<Request<Body>, FetchError>,
    ) -> Result<(SystemTime, Response<Incoming>), FetchError> {
        let floor = self.floor();
        let (up, down): (Vec<&Site>, Vec<&Site>) = self.sites.iter().partition(|s| s.health.state() != State::Down);
        let mut last = None;
        for s in up.into_iter().chain(down) {
            let u = s.upstream(primary);
            match u.send(build(u)?).await {
                Ok((t, r)) => {
                    let at = position_of(&r);
                    if at >= floor {
                        return Ok((t, r));
                    }
                    s.behind.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(site = %s.config.name, at, floor, "origin site behind the last purge: asking the next");
                    last = Some(FetchError::Broken(format!(
                        "every origin site answered below the last purge's origin position {floor} (last: {} at {at})",
                        s.config.name
                    )));
                }
                Err(FetchError::Connect(why)) => {
                    tracing::debug!(site = %s.config.name, %why, "origin site unreachable: asking the next");
                    last = Some(FetchError::Connect(why));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| FetchError::Connect("no origin site".into())))
    }

    /// Fills sent to the replicas (the primary's are the edge's own upstream's).
    pub fn replica_requests(&self) -> u64 {
        self.sites.iter().filter_map(|s| s.upstream.as_ref()).map(Upstream::requests).sum()
    }

    /// Counters of every site.
    pub fn stats(&self, primary: &Upstream) -> Vec<OriginSiteStats> {
        self.sites
            .iter()
            .map(|s| {
                let u = s.upstream(primary);
                OriginSiteStats {
                    name: s.config.name.clone(),
                    state: s.health.state().as_str().into(),
                    requests: u.requests(),
                    errors: u.errors(),
                    behind: s.behind.load(Ordering::Relaxed),
                    rtt_ms: s.config.rtt.as_secs_f64() * 1e3,
                }
            })
            .collect()
    }

    /// One check of every site's `/healthz`, recorded.
    pub async fn check(&self) {
        for s in &self.sites {
            let t0 = std::time::Instant::now();
            let (ok, detail) = runtime::health::probe(s.config.admin, self.timeout).await;
            if let Some(new) = s.health.record(self.thresholds, ok, detail.clone(), t0.elapsed()) {
                tracing::info!(site = %s.config.name, admin = %s.config.admin, error = %detail, "origin site is {}", new.as_str());
            }
        }
    }
}

/// The position an origin answered (`CDN-Origin-Seq`); 0 without one.
pub fn position_of(r: &Response<Incoming>) -> u64 {
    r.headers().get(ORIGIN_SEQ).and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0)
}

/// Checks the sites (`origins_of(owner)`, if any) every interval until
/// `shutdown` fires.
pub async fn watch<S>(
    owner: std::sync::Arc<S>,
    origins_of: fn(&S) -> Option<&Origins>,
    mut shutdown: runtime::Shutdown,
) {
    let Some(o) = origins_of(&owner) else { return };
    let mut tick = tokio::time::interval(o.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => o.check().await,
        }
    }
}

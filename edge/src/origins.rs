//! A replicated origin as the edge sees it: the origin sites (the primary
//! and its read replicas), each an [`Upstream`] with a health state, in
//! order of modelled RTT from this edge. A fill goes to the nearest site
//! not known down, and on a refused connection to the next
//! ([`Origins::send`]).
//!
//! Reads (fills, revalidations, slices, GET/HEAD passed through) go
//! there; writes (every other method passed through) go to the primary
//! *now*: the site whose last `/replication` said primary of the highest
//! epoch, not known down ([`Origins::writer`]), so they follow a
//! promotion; the world file's primary only until a check has said.
//!
//! **The purge race.** A purge right after a bump could be refilled from
//! a replica that has not applied the bump yet, and the old version would
//! be back for its whole TTL. Every origin answer carries its site's
//! position (`CDN-Origin-Seq`, `origin::replication`); a purge sent with
//! `origin_seq` (the primary's position when it was sent) raises the
//! *floor* of what it named before it is applied ([`crate::floors`]), and
//! a fill answered below its object's floor is dropped and asked of the
//! next site ([`Origins::send`]), counted as `behind`. So once a purge is
//! acknowledged, no fill of a purged object from a site that has not seen
//! the write is stored or served here, while other objects keep filling
//! from the nearest site.
//!
//! Health is checked as GeoDNS checks edges and an edge its shield, with
//! the same thresholds ([`runtime::health`]), on each site's admin
//! `/replication`, which also says its role, epoch and position.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use api::origin::ReplicationStatus;
use api::purge::Target;
use http::{Request, Response};
use hyper::body::Incoming;
use runtime::health::{Checked, State, Thresholds};

use crate::body::Body;
use crate::floors::Floors;
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
    /// The epoch it is primary of, as its last `/replication` said (0: a
    /// replica, or not heard yet).
    primary_of: AtomicU64,
    /// Its position, as its last `/replication` said.
    position: AtomicU64,
    /// Its epoch, as its last `/replication` said.
    epoch: AtomicU64,
    /// Whether a `/replication` of it has been read.
    heard: AtomicBool,
}

impl Site {
    fn upstream<'a>(&'a self, primary: &'a Upstream) -> &'a Upstream {
        self.upstream.as_ref().unwrap_or(primary)
    }
}

/// The sites in RTT order and the purge floors.
pub struct Origins {
    sites: Vec<Site>,
    floors: Floors,
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
                primary_of: AtomicU64::new(0),
                position: AtomicU64::new(0),
                epoch: AtomicU64::new(0),
                heard: AtomicBool::new(false),
            })
            .collect();
        sites.sort_by_key(|s| (s.config.rtt, !s.config.primary));
        Origins { sites, floors: Floors::default(), interval: c.interval, timeout: c.timeout, thresholds: c.thresholds }
    }

    /// The purge floors.
    pub fn floors(&self) -> &Floors {
        &self.floors
    }

    /// A purge of `target` with `origin_seq` = `position`: raises that
    /// scope's floor (never lowers it).
    pub fn raise_floor(&self, target: &Target, position: u64) {
        self.floors.raise(target, position);
    }

    /// Where a write goes: the site that last said it is primary of the
    /// highest epoch, unless known down; the world file's primary (the
    /// edge's own upstream, `primary`) until one has said so.
    pub fn writer<'a>(&'a self, primary: &'a Upstream) -> &'a Upstream {
        self.sites
            .iter()
            .filter(|s| s.health.state() != State::Down)
            .map(|s| (s.primary_of.load(Ordering::Acquire), s))
            .filter(|(epoch, _)| *epoch > 0)
            .max_by_key(|(epoch, _)| *epoch)
            .map_or(primary, |(_, s)| s.upstream(primary))
    }

    /// Sends a read of `key` built by `build` to the nearest site not
    /// known down whose answer is at the key's floor, in RTT order: a
    /// refused connection or an answer below the floor moves on to the
    /// next site. Sites known down are tried last. Fails when none
    /// answers at the floor.
    pub async fn send(
        &self,
        primary: &Upstream,
        key: &str,
        build: impl Fn(&Upstream) -> Result<Request<Body>, FetchError>,
    ) -> Result<(SystemTime, Response<Incoming>), FetchError> {
        let (up, down): (Vec<&Site>, Vec<&Site>) = self.sites.iter().partition(|s| s.health.state() != State::Down);
        let mut last = None;
        for s in up.into_iter().chain(down) {
            let u = s.upstream(primary);
            match u.send(build(u)?).await {
                Ok((t, r)) => {
                    let at = position_of(&r);
                    // Read after the answer: a purge acknowledged before
                    // it arrived holds it back.
                    let floor = self.floors.required(key, r.headers());
                    if at >= floor {
                        return Ok((t, r));
                    }
                    s.behind.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(site = %s.config.name, key, at, floor, "origin site behind a purge of this object: asking the next");
                    last = Some(FetchError::Broken(format!(
                        "every origin site answered below the origin position {floor} of a purge of {key} (last: {} at {at})",
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

    /// The sites other than the world file's primary: region and upstream.
    pub fn replicas(&self) -> impl Iterator<Item = (&str, &Upstream)> {
        self.sites.iter().filter_map(|s| Some((s.config.name.as_str(), s.upstream.as_ref()?)))
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
                    role: match (s.heard.load(Ordering::Acquire), s.primary_of.load(Ordering::Acquire)) {
                        (false, _) => String::new(),
                        (true, 0) => "replica".into(),
                        (true, _) => "primary".into(),
                    },
                    epoch: s.epoch.load(Ordering::Acquire),
                    position: s.position.load(Ordering::Acquire),
                    requests: u.requests(),
                    errors: u.errors(),
                    behind: s.behind.load(Ordering::Relaxed),
                    bytes_received: u.bytes().0,
                    bytes_sent: u.bytes().1,
                    rtt_ms: s.config.rtt.as_secs_f64() * 1e3,
                }
            })
            .collect()
    }

    /// One check of every site's `/replication`, recorded (health, role,
    /// position); then the scoped floors every live site has passed are
    /// folded into the global one ([`Floors::expire`]).
    pub async fn check(&self) {
        for s in &self.sites {
            let t0 = std::time::Instant::now();
            let (ok, detail) = match replication(s.config.admin, self.timeout).await {
                Ok(r) => {
                    let epoch = if r.role == "primary" { r.epoch } else { 0 };
                    s.primary_of.store(epoch, Ordering::Release);
                    s.position.store(r.position, Ordering::Release);
                    s.epoch.store(r.epoch, Ordering::Release);
                    s.heard.store(true, Ordering::Release);
                    (true, String::new())
                }
                Err(why) => (false, why),
            };
            if let Some(new) = s.health.record(self.thresholds, ok, detail.clone(), t0.elapsed()) {
                tracing::info!(site = %s.config.name, admin = %s.config.admin, error = %detail, "origin site is {}", new.as_str());
            }
        }
        if let Some(passed) = self.passed() {
            self.floors.expire(passed);
        }
    }

    /// The lowest position of the sites not known down, when each has
    /// reported one (none when every site is down).
    fn passed(&self) -> Option<u64> {
        let live: Vec<&Site> = self.sites.iter().filter(|s| s.health.state() != State::Down).collect();
        if live.iter().any(|s| !s.heard.load(Ordering::Acquire)) {
            return None;
        }
        live.iter().map(|s| s.position.load(Ordering::Acquire)).min()
    }
}

/// A site's `/replication`, or why not.
async fn replication(admin: SocketAddr, timeout: Duration) -> Result<ReplicationStatus, String> {
    match runtime::http_get::get(admin, "/replication", timeout).await {
        Ok((s, body)) if s == http::StatusCode::OK => {
            serde_json::from_slice(&body).map_err(|e| format!("bad /replication: {e}"))
        }
        Ok((s, _)) => Err(format!("status {s}")),
        Err(e) => Err(e),
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

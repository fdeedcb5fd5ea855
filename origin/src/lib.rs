//! The origin: the customer's web server every edge pulls from.
//!
//! It serves a deterministic *synthetic catalog* at `/obj/{id}` (size, body,
//! headers decided by the id, its version and the world's catalog rules, so
//! any client can check the bytes against `Content-Digest`), optionally a
//! directory of real files (`--root`), and `/echo/…` for pass-through and
//! invalidation tests. GET and HEAD follow RFC 9110: conditionals (304,
//! 412), ranges (206, multipart, 416). A second listener takes admin
//! requests: faults, bumps, stats, metrics.
//!
//! Layout, top calls down:
//! - [`cli`]: flags, the world file, binding, the ready line (`main.rs` and
//!   `cdn origin` both call [`cli::run`]);
//! - this file: [`Config`], [`serve`], [`spawn`] and the test [`Handle`];
//! - `state`: what every request shares; `server`: the two listeners on
//!   `runtime::serve`;
//! - `public` (the request path) and `admin` (the admin routes);
//! - `respond` (one representation → 200/206/304/412/416), built on
//!   [`conditional`] and [`range`];
//! - [`catalog`] (sizes, bodies, ETags, body cache), [`files`] (safe paths,
//!   streaming), [`rules`], [`versions`] (bumps), [`faults`], [`stats`];
//! - [`replication`] (primary or replica: role, epoch, change log,
//!   position) and `follow` (the task that follows the primary, checks
//!   peers' epochs and promotes; docs/topology.md, "Replicated origin").
//! - `body` (the response body type), `reject` (errors → statuses).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use runtime::Shutdown;
use tokio::net::TcpListener;
use world::Clock;

mod admin;
mod body;
pub mod catalog;
pub mod cli;
pub mod conditional;
pub mod faults;
pub mod files;
mod follow;
mod public;
pub mod range;
mod reject;
pub mod replication;
mod respond;
pub mod rules;
mod server;
mod state;
pub mod stats;
pub mod versions;

pub use api::origin::ReplicationStatus;
pub use faults::{Faults, FaultsPatch, Outage};
pub use stats::StatsSnapshot;
pub use versions::{Bump, BumpError, Bumped};

use state::State;

/// Default bytes of generated bodies kept in memory.
pub const DEFAULT_BODY_CACHE: u64 = 64 * 1024 * 1024;
/// Default size above which files are streamed instead of read whole.
pub const DEFAULT_STREAM_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Largest catalog object: bodies are generated whole in memory, so a
/// world asking for more is refused at start rather than running the
/// machine out of memory.
pub const MAX_OBJECT_SIZE: u64 = 256 * 1024 * 1024;
/// Default number of distinct paths whose request counts are kept.
pub const DEFAULT_MAX_TRACKED_PATHS: usize = 100_000;

/// How to run an origin.
#[derive(Debug, Clone)]
pub struct Config {
    /// The synthetic catalog: object count, size model, groups, header rules.
    pub catalog: world::config::Catalog,
    /// Directory of real files served outside `/obj/` and `/echo/`.
    pub root: Option<PathBuf>,
    /// Bearer token of the mutating admin routes; `None` (or empty): those
    /// routes are off (403).
    pub admin_token: Option<String>,
    /// The world's clock (Date, Last-Modified, injected latency).
    pub clock: Clock,
    /// Bytes of generated bodies kept in memory.
    pub body_cache_bytes: u64,
    /// Files bigger than this are streamed from disk.
    pub stream_threshold: u64,
    /// Distinct paths whose request counts are kept.
    pub max_tracked_paths: usize,
    /// Seed of the error-rate draws.
    pub fault_seed: u64,
    /// This site's part in a replicated origin (the default: a lone primary).
    pub replication: replication::ReplicationConfig,
    /// How the public listener paces its clients: by the world's link
    /// between the client's region and the origin's (`runtime::pace`);
    /// the admin listener is never paced.
    pub pacing: runtime::pace::Pacing,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            catalog: world::config::Catalog::default(),
            root: None,
            admin_token: None,
            clock: Clock::wall(),
            body_cache_bytes: DEFAULT_BODY_CACHE,
            stream_threshold: DEFAULT_STREAM_THRESHOLD,
            max_tracked_paths: DEFAULT_MAX_TRACKED_PATHS,
            fault_seed: 0,
            replication: replication::ReplicationConfig::default(),
            pacing: runtime::pace::Pacing::off(),
        }
    }
}

impl Config {
    /// The origin of a world: its catalog, admin token (`CDNLAB_ADMIN_TOKEN`
    /// wins), clock, and pacing by the links to its region.
    pub fn from_world(w: &world::World) -> Config {
        let clock = Clock::for_scale(w.time_scale);
        Config {
            catalog: w.catalog.clone(),
            admin_token: w.admin_token(),
            pacing: runtime::pace::Pacing::new(w, &w.origin.region, clock.clone()),
            clock,
            ..Config::default()
        }
    }

    /// The origin site of a world in `region` (the primary's region, or a
    /// replica's): its catalog, token and clock, and its replication:
    /// whom it follows, its peers, the lag and promotion settings.
    pub fn for_site(w: &world::World, region: &str) -> Result<Config, String> {
        let sites = w.origin_sites();
        let Some(me) = sites.iter().find(|s| s.region == region) else {
            let names: Vec<&str> = sites.iter().map(|s| s.region.as_str()).collect();
            return Err(format!("no origin site in `{region}` (sites: {})", names.join(", ")));
        };
        let primary = sites.iter().find(|s| s.primary).map(|s| s.admin);
        let rank = w.origin.replicas.iter().position(|r| r == region).unwrap_or(0) as u32;
        let mut c = Config::from_world(w);
        c.replication = replication::ReplicationConfig {
            replicated: w.is_replicated(),
            region: region.to_string(),
            follow: if me.primary { None } else { primary },
            peers: sites.iter().filter(|s| s.region != region).map(|s| (s.region.clone(), s.admin)).collect(),
            lag: w.origin.replication_lag.0,
            promote_after: w.origin.promote_after.map(|d| d.0),
            rank,
            check_interval: w.origin.health.interval.0,
            check_timeout: w.origin.health.timeout.0,
            ..replication::ReplicationConfig::default()
        };
        Ok(c)
    }

    /// Checks what [`serve`] would refuse (catalog rules, the root), so a
    /// binary can fail before it binds.
    pub fn validate(&self) -> io::Result<()> {
        State::new(self.clone()).map(|_| ())
    }
}

/// An origin with its listeners bound and its configuration checked, not
/// serving yet (so a binary can print its ready line in between).
#[derive(Debug)]
pub struct Bound {
    st: Arc<State>,
    public: TcpListener,
    admin: TcpListener,
    /// The public address actually bound.
    pub public_addr: SocketAddr,
    /// The admin address actually bound.
    pub admin_addr: SocketAddr,
}

/// Checks the configuration and binds both addresses (port 0 allowed).
pub async fn bind(config: Config, public: SocketAddr, admin: SocketAddr) -> io::Result<Bound> {
    let st = State::new(config)?;
    let public = runtime::net::bind("origin public", public).await?;
    let admin = runtime::net::bind("origin admin", admin).await?;
    Bound::with(st, public, admin)
}

impl Bound {
    /// An origin on already-bound listeners; fails on an invalid config.
    pub fn on(config: Config, public: TcpListener, admin: TcpListener) -> io::Result<Bound> {
        Bound::with(State::new(config)?, public, admin)
    }

    fn with(st: State, public: TcpListener, admin: TcpListener) -> io::Result<Bound> {
        let (public_addr, admin_addr) = (public.local_addr()?, admin.local_addr()?);
        Ok(Bound { st: Arc::new(st), public, admin, public_addr, admin_addr })
    }

    /// Serves both listeners until `shutdown` fires, then lets requests in
    /// flight finish.
    pub async fn serve(self, shutdown: Shutdown) {
        server::run(self.st, self.public, self.admin, shutdown).await;
    }

    /// Serves in a task of this process; the handle stops it.
    pub fn spawn(self) -> Handle {
        let (public, admin, state) = (self.public_addr, self.admin_addr, self.st.clone());
        let server = runtime::Handle::spawn(|shutdown| async move {
            self.serve(shutdown).await;
            Ok(())
        });
        Handle { public, admin, state, server }
    }
}

/// Serves on already-bound listeners until `shutdown` fires. Fails at
/// once on an invalid config.
pub async fn serve(config: Config, public: TcpListener, admin: TcpListener, shutdown: Shutdown) -> io::Result<()> {
    Bound::on(config, public, admin)?.serve(shutdown).await;
    Ok(())
}

/// Starts an origin in this process (for tests): binds both addresses
/// (port 0 allowed) and returns at once. Dropping the handle stops it.
pub async fn spawn(config: Config, public: SocketAddr, admin: SocketAddr) -> io::Result<Handle> {
    Ok(bind(config, public, admin).await?.spawn())
}

/// A running in-process origin.
#[derive(Debug)]
pub struct Handle {
    /// The public address actually bound.
    pub public: SocketAddr,
    /// The admin address actually bound.
    pub admin: SocketAddr,
    state: Arc<State>,
    server: runtime::Handle<Infallible>,
}

impl Handle {
    /// `http://{public}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.public)
    }

    /// `http://{admin}{path}`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.snapshot()
    }

    /// Public requests received for `path` so far.
    pub fn requests_for(&self, path: &str) -> u64 {
        self.state.stats.requests_for(path)
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.state.faults.get()
    }

    /// Replaces the faults in force; invalid values are logged and ignored
    /// (see [`Handle::try_set_faults`]).
    pub fn set_faults(&self, f: Faults) {
        if let Err(e) = self.try_set_faults(f) {
            tracing::warn!(error = %e, "set_faults ignored");
        }
    }

    /// Replaces the faults in force, or says which value is invalid.
    pub fn try_set_faults(&self, f: Faults) -> Result<Faults, String> {
        self.state.faults.set(f)
    }

    /// Bumps a path or prefix to a new version; `None` when refused (see
    /// [`Handle::try_bump`]).
    pub fn bump(&self, b: Bump) -> Option<Bumped> {
        self.try_bump(b).map_err(|e| tracing::warn!(error = %e, "bump refused")).ok()
    }

    /// Bumps a path or prefix, or says why not (a replica refuses).
    pub fn try_bump(&self, b: Bump) -> Result<Bumped, replication::WriteError> {
        self.state.replication.write(&self.state.versions, &b, self.state.clock.now(), None)
    }

    /// Its replication state (role, epoch, position, lag).
    pub fn replication(&self) -> api::origin::ReplicationStatus {
        self.state.replication.status(self.state.clock.unix_ms())
    }

    /// The current version of `path` (1 + bumps covering it).
    pub fn version_of(&self, path: &str) -> u64 {
        self.state.versions.of(path).n
    }

    /// Stops the origin and waits until requests in flight are done.
    pub async fn shutdown(self) {
        let Ok(()) = self.server.shutdown().await;
    }
}

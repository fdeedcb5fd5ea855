//! The cdnlab edge: an HTTP cache in front of one origin.
//!
//! An edge listens twice: the public listener answers clients (plain hyper;
//! fresh hits from the memory tier are answered before any routing), the
//! admin listener (axum) serves `/healthz`, `/stats` and `/metrics`. The cache is a
//! memory tier over a disk tier ([`store`]); freshness follows RFC 9111 for
//! shared caches plus RFC 5861, 9213 and the world's TTL rules
//! ([`freshness`]); one origin fetch per missing key however many clients
//! wait ([`flight`], [`fetch`]), streamed to all of them as it arrives
//! ([`growing`]); every response says what happened in
//! `Cache-Status` ([`cache_status`]). The request path is drawn in
//! [`proxy`]. Every byte is metered and priced ([`meter`], [`stats`],
//! [`metrics`]); [`admission`] keeps rarely used objects out of the cache;
//! [`access_log`] logs requests when asked; [`shadow`] keeps what-if
//! caches of other policies and sizes beside the real one.
//!
//! Purges (`POST /purge` on the admin listener: URL, prefix, tag, all;
//! hard or soft) and the index and journal behind them are in [`purge`];
//! with `--bus`, purges come from the world's purge log on NATS JetStream
//! and the edge registers itself there ([`control`], docs/bus.md).
//!
//! Entry points: [`Config`] (from a world, or standalone in front of any
//! loopback origin), the server shape every cdnlab server has ([`bind`] →
//! [`Bound`] → [`Bound::serve`] or [`Bound::spawn`] → [`Handle`]), [`spawn`]
//! for tests, and [`cli`] for the `edge` binary and `cdn edge`.

pub mod access_log;
pub mod admin;
pub mod admission;
pub mod body;
pub mod bodyfile;
pub mod cache_status;
pub mod cli;
pub mod cluster;
pub mod conditional;
pub mod conn;
pub mod control;
pub mod datadir;
pub mod entry;
pub mod fetch;
pub mod fill;
pub mod flight;
pub mod floors;
pub mod freshness;
#[doc(hidden)]
pub mod fuzzing;
pub mod growing;
pub mod head;
pub mod headers;
pub mod health;
pub mod inbound;
pub mod key;
pub mod meter;
pub mod metrics;
pub mod origins;
pub mod proxy;
pub mod purge;
pub mod respond;
pub mod sendfile;
pub mod service;
pub mod shadow;
pub mod slice;
pub mod state;
pub mod stats;
pub mod store;
pub mod tier;
pub mod upstream;
pub mod vary;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::service::TowerToHyperService;
use runtime::Shutdown;
use runtime::metered::Traffic;
use runtime::serve::{serve_connections_limited, serve_http, serve_http_paced};
use tokio::net::TcpListener;
use world::config::EdgeOverrides;
use world::uri::checked_host;
use world::{CacheRule, Clock, EdgeSettings, World};

use crate::fill::Fetched;
use crate::flight::Flights;
use crate::meter::Meter;
use crate::state::EdgeState;
use crate::store::{Store, StoreConfig, StoreError};
use crate::upstream::{FetchError, Upstream};

/// Everything an edge needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Edge name (`seoul`); `Cache-Status` says `edge-{name}`.
    pub name: String,
    /// Region, when in a world.
    pub region: Option<String>,
    /// Public address.
    pub listen: SocketAddr,
    /// Admin address.
    pub admin: SocketAddr,
    /// The origin's address.
    pub origin: SocketAddr,
    /// `Host` sent to the origin on every request, whatever the client
    /// sent (the world's `origin.host`, `--origin-host`, or the origin
    /// URL's authority). See docs/security.md.
    pub origin_host: String,
    /// Modelled RTT to the origin (reported in `/stats`; the origin paces
    /// its responses by the whole link, `runtime::pace`).
    pub rtt_to_origin: Duration,
    /// How the public and tier listeners pace their clients (the world's
    /// links to this edge's region; off standalone, with `--no-pacing` or
    /// `[network] pacing = false`).
    pub pacing: runtime::pace::Pacing,
    /// Pacing of what the edge receives from its origin: off for the
    /// world's own origin (it paces what it sends); for your own origin
    /// (`--origin URL`, which paces nothing), the link between the edge's
    /// region and the world's origin region, applied by the edge as it
    /// reads ([`runtime::pace::Fetching`]).
    pub origin_unpaced: runtime::pace::Fetching,
    /// The address upstream fetches leave from: the edge's own address in
    /// its region, so the origin or shield locates it and paces its
    /// response over the link between them (`None`: any).
    pub source: Option<std::net::IpAddr>,
    /// Cache sizes and placement.
    pub store: StoreConfig,
    /// Objects above `store.max_object` are cached in slices of this size,
    /// fetched with range requests (0: stream them through uncached).
    pub slice_size: u64,
    /// Origin response timeout (504 after it).
    pub origin_timeout: Duration,
    /// Origin connect timeout (502 after it).
    pub connect_timeout: Duration,
    /// Idle upstream connections kept, and for how long.
    pub pool: upstream::Pool,
    /// Per-path TTL rules.
    pub rules: Vec<CacheRule>,
    /// Admin bearer token (the world's, or `CDNLAB_ADMIN_TOKEN`). `None`:
    /// the edge uses the token in `{data_dir}/admin-token`, generating it
    /// on first start; the purge API is never open to all.
    pub admin_token: Option<String>,
    /// The clock.
    pub clock: Clock,
    // Cost and observability.
    /// Prices of the edge's region.
    pub prices: world::price::Prices,
    /// Admission: store a URL only from its `min_uses`-th fill …
    pub min_uses: u32,
    /// … within this window (rules may override both by path).
    pub min_uses_window: Duration,
    /// Log one line per request.
    pub access_log: bool,
    /// What-if caches beside the real one (empty: off).
    pub shadow: Vec<world::policy::ShadowCache>,
    /// The share of keys they follow (1: every key; [`shadow`]).
    pub shadow_sample: f64,
    /// Client connections: at most this many at once (more are answered
    /// 503 and closed), and closed when a complete request head has not
    /// arrived this long after the connection opened or its last response
    /// (idle keep-alive connections and slow heads alike).
    pub limits: runtime::serve::ConnLimits,
    /// Empty the data directory's cache before opening it (`--fresh`);
    /// without it, a cache filled from another origin is refused
    /// ([`datadir`]).
    pub fresh: bool,
    /// The control bus this edge follows (`None`: purges by HTTP only).
    pub bus: Option<control::BusConfig>,
    /// The origin shield this edge fills from (`None`: the origin).
    pub shield: Option<tier::ShieldConfig>,
    /// The sites of a replicated origin this edge fills from, the
    /// primary (`origin`) among them (`None`: the one origin).
    pub origins: Option<origins::OriginsConfig>,
    /// When this edge is a shield: its tier listener, where lower tiers
    /// fill from; when it is a node of a hashed PoP: its peer listener,
    /// where the other nodes fill the keys it owns (port 0 picks one).
    pub tier_listen: Option<SocketAddr>,
    /// The hashed PoP this edge is a node of (`None`: not one).
    pub cluster: Option<cluster::ClusterConfig>,
    /// As a shield: how long a fill from a lower tier that has applied a
    /// purge this edge has not waits for it (`CDN-Purge-Seq`) before it is
    /// answered without the cache.
    pub catch_up: Duration,
}

/// A world does not describe the requested edge.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No such edge.
    #[error("no edge named `{0}` in the world (edges: {1})")]
    UnknownEdge(String, String),
    /// The edge is a PoP: its nodes run, not it.
    #[error("edge `{0}` is a PoP of {1} nodes: start its nodes ({2}) and its balancer (`cdn pop --name {0}`)")]
    Pop(String, u32, String),
    /// The origin URL or host is not usable.
    #[error(transparent)]
    Origin(#[from] world::uri::OriginError),
}

impl Config {
    /// The configuration of edge `name` in a world.
    pub fn from_world(w: &World, name: &str) -> Result<Config, ConfigError> {
        Config::from_world_with(w, name, &EdgeOverrides::default())
    }

    /// The configuration of edge `name` in a world, with one more layer of
    /// settings over the edge's own (the `edge` command's flags), merged
    /// as every layer is ([`EdgeSettings::apply`]).
    pub fn from_world_with(w: &World, name: &str, extra: &EdgeOverrides) -> Result<Config, ConfigError> {
        // A PoP node runs as an edge of its own, with the PoP's settings.
        let node = w.node_edge(name);
        let e = node.as_ref().or_else(|| w.edge(name)).ok_or_else(|| {
            ConfigError::UnknownEdge(
                name.into(),
                w.cache_servers().iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", "),
            )
        })?;
        if let Some(pop) = &e.pop {
            let nodes = world::pop::nodes_of(e).into_iter().map(|n| n.name).collect::<Vec<_>>().join(", ");
            return Err(ConfigError::Pop(e.name.clone(), pop.nodes, nodes));
        }
        let cluster = cluster_config(w, name);
        let mut s = w.settings_of(e);
        s.apply(extra);
        let origin_host = w.origin.host.clone().unwrap_or_else(|| w.origin.listen.to_string());
        let clock = Clock::for_scale(w.time_scale);
        let here = w.regions.iter().position(|r| r.name == e.region);
        let source = Some(e.listen.ip()).filter(|ip| here.is_some() && w.region_at(*ip) == here);
        let shield = match (w.upstream_of(e), &w.shield) {
            (world::tiers::Upstream::Shield { edge: s, listen }, Some(ws)) => Some(tier::ShieldConfig {
                name: s.name.clone(),
                listen,
                admin: s.admin,
                rtt: w.rtt(&e.region, &s.region).unwrap_or_default(),
                fallback: ws.fallback,
                interval: ws.health.interval.0,
                timeout: ws.health.timeout.0,
                thresholds: runtime::health::Thresholds::new(ws.health.rise, ws.health.fall),
            }),
            _ => None,
        };
        Ok(Config {
            name: e.name.clone(),
            region: Some(e.region.clone()),
            listen: e.listen,
            admin: e.admin,
            origin: w.origin.listen,
            origin_host: checked_host(origin_host)?,
            rtt_to_origin: w.rtt(&e.region, &w.origin.region).unwrap_or_default(),
            pacing: runtime::pace::Pacing::new(w, &e.region, clock.clone()),
            origin_unpaced: runtime::pace::Fetching::off(),
            source,
            store: store_config(&e.name, &s, w.data_dir_of(e)),
            slice_size: s.slice_size.0.min(s.max_object.0),
            origin_timeout: s.origin_timeout.0,
            connect_timeout: s.connect_timeout.0,
            pool: pool_of(&s),
            rules: w.cache.rules.clone(),
            admin_token: w.admin_token(),
            clock,
            prices: w.prices_in(&e.region),
            min_uses: s.min_uses,
            min_uses_window: s.min_uses_window.0,
            access_log: s.access_log,
            shadow: s.shadow.clone(),
            shadow_sample: s.shadow_sample,
            limits: runtime::serve::ConnLimits::default(),
            fresh: false,
            bus: None,
            shield,
            origins: origins_of(w, &e.region),
            tier_listen: match &cluster {
                Some(c) => Some(c.nodes[c.me].peer),
                None => w.is_shield(e).then(|| w.shield_listen()).flatten(),
            },
            cluster,
            catch_up: w.shield.as_ref().map_or(DEFAULT_CATCH_UP, |s| s.catch_up.0),
        })
    }

    /// An edge without a world, in front of any origin on loopback; only
    /// response headers decide what is cached. The origin is sent `Host:
    /// {origin}` until [`Config::origin_host`] says otherwise.
    pub fn standalone(origin: SocketAddr, listen: SocketAddr, admin: SocketAddr, data_dir: PathBuf) -> Config {
        Config::standalone_with(origin, listen, admin, data_dir, &EdgeSettings::default())
    }

    /// [`Config::standalone`] with settings `s` (the defaults with the
    /// `edge` command's flags over them).
    pub fn standalone_with(
        origin: SocketAddr,
        listen: SocketAddr,
        admin: SocketAddr,
        data_dir: PathBuf,
        s: &EdgeSettings,
    ) -> Config {
        Config {
            name: "edge".into(),
            region: None,
            listen,
            admin,
            origin,
            origin_host: origin.to_string(),
            rtt_to_origin: Duration::ZERO,
            pacing: runtime::pace::Pacing::off(),
            origin_unpaced: runtime::pace::Fetching::off(),
            source: None,
            store: store_config("edge", s, data_dir),
            slice_size: s.slice_size.0,
            origin_timeout: s.origin_timeout.0,
            connect_timeout: s.connect_timeout.0,
            pool: pool_of(s),
            rules: Vec::new(),
            admin_token: std::env::var(world::load::ADMIN_TOKEN_ENV).ok().filter(|t| !t.is_empty()),
            clock: Clock::wall(),
            prices: world::price::Prices::default(),
            min_uses: s.min_uses,
            min_uses_window: s.min_uses_window.0,
            access_log: s.access_log,
            shadow: s.shadow.clone(),
            shadow_sample: s.shadow_sample,
            limits: runtime::serve::ConnLimits::default(),
            fresh: false,
            bus: None,
            shield: None,
            origins: None,
            tier_listen: None,
            cluster: None,
            catch_up: DEFAULT_CATCH_UP,
        }
    }
}

/// The origin sites of a replicated world as seen from `region` (RTT by
/// the world's model); `None` for a world with one origin.
fn origins_of(w: &World, region: &str) -> Option<origins::OriginsConfig> {
    if !w.is_replicated() {
        return None;
    }
    let h = &w.origin.health;
    Some(origins::OriginsConfig {
        sites: w
            .origin_sites()
            .into_iter()
            .map(|s| origins::SiteConfig {
                rtt: w.rtt(region, &s.region).unwrap_or_default(),
                name: s.region,
                listen: s.listen,
                admin: s.admin,
                primary: s.primary,
            })
            .collect(),
        interval: h.interval.0,
        timeout: h.timeout.0,
        thresholds: runtime::health::Thresholds::new(h.rise, h.fall),
    })
}

/// The hashed PoP node `name` is in, if it is a node of one (a PoP of
/// another policy shards nothing: its nodes are plain edges).
fn cluster_config(w: &World, name: &str) -> Option<cluster::ClusterConfig> {
    let (pop_edge, node) = w.node(name)?;
    let pop = pop_edge.pop.as_ref().filter(|p| p.policy == world::config::PopPolicy::Hash)?;
    let nodes = world::pop::nodes_of(pop_edge)
        .into_iter()
        .map(|n| cluster::NodeConfig { name: n.name, peer: n.peer, admin: n.admin })
        .collect();
    Some(cluster::ClusterConfig {
        pop: pop_edge.name.clone(),
        nodes,
        me: node.index,
        hot_key_rps: pop.hot_key_rps,
        rtt: w.rtt(&pop_edge.region, &pop_edge.region).unwrap_or_default(),
        interval: pop.health.interval.0,
        timeout: pop.health.timeout.0,
        thresholds: runtime::health::Thresholds::new(pop.health.rise, pop.health.fall),
    })
}

fn pool_of(s: &EdgeSettings) -> upstream::Pool {
    upstream::Pool { max_idle: s.upstream_pool as usize, idle_timeout: s.upstream_idle_timeout.0 }
}

/// How long a shield waits for a purge a lower tier has applied, unless
/// the world says (`shield.catch_up`).
pub use world::config::DEFAULT_CATCH_UP;

fn store_config(name: &str, s: &EdgeSettings, dir: PathBuf) -> StoreConfig {
    StoreConfig {
        name: format!("edge-{name}"),
        memory: s.memory.0,
        disk: s.disk.0,
        max_object: s.max_object.0,
        write_buffer: world::bounds::write_buffer(s.disk_write_buffer.map(|b| b.0), s.max_object.0),
        eviction: s.eviction,
        promotion: s.disk_promotion,
        disk_slice: s.slice_size.0.min(s.max_object.0),
        dir,
        body_file: true,
    }
}

/// Why an edge stopped.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The cache could not open.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A listener could not be bound.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The purge journal could not be opened or replayed.
    #[error(transparent)]
    Purge(#[from] purge::PurgeError),
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory holds another origin's cache.
    #[error(transparent)]
    DataDir(#[from] datadir::DataDirError),
}

/// Where an edge's admin token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Configured (the world or `CDNLAB_ADMIN_TOKEN`).
    Configured,
    /// Read from the token file in the data directory.
    File(PathBuf),
    /// Generated at this start and written to the token file.
    Generated(PathBuf),
    /// None: the token file could not be written; the purge API is off.
    Off(String),
}

/// The admin token of an edge configured without one: the data
/// directory's token file, created on first start (mode 0600). When that
/// fails the purge API stays off (403, with the reason) rather than open.
fn admin_token(c: &Config) -> (Option<String>, TokenSource) {
    if let Some(t) = &c.admin_token {
        return (Some(t.clone()), TokenSource::Configured);
    }
    let path = runtime::auth::token_file(&c.store.dir);
    match runtime::auth::load_or_create_token(&c.store.dir) {
        Ok((t, true)) => (Some(t), TokenSource::Generated(path)),
        Ok((t, false)) => (Some(t), TokenSource::File(path)),
        Err(e) => (None, TokenSource::Off(format!("{}: {e}", path.display()))),
    }
}

/// Opens the store; a disk tier that cannot open (but for a data directory
/// in use by another edge, or sizes that do not fit) leaves the edge
/// running from memory, degraded, rather than not at all.
async fn open_store(c: &mut Config, health: &health::Health, lock: Option<std::fs::File>) -> Result<Store, EdgeError> {
    match Store::open_locked(&c.store, lock).await {
        Ok(s) => {
            if let Some(why) = &s.unreserved {
                tracing::warn!(edge = %c.name, error = %why, "disk tier not reserved: its filesystem cannot reserve space");
                health.note(format!(
                    "disk tier not reserved ({why}): on a full filesystem its writes fail and foyer stops writing \
                     until a restart"
                ));
            }
            Ok(s)
        }
        Err(e @ (StoreError::Locked(_) | StoreError::Sizes(_))) => Err(e.into()),
        Err(e) if c.store.disk > 0 => {
            tracing::error!(edge = %c.name, error = %e, "disk tier cannot open: serving from memory only");
            health.disk_off(e.to_string());
            c.store.disk = 0;
            Ok(Store::open(&c.store).await?)
        }
        Err(e) => Err(e.into()),
    }
}

impl Config {
    /// Whether this edge would be refused its data directory (filled from
    /// another origin, or a cache with no record of its origin), checked
    /// without changing anything ([`datadir::check`]): `cdn up` asks it of
    /// every edge before starting any. Memory-only edges and `--fresh`
    /// starts are never refused, as at start.
    pub fn data_dir_refusal(&self) -> Result<(), datadir::DataDirError> {
        if self.store.disk == 0 || self.fresh {
            return Ok(());
        }
        datadir::check(&self.store.dir, &datadir::Owner::new(self.origin, &self.origin_host))
    }
}

/// Checks (and with `fresh` empties) the data directory under its lock,
/// which it returns for the store to keep ([`datadir`]). Only a disk tier
/// reads what is there: a memory-only edge leaves the directory as it is
/// but for `--fresh`. A directory that cannot be locked is left to the
/// store, which runs without it, degraded.
fn claim_data_dir(c: &Config) -> Result<Option<std::fs::File>, EdgeError> {
    if c.store.disk == 0 && !c.fresh {
        return Ok(None);
    }
    let lock = match store::lock_dir(&c.store.dir) {
        Ok(l) => l,
        Err(e @ StoreError::Locked(_)) => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    let owner = datadir::Owner::new(c.origin, &c.origin_host);
    let claimed = datadir::claim(&c.store.dir, &owner, c.fresh)?;
    match claimed {
        datadir::Claimed::Emptied => {
            tracing::info!(edge = %c.name, dir = %c.store.dir.display(), "--fresh: cache emptied")
        }
        datadir::Claimed::Damaged => tracing::warn!(
            edge = %c.name, dir = %c.store.dir.display(),
            "the record of the origin that filled the cache is damaged: cache emptied, as a damaged entry is dropped"
        ),
        _ => {}
    }
    Ok((c.store.disk > 0).then_some(lock))
}

async fn build_state(c: Config) -> Result<Arc<EdgeState>, EdgeError> {
    Ok(open_state(c).await?.0)
}

/// [`build_state`], and the control bus link when the config names a bus
/// (the edge then starts out of step: see [`control`]).
async fn open_state(mut c: Config) -> Result<(Arc<EdgeState>, Option<Arc<control::Link>>), EdgeError> {
    let link = c.bus.take().map(|b| Arc::new(control::Link::new(b)));
    let health = health::Health::new(c.store.disk > 0);
    if c.store.disk > 0
        && let Ok(total) = fs4::total_space(c.store.dir.ancestors().find(|d| d.exists()).unwrap_or(&c.store.dir))
        && c.store.disk > total
    {
        tracing::warn!(edge = %c.name, disk = c.store.disk, filesystem = total, "the disk tier is larger than its filesystem: it will fill up");
    }
    let lock = claim_data_dir(&c)?;
    let earlier = store::has_disk_data(&c.store.dir);
    let store = open_store(&mut c, &health, lock).await?;
    let now_ms = c.clock.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let (purge, redo, opened) = purge::Purger::open(&c.store, now_ms, earlier);
    if let Some(why) = opened.journal_off {
        health.journal_off(why);
    }
    if let Some(note) = opened.lost {
        health.note(note);
    }
    let (admin_token, token_source) = admin_token(&c);
    let meter = Meter::default();
    let upstream = Upstream::new(c.origin, c.connect_timeout, c.origin_timeout, c.pool, meter.origin.clone())
        .timed(meter.origin_fetch.clone())
        .modelled(c.clock.clone(), c.rtt_to_origin)
        .from(c.source)
        .paced_here(c.origin_unpaced.clone());
    let shield = c.shield.take().map(|sc| {
        let up = Upstream::new(sc.listen, c.connect_timeout, c.origin_timeout, c.pool, meter.shield.clone())
            .named("shield")
            .modelled(c.clock.clone(), sc.rtt)
            .from(c.source);
        tier::Shield::new(sc, up)
    });
    let origins = c.origins.take().map(|oc| {
        origins::Origins::new(oc, |s| {
            Upstream::new(s.listen, c.connect_timeout, c.origin_timeout, c.pool, meter.origin.clone())
                .named("replica")
                .timed(meter.origin_fetch.clone())
                .modelled(c.clock.clone(), s.rtt)
                .from(c.source)
        })
    });
    let is_shield = c.tier_listen.is_some() && c.cluster.is_none();
    let cluster = c.cluster.take().map(|cc| {
        let (clock, rtt) = (c.clock.clone(), cc.rtt);
        cluster::Cluster::new(cc, |n, traffic| {
            Upstream::new(n.peer, c.connect_timeout, c.origin_timeout, c.pool, traffic)
                .named("peer")
                .modelled(clock.clone(), rtt)
                .from(c.source)
        })
    });
    let order = purge::order::PurgeOrder::open((c.store.disk > 0).then_some(c.store.dir.as_path()));
    let label = format!("edge-{}", c.name);
    let bad_host = || {
        ConfigError::Origin(world::uri::OriginError::Host(format!(
            "origin host `{}`: not a header value",
            c.origin_host
        )))
    };
    let origin_host = http::HeaderValue::try_from(checked_host(c.origin_host.clone()).map_err(ConfigError::from)?)
        .map_err(|_| bad_host())?;
    let hop = headers::Hop::new(&label, origin_host);
    let real = shadow::RealCache { policy: c.store.eviction.as_str().into(), capacity: c.store.memory + c.store.disk };
    let shadow = shadow::Shadows::start(&c.name, &c.shadow, c.shadow_sample, real)?;
    let st = Arc::new(EdgeState {
        name: c.name,
        region: c.region,
        responder: respond::Responder { label, via: hop.via.clone(), clock: c.clock.clone() },
        hop,
        clock: c.clock,
        store,
        upstream,
        flights: Flights::new(|e| Arc::new(Fetched::Failed(FetchError::Broken(format!("fetch task: {e}"))))),
        meter,
        rules: c.rules,
        max_object: c.store.max_object,
        slice_size: c.slice_size,
        admin_token,
        token_source,
        health,
        purge,
        prices: c.prices,
        admission: admission::Admission::new(c.min_uses, c.min_uses_window),
        access_log: c.access_log,
        limits: c.limits,
        relay: link.clone().map(|l| l as Arc<dyn purge::relay::Relay>),
        shadow,
        shield,
        origins,
        order,
        catch_up: c.catch_up,
        is_shield,
        cluster,
        pacing: c.pacing,
    });
    st.purging().recover(redo).await;
    if link.is_some() {
        // Until it has caught up with the purge log, nothing stored before is served.
        st.purging().lose_step();
        st.health.bus_step(Some("starting: not caught up with the purge log yet".into()));
    }
    Ok((st, link))
}

/// An edge with its listeners bound and its cache opened (recovered from
/// disk, purges replayed), not serving yet: the binary prints its token
/// and ready line in between.
pub struct Bound {
    st: Arc<EdgeState>,
    control: Option<Arc<control::Link>>,
    public: TcpListener,
    admin: TcpListener,
    tier: Option<TcpListener>,
    /// The public address actually bound.
    pub public_addr: SocketAddr,
    /// The admin address actually bound.
    pub admin_addr: SocketAddr,
    /// The tier listener's address, when this edge is a shield.
    pub tier_addr: Option<SocketAddr>,
}

/// Binds the config's public and admin addresses (port 0 picks one) and
/// opens the edge.
pub async fn bind(config: Config) -> Result<Bound, EdgeError> {
    let public = runtime::net::bind(&format!("edge {} public", config.name), config.listen).await?;
    let admin = runtime::net::bind(&format!("edge {} admin", config.name), config.admin).await?;
    let tier = match config.tier_listen {
        Some(t) => Some(runtime::net::bind(&format!("edge {} tier", config.name), t).await?),
        None => None,
    };
    let mut b = Bound::on(config, public, admin).await?;
    if let Some(l) = tier {
        b.tier_addr = Some(l.local_addr()?);
        b.tier = Some(l);
    }
    Ok(b)
}

impl Bound {
    /// Opens the edge on already-bound listeners.
    pub async fn on(config: Config, public: TcpListener, admin: TcpListener) -> Result<Bound, EdgeError> {
        let (public_addr, admin_addr) = (public.local_addr()?, admin.local_addr()?);
        let (st, control) = open_state(config).await?;
        Ok(Bound { st, control, public, admin, tier: None, public_addr, admin_addr, tier_addr: None })
    }

    /// Where its admin token came from (a generated one is printed once).
    pub fn token(&self) -> (Option<&str>, &TokenSource) {
        (self.st.admin_token.as_deref(), &self.st.token_source)
    }

    /// Serves until `shutdown` fires; then drains requests in flight and
    /// flushes the cache to disk.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), EdgeError> {
        run(self.st, self.control, Listeners { public: self.public, admin: self.admin, tier: self.tier }, shutdown)
            .await
    }

    /// Serves in a task of this process; the handle stops it.
    pub fn spawn(self) -> Handle {
        let (public, admin, tier, state) = (self.public_addr, self.admin_addr, self.tier_addr, self.st.clone());
        Handle { public, admin, tier, state, server: runtime::Handle::spawn(|shutdown| self.serve(shutdown)) }
    }
}

/// Opens and runs an edge on bound listeners until `shutdown` fires.
pub async fn serve(
    config: Config,
    public: TcpListener,
    admin: TcpListener,
    shutdown: Shutdown,
) -> Result<(), EdgeError> {
    Bound::on(config, public, admin).await?.serve(shutdown).await
}

/// An edge's listeners: public, admin, and the tier listener of a shield.
struct Listeners {
    public: TcpListener,
    admin: TcpListener,
    tier: Option<TcpListener>,
}

async fn run(
    st: Arc<EdgeState>,
    control: Option<Arc<control::Link>>,
    Listeners { public, admin, tier }: Listeners,
    shutdown: Shutdown,
) -> Result<(), EdgeError> {
    // The control bus first: connected and caught up with the purge log
    // (or out of step, serving only what it stores from now on) before
    // the first request is answered.
    let control = match control {
        Some(link) => {
            let addrs = (public.local_addr()?, admin.local_addr()?);
            let task = tokio::spawn(control::run(st.clone(), link.clone(), addrs, shutdown.clone()));
            control::wait_in_step(&st, &link).await;
            Some(task)
        }
        None => None,
    };
    let pst = st.clone();
    let p = tokio::spawn(serve_connections_limited(
        public,
        st.meter.clients.clone(),
        st.limits,
        st.pacing.clone(),
        move |io, peer, sd| conn::serve(pst.clone(), io, peer, sd),
        shutdown.clone(),
    ));
    // A shield's tier listener: lower tiers' fills, through the full
    // request path (never the raw hit path), metered apart from clients.
    let t = tier.map(|l| {
        let tst = st.clone();
        let make = move |peer| service::PublicService::tier(tst.clone(), peer);
        tokio::spawn(serve_http_paced(l, st.meter.tiers.clone(), st.pacing.clone(), make, shutdown.clone()))
    });
    let peers = st
        .cluster
        .is_some()
        .then(|| tokio::spawn(cluster::watch(st.clone(), |st: &EdgeState| st.cluster.as_ref(), shutdown.clone())));
    let watch = st
        .shield
        .is_some()
        .then(|| tokio::spawn(tier::watch(st.clone(), |st: &EdgeState| st.shield.as_ref(), shutdown.clone())));
    let watch_origins = st
        .origins
        .is_some()
        .then(|| tokio::spawn(origins::watch(st.clone(), |st: &EdgeState| st.origins.as_ref(), shutdown.clone())));
    let router = admin::router(st.clone());
    let maintain = tokio::spawn(purge::maintain(st.clone(), EdgeState::purging, shutdown.stopped()));
    let a = tokio::spawn(serve_http(
        admin,
        Arc::new(Traffic::default()),
        move |_| TowerToHyperService::new(router.clone()),
        shutdown,
    ));
    let _ = p.await;
    let _ = a.await;
    if let Some(t) = t {
        let _ = t.await;
    }
    if let Some(w) = watch {
        let _ = w.await;
    }
    if let Some(w) = watch_origins {
        let _ = w.await;
    }
    if let Some(w) = peers {
        let _ = w.await;
    }
    let _ = maintain.await;
    if let Some(c) = control {
        let _ = c.await;
    }
    if let Err(e) = st.purging().compact_journal().await {
        tracing::warn!(error = %e, "purge journal not compacted at shutdown");
    }
    if let Err(e) = st.store.close().await {
        tracing::warn!(error = %e, "cache did not close cleanly");
    }
    Ok(())
}

/// A running in-process edge (tests, benchmarks).
pub struct Handle {
    /// Public address.
    pub public: SocketAddr,
    /// Admin address.
    pub admin: SocketAddr,
    /// Tier listener, when the edge is a shield.
    pub tier: Option<SocketAddr>,
    state: Arc<EdgeState>,
    server: runtime::Handle<EdgeError>,
}

/// Starts an edge in this process on the config's addresses (port 0 picks one).
pub async fn spawn(config: Config) -> Result<Handle, EdgeError> {
    Ok(bind(config).await?.spawn())
}

impl Handle {
    /// Base URL of the public listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.public, path)
    }

    /// Current counters.
    pub fn stats(&self) -> admin::Stats {
        stats::of(&self.state)
    }

    /// The admin token the edge uses (configured, or from its token file).
    pub fn admin_token(&self) -> Option<String> {
        self.state.admin_token.clone()
    }

    /// Stops the edge, waits for requests in flight and the disk flush.
    pub async fn shutdown(self) -> Result<(), EdgeError> {
        self.server.shutdown().await
    }
}

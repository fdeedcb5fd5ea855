//! The world file's schema: what a `scenarios/worlds/*.toml` may say.
//!
//! Every table refuses unknown fields. Defaults live here, in code, so a
//! world file only states what differs; [`crate::load`] checks the
//! cross-references (regions, names, addresses) after parsing.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::price::{Prices, RegionPrices};
use crate::units::{ByteSize, Dur};

/// A whole world: regions, the origin, the edges, GeoDNS, prices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Short name, used in data directories and reports.
    pub name: String,
    /// Simulated seconds per wall-clock second, the same for every process.
    #[serde(default = "one")]
    pub time_scale: f64,
    /// Bearer token of every admin API; `CDNLAB_ADMIN_TOKEN` overrides it.
    #[serde(default)]
    pub admin_token: Option<String>,
    /// Region for clients whose location is unknown (default: the origin's).
    #[serde(default)]
    pub default_region: Option<String>,
    /// The regions, in order: the k-th region owns 127.k.0.0/16 by convention.
    #[serde(rename = "region")]
    pub regions: Vec<Region>,
    /// Inter-region round-trip times.
    #[serde(default)]
    pub latency: Latency,
    /// What every link is like besides its RTT (jitter, loss, bandwidth,
    /// TLS, TCP settings); see [`crate::link`].
    #[serde(default)]
    pub network: crate::link::Network,
    /// Per-pair overrides of [`World::network`].
    #[serde(default, rename = "link", skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<crate::link::LinkEntry>,
    /// The origin server.
    pub origin: Origin,
    /// The origin's synthetic catalog.
    #[serde(default)]
    pub catalog: Catalog,
    /// Cache settings every edge gets unless it says otherwise.
    #[serde(default)]
    pub edge_defaults: EdgeSettings,
    /// The edges.
    #[serde(rename = "edge")]
    pub edges: Vec<Edge>,
    /// The origin shield: one region's edge that the other edges fill
    /// from (none: every edge fills from the origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shield: Option<Shield>,
    /// Request routing.
    #[serde(default)]
    pub geodns: GeoDns,
    /// Edge caching policy rules by path (TTL bounds, grace, admission).
    #[serde(default)]
    pub cache: CachePolicy,
    /// Prices for traffic and requests.
    #[serde(default)]
    pub prices: Prices,
    /// The live dashboard `cdn up` and `cdn run` serve.
    #[serde(default)]
    pub dashboard: Dashboard,
    /// Where this world was read from (not part of the file).
    #[serde(skip)]
    pub source: PathBuf,
}

fn one() -> f64 {
    1.0
}

/// A region: a city with coordinates, its client addresses and GeoIP ranges.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Lowercase name (`seoul`).
    pub name: String,
    /// City name for GeoIP records (`Seoul`).
    pub city: String,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Local time offset from UTC in hours (for diurnal workloads).
    #[serde(default)]
    pub utc_offset_hours: f64,
    /// Loopback network of this region's clients (127.k.0.0/16).
    pub clients: IpNet,
    /// Further networks located in this region (documentation ranges).
    #[serde(default)]
    pub geoip: Vec<IpNet>,
    /// Price overrides for traffic served in this region.
    #[serde(default)]
    pub prices: Option<RegionPrices>,
}

/// Round-trip times between regions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// RTT between two places in the same region.
    #[serde(default = "same_region_default")]
    pub same_region: Dur,
    /// Measured RTTs; pairs not listed fall back to the great-circle formula.
    #[serde(default)]
    pub rtt: Vec<RttEntry>,
}

fn same_region_default() -> Dur {
    Dur::millis(2)
}

impl Default for Latency {
    fn default() -> Self {
        Self { same_region: same_region_default(), rtt: Vec::new() }
    }
}

/// One measured RTT between two regions (symmetric).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RttEntry {
    /// The two regions.
    pub between: [String; 2],
    /// Round-trip time in milliseconds.
    pub ms: f64,
}

/// The origin server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// Region the origin sits in (edges wait the RTT to it on every fetch).
    pub region: String,
    /// Public HTTP address.
    pub listen: SocketAddr,
    /// Admin HTTP address (faults, bump, stats).
    pub admin: SocketAddr,
    /// `Host` the edges send it, whatever their clients send (default: the
    /// `listen` address, e.g. `127.0.0.1:8080`). Edges check the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Regions holding a read replica of the origin (none: one origin).
    /// Replica `k`'s addresses are derived ([`crate::replicas`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<String>,
    /// How long a write on the primary takes to reach each replica (on
    /// the world clock).
    #[serde(default = "replication_lag_default")]
    pub replication_lag: Dur,
    /// A replica promotes itself after the primary has been unreachable
    /// this long (none: promotion is manual only, `cdn promote`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_after: Option<Dur>,
    /// How edges and replicas check the origins (their admin `/healthz`).
    #[serde(default)]
    pub health: HealthCheck,
}

fn replication_lag_default() -> Dur {
    Dur::secs(1)
}

/// The origin's synthetic catalog at `/obj/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Number of objects (`/obj/0` … `/obj/{objects-1}`); others are 404.
    #[serde(default = "objects_default")]
    pub objects: u64,
    /// Body size model.
    #[serde(default)]
    pub size: SizeModel,
    /// Number of group tags: object `id` carries tag `group-{id % groups}`.
    #[serde(default = "groups_default")]
    pub groups: u64,
    /// Header rules by path prefix; the longest matching prefix wins.
    #[serde(default = "catalog_rules_default", rename = "rule")]
    pub rules: Vec<CatalogRule>,
}

fn objects_default() -> u64 {
    100_000
}
fn groups_default() -> u64 {
    100
}
fn catalog_rules_default() -> Vec<CatalogRule> {
    vec![CatalogRule::default()]
}

impl Default for Catalog {
    fn default() -> Self {
        Self {
            objects: objects_default(),
            size: SizeModel::default(),
            groups: groups_default(),
            rules: catalog_rules_default(),
        }
    }
}

/// Object sizes: a lognormal body around `median` with shape `sigma`, and
/// optionally a Pareto tail (a `tail_share` of objects drawn from a Pareto
/// law of shape `tail` starting at 4 × median), clamped to `[min, max]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeModel {
    /// Median size.
    #[serde(default = "median_default")]
    pub median: ByteSize,
    /// Lognormal shape (standard deviation of ln size).
    #[serde(default = "sigma_default")]
    pub sigma: f64,
    /// Smallest size.
    #[serde(default = "min_default")]
    pub min: ByteSize,
    /// Largest size (the cap).
    #[serde(default = "max_default")]
    pub max: ByteSize,
    /// Pareto shape of the tail (e.g. 1.2); none: no tail.
    #[serde(default)]
    pub tail: Option<f64>,
    /// Share of objects in the tail.
    #[serde(default = "tail_share_default")]
    pub tail_share: f64,
}

fn tail_share_default() -> f64 {
    0.02
}

impl SizeModel {
    /// The size of object `id`: deterministic, the same in every process.
    pub fn size_of(&self, id: u64) -> u64 {
        let (min, max) = (self.min.0 as f64, self.max.0 as f64);
        let median = self.median.0 as f64;
        let mut s = median * (self.sigma * crate::rng::Rng::from_parts(b"size", id).normal()).exp();
        if let Some(alpha) = self.tail.filter(|a| *a > 0.0) {
            let mut r = crate::rng::Rng::from_parts(b"size-tail", id);
            if r.next_f64() < self.tail_share {
                let u = 1.0 - r.next_f64(); // (0, 1]
                s = 4.0 * median * u.powf(-1.0 / alpha);
            }
        }
        if !s.is_finite() {
            s = median;
        }
        // Not `clamp`: it panics when min > max.
        s.round().max(min).min(max).max(0.0) as u64
    }
}

fn median_default() -> ByteSize {
    ByteSize::kib(24)
}
fn sigma_default() -> f64 {
    1.2
}
fn min_default() -> ByteSize {
    ByteSize(64)
}
fn max_default() -> ByteSize {
    ByteSize::mib(8)
}

impl Default for SizeModel {
    fn default() -> Self {
        Self {
            median: median_default(),
            sigma: sigma_default(),
            min: min_default(),
            max: max_default(),
            tail: None,
            tail_share: tail_share_default(),
        }
    }
}

/// Response headers the origin sends for paths under `prefix`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogRule {
    /// Path prefix, starting with `/`.
    #[serde(default = "slash")]
    pub prefix: String,
    /// `Cache-Control` value.
    #[serde(default = "cache_control_default")]
    pub cache_control: String,
    /// `Content-Type` value.
    #[serde(default = "content_type_default")]
    pub content_type: String,
    /// Extra surrogate keys for every object under the prefix.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Extra headers, `["Name: value", …]` (e.g. `Vary`, `CDN-Cache-Control`).
    #[serde(default)]
    pub headers: Vec<String>,
}

fn slash() -> String {
    "/".into()
}
fn cache_control_default() -> String {
    "public, max-age=3600".into()
}
fn content_type_default() -> String {
    "application/octet-stream".into()
}

impl Default for CatalogRule {
    fn default() -> Self {
        Self {
            prefix: slash(),
            cache_control: cache_control_default(),
            content_type: content_type_default(),
            tags: Vec::new(),
            headers: Vec::new(),
        }
    }
}

/// Memory-tier eviction policy of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Eviction {
    /// Least recently used.
    Lru,
    /// Window TinyLFU.
    Lfu,
    /// S3-FIFO: hits take only a read lock.
    #[default]
    S3fifo,
    /// SIEVE.
    Sieve,
    /// First in, first out.
    Fifo,
}

impl Eviction {
    /// The name used in world files and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Eviction::Lru => "lru",
            Eviction::Lfu => "lfu",
            Eviction::S3fifo => "s3fifo",
            Eviction::Sieve => "sieve",
            Eviction::Fifo => "fifo",
        }
    }
}

/// When a hit from an edge's disk tier is copied into its memory tier
/// (`disk_promotion`; docs/disk.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Promotion {
    /// On its second disk hit, if its reuse fits the memory tier: no more
    /// than the memory tier's capacity was stored in memory between the
    /// two hits, so a copy made at the first would still be there.
    #[default]
    Reuse,
    /// On every disk hit (a tier too small for the working set then
    /// evicts one entry per disk hit).
    Always,
    /// Never: disk hits are served from the device every time.
    Never,
}

impl Promotion {
    /// The name used in world files and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Promotion::Reuse => "reuse",
            Promotion::Always => "always",
            Promotion::Never => "never",
        }
    }
}

/// Declares the edge settings once: [`EdgeSettings`] (every setting, with
/// its default), [`EdgeOverrides`] (every setting optional: a layer over
/// the defaults), and [`Edge`] (an edge's place and its own layer). The
/// layers are merged by one function, [`EdgeSettings::apply`], whatever
/// sets them: `[edge_defaults]`, an `[[edge]]`, a scenario's overrides or
/// the `edge` command's flags. A setting added here is settable in each.
macro_rules! edge_settings {
    (
        $(#[$edge_meta:meta])* pub struct Edge { $($edge_fields:tt)* }
        $( $(#[doc = $doc:expr])* $name:ident : $ty:ty = $default:expr ; )*
    ) => {
        /// Cache settings of an edge ([`World::edge_defaults`], with each
        /// edge's own [`EdgeOverrides`] over them).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct EdgeSettings {
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        impl Default for EdgeSettings {
            fn default() -> Self {
                EdgeSettings { $( $name: $default, )* }
            }
        }

        /// Any of the [`EdgeSettings`], each optional: a layer of overrides.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct EdgeOverrides {
            $( $(#[doc = $doc])* #[serde(skip_serializing_if = "Option::is_none")] pub $name: Option<$ty>, )*
        }

        impl EdgeSettings {
            /// The names of every setting, in order (the docs test reads them).
            pub const FIELDS: &[&str] = &[$( stringify!($name), )*];

            /// These settings with a layer of overrides over them.
            pub fn apply(&mut self, o: &EdgeOverrides) {
                $( if let Some(v) = &o.$name { self.$name = v.clone(); } )*
            }
        }

        $(#[$edge_meta])*
        pub struct Edge {
            $($edge_fields)*
            $( $(#[doc = $doc])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $name: Option<$ty>, )*
        }

        impl Edge {
            /// This edge's own layer of settings.
            pub fn overrides(&self) -> EdgeOverrides {
                EdgeOverrides { $( $name: self.$name.clone(), )* }
            }

            /// An edge at these addresses with the world's defaults for
            /// every setting (a node that joins a running world through
            /// the control bus, docs/bus.md).
            pub fn at(name: &str, region: &str, listen: SocketAddr, admin: SocketAddr) -> Edge {
                Edge {
                    name: name.into(),
                    region: region.into(),
                    listen,
                    admin,
                    ipv6: None,
                    pop: None,
                    $( $name: None, )*
                }
            }
        }
    };
}

edge_settings! {
    /// One edge server: where it is, and any [`EdgeSettings`] of its own
    /// (over `[edge_defaults]`).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Edge {
        /// Name (`seoul`), used in `Cache-Status` as `edge-{name}`.
        pub name: String,
        /// Region the edge sits in.
        pub region: String,
        /// Public HTTP address.
        pub listen: SocketAddr,
        /// Admin HTTP address (purge, stats, metrics, healthz).
        pub admin: SocketAddr,
        /// IPv6 address GeoDNS may answer in AAAA records.
        #[serde(default)]
        pub ipv6: Option<Ipv6Addr>,
        /// A PoP cluster: several nodes behind this edge's public address
        /// (`None`: one server, as before). See [`Pop`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pop: Option<Pop>,
    }
    /// Memory tier capacity (bytes of entries).
    memory: ByteSize = ByteSize::mib(64);
    /// Disk tier capacity ("0": memory only).
    disk: ByteSize = ByteSize::mib(256);
    /// Largest object stored whole; bigger ones stream through (or are sliced).
    max_object: ByteSize = ByteSize::mib(8);
    /// Memory-tier eviction policy: lru, lfu, s3fifo, sieve or fifo.
    eviction: Eviction = Eviction::default();
    /// Objects larger than `max_object` are cached as slices of this size
    /// (at most `max_object`), fetched from the origin with range requests
    /// ("0" turns slicing off: such objects stream through uncached).
    slice_size: ByteSize = ByteSize::mib(1);
    /// The disk tier's write buffer: what foyer's flusher batches before a
    /// write, and the most that may wait for it. Resident memory grows by up
    /// to three times this (two flush buffers and the queue; docs/memory.md).
    /// At least `max_object` + 256 KiB (room for the largest entry), which
    /// is the default (but no less than 4 MiB).
    disk_write_buffer: Option<ByteSize> = None;
    /// When a disk-tier hit is copied into the memory tier: `reuse` (on
    /// its second disk hit, if its reuse fits the memory tier), `always`
    /// or `never` (docs/disk.md).
    disk_promotion: Promotion = Promotion::default();
    /// Data directory; `{world}` and `{edge}` are replaced. Relative paths are
    /// relative to the current directory.
    data_dir: String = "data/{world}/{edge}".into();
    /// Give up on an origin response after this long (504).
    origin_timeout: Dur = Dur::secs(10);
    /// Give up connecting to the origin after this long (502).
    connect_timeout: Dur = Dur::secs(2);
    /// Idle connections to each upstream kept for later fetches (0: every
    /// fetch opens its own, paying the handshake and slow start again).
    upstream_pool: u32 = 256;
    /// A kept upstream connection idle this long is closed.
    upstream_idle_timeout: Dur = Dur::secs(30);
    /// Admission: store a response only from the `min_uses`-th origin fill
    /// of its URL within `min_uses_window` (nginx's `proxy_cache_min_uses`);
    /// 1 stores at once. `[[cache.rule]]` may override both by path.
    min_uses: u32 = 1;
    /// The window in which uses are counted (see `min_uses`).
    min_uses_window: Dur = Dur::secs(600);
    /// Log one structured line per request (target `cdnlab::access`).
    access_log: bool = false;
    /// What-if caches: metadata-only caches of other policies and sizes
    /// (`["lru:64MiB", "sieve:256MiB"]`) fed this edge's traffic, reported
    /// beside the real cache in `/stats`, `/metrics` and run reports.
    /// Empty (the default): off, no work per request.
    shadow: Vec<crate::policy::ShadowCache> = Vec::new();
    /// The share of keys the what-if caches follow (SHARDS spatial
    /// sampling): a key is followed when its 64-bit hash falls in the
    /// lowest `shadow_sample` of the hash space, each shadow's capacity is
    /// scaled by it and its counts by its inverse. 1 (the default): every
    /// key, exact. 0.001 to 1.
    shadow_sample: f64 = 1.0;
}

/// The origin shield (tiered cache): the edge of `region` is the upper
/// tier. Every other edge fills from it (on its tier listener, `listen`),
/// and it fills from the origin, so concurrent misses of all edges make one
/// origin request per key. While it is down (by `health` checks of its
/// admin `/healthz`, or a refused connection), edges fill from the origin
/// directly when `fallback` is on. Addresses: docs/worlds.md, "Shield".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shield {
    /// The region whose edge is the shield.
    pub region: String,
    /// The shield's tier listener, where lower tiers fill from (default:
    /// the shield edge's public address with the last octet 2,
    /// `127.k.0.2`, same port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Fill from the origin directly while the shield is down.
    #[serde(default = "yes")]
    pub fallback: bool,
    /// How edges check the shield (its admin `/healthz`).
    #[serde(default)]
    pub health: HealthCheck,
    /// How long the shield waits for a purge a lower tier has applied and
    /// it has not (`CDN-Purge-Seq`) before it answers without its cache.
    #[serde(default = "catch_up_default")]
    pub catch_up: Dur,
}

/// A PoP cluster (`[edge.pop]`): `nodes` edge servers of one region behind
/// the edge's public address, which a balancer of ours serves
/// (`cdn pop`). With `policy = "hash"` the nodes shard the cache keys by
/// consistent hashing: a node that receives a request for a key it does
/// not own fills it from the owning node (a peer fill) instead of the
/// origin. Addresses: docs/worlds.md, "PoP clusters"; the design:
/// docs/topology.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pop {
    /// How many nodes (1 to [`crate::pop::MAX_NODES`]).
    pub nodes: u32,
    /// How the balancer spreads connections, and whether the nodes shard.
    #[serde(default)]
    pub policy: PopPolicy,
    /// Hot keys (hashed PoPs): a key a node receives more than this many
    /// times a second is kept in that node's own cache too, so its
    /// requests stop crossing to the owner (0, the default: off).
    #[serde(default)]
    pub hot_key_rps: f64,
    /// How nodes check each other and the balancer checks the nodes
    /// (their admin `/healthz`); a node found down leaves the ring.
    #[serde(default)]
    pub health: HealthCheck,
}

/// How a PoP's balancer picks a node for a new connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PopPolicy {
    /// Each node in turn; every node caches what it is asked.
    RoundRobin,
    /// The node with the fewest open connections; every node caches what it is asked.
    LeastConnections,
    /// A node at random; every node caches what it is asked.
    Random,
    /// Nodes in turn, and the nodes shard the keys by consistent hashing
    /// (peer fills from the owner; Fastly's clustering).
    #[default]
    Hash,
}

impl PopPolicy {
    /// The name in files.
    pub fn as_str(self) -> &'static str {
        match self {
            PopPolicy::RoundRobin => "round-robin",
            PopPolicy::LeastConnections => "least-connections",
            PopPolicy::Random => "random",
            PopPolicy::Hash => "hash",
        }
    }
}

/// `shield.catch_up` unless the world says (an edge outside a world
/// uses it too).
pub const DEFAULT_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(1);

fn catch_up_default() -> Dur {
    Dur(DEFAULT_CATCH_UP)
}

/// GeoDNS: the DNS name, its addresses, health checking.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoDns {
    /// The CDN name clients resolve.
    #[serde(default = "zone_default")]
    pub zone: String,
    /// DNS address (UDP and TCP).
    #[serde(default = "dns_default")]
    pub dns: SocketAddr,
    /// HTTP address (`/resolve`, `/r/…`, `/edges`, `/metrics`).
    #[serde(default = "geodns_http_default")]
    pub http: SocketAddr,
    /// TTL of DNS answers.
    #[serde(default = "ttl_default")]
    pub ttl: Dur,
    /// Edge health checks.
    #[serde(default)]
    pub health: HealthCheck,
    /// Peers whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
}

fn zone_default() -> String {
    "cdn.test".into()
}
#[allow(clippy::unwrap_used)] // constant addresses
fn dns_default() -> SocketAddr {
    "127.0.0.1:1053".parse().unwrap()
}
#[allow(clippy::unwrap_used)] // constant addresses
fn geodns_http_default() -> SocketAddr {
    "127.0.0.1:8053".parse().unwrap()
}
fn ttl_default() -> Dur {
    Dur::secs(20)
}

impl Default for GeoDns {
    fn default() -> Self {
        Self {
            zone: zone_default(),
            dns: dns_default(),
            http: geodns_http_default(),
            ttl: ttl_default(),
            health: HealthCheck::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// The live dashboard (a web page served by `cdn up` and `cdn run`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Where the page is served (loopback; port 0 picks a free port, and
    /// `cdn up` prints the one it got).
    #[serde(default = "dashboard_listen_default")]
    pub listen: SocketAddr,
    /// Serve it at all (`--no-dashboard` turns it off for one run).
    #[serde(default = "yes")]
    pub enabled: bool,
}

#[allow(clippy::unwrap_used)] // constant address
fn dashboard_listen_default() -> SocketAddr {
    "127.0.0.1:8060".parse().unwrap()
}
fn yes() -> bool {
    true
}

impl Default for Dashboard {
    fn default() -> Self {
        Self { listen: dashboard_listen_default(), enabled: true }
    }
}

/// Health checks of every edge's `/healthz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Time between checks.
    #[serde(default = "interval_default")]
    pub interval: Dur,
    /// A check slower than this fails.
    #[serde(default = "check_timeout_default")]
    pub timeout: Dur,
    /// Consecutive failures that mark an edge down.
    #[serde(default = "two")]
    pub fall: u32,
    /// Consecutive successes that mark it up again.
    #[serde(default = "two")]
    pub rise: u32,
}

fn interval_default() -> Dur {
    Dur::secs(1)
}
fn check_timeout_default() -> Dur {
    Dur::millis(500)
}
fn two() -> u32 {
    2
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self { interval: interval_default(), timeout: check_timeout_default(), fall: 2, rise: 2 }
    }
}

/// Edge caching policy: rules by path prefix, the longest match wins.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachePolicy {
    /// The rules.
    #[serde(default, rename = "rule")]
    pub rules: Vec<CacheRule>,
}

/// TTL bounds, stale-serving windows and admission for paths under `prefix`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRule {
    /// Path prefix, starting with `/`.
    pub prefix: String,
    /// Lower bound on the freshness lifetime of storable responses.
    #[serde(default)]
    pub min_ttl: Option<Dur>,
    /// Lifetime when the origin gives no explicit freshness (instead of the
    /// 10% Last-Modified heuristic).
    #[serde(default)]
    pub default_ttl: Option<Dur>,
    /// Upper bound on the freshness lifetime.
    #[serde(default)]
    pub max_ttl: Option<Dur>,
    /// Serve stale this long while refreshing in the background, on top of
    /// any `stale-while-revalidate` (Varnish's grace).
    #[serde(default)]
    pub grace: Option<Dur>,
    /// Serve stale this long when the origin fails, on top of any
    /// `stale-if-error`.
    #[serde(default)]
    pub stale_if_error: Option<Dur>,
    /// Lifetime of error responses (404, 410, …) without explicit freshness.
    #[serde(default)]
    pub negative_ttl: Option<Dur>,
    /// Admission by path: overrides [`EdgeSettings::min_uses`].
    #[serde(default)]
    pub min_uses: Option<u32>,
    /// Overrides [`EdgeSettings::min_uses_window`].
    #[serde(default)]
    pub min_uses_window: Option<Dur>,
}

//! What an edge's admin listener speaks: `/stats` ([`Stats`]), the
//! `health` in it and `/healthz` ([`HealthReport`]), and `POST /purge`
//! ([`PurgeRequest`] in, [`PurgeResponse`] out), `GET /purge/recent`
//! ([`RecentPurges`]); and the outcome words
//! ([`Outcome`]) that `/stats`, the metric labels and the access log share.
//!
//! Money is a decimal string of dollars with nine decimals (exact
//! nano-dollars, never a float).

use serde::{Deserialize, Serialize};
use world::Money;
use world::price::{Bill, Usage, decimal};

/// What became of a request. The same words reach `/stats`, metric labels
/// and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served fresh from the cache.
    Hit,
    /// Fetched from the origin (stored or not).
    Miss,
    /// Served stale (stale-while-revalidate, stale-if-error, max-stale).
    Stale,
    /// Validated with the origin (304) and served from the cache.
    Revalidated,
    /// Passed through (uncacheable method or response).
    Pass,
    /// Answered with an error by the edge (bad request, origin failure).
    Error,
}

impl Outcome {
    /// Every outcome, in display order.
    pub const ALL: [Outcome; 6] =
        [Outcome::Hit, Outcome::Miss, Outcome::Stale, Outcome::Revalidated, Outcome::Pass, Outcome::Error];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Stale => "stale",
            Outcome::Revalidated => "revalidated",
            Outcome::Pass => "pass",
            Outcome::Error => "error",
        }
    }
}

/// `/stats`: counters of this edge.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
pub struct Stats {
    /// Edge name.
    pub edge: String,
    /// Region, if in a world.
    pub region: Option<String>,
    /// Requests by outcome.
    pub requests: Requests,
    /// Requests answered from the cache without the origin (fresh and stale
    /// hits) / all requests.
    pub hit_ratio: f64,
    /// Body bytes of those requests / body bytes of all responses.
    pub byte_hit_ratio: f64,
    /// Response body bytes handed to client connections, by outcome (see
    /// the edge's `meter` module for how they differ from socket bytes).
    pub body_bytes: ByOutcome,
    /// Bytes written to clients at the socket (heads and bodies): what CDN
    /// egress is billed on.
    pub bytes_to_clients: u64,
    /// Bytes read from clients.
    pub bytes_from_clients: u64,
    /// Client connections accepted.
    pub client_connections: u64,
    /// Of those, refused (503) at the connection limit.
    #[serde(default)]
    pub client_connections_refused: u64,
    /// Bytes read from the origin at the socket: what fill is billed on.
    pub bytes_from_origin: u64,
    /// Bytes written to the origin.
    pub bytes_to_origin: u64,
    /// Requests sent to the origin.
    pub origin_requests: u64,
    /// Of those, failed (no connection, no answer in time, broken) or
    /// answered 5xx by the origin.
    #[serde(default)]
    pub origin_errors: u64,
    /// Each upstream's connections and fetches (the origin, and the
    /// shield when the edge fills from one): the per-link figures reports
    /// show.
    #[serde(default)]
    pub upstreams: Vec<UpstreamStats>,
    /// Responses stored.
    pub stored: u64,
    /// Responses not stored (any reason, admission included).
    pub not_stored: u64,
    /// Admission: the edge's setting and what it refused.
    pub admission: AdmissionStats,
    /// Origin fetches in progress.
    pub inflight: usize,
    /// Memory tier bytes used.
    pub memory_bytes: usize,
    /// Memory tier capacity.
    pub memory_capacity: usize,
    /// Entries in the memory tier.
    pub memory_entries: usize,
    /// Disk tier capacity (0: none).
    pub disk_capacity: u64,
    /// Bytes written to the disk tier.
    pub disk_written: u64,
    /// Bytes read from the disk tier.
    pub disk_read: u64,
    /// Hits by tier, and what the disk tier's reads did (docs/disk.md).
    #[serde(default)]
    pub cache_tiers: CacheTiers,
    /// Modelled round trip to the origin, waited before each origin request.
    pub rtt_to_origin_ms: f64,
    /// Dollars by line item, and without the CDN.
    pub cost: Cost,
    /// The disk tier: state, write failures, free space.
    #[serde(default)]
    pub disk: DiskHealth,
    /// `/healthz` as JSON: `ok` or `degraded`, and why.
    #[serde(default)]
    pub health: HealthReport,
    /// The control bus, when the edge follows one: in step or not, the
    /// purge sequence applied here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<BusStatus>,
    /// The what-if caches, when the edge keeps any (the world's `shadow`
    /// setting; docs/traces.md, "Shadow caches").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowStats>,
    /// Its place in an origin shield's tiers, when the world has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<TierStats>,
    /// The sites of a replicated origin as this edge reads them, nearest
    /// first (empty: one origin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origin_sites: Vec<OriginSiteStats>,
    /// The origin position every fill must have reached: the last purge
    /// of everything's `origin_seq`, or a scoped floor every live site has
    /// passed (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub origin_floor: u64,
    /// Purge floors kept for the URLs, prefixes and tags purges named
    /// (fills of those only must reach them; each is folded into
    /// `origin_floor` once every live origin site has passed it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub origin_floors_scoped: u64,
    /// Its place in a hashed PoP, when it is a node of one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStats>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A node of a hashed PoP (docs/topology.md, "PoP clusters"): the misses
/// it filled from the owning node (peer fills), and what the other nodes
/// asked of it as the owner. Peer traffic stays inside the PoP and is not
/// priced.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Default)]
pub struct ClusterStats {
    /// The PoP (`seoul`).
    pub pop: String,
    /// The nodes in its ring now, as this node's checks see them.
    pub ring: Vec<String>,
    /// Times its ring changed (a node left or came back).
    pub ring_changes: u64,
    /// Misses filled from the owning node: peer fills (their errors and
    /// bytes are on the `peer` lines of [`Stats::upstreams`]).
    pub peer_fills: u64,
    /// Peer fills that could not reach the owner and went to this node's
    /// own upstream instead (in `origin_requests` too).
    pub peer_fallbacks: u64,
    /// Peer fills stored here too because their key was hot.
    pub hot_keys_kept: u64,
    /// Bytes read from the other nodes' peer listeners.
    pub bytes_from_peers: u64,
    /// As the owner: the other nodes' requests on its peer listener, by
    /// outcome (not in `requests`, which counts clients).
    pub peer_requests: Requests,
    /// As the owner: bytes written to the other nodes.
    pub bytes_to_peers: u64,
    /// As the owner: peer requests answered without the cache, a purge
    /// the asking node had applied not arrived here within `catch_up`.
    pub behind_purge: u64,
}

/// One site of a replicated origin as an edge reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OriginSiteStats {
    /// Its region.
    pub name: String,
    /// `up`, `down` or `unknown` (this edge's checks of its admin
    /// `/replication`).
    pub state: String,
    /// `primary` or `replica`, as its last `/replication` said (empty:
    /// not heard yet). Writes go to the primary of the highest epoch.
    #[serde(default)]
    pub role: String,
    /// The highest epoch it knew, as its last `/replication` said.
    #[serde(default)]
    pub epoch: u64,
    /// Its position (`CDN-Origin-Seq`) as its last `/replication` said.
    #[serde(default)]
    pub position: u64,
    /// Fills sent to it.
    pub requests: u64,
    /// Of those, failed or answered 5xx.
    pub errors: u64,
    /// Answers below the purge floor (dropped and asked of the next site).
    pub behind: u64,
    /// Bytes read from it (socket).
    #[serde(default)]
    pub bytes_received: u64,
    /// Bytes written to it (socket).
    #[serde(default)]
    pub bytes_sent: u64,
    /// Modelled RTT from this edge, ms.
    pub rtt_ms: f64,
}

/// An edge's part in an origin shield's tiers (docs/topology.md): as an
/// edge that fills from the shield, its fills there and the bytes on its
/// link to it; as the shield, what lower tiers asked of it.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Default)]
pub struct TierStats {
    /// `shield` (serves lower tiers) or `edge` (fills from the shield).
    pub role: String,
    /// The shield this edge fills from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shield: Option<String>,
    /// The shield as this edge's health checks see it: `up`, `down`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shield_state: Option<String>,
    /// Fills (and revalidations) sent to the shield: shield fills. Its
    /// errors, warm and cold fetches and bytes sent are on its line in
    /// [`Stats::upstreams`] (named `shield`).
    pub shield_requests: u64,
    /// Fills sent to the origin instead, the shield down or unreachable
    /// (in `origin_requests` too).
    pub shield_fallbacks: u64,
    /// Bytes read from the shield at the socket: the edge→shield link's
    /// traffic, priced as inter-tier transfer.
    pub bytes_from_shield: u64,
    /// As the shield: lower tiers' requests on its tier listener, by
    /// outcome (not in `requests`, which counts clients).
    pub tier_requests: Requests,
    /// As the shield: bytes written to lower tiers (not client egress).
    pub bytes_to_tiers: u64,
    /// As the shield: bytes read from lower tiers.
    pub bytes_from_tiers: u64,
    /// As the shield: connections lower tiers opened to its tier listener.
    pub tier_connections: u64,
    /// As the shield: lower tiers' fills answered without the cache, a
    /// purge they had applied not arrived here within `catch_up`.
    pub behind_purge: u64,
    /// The highest world purge sequence applied here.
    pub purge_seq: u64,
}

/// One upstream of an edge (its `origin`, and its `shield` when it fills
/// from one): the requests it was sent, the bytes at its sockets, and whether each fetch
/// found a kept connection (warm: no handshake, a window already open) or
/// opened one (cold), with the pool settings that decide it.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Default)]
pub struct UpstreamStats {
    /// What the edge calls it: `origin` or `shield`.
    pub name: String,
    /// Its address.
    pub addr: String,
    /// Requests sent.
    pub requests: u64,
    /// Of those, failed or answered 5xx.
    pub errors: u64,
    /// Responses that came on a kept connection.
    pub warm: u64,
    /// Responses that came on a connection opened for them.
    pub cold: u64,
    /// Connections opened (more than `cold` when a fetch opened one but a
    /// kept one freed up first; the pool keeps the new one).
    pub connections_opened: u64,
    /// Bytes read from it at the socket.
    pub bytes_received: u64,
    /// Bytes written to it at the socket.
    pub bytes_sent: u64,
    /// Idle connections the edge keeps to it (the `upstream_pool` setting).
    pub pool: u64,
    /// How long an idle one is kept, seconds (`upstream_idle_timeout`).
    pub idle_timeout_secs: f64,
}

/// What an edge's shadow caches would have done on the requests they were
/// fed (GET/HEAD cache lookups answered 200), beside the real cache on the
/// same requests.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
pub struct ShadowStats {
    /// The share of keys the caches follow (SHARDS spatial sampling, the
    /// world's `shadow_sample`): below 1, every count below except
    /// `samples` and `dropped` is the sampled requests' scaled by
    /// 1 / `sample_rate` (an estimate), and each shadow held
    /// `sample_rate` of its capacity. 1: every request, exact.
    #[serde(default = "one")]
    pub sample_rate: f64,
    /// Requests actually fed to the caches (not scaled).
    #[serde(default)]
    pub samples: u64,
    /// Requests fed to every cache below (scaled).
    pub requests: u64,
    /// Bytes of their objects.
    pub bytes: u64,
    /// Samples not fed (the queue to the caches was full): in no row (not
    /// scaled).
    pub dropped: u64,
    /// The real cache on the same requests: a hit is a request whose
    /// object it had (`hit`, `stale` or `revalidated`).
    pub real: ShadowRow,
    /// One per shadow cache, in the order configured.
    pub caches: Vec<ShadowRow>,
}

fn one() -> f64 {
    1.0
}

/// One cache's result over an edge's shadow samples (counts scaled by
/// [`ShadowStats::sample_rate`]'s inverse; `entries`, `used_bytes` and
/// `heap_bytes` are the sampled cache's own).
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
pub struct ShadowRow {
    /// `lru:64MiB`, or `real (s3fifo, 320MiB)`.
    pub cache: String,
    /// Its policy (`real` for the real cache).
    pub policy: String,
    /// Its capacity, bytes (the real cache: memory and disk tiers).
    pub capacity: u64,
    /// Requests fed.
    pub requests: u64,
    /// Of which hits.
    pub hits: u64,
    /// Bytes of the requests' objects.
    pub bytes: u64,
    /// Of which hits.
    pub hit_bytes: u64,
    /// hits / requests.
    pub hit_ratio: f64,
    /// hit bytes / bytes.
    pub byte_hit_ratio: f64,
    /// Bytes of the misses: what the origin sends.
    pub origin_bytes: u64,
    /// The misses' bytes at the edge's list prices (origin egress and fill
    /// fee, from zero).
    #[serde(with = "decimal")]
    pub origin_usd: Money,
    /// Objects cached now (shadows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Bytes of objects cached now (shadows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    /// Heap bytes of the metadata (shadows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_bytes: Option<u64>,
}

/// A count per outcome, and their sum.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByOutcome {
    /// Fresh hits.
    pub hit: u64,
    /// Misses.
    pub miss: u64,
    /// Served stale.
    pub stale: u64,
    /// Revalidated with a 304.
    pub revalidated: u64,
    /// Passed through.
    pub pass: u64,
    /// Edge-generated errors.
    pub error: u64,
    /// All of them.
    pub total: u64,
}

/// Requests by outcome.
pub type Requests = ByOutcome;

impl ByOutcome {
    /// From a count per outcome.
    pub fn of(f: impl Fn(Outcome) -> u64) -> ByOutcome {
        let mut b = ByOutcome {
            hit: f(Outcome::Hit),
            miss: f(Outcome::Miss),
            stale: f(Outcome::Stale),
            revalidated: f(Outcome::Revalidated),
            pass: f(Outcome::Pass),
            error: f(Outcome::Error),
            total: 0,
        };
        b.total = b.hit + b.miss + b.stale + b.revalidated + b.pass + b.error;
        b
    }

    /// The count of one outcome.
    pub fn get(&self, o: Outcome) -> u64 {
        match o {
            Outcome::Hit => self.hit,
            Outcome::Miss => self.miss,
            Outcome::Stale => self.stale,
            Outcome::Revalidated => self.revalidated,
            Outcome::Pass => self.pass,
            Outcome::Error => self.error,
        }
    }

    /// Hits and stale hits over the total (0 when there is nothing).
    pub fn cached_ratio(&self) -> f64 {
        if self.total == 0 { 0.0 } else { (self.hit + self.stale) as f64 / self.total as f64 }
    }
}

/// Admission setting and effect.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdmissionStats {
    /// Fills of a URL needed before it is stored (edge default; rules may differ).
    pub min_uses: u32,
    /// Window of those fills, seconds.
    pub window_secs: u64,
    /// Storable responses not stored because they were not used often enough.
    pub refused: u64,
}

/// What this edge's traffic costs.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// CDN egress, request fees, origin egress for fills, the fill fee, and their total.
    #[serde(flatten)]
    pub bill: Bill,
    /// The same client bytes served by the origin at its egress price.
    #[serde(with = "decimal")]
    pub without_cdn: Money,
    /// `without_cdn - total` (negative when the CDN costs more).
    #[serde(with = "decimal")]
    pub savings: Money,
}

impl Stats {
    /// The counters a bill is made from.
    pub fn usage(&self) -> Usage {
        let tier = self.tier.as_ref();
        Usage {
            bytes_to_clients: self.bytes_to_clients,
            // a shield's requests from lower tiers are priced as requests
            // (CloudFront bills Origin Shield as requests: docs/cost.md)
            requests: self.requests.total + tier.map_or(0, |t| t.tier_requests.total),
            bytes_from_origin: self.bytes_from_origin,
            bytes_inter_tier: tier.map_or(0, |t| t.bytes_from_shield),
        }
    }
}

/// Hits by the tier that answered them, and the disk tier's reads: what
/// explains a run against the disk tier (docs/disk.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CacheTiers {
    /// Requests answered from the cache (hit or stale) with an entry the
    /// memory tier held.
    pub memory_hits: u64,
    /// Requests answered from the cache (hit or stale) with an entry read
    /// from the disk tier.
    pub disk_hits: u64,
    /// Entries read from the disk tier (every lookup that found one
    /// there: hits, revalidations, slices of large objects, purges).
    pub disk_reads: u64,
    /// Of those, copied into the memory tier (`disk_promotion`).
    pub promotions: u64,
    /// The promotion rule: `reuse`, `always` or `never`.
    pub promotion: String,
    /// Of the disk hits, those whose body was sent from the disk tier's
    /// body file with `sendfile` (a promoted head: no read into memory).
    #[serde(default)]
    pub body_sends: u64,
}

impl CacheTiers {
    /// Bytes read from the device per disk read (`disk_read` over
    /// `disk_reads`; 0 without reads).
    pub fn bytes_per_read(&self, disk_read: u64) -> u64 {
        disk_read.checked_div(self.disk_reads).unwrap_or(0)
    }
}

/// The disk tier's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DiskState {
    /// Writes succeed.
    #[default]
    Ok,
    /// Writes fail or the filesystem is full: new entries stay in memory.
    Failing,
    /// No disk tier (memory only, configured or because it could not open).
    Off,
}

impl DiskState {
    /// Every state, in gauge order.
    pub const ALL: [DiskState; 3] = [DiskState::Ok, DiskState::Failing, DiskState::Off];

    /// The name in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskState::Ok => "ok",
            DiskState::Failing => "failing",
            DiskState::Off => "off",
        }
    }
}

/// The disk part of `/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DiskHealth {
    /// `ok`, `failing` or `off`.
    pub state: DiskState,
    /// Why, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Failed disk writes since start: purge journal.
    pub journal_write_errors: u64,
    /// Failed disk writes since start: journal snapshots.
    pub snapshot_write_errors: u64,
    /// Failed disk writes since start: the disk tier itself (from foyer's log).
    pub cache_write_errors: u64,
    /// Free bytes on the data directory's filesystem, at the last look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    /// Purges applied in memory but not persisted (until the journal is
    /// compacted again).
    pub unpersisted_purges: u64,
    /// Values read from disk that the purge index did not vouch for,
    /// dropped instead of served.
    #[serde(default)]
    pub dropped_entries: u64,
}

/// `/healthz` and the `health` part of `/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HealthReport {
    /// `ok` or `degraded`.
    pub status: String,
    /// What is wrong now.
    #[serde(default)]
    pub problems: Vec<String>,
    /// What start-up had to recover (stays until the next start).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl HealthReport {
    /// The text of `/healthz`: the status, then one line per problem and note.
    pub fn text(&self) -> String {
        let mut s = format!("{}\n", self.status);
        for p in &self.problems {
            s.push_str(&format!("problem: {p}\n"));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s
    }
}

/// The JSON body of `POST /purge`: exactly one of `url`, `prefix`, `tag`,
/// `all: true`; optionally `soft: true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// An exact URL: `/obj/7?x=1` (or `http://host/obj/7?x=1`: the host is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A key prefix: `/img/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// A surrogate key: `product-42`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `true`: everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    /// Mark stale instead of removing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub soft: bool,
    /// The sender's name for this purge (up to 128 of `A-Z a-z 0-9 . _ : -`),
    /// the same in its request to every edge: the dashboard's timeline
    /// groups the edges' records of one purge by it. `cdn purge` and the
    /// dashboard send one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the sender started sending it (Unix ms, wall clock; needs `id`):
    /// the timeline times every edge's acknowledgement from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_unix_ms: Option<u64>,
    /// Its world-wide purge sequence, the same in the sender's request to
    /// every edge (`cdn purge` stamps one; with a control bus the log's
    /// sequence is used instead). Each edge records the highest it applied
    /// and sends it with its fills to an origin shield (`CDN-Purge-Seq`),
    /// which must have applied as much before it answers from its cache
    /// (docs/topology.md, "Purge through tiers").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// In a world with a replicated origin: the primary's position
    /// (`CDN-Origin-Seq`) when the purge was sent. Once it has the purge,
    /// an edge takes no fill from an origin that answers a lower position
    /// (a replica that has not seen the write the purge is for); it asks
    /// the next origin instead (docs/topology.md, "Replicated origin").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_seq: Option<u64>,
}

/// The answer to a purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeResponse {
    /// Edge name.
    pub edge: String,
    /// `url`, `prefix`, `tag` or `all`.
    pub kind: String,
    /// The normalised URL, prefix or tag ("" for all).
    pub target: String,
    /// Soft purge.
    pub soft: bool,
    /// Sequence number of this purge on this edge.
    pub seq: u64,
    /// Stored responses affected (variants and slices count one each;
    /// for `all`: every response the edge had indexed).
    pub objects: u64,
    /// Store keys affected (responses plus `Vary` pointers).
    pub keys: u64,
    /// Origin fetches in flight that later requests will no longer join.
    pub inflight: u64,
    /// Time from the request to the durable acknowledgement, µs.
    pub took_us: u64,
    /// Whether the purge was persisted (false: applied in memory only, 507).
    #[serde(default = "yes")]
    pub persisted: bool,
    /// Why not, when not persisted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its world-wide sequence in the control bus's purge log, when the
    /// edge follows one (docs/bus.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus_seq: Option<u64>,
}

/// The control bus as an edge's `/stats` shows it (docs/bus.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusStatus {
    /// The bus followed (`nats://HOST:PORT`).
    pub url: String,
    /// Connected now.
    pub connected: bool,
    /// In step with the purge log: every purge the log held a lease ago
    /// is applied here.
    pub in_step: bool,
    /// The last purge sequence applied here (the world-wide sequence).
    pub applied_seq: u64,
    /// The log's last sequence when last asked.
    pub log_seq: u64,
    /// Hard purge-alls taken because purges this edge missed had left the log.
    pub lost_state: u64,
}

fn yes() -> bool {
    true
}

/// One purge as an edge applied it (`GET /purge/recent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPurge {
    /// Its sequence number on this edge.
    pub seq: u64,
    /// `url`, `prefix`, `tag` or `all`.
    pub kind: String,
    /// The normalised URL, prefix or tag ("" for all).
    pub target: String,
    /// Soft purge.
    pub soft: bool,
    /// Stored responses affected.
    pub objects: u64,
    /// Store keys affected.
    pub keys: u64,
    /// Origin fetches in flight detached.
    pub inflight: u64,
    /// Whether it was persisted.
    pub persisted: bool,
    /// When the request arrived, Unix ms (wall clock, not the world's).
    pub received_unix_ms: u64,
    /// When it was acknowledged (in effect and durable), Unix ms.
    pub acked_unix_ms: u64,
    /// From arrival to acknowledgement, µs.
    pub took_us: u64,
    /// The sender's id for it, when the request had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When its sender started sending it (Unix ms), when the request said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_unix_ms: Option<u64>,
}

/// `GET /purge/recent[?after=SEQ]`: the last purges an edge applied,
/// whoever sent them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentPurges {
    /// Edge name.
    pub edge: String,
    /// Purges applied so far (the sequence number of the last one): a
    /// reader whose cursor is above it is reading a restarted edge.
    pub seq: u64,
    /// The purges after `after` still remembered, oldest first.
    pub purges: Vec<AppliedPurge>,
}

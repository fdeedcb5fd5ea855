//! What the page draws: the world as nodes with a role, a region and a PoP,
//! the links between them, and each node's live numbers.
//!
//! The model is generic on purpose: today a world has one edge per region,
//! one origin and GeoDNS, but a node may as well be a shield, an origin
//! replica or one of several nodes of a PoP, and a link may go from an edge
//! to a shield or a peer. [`Topology::of_world`] is the one place that
//! turns a world file into nodes and links; the page draws whatever it is
//! given (nodes grouped by region, then PoP), so new roles appear without a
//! redesign of the page.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;
use world::World;

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A cache that answers clients.
    Edge,
    /// A cache in front of the origin that edges fill from.
    Shield,
    /// The origin (the primary, when replicated).
    Origin,
    /// A read replica of the origin.
    Replica,
    /// The DNS server that sends clients to edges.
    Geodns,
}

/// A node's health at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not read yet.
    Unknown,
    /// Answering, healthy.
    Up,
    /// Answering but not well: `/healthz` says so, or a fault is in force.
    Degraded,
    /// Not answering.
    Down,
}

/// A region on the map.
#[derive(Debug, Clone, Serialize)]
pub struct Region {
    /// Name (`seoul`).
    pub name: String,
    /// City (`Seoul`).
    pub city: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// One server.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// Unique id: `edge:seoul`, `origin`, `geodns`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it does.
    pub role: Role,
    /// Region it sits in (GeoDNS sits in none).
    pub region: Option<String>,
    /// PoP it belongs to (today: its region's name; several nodes may share one).
    pub pop: Option<String>,
    /// Public address (HTTP, or DNS for GeoDNS).
    pub public: SocketAddr,
    /// Admin address.
    pub admin: SocketAddr,
    /// Your own origin's URL (it is not cdnlab's: no admin API, no counters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<String>,
}

/// A path bytes take between two nodes.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// Unique id (`edge:seoul>origin`).
    pub id: String,
    /// Node that fetches.
    pub from: String,
    /// Node it fetches from.
    pub to: String,
    /// `fill` (cache to upstream); later `peer`, `shield`, `replication`.
    pub kind: &'static str,
}

/// Nodes, links and regions of a world.
#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    /// World name.
    pub world: String,
    /// Regions, in world order.
    pub regions: Vec<Region>,
    /// Nodes: origin, edges, GeoDNS.
    pub nodes: Vec<Node>,
    /// Links.
    pub links: Vec<Link>,
}

/// The id of an edge's node.
pub fn edge_id(name: &str) -> String {
    format!("edge:{name}")
}

/// The id of the origin's node.
pub const ORIGIN: &str = "origin";
/// The id of GeoDNS's node.
pub const GEODNS: &str = "geodns";

impl Topology {
    /// The nodes and links of `w`.
    pub fn of_world(w: &World) -> Topology {
        let regions = w
            .regions
            .iter()
            .map(|r| Region { name: r.name.clone(), city: r.city.clone(), lat: r.lat, lon: r.lon })
            .collect();
        let mut nodes = vec![Node {
            id: ORIGIN.into(),
            name: "origin".into(),
            role: Role::Origin,
            region: Some(w.origin.region.clone()),
            pop: Some(w.origin.region.clone()),
            public: w.origin.listen,
            admin: w.origin.admin,
            external: None,
        }];
        let mut links = Vec::new();
        for e in &w.edges {
            let id = edge_id(&e.name);
            links.push(Link { id: format!("{id}>{ORIGIN}"), from: id.clone(), to: ORIGIN.into(), kind: "fill" });
            nodes.push(Node {
                id,
                name: e.name.clone(),
                role: Role::Edge,
                region: Some(e.region.clone()),
                pop: Some(e.region.clone()),
                public: e.listen,
                admin: e.admin,
                external: None,
            });
        }
        nodes.push(Node {
            id: GEODNS.into(),
            name: "geodns".into(),
            role: Role::Geodns,
            region: None,
            pop: None,
            public: w.geodns.dns,
            admin: w.geodns.http,
            external: None,
        });
        Topology { world: w.name.clone(), regions, nodes, links }
    }

    /// The same with your own origin (`url`) in place of cdnlab's.
    pub fn with_origin_url(mut self, url: Option<&str>) -> Topology {
        if let (Some(url), Some(o)) = (url, self.nodes.iter_mut().find(|n| n.role == Role::Origin)) {
            o.name = "origin (yours)".into();
            o.external = Some(url.to_string());
        }
        self
    }
}

/// A node's numbers now. Counters are since the node started (as `/stats`
/// says them); rates are per second over the last poll interval.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NodeNow {
    /// Health.
    pub health: Option<Health>,
    /// Why, when not up (`connection refused`, `outage reset`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Requests answered (edges and origin).
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Cache hit ratio (fresh and stale hits / requests), edges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hit_ratio: Option<f64>,
    /// Byte hit ratio, edges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_hit_ratio: Option<f64>,
    /// Bytes sent to clients (socket).
    pub bytes_out: u64,
    /// … per second.
    pub bytes_out_ps: f64,
    /// Requests this node sent upstream (origin fetches), edges.
    pub origin_fetches: u64,
    /// … per second.
    pub origin_fetches_ps: f64,
    /// Memory tier bytes used / capacity.
    pub memory_bytes: u64,
    /// Memory tier capacity.
    pub memory_capacity: u64,
    /// Bytes written to the disk tier (foyer 0.22 does not report use).
    pub disk_written: u64,
    /// Disk tier capacity.
    pub disk_capacity: u64,
    /// Dollars so far (edges: their bill in `cdn stats`; origin: its direct egress).
    pub usd: f64,
    /// The same bytes served by the origin alone.
    pub usd_without_cdn: f64,
    /// The values are the last reading of a node that no longer answers.
    pub stale: bool,
}

/// Where GeoDNS sends one region's clients now.
#[derive(Debug, Clone, Serialize)]
pub struct RouteNow {
    /// Client region.
    pub region: String,
    /// Node id answered (an edge, or the origin when none is healthy).
    pub to: String,
    /// Not the region's nearest edge: its clients were moved.
    pub failover: bool,
    /// Requests per second these clients sent to each server (from the
    /// load driver, during `cdn run`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub served_by_ps: BTreeMap<String, f64>,
}

/// GeoDNS now.
#[derive(Debug, Clone, Serialize, Default)]
pub struct GeoNow {
    /// Health state GeoDNS holds for each edge (`up`, `down`, `unknown`), by node id.
    pub edge_state: BTreeMap<String, String>,
    /// A/AAAA answers so far, by node id (`origin` for the fallback).
    pub answers: BTreeMap<String, u64>,
    /// … per second.
    pub answers_ps: BTreeMap<String, f64>,
    /// Per client region.
    pub routes: Vec<RouteNow>,
    /// A/AAAA answers so far by client region (`other`: located between
    /// regions or not at all), then by node id answered.
    pub by_region: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th.
    pub p95: f64,
    /// 99th.
    pub p99: f64,
    /// How many measurements.
    pub n: u64,
}

/// One point of the charts.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Point {
    /// Unix milliseconds.
    pub t: u64,
    /// Hit ratio per edge in the interval (edges that served requests), by node id.
    pub edge_hit: BTreeMap<String, f64>,
    /// Origin requests per second.
    pub origin_rps: f64,
    /// Latency in the interval.
    pub latency: Option<Percentiles>,
    /// Dollars so far with the CDN (edges' bills and the origin's direct egress).
    pub usd_with: f64,
    /// Dollars so far without it.
    pub usd_without: f64,
}

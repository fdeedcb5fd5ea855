//! Choosing an edge: a client's location (a region, a point, or unknown)
//! gives a *ranking* of every edge by modelled RTT from there; the answer is
//! the first healthy edge of the ranking, or the origin when none is.
//!
//! Rankings depend only on the edges and the location, never on health, so
//! they are computed once: one per region when the edges are known, one
//! per GeoIP record (by its offset) on first use, kept in a per-thread
//! cache so the DNS answer path takes no lock and allocates nothing after
//! warm-up.
//!
//! The edges are the world file's, plus (with a control bus) the edges
//! that joined through its membership bucket ([`crate::members`]). Each
//! edge has a *slot* for the life of the process (world edges first, joined
//! ones after them in order of arrival, up to [`JOINED_MAX`]), so health,
//! metrics and cached rankings index by it; when the membership changes a
//! new [`Routes`] replaces the old one ([`Chooser::replace_routes`]) and
//! every answering thread picks it up at its next query (one atomic load
//! when nothing changed).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use serde::Serialize;
use world::World;

pub use crate::health::EdgeInfo;
use crate::health::Health;
use geoip::{GeoIp, Location, Place};

/// Every edge ordered by modelled RTT from one location (ties: world order).
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// `(edge index, RTT)`, nearest first.
    pub order: Vec<(usize, Duration)>,
    /// Modelled RTT from the location to the origin (for the fallback).
    pub origin_rtt: Duration,
    /// The clients' region (world order), for the answer counts; `None`
    /// when they are located between regions or not at all.
    pub region: Option<usize>,
}

impl Ranking {
    /// The first edge `usable` accepts, with its RTT and how many nearer
    /// edges were skipped; `None` when no edge is usable.
    #[inline]
    pub fn first(&self, usable: impl Fn(usize) -> bool) -> Option<(usize, Duration, usize)> {
        self.order.iter().enumerate().find(|(_, (e, _))| usable(*e)).map(|(skipped, &(e, rtt))| (e, rtt, skipped))
    }
}

/// How a location was turned into a ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// The location is a region's city (same name, or within 50 km).
    Region {
        /// The region.
        region: String,
    },
    /// A point between regions: great-circle RTT to each edge's region.
    Point {
        /// Latitude.
        lat: f64,
        /// Longitude.
        lon: f64,
    },
    /// No location: the world's default region.
    Unknown {
        /// The default region.
        default_region: String,
    },
}

/// How many edges may join through the bus besides the world file's.
pub const JOINED_MAX: usize = 64;

/// Rankings for a world's edges.
pub struct Routes {
    world: World,
    /// Every edge known, by slot (world order, then joined ones); absent
    /// ones ([`Routes::present`] false) are in no ranking.
    pub edges: Vec<EdgeInfo>,
    /// Whether the edge of each slot is answered (ranked) now.
    pub present: Vec<bool>,
    /// Edge slots; the origin's is this one.
    pub capacity: usize,
    /// The A and AAAA answer of each slot, the origin's last.
    answers: Vec<(Option<Ipv4Addr>, Option<Ipv6Addr>)>,
    by_region: Vec<Arc<Ranking>>,
    /// The default region's ranking, for clients of unknown location
    /// (counted in no region).
    unknown: Arc<Ranking>,
    default_region: usize,
}

/// The world file's edges, in its order.
pub fn world_edges(world: &World) -> Vec<EdgeInfo> {
    world
        .edges
        .iter()
        .map(|e| EdgeInfo {
            name: e.name.clone(),
            region: e.region.clone(),
            listen: e.listen,
            admin: e.admin,
            ipv6: e.ipv6,
        })
        .collect()
}

/// The A and AAAA answer for an address (and an optional IPv6 one).
fn answer_of(listen: SocketAddr, ipv6: Option<Ipv6Addr>) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    match listen.ip() {
        IpAddr::V4(a) => (Some(a), ipv6),
        IpAddr::V6(a) => (None, ipv6.or(Some(a))),
    }
}

impl Routes {
    /// The world file's edges, each ranked; no room for joined ones.
    pub fn new(world: &World) -> Routes {
        let edges = world_edges(world);
        let n = edges.len();
        Routes::build(world, edges, vec![true; n], n)
    }

    /// Rankings of the `present` ones of `edges` (by slot), with `capacity`
    /// edge slots (at least `edges.len()`).
    pub fn build(world: &World, edges: Vec<EdgeInfo>, present: Vec<bool>, capacity: usize) -> Routes {
        let capacity = capacity.max(edges.len());
        let ranked = |rtt: &dyn Fn(&str) -> Duration| rank(&edges, &present, &world.origin.region, rtt);
        let by_region = world
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut ranking = ranked(&|region| world.rtt(&r.name, region).unwrap_or(Duration::MAX));
                ranking.region = Some(i);
                Arc::new(ranking)
            })
            .collect::<Vec<_>>();
        let default_region = world.regions.iter().position(|r| r.name == world.default_region()).unwrap_or(0);
        let unknown = Arc::new(Ranking { region: None, ..(*by_region[default_region]).clone() });
        let mut answers = vec![(None, None); capacity + 1];
        for (i, e) in edges.iter().enumerate() {
            answers[i] = answer_of(e.listen, e.ipv6);
        }
        answers[capacity] = answer_of(world.origin.listen, None);
        Routes { world: world.clone(), edges, present, capacity, answers, by_region, unknown, default_region }
    }

    /// The world these routes were built from.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The name of a slot: its edge's, `origin` for the origin's, `None`
    /// for a slot no edge has taken.
    pub fn slot_name(&self, slot: usize) -> Option<&str> {
        match self.edges.get(slot) {
            Some(e) => Some(&e.name),
            None if slot == self.capacity => Some("origin"),
            None => None,
        }
    }

    /// The ranking for a decoded GeoIP place, and why (where the place
    /// is: [`geoip::locate`], the rule the servers' pacing shares).
    pub fn for_place(&self, place: Option<&Place>) -> (Arc<Ranking>, Basis) {
        match geoip::locate(&self.world, place) {
            // A region's own city: its measured RTT table.
            Location::Region(i) => self.region(i),
            Location::Point { lat, lon } => {
                let w = &self.world;
                let ranking = rank(&self.edges, &self.present, &w.origin.region, &|region| {
                    w.rtt_from_point(lat, lon, region).unwrap_or(Duration::MAX)
                });
                (Arc::new(ranking), Basis::Point { lat, lon })
            }
            Location::Unknown => self.unknown(),
        }
    }

    /// The ranking of region `i` (world order).
    pub fn region(&self, i: usize) -> (Arc<Ranking>, Basis) {
        (self.by_region[i].clone(), Basis::Region { region: self.world.regions[i].name.clone() })
    }

    /// The ranking for clients of unknown location.
    pub fn unknown(&self) -> (Arc<Ranking>, Basis) {
        (self.unknown.clone(), Basis::Unknown { default_region: self.world.regions[self.default_region].name.clone() })
    }
}

fn rank(edges: &[EdgeInfo], present: &[bool], origin_region: &str, rtt: &dyn Fn(&str) -> Duration) -> Ranking {
    let mut order: Vec<(usize, Duration)> = edges
        .iter()
        .enumerate()
        .filter(|(i, _)| present.get(*i).copied().unwrap_or(false))
        .map(|(i, e)| (i, rtt(&e.region)))
        .collect();
    order.sort_by_key(|&(i, d)| (d, i));
    Ranking { order, origin_rtt: rtt(origin_region), region: None }
}

/// The address a query is located by: its EDNS Client Subnet address
/// (`ecs`: address, source prefix length), unless the client sent prefix 0
/// (RFC 7871 §7.1.2: do not use its address); else the source address.
#[inline]
pub fn located(ecs: Option<(IpAddr, u8)>, src: IpAddr) -> IpAddr {
    match ecs {
        Some((addr, prefix)) if prefix > 0 => addr,
        _ => src.to_canonical(),
    }
}

/// A routing answer on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Chosen edge, `None` for the origin (no edge healthy).
    pub edge: Option<usize>,
    /// The answer's slot: the edge's, or the origin's ([`Routes::capacity`]).
    pub slot: usize,
    /// The A answer.
    pub v4: Option<Ipv4Addr>,
    /// The AAAA answer.
    pub v6: Option<Ipv6Addr>,
    /// ECS scope prefix length: the GeoIP network the answer holds for.
    pub scope: u8,
    /// The client's region (world order), `None` when in none ([`Ranking::region`]).
    pub client: Option<usize>,
}

/// The full story of one decision, for `/resolve` and `cdn resolve`.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The address located.
    pub ip: IpAddr,
    /// `ecs`, `source`, `query` (the `/resolve?ip=` argument) or `xff`.
    pub located_by: &'static str,
    /// What the GeoIP record says (absent: no record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip: Option<Place>,
    /// Prefix length of the GeoIP network (the ECS scope).
    pub geoip_prefix: u8,
    /// How the location became a ranking.
    pub basis: Basis,
    /// Chosen edge (absent when the origin is answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<String>,
    /// Region of the chosen edge, or of the origin.
    pub region: String,
    /// The address clients should connect to.
    pub address: SocketAddr,
    /// AAAA answer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    /// Modelled RTT from the client to the answer, milliseconds.
    pub rtt_ms: f64,
    /// True when no edge is healthy and the origin is answered.
    pub origin_fallback: bool,
    /// One sentence: why this answer.
    pub why: String,
    /// `checked` (health checks have seen an edge up), `unknown` (no edge
    /// has answered a check yet: routing by distance alone) or `off`.
    pub health: &'static str,
    /// Every edge, nearest first, with its RTT and health.
    pub ranking: Vec<RankedEdge>,
}

/// One line of a decision's ranking.
#[derive(Debug, Clone, Serialize)]
pub struct RankedEdge {
    /// Edge name.
    pub edge: String,
    /// Its region.
    pub region: String,
    /// Modelled RTT, milliseconds.
    pub rtt_ms: f64,
    /// `up`, `down` or `unknown`.
    pub state: &'static str,
    /// Whether routing may answer it now.
    pub usable: bool,
}

/// Locates clients and picks their edge.
pub struct Chooser {
    /// The GeoIP database.
    pub geoip: GeoIp,
    /// The rankings now (replaced when edges join or leave).
    routes: RwLock<Arc<Routes>>,
    /// Bumped by every replacement of `routes`.
    generation: AtomicU64,
    /// Edge health, by slot.
    pub health: Arc<Health>,
    instance: u64,
}

/// Largest per-thread cache of located GeoIP records; cleared when full.
const CACHE_MAX: usize = 1 << 16;

/// One thread's view: the routes of the chooser it last answered for, and
/// rankings by (chooser, routes generation, GeoIP record).
#[derive(Default)]
struct Local {
    current: Option<(u64, u64, Arc<Routes>)>,
    rankings: HashMap<(u64, u64, usize), Arc<Ranking>>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

static INSTANCES: AtomicU64 = AtomicU64::new(1);

impl Chooser {
    /// A chooser over a database, a world's routes and its edges' health
    /// (sized for [`Routes::capacity`] edges).
    pub fn new(geoip: GeoIp, routes: Routes, health: Arc<Health>) -> Chooser {
        Chooser {
            geoip,
            routes: RwLock::new(Arc::new(routes)),
            generation: AtomicU64::new(0),
            health,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The rankings now.
    pub fn routes(&self) -> Arc<Routes> {
        self.routes.read().clone()
    }

    /// Replaces the rankings (edges joined or left); answering threads use
    /// the new ones from their next query. Slots must keep their edges.
    pub fn replace_routes(&self, routes: Routes) {
        let mut g = self.routes.write();
        *g = Arc::new(routes);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The hot path: the edge for a located address, and the ECS scope.
    #[inline]
    pub fn route(&self, ip: IpAddr) -> Route {
        let found = self.geoip.lookup(ip);
        let usable = |e| self.health.usable(e);
        let generation = self.generation.load(Ordering::Acquire);
        LOCAL.with(|l| {
            let Local { current, rankings } = &mut *l.borrow_mut();
            // Borrowed, not cloned: no shared reference count touched per query.
            let routes: &Routes = match current {
                Some((i, g, r)) if *i == self.instance && *g == generation => r,
                _ => &current.insert((self.instance, generation, self.routes())).2,
            };
            let (edge, client) = match found.offset {
                None => (routes.unknown.first(usable), None),
                Some(off) => {
                    let key = (self.instance, generation, off);
                    if let Some(r) = rankings.get(&key) {
                        (r.first(usable), r.region)
                    } else {
                        if rankings.len() >= CACHE_MAX {
                            rankings.clear();
                        }
                        let (ranking, _) = routes.for_place(self.geoip.place(ip).as_ref());
                        let e = (ranking.first(usable), ranking.region);
                        rankings.insert(key, ranking);
                        e
                    }
                }
            };
            let edge = edge.map(|(e, _, _)| e);
            let slot = edge.unwrap_or(routes.capacity);
            let (v4, v6) = routes.answers[slot];
            Route { edge, slot, v4, v6, scope: found.prefix_len, client }
        })
    }

    /// The slow path with every detail, for `/resolve`.
    pub fn decide(&self, ip: IpAddr, located_by: &'static str) -> Decision {
        let found = self.geoip.lookup(ip);
        let place = found.offset.and_then(|_| self.geoip.place(ip));
        let routes = self.routes();
        let (ranking, basis) = routes.for_place(place.as_ref());
        let h = &self.health;
        let usable = |e| h.usable(e);
        let edges = &routes.edges;
        let world = routes.world();
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let health = h.mode();
        let where_ = match &basis {
            Basis::Region { region } => format!("{ip} is in {region}"),
            Basis::Point { lat, lon } => {
                format!("{ip} is at {lat:.2},{lon:.2}, between regions (great-circle RTT)")
            }
            Basis::Unknown { default_region } => {
                format!("{ip} has no GeoIP location; using the default region {default_region}")
            }
        };
        let ranked = ranking
            .order
            .iter()
            .map(|&(e, rtt)| RankedEdge {
                edge: edges[e].name.clone(),
                region: edges[e].region.clone(),
                rtt_ms: ms(rtt),
                state: h.state(e).as_str(),
                usable: usable(e),
            })
            .collect();
        match ranking.first(usable) {
            Some((e, rtt, skipped)) => {
                let edge = &edges[e];
                let mut why = format!("{where_}; nearest ");
                if skipped > 0 {
                    let down: Vec<&str> =
                        ranking.order[..skipped].iter().map(|&(d, _)| edges[d].name.as_str()).collect();
                    why.push_str(&format!("healthy edge is {} ({} down)", edge.name, down.join(", ")));
                } else {
                    why.push_str(&format!("edge is {}", edge.name));
                }
                why.push_str(&format!(" at {} ms", ms(rtt)));
                if health == "unknown" {
                    why.push_str("; health unknown (no edge has answered a check yet)");
                }
                Decision {
                    ip,
                    located_by,
                    geoip: place,
                    geoip_prefix: found.prefix_len,
                    basis,
                    edge: Some(edge.name.clone()),
                    region: edge.region.clone(),
                    address: edge.listen,
                    ipv6: edge.ipv6,
                    rtt_ms: ms(rtt),
                    origin_fallback: false,
                    why,
                    health,
                    ranking: ranked,
                }
            }
            None => Decision {
                ip,
                located_by,
                geoip: place,
                geoip_prefix: found.prefix_len,
                basis,
                edge: None,
                region: world.origin.region.clone(),
                address: world.origin.listen,
                ipv6: None,
                rtt_ms: ms(ranking.origin_rtt),
                origin_fallback: true,
                why: format!("{where_}; no edge is healthy, so clients go straight to the origin"),
                health,
                ranking: ranked,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        Routes::new(&World::demo().unwrap())
    }

    fn names(r: &Routes, k: &Ranking) -> Vec<String> {
        k.order.iter().map(|&(e, _)| r.edges[e].name.clone()).collect()
    }

    #[test]
    fn each_region_ranks_its_own_edge_first_then_by_the_rtt_table() {
        let r = routes();
        let (seoul, _) = r.region(0);
        assert_eq!(names(&r, &seoul), ["seoul", "tokyo", "newyork"]);
        assert_eq!(seoul.order[1].1, Duration::from_millis(30));
        let (ny, _) = r.region(2);
        assert_eq!(names(&r, &ny), ["newyork", "tokyo", "seoul"]);
        assert_eq!(ny.origin_rtt, Duration::from_millis(2));
    }

    #[test]
    fn a_point_between_regions_uses_great_circle_rtt() {
        let r = routes();
        // Honolulu: ~7,400 km to Tokyo, ~7,900 km to Seoul, ~8,000 km to New York.
        let p = Place { lat: Some(21.31), lon: Some(-157.86), ..Default::default() };
        let (k, basis) = r.for_place(Some(&p));
        assert!(matches!(basis, Basis::Point { .. }));
        assert_eq!(names(&r, &k)[0], "tokyo");
        // Anchorage: the nearest edge is whichever the formula says.
        let p = Place { lat: Some(61.2), lon: Some(-149.9), ..Default::default() };
        let (k, _) = r.for_place(Some(&p));
        let rtt = |name: &str| k.order.iter().find(|&&(e, _)| r.edges[e].name == name).unwrap().1;
        let want = world::latency::rtt_between_points(61.2, -149.9, 40.7128, -74.006);
        assert_eq!(rtt("newyork"), want);
        assert_eq!(names(&r, &k)[0], if rtt("newyork") < rtt("tokyo") { "newyork" } else { "tokyo" });
    }

    #[test]
    fn city_name_without_coordinates_and_unknown_places() {
        let r = routes();
        let p = Place { city: Some("tokyo".into()), ..Default::default() };
        assert_eq!(r.for_place(Some(&p)).1, Basis::Region { region: "tokyo".into() });
        let p = Place { city: Some("Atlantis".into()), ..Default::default() };
        assert_eq!(r.for_place(Some(&p)).1, Basis::Unknown { default_region: "newyork".into() });
        assert_eq!(r.for_place(None).1, Basis::Unknown { default_region: "newyork".into() });
    }

    #[test]
    fn first_skips_unusable_edges() {
        let r = routes();
        let (seoul, _) = r.region(0);
        assert_eq!(seoul.first(|_| true).map(|x| x.0), Some(0));
        assert_eq!(seoul.first(|e| e != 0).map(|x| (x.0, x.2)), Some((1, 1)));
        assert_eq!(seoul.first(|_| false), None);
    }
}

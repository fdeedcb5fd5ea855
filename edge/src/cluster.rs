//! PoP clusters: this edge is one node of several behind a PoP's public
//! address, and the nodes shard the cache keys by consistent hashing
//! (docs/topology.md, "PoP clusters"). A miss for a key another node owns
//! is filled from that node, on its peer listener (a *peer fill*: one
//! loopback hop, the owner's flights collapsing every node's misses into
//! one fill), instead of from this node's own upstream; a peer fill is
//! not stored here unless the key is hot ([`HotKeys`]), so the PoP holds
//! each object once.
//!
//! The ring is [`hashring::HashRing`] (a maintained ketama-style ring,
//! Karger et al.'s consistent hashing, with a fixed SipHash so every node
//! computes the same ring) with [`VNODES`] points per node. A node this
//! node's checks find down (the same health logic GeoDNS uses,
//! [`runtime::health`]) leaves the ring: only its keys move, each to the
//! next node on the ring; it comes back when it is up again.
//!
//! A peer fill carries `CDN-Purge-Seq` like a fill to the shield, so an
//! owner that has not applied a purge this node has waits for it or
//! answers without its cache ([`crate::purge::order`]): a node never
//! refills what a purge removed from an owner that missed the purge.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hashring::HashRing;
use parking_lot::{Mutex, RwLock};
use runtime::health::{Checked, State, Thresholds};
use runtime::metered::Traffic;

use crate::upstream::Upstream;

/// Points on the ring per node: enough that four nodes get shares within
/// a few percent of a quarter each (ketama uses 160).
pub const VNODES: u16 = 160;

/// Most distinct keys the hot-key counter follows at once; past it the
/// counts start over (a flash crowd is one key, found again at once).
const HOT_KEYS_TRACKED: usize = 65_536;

/// One node of the PoP, as every node sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// Its name (`seoul-2`).
    pub name: String,
    /// Its peer listener, where the other nodes fill keys it owns.
    pub peer: SocketAddr,
    /// Its admin address (`/healthz`).
    pub admin: SocketAddr,
}

/// This node's PoP (from the world's `[edge.NAME.pop]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The PoP's name (the world's edge: `seoul`).
    pub pop: String,
    /// Every node of the PoP, this one included, in order.
    pub nodes: Vec<NodeConfig>,
    /// This node's position in `nodes`.
    pub me: usize,
    /// A key received more often than this per second is stored here too
    /// (0: never).
    pub hot_key_rps: f64,
    /// Modelled round trip between two nodes (the region's `same_region`).
    pub rtt: Duration,
    /// Time between checks of each peer.
    pub interval: Duration,
    /// A slower check fails.
    pub timeout: Duration,
    /// Successes and failures in a row that change a peer's state.
    pub thresholds: Thresholds,
}

/// A point on the ring: node `node`'s `replica`-th. Hashed by the node's
/// name (not its position), so a node added or renamed moves only its own
/// keys.
#[derive(Debug, Clone)]
struct VNode {
    node: usize,
    name: Arc<str>,
    replica: u16,
}

impl Hash for VNode {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.name.hash(h);
        self.replica.hash(h);
    }
}

/// A ring of `members` (positions in `nodes`).
fn ring_of(names: &[Arc<str>], members: impl Iterator<Item = usize>) -> HashRing<VNode> {
    let mut ring = HashRing::new();
    let points = members
        .flat_map(|node| (0..VNODES).map(move |replica| (node, replica)))
        .map(|(node, replica)| VNode { node, name: names[node].clone(), replica })
        .collect();
    ring.batch_add(points);
    ring
}

/// Which node owns a key, for every node in `members`: the ring's answer.
pub struct Ring {
    names: Vec<Arc<str>>,
    ring: HashRing<VNode>,
    members: Vec<bool>,
}

impl Ring {
    /// The ring of every node in `names`.
    pub fn new(names: &[String]) -> Ring {
        let names: Vec<Arc<str>> = names.iter().map(|n| Arc::from(n.as_str())).collect();
        let ring = ring_of(&names, 0..names.len());
        Ring { members: vec![true; names.len()], names, ring }
    }

    /// The same nodes with only those `members[i]` in the ring.
    pub fn with_members(&self, members: &[bool]) -> Ring {
        let names = self.names.clone();
        let ring = ring_of(&names, (0..names.len()).filter(|i| members[*i]));
        Ring { names, ring, members: members.to_vec() }
    }

    /// The owner of `key` (a position), `None` with no member.
    pub fn owner(&self, key: &str) -> Option<usize> {
        self.ring.get(&key).map(|v| v.node)
    }

    /// Whether node `i` is in the ring.
    pub fn is_member(&self, i: usize) -> bool {
        self.members.get(i).copied().unwrap_or(false)
    }
}

/// Counts each key's requests over one-second windows, to find the keys
/// above the hot-key threshold.
pub struct HotKeys {
    rps: f64,
    /// Key hash → (window second, requests in it).
    counts: Mutex<HashMap<u64, (u64, u32)>>,
    /// Peer fills stored here because their key was hot.
    kept: AtomicU64,
}

impl HotKeys {
    fn new(rps: f64) -> HotKeys {
        HotKeys { rps, counts: Mutex::new(HashMap::new()), kept: AtomicU64::new(0) }
    }

    /// Counts a request for `key` (a miss here that would go to its owner)
    /// at `now_ms`; `true` when the key is over the threshold this second.
    pub fn hit(&self, key: &str, now_ms: u64) -> bool {
        if self.rps <= 0.0 {
            return false;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let sec = now_ms / 1000;
        let mut counts = self.counts.lock();
        if counts.len() >= HOT_KEYS_TRACKED {
            counts.clear();
        }
        let c = counts.entry(h.finish()).or_insert((sec, 0));
        if c.0 != sec {
            *c = (sec, 0);
        }
        c.1 = c.1.saturating_add(1);
        f64::from(c.1) > self.rps
    }

    /// Counts a peer fill stored here because its key was hot.
    pub fn kept(&self) {
        self.kept.fetch_add(1, Ordering::Relaxed);
    }

    /// Peer fills stored here because their key was hot.
    pub fn kept_count(&self) -> u64 {
        self.kept.load(Ordering::Relaxed)
    }
}

/// Another node: the way to its peer listener and its health.
pub struct Peer {
    /// Its name.
    pub name: String,
    /// Its admin address (`/healthz`).
    pub admin: SocketAddr,
    /// Pool, modelled RTT, requests and errors to its peer listener.
    pub upstream: Upstream,
    /// Bytes to and from its peer listener, at this node's sockets.
    pub traffic: Arc<Traffic>,
    /// Its health as this node's checks see it.
    pub health: Checked,
}

/// This node's view of its PoP: the peers, the ring, the hot keys.
pub struct Cluster {
    /// Its settings.
    pub config: ClusterConfig,
    /// Every node in order; `None` at this node's own position.
    pub peers: Vec<Option<Peer>>,
    /// The ring of the nodes in it now (every node but those found down).
    ring: RwLock<Ring>,
    /// All nodes' ring, rebuilt with the members of the moment.
    full: Ring,
    /// Keys received often enough to be stored here too.
    pub hot: HotKeys,
    /// Peer fills that could not reach the owner and went to this node's
    /// own upstream instead.
    fallbacks: AtomicU64,
    /// Times the ring changed (a node left or came back).
    changes: AtomicU64,
}

/// Where one miss is filled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// This node owns the key: its own upstream (origin or shield).
    Me,
    /// Node `i` owns it: a peer fill.
    Peer(usize),
}

impl Cluster {
    /// This node's view of the PoP of `config`; `upstream_to(node,
    /// traffic)` makes the upstream to a peer's listener, metered in `traffic`.
    pub fn new(config: ClusterConfig, mut upstream_to: impl FnMut(&NodeConfig, Arc<Traffic>) -> Upstream) -> Cluster {
        let names: Vec<String> = config.nodes.iter().map(|n| n.name.clone()).collect();
        let full = Ring::new(&names);
        let peers = config
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (i != config.me).then(|| {
                    let traffic = Arc::new(Traffic::default());
                    Peer {
                        name: n.name.clone(),
                        admin: n.admin,
                        upstream: upstream_to(n, traffic.clone()),
                        traffic,
                        health: Checked::default(),
                    }
                })
            })
            .collect();
        let ring = RwLock::new(full.with_members(&vec![true; names.len()]));
        let hot = HotKeys::new(config.hot_key_rps);
        Cluster { config, peers, ring, full, hot, fallbacks: AtomicU64::new(0), changes: AtomicU64::new(0) }
    }

    /// Who fills `key`: this node or the owning peer (this node when the
    /// ring is empty, which it never is: this node is always in it).
    pub fn owner(&self, key: &str) -> Owner {
        match self.ring.read().owner(key) {
            Some(i) if i != self.config.me => Owner::Peer(i),
            _ => Owner::Me,
        }
    }

    /// The peer at position `i`.
    pub fn peer(&self, i: usize) -> Option<&Peer> {
        self.peers.get(i)?.as_ref()
    }

    /// Counts a peer fill sent to this node's own upstream instead.
    pub fn fell_back(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Peer fills sent to this node's own upstream instead.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Times the ring changed.
    pub fn ring_changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// The names of the nodes in the ring now.
    pub fn ring_members(&self) -> Vec<String> {
        let ring = self.ring.read();
        self.config.nodes.iter().enumerate().filter(|(i, _)| ring.is_member(*i)).map(|(_, n)| n.name.clone()).collect()
    }

    /// Bytes read from every peer's listener.
    pub fn bytes_from_peers(&self) -> u64 {
        self.peers.iter().flatten().map(|p| p.traffic.input()).sum()
    }

    /// Peer fills sent, over every peer.
    pub fn peer_fills(&self) -> u64 {
        self.peers.iter().flatten().map(|p| p.upstream.requests()).sum()
    }

    /// Rebuilds the ring from the peers' health: every node not known
    /// down (unknown counts as up: the first fills find out), and this
    /// node always.
    fn rebuild(&self) {
        let members: Vec<bool> = (0..self.config.nodes.len())
            .map(|i| self.peer(i).is_none_or(|p| p.health.state() != State::Down))
            .collect();
        let next = self.full.with_members(&members);
        let names: Vec<&str> = (0..members.len()).filter(|i| members[*i]).map(|i| &*self.full.names[i]).collect();
        tracing::warn!(pop = %self.config.pop, ring = ?names, "PoP ring changed");
        *self.ring.write() = next;
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    /// One check of every peer's `/healthz`; the ring is rebuilt when a
    /// peer went down or came back.
    pub async fn check(&self) {
        let checks = self.peers.iter().flatten().map(|p| async move {
            let t0 = std::time::Instant::now();
            let (ok, detail) = runtime::health::probe(p.admin, self.config.timeout).await;
            p.health.record(self.config.thresholds, ok, detail, t0.elapsed())
        });
        let changed = futures_util::future::join_all(checks).await;
        if changed.iter().any(|c| matches!(c, Some(State::Down | State::Up))) {
            self.rebuild();
        }
    }
}

/// Checks the peers (`cluster_of(owner)`, if any) every `interval` until
/// `shutdown` fires.
pub async fn watch<S>(owner: Arc<S>, cluster_of: fn(&S) -> Option<&Cluster>, mut shutdown: runtime::Shutdown) {
    let Some(c) = cluster_of(&owner) else { return };
    let mut tick = tokio::time::interval(c.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => c.check().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("seoul-{i}")).collect()
    }

    /// Every node computes the same owners (the ring is a function of the
    /// names alone), and four nodes share the keys about evenly.
    #[test]
    fn the_ring_is_the_same_on_every_node_and_shares_keys_evenly() {
        let (a, b) = (Ring::new(&names(4)), Ring::new(&names(4)));
        let mut share = [0u32; 4];
        for k in 0..40_000 {
            let key = format!("/obj/{k}");
            let o = a.owner(&key).unwrap();
            assert_eq!(Some(o), b.owner(&key));
            share[o] += 1;
        }
        for s in share {
            assert!((8_000..12_000).contains(&s), "shares {share:?}");
        }
    }

    /// A node leaving moves its keys only, each to another node; the rest
    /// stay where they were (the minimum, 1/N of the keys, moves).
    #[test]
    fn a_node_leaving_moves_only_its_own_keys() {
        let full = Ring::new(&names(4));
        let without_3 = full.with_members(&[true, true, false, true]);
        let (mut moved, mut owned_by_3) = (0, 0);
        for k in 0..20_000 {
            let key = format!("/obj/{k}");
            let (before, after) = (full.owner(&key).unwrap(), without_3.owner(&key).unwrap());
            assert_ne!(after, 2, "a key still owned by the node gone");
            if before == 2 {
                owned_by_3 += 1;
            }
            if before != after {
                assert_eq!(before, 2, "{key} moved from a node still in the ring");
                moved += 1;
            }
        }
        assert_eq!(moved, owned_by_3);
        // And back: the same owners as before it left.
        let back = without_3.with_members(&[true; 4]);
        assert!((0..2_000).all(|k| back.owner(&format!("/obj/{k}")) == full.owner(&format!("/obj/{k}"))));
    }

    #[test]
    fn a_key_is_hot_past_the_threshold_within_a_second() {
        let h = HotKeys::new(3.0);
        let hot: Vec<bool> = (0..5).map(|_| h.hit("/obj/7", 10_000)).collect();
        assert_eq!(hot, [false, false, false, true, true]);
        assert!(!h.hit("/obj/7", 11_000), "a new second starts the count again");
        assert!(!HotKeys::new(0.0).hit("/obj/7", 0), "0: off");
    }
}

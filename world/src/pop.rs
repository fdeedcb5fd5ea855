//! PoP clusters: an `[[edge]]` with a `[edge.pop]` table is a point of
//! presence of several nodes behind one public address. This module
//! derives the nodes (names and addresses) and checks the table
//! ([`check`], called by [`crate::load`]).
//!
//! Addresses (docs/worlds.md, "PoP clusters"): the PoP keeps the edge's
//! public and admin addresses `127.k.0.1:8080` / `:9080` (its balancer);
//! node `i` (1-based) of the PoP listens on `127.k.0.(10+i)` (public and
//! admin ports as the edge's) and takes peer fills on `127.k.0.(40+i)`
//! (public port). `127.k.0.2` stays the shield's tier listener; clients
//! stay on `127.k.x.y` with x ≥ 1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::config::{Edge, Pop, PopPolicy, World};
use crate::toml_file::{Problems, Seg};

/// Most nodes in one PoP (their addresses are `127.k.0.11` to `.26`).
pub const MAX_NODES: u32 = 16;

/// Last octet of node 1's public address, less one.
const NODE_BASE: u8 = 10;
/// Last octet of node 1's peer listener, less one.
const PEER_BASE: u8 = 40;

/// Highest `hot_key_rps`.
pub const MAX_HOT_KEY_RPS: f64 = 1e6;

/// One node of a PoP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `{edge}-{i}` (`seoul-1`), its name in `Cache-Status` (`edge-seoul-1`).
    pub name: String,
    /// 0-based position in the PoP.
    pub index: usize,
    /// Public address (the balancer forwards clients' connections here).
    pub listen: SocketAddr,
    /// Admin address (purge, stats, `/healthz`).
    pub admin: SocketAddr,
    /// Peer listener: where the other nodes fill keys this node owns.
    pub peer: SocketAddr,
}

fn with_last_octet(a: SocketAddr, octet: u8, port: u16) -> Option<SocketAddr> {
    match a.ip() {
        IpAddr::V4(v4) => {
            let [x, y, z, _] = v4.octets();
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(x, y, z, octet)), port))
        }
        IpAddr::V6(_) => None,
    }
}

/// The nodes of PoP edge `e` (empty for a plain edge, or one whose
/// addresses cannot be derived: [`check`] refuses those).
pub fn nodes_of(e: &Edge) -> Vec<Node> {
    let Some(pop) = &e.pop else { return Vec::new() };
    let n = pop.nodes.min(MAX_NODES) as u8;
    (1..=n)
        .filter_map(|i| {
            Some(Node {
                name: format!("{}-{i}", e.name),
                index: usize::from(i - 1),
                listen: with_last_octet(e.listen, NODE_BASE + i, e.listen.port())?,
                admin: with_last_octet(e.listen, NODE_BASE + i, e.admin.port())?,
                peer: with_last_octet(e.listen, PEER_BASE + i, e.listen.port())?,
            })
        })
        .collect()
}

/// A server `cdn up` runs for a world, by the name commands take
/// (`cdn restart NAME`, `--only edge:NAME`).
#[derive(Debug, Clone)]
pub enum Server<'a> {
    /// A plain edge.
    Edge(&'a Edge),
    /// A PoP, named for its balancer (its public address).
    Pop(&'a Edge),
    /// A node of a PoP: the PoP, and the node.
    Node(&'a Edge, Node),
}

impl World {
    /// The server called `name`: an edge, a PoP (its balancer) or a PoP's
    /// node.
    pub fn server(&self, name: &str) -> Option<Server<'_>> {
        match self.edge(name) {
            Some(e) if e.pop.is_some() => Some(Server::Pop(e)),
            Some(e) => Some(Server::Edge(e)),
            None => self.node(name).map(|(e, n)| Server::Node(e, n)),
        }
    }

    /// Every server's name, in world order: each edge, and after a PoP
    /// its nodes (`seoul, seoul-1, …, seoul-4, tokyo`), for messages
    /// that list the names a command takes.
    pub fn server_names(&self) -> Vec<String> {
        self.edges
            .iter()
            .flat_map(|e| std::iter::once(e.name.clone()).chain(nodes_of(e).into_iter().map(|n| n.name)))
            .collect()
    }

    /// The PoP edge node `name` belongs to, and the node.
    pub fn node(&self, name: &str) -> Option<(&Edge, Node)> {
        self.edges
            .iter()
            .filter(|e| e.pop.is_some())
            .find_map(|e| Some((e, nodes_of(e).into_iter().find(|n| n.name == name)?)))
    }

    /// Node `name` as an edge of its own: the PoP's edge with the node's
    /// name and addresses (and no `pop`), so it starts with the PoP's
    /// settings (`cdn edge --name seoul-2`).
    pub fn node_edge(&self, name: &str) -> Option<Edge> {
        let (pop, n) = self.node(name)?;
        Some(Edge { name: n.name, listen: n.listen, admin: n.admin, pop: None, ipv6: None, ..pop.clone() })
    }

    /// Every server that holds a cache: each plain edge, and every node of
    /// each PoP (in place of the PoP, [`World::node_edge`]). Purges go to
    /// each of them.
    pub fn cache_servers(&self) -> Vec<Edge> {
        self.edges
            .iter()
            .flat_map(|e| match &e.pop {
                None => vec![e.clone()],
                Some(_) => nodes_of(e).iter().filter_map(|n| self.node_edge(&n.name)).collect(),
            })
            .collect()
    }
}

/// Every problem of the edges' `[edge.pop]` tables: no node, too many, a
/// hashing policy with one node (nothing to shard), hot keys without
/// hashing or out of range, an IPv6 PoP (its node addresses cannot be
/// derived), a shield PoP that does not hash, bad health
/// checks. Addresses in use twice are found with every other address
/// ([`crate::load`]).
pub fn check(w: &World, p: &mut Problems<'_>) {
    let k = Seg::Key;
    for (i, e) in w.edges.iter().enumerate() {
        let Some(pop) = &e.pop else { continue };
        let at = |f: &'static str| [k("edge"), Seg::Index(i), k("pop"), k(f)];
        let Pop { nodes, policy, hot_key_rps, health } = pop;
        if *nodes == 0 {
            p.at(&at("nodes"), format!("edge `{}`: pop.nodes 0: a PoP needs at least one node", e.name));
        } else if *nodes > MAX_NODES {
            p.at(&at("nodes"), format!("edge `{}`: pop.nodes {nodes}: at most {MAX_NODES}", e.name));
        } else if *nodes == 1 && *policy == PopPolicy::Hash {
            p.at(
                &at("policy"),
                format!(
                    "edge `{}`: pop.policy \"hash\" with 1 node: hashing shards keys across nodes, one node has \
                     nothing to share (give pop.nodes ≥ 2, or another policy)",
                    e.name
                ),
            );
        }
        if !(hot_key_rps.is_finite() && (0.0..=MAX_HOT_KEY_RPS).contains(hot_key_rps)) {
            p.at(&at("hot_key_rps"), format!("edge `{}`: pop.hot_key_rps must be 0 to {MAX_HOT_KEY_RPS:e}", e.name));
        } else if *hot_key_rps > 0.0 && *policy != PopPolicy::Hash {
            p.at(
                &at("hot_key_rps"),
                format!(
                    "edge `{}`: pop.hot_key_rps is for hashed PoPs (policy \"{}\" already caches every key on every node)",
                    e.name,
                    policy.as_str()
                ),
            );
        }
        if e.listen.is_ipv6() {
            p.at(
                &[k("edge"), Seg::Index(i), k("listen")],
                format!("edge `{}`: a PoP's nodes are derived from an IPv4 listen address (127.k.0.x)", e.name),
            );
        }
        if w.shield.as_ref().is_some_and(|s| s.region == e.region) && *policy != PopPolicy::Hash {
            p.at(
                &[k("shield"), k("region")],
                format!(
                    "shield region `{}` is served by PoP `{}` of policy \"{}\": a shield PoP must hash (pop.policy = \"hash\"), \
                     so that every lower tier's fill for a key meets at the key's owner and the origin is asked once; \
                     with \"{}\" each node would fill its own copy",
                    e.region,
                    e.name,
                    policy.as_str(),
                    policy.as_str()
                ),
            );
        }
        for n in nodes_of(e) {
            if w.edge(&n.name).is_some() {
                p.at(&at("nodes"), format!("edge `{}`: its node `{}` has the name of another edge", e.name, n.name));
            }
        }
        crate::tiers::check_health(p, health, &[k("edge"), Seg::Index(i), k("pop"), k("health")], "pop.health");
    }
}

/// Every node address of every PoP, labelled for the duplicate-address check.
pub fn addresses(w: &World) -> Vec<(Vec<String>, String, SocketAddr)> {
    let mut v = Vec::new();
    for (i, e) in w.edges.iter().enumerate() {
        for n in nodes_of(e) {
            let path = vec!["edge".to_string(), format!("#{i}"), "pop".into(), "nodes".into()];
            v.push((path.clone(), format!("node `{}` listen", n.name), n.listen));
            if n.admin != n.listen {
                v.push((path.clone(), format!("node `{}` admin", n.name), n.admin));
            }
            v.push((path, format!("node `{}` peer listener", n.name), n.peer));
        }
    }
    v
}

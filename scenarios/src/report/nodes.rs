//! A PoP's nodes in a run's report: the PoP's balancer adds its nodes'
//! counters up into one edge's (`crate::pop_stats`), so the edges table
//! shows a PoP as one edge; this table splits it again, per node.
//!
//! Client-side columns come from the driver's samples: each response is
//! attributed to the node whose entry is the last of its `Cache-Status`
//! (the node the balancer handed the connection to writes it,
//! [`crate::driver::Sample::node`]). The work a node did for the other
//! nodes (peer fills it answered as a key's owner) is not visible to
//! clients: it comes from each node's own `/stats` (`cluster.peer_requests`),
//! read before and after the run. A node's *load* is both: the requests
//! its clients sent plus the peer requests it answered.

use std::fmt::Write as _;

use serde::Serialize;
use world::World;

use super::{group, percentile};
use crate::driver::{Kind, NONE, Sample};

/// One PoP node over a run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NodeRow {
    /// Its PoP (the world's edge: `seoul`).
    pub pop: String,
    /// The node (`seoul-2`).
    pub node: String,
    /// Client requests it answered (the driver's count).
    pub requests: u64,
    /// `requests` / every client request its PoP's nodes answered.
    pub share: f64,
    /// Its clients' fresh and stale hits / its client requests.
    pub hit_ratio: f64,
    /// Median latency of its client requests (errors left out), ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// As a key's owner: the other nodes' peer fills it answered (its
    /// counters); `None` when a reading before or after was missing.
    pub peer_requests: Option<u64>,
    /// (`requests` + `peer_requests`) / the same summed over its PoP: its
    /// share of the PoP's work (`None` without every node's counters).
    pub load_share: Option<f64>,
}

/// Each PoP node's counters that are not the client's to see: the peer
/// requests it answered as an owner, in [`node_names`] order (`None`: its
/// `/stats` did not answer).
pub type NodeCounts = Vec<Option<u64>>;

/// Every PoP node of `w`: (its PoP's edge index, PoP name, node name,
/// admin address), in world order.
pub(crate) fn nodes(w: &World) -> Vec<(usize, String, String, std::net::SocketAddr)> {
    w.edges
        .iter()
        .enumerate()
        .flat_map(|(i, e)| world::pop::nodes_of(e).into_iter().map(move |n| (i, e.name.clone(), n.name, n.admin)))
        .collect()
}

/// The names of every PoP node of `w`, in world order.
pub fn node_names(w: &World) -> Vec<String> {
    nodes(w).into_iter().map(|n| n.2).collect()
}

/// What the nodes counted between `before` and `after`; a counter that
/// went down started again from zero (the node restarted): its count
/// after is taken whole, and a note says so.
pub fn since(w: &World, before: &NodeCounts, after: &NodeCounts) -> (NodeCounts, Vec<String>) {
    let names = node_names(w);
    let mut notes = Vec::new();
    let d = after
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (a, b) = ((*a)?, before.get(i).copied().flatten()?);
            if a < b {
                notes.push(format!(
                    "node {}: its peer-request counter went down during the run (it restarted): counted from its restart",
                    names.get(i).map_or("?", String::as_str)
                ));
                return Some(a);
            }
            Some(a - b)
        })
        .collect();
    (d, notes)
}

/// The node rows of a run: `samples` after the warm-up, `peer` the nodes'
/// peer requests over the same time ([`since`]).
pub fn rows(w: &World, samples: &[Sample], peer: &NodeCounts) -> Vec<NodeRow> {
    let all = nodes(w);
    let mut rows: Vec<NodeRow> = Vec::with_capacity(all.len());
    let mut k = 0;
    for (ei, e) in w.edges.iter().enumerate() {
        let mine: Vec<&(usize, String, String, std::net::SocketAddr)> = all.iter().filter(|n| n.0 == ei).collect();
        if mine.is_empty() {
            continue;
        }
        let of_pop: Vec<&Sample> = samples.iter().filter(|s| s.edge as usize == ei && s.node != NONE).collect();
        let first = rows.len();
        for (pos, n) in mine.iter().enumerate() {
            let got: Vec<&&Sample> = of_pop.iter().filter(|s| s.node as usize == pos).collect();
            let mut lat: Vec<u32> = got.iter().filter(|s| s.kind != Kind::Error).map(|s| s.latency_us).collect();
            lat.sort_unstable();
            let hits = got.iter().filter(|s| matches!(s.kind, Kind::Hit | Kind::Stale)).count();
            rows.push(NodeRow {
                pop: e.name.clone(),
                node: n.2.clone(),
                requests: got.len() as u64,
                share: got.len() as f64 / of_pop.len().max(1) as f64,
                hit_ratio: hits as f64 / got.len().max(1) as f64,
                p50_ms: percentile(&lat, 0.5),
                p99_ms: percentile(&lat, 0.99),
                peer_requests: peer.get(k + pos).copied().flatten(),
                load_share: None,
            });
        }
        k += mine.len();
        let pop = &mut rows[first..];
        if pop.iter().all(|r| r.peer_requests.is_some()) {
            let load = |r: &NodeRow| r.requests + r.peer_requests.unwrap_or(0);
            let total: u64 = pop.iter().map(load).sum();
            for r in pop.iter_mut() {
                r.load_share = Some(load(r) as f64 / total.max(1) as f64);
            }
        }
    }
    rows
}

/// The largest share of its PoP's work one node did (`None`: no PoP, or
/// a node's counters missing).
pub fn max_load_share(rows: &[NodeRow]) -> Option<f64> {
    rows.iter().map(|r| r.load_share).collect::<Option<Vec<f64>>>()?.into_iter().reduce(f64::max)
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or("—".into(), f)
}

const NOTE: &str = "requests: client requests each node answered (the node named by the last Cache-Status entry); \
                    as owner: the other nodes' peer fills it answered (its /stats); load: both, as a share of the PoP's.";

/// The terminal lines.
pub fn render(rows: &[NodeRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "  {:<12} {:>9} {:>7} {:>7} {:>8} {:>8} {:>9} {:>7}\n",
        "PoP node", "requests", "share", "hit", "p50 ms", "p99 ms", "as owner", "load"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "  {:<12} {:>9} {:>7.3} {:>7.3} {:>8.1} {:>8.1} {:>9} {:>7}",
            r.node,
            r.requests,
            r.share,
            r.hit_ratio,
            r.p50_ms,
            r.p99_ms,
            opt(r.peer_requests, |v| v.to_string()),
            opt(r.load_share, |v| format!("{v:.3}"))
        );
    }
    let _ = writeln!(s, "  ({NOTE})");
    s
}

/// The `report.md` section.
pub fn markdown(rows: &[NodeRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "\n## PoP nodes\n\n{NOTE}\n\n| PoP | node | requests | share | hit ratio | p50 ms | p99 ms | as owner | load share |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3} | {:.3} | {:.1} | {:.1} | {} | {} |",
            r.pop,
            r.node,
            group(r.requests),
            r.share,
            r.hit_ratio,
            r.p50_ms,
            r.p99_ms,
            opt(r.peer_requests, group),
            opt(r.load_share, |v| format!("{v:.3}"))
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(edge: u8, node: u8, ms: u32, kind: Kind) -> Sample {
        Sample {
            plan: 0,
            at_ms: 0,
            region: 0,
            edge,
            node,
            status: 200,
            kind,
            bytes: 1,
            latency_us: ms * 1000,
            ttfb_us: 0,
            corrupt: false,
            stale_after_purge: false,
            flash: false,
        }
    }

    fn cluster_world() -> World {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/worlds/cluster.toml");
        World::load(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Client requests are split by the node that answered, the load adds
    /// the peer requests each node answered as an owner.
    #[test]
    fn each_node_gets_its_requests_latencies_and_share_of_the_pops_work() {
        let w = cluster_world();
        let seoul = w.edges.iter().position(|e| e.pop.is_some()).unwrap_or_else(|| panic!("no PoP")) as u8;
        let mut samples = vec![
            sample(seoul, 0, 2, Kind::Hit),
            sample(seoul, 0, 4, Kind::Hit),
            sample(seoul, 1, 100, Kind::Miss),
            sample(seoul, 2, 6, Kind::Hit),
        ];
        // not a node's: another edge, and a PoP request no node answered
        samples.push(sample(seoul + 1, NONE, 1, Kind::Hit));
        samples.push(sample(seoul, NONE, 0, Kind::Error));
        let (peer, notes) =
            since(&w, &vec![Some(10), Some(0), Some(0), Some(5)], &vec![Some(14), Some(0), Some(0), Some(1)]);
        assert_eq!(peer, vec![Some(4), Some(0), Some(0), Some(1)]);
        assert_eq!(notes.len(), 1, "node 4's counter went down: {notes:?}");
        let r = rows(&w, &samples, &peer);
        let got: Vec<(&str, u64, f64, f64)> =
            r.iter().map(|r| (r.node.as_str(), r.requests, r.share, r.p99_ms)).collect();
        assert_eq!(
            got,
            [
                ("seoul-1", 2, 0.5, 4.0),
                ("seoul-2", 1, 0.25, 100.0),
                ("seoul-3", 1, 0.25, 6.0),
                ("seoul-4", 0, 0.0, 0.0)
            ]
        );
        assert_eq!(r[1].hit_ratio, 0.0);
        // load: 2+4, 1, 1, 0+1 of 9
        assert_eq!(r[0].load_share, Some(6.0 / 9.0));
        assert_eq!(max_load_share(&r), Some(6.0 / 9.0));
        let missing = rows(&w, &samples, &vec![Some(1), None, Some(0), Some(0)]);
        assert_eq!(max_load_share(&missing), None, "a node without counters: no load share");
        assert!(rows(&World::demo().unwrap_or_else(|e| panic!("{e}")), &samples, &Vec::new()).is_empty());
    }
}

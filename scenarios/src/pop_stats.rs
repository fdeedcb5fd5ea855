//! A PoP's `/stats` (served by its balancer, [`crate::balancer`]): its
//! nodes' counters added up into one edge's, so everything that reads an
//! edge's `/stats` at the world's admin address (`cdn stats`, run reports,
//! the dashboard, GeoDNS's view) sees the PoP as one edge. Ratios are
//! computed again from the sums, the bill priced again from them; the
//! per-node counters stay on each node's own `/stats` (and in the
//! balancer's `/pop`).

use api::edge::{ByOutcome, ClusterStats, Cost, Stats, UpstreamStats};
use world::Money;
use world::price::{Prices, Usage};

fn add(a: &mut ByOutcome, b: &ByOutcome) {
    a.hit += b.hit;
    a.miss += b.miss;
    a.stale += b.stale;
    a.revalidated += b.revalidated;
    a.pass += b.pass;
    a.error += b.error;
    a.total += b.total;
}

fn add_upstream(lines: &mut Vec<UpstreamStats>, u: &UpstreamStats) {
    // One line per upstream kind: the PoP's links to the origin (or the
    // shield), and its nodes' peer fills.
    match lines.iter_mut().find(|l| l.name == u.name) {
        Some(l) => {
            l.requests += u.requests;
            l.errors += u.errors;
            l.warm += u.warm;
            l.cold += u.cold;
            l.connections_opened += u.connections_opened;
            l.bytes_received += u.bytes_received;
            l.bytes_sent += u.bytes_sent;
            if l.addr != u.addr {
                l.addr = "(several)".into();
            }
        }
        None => lines.push(u.clone()),
    }
}

fn add_cluster(a: &mut ClusterStats, b: &ClusterStats) {
    a.ring_changes += b.ring_changes;
    a.peer_fills += b.peer_fills;
    a.peer_fallbacks += b.peer_fallbacks;
    a.hot_keys_kept += b.hot_keys_kept;
    a.bytes_from_peers += b.bytes_from_peers;
    add(&mut a.peer_requests, &b.peer_requests);
    a.bytes_to_peers += b.bytes_to_peers;
    a.behind_purge += b.behind_purge;
}

/// The nodes' stats as one edge's, named `pop`, priced at `prices`
/// (`None` without a node).
pub fn merge(pop: &str, nodes: &[Stats], prices: &Prices) -> Option<Stats> {
    let (first, rest) = nodes.split_first()?;
    let mut s = first.clone();
    s.edge = pop.to_string();
    s.upstreams = Vec::new();
    for u in &first.upstreams {
        add_upstream(&mut s.upstreams, u);
    }
    for n in rest {
        add(&mut s.requests, &n.requests);
        add(&mut s.body_bytes, &n.body_bytes);
        s.bytes_to_clients += n.bytes_to_clients;
        s.bytes_from_clients += n.bytes_from_clients;
        s.client_connections += n.client_connections;
        s.client_connections_refused += n.client_connections_refused;
        s.bytes_from_origin += n.bytes_from_origin;
        s.bytes_to_origin += n.bytes_to_origin;
        s.origin_requests += n.origin_requests;
        s.origin_errors += n.origin_errors;
        for u in &n.upstreams {
            add_upstream(&mut s.upstreams, u);
        }
        s.stored += n.stored;
        s.not_stored += n.not_stored;
        s.admission.refused += n.admission.refused;
        s.inflight += n.inflight;
        s.memory_bytes += n.memory_bytes;
        s.memory_capacity += n.memory_capacity;
        s.memory_entries += n.memory_entries;
        s.disk_capacity += n.disk_capacity;
        s.disk_written += n.disk_written;
        s.disk_read += n.disk_read;
        s.cache_tiers.memory_hits += n.cache_tiers.memory_hits;
        s.cache_tiers.disk_hits += n.cache_tiers.disk_hits;
        s.cache_tiers.disk_reads += n.cache_tiers.disk_reads;
        s.cache_tiers.promotions += n.cache_tiers.promotions;
        if let (Some(a), Some(b)) = (s.tier.as_mut(), n.tier.as_ref()) {
            a.shield_requests += b.shield_requests;
            a.shield_fallbacks += b.shield_fallbacks;
            a.bytes_from_shield += b.bytes_from_shield;
            add(&mut a.tier_requests, &b.tier_requests);
            a.bytes_to_tiers += b.bytes_to_tiers;
            a.bytes_from_tiers += b.bytes_from_tiers;
            a.tier_connections += b.tier_connections;
            a.behind_purge += b.behind_purge;
            a.purge_seq = a.purge_seq.min(b.purge_seq);
        }
        if let (Some(a), Some(b)) = (s.cluster.as_mut(), n.cluster.as_ref()) {
            add_cluster(a, b);
        }
    }
    s.hit_ratio = s.requests.cached_ratio();
    s.byte_hit_ratio = s.body_bytes.cached_ratio();
    // Priced as one edge prices itself (edge/src/stats.rs).
    let usage: Usage = s.usage();
    let bill = prices.bill(&usage, &Usage::default(), 0);
    let without_cdn = prices.without_cdn(0, usage.bytes_to_clients);
    s.cost = Cost { bill, without_cdn, savings: Money(without_cdn.0 - bill.total.0) };
    Some(s)
}

/// One node's line in `cdn stats`' PoP table.
fn node_line(name: &str, s: &Stats) -> String {
    let c = s.cluster.clone().unwrap_or_default();
    format!(
        "  {:<12} {:>9} {:>7.3} {:>10} {:>12} {:>8} {:>6}  {}\n",
        name,
        s.requests.total,
        s.hit_ratio,
        c.peer_fills,
        c.peer_requests.total,
        s.origin_requests,
        c.hot_keys_kept,
        if c.ring.is_empty() { "-".to_string() } else { c.ring.join(",") }
    )
}

/// `cdn stats`' table of every PoP's nodes: each node's client requests,
/// hit ratio, peer fills it sent, peer requests it answered as the owner,
/// origin requests, hot keys kept and its ring (empty for a world
/// without PoPs).
pub async fn node_tables(w: &world::World) -> String {
    let Ok(http) = reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(2)).build() else {
        return String::new();
    };
    let mut out = String::new();
    for e in w.edges.iter().filter(|e| e.pop.is_some()) {
        let pop = e.pop.as_ref().map(|p| p.policy.as_str()).unwrap_or_default();
        let nodes = world::pop::nodes_of(e);
        out.push_str(&format!(
            "\nPoP {} ({pop}, {} nodes; peer fills: misses filled from the owning node)\n  {:<12} {:>9} {:>7} {:>10} {:>12} {:>8} {:>6}  ring\n",
            e.name,
            nodes.len(),
            "node",
            "requests",
            "hit",
            "peer fills",
            "as owner",
            "origin",
            "hot"
        ));
        for n in nodes {
            let got = match http.get(format!("http://{}/stats", n.admin)).send().await {
                Ok(r) => r.json::<Stats>().await,
                Err(e) => Err(e),
            };
            match got {
                Ok(s) => out.push_str(&node_line(&n.name, &s)),
                Err(err) => out.push_str(&format!("  {:<12} unreachable: {err}\n", n.name)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn node(hit: u64, miss: u64, origin: u64) -> Stats {
        let zero = serde_json::to_value(ByOutcome::default()).unwrap();
        let mut s: Stats = serde_json::from_value(serde_json::json!({
            "edge": "n", "region": "seoul", "requests": zero, "hit_ratio": 0.0, "byte_hit_ratio": 0.0,
            "body_bytes": zero, "bytes_to_clients": 1000, "bytes_from_clients": 0, "client_connections": 1,
            "bytes_from_origin": 10, "bytes_to_origin": 0, "origin_requests": origin, "stored": 0, "not_stored": 0,
            "admission": { "min_uses": 1, "window_secs": 600, "refused": 0 }, "inflight": 0, "memory_bytes": 0,
            "memory_capacity": 100, "memory_entries": 0, "disk_capacity": 0, "disk_written": 0, "disk_read": 0,
            "rtt_to_origin_ms": 185.0,
            "cost": { "cdn_egress": "0", "requests": "0", "origin_egress": "0", "fill": "0", "total": "0",
                      "without_cdn": "0", "savings": "0" }
        }))
        .unwrap();
        s.requests = ByOutcome { hit, miss, total: hit + miss, ..ByOutcome::default() };
        s
    }

    #[test]
    fn a_pops_stats_add_its_nodes_up_and_recompute_the_ratios() {
        let m = merge("seoul", &[node(3, 1, 1), node(1, 3, 2)], &Prices::default()).unwrap();
        assert_eq!(m.edge, "seoul");
        assert_eq!((m.requests.total, m.origin_requests, m.memory_capacity), (8, 3, 200));
        assert_eq!(m.hit_ratio, 0.5);
        assert_eq!((m.admission.min_uses, m.rtt_to_origin_ms), (1, 185.0), "settings are not added up");
        assert!(merge("seoul", &[], &Prices::default()).is_none());
    }
}

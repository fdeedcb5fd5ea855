//! Per-site figures of a run against a replicated origin: for every
//! origin site (the world file's primary and each replica), the requests
//! the edges (and a shield) sent it and the bytes they read from it, from
//! the edges' own link counters (`/stats` `upstreams`: `origin` is the
//! world file's primary, `origin-{region}` a replica), and what those
//! bytes cost at the site's own region's origin egress prices (each site
//! pays its own egress, from its first byte). The run's bill prices the
//! same bytes together in the world origin's tiers; this table says where
//! they came from.

use std::fmt::Write as _;

use serde::Serialize;
use world::World;
use world::price::tiered_cost_range;

use super::EdgeDelta;

/// One origin site's row.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct SiteRow {
    /// Its region.
    pub site: String,
    /// `primary` (the world file's) or `replica`.
    pub started_as: String,
    /// Requests the edges sent it (after the warm-up).
    pub requests: u64,
    /// Bytes the edges read from it (socket).
    pub bytes: u64,
    /// Its egress for those bytes, at its region's origin egress prices.
    pub origin_egress_usd: f64,
}

/// The name of the edges' link to `site` in `/stats` `upstreams`.
pub fn link_name(site: &world::replicas::Site) -> String {
    if site.primary { "origin".into() } else { format!("origin-{}", site.region) }
}

/// One row per origin site of a replicated world (none for one origin).
pub fn rows(w: &World, edges: &[EdgeDelta]) -> Vec<SiteRow> {
    if !w.is_replicated() {
        return Vec::new();
    }
    w.origin_sites()
        .iter()
        .map(|site| {
            let name = link_name(site);
            let links = edges.iter().filter_map(|d| d.links.get(&name));
            let (requests, bytes) = links.fold((0, 0), |(r, b), c| (r + c.fetches, b + c.bytes_in));
            let tiers = w.prices_in(&site.region).origin_egress;
            SiteRow {
                site: site.region.clone(),
                started_as: if site.primary { "primary" } else { "replica" }.into(),
                requests,
                bytes,
                origin_egress_usd: tiered_cost_range(0, bytes, &tiers).as_usd(),
            }
        })
        .collect()
}

/// The table as text (the run's summary).
pub fn render(rows: &[SiteRow]) -> String {
    let mut s =
        format!("  {:<12} {:<10} {:>9} {:>10} {:>12}\n", "origin site", "started as", "requests", "MB", "egress $");
    for r in rows {
        let _ = writeln!(
            s,
            "  {:<12} {:<10} {:>9} {:>10.2} {:>12.4}",
            r.site,
            r.started_as,
            r.requests,
            r.bytes as f64 / 1e6,
            r.origin_egress_usd
        );
    }
    s.push_str("  (requests and bytes the edges sent each site; egress at the site's region's prices)\n");
    s
}

/// The table as Markdown (`report.md`).
pub fn markdown(rows: &[SiteRow]) -> String {
    let mut s = String::from(
        "\n## Origin sites\n\nWhat the edges asked of each site of the replicated origin (the world file's \
         primary and each replica, whatever their role became): requests, bytes read from it (MB = 10^6 \
         bytes), and its egress for them at its region's origin egress prices.\n\n\
         | site | started as | requests | MB | egress $ |\n| --- | --- | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.4} |",
            r.site,
            r.started_as,
            r.requests,
            r.bytes as f64 / 1e6,
            r.origin_egress_usd
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::links::LinkCounts;

    #[test]
    fn each_site_counts_the_edges_links_to_it() {
        let w = World::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/worlds/replicated.toml"
        )))
        .unwrap();
        let link = |fetches, bytes_in| LinkCounts { fetches, bytes_in, ..LinkCounts::default() };
        let mut a = EdgeDelta::default();
        a.links.insert("origin".into(), link(3, 3_000_000));
        a.links.insert("origin-seoul".into(), link(10, 5_000_000));
        let mut b = EdgeDelta::default();
        b.links.insert("origin-seoul".into(), link(1, 1_000_000));
        b.links.insert("shield".into(), link(99, 99));
        let rows = rows(&w, &[a, b]);
        let by = |s: &str| rows.iter().find(|r| r.site == s).unwrap().clone();
        assert_eq!(
            (by("newyork").requests, by("newyork").bytes, by("newyork").started_as.as_str()),
            (3, 3_000_000, "primary")
        );
        assert_eq!((by("seoul").requests, by("seoul").bytes), (11, 6_000_000));
        assert_eq!((by("tokyo").requests, by("tokyo").bytes), (0, 0));
        assert!(by("seoul").origin_egress_usd > 0.0 && by("tokyo").origin_egress_usd == 0.0);
        assert!(render(&rows).contains("seoul"), "{}", render(&rows));
        assert!(markdown(&rows).contains("| seoul | replica | 11 | 6.00 |"), "{}", markdown(&rows));
    }
}

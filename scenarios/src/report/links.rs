//! Per-link figures of a run: for every edge's upstream link (`seoul →
//! origin`; shields and peers when they come), the fetches it carried,
//! how many found a kept connection (warm) or opened one (cold), the
//! connections opened, and the bytes each way, from the edges' own
//! counters (`/stats` `upstreams`) added up over the run like the rest
//! of the edges table ([`crate::tally`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use api::edge::UpstreamStats;
use serde::Serialize;
use world::World;

use super::EdgeDelta;

/// One link's counters between two moments.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Fetches sent.
    pub fetches: u64,
    /// Answered on a kept connection.
    pub warm: u64,
    /// Answered on a connection opened for them.
    pub cold: u64,
    /// Connections opened.
    pub opened: u64,
    /// Bytes the edge read from the link (socket).
    pub bytes_in: u64,
    /// Bytes the edge wrote to it.
    pub bytes_out: u64,
}

impl LinkCounts {
    /// An upstream's counters as `/stats` gives them.
    pub fn of(u: &UpstreamStats) -> LinkCounts {
        LinkCounts {
            fetches: u.requests,
            warm: u.warm,
            cold: u.cold,
            opened: u.connections_opened,
            bytes_in: u.bytes_received,
            bytes_out: u.bytes_sent,
        }
    }

    /// `self − earlier`, counter by counter (0 where a counter went down).
    pub fn since(&self, e: &LinkCounts) -> LinkCounts {
        LinkCounts {
            fetches: self.fetches.saturating_sub(e.fetches),
            warm: self.warm.saturating_sub(e.warm),
            cold: self.cold.saturating_sub(e.cold),
            opened: self.opened.saturating_sub(e.opened),
            bytes_in: self.bytes_in.saturating_sub(e.bytes_in),
            bytes_out: self.bytes_out.saturating_sub(e.bytes_out),
        }
    }

    /// Adds `d`.
    pub fn add(&mut self, d: &LinkCounts) {
        self.fetches += d.fetches;
        self.warm += d.warm;
        self.cold += d.cold;
        self.opened += d.opened;
        self.bytes_in += d.bytes_in;
        self.bytes_out += d.bytes_out;
    }
}

/// An edge's upstream links by upstream name.
pub type Links = BTreeMap<String, LinkCounts>;

/// One row of the links table.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct LinkRow {
    /// The edge.
    pub from: String,
    /// Its upstream (`origin`).
    pub to: String,
    /// What the link carried during the run (after the warm-up).
    #[serde(flatten)]
    pub counts: LinkCounts,
}

/// Every edge's links, in the world's order of edges.
pub fn rows(w: &World, edges: &[EdgeDelta]) -> Vec<LinkRow> {
    w.edges
        .iter()
        .zip(edges)
        .flat_map(|(e, d)| d.links.iter().map(|(to, c)| LinkRow { from: e.name.clone(), to: to.clone(), counts: *c }))
        .collect()
}

impl LinkCounts {
    /// The table's cells: fetches, warm, cold, opened; MB in, MB out.
    fn cells(&self) -> ([u64; 4], [f64; 2]) {
        let mb = |b: u64| b as f64 / 1e6;
        ([self.fetches, self.warm, self.cold, self.opened], [mb(self.bytes_in), mb(self.bytes_out)])
    }
}

/// The table as text (the run's summary).
pub fn render(rows: &[LinkRow]) -> String {
    let mut s = format!(
        "  {:<18} {:>8} {:>7} {:>7} {:>7} {:>10} {:>10}\n",
        "link", "fetches", "warm", "cold", "opened", "MB in", "MB out"
    );
    for r in rows {
        let ([fetches, warm, cold, opened], [bytes_in, bytes_out]) = r.counts.cells();
        let _ = writeln!(
            s,
            "  {:<18} {fetches:>8} {warm:>7} {cold:>7} {opened:>7} {bytes_in:>10.2} {bytes_out:>10.2}",
            format!("{} → {}", r.from, r.to)
        );
    }
    s.push_str("  (warm: on a kept connection; cold: on one opened for it; MB in: what the edge read from the link)\n");
    s
}

/// The table as Markdown (`report.md`).
pub fn markdown(rows: &[LinkRow]) -> String {
    let mut s = String::from(
        "\n## Links\n\nEach edge's upstream link: fetches on a kept connection (warm: no handshake, a window \
         already open) and on one opened for them (cold), connections opened, and the bytes at the edge's \
         sockets (MB = 10^6 bytes; in: read from the link).\n\n\
         | link | fetches | warm | cold | opened | MB in | MB out |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let ([fetches, warm, cold, opened], [bytes_in, bytes_out]) = r.counts.cells();
        let _ = writeln!(
            s,
            "| {} → {} | {fetches} | {warm} | {cold} | {opened} | {bytes_in:.2} | {bytes_out:.2} |",
            r.from, r.to
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout of the tour output's rows (a row of the 2026-12-06 18:18 UTC tour run).
    #[test]
    fn rows_render_in_columns() {
        let counts =
            LinkCounts { fetches: 3988, warm: 3540, cold: 15, opened: 446, bytes_in: 75_700_000, bytes_out: 710_000 };
        let rows = [LinkRow { from: "seoul".into(), to: "origin".into(), counts }];
        let want = "  seoul → origin         3988    3540      15     446      75.70       0.71\n";
        assert!(render(&rows).contains(want), "{}", render(&rows));
        assert!(markdown(&rows).contains("| seoul → origin | 3988 | 3540 | 15 | 446 | 75.70 | 0.71 |"));
    }
}

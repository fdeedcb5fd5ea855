//! Time to first byte and total time of a run's requests, per client
//! region and per object-size band: what the network model makes of
//! distance (regions) and of size (slow start, bandwidth: bands). The
//! driver measures both on every request ([`crate::driver::Sample`]);
//! failed requests are left out, as in every latency figure.

use std::fmt::Write as _;

use serde::Serialize;
use world::World;

use super::percentile;
use crate::driver::{Kind, Sample};

/// The object-size bands, by body bytes received: upper bounds
/// (exclusive) and names. Chosen around the transfer model's round
/// counts (docs/network.md): under 16 KiB an object fits the initial
/// window (about one data round trip), up to 256 KiB a few rounds of slow
/// start, up to 4 MiB slow start to the bandwidth-delay product, above
/// that mostly bandwidth.
pub const SIZE_BANDS: [(u64, &str); 4] =
    [(16 << 10, "< 16 KiB"), (256 << 10, "16-256 KiB"), (4 << 20, "256 KiB-4 MiB"), (u64::MAX, ">= 4 MiB")];

/// The band a body of `bytes` falls in (index into [`SIZE_BANDS`]).
pub fn band(bytes: u64) -> usize {
    SIZE_BANDS.iter().position(|(upper, _)| bytes < *upper).unwrap_or(SIZE_BANDS.len() - 1)
}

/// Percentiles of one group of requests, ms.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct TimingRow {
    /// Region name or size band.
    pub name: String,
    /// Requests answered (failed ones left out).
    pub requests: u64,
    /// Of those, answered from an edge's cache (fresh or stale).
    pub hits: u64,
    /// Time to first byte: 50th, 95th, 99th percentile.
    pub ttfb_p50_ms: f64,
    /// 95th.
    pub ttfb_p95_ms: f64,
    /// 99th.
    pub ttfb_p99_ms: f64,
    /// Total time (last byte): 50th percentile.
    pub total_p50_ms: f64,
    /// 95th.
    pub total_p95_ms: f64,
    /// 99th.
    pub total_p99_ms: f64,
}

impl TimingRow {
    /// TTFB p50, p95, p99, then total p50, p95, p99.
    fn ms(&self) -> [f64; 6] {
        [self.ttfb_p50_ms, self.ttfb_p95_ms, self.ttfb_p99_ms, self.total_p50_ms, self.total_p95_ms, self.total_p99_ms]
    }

    fn hit_ratio(&self) -> f64 {
        self.hits as f64 / self.requests.max(1) as f64
    }
}

/// Both tables.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Timing {
    /// One row per client region that sent requests.
    pub regions: Vec<TimingRow>,
    /// One row per size band that had requests.
    pub sizes: Vec<TimingRow>,
}

fn row(name: &str, group: &[&Sample]) -> TimingRow {
    let mut ttfb: Vec<u32> = group.iter().map(|x| x.ttfb_us).collect();
    let mut total: Vec<u32> = group.iter().map(|x| x.latency_us).collect();
    ttfb.sort_unstable();
    total.sort_unstable();
    TimingRow {
        name: name.into(),
        requests: group.len() as u64,
        hits: group.iter().filter(|x| matches!(x.kind, Kind::Hit | Kind::Stale)).count() as u64,
        ttfb_p50_ms: percentile(&ttfb, 0.5),
        ttfb_p95_ms: percentile(&ttfb, 0.95),
        ttfb_p99_ms: percentile(&ttfb, 0.99),
        total_p50_ms: percentile(&total, 0.5),
        total_p95_ms: percentile(&total, 0.95),
        total_p99_ms: percentile(&total, 0.99),
    }
}

/// The tables of `samples` (the run's, after its warm-up).
pub fn of(samples: &[Sample], w: &World) -> Timing {
    let ok: Vec<&Sample> = samples.iter().filter(|x| x.kind != Kind::Error).collect();
    let regions = w
        .regions
        .iter()
        .enumerate()
        .filter_map(|(ri, r)| {
            let mine: Vec<&Sample> = ok.iter().copied().filter(|x| x.region as usize == ri).collect();
            (!mine.is_empty()).then(|| row(&r.name, &mine))
        })
        .collect();
    let sizes = SIZE_BANDS
        .iter()
        .enumerate()
        .filter_map(|(b, (_, name))| {
            let mine: Vec<&Sample> = ok.iter().copied().filter(|x| band(x.bytes as u64) == b).collect();
            (!mine.is_empty()).then(|| row(name, &mine))
        })
        .collect();
    Timing { regions, sizes }
}

impl Timing {
    /// The tables as text (the run's summary).
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (title, rows) in [("client region", &self.regions), ("object size", &self.sizes)] {
            let _ = writeln!(
                s,
                "  {:<14} {:>8} {:>6}   {:>9} {:>9} {:>9}   {:>9} {:>9} {:>9}",
                title, "requests", "hit", "TTFB p50", "p95", "p99", "total p50", "p95", "p99"
            );
            for r in rows.iter() {
                let ms: Vec<String> = r.ms().iter().map(|v| format!("{v:>9.1}")).collect();
                let (ttfb, total) = (ms[..3].join(" "), ms[3..].join(" "));
                let _ = writeln!(s, "  {:<14} {:>8} {:>6.3}   {ttfb}   {total}", r.name, r.requests, r.hit_ratio());
            }
        }
        s.push_str("  (ms; TTFB: to the first body byte; total: to the last; failed requests left out)\n");
        s
    }

    /// The tables as Markdown (`report.md`).
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "\n## Time to first byte and total time\n\nPer client region and per object size (body bytes: \
             < 16 KiB fits the initial congestion window, 16-256 KiB takes a few rounds of slow start, \
             256 KiB-4 MiB slow start to the bandwidth-delay product, above that mostly bandwidth; \
             docs/network.md). Milliseconds; failed requests left out.\n",
        );
        for (title, rows) in [("client region", &self.regions), ("object size", &self.sizes)] {
            let _ = write!(
                s,
                "\n| {title} | requests | hit ratio | TTFB p50 | TTFB p95 | TTFB p99 | total p50 | total p95 | total p99 |\n\
                 | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            );
            for r in rows.iter() {
                let ms: Vec<String> = r.ms().iter().map(|v| format!("{v:.1}")).collect();
                let _ = writeln!(s, "| {} | {} | {:.3} | {} |", r.name, r.requests, r.hit_ratio(), ms.join(" | "));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(region: u8, bytes: u32, ttfb_ms: u32, total_ms: u32, kind: Kind) -> Sample {
        Sample {
            plan: 0,
            at_ms: 0,
            region,
            edge: 0,
            node: crate::driver::NONE,
            status: 200,
            kind,
            bytes,
            latency_us: total_ms * 1000,
            ttfb_us: ttfb_ms * 1000,
            corrupt: false,
            stale_after_purge: false,
            flash: false,
        }
    }

    /// The layout of the tour output's rows (a row of the 2026-12-06 18:18 UTC tour run).
    #[test]
    fn rows_render_in_columns() {
        let r = TimingRow {
            name: "seoul".into(),
            requests: 11290,
            hits: 8558,
            ttfb_p50_ms: 2.2,
            ttfb_p95_ms: 189.2,
            ttfb_p99_ms: 190.2,
            total_p50_ms: 2.2,
            total_p95_ms: 189.2,
            total_p99_ms: 190.3,
        };
        let t = Timing { regions: vec![r], sizes: Vec::new() };
        let want = "  seoul             11290  0.758         2.2     189.2     190.2         2.2     189.2     190.3\n";
        assert!(t.render().contains(want), "{}", t.render());
        assert!(t.markdown().contains("| seoul | 11290 | 0.758 | 2.2 | 189.2 | 190.2 | 2.2 | 189.2 | 190.3 |"));
    }

    #[test]
    fn bands_split_at_16k_256k_and_4m() {
        assert_eq!([band(0), band(16383), band(16384), band(262_143), band(262_144)], [0, 0, 1, 1, 2]);
        assert_eq!([band((4 << 20) - 1), band(4 << 20), band(u64::MAX)], [2, 3, 3]);
    }

    #[test]
    fn rows_group_by_region_and_band_and_leave_out_failures() {
        let w = World::demo().unwrap_or_else(|e| panic!("{e}"));
        let samples = [
            sample(0, 1000, 2, 3, Kind::Hit),
            sample(0, 100_000, 150, 600, Kind::Miss),
            sample(1, 100_000, 10, 40, Kind::Hit),
            sample(1, 1000, 9_999, 9_999, Kind::Error),
        ];
        let t = of(&samples, &w);
        assert_eq!(t.regions.len(), 2);
        let r0 = &t.regions[0];
        assert_eq!((r0.name.as_str(), r0.requests, r0.hits), (w.regions[0].name.as_str(), 2, 1));
        assert_eq!((r0.ttfb_p99_ms, r0.total_p99_ms), (150.0, 600.0));
        assert_eq!(t.regions[1].requests, 1, "the failed request is left out");
        let names: Vec<&str> = t.sizes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["< 16 KiB", "16-256 KiB"]);
        assert_eq!((t.sizes[1].requests, t.sizes[1].ttfb_p50_ms, t.sizes[1].total_p99_ms), (2, 150.0, 600.0));
    }
}

//! The what-if caches' table: each edge's real cache beside its shadow
//! caches (the world's `shadow` setting, edge/src/shadow.rs) on the same
//! requests: hit ratio, byte hit ratio, origin bytes and their price, and
//! what each alternative would have saved or cost against the real cache.
//! `cdn stats` prints it after the bill, a run report after its tables.

use std::fmt::Write as _;

use api::edge::{ShadowRow, ShadowStats, Stats};
use serde::{Deserialize, Serialize};
use world::Money;
use world::price::GB;

/// One edge's shadow caches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeShadows {
    /// Edge name.
    pub edge: String,
    /// What its `/stats` said.
    #[serde(flatten)]
    pub stats: ShadowStats,
}

/// The edges that keep shadow caches, in the order given.
pub fn of<'a>(edges: impl IntoIterator<Item = (&'a str, Option<&'a Stats>)>) -> Vec<EdgeShadows> {
    edges
        .into_iter()
        .filter_map(|(name, s)| Some(EdgeShadows { edge: name.to_string(), stats: s?.shadow.clone()? }))
        .collect()
}

/// `+$0.001200` / `-$0.000300`: `row`'s origin cost against the real one's.
fn versus(row: &ShadowRow, real: &ShadowRow) -> String {
    let d = row.origin_usd - real.origin_usd;
    if d.0 >= 0 { format!("+{d}") } else { format!("-{}", Money(-d.0)) }
}

/// `10%`, `0.5%`: a sampling rate.
fn rate(r: f64) -> String {
    format!("{}%", (r * 100_000.0).round() / 1000.0)
}

fn mb(b: u64) -> String {
    format!("{:.3}", b as f64 / (GB as f64 / 1024.0))
}

/// The table as text (`markdown`: a Markdown table), with a heading and a
/// line on how to read it; empty without shadow caches.
pub fn render(edges: &[EdgeShadows], markdown: bool) -> String {
    let mut s = String::new();
    if edges.is_empty() {
        return s;
    }
    let head = ["edge", "cache", "requests", "hit", "byte hit", "MB origin", "$ origin", "vs real"];
    if markdown {
        s.push_str("## What-if caches\n\n");
        let _ = writeln!(s, "| {} |", head.join(" | "));
        let _ = writeln!(s, "| --- | --- |{}", " ---: |".repeat(head.len() - 2));
    } else {
        s.push_str("What-if caches (shadow caches fed each edge's cache lookups; MB = 2^20 bytes):\n");
        let _ = writeln!(
            s,
            "{:<10} {:<26} {:>9} {:>7} {:>9} {:>11} {:>12} {:>12}",
            head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7]
        );
    }
    for e in edges {
        let st = &e.stats;
        for (i, r) in std::iter::once(&st.real).chain(&st.caches).enumerate() {
            let edge = if i == 0 { e.edge.as_str() } else { "" };
            let vs = if i == 0 { String::new() } else { versus(r, &st.real) };
            let cells = [
                edge.to_string(),
                r.cache.clone(),
                r.requests.to_string(),
                format!("{:.3}", r.hit_ratio),
                format!("{:.3}", r.byte_hit_ratio),
                mb(r.origin_bytes),
                r.origin_usd.to_string(),
                vs,
            ];
            if markdown {
                let _ = writeln!(s, "| {} |", cells.join(" | "));
            } else {
                let line = format!(
                    "{:<10} {:<26} {:>9} {:>7} {:>9} {:>11} {:>12} {:>12}",
                    cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
                );
                let _ = writeln!(s, "{}", line.trim_end());
            }
        }
        if st.sample_rate < 1.0 {
            let _ = writeln!(
                s,
                "{}{}'s rows are sampled: {} of keys followed ({} requests fed), each shadow at that share of its \
                 size, counts scaled by {:.4} (estimates){}",
                if markdown { "\n" } else { "" },
                e.edge,
                rate(st.sample_rate),
                st.samples,
                1.0 / st.sample_rate,
                if markdown { "\n" } else { "" }
            );
        }
        if st.dropped > 0 {
            let _ = writeln!(
                s,
                "{}{} requests not fed to {}'s shadow caches (their queue was full): in no row{}",
                if markdown { "\n" } else { "" },
                st.dropped,
                e.edge,
                if markdown { "\n" } else { "" }
            );
        }
    }
    let note = "A request is fed when the edge looked it up and answered 200 (hit, stale, revalidated or miss; not \
                passes, errors, ranges or 304s); a hit is a request whose object the cache held. $ origin prices the \
                misses' bytes (origin egress + fill, list prices); vs real: that against the real cache (+ costs \
                more). Shadows keep keys and sizes only, never expire or purge (docs/traces.md, \"Shadow caches\"). \
                Counters run since each edge started.";
    let _ = writeln!(s, "{}{note}", if markdown { "\n" } else { "(" });
    if !markdown {
        s.pop();
        s.push_str(")\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cache: &str, policy: &str, hits: u64, origin_usd: Money) -> ShadowRow {
        ShadowRow {
            cache: cache.into(),
            policy: policy.into(),
            capacity: 1 << 20,
            requests: 10,
            hits,
            bytes: 10_000,
            hit_bytes: hits * 1000,
            hit_ratio: hits as f64 / 10.0,
            byte_hit_ratio: hits as f64 / 10.0,
            origin_bytes: (10 - hits) * 1000,
            origin_usd,
            entries: None,
            used_bytes: None,
            heap_bytes: None,
        }
    }

    #[test]
    fn the_table_has_a_row_per_cache_and_the_difference_to_the_real_one() {
        let st = ShadowStats {
            sample_rate: 1.0,
            samples: 10,
            requests: 10,
            bytes: 10_000,
            dropped: 3,
            real: row("real (s3fifo, 1MiB)", "real", 6, Money(4000)),
            caches: vec![row("lru:64KiB", "lru", 2, Money(8000)), row("sieve:4MiB", "sieve", 8, Money(2000))],
        };
        let e = vec![EdgeShadows { edge: "seoul".into(), stats: st }];
        let text = render(&e, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[2].starts_with("seoul") && lines[2].contains("real (s3fifo, 1MiB)") && lines[2].contains("0.600")
        );
        assert!(lines[3].contains("lru:64KiB") && lines[3].ends_with("+$0.000004"), "{}", lines[3]);
        assert!(lines[4].contains("sieve:4MiB") && lines[4].ends_with("-$0.000002"), "{}", lines[4]);
        assert!(text.contains("3 requests not fed to seoul's shadow caches"));
        let md = render(&e, true);
        assert!(md.contains("| seoul | real (s3fifo, 1MiB) | 10 | 0.600 |"), "{md}");
        assert!(md.contains("|  | lru:64KiB | 10 | 0.200 |"), "{md}");
        assert!(!text.contains("sampled"), "{text}");
        assert_eq!(render(&[], false), "");
    }

    #[test]
    fn a_sampled_edge_says_so_and_at_what_rate() {
        let st = ShadowStats {
            sample_rate: 0.1,
            samples: 1,
            requests: 10,
            bytes: 10_000,
            dropped: 0,
            real: row("real (s3fifo, 1MiB)", "real", 6, Money(4000)),
            caches: vec![row("lru:64KiB", "lru", 2, Money(8000))],
        };
        let e = vec![EdgeShadows { edge: "seoul".into(), stats: st }];
        for md in [false, true] {
            let text = render(&e, md);
            assert!(
                text.contains("seoul's rows are sampled: 10% of keys followed (1 requests fed)")
                    && text.contains("scaled by 10.0000"),
                "{text}"
            );
        }
    }
}

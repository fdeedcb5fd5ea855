//! Side-by-side runs: `cdn run` runs each arm (`[[arm]]`, or one per
//! `[sweep]` value) with its own report in `NN-<arm>/`; this is the comparison:
//! `arms.md` (one table of every measure, one of latency per client region
//! with and without the CDN), `arms.json`, and one chart per measure
//! (`arms-<measure>.svg`; a sweep over numbers also gets `sweep.svg`, the
//! measures against the value).
//!
//! An arm is a set of changes to the scenario, merged like everything else
//! ([`crate::scenario`]): any scenario field, and through `overrides` any
//! world setting, with the scenario's seed, so every arm gets the same
//! requests. Nothing here knows what an arm changes.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::plot::{COLORS, bar_labels, err, legend};
use crate::report::{Report, usd};
use crate::scenario::Loaded;

/// A measure compared across arms.
pub struct Measure {
    /// File-name key (`arms-<key>.svg`).
    pub key: &'static str,
    /// Column and chart title.
    pub label: &'static str,
    /// Its value in a report.
    pub get: fn(&Report) -> f64,
    /// How a value is shown.
    pub show: fn(f64) -> String,
}

fn ratio(v: f64) -> String {
    format!("{v:.3}")
}
fn ms(v: f64) -> String {
    format!("{v:.1} ms")
}
fn count(v: f64) -> String {
    format!("{v:.0}")
}

/// The measures of the comparison, in table order.
pub const MEASURES: &[Measure] = &[
    Measure { key: "hit-ratio", label: "hit ratio", get: |r| r.totals.hit_ratio, show: ratio },
    Measure { key: "origin-offload", label: "origin offload", get: |r| r.totals.origin_offload, show: ratio },
    Measure { key: "p50", label: "p50 latency", get: |r| r.totals.p50_ms, show: ms },
    Measure { key: "p95", label: "p95 latency", get: |r| r.totals.p95_ms, show: ms },
    Measure { key: "error-ratio", label: "error ratio", get: |r| r.totals.error_ratio, show: |v| format!("{v:.4}") },
    Measure { key: "origin-requests", label: "origin requests", get: |r| r.totals.origin_requests as f64, show: count },
    Measure {
        key: "origin-per-object",
        label: "origin requests per object",
        get: |r| r.totals.origin_requests_per_object,
        show: |v| format!("{v:.2}"),
    },
    Measure {
        key: "origin-bytes",
        label: "origin bytes",
        get: |r| r.totals.origin_bytes as f64,
        show: |v| world::ByteSize(v as u64).to_string(),
    },
    Measure { key: "cost", label: "cost with the CDN (run)", get: |r| r.cost.total_usd, show: usd },
    Measure {
        key: "monthly-with",
        label: "a month with the CDN",
        get: |r| r.month.as_ref().map_or(0.0, |m| m.cost.total_usd),
        show: usd,
    },
    Measure {
        key: "monthly-without",
        label: "a month without",
        get: |r| r.month.as_ref().map_or(0.0, |m| m.cost.origin_only_usd),
        show: usd,
    },
];

/// Compared only when the arms' world has a PoP: the busiest node's
/// share of its PoP's work (`crate::report::nodes`).
pub const MAX_NODE_LOAD: Measure = Measure {
    key: "max-node-load",
    label: "busiest PoP node's share of the work",
    get: |r| crate::report::nodes::max_load_share(&r.nodes).unwrap_or(0.0),
    show: ratio,
};

fn with_nodes(rows: &[Row]) -> bool {
    rows.iter().any(|r| !r.2.nodes.is_empty())
}

/// One arm's line in `arms.json`.
#[derive(Debug, Serialize)]
struct ArmRow<'a> {
    arm: &'a str,
    x: Option<f64>,
    passed: bool,
    report: &'a Report,
}

/// One arm's run: its name, the swept value (a sweep over numbers), its report.
pub type Row = (String, Option<f64>, Report);

/// Writes the comparison of the arms' runs (`rows`, in arm order) into
/// `out`: `arms.md` (returned), `arms.json`, one chart per measure, and
/// `sweep.svg` for a sweep over numbers.
pub fn compare(l: &Loaded, rows: &[Row], out: &Path) -> anyhow::Result<String> {
    let md = markdown(l, rows);
    std::fs::write(out.join("arms.md"), &md)?;
    let json: Vec<ArmRow<'_>> =
        rows.iter().map(|(a, x, r)| ArmRow { arm: a, x: *x, passed: r.passed(), report: r }).collect();
    std::fs::write(out.join("arms.json"), serde_json::to_string_pretty(&json)?)?;
    for m in MEASURES {
        bars(rows, m, &out.join(format!("arms-{}.svg", m.key)))?;
    }
    if with_nodes(rows) {
        bars(rows, &MAX_NODE_LOAD, &out.join(format!("arms-{}.svg", MAX_NODE_LOAD.key)))?;
    }
    if let Some(sw) = &l.scenario.sweep
        && rows.iter().all(|r| r.1.is_some())
    {
        sweep_chart(rows, &sw.param, &out.join("sweep.svg"))?;
    }
    Ok(md)
}

/// A table of one value per arm and client region (`cell` of the region's row).
fn region_table(md: &mut String, rows: &[Row], title: &str, cell: fn(&crate::report::RegionRow) -> String) {
    let regions: Vec<String> =
        rows.first().map(|r| r.2.regions.iter().map(|g| g.name.clone()).collect()).unwrap_or_default();
    if regions.is_empty() {
        return;
    }
    let _ = write!(md, "\n## {title}\n\n| arm |");
    for g in &regions {
        let _ = write!(md, " {g} |");
    }
    md.push_str("\n| --- |");
    for _ in &regions {
        md.push_str(" ---: |");
    }
    md.push('\n');
    for (a, _, r) in rows {
        let _ = write!(md, "| {a} |");
        for g in &regions {
            match r.regions.iter().find(|x| &x.name == g) {
                Some(x) => {
                    let _ = write!(md, " {} |", cell(x));
                }
                None => md.push_str(" — |"),
            }
        }
        md.push('\n');
    }
}

/// Every arm's PoP nodes: one row per arm and node (worlds with a PoP).
fn node_table(md: &mut String, rows: &[Row]) {
    if !with_nodes(rows) {
        return;
    }
    let _ = writeln!(
        md,
        "\n## PoP nodes\n\nPer node: its share of the client requests its PoP answered, its share of the PoP's work (client requests plus the peer fills it answered as a key's owner), its clients' hit ratio and latency.\n\n| arm | node | requests | share | as owner | load share | hit ratio | p50 | p99 |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    for (a, _, r) in rows {
        for n in &r.nodes {
            let _ = writeln!(
                md,
                "| {a} | {} | {} | {:.3} | {} | {} | {:.3} | {} | {} |",
                n.node,
                n.requests,
                n.share,
                opt(n.peer_requests.map(|v| v.to_string())),
                opt(n.load_share.map(ratio)),
                n.hit_ratio,
                ms(n.p50_ms),
                ms(n.p99_ms)
            );
        }
    }
}

/// `arms.md`: one table of every measure, and per client region one of
/// latency and one of miss latency.
pub fn markdown(l: &Loaded, rows: &[Row]) -> String {
    let s0 = &l.scenario;
    let mut md = format!("# {} — side by side\n\n", s0.name);
    if let Some(q) = &s0.question {
        let _ = writeln!(md, "**Question.** {q}\n");
    }
    let what = match &s0.sweep {
        Some(sw) => format!("one arm per value of `{}`", sw.param),
        None => "the scenario's `[[arm]]`s".into(),
    };
    let _ = writeln!(
        md,
        "Arms: {what}; each the same seed ({}) and workload. Each arm's report is in its folder.\n",
        s0.seed
    );
    let _ = write!(md, "| arm |");
    for m in MEASURES {
        let _ = write!(md, " {} |", m.label);
    }
    let _ = write!(md, " expectations |\n| --- |");
    for _ in MEASURES {
        md.push_str(" ---: |");
    }
    md.push_str(" --- |\n");
    for (i, (a, _, r)) in rows.iter().enumerate() {
        let _ = write!(md, "| [{a}]({:02}-{a}/report.md) |", i + 1);
        for m in MEASURES {
            let _ = write!(md, " {} |", (m.show)((m.get)(r)));
        }
        let _ = writeln!(md, " {} |", if r.passed() { "pass" } else { "FAIL" });
    }
    region_table(&mut md, rows, "p50 latency per client region (with the CDN / without)", |x| {
        format!("{:.1} / {:.1} ms", x.p50_ms, x.without_cdn_p50_ms)
    });
    region_table(&mut md, rows, "Miss latency per client region (p50 of misses)", |x| {
        format!("{:.1} ms", x.miss_p50_ms)
    });
    node_table(&mut md, rows);
    let _ = writeln!(md, "\n## What each arm says\n");
    for (a, _, r) in rows {
        let _ = writeln!(md, "- **{a}**: {}", r.verdict);
    }
    md.push_str("\n## Charts\n\n");
    for m in MEASURES {
        let _ = writeln!(md, "![{}](arms-{}.svg)", m.label, m.key);
    }
    if with_nodes(rows) {
        let _ = writeln!(md, "![{}](arms-{}.svg)", MAX_NODE_LOAD.label, MAX_NODE_LOAD.key);
    }
    if s0.sweep.is_some() && rows.iter().all(|r| r.1.is_some()) {
        md.push_str("![against the swept value](sweep.svg)\n");
    }
    md
}

/// One bar per arm for one measure.
fn bars(rows: &[Row], m: &Measure, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (720, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let vals: Vec<f64> = rows.iter().map(|r| (m.get)(&r.2)).collect();
    let top = vals.iter().cloned().fold(0.0, f64::max).max(1e-9) * 1.2;
    let n = rows.len().max(1) as f64;
    let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{} per arm", m.label), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..n, 0f64..top)
        .map_err(err)?;
    chart.configure_mesh().disable_x_mesh().x_labels(0).y_label_formatter(&|v| (m.show)(*v)).draw().map_err(err)?;
    let labels: Vec<(f64, String)> = names.iter().enumerate().map(|(i, a)| (i as f64 + 0.5, a.clone())).collect();
    bar_labels(&root, &chart, &labels)?;
    for (i, v) in vals.iter().enumerate() {
        let x = i as f64;
        let c = COLORS[i % COLORS.len()];
        chart.draw_series([Rectangle::new([(x + 0.2, 0.0), (x + 0.8, *v)], c.filled())]).map_err(err)?;
        chart
            .draw_series([Text::new((m.show)(*v), (x + 0.22, v + top * 0.03), ("sans-serif", 12).into_font())])
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Hit ratio and origin offload against a swept number.
fn sweep_chart(rows: &[Row], param: &str, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, side) = root.split_horizontally(730);
    let xs: Vec<f64> = rows.iter().filter_map(|r| r.1).collect();
    let (lo, hi) = (xs.iter().cloned().fold(f64::MAX, f64::min), xs.iter().cloned().fold(f64::MIN, f64::max));
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("hit ratio and origin offload against {param}"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..1.05f64)
        .map_err(err)?;
    let unit = if param == "memory" { format!("{param} (MiB)") } else { param.to_string() };
    chart.configure_mesh().x_desc(unit).y_desc("ratio").draw().map_err(err)?;
    let lines = [
        ("hit ratio", COLORS[0], rows.iter().filter_map(|r| Some((r.1?, r.2.totals.hit_ratio))).collect::<Vec<_>>()),
        ("origin offload", COLORS[3], rows.iter().filter_map(|r| Some((r.1?, r.2.totals.origin_offload))).collect()),
    ];
    for (_, c, pts) in &lines {
        chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2))).map_err(err)?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled()))).map_err(err)?;
    }
    legend(&side, &lines.iter().map(|(l, c, _)| (l.to_string(), *c)).collect::<Vec<_>>())?;
    root.present().map_err(err)?;
    Ok(())
}

//! `[sweep]`: one run per value of one parameter (edge memory, Zipf α or
//! rate), each with its own report, and a chart and table of hit ratio,
//! origin offload and cost against the parameter.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;
use crate::scenario::{Loaded, Sweep, SweepValue, apply_overrides};

/// Runs the sweep; true when every run met its expectations.
pub async fn run(
    l: &Loaded,
    sw: &Sweep,
    out: &Path,
    quiet: bool,
    dashboard: &crate::up::DashboardArgs,
) -> anyhow::Result<bool> {
    let mut rows: Vec<(String, f64, Report)> = Vec::new();
    for (i, v) in sw.values.iter().enumerate() {
        let mut s = l.scenario.clone();
        s.sweep = None;
        let (label, x) = match crate::scenario::sweep_value(&sw.param, v, &l.base).map_err(anyhow::Error::msg)? {
            SweepValue::Memory(b) => {
                s.overrides.memory = Some(b);
                (b.to_string(), b.0 as f64 / (1u64 << 20) as f64)
            }
            SweepValue::Zipf(a) => {
                s.workload.popularity.zipf = a;
                (format!("{a}"), a)
            }
            SweepValue::Rate(r) => {
                s.workload.rate = r;
                (format!("{r}"), r)
            }
        };
        let w = apply_overrides(&s, l.base.clone());
        let dir = out.join(format!("{:02}-{}", i + 1, label.replace(['/', ' '], "_")));
        eprintln!("sweep {}: {} = {label}", i + 1, sw.param);
        let r = crate::run::run_once(&s, &w, &dir, quiet, dashboard.listen(&w)).await?;
        println!("{}", r.summary());
        rows.push((label, x, r));
    }
    let mut md = format!("# {} — sweep over {}\n\n", l.scenario.name, sw.param);
    let _ = writeln!(
        md,
        "| {} | hit ratio | byte hit ratio | origin offload | p50 ms | cost $ | origin-only $ | expectations |",
        sw.param
    );
    let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for (label, _, r) in &rows {
        let _ = writeln!(
            md,
            "| {label} | {:.3} | {:.3} | {:.3} | {:.1} | {:.6} | {:.6} | {} |",
            r.totals.hit_ratio,
            r.totals.byte_hit_ratio,
            r.totals.origin_offload,
            r.totals.p50_ms,
            r.cost.total_usd,
            r.cost.origin_only_usd,
            if r.passed() { "pass" } else { "FAIL" }
        );
    }
    let _ = writeln!(md, "\n![sweep](sweep.svg)");
    std::fs::write(out.join("sweep.md"), &md)?;
    chart(&rows, &sw.param, &out.join("sweep.svg"))?;
    println!("{md}");
    Ok(rows.iter().all(|(_, _, r)| r.passed()))
}

fn chart(rows: &[(String, f64, Report)], param: &str, path: &Path) -> anyhow::Result<()> {
    let e = |e: &dyn std::fmt::Display| anyhow::anyhow!("chart: {e}");
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let xs: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let (lo, hi) = (xs.iter().cloned().fold(f64::MAX, f64::min), xs.iter().cloned().fold(f64::MIN, f64::max));
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("hit ratio and origin offload against {param}"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..1.05f64)
        .map_err(|x| e(&x))?;
    chart.configure_mesh().x_desc(param).y_desc("ratio").draw().map_err(|x| e(&x))?;
    let hit: Vec<(f64, f64)> = rows.iter().map(|r| (r.1, r.2.totals.hit_ratio)).collect();
    let off: Vec<(f64, f64)> = rows.iter().map(|r| (r.1, r.2.totals.origin_offload)).collect();
    for (points, colour, label) in
        [(hit, RGBColor(31, 119, 180), "hit ratio"), (off, RGBColor(214, 39, 40), "origin offload (bytes)")]
    {
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, colour.filled()))).map_err(|x| e(&x))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

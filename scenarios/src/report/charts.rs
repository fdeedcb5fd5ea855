//! SVG charts of a report (plotters, SVG backend, no font files needed):
//! the answer (latency per client region with and without the CDN), hit
//! ratio over time per edge, latency distribution per client region,
//! requests, origin requests and errors over time, and the cost with and
//! without the CDN by line item. Legends sit beside the plot, not on the
//! data; event labels are staggered so they never overlap; the warm-up is
//! shaded.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use world::World;

use crate::driver::{Kind, Sample};
use crate::plot::{COLORS, Chart, bar_labels, err, legend};
use crate::report::{Report, usd};

const W: u32 = 960;
const H: u32 = 420;
/// Width of the legend beside a plot.
const LEGEND_W: u32 = 170;
/// Writes every chart of `r` into `dir`.
pub fn write_all(r: &Report, samples: &[Sample], w: &World, dir: &Path) -> anyhow::Result<()> {
    answer(r, &dir.join("answer.svg"))?;
    hit_ratio(r, &dir.join("hit-ratio.svg"))?;
    latency(r, samples, w, &dir.join("latency.svg"))?;
    origin(r, &dir.join("origin.svg"))?;
    cost(r, &dir.join("cost.svg"))?;
    Ok(())
}

fn secs(r: &Report) -> f64 {
    (r.series.len() as f64).max(1.0)
}

/// The plot area and the legend strip beside it.
fn split<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (w, _) = root.dim_in_pixel();
    root.split_horizontally(w.saturating_sub(LEGEND_W))
}

/// The warm-up, shaded.
fn warmup<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, r: &Report, top: f64) -> anyhow::Result<()> {
    if let Some(w) = &r.warmup {
        chart
            .draw_series([Rectangle::new([(0.0, 0.0), (w.until_s, top)], RGBColor(127, 127, 127).mix(0.15).filled())])
            .map_err(err)?;
        chart
            .draw_series([Text::new("warm-up".to_string(), (0.3, top * 0.06), ("sans-serif", 12).into_font())])
            .map_err(err)?;
    }
    Ok(())
}

/// Rows for event labels so that no two overlap: each label goes in the
/// first row whose previous label ends before it starts.
pub fn label_rows(events: &[(f64, usize)], px_per_s: f64, px_per_char: f64) -> Vec<usize> {
    let mut ends: Vec<f64> = Vec::new();
    events
        .iter()
        .map(|&(at, chars)| {
            let start = at * px_per_s;
            let end = start + chars as f64 * px_per_char + 6.0;
            match ends.iter().position(|e| *e <= start) {
                Some(row) => {
                    ends[row] = end;
                    row
                }
                None => {
                    ends.push(end);
                    ends.len() - 1
                }
            }
        })
        .collect()
}

fn markers<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, r: &Report, top: f64, plot_px: f64) -> anyhow::Result<()> {
    let labelled: Vec<(f64, usize)> = r.events.iter().map(|e| (e.at_s, e.kind.len())).collect();
    let rows = label_rows(&labelled, plot_px / secs(r), 6.5);
    for (e, row) in r.events.iter().zip(rows) {
        chart
            .draw_series(LineSeries::new([(e.at_s, 0.0), (e.at_s, top)], BLACK.mix(0.4).stroke_width(1)))
            .map_err(err)?;
        let y = top * (0.98 - 0.055 * row as f64);
        chart.draw_series([Text::new(e.kind.clone(), (e.at_s, y), ("sans-serif", 11).into_font())]).map_err(err)?;
    }
    Ok(())
}

/// The answer: median and 95th percentile latency per client region, with
/// and without the CDN.
fn answer(r: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, side) = split(&root);
    let top = r.regions.iter().map(|g| g.p95_ms.max(g.without_cdn_p95_ms)).fold(1.0, f64::max) * 1.15;
    let n = r.regions.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&plot)
        .caption("latency per client region, with and without the CDN", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..n, 0f64..top)
        .map_err(err)?;
    chart.configure_mesh().disable_x_mesh().x_labels(0).y_desc("ms").draw().map_err(err)?;
    let names: Vec<(f64, String)> =
        r.regions.iter().enumerate().map(|(i, g)| (i as f64 + 0.5, g.name.clone())).collect();
    bar_labels(&root, &chart, &names)?;
    let bars = [
        ("p50 with the CDN", COLORS[0]),
        ("p95 with the CDN", lighter(COLORS[0])),
        ("p50 without", COLORS[3]),
        ("p95 without", lighter(COLORS[3])),
    ];
    for (i, g) in r.regions.iter().enumerate() {
        let x = i as f64;
        let vals = [g.p50_ms, g.p95_ms, g.without_cdn_p50_ms, g.without_cdn_p95_ms];
        for (k, v) in vals.iter().enumerate() {
            let x0 = x + 0.1 + k as f64 * 0.2;
            chart.draw_series([Rectangle::new([(x0, 0.0), (x0 + 0.18, *v)], bars[k].1.filled())]).map_err(err)?;
            chart
                .draw_series([Text::new(format!("{v:.0}"), (x0, v + top * 0.02), ("sans-serif", 11).into_font())])
                .map_err(err)?;
        }
    }
    legend(&side, &bars.iter().map(|(l, c)| (l.to_string(), *c)).collect::<Vec<_>>())?;
    root.present().map_err(err)?;
    Ok(())
}

/// A lighter shade of `c` (a p95 bar beside its p50 one).
fn lighter(c: RGBColor) -> RGBColor {
    let l = |x: u8| x + (255 - x) / 2;
    RGBColor(l(c.0), l(c.1), l(c.2))
}

fn hit_ratio(r: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, side) = split(&root);
    let mut chart = ChartBuilder::on(&plot)
        .caption("hit ratio per edge, per second", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..secs(r), 0f64..1.25f64)
        .map_err(err)?;
    chart.configure_mesh().x_desc("seconds").y_desc("hit ratio").y_labels(6).draw().map_err(err)?;
    warmup(&mut chart, r, 1.0)?;
    let mut names: Vec<String> = r.series.iter().flat_map(|s| s.edge_hit_ratio.keys().cloned()).collect();
    names.sort();
    names.dedup();
    let mut items = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        // a gap where the edge answered nothing (killed): the line stops
        let mut run: Vec<(f64, f64)> = Vec::new();
        for s in &r.series {
            match s.edge_hit_ratio.get(name) {
                Some(v) => run.push((s.t as f64 + 0.5, *v)),
                None if !run.is_empty() => {
                    chart.draw_series(LineSeries::new(std::mem::take(&mut run), c.stroke_width(2))).map_err(err)?;
                }
                None => {}
            }
        }
        chart.draw_series(LineSeries::new(run, c.stroke_width(2))).map_err(err)?;
        items.push((name.clone(), c));
    }
    markers(&mut chart, r, 1.25, (W - LEGEND_W - 72) as f64)?;
    legend(&side, &items)?;
    root.present().map_err(err)?;
    Ok(())
}

fn latency(r: &Report, samples: &[Sample], w: &World, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, side) = split(&root);
    let from = r.warmup.as_ref().map_or(0, |x| (x.until_s * 1000.0) as u32);
    let ok = |s: &&Sample| s.kind != Kind::Error && s.at_ms >= from;
    let mut all: Vec<u32> = samples.iter().filter(ok).map(|s| s.latency_us).collect();
    all.sort_unstable();
    let top = all.get(((all.len() as f64) * 0.995) as usize).copied().unwrap_or(1000) as f64 / 1000.0;
    let mut chart = ChartBuilder::on(&plot)
        .caption("latency per client region (measured + modelled RTT), cumulative", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..top.max(1.0) * 1.05, 0f64..1.0f64)
        .map_err(err)?;
    chart.configure_mesh().x_desc("ms").y_desc("share of requests").draw().map_err(err)?;
    let mut items = Vec::new();
    for (ri, region) in w.regions.iter().enumerate() {
        let mut l: Vec<u32> =
            samples.iter().filter(ok).filter(|s| s.region as usize == ri).map(|s| s.latency_us).collect();
        if l.is_empty() {
            continue;
        }
        l.sort_unstable();
        let n = l.len();
        let step = (n / 400).max(1);
        let pts: Vec<(f64, f64)> =
            l.iter().enumerate().step_by(step).map(|(i, v)| (*v as f64 / 1000.0, (i + 1) as f64 / n as f64)).collect();
        let c = COLORS[ri % COLORS.len()];
        chart.draw_series(LineSeries::new(pts, c.stroke_width(2))).map_err(err)?;
        items.push((region.name.clone(), c));
    }
    legend(&side, &items)?;
    root.present().map_err(err)?;
    Ok(())
}

fn origin(r: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, side) = split(&root);
    let top = r.series.iter().map(|s| s.origin_requests.max(s.requests).max(s.errors)).max().unwrap_or(1) as f64 * 1.25;
    let mut chart = ChartBuilder::on(&plot)
        .caption("per second: client requests, origin requests, errors", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..secs(r), 0f64..top.max(1.0))
        .map_err(err)?;
    chart.configure_mesh().x_desc("seconds").y_desc("requests/s").draw().map_err(err)?;
    warmup(&mut chart, r, top.max(1.0) / 1.25)?;
    let lines = [
        ("client requests", COLORS[0], r.series.iter().map(|s| s.requests).collect::<Vec<_>>()),
        ("origin requests", COLORS[2], r.series.iter().map(|s| s.origin_requests).collect()),
        ("errors", COLORS[3], r.series.iter().map(|s| s.errors).collect()),
    ];
    for (_, c, v) in &lines {
        let pts: Vec<(f64, f64)> = v.iter().enumerate().map(|(t, n)| (t as f64 + 0.5, *n as f64)).collect();
        chart.draw_series(LineSeries::new(pts, c.stroke_width(2))).map_err(err)?;
    }
    markers(&mut chart, r, top.max(1.0), (W - LEGEND_W - 84) as f64)?;
    legend(&side, &lines.iter().map(|(l, c, _)| (l.to_string(), *c)).collect::<Vec<_>>())?;
    root.present().map_err(err)?;
    Ok(())
}

/// The cost of the run with the CDN (stacked by line item) and without.
fn cost(r: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W * 2 / 3, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot, side) = split(&root);
    let c = &r.cost;
    let top = c.total_usd.max(c.origin_only_usd).max(1e-9) * 1.2;
    let mut chart = ChartBuilder::on(&plot)
        .caption("cost of this run", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..2f64, 0f64..top)
        .map_err(err)?;
    chart.configure_mesh().disable_x_mesh().x_labels(0).y_label_formatter(&|v| usd(*v)).draw().map_err(err)?;
    bar_labels(&root, &chart, &[(0.5, "with the CDN".into()), (1.5, "without".into())])?;
    let items = [
        ("CDN egress", c.cdn_egress_usd, COLORS[0]),
        ("CDN requests", c.cdn_requests_usd, COLORS[1]),
        ("origin egress (fills)", c.origin_egress_usd, COLORS[2]),
        ("CDN fill fee", c.fill_usd, COLORS[4]),
        ("origin egress (direct)", c.origin_direct_usd, COLORS[5]),
        ("inter-tier transfer", c.inter_tier_usd, COLORS[6]),
    ];
    let mut y = 0.0;
    for (_, v, color) in items {
        chart.draw_series([Rectangle::new([(0.15, y), (0.85, y + v)], color.filled())]).map_err(err)?;
        y += v;
    }
    chart.draw_series([Rectangle::new([(1.15, 0.0), (1.85, c.origin_only_usd)], COLORS[3].filled())]).map_err(err)?;
    for (x, v) in [(0.2, c.total_usd), (1.2, c.origin_only_usd)] {
        chart.draw_series([Text::new(usd(v), (x, v + top * 0.03), ("sans-serif", 13).into_font())]).map_err(err)?;
    }
    let mut legend_items: Vec<(String, RGBColor)> =
        items.iter().filter(|(_, v, _)| *v > 0.0).map(|(l, _, c)| (l.to_string(), *c)).collect();
    legend_items.push(("without: origin egress".into(), COLORS[3]));
    legend(&side, &legend_items)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_labels_never_share_a_row_where_they_would_overlap() {
        // bump at 12 s and purge at 14 s: at 10 px a second, a 4-letter
        // label 26 px wide would overlap (the "bumppurge" of issue 19)
        let rows = label_rows(&[(12.0, 4), (14.0, 5), (20.0, 11), (32.0, 13), (44.0, 9)], 10.0, 6.5);
        assert_eq!(rows, vec![0, 1, 0, 0, 0]);
        for (i, a) in [(12.0, 4usize), (14.0, 5), (20.0, 11), (32.0, 13), (44.0, 9)].iter().enumerate() {
            for (j, b) in [(12.0, 4usize), (14.0, 5), (20.0, 11), (32.0, 13), (44.0, 9)].iter().enumerate().skip(i + 1)
            {
                if rows[i] == rows[j] {
                    assert!(a.0 * 10.0 + a.1 as f64 * 6.5 + 6.0 <= b.0 * 10.0, "{i} and {j} overlap");
                }
            }
        }
    }

    #[test]
    fn bars_are_named_under_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::default();
        for (name, p50, without) in [("seoul", 2.0, 185.0), ("tokyo", 2.1, 162.0)] {
            r.regions.push(crate::report::RegionRow {
                name: name.into(),
                p50_ms: p50,
                without_cdn_p50_ms: without,
                ..Default::default()
            });
        }
        r.cost =
            crate::report::Cost { cdn_egress_usd: 0.06, total_usd: 0.06, origin_only_usd: 0.05, ..Default::default() };
        answer(&r, &dir.path().join("a.svg")).unwrap();
        cost(&r, &dir.path().join("c.svg")).unwrap();
        let a = std::fs::read_to_string(dir.path().join("a.svg")).unwrap();
        let c = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
        for (svg, label) in [(&a, "seoul"), (&a, "tokyo"), (&c, "with the CDN"), (&c, "without")] {
            assert!(svg.contains(&format!(">\n{label}\n</text>")), "{label} missing");
        }
    }
}

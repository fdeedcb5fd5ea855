//! SVG charts of a report (plotters, SVG backend, no font files needed):
//! hit ratio over time per edge with event markers, latency distribution per
//! client region, origin requests over time, and cost with and without the
//! CDN.

use std::path::Path;

use plotters::prelude::*;
use world::World;

use crate::driver::{Kind, Sample};
use crate::report::Report;

const W: u32 = 900;
const H: u32 = 420;
/// The palette of every chart (also `cdn replay`'s).
pub(crate) const COLORS: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(0, 0, 0),
    RGBColor(127, 127, 127),
];

/// A plotters error as an anyhow one.
pub(crate) fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("chart: {e}")
}

/// Writes every chart of `r` into `dir`.
pub fn write_all(r: &Report, samples: &[Sample], w: &World, dir: &Path) -> anyhow::Result<()> {
    hit_ratio(r, &dir.join("hit-ratio.svg"))?;
    latency(samples, w, &dir.join("latency.svg"))?;
    origin(r, &dir.join("origin.svg"))?;
    cost(r, &dir.join("cost.svg"))?;
    Ok(())
}

fn secs(r: &Report) -> f64 {
    (r.series.len() as f64).max(1.0)
}

fn markers<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    r: &Report,
    top: f64,
) -> anyhow::Result<()> {
    for e in &r.events {
        chart
            .draw_series(LineSeries::new([(e.at_s, 0.0), (e.at_s, top)], BLACK.mix(0.4).stroke_width(1)))
            .map_err(err)?;
        chart
            .draw_series([Text::new(e.kind.clone(), (e.at_s, top * 0.97), ("sans-serif", 12).into_font())])
            .map_err(err)?;
    }
    Ok(())
}

fn hit_ratio(r: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("hit ratio per edge, per second", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..secs(r), 0f64..1.05f64)
        .map_err(err)?;
    chart.configure_mesh().x_desc("seconds").y_desc("hit ratio").draw().map_err(err)?;
    let mut names: Vec<String> = r.series.iter().flat_map(|s| s.edge_hit_ratio.keys().cloned()).collect();
    names.sort();
    names.dedup();
    for (i, name) in names.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> =
            r.series.iter().filter_map(|s| s.edge_hit_ratio.get(name).map(|v| (s.t as f64 + 0.5, *v))).collect();
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    markers(&mut chart, r, 1.05)?;
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

fn latency(samples: &[Sample], w: &World, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut all: Vec<u32> = samples.iter().filter(|s| s.kind != Kind::Error).map(|s| s.latency_us).collect();
    all.sort_unstable();
    let top = all.get(((all.len() as f64) * 0.995) as usize).copied().unwrap_or(1000) as f64 / 1000.0;
    let mut chart = ChartBuilder::on(&root)
        .caption("latency per client region (measured + modelled RTT), cumulative", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..top.max(1.0) * 1.05, 0f64..1.0f64)
        .map_err(err)?;
    chart.configure_mesh().x_desc("ms").y_desc("share of requests").draw().map_err(err)?;
    for (ri, region) in w.regions.iter().enumerate() {
        let mut l: Vec<u32> =
            samples.iter().filter(|s| s.region as usize == ri && s.kind != Kind::Error).map(|s| s.latency_us).collect();
        if l.is_empty() {
            continue;
        }
        l.sort_unstable();
        let n = l.len();
        let step = (n / 400).max(1);
        let pts: Vec<(f64, f64)> =
            l.iter().enumerate().step_by(step).map(|(i, v)| (*v as f64 / 1000.0, (i + 1) as f64 / n as f64)).collect();
        let c = COLORS[ri % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(err)?
            .label(region.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

fn origin(r: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let top = r.series.iter().map(|s| s.origin_requests.max(s.requests)).max().unwrap_or(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("requests per second: clients and origin", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..secs(r), 0f64..top.max(1.0))
        .map_err(err)?;
    chart.configure_mesh().x_desc("seconds").y_desc("requests/s").draw().map_err(err)?;
    let clients: Vec<(f64, f64)> = r.series.iter().map(|s| (s.t as f64 + 0.5, s.requests as f64)).collect();
    let origin: Vec<(f64, f64)> = r.series.iter().map(|s| (s.t as f64 + 0.5, s.origin_requests as f64)).collect();
    chart
        .draw_series(LineSeries::new(clients, COLORS[0].stroke_width(2)))
        .map_err(err)?
        .label("clients")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], COLORS[0].stroke_width(2)));
    chart
        .draw_series(LineSeries::new(origin, COLORS[3].stroke_width(2)))
        .map_err(err)?
        .label("origin")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], COLORS[3].stroke_width(2)));
    markers(&mut chart, r, top.max(1.0))?;
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

fn cost(r: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W / 2, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let c = &r.cost;
    let top = c.total_usd.max(c.origin_only_usd).max(1e-9) * 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption("cost of this run, $", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..2f64, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|v| format!("{v:.6}"))
        .draw()
        .map_err(err)?;
    let bars = [(0.0, c.total_usd, "with the CDN", COLORS[0]), (1.0, c.origin_only_usd, "origin only", COLORS[3])];
    for (x, v, label, color) in bars {
        chart.draw_series([Rectangle::new([(x + 0.15, 0.0), (x + 0.85, v)], color.filled())]).map_err(err)?;
        chart
            .draw_series([Text::new(label.to_string(), (x + 0.2, v + top * 0.03), ("sans-serif", 14).into_font())])
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

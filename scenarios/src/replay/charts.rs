//! SVG curves of a replay (plotters, the style of [`crate::report::charts`]): miss
//! ratio, byte miss ratio and origin dollars against cache size (log
//! scale), one line per model; Belady and the bound in thin lines.

use std::path::Path;

use plotters::prelude::*;

use super::report::ReplayReport;

use crate::plot::{COLORS, err};

const W: u32 = 900;
const H: u32 = 480;

/// Writes `miss-ratio.svg`, `byte-miss-ratio.svg` and `origin-cost.svg` into `dir`.
pub fn write_all(r: &ReplayReport, dir: &Path) -> anyhow::Result<()> {
    curve(r, &dir.join("miss-ratio.svg"), "miss ratio", |row| row.miss_ratio)?;
    curve(r, &dir.join("byte-miss-ratio.svg"), "byte miss ratio", |row| row.byte_miss_ratio)?;
    curve(r, &dir.join("origin-cost.svg"), "origin $ (list prices)", |row| row.origin_usd.as_usd())?;
    Ok(())
}

/// `953.7MiB`, `1.9GiB`: one decimal in the largest unit that fits.
fn human(b: f64) -> String {
    const UNITS: [(&str, f64); 5] =
        [("TiB", 1_099_511_627_776.0), ("GiB", 1_073_741_824.0), ("MiB", 1_048_576.0), ("KiB", 1024.0), ("B", 1.0)];
    let (name, size) = UNITS.iter().find(|(_, s)| b >= *s).copied().unwrap_or(("B", 1.0));
    let v = b / size;
    if (v - v.round()).abs() < 0.05 { format!("{v:.0}{name}") } else { format!("{v:.1}{name}") }
}

fn curve(r: &ReplayReport, path: &Path, what: &str, value: fn(&super::Row) -> f64) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let lo = r.capacities.first().copied().unwrap_or(1).max(1) as f64;
    let hi = r.capacities.last().copied().unwrap_or(1).max(1) as f64;
    let (lo, hi) = if hi / lo < 1.5 { (lo / 2.0, hi * 2.0) } else { (lo, hi) };
    let top = r.rows.iter().map(value).fold(0.0f64, f64::max).max(1e-9) * 1.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{what} by cache size: {}", r.trace.path), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..top)
        .map_err(err)?;
    chart.configure_mesh().x_desc("cache size").y_desc(what).x_label_formatter(&|v| human(*v)).draw().map_err(err)?;
    let mut names: Vec<&str> = Vec::new();
    for row in &r.rows {
        if !names.contains(&row.model.as_str()) {
            names.push(&row.model);
        }
    }
    for (i, name) in names.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> =
            r.rows.iter().filter(|row| row.model == *name).map(|row| (row.capacity as f64, value(row))).collect();
        let style = match *name {
            "belady" | "bound" => c.stroke_width(1),
            _ => c.stroke_width(2),
        };
        chart
            .draw_series(LineSeries::new(pts.clone(), style))
            .map_err(err)?
            .label(name.to_string())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled()))).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

//! What every SVG chart shares (a run's report, `cdn run`'s arms side by
//! side, `cdn replay`'s curves): the palette, a legend beside the plot,
//! names under bars, plotters errors as anyhow ones.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// The palette of every chart.
pub const COLORS: [RGBColor; 9] = [
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
pub fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("chart: {e}")
}

/// A chart with two numeric axes.
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A legend: one line per item, in its colour, beside the plot.
pub fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, items: &[(String, RGBColor)]) -> anyhow::Result<()> {
    for (i, (label, c)) in items.iter().enumerate() {
        let y = 48 + i as i32 * 20;
        area.draw(&PathElement::new([(8, y), (28, y)], c.stroke_width(3))).map_err(err)?;
        area.draw(&Text::new(label.clone(), (34, y - 7), ("sans-serif", 13).into_font())).map_err(err)?;
    }
    Ok(())
}

/// Names under bars, centred at data positions `x` (a numeric axis would
/// put its labels at round numbers, between the bars).
pub fn bar_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
    labels: &[(f64, String)],
) -> anyhow::Result<()> {
    for (x, label) in labels {
        let (px, py) = chart.backend_coord(&(*x, 0.0));
        let half = (label.chars().count() as f64 * 3.4) as i32;
        root.draw(&Text::new(label.clone(), (px - half, py + 10), ("sans-serif", 13).into_font())).map_err(err)?;
    }
    Ok(())
}

//! The report's PNG plots.

use std::path::Path;

use anyhow::{anyhow, Context};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// A named line of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Plotters draws text with a font we hand it; DejaVu Sans ships with most Linux systems.
pub fn load_font() -> anyhow::Result<()> {
    let path = FONT_PATHS
        .iter()
        .find(|path| Path::new(path).exists())
        .ok_or_else(|| anyhow!("no DejaVu Sans font found (install fonts-dejavu-core)"))?;
    let bytes: &'static [u8] = Box::leak(std::fs::read(path)?.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow!("{path} is not a usable font"))
}

const COLOURS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
];

/// A line chart with log-scaled axes (both quantities span orders of magnitude).
pub fn log_log(
    file: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> anyhow::Result<()> {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let (x_min, x_max) = bounds(points().map(|p| p.0));
    let (y_min, y_max) = bounds(points().map(|p| p.1));
    let (bottom, top) = (y_min / 2.0, y_max * 2.0);
    let top = top * legend_headroom(bottom, top, series.len());
    let root = BitMapBackend::new(file, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", CAPTION_FONT))
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (x_min / 1.5..x_max * 1.5).log_scale(),
            (bottom..top).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    for (n, line) in series.iter().enumerate() {
        let colour = COLOURS[n % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(line.points.clone(), colour.stroke_width(2)))?
            .label(line.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart.draw_series(
            line.points
                .iter()
                .map(|&point| Circle::new(point, 4, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 560;
const CAPTION_FONT: u32 = 22;
const MARGIN: u32 = 16;
const X_LABEL_AREA: u32 = 48;
/// The caption's line with the space plotters leaves below it.
const CAPTION_AREA: u32 = 50;
/// The height left for the plotting area by the caption, the margins and the x label area.
const PLOT_HEIGHT: f64 = (HEIGHT - CAPTION_AREA - 2 * MARGIN - X_LABEL_AREA) as f64;
const LEGEND_ROW_HEIGHT: f64 = 20.0;
const LEGEND_PADDING: f64 = 30.0;

fn legend_pixels(entries: usize) -> f64 {
    entries as f64 * LEGEND_ROW_HEIGHT + LEGEND_PADDING
}

/// The factor to raise a log-scaled top by so that a band above the data is free for the
/// legend of `entries` lines, which then never hides a line.
fn legend_headroom(bottom: f64, top: f64, entries: usize) -> f64 {
    let band = (legend_pixels(entries) / PLOT_HEIGHT).min(0.8);
    let data_decades = (top / bottom).log10();
    10f64.powf(data_decades * band / (1.0 - band))
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (min, max) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if min > max {
        (1.0, 10.0)
    } else {
        (min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_above_the_data_holds_the_legend() {
        for (bottom, top, entries) in [(0.1, 30.0, 5), (5.0, 20_000.0, 4), (1.0, 1.0001, 1)] {
            let raised = top * legend_headroom(bottom, top, entries);
            let free_pixels = PLOT_HEIGHT * (raised / top).log10() / (raised / bottom).log10();
            let legend_pixels = legend_pixels(entries);
            assert!(
                (free_pixels - legend_pixels).abs() < 1e-6,
                "{free_pixels} px free for a {legend_pixels} px legend ({bottom}..{top})"
            );
        }
    }
}

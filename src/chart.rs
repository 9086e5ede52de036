//! Self-contained charts: stacked panels of lines over time, as SVG inside an HTML page.
//! The simulator's report and the local demo's report both draw with this.

use plotters::prelude::*;

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
    pub log_scale: bool,
    /// A labelled horizontal line, such as an SLO or a target.
    pub reference: Option<(String, f64)>,
}

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// Averages a series into at most `points` buckets, so long runs stay light.
pub fn downsample(all: &[(f64, f64)], points: usize) -> Vec<(f64, f64)> {
    let bucket = all.len().div_ceil(points.max(1)).max(1);
    all.chunks(bucket)
        .map(|c| (c[0].0, c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64))
        .collect()
}

pub fn svg(panels: &[Panel], x_label: &str, x_max: f64) -> Result<String, String> {
    let mut out = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let height = 250 * panels.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut out, (1100, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let areas = root.split_evenly((panels.len().max(1), 1));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            let reference = panel.reference.as_ref().map(|r| r.1);
            let ymax = panel
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .chain(reference.map(|r| r * 2.0))
                .fold(1.0, f64::max)
                * 1.1;
            let mut builder = ChartBuilder::on(area);
            builder
                .caption(&panel.title, ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(60);
            macro_rules! draw {
                ($chart:expr, $floor:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc(x_label)
                        .light_line_style(WHITE)
                        .draw()?;
                    if let Some((label, y)) = &panel.reference {
                        chart
                            .draw_series(LineSeries::new(vec![(0.0, *y), (x_max, *y)], BLACK.mix(0.5)))?
                            .label(label.clone())
                            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.5)));
                    }
                    for (k, s) in panel.series.iter().enumerate() {
                        let color = COLORS[k % COLORS.len()];
                        let points = s.points.iter().map(|&(x, y)| (x, y.max($floor)));
                        chart
                            .draw_series(LineSeries::new(points, &color))?
                            .label(s.name.clone())
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
                    }
                    chart
                        .configure_series_labels()
                        .position(SeriesLabelPosition::UpperLeft)
                        .background_style(WHITE.mix(0.8))
                        .border_style(BLACK)
                        .draw()?;
                }};
            }
            if panel.log_scale {
                draw!(
                    builder.build_cartesian_2d(0f64..x_max, (0.5f64..ymax.max(10.0)).log_scale())?,
                    0.5
                );
            } else {
                draw!(builder.build_cartesian_2d(0f64..x_max, 0f64..ymax)?, f64::MIN);
            }
        }
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| format!("drawing the chart failed: {e}"))?;
    Ok(out)
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A page a person reads at a glance: title, a line of context, a table, the chart.
pub fn html(title: &str, description: &str, table: &str, svg: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:24px}}pre{{background:#f6f6f6;padding:12px}}</style></head>\
         <body><h1>{t}</h1><p>{d}</p><pre>{table}</pre>{svg}</body></html>\n",
        t = escape(title),
        d = escape(description),
        table = escape(table),
    )
}

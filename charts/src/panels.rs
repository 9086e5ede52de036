//! Self-contained charts: stacked panels of lines over time, as SVG inside an HTML page.
//! The simulator's report and the local demo's report both draw with this.
//!
//! Every panel names its unit; counts get integer ticks and are drawn as steps; a series
//! drawn `under` is a wide faint band, so a line equal to it (ready replicas on their
//! desired count) stays visible on top of it. Legends sit in a column of their own, off
//! the data, and markers (decisions, load steps, kills) are vertical lines across every
//! panel, labelled above the first. Time is given in seconds and shown in seconds,
//! minutes or hours, whichever suits the run's length.

use plotters::coord::Shift;
use plotters::prelude::*;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    /// A wide, faint band drawn before the lines, for a series others are read against.
    Under,
}

pub struct Series {
    pub name: String,
    /// (seconds, value)
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Index into the palette; default: the series' place in its panel. Series of one
    /// subject (a scaler's desired and ready counts) share a colour.
    pub color: Option<usize>,
}

impl Series {
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            style: Style::Line,
            color: None,
        }
    }

    pub fn under(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            style: Style::Under,
            color: None,
        }
    }

    pub fn with_color(mut self, color: usize) -> Self {
        self.color = Some(color);
        self
    }

    fn rgb(&self, place: usize) -> RGBColor {
        COLORS[self.color.unwrap_or(place) % COLORS.len()]
    }
}

/// The y axis of a panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Logarithmic, for latencies that span decades.
    Log,
    /// Whole numbers (replicas, tasks): integer ticks, drawn as steps.
    Count,
}

pub struct Panel {
    pub title: String,
    /// The unit of the y axis, e.g. "ms" or "requests/s".
    pub unit: String,
    pub series: Vec<Series>,
    pub scale: Scale,
    /// A labelled horizontal line, such as an SLO or a target.
    pub reference: Option<(String, f64)>,
}

/// A moment worth seeing on every panel: a decision, a load step, a kill.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Seconds from the start.
    pub at: f64,
    pub label: String,
}

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

const WIDTH: u32 = 1100;
const PANEL_HEIGHT: u32 = 230;
const LEGEND_WIDTH: u32 = 250;
/// Room above the first panel for marker labels.
const MARKER_ROWS: u32 = 3;
const MARKER_ROW_HEIGHT: u32 = 14;

/// The unit time is shown in, for a run of `seconds`: (divisor, axis label).
pub fn time_axis(seconds: f64) -> (f64, &'static str) {
    if seconds <= 600.0 {
        (1.0, "seconds")
    } else if seconds <= 6.0 * 3600.0 {
        (60.0, "minutes")
    } else {
        (3600.0, "hours")
    }
}

/// Averages a series into at most `points` buckets, so long runs stay light.
pub fn downsample(all: &[(f64, f64)], points: usize) -> Vec<(f64, f64)> {
    let bucket = all.len().div_ceil(points.max(1)).max(1);
    all.chunks(bucket)
        .map(|c| (c[0].0, c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64))
        .collect()
}

/// A count's points as steps: it holds its value until the next point.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

/// The top of a panel's y axis: the data and the reference line fit, with room above.
fn y_top(panel: &Panel) -> f64 {
    let data = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let reference = panel.reference.as_ref().map_or(0.0, |r| r.1);
    match panel.scale {
        Scale::Count => (data.max(reference).ceil() + 1.0).max(2.0),
        Scale::Linear => (data.max(reference) * 1.15).max(1.0),
        Scale::Log => (data.max(reference) * 2.0).max(10.0),
    }
}

fn tick_text(v: f64, top: f64) -> String {
    if top >= 20.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Draws `panels` over `duration` seconds, with `markers` across all of them.
pub fn svg(panels: &[Panel], markers: &[Marker], duration: f64) -> Result<String, String> {
    let mut out = String::new();
    let (divisor, x_label) = time_axis(duration);
    let x_max = (duration / divisor).max(1e-9);
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let marker_band = if markers.is_empty() {
            0
        } else {
            MARKER_ROWS * MARKER_ROW_HEIGHT + 6
        };
        let height = PANEL_HEIGHT * panels.len().max(1) as u32 + marker_band;
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (labels, body) = root.split_vertically(marker_band);
        let areas = body.split_evenly((panels.len().max(1), 1));
        for (i, (panel, area)) in panels.iter().zip(areas.iter()).enumerate() {
            let (plot, legend) = area.split_horizontally(WIDTH - LEGEND_WIDTH);
            let xs = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
                let points: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x / divisor, y)).collect();
                if panel.scale == Scale::Count {
                    steps(&points)
                } else {
                    points
                }
            };
            let top = y_top(panel);
            let mut builder = ChartBuilder::on(&plot);
            builder
                .caption(&panel.title, ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(64);
            let mut marker_xs = Vec::new();
            let ticks = |v: &f64| tick_text(*v, top);
            let x_ticks = |v: &f64| tick_text(*v, x_max);
            macro_rules! draw {
                ($chart:expr, $floor:expr, $bottom:expr) => {{
                    let mut chart = $chart;
                    let mut mesh = chart.configure_mesh();
                    mesh.x_desc(x_label)
                        .y_desc(panel.unit.as_str())
                        .light_line_style(WHITE)
                        .y_label_formatter(&ticks)
                        .x_label_formatter(&x_ticks);
                    if panel.scale == Scale::Count {
                        mesh.y_labels((top as usize + 1).min(11));
                    }
                    mesh.draw()?;
                    for m in markers {
                        let x = m.at / divisor;
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(x, $bottom), (x, top)],
                            BLACK.mix(0.3),
                        )))?;
                        marker_xs.push(chart.backend_coord(&(x, top)).0);
                    }
                    if let Some((_, y)) = &panel.reference {
                        chart.draw_series(LineSeries::new(vec![(0.0, *y), (x_max, *y)], BLACK.mix(0.6)))?;
                    }
                    for (k, s) in panel
                        .series
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.style == Style::Under)
                    {
                        let style = s.rgb(k).mix(0.3).stroke_width(7);
                        let points = xs(&s.points).into_iter().map(|(x, y)| (x, y.max($floor)));
                        chart.draw_series(LineSeries::new(points, style))?;
                    }
                    for (k, s) in panel
                        .series
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.style == Style::Line)
                    {
                        let style = s.rgb(k).stroke_width(2);
                        let points = xs(&s.points).into_iter().map(|(x, y)| (x, y.max($floor)));
                        chart.draw_series(LineSeries::new(points, style))?;
                    }
                }};
            }
            match panel.scale {
                Scale::Log => draw!(
                    builder.build_cartesian_2d(0f64..x_max, (0.1f64..top).log_scale())?,
                    0.1,
                    0.1
                ),
                Scale::Linear | Scale::Count => {
                    draw!(builder.build_cartesian_2d(0f64..x_max, 0f64..top)?, f64::MIN, 0.0)
                }
            }
            draw_legend(&legend, panel)?;
            if i == 0 {
                draw_marker_labels(&labels, markers, &marker_xs)?;
            }
        }
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| format!("drawing the chart failed: {e}"))?;
    Ok(out)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let mut row = 0;
    let mut entry = |style: ShapeStyle, text: &str| -> Result<(), Box<dyn std::error::Error>> {
        let y = 40 + row * 20;
        area.draw(&PathElement::new(vec![(6, y), (30, y)], style))?;
        area.draw(&Text::new(text.to_string(), (36, y - 7), ("sans-serif", 12)))?;
        row += 1;
        Ok(())
    };
    for (k, s) in panel.series.iter().enumerate() {
        let color = s.rgb(k);
        let style = match s.style {
            Style::Line => color.stroke_width(2),
            Style::Under => color.mix(0.3).stroke_width(7),
        };
        entry(style, &s.name)?;
    }
    if let Some((label, _)) = &panel.reference {
        entry(BLACK.mix(0.6).stroke_width(1), label)?;
    }
    Ok(())
}

/// Marker labels above the first panel, in rows so that neighbours do not overlap.
fn draw_marker_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    markers: &[Marker],
    xs: &[i32],
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let mut row_ends = [i32::MIN; MARKER_ROWS as usize];
    for (m, &x) in markers.iter().zip(xs) {
        let width = 7 * m.label.chars().count() as i32;
        let row = row_ends
            .iter()
            .position(|&end| end < x)
            // Else the row whose last label ends first.
            .unwrap_or_else(|| (0..row_ends.len()).min_by_key(|&r| row_ends[r]).unwrap_or(0));
        row_ends[row] = x + width + 6;
        let y = 2 + row as i32 * MARKER_ROW_HEIGHT as i32;
        area.draw(&Text::new(m.label.clone(), (x, y), ("sans-serif", 11)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(scale: Scale, points: Vec<(f64, f64)>) -> Panel {
        Panel {
            title: "t".into(),
            unit: "u".into(),
            series: vec![Series::line("s", points)],
            scale,
            reference: None,
        }
    }

    #[test]
    fn time_is_shown_in_a_unit_that_suits_the_run() {
        assert_eq!(time_axis(120.0).1, "seconds");
        assert_eq!(time_axis(3600.0).1, "minutes");
        assert_eq!(time_axis(86_400.0).1, "hours");
    }

    #[test]
    fn counts_are_steps_with_room_above_and_whole_ticks() {
        assert_eq!(
            steps(&[(0.0, 1.0), (5.0, 2.0)]),
            vec![(0.0, 1.0), (5.0, 1.0), (5.0, 2.0)]
        );
        assert_eq!(y_top(&panel(Scale::Count, vec![(0.0, 1.0), (1.0, 2.0)])), 3.0);
        assert_eq!(tick_text(2.0, 3.0), "2");
    }

    #[test]
    fn the_axis_fits_the_data_and_the_reference() {
        // A 4 ms p99 under a 150 ms SLO: both visible, the axis not stretched to seconds.
        let mut p = panel(Scale::Log, vec![(0.0, 4.0)]);
        p.reference = Some(("SLO 150 ms".into(), 150.0));
        assert_eq!(y_top(&p), 300.0);
        assert!(y_top(&panel(Scale::Linear, vec![(0.0, 40.0)])) < 50.0);
    }

    #[test]
    fn every_unit_legend_and_marker_is_drawn() {
        let mut p = panel(Scale::Count, vec![(0.0, 1.0), (60.0, 3.0)]);
        p.unit = "replicas".into();
        p.series
            .insert(0, Series::under("desired", vec![(0.0, 1.0), (60.0, 3.0)]));
        let markers = [Marker {
            at: 30.0,
            label: "scale-out 1 → 3".into(),
        }];
        let svg = svg(&[p], &markers, 120.0).unwrap();
        for text in ["replicas", "desired", "scale-out 1 → 3", "seconds"] {
            assert!(svg.contains(text), "{text} missing");
        }
    }
}

//! A small chart of one quantity over the last hour, for the daemon's status page.

use plotters::prelude::*;

/// A small chart of the last hour (and of what is forecast after it): minutes from now on
/// x, the unit on y.
pub struct Spark<'a> {
    pub title: String,
    /// The y axis's unit.
    pub unit: &'a str,
    pub points: &'a [(f64, f64)],
    /// Drawn first, wide and faint, so that `points` equal to it stay visible on it.
    pub band: Option<&'a [(f64, f64)]>,
    /// A reference line (a target or an SLO), in the chart's unit.
    pub target: Option<f64>,
    /// Whole numbers: integer ticks.
    pub count: bool,
    /// Minutes after now the x axis runs on to (a forecast), 0 for none.
    pub ahead: f64,
}

pub fn sparkline(spark: &Spark) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (420, 140)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = spark
            .points
            .iter()
            .chain(spark.band.unwrap_or_default())
            .map(|p| p.1)
            .chain(spark.target)
            .fold(0.0, f64::max);
        let ymax = if spark.count {
            (top.ceil() + 1.0).max(2.0)
        } else {
            (top * 1.15).max(1e-3)
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(&spark.title, ("sans-serif", 13))
            .margin(4)
            .x_label_area_size(18)
            .y_label_area_size(48)
            .build_cartesian_2d(-60f64..spark.ahead.max(0.0), 0f64..ymax)?;
        let minutes = |v: &f64| format!("{v:.0}");
        let ticks = |v: &f64| {
            if spark.count || ymax >= 20.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        };
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_labels(4)
            .y_labels(if spark.count { (ymax as usize + 1).min(6) } else { 4 })
            .y_label_formatter(&ticks)
            .x_label_formatter(&minutes)
            .y_desc(spark.unit)
            .x_desc(if spark.ahead > 0.0 {
                "minutes from now"
            } else {
                "minutes ago"
            })
            .draw()?;
        if let Some(t) = spark.target {
            chart.draw_series(LineSeries::new(
                vec![(-60.0, t), (spark.ahead.max(0.0), t)],
                BLACK.mix(0.5),
            ))?;
        }
        if let Some(band) = spark.band {
            chart.draw_series(LineSeries::new(
                band.iter().copied(),
                RGBColor(31, 119, 180).mix(0.3).stroke_width(6),
            ))?;
        }
        chart.draw_series(LineSeries::new(
            spark.points.iter().copied(),
            RGBColor(31, 119, 180).stroke_width(2),
        ))?;
        root.present()?;
        Ok(())
    })();
    if drawn.is_err() {
        return String::new();
    }
    svg
}

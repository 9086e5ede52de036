//! Presenting runs: a side-by-side table, JSON, a CSV timeline and an HTML chart.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use super::{Run, Scenario, Summary};

/// Rows of the side-by-side table: label and how to print one summary's value.
type Row = (&'static str, fn(&Summary) -> String);

const ROWS: &[Row] = &[
    ("SLO-violation seconds", |s| s.slo_violation_seconds.to_string()),
    ("task-seconds", |s| format!("{:.0}", s.task_seconds)),
    ("peak p99 (ms)", |s| format!("{:.0}", s.peak_p99_ms)),
    ("failed requests", |s| s.failed_requests.to_string()),
    ("scale-outs / scale-ins", |s| {
        format!("{} / {}", s.scale_outs, s.scale_ins)
    }),
    ("first scale-out after load step (s)", |s| {
        s.first_scale_out_after_step_s.map_or("-".into(), |v| v.to_string())
    }),
    ("max tasks", |s| s.max_tasks.to_string()),
    ("mean CPU %", |s| format!("{:.1}", s.mean_cpu)),
];

pub fn table(scenario: &Scenario, runs: &[Run]) -> String {
    let label_width = ROWS.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let widths: Vec<usize> = runs
        .iter()
        .map(|r| {
            ROWS.iter()
                .map(|(_, f)| f(&r.summary).len())
                .max()
                .unwrap_or(0)
                .max(r.scaler.len())
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} ({}s, SLO p99 {:.0}ms, {} requests)",
        scenario.name,
        scenario.duration,
        scenario.slo_p99 * 1000.0,
        runs.first().map_or(0, |r| r.summary.total_requests)
    );
    let _ = write!(out, "{:label_width$}", "");
    for (r, w) in runs.iter().zip(&widths) {
        let _ = write!(out, "  {:>w$}", r.scaler);
    }
    out.push('\n');
    for (label, f) in ROWS {
        let _ = write!(out, "{label:label_width$}");
        for (r, w) in runs.iter().zip(&widths) {
            let _ = write!(out, "  {:>w$}", f(&r.summary));
        }
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    scenario: &'a str,
    duration_s: u64,
    slo_p99_ms: f64,
    runs: Vec<JsonRun<'a>>,
}

#[derive(Serialize)]
struct JsonRun<'a> {
    summary: &'a Summary,
    changes: Vec<JsonChange<'a>>,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    at_s: u64,
    from: u32,
    to: u32,
    reason: &'a str,
}

pub fn json(scenario: &Scenario, runs: &[Run]) -> serde_json::Value {
    let report = JsonReport {
        scenario: &scenario.name,
        duration_s: scenario.duration,
        slo_p99_ms: scenario.slo_p99 * 1000.0,
        runs: runs
            .iter()
            .map(|r| JsonRun {
                summary: &r.summary,
                changes: r
                    .changes
                    .iter()
                    .map(|c| JsonChange {
                        at_s: c.at,
                        from: c.from,
                        to: c.to,
                        reason: &c.reason,
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_value(report).unwrap_or_default()
}

/// One CSV row per second: load, counts, CPU and p99.
pub fn timeline_csv(run: &Run) -> String {
    let mut out = String::from("t,offered_rps,served_rps,failed,desired,healthy,provisioning,cpu,p99_ms\n");
    for (t, s) in run.seconds.iter().enumerate() {
        let _ = writeln!(
            out,
            "{t},{:.1},{:.1},{:.1},{},{},{},{},{:.2}",
            s.offered,
            s.served,
            s.failed,
            s.desired,
            s.healthy,
            s.provisioning,
            s.cpu.map_or(String::new(), |c| format!("{c:.1}")),
            if s.served > 0.0 { s.p99() * 1000.0 } else { 0.0 }
        );
    }
    out
}

/// Writes timelines, decisions, the summary and a chart into `dir`.
pub fn write_dir(dir: &Path, scenario: &Scenario, runs: &[Run]) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for run in runs {
        let path = dir.join(format!("timeline-{}.csv", run.scaler));
        std::fs::write(&path, timeline_csv(run))?;
        written.push(path);
    }
    let path = dir.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json(scenario, runs))?)?;
    written.push(path);
    let path = dir.join("chart.html");
    std::fs::write(&path, chart_html(scenario, runs).map_err(std::io::Error::other)?)?;
    written.push(path);
    Ok(written)
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// A self-contained HTML page with an SVG chart: load, tasks, CPU and p99 over time.
pub fn chart_html(scenario: &Scenario, runs: &[Run]) -> Result<String, String> {
    let svg = chart_svg(scenario, runs).map_err(|e| format!("drawing the chart failed: {e}"))?;
    let table = table(scenario, runs);
    Ok(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title>\
         <style>body{{font-family:sans-serif;margin:24px}}pre{{background:#f6f6f6;padding:12px}}</style></head>\
         <body><h1>Simulation: {name}</h1><p>{desc}</p><pre>{table}</pre>{svg}</body></html>\n",
        name = html_escape(&scenario.name),
        desc = html_escape(&scenario.description),
        table = html_escape(&table),
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Averages a per-second series into at most `points` buckets, so long runs stay light.
fn downsample(values: impl Iterator<Item = (f64, f64)>, len: usize, points: usize) -> Vec<(f64, f64)> {
    let bucket = len.div_ceil(points.max(1)).max(1);
    let all: Vec<(f64, f64)> = values.collect();
    all.chunks(bucket)
        .map(|c| (c[0].0, c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64))
        .collect()
}

fn chart_svg(scenario: &Scenario, runs: &[Run]) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 1000)).into_drawing_area();
        root.fill(&WHITE)?;
        let panels = root.split_evenly((4, 1));
        let minutes = scenario.duration as f64 / 60.0;
        let n = scenario.duration as usize;
        let to_min = |t: usize| t as f64 / 60.0;

        type Series = fn(&super::world::Second) -> f64;
        let specs: [(&str, Series); 4] = [
            ("offered load (requests/s)", |s| s.offered),
            ("tasks in service (healthy)", |s| f64::from(s.healthy)),
            ("CPU % (average of healthy tasks)", |s| s.cpu.unwrap_or(0.0)),
            ("p99 latency (ms, log scale)", |s| {
                if s.served > 0.0 { s.p99() * 1000.0 } else { 0.0 }
            }),
        ];
        for (i, (title, f)) in specs.iter().enumerate() {
            let series: Vec<Vec<(f64, f64)>> = runs
                .iter()
                .map(|r| downsample(r.seconds.iter().enumerate().map(|(t, s)| (to_min(t), f(s))), n, 1000))
                .collect();
            let ymax = series.iter().flatten().map(|p| p.1).fold(1.0, f64::max) * 1.1;
            let mut builder = ChartBuilder::on(&panels[i]);
            builder
                .caption(*title, ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(60);
            if i == 3 {
                let ymax = ymax.max(scenario.slo_p99 * 1000.0 * 2.0);
                let mut chart = builder.build_cartesian_2d(0f64..minutes, (0.5f64..ymax).log_scale())?;
                chart
                    .configure_mesh()
                    .x_desc("minutes")
                    .light_line_style(WHITE)
                    .draw()?;
                let slo = scenario.slo_p99 * 1000.0;
                chart
                    .draw_series(LineSeries::new(vec![(0.0, slo), (minutes, slo)], BLACK.mix(0.5)))?
                    .label(format!("SLO {slo:.0} ms"))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.5)));
                for (k, (run, points)) in runs.iter().zip(&series).enumerate() {
                    let color = COLORS[k % COLORS.len()];
                    let clipped = points.iter().map(|&(x, y)| (x, y.max(0.5)));
                    chart
                        .draw_series(LineSeries::new(clipped, &color))?
                        .label(run.scaler.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()?;
            } else {
                let mut chart = builder.build_cartesian_2d(0f64..minutes, 0f64..ymax)?;
                chart
                    .configure_mesh()
                    .x_desc("minutes")
                    .light_line_style(WHITE)
                    .draw()?;
                for (k, (run, points)) in runs.iter().zip(&series).enumerate() {
                    let color = COLORS[k % COLORS.len()];
                    chart
                        .draw_series(LineSeries::new(points.iter().copied(), &color))?
                        .label(run.scaler.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}

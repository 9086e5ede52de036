//! Presenting runs: a side-by-side table, JSON, a CSV timeline and an HTML chart.

use std::fmt::Write as _;
use std::path::Path;

use autoscaler_charts::{self as chart, Marker, Panel, Scale, Series};
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
    ("scale-ins reversed within 5 min", |s| s.reversed_scale_ins.to_string()),
    ("tasks launched", |s| s.tasks_launched.to_string()),
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

/// A self-contained HTML page with an SVG chart: load, tasks (desired and in service),
/// failed requests, CPU and p99 over time, every scaler in its own colour.
pub fn chart_html(scenario: &Scenario, runs: &[Run]) -> Result<String, String> {
    Ok(chart::html(
        &format!("Simulation: {}", scenario.name),
        &scenario.description,
        &table(scenario, runs),
        &chart_svg(scenario, runs)?,
    ))
}

/// The SVG chart of [`chart_html`].
pub fn chart_svg(scenario: &Scenario, runs: &[Run]) -> Result<String, String> {
    type Value = fn(&super::world::Second) -> f64;
    let points = |r: &Run, f: Value| -> Vec<(f64, f64)> {
        let all: Vec<(f64, f64)> = r.seconds.iter().enumerate().map(|(t, s)| (t as f64, f(s))).collect();
        chart::downsample(&all, 1000)
    };
    let per_run = |f: Value| -> Vec<Series> {
        runs.iter()
            .enumerate()
            .map(|(k, r)| Series::line(r.scaler.clone(), points(r, f)).with_color(k))
            .collect()
    };
    let panel = |title: &str, unit: &str, series: Vec<Series>, scale: Scale, reference: Option<(String, f64)>| Panel {
        title: title.to_string(),
        unit: unit.to_string(),
        series,
        scale,
        reference,
    };
    let tasks = runs
        .iter()
        .enumerate()
        .flat_map(|(k, r)| {
            [
                Series::under(format!("{} desired", r.scaler), points(r, |s| f64::from(s.desired))).with_color(k),
                Series::line(format!("{} in service", r.scaler), points(r, |s| f64::from(s.healthy))).with_color(k),
            ]
        })
        .collect();
    let offered = runs
        .first()
        .map(|r| vec![Series::line("offered", points(r, |s| s.offered))])
        .unwrap_or_default();
    let slo = scenario.slo_p99 * 1000.0;
    let panels = [
        panel("offered load", "requests/s", offered, Scale::Linear, None),
        panel(
            "tasks: desired (band) and in service (line)",
            "tasks",
            tasks,
            Scale::Count,
            None,
        ),
        panel(
            "failed requests",
            "failed/s",
            per_run(|s| s.failed),
            Scale::Linear,
            None,
        ),
        panel(
            "CPU (average of tasks in service)",
            "%",
            per_run(|s| s.cpu.unwrap_or(0.0)),
            Scale::Linear,
            None,
        ),
        panel(
            "p99 latency (log scale)",
            "ms",
            per_run(|s| if s.served > 0.0 { s.p99() * 1000.0 } else { 0.0 }),
            Scale::Log,
            Some((format!("SLO {slo:.0} ms"), slo)),
        ),
    ];
    let markers: Vec<Marker> = scenario
        .steps()
        .into_iter()
        .map(|(at, label)| Marker { at, label })
        .collect();
    chart::svg(&panels, &markers, scenario.duration as f64)
}

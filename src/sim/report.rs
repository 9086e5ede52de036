//! Presenting runs: a side-by-side table, JSON, a CSV timeline and an HTML chart.

use std::fmt::Write as _;
use std::path::Path;

use crate::chart::{self, Panel, Series};
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

/// A self-contained HTML page with an SVG chart: load, tasks, CPU and p99 over time.
pub fn chart_html(scenario: &Scenario, runs: &[Run]) -> Result<String, String> {
    let to_min = |t: usize| t as f64 / 60.0;
    type Value = fn(&super::world::Second) -> f64;
    let panel = |title: &str, f: Value, log_scale: bool, reference: Option<(String, f64)>| Panel {
        title: title.to_string(),
        series: runs
            .iter()
            .map(|r| {
                let all: Vec<(f64, f64)> = r.seconds.iter().enumerate().map(|(t, s)| (to_min(t), f(s))).collect();
                Series {
                    name: r.scaler.clone(),
                    points: chart::downsample(&all, 1000),
                }
            })
            .collect(),
        log_scale,
        reference,
    };
    let slo = scenario.slo_p99 * 1000.0;
    let panels = [
        panel("offered load (requests/s)", |s| s.offered, false, None),
        panel("tasks in service (healthy)", |s| f64::from(s.healthy), false, None),
        panel(
            "CPU % (average of healthy tasks)",
            |s| s.cpu.unwrap_or(0.0),
            false,
            None,
        ),
        panel(
            "p99 latency (ms, log scale)",
            |s| if s.served > 0.0 { s.p99() * 1000.0 } else { 0.0 },
            true,
            Some((format!("SLO {slo:.0} ms"), slo)),
        ),
    ];
    let svg = chart::svg(&panels, "minutes", scenario.duration as f64 / 60.0)?;
    Ok(chart::html(
        &format!("Simulation: {}", scenario.name),
        &scenario.description,
        &table(scenario, runs),
        &svg,
    ))
}

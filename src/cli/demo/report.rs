//! The demo's report: `report.html` (the final table, then load, replicas, CPU, latency
//! and failures over time with every decision, the load step and the kill marked) and
//! `summary.json` (the same figures and the timeline, for scripts).

use std::path::Path;

use anyhow::Context;
use autoscaler_charts::{self as chart, Marker, Panel, Scale, Series};
use serde::Serialize;

use super::summary::{self, DecisionLine, Summary};

/// One second of the run: what the load saw, what the policy saw, what the pool was.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub t: u64,
    pub rps: u64,
    pub failed: u64,
    /// The load generator's p99 over this second, in ms.
    pub client_p99_ms: Option<f64>,
    /// The latency rule's value in the last decision, in ms (merged from the replicas'
    /// histograms over the rule's period).
    pub policy_latency_ms: Option<f64>,
    /// The CPU rule's value in the last decision, in %.
    pub policy_cpu: Option<f64>,
    pub desired: u32,
    pub ready: u32,
}

#[derive(Serialize)]
pub struct Report<'a> {
    pub summary: &'a Summary,
    pub timeline: &'a [Tick],
    pub decisions: &'a [DecisionLine],
}

/// Markers for the chart: the load step, every applied decision, the kill.
fn markers(summary: &Summary, decisions: &[DecisionLine]) -> Vec<Marker> {
    let mut out: Vec<Marker> = summary
        .load_step_at_s
        .map(|t| Marker {
            at: t,
            label: "load step".into(),
        })
        .into_iter()
        .collect();
    out.extend(decisions.iter().map(|d| Marker {
        at: d.t,
        label: format!("{} → {}", d.from, d.to),
    }));
    if let (Some(pid), Some(kill)) = (summary.killed_pid, summary.kill_at_s) {
        out.push(Marker {
            at: kill,
            label: format!("kill {pid}"),
        });
    }
    out.sort_by(|a, b| a.at.total_cmp(&b.at));
    out
}

fn panels(summary: &Summary, ticks: &[Tick]) -> Vec<Panel> {
    let points = |f: &dyn Fn(&Tick) -> Option<f64>| -> Vec<(f64, f64)> {
        ticks.iter().filter_map(|t| f(t).map(|v| (t.t as f64, v))).collect()
    };
    let pct = summary.targets.percentile_name();
    let slo = summary
        .targets
        .latency_rule
        .as_ref()
        .map(|(_, _, ms)| (format!("SLO {ms:.0} ms"), *ms));
    let cpu_target = summary
        .targets
        .cpu_rule
        .as_ref()
        .map(|(_, target)| (format!("target {target:.0} %"), *target));
    vec![
        Panel {
            title: "load".into(),
            unit: "answered requests/s".into(),
            series: vec![Series::line("answered", points(&|t| Some(t.rps as f64)))],
            scale: Scale::Linear,
            reference: None,
        },
        Panel {
            title: "replicas: desired (band) and ready (line)".into(),
            unit: "replicas".into(),
            series: vec![
                Series::under("desired", points(&|t| Some(f64::from(t.desired)))).with_color(0),
                Series::line("ready", points(&|t| Some(f64::from(t.ready)))).with_color(0),
            ],
            scale: Scale::Count,
            reference: None,
        },
        Panel {
            title: format!("latency (log scale): the client's {pct} per second, the policy's {pct}"),
            unit: "ms".into(),
            series: vec![
                Series::line(format!("client {pct}"), points(&|t| t.client_p99_ms)),
                Series::line(format!("policy {pct}"), points(&|t| t.policy_latency_ms)),
            ],
            scale: Scale::Log,
            reference: slo,
        },
        Panel {
            title: "CPU as the policy saw it (average of ready replicas)".into(),
            unit: "%".into(),
            series: vec![Series::line("cpu", points(&|t| t.policy_cpu))],
            scale: Scale::Linear,
            reference: cpu_target,
        },
        Panel {
            title: "failed requests".into(),
            unit: "failed/s".into(),
            series: vec![Series::line("failed", points(&|t| Some(t.failed as f64)))],
            scale: Scale::Count,
            reference: None,
        },
    ]
}

/// The page: the final table, the decisions with their reasons, the chart.
pub fn html(summary: &Summary, ticks: &[Tick], decisions: &[DecisionLine], plan: &str) -> anyhow::Result<String> {
    let duration = ticks.last().map_or(1.0, |t| t.t as f64 + 1.0);
    let svg =
        chart::svg(&panels(summary, ticks), &markers(summary, decisions), duration).map_err(|e| anyhow::anyhow!(e))?;
    let mut text = summary::table(summary);
    text.push_str("\ndecisions:\n");
    for d in decisions {
        text.push_str(&format!("  {:>6.1}s  {}\n", d.t, d.explanation));
    }
    Ok(chart::html(
        "ecs-autoscaler local demo",
        &format!("plan: {plan}"),
        &text,
        &svg,
    ))
}

pub fn write(
    dir: &Path,
    summary: &Summary,
    ticks: &[Tick],
    decisions: &[DecisionLine],
    plan: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("report.html"), html(summary, ticks, decisions, plan)?)?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&Report {
            summary,
            timeline: ticks,
            decisions,
        })?,
    )?;
    Ok(())
}

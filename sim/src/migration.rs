//! The migration report: a service's own AWS scaling and the policy that replaces it, run
//! on the same recorded traffic, day by day: seconds out of the SLO, task-seconds and what
//! Fargate bills for them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use autoscaler_charts::escape;
use chrono::{Duration, NaiveDate};
use serde::Serialize;

use super::replay::Recording;
use super::{Run, Scenario, report, violated};

/// Fargate's on-demand Linux/x86 prices in us-east-1, dollars per hour (December 2026).
pub const VCPU_HOUR: f64 = 0.04048;
pub const GB_HOUR: f64 = 0.004445;

/// What one task is given: the task definition's `cpu` (in vCPU) and `memory` (in GB).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TaskSize {
    pub vcpu: f64,
    pub memory_gb: f64,
}

impl TaskSize {
    /// Dollars Fargate bills for `task_seconds` of tasks this size.
    pub fn dollars(&self, task_seconds: f64) -> f64 {
        task_seconds / 3600.0 * (self.vcpu * VCPU_HOUR + self.memory_gb * GB_HOUR)
    }
}

/// One UTC day of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub slo_violation_seconds: u64,
    pub task_seconds: f64,
    pub dollars: f64,
}

/// `run`'s scored seconds by the UTC day they fall in.
pub fn days(scenario: &Scenario, run: &Run, size: TaskSize) -> Vec<Day> {
    let mut by_day: BTreeMap<NaiveDate, (u64, f64)> = BTreeMap::new();
    for (t, s) in run.seconds.iter().enumerate().skip(scenario.score_from as usize) {
        let date = (scenario.start + Duration::seconds(t as i64)).date_naive();
        let day = by_day.entry(date).or_default();
        day.0 += u64::from(violated(scenario, s));
        day.1 += f64::from(s.billed());
    }
    by_day
        .into_iter()
        .map(|(date, (violation, task_seconds))| Day {
            date,
            slo_violation_seconds: violation,
            task_seconds,
            dollars: size.dollars(task_seconds),
        })
        .collect()
}

/// What the service really ran, by day: task-seconds from the recorded running counts.
pub fn recorded_days(recording: &Recording) -> BTreeMap<NaiveDate, f64> {
    let mut out = BTreeMap::new();
    for (row, span) in recording.minutes.iter().zip(recording.spans()) {
        if let Some(n) = row.running {
            *out.entry(row.timestamp.date_naive()).or_insert(0.0) += f64::from(n) * span;
        }
    }
    out
}

/// Everything the report shows.
pub struct Migration<'a> {
    pub scenario: &'a Scenario,
    pub runs: &'a [Run],
    pub size: TaskSize,
    /// What of AWS's configuration the replay leaves out.
    pub left_out: &'a [String],
    pub recording: Option<&'a Recording>,
}

impl Migration<'_> {
    fn per_run(&self) -> Vec<Vec<Day>> {
        self.runs.iter().map(|r| days(self.scenario, r, self.size)).collect()
    }

    /// Each run's days, by its scaler's name.
    pub fn per_day(&self) -> BTreeMap<String, Vec<Day>> {
        self.runs.iter().map(|r| r.scaler.clone()).zip(self.per_run()).collect()
    }

    /// The per-day table as text: for each run, SLO-violation seconds, task-hours, dollars.
    pub fn table(&self) -> String {
        let per_run = self.per_run();
        let recorded = self.recording.map(recorded_days);
        let mut out = String::new();
        let _ = write!(out, "{:<10}", "day");
        for r in self.runs {
            let _ = write!(out, " | {:^32}", r.scaler);
        }
        if recorded.is_some() {
            let _ = write!(out, " | {:^20}", "recorded");
        }
        out.push('\n');
        let _ = write!(out, "{:<10}", "");
        for _ in self.runs {
            let _ = write!(out, " | {:>10} {:>10} {:>10}", "SLO-viol s", "task-h", "$");
        }
        if recorded.is_some() {
            let _ = write!(out, " | {:>9} {:>10}", "task-h", "$");
        }
        out.push('\n');
        let dates: Vec<NaiveDate> = per_run
            .first()
            .map_or(Vec::new(), |d| d.iter().map(|d| d.date).collect());
        let row = |out: &mut String, label: &str, cells: Vec<(u64, f64, f64)>, rec: Option<f64>| {
            let _ = write!(out, "{label:<10}");
            for (v, ts, usd) in cells {
                let _ = write!(out, " | {v:>10} {:>10.1} {usd:>10.2}", ts / 3600.0);
            }
            if let Some(ts) = rec {
                let _ = write!(out, " | {:>9.1} {:>10.2}", ts / 3600.0, self.size.dollars(ts));
            }
            out.push('\n');
        };
        for (k, date) in dates.iter().enumerate() {
            let cells = per_run
                .iter()
                .map(|d| {
                    d.get(k)
                        .map_or((0, 0.0, 0.0), |d| (d.slo_violation_seconds, d.task_seconds, d.dollars))
                })
                .collect();
            let rec = recorded.as_ref().map(|r| r.get(date).copied().unwrap_or(0.0));
            row(&mut out, &date.to_string(), cells, rec);
        }
        let totals = per_run
            .iter()
            .map(|d| {
                d.iter().fold((0, 0.0, 0.0), |a, d| {
                    (a.0 + d.slo_violation_seconds, a.1 + d.task_seconds, a.2 + d.dollars)
                })
            })
            .collect();
        row(&mut out, "total", totals, recorded.as_ref().map(|r| r.values().sum()));
        out
    }

    /// A self-contained HTML page: the per-day table, what was left out, the chart.
    pub fn html(&self) -> Result<String, String> {
        let svg = report::chart_svg(self.scenario, self.runs)?;
        let size = self.size;
        let mut notes = String::new();
        for n in self.left_out {
            let _ = write!(notes, "<li>{}</li>", escape(n));
        }
        let notes = if notes.is_empty() {
            "<p>Every policy and scheduled action AWS holds for the service is replayed.</p>".to_string()
        } else {
            format!("<p>Left out of the AWS replay:</p><ul>{notes}</ul>")
        };
        Ok(format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Migration report: {name}</title>\
             <style>body{{font-family:sans-serif;margin:24px}}pre{{background:#f6f6f6;padding:12px}}</style></head>\
             <body><h1>Migration report: {name}</h1><p>{desc}. SLO p99 {slo:.0} ms. Cost at Fargate's \
             us-east-1 prices for tasks of {vcpu} vCPU and {mem} GB (${vh}/vCPU-h, ${gh}/GB-h).</p>\
             <pre>{table}</pre>{notes}<figure class=\"chart\">{svg}</figure></body></html>\n",
            name = escape(&self.scenario.name),
            desc = escape(&self.scenario.description),
            slo = self.scenario.slo_p99 * 1000.0,
            vcpu = size.vcpu,
            mem = size.memory_gb,
            vh = VCPU_HOUR,
            gh = GB_HOUR,
            table = escape(&self.table()),
        ))
    }
}

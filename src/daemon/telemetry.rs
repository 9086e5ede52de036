//! Prometheus metrics of the daemon.
//!
//! Process-wide counters go through the `metrics` recorder, whose upkeep keeps memory
//! flat when nothing scrapes. Each name belongs to the module that emits it; this one
//! describes them all at start and sets every counter to zero, so a scrape never finds
//! one missing. Per-policy series are rendered from the registry at scrape time: they
//! appear with the policy and vanish with it, and a metric's age keeps growing while its
//! reads fail.

use std::fmt::Write;
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Utc};
use metrics::Unit;
use metrics_exporter_prometheus::PrometheusHandle;

use autoscaler_core::decide::Action;

use super::registry::Registry;
use super::state;

pub const ROUNDS: &str = "ecs_autoscaler_rounds_total";
pub const ROUND_SECONDS: &str = "ecs_autoscaler_round_seconds";
pub const BACKEND_SECONDS: &str = "ecs_autoscaler_backend_call_seconds";
pub const BACKEND_ERRORS: &str = "ecs_autoscaler_backend_errors_total";
pub const RELOAD_ERRORS: &str = "ecs_autoscaler_policy_rejections_total";
pub const FENCED: &str = "ecs_autoscaler_fenced_updates_total";
pub const LEADER: &str = "ecs_autoscaler_leader";
pub const PANICS: &str = "ecs_autoscaler_evaluation_panics_total";
pub const TAKEOVERS: &str = "ecs_autoscaler_aws_scaling_changes_total";
pub const EVENTS: &str = "ecs_autoscaler_events_total";

/// Backend calls, as labelled on the call metrics.
pub const CALLS: [&str; 7] = [
    "read_metrics",
    "describe_service",
    "update_service",
    "read_policies",
    "read_aws_scaling",
    "suspend_aws_scaling",
    "put_events",
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = ops_telemetry::prometheus::install(&[
                (
                    BACKEND_SECONDS,
                    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
                ),
                (
                    ROUND_SECONDS,
                    &[0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0],
                ),
            ])
            .ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(ROUNDS, "Evaluation rounds started.");
    metrics::describe_histogram!(
        ROUND_SECONDS,
        Unit::Seconds,
        "Duration of an evaluation round: the metric read, every policy's counts, decision and update."
    );
    metrics::describe_histogram!(BACKEND_SECONDS, Unit::Seconds, "Duration of backend calls, by call.");
    metrics::describe_counter!(
        BACKEND_ERRORS,
        "Failed backend calls, by call (metric reads and policy-source reads included)."
    );
    metrics::describe_counter!(RELOAD_ERRORS, "Policy files or edits rejected.");
    metrics::describe_counter!(
        FENCED,
        "Scaling actions not taken because this daemon no longer held the lease when it was about to act."
    );
    metrics::describe_gauge!(
        LEADER,
        "1 while this daemon may act (it holds the lease, or runs alone), else 0."
    );
    metrics::describe_counter!(
        PANICS,
        "Policy evaluations that panicked; each policy is evaluated again at its next tick."
    );
    metrics::describe_counter!(
        TAKEOVERS,
        "AWS Application Auto Scaling's own scaling of a service suspended (a policy with takeover) or given back, by change."
    );
    for c in [ROUNDS, RELOAD_ERRORS, FENCED, PANICS] {
        metrics::counter!(c).absolute(0);
    }
    for change in ["suspended", "resumed"] {
        metrics::counter!(TAKEOVERS, "change" => change).absolute(0);
    }
    metrics::describe_counter!(
        EVENTS,
        "Scaling events (actions, refusals, errors, AWS scaling suspended or given back) by outcome: sent, failed (the call failed or the event was not accepted) or dropped (the queue was full)."
    );
    for outcome in ["sent", "failed", "dropped"] {
        metrics::counter!(EVENTS, "outcome" => outcome).absolute(0);
    }
    for call in CALLS {
        metrics::counter!(BACKEND_ERRORS, "call" => call).absolute(0);
    }
    state::describe_metrics();
    #[cfg(feature = "aws")]
    crate::backend::aws::describe_metrics();
    crate::backend::local::describe_metrics();
}

/// Times a backend call and counts its failure.
pub async fn timed<T, E>(call: &'static str, f: impl std::future::Future<Output = Result<T, E>>) -> Result<T, E> {
    let start = Instant::now();
    let result = f.await;
    metrics::histogram!(BACKEND_SECONDS, "call" => call).record(start.elapsed().as_secs_f64());
    if result.is_err() {
        metrics::counter!(BACKEND_ERRORS, "call" => call).increment(1);
    }
    result
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The whole exposition: the recorder's metrics, then one family per policy metric.
pub fn render(registry: &Registry, now: DateTime<Utc>) -> String {
    let mut out = handle().map(|h| h.render()).unwrap_or_default();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
        out.push('\n');
    };
    let policies = || registry.policies().iter().map(|(n, e)| (escape(n), e));
    family(
        "ecs_autoscaler_desired_tasks",
        "gauge",
        "Desired count of each policy's target as last seen or set.",
        policies()
            .filter_map(|(n, e)| {
                e.last()
                    .map(|l| (format!("policy=\"{n}\""), f64::from(l.decision.desired)))
            })
            .collect(),
    );
    family(
        "ecs_autoscaler_running_tasks",
        "gauge",
        "Running tasks of each policy's target at the last evaluation.",
        policies()
            .filter_map(|(n, e)| {
                e.last()
                    .map(|l| (format!("policy=\"{n}\""), f64::from(l.decision.capacity.running)))
            })
            .collect(),
    );
    family(
        "ecs_autoscaler_metric_age_seconds",
        "gauge",
        "Age of each rule's newest datapoint (from the start of its period); keeps growing while reads fail.",
        policies()
            .flat_map(|(n, e)| {
                e.last_datapoint().iter().map(move |(rule, at)| {
                    let age = (now - *at).num_milliseconds() as f64 / 1000.0;
                    (format!("policy=\"{n}\",rule=\"{}\"", escape(rule)), age)
                })
            })
            .collect(),
    );
    family(
        "ecs_autoscaler_decisions_total",
        "counter",
        "Decisions taken since the policy was loaded, by action.",
        policies()
            .flat_map(|(n, e)| {
                Action::ALL.into_iter().map(|a| a.label()).map(move |a| {
                    let count = e.decisions().get(a).copied().unwrap_or(0);
                    (format!("policy=\"{n}\",action=\"{a}\""), count as f64)
                })
            })
            .collect(),
    );
    family(
        "ecs_autoscaler_evaluations_skipped_total",
        "counter",
        "Ticks skipped because the policy's previous evaluation was still running.",
        policies()
            .map(|(n, e)| (format!("policy=\"{n}\""), e.skipped_ticks() as f64))
            .collect(),
    );
    family(
        "ecs_autoscaler_policy_paused",
        "gauge",
        "1 while a policy is paused through the API.",
        policies()
            .map(|(n, e)| (format!("policy=\"{n}\""), f64::from(u8::from(e.paused()))))
            .collect(),
    );
    family(
        "ecs_autoscaler_policy_edit_rejected",
        "gauge",
        "1 while the last edit of a policy's file is rejected (the previous version stays in force).",
        policies()
            .map(|(n, e)| (format!("policy=\"{n}\""), f64::from(u8::from(e.load_error().is_some()))))
            .collect(),
    );
    family(
        "ecs_autoscaler_policy_backend_error",
        "gauge",
        "1 while a policy's last backend call failed.",
        policies()
            .map(|(n, e)| (format!("policy=\"{n}\""), f64::from(u8::from(e.last_error().is_some()))))
            .collect(),
    );
    out
}

//! A rule's value over its period, aggregated across a pool's ready replicas the way
//! CloudWatch aggregates a service's tasks: average CPU and memory, requests per target,
//! latency quantiles from the merged histograms.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::scrape;
use super::supervisor::{Pool, ReplicaState};
use crate::settings::LocalSettings;
use autoscaler_core::decide::{MissingCause, Reading, Sample};
use autoscaler_core::policy::Measure;

pub(super) fn measure(
    settings: &LocalSettings,
    pool: &Pool,
    measure: Measure,
    period: Duration,
    now: DateTime<Utc>,
) -> Sample {
    // A window measured partly before the replicas in service changed is neither fleet's:
    // right after a scale-out the old replica's queue would read as the new fleet's p99.
    if let Some(changed) = pool.in_service_changed() {
        let since = Instant::now().saturating_duration_since(changed);
        if since < period {
            return Sample::missing(
                MissingCause::NotPublished,
                format!(
                    "the replicas in service changed {:.1}s ago: waiting for {}s measured wholly since",
                    since.as_secs_f64(),
                    period.as_secs()
                ),
            );
        }
    }
    let deltas: Vec<scrape::Delta> = pool
        .replicas
        .iter()
        .filter(|r| r.state == ReplicaState::Ready)
        .filter_map(|r| scrape::over(&r.scrapes, period))
        .collect();
    if deltas.is_empty() {
        let failed = pool
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Ready)
            .find_map(|r| r.scrape_error.clone());
        return match failed {
            Some(why) => Sample::missing(MissingCause::ReadFailed, why),
            None => Sample::missing(
                MissingCause::NotPublished,
                format!("no replica has {}s of metrics yet", period.as_secs()),
            ),
        };
    }
    let n = deltas.len() as f64;
    let workers = settings.workers.max(1) as f64;
    let mean = |f: &dyn Fn(&scrape::Delta) -> f64| deltas.iter().map(f).sum::<f64>() / n;
    let value = match measure {
        Measure::Cpu => Some(mean(&|d| d.cpu_seconds / d.seconds / workers * 100.0)),
        Measure::Memory => Some(mean(&|d| d.rss_bytes / settings.memory_limit_bytes * 100.0)),
        // Normalized to the rule's period: a Sum per period per target.
        Measure::RequestsPerTarget => Some(mean(&|d| d.requests / d.seconds * period.as_secs_f64())),
        Measure::RequestRate => Some(mean(&|d| d.requests / d.seconds)),
        Measure::Latency { quantile } => scrape::quantile(&deltas, quantile),
        Measure::ErrorRate | Measure::Other => {
            return Sample::missing(MissingCause::Unsupported, "the local backend does not measure this yet");
        }
        Measure::QueueBacklog | Measure::QueueArrivals => {
            return Sample::missing(
                MissingCause::Unsupported,
                "the local replicas answer HTTP requests and work no queue",
            );
        }
    };
    match value {
        Some(v) => Sample::Value(Reading {
            value: v,
            at: now - autoscaler_core::time::to_chrono(period),
            base: Some(deltas.len() as u32),
        }),
        None => Sample::missing(MissingCause::NotPublished, "no requests in the period"),
    }
}

//! The calibration sweep: what one replica serves within the SLO, measured directly. One
//! replica, no autoscaler, the demo's own kind of load at rising rates; the knee is where
//! the client's p99 over a step first passes the SLO, interpolated between the last step
//! that held and the first that broke. It is the yardstick for the knee the policy
//! learns from its own readings during the run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use ecs_autoscaler::backend::CapacityTarget;
use ecs_autoscaler::backend::local::{LocalBackend, LocalSettings};
use ecs_autoscaler::loadgen::{self, Mode, Plan, Recorder, Second};

use autoscaler_core::policy::Target;

/// Seconds at each rate, and the first of them left out (the queue of the step before
/// drains, connections warm up).
const STEP: u64 = 5;
const SETTLE: u64 = 1;
/// Rates tried, as shares of what one replica's CPU serves (1 / search cost).
const SHARES: [f64; 12] = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Requests per second offered.
    pub rate: f64,
    /// The client's p99 over the step, ms.
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    pub steps: Vec<Step>,
    /// Requests per second one replica serves within the SLO; None if no step broke it
    /// (then it is at least the highest rate tried).
    pub knee: Option<f64>,
}

/// The knee from the steps, in the order tried: the first step above `slo_ms`,
/// interpolated linearly in p99 with the step before it.
pub fn knee(steps: &[Step], slo_ms: f64) -> Option<f64> {
    let broke = steps.iter().position(|s| s.p99_ms.is_none_or(|p| p > slo_ms))?;
    let Some(held) = broke.checked_sub(1).map(|i| &steps[i]) else {
        return Some(steps[broke].rate);
    };
    let (r0, p0) = (held.rate, held.p99_ms.unwrap_or(0.0));
    let (r1, p1) = (steps[broke].rate, steps[broke].p99_ms.unwrap_or(f64::INFINITY));
    if !p1.is_finite() || p1 <= p0 {
        return Some(r0);
    }
    Some(r0 + (r1 - r0) * (slo_ms - p0) / (p1 - p0))
}

fn p99_of(seconds: &[Second]) -> Option<f64> {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).ok()?;
    for s in seconds {
        h.add(&s.latency).ok()?;
    }
    (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0)
}

/// Runs the sweep on a pool of one replica of its own (`local`, with its own port),
/// against `target`'s pool name, with `mode`'s kind of load.
pub async fn sweep(local: LocalSettings, target: &Target, mode: Mode, slo_ms: f64) -> anyhow::Result<Calibration> {
    let per_replica = 1.0 / local.search_cost.as_secs_f64().max(1e-4);
    let backend = Arc::new(LocalBackend::start(LocalSettings {
        initial_replicas: 1,
        ..local
    }));
    // The pool starts when first asked about; one replica, never scaled.
    backend.capacity(target).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let ready_by = Instant::now() + Duration::from_secs(30);
    let Target::Local { pool } = target else {
        anyhow::bail!("calibration needs a local target, not {}", target.describe());
    };
    while backend.snapshot(pool).is_none_or(|p| p.ready == 0) {
        anyhow::ensure!(
            Instant::now() < ready_by,
            "calibration: no replica became ready within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rates: Vec<f64> = SHARES.iter().map(|s| (per_replica * s).round()).collect();
    let plan_text = rates
        .iter()
        .map(|r| format!("{r} for {STEP}s"))
        .collect::<Vec<_>>()
        .join(", ");
    let plan = Plan::parse(mode, &plan_text, 20.0).map_err(|e| anyhow::anyhow!("calibration plan: {e}"))?;
    eprintln!("demo: calibrating one replica: {plan_text} (requests/s)");
    let recorder = Arc::new(Recorder::new(Instant::now()));
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    loadgen::run(backend.service_url(), plan, Arc::clone(&recorder), stopping).await;
    backend.shutdown().await;
    let seconds = recorder.seconds();
    let steps: Vec<Step> = rates
        .iter()
        .enumerate()
        .map(|(i, &rate)| {
            let from = (i as u64 * STEP + SETTLE) as usize;
            let to = ((i as u64 + 1) * STEP) as usize;
            Step {
                rate,
                p99_ms: seconds.get(from..to.min(seconds.len())).and_then(p99_of),
            }
        })
        .collect();
    let knee = knee(&steps, slo_ms);
    Ok(Calibration { steps, knee })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(points: &[(f64, f64)]) -> Vec<Step> {
        points.iter().map(|&(rate, p)| Step { rate, p99_ms: Some(p) }).collect()
    }

    #[test]
    fn the_knee_is_interpolated_between_the_last_step_that_held_and_the_first_that_broke() {
        let s = steps(&[(100.0, 3.0), (200.0, 10.0), (300.0, 40.0), (400.0, 240.0)]);
        assert_eq!(knee(&s, 50.0), Some(300.0 + 100.0 * 10.0 / 200.0));
    }

    #[test]
    fn no_step_that_broke_is_no_knee_and_a_first_step_that_broke_is_the_bound() {
        assert_eq!(knee(&steps(&[(100.0, 3.0), (200.0, 10.0)]), 50.0), None);
        assert_eq!(knee(&steps(&[(100.0, 80.0)]), 50.0), Some(100.0));
    }
}

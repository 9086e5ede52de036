//! Prometheus metrics of the daemon. One recorder per process; every series carries the
//! policy name, so several daemons in one test process do not mix.

use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const TICKS: &str = "ecs_autoscaler_ticks_total";
pub const DECISIONS: &str = "ecs_autoscaler_decisions_total";
pub const DESIRED: &str = "ecs_autoscaler_desired_tasks";
pub const METRIC_AGE: &str = "ecs_autoscaler_metric_age_seconds";
pub const BACKEND_SECONDS: &str = "ecs_autoscaler_backend_call_seconds";
pub const BACKEND_ERRORS: &str = "ecs_autoscaler_backend_errors_total";
pub const RELOAD_ERRORS: &str = "ecs_autoscaler_policy_rejections_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(BACKEND_SECONDS.into()),
                    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
                )
                .and_then(|b| b.install_recorder())
                .ok()
        })
        .as_ref()
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

//! Prometheus metrics of the service, and the latency window the EMF records report.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use hdrhistogram::Histogram;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "search_requests_total";
pub const DURATION: &str = "search_request_duration_seconds";
pub const IN_FLIGHT: &str = "search_in_flight_requests";
pub const CPU: &str = "process_cpu_seconds_total";
pub const CATALOG: &str = "search_catalog_products";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(DURATION.into()),
                    &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
                )
                .and_then(|b| b.install_recorder())
                .ok()
        })
        .as_ref()
}

/// CPU time this process has used, user and system.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass; RUSAGE_SELF is always valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Latencies of the current EMF window, in microseconds.
pub struct Window {
    histogram: Mutex<Histogram<u64>>,
}

/// Percentiles of one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
}

impl Default for Window {
    fn default() -> Self {
        // 1 µs .. 60 s at 3 significant digits.
        let h =
            Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| Histogram::new(3).expect("valid sigfig"));
        Self {
            histogram: Mutex::new(h),
        }
    }
}

impl Window {
    pub fn record(&self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, 60_000_000);
        let mut h = self.histogram.lock().unwrap_or_else(|p| p.into_inner());
        let _ = h.record(us);
    }

    /// The window's percentiles, starting a new window.
    pub fn take(&self) -> Percentiles {
        let mut h = self.histogram.lock().unwrap_or_else(|p| p.into_inner());
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let p = Percentiles {
            count: h.len(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
        };
        h.reset();
        p
    }
}

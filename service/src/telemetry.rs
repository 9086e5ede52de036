//! Prometheus metrics of the service, and the latency window the EMF records report.
//!
//! Request latency is measured by the HTTP layer from the moment a request's head has
//! been read until its response has been handed to the connection: the wait for a
//! worker is inside it, as it is in what a client sees.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use hardened_http::Observer;
use hdrhistogram::Histogram;
use metrics::Unit;
use metrics_exporter_prometheus::PrometheusHandle;
use warp::http::{Method, StatusCode};

pub const REQUESTS: &str = "search_requests_total";
pub const DURATION: &str = "search_request_duration_seconds";
pub const QUEUE: &str = "search_queue_seconds";
pub const IN_FLIGHT: &str = "search_in_flight_requests";
pub const SHED: &str = "search_shed_requests_total";
pub const CPU: &str = "process_cpu_seconds_total";
pub const CATALOG: &str = "search_catalog_products";

/// Bucket bounds in seconds: handler time is tens of microseconds, queueing under
/// overload reaches seconds.
const BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.007_5, 0.01, 0.015, 0.025, 0.035, 0.05,
    0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder (and describing every
/// metric) on first use.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            // The recorder's upkeep runs from here on: without it the samples of every
            // request are kept until the next scrape, and nothing scrapes on ECS.
            let handle = ops_telemetry::prometheus::install(&[(DURATION, BUCKETS), (QUEUE, BUCKETS)]).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(REQUESTS, "Requests answered, by route and status code.");
    metrics::describe_histogram!(
        DURATION,
        Unit::Seconds,
        "Time from a request's head being read to its response being written, waiting for a worker included."
    );
    metrics::describe_histogram!(QUEUE, Unit::Seconds, "Time a request waited for a search worker.");
    metrics::describe_gauge!(IN_FLIGHT, "Requests admitted to the search workers: running or queued.");
    metrics::describe_counter!(
        SHED,
        "Requests refused with 503 before any work: the queue was full or the request waited past its deadline."
    );
    metrics::describe_gauge!(CATALOG, "Products in the catalog.");
    // Every series exists from the start, so a scrape never finds a metric missing.
    metrics::gauge!(IN_FLIGHT).set(0.0);
    metrics::counter!(SHED, "reason" => "queue_full").absolute(0);
    metrics::counter!(SHED, "reason" => "deadline").absolute(0);
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

/// Route label for metrics, from a request path (a bounded set, so no label explosion).
pub fn route(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        (_, "/products/search") => "search",
        ("POST", "/products") => "create",
        (_, p) if p.starts_with("/products/") => "product",
        (_, "/health") => "health",
        (_, "/ready") => "ready",
        (_, "/metrics") => "metrics",
        _ => "other",
    }
}

/// Records every request: the counter and histogram by route, and the EMF window for the
/// routes that do the service's work.
pub struct RequestObserver {
    pub window: std::sync::Arc<Window>,
}

impl Observer for RequestObserver {
    type Label = &'static str;

    fn start(&self, method: &Method, path: &str) -> &'static str {
        route(method, path)
    }

    fn finish(&self, route: &'static str, status: StatusCode, elapsed: Duration) {
        // A shed request is answered fast because it was refused: counting it would make
        // the p99 look healthy exactly when the service is overloaded.
        if matches!(route, "search" | "product" | "create") {
            self.window.arrived(status.is_server_error());
            if status != StatusCode::SERVICE_UNAVAILABLE {
                self.window.record(elapsed);
            }
        }
        metrics::counter!(REQUESTS, "route" => route, "status" => status_label(status)).increment(1);
        metrics::histogram!(DURATION, "route" => route).record(elapsed.as_secs_f64());
    }
}

/// A status code as a static label (no allocation per request).
fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        304 => "304",
        400 => "400",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        422 => "422",
        500 => "500",
        503 => "503",
        507 => "507",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// The current EMF window: latencies of answered requests (microseconds), and counts of
/// every request that arrived and of those answered with a 5xx (shed ones included).
pub struct Window {
    histogram: Mutex<Histogram<u64>>,
    arrivals: std::sync::atomic::AtomicU64,
    errors: std::sync::atomic::AtomicU64,
}

/// Percentiles of one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    /// Requests that arrived, whatever their answer: the demand, past saturation too.
    pub arrivals: u64,
    /// Requests answered with a 5xx, shed ones included.
    pub errors: u64,
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
            arrivals: Default::default(),
            errors: Default::default(),
        }
    }
}

impl Window {
    pub fn arrived(&self, failed: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.arrivals.fetch_add(1, Relaxed);
        if failed {
            self.errors.fetch_add(1, Relaxed);
        }
    }

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
            arrivals: self.arrivals.swap(0, std::sync::atomic::Ordering::Relaxed),
            errors: self.errors.swap(0, std::sync::atomic::Ordering::Relaxed),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
        };
        h.reset();
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shed_request_is_an_arrival_and_an_error_but_no_latency() {
        let observer = RequestObserver {
            window: std::sync::Arc::new(Window::default()),
        };
        observer.finish("search", StatusCode::SERVICE_UNAVAILABLE, Duration::from_micros(50));
        observer.finish("search", StatusCode::OK, Duration::from_millis(3));
        observer.finish("product", StatusCode::INTERNAL_SERVER_ERROR, Duration::from_millis(1));
        observer.finish("metrics", StatusCode::OK, Duration::from_millis(1));
        let w = observer.window.take();
        assert_eq!((w.arrivals, w.errors, w.count), (3, 2, 2), "{w:?}");
        assert!(w.p99_ms >= 2.9, "the shed answer does not pull the p99 down: {w:?}");
        assert_eq!(observer.window.take().arrivals, 0, "a new window starts empty");
    }
}

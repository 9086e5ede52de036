//! CloudWatch Embedded Metric Format records: printed on stdout, the awslogs driver turns
//! them into high-resolution metrics with no AWS call from the service.

use std::time::Duration;

use ops_telemetry::emf::Metric;
use serde_json::Value;

use crate::telemetry::Percentiles;

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The start of the period that contains `now_ms`.
pub fn period_start(now_ms: i64, period: Duration) -> i64 {
    let p = (period.as_millis() as i64).max(1);
    now_ms.div_euclid(p) * p
}

/// For a clock at `now_ms`: the start of the period in progress, and how long until it
/// ends. A record printed then, stamped with that start, lands in its own period.
pub fn next_boundary(now_ms: i64, period: Duration) -> (i64, Duration) {
    let start = period_start(now_ms, period);
    let end = start + (period.as_millis() as i64).max(1);
    (start, Duration::from_millis((end - now_ms) as u64))
}

/// One EMF record for a window: requests answered (RequestCount), arrived whatever their
/// answer (ArrivalCount, the demand, which keeps rising past saturation) and answered with
/// a 5xx (ErrorCount), and the latency percentiles. Without answered requests there is no
/// latency to report, so the autoscaler sees "no data" for latency rather than a fake zero.
pub fn record(namespace: &str, dimensions: &[(String, String)], window: Percentiles, timestamp_ms: i64) -> Value {
    let metric = |name, unit, value: f64| Metric {
        name,
        unit,
        value,
        storage_resolution: Some(1),
    };
    let mut metrics = vec![
        metric("RequestCount", "Count", window.count as f64),
        metric("ArrivalCount", "Count", window.arrivals as f64),
        metric("ErrorCount", "Count", window.errors as f64),
    ];
    if window.count > 0 {
        metrics.push(metric("LatencyP50", "Milliseconds", window.p50_ms));
        metrics.push(metric("LatencyP90", "Milliseconds", window.p90_ms));
        metrics.push(metric("LatencyP99", "Milliseconds", window.p99_ms));
    }
    let dims: Vec<(&str, &str)> = dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ops_telemetry::emf::record(namespace, &dims, &metrics, timestamp_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_declares_every_metric_it_carries() {
        let dims = vec![("Service".to_string(), "search".to_string())];
        let w = Percentiles {
            count: 120,
            arrivals: 130,
            errors: 10,
            p50_ms: 0.4,
            p90_ms: 0.9,
            p99_ms: 2.5,
        };
        let r = record("SearchService", &dims, w, 1_700_000_000_000);
        let def = &r["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(def["Namespace"], "SearchService");
        assert_eq!(def["Dimensions"], json!([["Service"]]));
        for m in def["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(r.get(name).is_some_and(Value::is_number), "{name} declared but absent");
            assert_eq!(m["StorageResolution"], 1);
        }
        assert_eq!(r["LatencyP99"], 2.5);
        assert_eq!(r["Service"], "search");
    }

    #[test]
    fn records_land_one_per_period_whenever_the_timer_starts() {
        let period = Duration::from_secs(10);
        // Started mid-period: waits for the period's end, stamps its start.
        assert_eq!(
            next_boundary(1_700_000_003_250, period),
            (1_700_000_000_000, Duration::from_millis(6_750))
        );
        // Woken exactly on a boundary: that instant begins the next period.
        assert_eq!(
            next_boundary(1_700_000_010_000, period),
            (1_700_000_010_000, Duration::from_secs(10))
        );
        // Woken a little late: the period in progress is the one that just began.
        let (start, wait) = next_boundary(1_700_000_010_004, period);
        assert_eq!(start, 1_700_000_010_000);
        assert_eq!(wait, Duration::from_millis(9_996));
    }

    #[test]
    fn an_idle_window_reports_no_latency() {
        let r = record(
            "N",
            &[],
            Percentiles {
                count: 0,
                arrivals: 0,
                errors: 0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
            },
            0,
        );
        assert_eq!(
            (r["RequestCount"].as_u64(), r["ArrivalCount"].as_u64()),
            (Some(0), Some(0))
        );
        assert!(r.get("LatencyP99").is_none());
        assert_eq!(
            r["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(),
            3,
            "the three counts, no latency"
        );
    }
}

//! A replica's `/metrics`, reduced to what the rules need, and how scrapes over a period
//! become the values CloudWatch would have reported.

use std::time::{Duration, Instant};

/// The workload routes whose latency counts (not health checks or scrapes).
const ROUTES: &[&str] = &["search", "product", "create"];

/// One scrape of one replica.
#[derive(Debug, Clone, PartialEq)]
pub struct Scrape {
    pub at: Instant,
    pub cpu_seconds: f64,
    pub requests: f64,
    /// Cumulative latency histogram of the workload routes: (upper bound in seconds, count).
    pub buckets: Vec<(f64, f64)>,
    pub rss_bytes: f64,
}

/// Parses the search service's exposition text.
pub fn parse(text: &str, at: Instant, rss_bytes: f64) -> Result<Scrape, String> {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .map_err(|e| format!("unreadable /metrics: {e}"))?;
    let mut cpu_seconds = None;
    let mut requests = 0.0;
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for s in &scrape.samples {
        let workload = s.labels.get("route").is_some_and(|r| ROUTES.contains(&r));
        match (s.metric.as_str(), &s.value) {
            (
                "process_cpu_seconds_total",
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v),
            ) => {
                cpu_seconds = Some(*v);
            }
            ("search_requests_total", prometheus_parse::Value::Counter(v)) if workload => requests += v,
            ("search_request_duration_seconds", prometheus_parse::Value::Histogram(h)) if workload => {
                for b in h {
                    match buckets.iter_mut().find(|(le, _)| *le == b.less_than) {
                        Some(slot) => slot.1 += b.count,
                        None => buckets.push((b.less_than, b.count)),
                    }
                }
            }
            _ => {}
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(Scrape {
        at,
        cpu_seconds: cpu_seconds.ok_or("no process_cpu_seconds_total in /metrics")?,
        requests,
        buckets,
        rss_bytes,
    })
}

/// What one replica did between two scrapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub requests: f64,
    pub buckets: Vec<(f64, f64)>,
    pub rss_bytes: f64,
}

/// The change over (about) the last `period`: from the newest scrape back to the oldest one
/// inside the period. None without two scrapes spanning at least half of it.
pub fn over(scrapes: &[Scrape], period: Duration) -> Option<Delta> {
    let last = scrapes.last()?;
    let first = scrapes.iter().find(|s| last.at.duration_since(s.at) <= period)?;
    let seconds = last.at.duration_since(first.at).as_secs_f64();
    if seconds < period.as_secs_f64() / 2.0 {
        return None;
    }
    let buckets = last
        .buckets
        .iter()
        .map(|(le, c)| {
            let before = first.buckets.iter().find(|(l, _)| l == le).map_or(0.0, |(_, c)| *c);
            (*le, (c - before).max(0.0))
        })
        .collect();
    Some(Delta {
        seconds,
        cpu_seconds: (last.cpu_seconds - first.cpu_seconds).max(0.0),
        requests: (last.requests - first.requests).max(0.0),
        buckets,
        rss_bytes: last.rss_bytes,
    })
}

/// The q-quantile (0..1) of merged cumulative buckets, interpolating inside the bucket as
/// Prometheus's histogram_quantile does. None without observations.
pub fn quantile(deltas: &[Delta], q: f64) -> Option<f64> {
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for d in deltas {
        for (le, c) in &d.buckets {
            match merged.iter_mut().find(|(l, _)| l == le) {
                Some(slot) => slot.1 += c,
                None => merged.push((*le, *c)),
            }
        }
    }
    merged.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = merged.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in &merged {
        if count >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let inside = count - prev.1;
            let fraction = if inside > 0.0 { (rank - prev.1) / inside } else { 1.0 };
            return Some(prev.0 + (le - prev.0) * fraction);
        }
        prev = (le, count);
    }
    Some(prev.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE search_requests_total counter\n\
search_requests_total{route=\"search\",status=\"200\"} 90\n\
search_requests_total{route=\"search\",status=\"400\"} 10\n\
search_requests_total{route=\"metrics\",status=\"200\"} 7\n\
# TYPE search_request_duration_seconds histogram\n\
search_request_duration_seconds_bucket{route=\"search\",le=\"0.001\"} 50\n\
search_request_duration_seconds_bucket{route=\"search\",le=\"0.01\"} 90\n\
search_request_duration_seconds_bucket{route=\"search\",le=\"+Inf\"} 100\n\
search_request_duration_seconds_sum{route=\"search\"} 0.5\n\
search_request_duration_seconds_count{route=\"search\"} 100\n\
search_request_duration_seconds_bucket{route=\"metrics\",le=\"0.001\"} 7\n\
search_request_duration_seconds_bucket{route=\"metrics\",le=\"0.01\"} 7\n\
search_request_duration_seconds_bucket{route=\"metrics\",le=\"+Inf\"} 7\n\
search_request_duration_seconds_sum{route=\"metrics\"} 0.001\n\
search_request_duration_seconds_count{route=\"metrics\"} 7\n\
# TYPE process_cpu_seconds_total counter\n\
process_cpu_seconds_total 2.5\n";

    #[test]
    fn reads_the_workload_series_only() {
        let s = parse(TEXT, Instant::now(), 1e6).unwrap();
        assert_eq!(s.cpu_seconds, 2.5);
        assert_eq!(s.requests, 100.0, "metrics scrapes are not workload");
        assert_eq!(s.buckets, vec![(0.001, 50.0), (0.01, 90.0), (f64::INFINITY, 100.0)]);
        assert!(parse("nonsense {{{", Instant::now(), 0.0).is_err());
    }

    #[test]
    fn deltas_and_quantiles_follow_prometheus() {
        let t = Instant::now();
        let a = Scrape {
            at: t,
            cpu_seconds: 1.0,
            requests: 0.0,
            buckets: vec![(0.001, 0.0), (0.01, 0.0), (f64::INFINITY, 0.0)],
            rss_bytes: 0.0,
        };
        let b = Scrape {
            at: t + Duration::from_secs(10),
            cpu_seconds: 6.0,
            requests: 100.0,
            buckets: vec![(0.001, 50.0), (0.01, 90.0), (f64::INFINITY, 100.0)],
            rss_bytes: 0.0,
        };
        let d = over(&[a.clone(), b.clone()], Duration::from_secs(10)).unwrap();
        assert_eq!((d.seconds, d.cpu_seconds, d.requests), (10.0, 5.0, 100.0));
        // p50 at the top of the first bucket; p70 halfway into the second
        assert!((quantile(std::slice::from_ref(&d), 0.5).unwrap() - 0.001).abs() < 1e-12);
        assert!((quantile(std::slice::from_ref(&d), 0.7).unwrap() - 0.0055).abs() < 1e-9);
        // p99 falls in +Inf: the last finite bound, as histogram_quantile answers
        assert_eq!(quantile(std::slice::from_ref(&d), 0.99), Some(0.01));
        assert!(over(&[b], Duration::from_secs(10)).is_none(), "one scrape is no rate");
        assert!(
            over(
                &[
                    a.clone(),
                    Scrape {
                        at: t + Duration::from_secs(2),
                        ..a
                    }
                ],
                Duration::from_secs(10)
            )
            .is_none()
        );
    }
}

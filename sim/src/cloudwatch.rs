//! Metric delivery as CloudWatch does it: datapoints per period, published after a delay.

use super::timeline::{Second, Timeline};
use autoscaler_core::policy::Measure;

/// A datapoint: the period's start (seconds into the run), its value, and the tasks behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    pub start: u64,
    pub value: f64,
    pub base: u32,
}

/// A number per series, for deciding which datapoints a fault removes.
pub fn series_id(measure: Measure) -> u64 {
    match measure {
        Measure::Cpu => 1,
        Measure::Memory => 2,
        Measure::RequestsPerTarget => 3,
        Measure::RequestRate => 4,
        Measure::ErrorRate => 7,
        Measure::Other => 5,
        Measure::QueueBacklog => 6,
        Measure::QueueArrivals => 0,
        Measure::Latency { quantile } => 8 + (quantile * 10_000.0) as u64,
    }
}

/// The newest datapoint visible at `now`: periods are aligned to the run's start, and a
/// period's datapoint appears `delay` seconds after the period ends. `missing(start)` says
/// that the period starting then has no datapoint (a gap in the series).
pub fn latest(
    seconds: &Timeline,
    measure: Measure,
    period: u64,
    delay: u64,
    now: u64,
    missing: impl Fn(u64) -> bool,
) -> Option<Datapoint> {
    let visible_end = now.checked_sub(delay)?;
    let mut end = visible_end / period * period;
    // Look back a few periods: a period with no data (no healthy task) yields no datapoint.
    for _ in 0..3 {
        let start = end.checked_sub(period)?;
        if !missing(start)
            && let Some(dp) = datapoint(seconds, measure, start, end)
        {
            return Some(dp);
        }
        end = start;
    }
    None
}

/// The `n` newest datapoints of `period` seconds a CloudWatch alarm evaluates at `now`,
/// newest first. With `partial`, the period in progress counts with the data published so
/// far (as the one-minute alarms were observed to do); otherwise only whole periods count.
/// `None` unless all `n` have data.
pub fn alarm_datapoints(
    seconds: &Timeline,
    measure: Measure,
    alarm: Alarm,
    now: u64,
    n: usize,
    missing: impl Fn(u64) -> bool,
) -> Option<Vec<Datapoint>> {
    let Alarm { period, delay, partial } = alarm;
    let visible_end = now.checked_sub(delay)?;
    let newest = if partial {
        visible_end / period * period
    } else {
        (visible_end / period * period).checked_sub(period)?
    };
    (0..n as u64)
        .map(|i| {
            let start = newest.checked_sub(i * period)?;
            if missing(start) {
                return None;
            }
            datapoint(seconds, measure, start, (start + period).min(visible_end))
        })
        .collect()
}

/// How an alarm sees its metric: the period, the publication delay, and whether the
/// period in progress counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alarm {
    pub period: u64,
    pub delay: u64,
    pub partial: bool,
}

/// The datapoint of the seconds in `start..end`, if any of them has data.
fn datapoint(seconds: &Timeline, measure: Measure, start: u64, end: u64) -> Option<Datapoint> {
    let slice = seconds.range(start, end)?;
    // An empty slice aggregates to None, so `base` never divides by zero.
    let mut value = aggregate(slice, measure)?;
    let base = (slice.iter().map(|s| f64::from(s.healthy)).sum::<f64>() / slice.len() as f64).round() as u32;
    if measure == Measure::RequestRate {
        // The period's arrivals over the tasks it reports: value × base is what arrived,
        // also in a period in which tasks joined (a mean of per-second per-task rates
        // times a rounded mean count read up to a fifth more there, and a scale-out
        // sized on it overshot).
        value /= f64::from(base.max(1));
    }
    Some(Datapoint { start, value, base })
}

fn aggregate(slice: &[Second], measure: Measure) -> Option<f64> {
    // Requests arriving per target and second: what the load balancer routes to each
    // target, answered or not (a saturated service's own answers would hide the demand).
    let arriving = || {
        slice
            .iter()
            .filter(|s| s.targets > 0)
            .map(|s| s.offered / f64::from(s.targets))
    };
    match measure {
        Measure::Cpu => mean(slice.iter().filter_map(|s| s.cpu)),
        Measure::Memory => mean(slice.iter().filter_map(|s| s.memory)),
        Measure::RequestsPerTarget => {
            let per_target: Vec<f64> = arriving().collect();
            (!per_target.is_empty()).then(|| per_target.iter().sum())
        }
        // Per task of the datapoint's `base` (see `datapoint`).
        Measure::RequestRate => mean(slice.iter().filter(|s| s.targets > 0).map(|s| s.offered)),
        // The service's own count: what its tasks in service failed, per task.
        Measure::ErrorRate => mean(
            slice
                .iter()
                .filter(|s| s.healthy > 0)
                .map(|s| s.failed_in_service / f64::from(s.healthy)),
        ),
        Measure::Latency { quantile } => mixture_quantile(slice, quantile),
        // ApproximateNumberOfMessagesVisible: the whole queue's, averaged over the period.
        Measure::QueueBacklog => mean(slice.iter().map(|s| s.backlog)),
        // NumberOfMessagesSent summed over the period, read per second.
        Measure::QueueArrivals => mean(slice.iter().map(|s| s.offered)),
        Measure::Other => None,
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// The q-quantile of all requests answered in `slice`: each second is a shifted exponential
/// weighted by the requests it answered; bisect P(L > x) = 1 - q.
pub fn mixture_quantile(slice: &[Second], q: f64) -> Option<f64> {
    let total: f64 = slice.iter().map(|s| s.served).sum();
    if total <= 0.0 {
        return None;
    }
    let tail = |x: f64| -> f64 {
        slice
            .iter()
            .filter(|s| s.served > 0.0)
            .map(|s| {
                let over = x - s.latency_shift;
                let p = if over <= 0.0 {
                    1.0
                } else {
                    (-over / s.latency_mean).exp()
                };
                p * s.served / total
            })
            .sum()
    };
    let (mut lo, mut hi) = (
        0.0,
        slice
            .iter()
            .map(|s| s.latency_quantile(q.max(0.999)))
            .fold(0.0, f64::max),
    );
    let goal = 1.0 - q;
    for _ in 0..50 {
        let mid = (lo + hi) / 2.0;
        if tail(mid) > goal {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(offered: f64, tasks: u32) -> Second {
        Second {
            offered,
            healthy: tasks,
            targets: tasks,
            ..Second::default()
        }
    }

    #[test]
    fn a_request_rate_datapoint_times_its_base_is_what_arrived_even_while_tasks_join() {
        // 12,000 requests/s throughout; 2 tasks for 4 s, then 6 (a scale-out landing).
        let mut t = Timeline::whole(10);
        for k in 0..10 {
            t.push(second(12_000.0, if k < 4 { 2 } else { 6 }));
        }
        let d = datapoint(&t, Measure::RequestRate, 0, 10).unwrap();
        assert_eq!(d.base, 4, "the mean count, 4.4, rounded");
        let total = d.value * f64::from(d.base);
        assert!((total - 12_000.0).abs() < 1e-6, "read {total} requests/s of 12,000");
    }
}

//! Metric delivery as CloudWatch does it: datapoints per period, published after a delay.

use super::world::Second;
use crate::policy::{Metric, Rule, Statistic};

/// A datapoint: the period's start (seconds into the run), its value, and the tasks behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    pub start: u64,
    pub value: f64,
    pub base: u32,
}

/// What a metric query can read from the recorded seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    Cpu,
    Memory,
    RequestsPerTarget,
    /// Latency quantile (0..1); values in seconds.
    Latency(f64),
}

impl Signal {
    /// The signal behind a rule's metric, when the simulator models it.
    pub fn of(rule: &Rule) -> Result<Signal, String> {
        let latency_q = match rule.goal {
            crate::policy::Goal::LatencyGuard { .. } => Some(match rule.statistic {
                Statistic::Percentile(p) => p / 100.0,
                _ => percentile_from_name(&rule.metric).unwrap_or(0.99),
            }),
            _ => None,
        };
        match (&rule.metric, latency_q) {
            (Metric::EcsCpu, _) => Ok(Signal::Cpu),
            (Metric::EcsMemory, _) => Ok(Signal::Memory),
            (Metric::AlbRequestsPerTarget, _) => Ok(Signal::RequestsPerTarget),
            (Metric::AlbResponseTime | Metric::Custom { .. }, Some(q)) => Ok(Signal::Latency(q)),
            (Metric::AlbResponseTime, None) => Ok(Signal::Latency(0.5)),
            (Metric::Custom { namespace, name, .. }, None) => {
                Err(format!("the simulator does not model custom metric {namespace}/{name}"))
            }
        }
    }
}

/// "LatencyP90" → 0.90: a custom latency metric names the percentile it carries.
fn percentile_from_name(metric: &Metric) -> Option<f64> {
    let Metric::Custom { name, .. } = metric else {
        return None;
    };
    let digits: String = name
        .rsplit(['P', 'p'])
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let p: f64 = digits.parse().ok()?;
    (p > 0.0 && p < 100.0).then_some(p / 100.0)
}

/// The newest datapoint visible at `now`: periods are aligned to the run's start, and a
/// period's datapoint appears `delay` seconds after the period ends.
pub fn latest(seconds: &[Second], signal: Signal, period: u64, delay: u64, now: u64) -> Option<Datapoint> {
    let visible_end = now.checked_sub(delay)?;
    let mut end = visible_end / period * period;
    // Look back a few periods: a period with no data (no healthy task) yields no datapoint.
    for _ in 0..3 {
        let start = end.checked_sub(period)?;
        if let Some(dp) = datapoint(seconds, signal, start, end) {
            return Some(dp);
        }
        end = start;
    }
    None
}

/// The `n` newest 1-minute datapoints a CloudWatch alarm evaluates at `now`, newest first.
/// Unlike a `GetMetricData` reader that waits for whole periods, an alarm counts the minute
/// in progress with the data published so far. `None` unless all `n` have data.
pub fn alarm_datapoints(seconds: &[Second], signal: Signal, delay: u64, now: u64, n: usize) -> Option<Vec<Datapoint>> {
    let visible_end = now.checked_sub(delay)?;
    let newest = visible_end / 60 * 60;
    (0..n as u64)
        .map(|i| {
            let start = newest.checked_sub(i * 60)?;
            datapoint(seconds, signal, start, (start + 60).min(visible_end))
        })
        .collect()
}

/// The datapoint of the seconds in `start..end`, if any of them has data.
fn datapoint(seconds: &[Second], signal: Signal, start: u64, end: u64) -> Option<Datapoint> {
    let slice = seconds.get(start as usize..(end as usize).min(seconds.len()))?;
    // An empty slice aggregates to None, so `base` never divides by zero.
    let value = aggregate(slice, signal)?;
    let base = (slice.iter().map(|s| f64::from(s.healthy)).sum::<f64>() / slice.len() as f64).round() as u32;
    Some(Datapoint { start, value, base })
}

fn aggregate(slice: &[Second], signal: Signal) -> Option<f64> {
    match signal {
        Signal::Cpu => mean(slice.iter().filter_map(|s| s.cpu)),
        Signal::Memory => mean(slice.iter().filter_map(|s| s.memory)),
        Signal::RequestsPerTarget => {
            let per_target: Vec<f64> = slice
                .iter()
                .filter(|s| s.healthy > 0)
                .map(|s| s.served / f64::from(s.healthy))
                .collect();
            (!per_target.is_empty()).then(|| per_target.iter().sum())
        }
        Signal::Latency(q) => mixture_quantile(slice, q),
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

//! A rule for a service that works an SQS queue: the messages waiting per running task
//! against the backlog a task may hold, given as `target` or derived from how long a
//! message may wait and how fast a task processes them (AWS's "backlog per task").

use super::common::{Common, tolerance};
use super::tracking::number;
use crate::policy::checker::Checker;
use crate::policy::file::RuleFile;
use crate::policy::model::{Goal, Math, Measure, Metric, Operand, Rule, Statistic};

/// The CloudWatch namespace and metric an SQS queue's backlog is read from.
pub const NAMESPACE: &str = "AWS/SQS";
pub const METRIC: &str = "ApproximateNumberOfMessagesVisible";
/// Messages sent to the queue, summed per period.
pub const ARRIVALS: &str = "NumberOfMessagesSent";

pub fn rule(c: &mut Checker, r: &RuleFile, common: Common) -> Option<Rule> {
    let name = &common.name;
    let queue = match &r.queue {
        Some(q) if valid_queue_name(q.get()) => Some(q.get().clone()),
        Some(q) => {
            c.error(
                q.span(),
                format!(
                    "queue \"{}\" is not an SQS queue name: 1 to 80 letters, digits, - and _, with .fifo at the end of a FIFO queue",
                    q.get()
                ),
            );
            None
        }
        None => {
            c.error(
                r.name.span(),
                format!("rule \"{name}\" reads an SQS queue and needs `queue`"),
            );
            None
        }
    };
    let target = target(c, r, name);
    let tolerance = tolerance(c, r);
    let (target, wait) = target?;
    let queue = queue?;
    let series = |metric: &str, scale: f64| Metric::Custom {
        namespace: NAMESPACE.into(),
        name: metric.into(),
        dimensions: [("QueueName".to_string(), queue.clone())].into(),
        scale,
    };
    let statistic = common.statistic.unwrap_or(Statistic::Average);
    // With the acceptable wait known, the messages arriving within it count as well: a
    // fleet that keeps up has next to no backlog, and is sized by its arrivals.
    let (operands, math) = match wait {
        None => (Vec::new(), None),
        Some(wait) => (
            vec![
                Operand {
                    name: "visible".into(),
                    key: Rule::read_key(&common.name, "visible"),
                    metric: series(METRIC, 1.0),
                    statistic,
                    measures: Measure::QueueBacklog,
                },
                Operand {
                    name: "sent".into(),
                    key: Rule::read_key(&common.name, "sent"),
                    metric: series(ARRIVALS, 1.0 / common.period.as_secs_f64().max(1.0)),
                    statistic: Statistic::Sum,
                    measures: Measure::QueueArrivals,
                },
            ],
            Some(Math::QueueWork { wait }),
        ),
    };
    Some(Rule {
        name: common.name,
        metric: series(METRIC, 1.0),
        statistic,
        period: common.period,
        max_age: common.max_age,
        goal: Goal::Track { target, tolerance },
        measures: Measure::QueueBacklog,
        learn: None,
        operands,
        math,
    })
}

/// Messages per task: `target`, or `acceptable_latency` × `processing_rate` (with the wait
/// in seconds); one way only.
fn target(c: &mut Checker, r: &RuleFile, name: &str) -> Option<(f64, Option<f64>)> {
    let latency = r
        .acceptable_latency
        .as_ref()
        .and_then(|l| c.duration(l, "acceptable_latency").map(|d| (l, d)));
    let rate = r.processing_rate.as_ref().map(|p| (p, *p.get()));
    if let Some((p, v)) = rate
        && !(v.is_finite() && v > 0.0)
    {
        c.error(
            p.span(),
            format!("processing_rate is messages per second per task and must be above zero, found {v}"),
        );
        return None;
    }
    match (&r.target, latency, rate) {
        (Some(t), None, None) => number(c, t).map(|t| (t, None)),
        (Some(t), _, _) => {
            c.error(
                t.span(),
                "give `target` (messages per task) or `acceptable_latency` with `processing_rate`, not both",
            );
            None
        }
        (None, Some((_, d)), Some((_, v))) if !d.is_zero() => Some((d.as_secs_f64() * v, Some(d.as_secs_f64()))),
        (None, Some((l, _)), Some(_)) => {
            c.error(l.span(), "acceptable_latency must be greater than zero");
            None
        }
        (None, Some((l, _)), None) => {
            c.error(
                l.span(),
                "acceptable_latency needs `processing_rate` (messages per second per task) beside it",
            );
            None
        }
        (None, None, Some((p, _))) => {
            c.error(p.span(), "processing_rate needs `acceptable_latency` beside it");
            None
        }
        (None, None, None) => {
            // A bad duration was reported where it is; say only what is missing.
            if r.acceptable_latency.is_none() {
                c.error(
                    r.name.span(),
                    format!(
                        "rule \"{name}\" needs `target` (messages per task), or `acceptable_latency` and `processing_rate`"
                    ),
                );
            }
            None
        }
    }
}

/// SQS's rule for queue names.
fn valid_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=80).contains(&name.len())
        && !base.is_empty()
        && base
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

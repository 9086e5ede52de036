//! A rule that tracks a target (CPU, memory, requests per target, request rate, a custom
//! metric) or guards a failure rate.

use super::common::{Common, custom_metric, required_target, tolerance};
use crate::policy::checker::Checker;
use crate::policy::file::{Located, MetricKind, RuleFile, TargetValue};
use crate::policy::model::{Goal, Measure, Metric, Rule, Statistic};

pub fn rule(c: &mut Checker, r: &RuleFile, common: Common) -> Option<Rule> {
    let kind = common.kind;
    let raw = required_target(c, r, &common.name);
    let target = raw.and_then(|raw| number(c, raw));
    if matches!(kind, MetricKind::EcsCpu | MetricKind::EcsMemory)
        && let (Some(t), Some(raw)) = (target, raw)
        && t > 100.0
    {
        c.error(
            raw.span(),
            format!("a utilization target is a percentage, found {t}: write one of 1 to 100, e.g. target = 70"),
        );
    }
    let tolerance = tolerance(c, r);
    // A count per period and task, read as a rate: the target is per second.
    let per_second = 1.0 / common.count_window.as_secs_f64().max(1.0);
    let (metric, default_stat, measures) = match kind {
        MetricKind::EcsCpu => (Some(Metric::EcsCpu), Statistic::Average, Measure::Cpu),
        MetricKind::EcsMemory => (Some(Metric::EcsMemory), Statistic::Average, Measure::Memory),
        MetricKind::AlbRequestsPerTarget => (
            Some(Metric::AlbRequestsPerTarget),
            Statistic::Sum,
            Measure::RequestsPerTarget,
        ),
        MetricKind::RequestRate => (
            custom_metric(c, r, &common.name, per_second),
            Statistic::Average,
            Measure::RequestRate,
        ),
        MetricKind::ErrorRate => (
            custom_metric(c, r, &common.name, per_second),
            Statistic::Average,
            Measure::ErrorRate,
        ),
        _ if r.expression.is_some() || !r.metrics.is_empty() => {
            let (operands, parsed) = super::math::expression(c, r, &common.name, common.period)?;
            return Some(Rule {
                name: common.name,
                metric: operands.first()?.metric.clone(),
                statistic: operands.first()?.statistic,
                period: common.period,
                max_age: common.max_age,
                goal: Goal::Track {
                    target: target?,
                    tolerance,
                },
                measures: Measure::Other,
                learn: common.learn,
                operands,
                math: Some(parsed),
            });
        }
        _ => (
            custom_metric(c, r, &common.name, 1.0),
            Statistic::Average,
            Measure::Other,
        ),
    };
    Some(Rule {
        name: common.name,
        metric: metric?,
        statistic: common.statistic.unwrap_or(default_stat),
        period: common.period,
        max_age: common.max_age,
        goal: if kind == MetricKind::ErrorRate {
            Goal::ErrorGuard { target: target? }
        } else {
            Goal::Track {
                target: target?,
                tolerance,
            }
        },
        measures,
        learn: common.learn,
        operands: Vec::new(),
        math: None,
    })
}

/// A target that is a number above zero.
pub fn number(c: &mut Checker, raw: &Located<TargetValue>) -> Option<f64> {
    match raw.get() {
        TargetValue::Number(n) if n.is_finite() && *n > 0.0 => Some(*n),
        TargetValue::Number(n) => {
            c.error(raw.span(), format!("target must be greater than zero, found {n}"));
            None
        }
        TargetValue::Text(t) => {
            c.error(raw.span(), format!("target must be a number, found \"{t}\""));
            None
        }
    }
}

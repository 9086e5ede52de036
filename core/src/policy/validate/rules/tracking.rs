//! A rule that tracks a target (CPU, memory, requests per target, request rate, a custom
//! metric) or guards a failure rate.

use super::common::{Common, custom_metric};
use crate::policy::checker::Checker;
use crate::policy::file::{MetricKind, RuleFile, TargetValue};
use crate::policy::model::{Goal, Measure, Metric, Rule, Statistic};
use crate::policy::validate::limits::*;

pub fn rule(c: &mut Checker, r: &RuleFile, common: Common) -> Option<Rule> {
    let kind = common.kind;
    let target = match r.target.get() {
        TargetValue::Number(n) if n.is_finite() && *n > 0.0 => Some(*n),
        TargetValue::Number(n) => {
            c.error(r.target.span(), format!("target must be greater than zero, found {n}"));
            None
        }
        TargetValue::Text(t) => {
            c.error(r.target.span(), format!("target must be a number, found \"{t}\""));
            None
        }
    };
    if matches!(kind, MetricKind::EcsCpu | MetricKind::EcsMemory)
        && let Some(t) = target
        && t > 100.0
    {
        c.error(
            r.target.span(),
            format!("a utilization target is a percentage, found {t}: write one of 1 to 100, e.g. target = 70"),
        );
    }
    let tolerance = r.tolerance.as_ref().map_or(DEFAULT_TOLERANCE, |t| *t.get());
    if let Some(t) = &r.tolerance
        && !(*t.get() >= 0.0 && *t.get() < 1.0)
    {
        c.error(t.span(), format!("tolerance must be in [0, 1), found {}", t.get()));
    }
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
    })
}

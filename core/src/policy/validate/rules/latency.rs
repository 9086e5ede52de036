//! A latency rule: an SLO guard on a response-time percentile, from the ALB or a custom metric.

use super::common::percentile;
use super::common::{Common, custom_metric};
use crate::policy::checker::Checker;
use crate::policy::duration;
use crate::policy::file::{LatencySource, RuleFile, TargetValue, UnitFile};
use crate::policy::model::{Goal, Measure, Metric, Rule, Statistic};
use crate::policy::validate::limits::*;

pub fn rule(c: &mut Checker, r: &RuleFile, common: Common) -> Option<Rule> {
    if let Some(t) = &r.tolerance {
        c.error(
            t.span(),
            "`tolerance` applies to utilization rules; latency rules use scale_in_headroom",
        );
    }
    let target = target(c, r, &common.name);
    let headroom = r.scale_in_headroom.as_ref().map_or(DEFAULT_HEADROOM, |h| *h.get());
    if let Some(h) = &r.scale_in_headroom
        && !(*h.get() > 0.0 && *h.get() <= 1.0)
    {
        c.error(
            h.span(),
            format!("scale_in_headroom must be in (0, 1], found {}", h.get()),
        );
    }
    let max_factor = r.max_scale_out_factor.as_ref().map_or(DEFAULT_MAX_FACTOR, |f| *f.get());
    if let Some(f) = &r.max_scale_out_factor
        && !(*f.get() > 1.0 && *f.get() <= 100.0)
    {
        c.error(
            f.span(),
            format!("max_scale_out_factor must be in (1, 100], found {}", f.get()),
        );
    }
    let pct = guarded_percentile(c, r, common.statistic);
    let (metric, statistic) = source(c, r, &common, pct);
    Some(Rule {
        name: common.name,
        metric: metric?,
        statistic,
        period: common.period,
        max_age: common.max_age,
        goal: Goal::LatencyGuard {
            target: target?,
            scale_in_headroom: headroom,
            max_factor,
        },
        measures: Measure::Latency { quantile: pct / 100.0 },
        learn: None,
        operands: Vec::new(),
        math: None,
    })
}

/// The SLO in seconds: a duration, never a bare number.
fn target(c: &mut Checker, r: &RuleFile, name: &str) -> Option<f64> {
    let raw = super::common::required_target(c, r, name)?;
    match raw.get() {
        TargetValue::Text(t) => match duration::parse(t) {
            Ok(d) if !d.is_zero() => Some(d.as_secs_f64()),
            Ok(_) => {
                c.error(raw.span(), "latency target must be greater than zero");
                None
            }
            Err(e) => {
                c.error(raw.span(), format!("latency target: {e}"));
                None
            }
        },
        TargetValue::Number(n) => {
            c.error(
                raw.span(),
                format!("latency target must be a duration such as \"{n}ms\", not a bare number"),
            );
            None
        }
    }
}

/// The percentile the rule guards: `percentile`, else a custom metric's percentile
/// statistic, else p99.
fn guarded_percentile(c: &mut Checker, r: &RuleFile, statistic: Option<Statistic>) -> f64 {
    match &r.percentile {
        Some(p) => match percentile(p.get()) {
            Some(v) => v,
            None => {
                c.error(
                    p.span(),
                    format!("percentile \"{}\" must look like p50, p90 or p99", p.get()),
                );
                99.0
            }
        },
        None => match statistic {
            Some(Statistic::Percentile(p)) => p,
            _ => 99.0,
        },
    }
}

/// Where the latency is read: ALB TargetResponseTime, or a custom metric in its unit.
fn source(c: &mut Checker, r: &RuleFile, common: &Common, pct: f64) -> (Option<Metric>, Statistic) {
    let source = r.source.as_ref().map_or(LatencySource::Alb, |s| *s.get());
    let read = match source {
        LatencySource::Alb => {
            if let Some(s) = &r.statistic {
                c.error(
                    s.span(),
                    "an ALB latency rule's statistic is its `percentile`; remove `statistic`",
                );
            }
            (Some(Metric::AlbResponseTime), Statistic::Percentile(pct))
        }
        LatencySource::Custom => {
            if let (Some(p), Some(Statistic::Percentile(stat))) = (&r.percentile, common.statistic)
                && (stat - pct).abs() > f64::EPSILON
            {
                c.error(
                    p.span(),
                    format!(
                        "percentile \"{}\" disagrees with statistic p{stat}: a custom latency rule guards the percentile its statistic reads; keep one of the two",
                        p.get()
                    ),
                );
            }
            let scale = match r.unit.as_ref().map_or(UnitFile::Milliseconds, |u| *u.get()) {
                UnitFile::Seconds => 1.0,
                UnitFile::Milliseconds => 1e-3,
                UnitFile::Microseconds => 1e-6,
            };
            (
                custom_metric(c, r, &common.name, scale),
                common.statistic.unwrap_or(Statistic::Maximum),
            )
        }
    };
    if source == LatencySource::Alb
        && let Some(u) = &r.unit
    {
        c.error(
            u.span(),
            "`unit` applies to custom latency metrics; ALB TargetResponseTime is in seconds",
        );
    }
    read
}

//! What every kind of rule shares once it has been checked, and the readers the kinds
//! have in common.

use std::time::Duration;

use crate::policy::checker::Checker;
use crate::policy::file::{Located, MetricKind, RuleFile, TargetValue};
use crate::policy::model::{Learn, Metric, Statistic};

/// What every kind of rule shares, checked once.
pub struct Common {
    pub name: String,
    pub kind: MetricKind,
    pub period: Duration,
    pub max_age: Duration,
    pub statistic: Option<Statistic>,
    pub count_window: Duration,
    pub learn: Option<Learn>,
}

/// "p99" → 99.0, "p99.9" → 99.9.
pub fn percentile(text: &str) -> Option<f64> {
    let p: f64 = text.trim().strip_prefix(['p', 'P'])?.parse().ok()?;
    (p > 0.0 && p < 100.0).then_some(p)
}

/// The CloudWatch metric of a rule that reads a custom one; `scale` turns its unit into the rule's.
pub fn custom_metric(c: &mut Checker, r: &RuleFile, name: &str, scale: f64) -> Option<Metric> {
    let mut field = |v: &Option<Located<String>>, key: &str| -> Option<String> {
        match v {
            Some(v) if !v.get().trim().is_empty() => Some(v.get().trim().to_string()),
            _ => {
                c.error(
                    r.name.span(),
                    format!("rule \"{name}\" reads a custom metric and needs `{key}`"),
                );
                None
            }
        }
    };
    let namespace = field(&r.namespace, "namespace");
    let metric_name = field(&r.metric_name, "metric_name");
    Some(Metric::Custom {
        namespace: namespace?,
        name: metric_name?,
        dimensions: r.dimensions.clone(),
        scale,
    })
}

/// The rule's `target`, or an error at its name saying that it needs one.
pub fn required_target<'r>(c: &mut Checker, r: &'r RuleFile, name: &str) -> Option<&'r Located<TargetValue>> {
    if r.target.is_none() {
        c.error(r.name.span(), format!("rule \"{name}\" needs `target`"));
    }
    r.target.as_ref()
}

/// A tracking rule's `tolerance`, checked.
pub fn tolerance(c: &mut Checker, r: &RuleFile) -> f64 {
    if let Some(t) = &r.tolerance
        && !(*t.get() >= 0.0 && *t.get() < 1.0)
    {
        c.error(t.span(), format!("tolerance must be in [0, 1), found {}", t.get()));
    }
    r.tolerance
        .as_ref()
        .map_or(crate::policy::validate::limits::DEFAULT_TOLERANCE, |t| *t.get())
}

/// A statistic as written: average, sum, maximum, minimum, sample_count or pNN.
pub fn statistic(c: &mut Checker, raw: &Located<String>) -> Option<Statistic> {
    let text = raw.get().trim().to_ascii_lowercase();
    let stat = match text.as_str() {
        "average" | "avg" => Statistic::Average,
        "sum" => Statistic::Sum,
        "maximum" | "max" => Statistic::Maximum,
        "minimum" | "min" => Statistic::Minimum,
        "sample_count" | "samplecount" => Statistic::SampleCount,
        other => match percentile(other) {
            Some(p) => Statistic::Percentile(p),
            None => {
                c.error(
                    raw.span(),
                    format!("unknown statistic \"{}\": use average, sum, maximum, minimum, sample_count or a percentile like p99", raw.get()),
                );
                return None;
            }
        },
    };
    Some(stat)
}

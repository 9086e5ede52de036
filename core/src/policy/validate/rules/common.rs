//! What every kind of rule shares once it has been checked, and the readers the kinds
//! have in common.

use std::time::Duration;

use crate::policy::checker::Checker;
use crate::policy::file::{Located, MetricKind, RuleFile};
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

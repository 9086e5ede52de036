//! A custom rule's metric math: the metrics its `expression` names, and the expression.

use std::time::Duration;

use crate::policy::checker::Checker;
use crate::policy::expression;
use crate::policy::file::RuleFile;
use crate::policy::model::{Math, Measure, Metric, Operand, Rule, Statistic};

/// Operands a rule may name at most (GetMetricData queries per rule).
pub const MAX_OPERANDS: usize = 10;

/// The operands and the parsed expression of a custom rule with `expression`.
pub fn expression(c: &mut Checker, r: &RuleFile, name: &str, period: Duration) -> Option<(Vec<Operand>, Math)> {
    let Some(text) = &r.expression else {
        c.error(
            r.name.span(),
            format!("rule \"{name}\": `metrics` needs `expression`, the math over them"),
        );
        return None;
    };
    for (present, key) in [
        (r.namespace.is_some(), "namespace"),
        (r.metric_name.is_some(), "metric_name"),
    ] {
        if present {
            c.error(
                r.name.span(),
                format!("rule \"{name}\": with `expression` each metric is under `metrics`; `{key}` has no place here"),
            );
        }
    }
    if r.metrics.is_empty() {
        c.error(
            text.span(),
            "`expression` needs `metrics`: each name it uses, with its namespace and metric_name",
        );
        return None;
    }
    if r.metrics.len() > MAX_OPERANDS {
        c.error(
            r.name.span(),
            format!(
                "rule \"{name}\" names {} metrics; at most {MAX_OPERANDS}",
                r.metrics.len()
            ),
        );
    }
    let mut operands = Vec::new();
    for (op, m) in &r.metrics {
        if !valid_name(op) {
            c.error(
                r.name.span(),
                format!("metric name \"{op}\" in rule \"{name}\": a letter, then letters, digits and _"),
            );
            continue;
        }
        let statistic = match &m.statistic {
            Some(s) => super::common::statistic(c, s)?,
            None => Statistic::Average,
        };
        let (namespace, metric_name) = (m.namespace.get().trim(), m.metric_name.get().trim());
        if namespace.is_empty() || metric_name.is_empty() {
            c.error(
                m.namespace.span(),
                format!("metric \"{op}\" needs a namespace and a metric_name"),
            );
            continue;
        }
        let measures = Measure::of_cloudwatch(namespace, metric_name, statistic);
        // An SQS arrival count summed per period is read per second, as the simulator makes it.
        let scale = if measures == Measure::QueueArrivals {
            1.0 / period.as_secs_f64().max(1.0)
        } else {
            1.0
        };
        operands.push(Operand {
            name: op.clone(),
            key: Rule::read_key(name, op),
            metric: Metric::Custom {
                namespace: namespace.to_string(),
                name: metric_name.to_string(),
                dimensions: m.dimensions.clone(),
                scale,
            },
            statistic,
            measures,
        });
    }
    let names: Vec<&str> = operands.iter().map(|o| o.name.as_str()).collect();
    let parsed = match expression::parse(text.get(), &names) {
        Ok(e) => e,
        Err(e) => {
            // The span covers the quoted string: the offset counts from after the quote.
            let start = text.span().start + 1 + e.at;
            c.error(start..start + 1, format!("expression: {}", e.message));
            return None;
        }
    };
    (operands.len() == r.metrics.len()).then_some((
        operands,
        Math::Expression {
            text: text.get().clone(),
            parsed,
        },
    ))
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

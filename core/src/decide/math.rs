//! A rule's sample from what was read for it: its own datapoint, or its operands' combined
//! by its metric math. Pure, so the daemon, the simulator and the tests compute one value.

use std::collections::BTreeMap;

use super::types::{MissingCause, Reading, Sample};
use crate::policy::expression;
use crate::policy::{Math, Rule};

/// The sample `rule` is judged on, from an observation's samples by key. An operand without
/// a datapoint makes the rule's missing, naming it; the combined reading is as old as its
/// oldest operand.
pub fn sample(rule: &Rule, metrics: &BTreeMap<String, Sample>) -> Option<Sample> {
    let Some(math) = &rule.math else {
        return metrics.get(&rule.name).cloned();
    };
    let mut readings: BTreeMap<&str, Reading> = BTreeMap::new();
    for o in &rule.operands {
        match metrics.get(&o.key)? {
            Sample::Missing { cause, reason } => {
                return Some(Sample::missing(*cause, format!("{}: {reason}", o.name)));
            }
            Sample::Value(r) => {
                readings.insert(&o.name, *r);
            }
        }
    }
    let at = readings.values().map(|r| r.at).min()?;
    let base = readings.values().find_map(|r| r.base);
    let values: BTreeMap<&str, f64> = readings.iter().map(|(k, r)| (*k, r.value)).collect();
    let value = match math {
        Math::Expression { parsed, .. } => expression::eval(parsed, &values)?,
        Math::QueueWork { wait } => values.get("visible")? + values.get("sent")? * wait,
    };
    if !value.is_finite() {
        let shown: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let text = match math {
            Math::Expression { text, .. } => text.as_str(),
            Math::QueueWork { .. } => "visible + sent × wait",
        };
        return Some(Sample::missing(
            MissingCause::NotPublished,
            format!("{text} has no value with {}", shown.join(", ")),
        ));
    }
    Some(Sample::Value(Reading { value, at, base }))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::{TimeZone, Utc};

    use super::*;

    fn rule(text: &str) -> Rule {
        let policy =
            format!("min = 1\nmax = 10\n[target]\nbackend = \"aws\"\ncluster = \"c\"\nservice = \"s\"\n{text}");
        crate::policy::parse(Path::new("p.toml"), &policy)
            .unwrap_or_else(|e| panic!("{e}"))
            .rules
            .remove(0)
    }

    fn value(v: f64, minute: u32) -> Sample {
        Sample::Value(Reading {
            value: v,
            at: Utc.with_ymd_and_hms(2026, 12, 3, 10, minute, 0).unwrap(),
            base: None,
        })
    }

    const ERROR_SHARE: &str = "[[rule]]\nname = \"errors\"\nmetric = \"custom\"\ntarget = 1\nexpression = \"failed / total * 100\"\n\
        [rule.metrics.failed]\nnamespace = \"App\"\nmetric_name = \"Failed\"\nstatistic = \"sum\"\n\
        [rule.metrics.total]\nnamespace = \"App\"\nmetric_name = \"Requests\"\nstatistic = \"sum\"\n";

    #[test]
    fn an_expression_combines_its_operands_as_old_as_the_oldest() {
        let r = rule(ERROR_SHARE);
        let keys: Vec<&str> = r.reads().iter().map(|x| x.key).collect();
        assert_eq!(keys, ["errors.failed", "errors.total"]);
        let metrics = [
            ("errors.failed".to_string(), value(5.0, 3)),
            ("errors.total".to_string(), value(200.0, 2)),
        ]
        .into();
        match sample(&r, &metrics) {
            Some(Sample::Value(reading)) => {
                assert_eq!(reading.value, 2.5);
                assert_eq!(reading.at, Utc.with_ymd_and_hms(2026, 12, 3, 10, 2, 0).unwrap());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_operand_or_a_division_by_zero_is_missing_and_says_which() {
        let r = rule(ERROR_SHARE);
        let metrics = [
            ("errors.failed".to_string(), value(5.0, 3)),
            (
                "errors.total".to_string(),
                Sample::missing(MissingCause::ReadFailed, "throttled"),
            ),
        ]
        .into();
        assert_eq!(
            sample(&r, &metrics),
            Some(Sample::missing(MissingCause::ReadFailed, "total: throttled"))
        );
        let metrics = [
            ("errors.failed".to_string(), value(0.0, 3)),
            ("errors.total".to_string(), value(0.0, 3)),
        ]
        .into();
        let Some(Sample::Missing { reason, .. }) = sample(&r, &metrics) else {
            panic!("0 / 0 has no value");
        };
        assert!(
            reason.contains("failed / total * 100 has no value with failed = 0, total = 0"),
            "{reason}"
        );
        assert_eq!(sample(&r, &BTreeMap::new()), None, "nothing read: no data");
    }

    #[test]
    fn a_queue_rule_with_an_acceptable_wait_counts_what_arrives_within_it() {
        let r = rule(
            "[[rule]]\nname = \"backlog\"\nmetric = \"queue_backlog\"\nqueue = \"orders\"\nacceptable_latency = \"2m\"\nprocessing_rate = 20\n",
        );
        assert_eq!(r.goal.target(), 2400.0);
        let metrics = [
            ("backlog.visible".to_string(), value(600.0, 1)),
            ("backlog.sent".to_string(), value(100.0, 1)),
        ]
        .into();
        let Some(Sample::Value(reading)) = sample(&r, &metrics) else {
            panic!()
        };
        assert_eq!(reading.value, 600.0 + 100.0 * 120.0);
        let plain =
            rule("[[rule]]\nname = \"backlog\"\nmetric = \"queue_backlog\"\nqueue = \"orders\"\ntarget = 500\n");
        assert!(plain.math.is_none() && plain.reads().len() == 1);
    }
}

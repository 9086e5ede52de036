//! `[[rule]]`s: each rule checked on its own (the keys every kind shares here, then its
//! kind's own in `latency.rs` or `tracking.rs`), then what rules require of each other and
//! of the target.

mod common;
mod latency;
mod math;
pub mod queue;
mod tracking;

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Duration;

use super::limits::*;
use crate::policy::checker::Checker;
use crate::policy::file::{LatencySource, Located, MetricKind, RuleFile};
use crate::policy::model::{Goal, Learn, Metric, Rule, Statistic, Target};
use common::{Common, statistic};

/// Every rule of the file, checked one by one and against each other.
pub fn rules(c: &mut Checker, raw: &[Located<RuleFile>], target: &Target) -> Vec<Rule> {
    if raw.is_empty() {
        c.error(0..0, "a policy needs at least one [[rule]]");
    }
    if let Some(extra) = raw.get(MAX_RULES) {
        c.error(
            extra.get().name.span(),
            format!(
                "a policy may have at most {MAX_RULES} rules (each is a metric query every round); this one has {}",
                raw.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    let mut rules = Vec::new();
    for r in raw.iter().take(MAX_RULES) {
        let rule_name = r.get().name.get().trim().to_string();
        if !seen.insert(rule_name.clone()) {
            c.error(r.get().name.span(), format!("duplicate rule name \"{rule_name}\""));
        }
        if let Some(rule) = rule(c, r.get()) {
            rules.push(rule);
        }
    }
    learn_from_names_a_latency_rule(c, raw, &rules);
    alb_rules_name_their_load_balancer(c, raw, &rules, target);
    rules
}

fn learn_from_names_a_latency_rule(c: &mut Checker, raw: &[Located<RuleFile>], rules: &[Rule]) {
    let latency: Vec<&str> = rules
        .iter()
        .filter(|x| matches!(x.goal, Goal::LatencyGuard { .. }))
        .map(|x| x.name.as_str())
        .collect();
    for r in raw.iter().take(MAX_RULES) {
        let Some(from) = &r.get().learn_from else { continue };
        let wanted = from.get().trim();
        if !latency.contains(&wanted) {
            let hint = if latency.is_empty() {
                "add a latency rule and name it here".to_string()
            } else {
                format!("latency rules in this policy: {}", latency.join(", "))
            };
            c.error(
                from.span(),
                format!("learn_from names \"{wanted}\", which is not a latency rule of this policy; {hint}"),
            );
        }
    }
}

fn alb_rules_name_their_load_balancer(c: &mut Checker, raw: &[Located<RuleFile>], rules: &[Rule], target: &Target) {
    let Target::Aws {
        target_group,
        load_balancer,
        ..
    } = target
    else {
        return;
    };
    for rule in rules {
        let span = raw
            .iter()
            .find(|r| r.get().name.get().trim() == rule.name)
            .map_or(0..0, |r| r.get().metric.span());
        let needs: &[(&str, bool)] = match rule.metric {
            Metric::AlbRequestsPerTarget => &[("target_group", target_group.is_none())],
            Metric::AlbResponseTime => &[
                ("target_group", target_group.is_none()),
                ("load_balancer", load_balancer.is_none()),
            ],
            _ => &[],
        };
        for (key, missing) in needs {
            if *missing {
                c.error(
                    span.clone(),
                    format!("rule \"{}\" reads an ALB metric: [target] needs `{key}`", rule.name),
                );
            }
        }
    }
}

fn rule(c: &mut Checker, r: &RuleFile) -> Option<Rule> {
    let name = c.name(&r.name, "rule name");
    let kind = *r.metric.get();
    let period = period(c, &r.period);
    let max_age = c.optional_duration(&r.max_age, "max_age", period * 3 + Duration::from_secs(60));
    if max_age > MAX_INTERVAL
        && let Some(m) = &r.max_age
    {
        c.error(m.span(), "max_age must be at most 1h");
    }
    let statistic = r.statistic.as_ref().and_then(|s| statistic(c, s));
    keys_of_other_kinds(c, r, kind, &name);
    let count_window = count_window(c, r, kind, period, statistic);
    let learn = learn(c, r);
    let common = Common {
        name,
        kind,
        period,
        max_age,
        statistic,
        count_window,
        learn,
    };
    match kind {
        MetricKind::Latency => latency::rule(c, r, common),
        MetricKind::QueueBacklog => queue::rule(c, r, common),
        _ => tracking::rule(c, r, common),
    }
}

/// Keys that belong to another kind of rule are refused, naming the kind they belong to.
fn keys_of_other_kinds(c: &mut Checker, r: &RuleFile, kind: MetricKind, name: &str) {
    let mut not_for = |present: Option<Range<usize>>, key: &str, why: &str| {
        if let Some(span) = present {
            c.error(span, format!("`{key}` {why}"));
        }
    };
    if kind != MetricKind::Latency {
        let why = "applies only to latency rules";
        not_for(r.percentile.as_ref().map(Located::span), "percentile", why);
        not_for(
            r.scale_in_headroom.as_ref().map(Located::span),
            "scale_in_headroom",
            why,
        );
        not_for(
            r.max_scale_out_factor.as_ref().map(Located::span),
            "max_scale_out_factor",
            why,
        );
        not_for(r.source.as_ref().map(Located::span), "source", why);
        not_for(r.unit.as_ref().map(Located::span), "unit", why);
    }
    if !counts(kind) {
        not_for(
            r.count_window.as_ref().map(Located::span),
            "count_window",
            "applies only to request_rate and error_rate rules",
        );
    }
    if kind != MetricKind::RequestRate {
        let why = "applies only to request_rate rules";
        not_for(r.learn_from.as_ref().map(Located::span), "learn_from", why);
        not_for(r.learned_share.as_ref().map(Located::span), "learned_share", why);
    }
    if kind != MetricKind::Custom {
        let why = "applies only to custom rules";
        not_for(r.expression.as_ref().map(Located::span), "expression", why);
        not_for((!r.metrics.is_empty()).then(|| r.name.span()), "metrics", why);
    }
    if kind != MetricKind::QueueBacklog {
        let why = "applies only to queue_backlog rules";
        not_for(r.queue.as_ref().map(Located::span), "queue", why);
        not_for(
            r.acceptable_latency.as_ref().map(Located::span),
            "acceptable_latency",
            why,
        );
        not_for(r.processing_rate.as_ref().map(Located::span), "processing_rate", why);
    }
    if kind == MetricKind::ErrorRate
        && let Some(t) = &r.tolerance
    {
        c.error(
            t.span(),
            "`tolerance` applies to tracking rules; an error_rate rule is a guard with no band",
        );
    }
    let custom_source = matches!(
        kind,
        MetricKind::Custom | MetricKind::RequestRate | MetricKind::ErrorRate
    ) || (kind == MetricKind::Latency
        && r.source.as_ref().map(|s| *s.get()) == Some(LatencySource::Custom));
    if !custom_source {
        let why = "applies only to custom metrics";
        let mut not_for = |present: Option<Range<usize>>, key: &str| {
            if let Some(span) = present {
                c.error(span, format!("`{key}` {why}"));
            }
        };
        not_for(r.namespace.as_ref().map(Located::span), "namespace");
        not_for(r.metric_name.as_ref().map(Located::span), "metric_name");
        if !r.dimensions.is_empty() {
            c.error(
                r.name.span(),
                format!("rule \"{name}\": `dimensions` applies only to custom metrics"),
            );
        }
    }
}

/// Rules that read a count per task and period.
fn counts(kind: MetricKind) -> bool {
    matches!(kind, MetricKind::RequestRate | MetricKind::ErrorRate)
}

/// A count per task's record, averaged over the records of the period, divided by the
/// time one record covers: a per-task rate whatever the period. Sum would add tasks.
fn count_window(
    c: &mut Checker,
    r: &RuleFile,
    kind: MetricKind,
    period: Duration,
    statistic: Option<Statistic>,
) -> Duration {
    let count_window = c.optional_duration(&r.count_window, "count_window", DEFAULT_COUNT_WINDOW);
    if counts(kind)
        && let Some(s) = &r.statistic
        && statistic != Some(Statistic::Average)
    {
        c.error(
            s.span(),
            "a request_rate or error_rate rule averages per-task counts over the tasks' records; statistic must be \"average\" (or left out)",
        );
    }
    if counts(kind)
        && count_window > period
        && let Some(w) = &r.count_window
    {
        c.error(
            w.span(),
            "count_window is longer than the period: a period would hold no whole record",
        );
    }
    count_window
}

fn learn(c: &mut Checker, r: &RuleFile) -> Option<Learn> {
    if let Some(share) = &r.learned_share {
        if r.learn_from.is_none() {
            c.error(
                share.span(),
                "`learned_share` needs `learn_from`, the latency rule whose SLO the target is learned against",
            );
        }
        if !(*share.get() > 0.0 && *share.get() <= 1.0) {
            c.error(
                share.span(),
                format!("learned_share must be in (0, 1], found {}", share.get()),
            );
        }
    }
    r.learn_from.as_ref().map(|from| Learn {
        from: from.get().trim().to_string(),
        share: r.learned_share.as_ref().map_or(DEFAULT_LEARNED_SHARE, |s| *s.get()),
    })
}

fn period(c: &mut Checker, raw: &Option<Located<String>>) -> Duration {
    let p = c.optional_duration(raw, "period", DEFAULT_PERIOD);
    let secs = p.as_secs();
    let valid = p.subsec_nanos() == 0
        && (matches!(secs, 1 | 5 | 10 | 30) || (secs >= 60 && secs.is_multiple_of(60)))
        && p <= MAX_INTERVAL;
    if !valid && let Some(r) = raw {
        c.error(
            r.span(),
            format!(
                "period {} is not a CloudWatch period: use 1s, 5s, 10s, 30s or a multiple of 60s up to 1h",
                r.get()
            ),
        );
    }
    p
}

//! The demand target a request_rate rule learns from the service's own datapoints: the
//! per-task request rate at which its latency rule reaches the SLO.
//!
//! An operator's `target` for requests per task is a guess, and a wrong one fails in the
//! worst way: set too high, the demand rule keeps the count low while latency suffers.
//! Every round that has both readings on a settled fleet is evidence. Latency above the
//! SLO at `r` requests per task says the service cannot serve `r` per task within it;
//! latency within the SLO (and no failures) at `r` says it can. The knee is kept as the
//! most recent evidence that moved it, and the target is `share` × the knee.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::types::{Capacity, Evidence, LearnedCapacity, RuleVerdict, Vote};
use crate::policy::{Goal, Policy, Rule};
use crate::time::to_chrono;

/// Evidence not confirmed for this long is dropped and the policy's own target applies
/// again: a deploy or a new data set changes what a task serves. A day sees the daily
/// peak again.
pub const LEARN_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// A reading is evidence only when measured this many periods (of the slower of the two
/// rules) after the running count last changed: tasks just started or a backlog of a
/// higher load still draining are not the service's steady state, and a reading must
/// cover only the settled fleet. 30 s for ECS rules on 10 s metrics; 15 s for local
/// replicas on 5 s windows, which start in well under a second.
pub const SETTLE_PERIODS: u32 = 3;

/// Failures at this share of an error rule's target make a "held" reading no evidence:
/// a service that sheds load keeps the latency of what it serves low.
const FAILURE_SHARE: f64 = 0.1;

/// The learned capacities in force at `now`, unexpired.
pub fn in_force(
    learned: &BTreeMap<String, LearnedCapacity>,
    now: DateTime<Utc>,
) -> impl Iterator<Item = (&String, &LearnedCapacity)> {
    learned
        .iter()
        .filter(move |(_, l)| l.at <= now && now - l.at < to_chrono(LEARN_MEMORY))
}

/// The rule as it applies now: a learning rule's target is `share` × what it has learned.
/// Borrowed unchanged for every other rule (this runs for every rule of every decision).
pub fn effective_rule<'a>(
    rule: &'a Rule,
    learned: &BTreeMap<String, LearnedCapacity>,
    now: DateTime<Utc>,
) -> Cow<'a, Rule> {
    let Some(learn) = &rule.learn else {
        return Cow::Borrowed(rule);
    };
    let Some((_, l)) = in_force(learned, now).find(|(name, _)| **name == rule.name) else {
        return Cow::Borrowed(rule);
    };
    let mut owned = rule.clone();
    if let Goal::Track { target, .. } = &mut owned.goal {
        *target = learn.share * l.per_task;
    }
    Cow::Owned(owned)
}

/// Why a learning rule's target is what it is, for its verdict.
pub fn explain(rule: &Rule, learned: &BTreeMap<String, LearnedCapacity>, now: DateTime<Utc>) -> Option<String> {
    let learn = rule.learn.as_ref()?;
    let text = match in_force(learned, now).find(|(name, _)| **name == rule.name) {
        Some((_, l)) => format!(
            "target {} x {:.0}/s per task, the rate at which {} {} its SLO at {}",
            learn.share,
            l.per_task,
            learn.from,
            match l.evidence {
                Evidence::Broke => "broke",
                Evidence::Held => "held",
            },
            l.at.format("%H:%M:%S")
        ),
        None => format!("target as written until {} shows where its SLO breaks", learn.from),
    };
    Some(text)
}

/// What the policy's learning rules know after this round's verdicts. Pure: the same
/// verdicts on the same history learn the same thing.
pub fn learn(
    policy: &Policy,
    verdicts: &[RuleVerdict],
    capacity: Capacity,
    previous: &BTreeMap<String, LearnedCapacity>,
    serving: Option<(u32, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> BTreeMap<String, LearnedCapacity> {
    let mut learned: BTreeMap<String, LearnedCapacity> =
        in_force(previous, now).map(|(k, v)| (k.clone(), *v)).collect();
    // Evidence is what a steady set of tasks measured: the tasks serving now, in service
    // for a while (not just started, not draining a backlog of a higher load), one version.
    let Some(changed) = serving
        .filter(|(tasks, _)| *tasks == capacity.running && *tasks > 0 && !capacity.deployment_in_progress)
        .map(|(_, since)| since)
    else {
        return learned;
    };
    let verdict = |name: &str| verdicts.iter().find(|v| v.rule == name);
    // When the reading was measured, if it is usable evidence: measured `settle` after the
    // running count last changed.
    let measured = |v: &RuleVerdict, settle: Duration| -> Option<(f64, DateTime<Utc>)> {
        if v.vote == Vote::Missing {
            return None;
        }
        let at = now - chrono::Duration::milliseconds((v.age_seconds? * 1000.0) as i64);
        (at >= changed + to_chrono(settle)).then_some((v.value?, at))
    };
    let failing = policy.rules.iter().any(|r| {
        matches!(r.goal, Goal::ErrorGuard { .. })
            && verdict(&r.name)
                .and_then(|v| measured(v, r.period * SETTLE_PERIODS))
                .is_none_or(|(value, _)| value > FAILURE_SHARE * r.goal.target())
    });
    for rule in policy.rules.iter() {
        let Some(learn) = &rule.learn else { continue };
        let Some(slo_rule) = policy.rules.iter().find(|r| r.name == learn.from) else {
            continue;
        };
        let settle = rule.period.max(slo_rule.period) * SETTLE_PERIODS;
        let (Some((rate, rate_at)), Some((latency, latency_at))) = (
            verdict(&rule.name).and_then(|v| measured(v, settle)),
            verdict(&learn.from).and_then(|v| measured(v, settle)),
        ) else {
            continue;
        };
        // Both readings must describe the same moment.
        let apart = (rate_at - latency_at).num_milliseconds().unsigned_abs() as f64 / 1000.0;
        if apart > rule.period.max(slo_rule.period).as_secs_f64() || rate <= 0.0 {
            continue;
        }
        let slo = slo_rule.goal.target();
        let knee = learned
            .get(&rule.name)
            .map_or(rule.goal.target() / learn.share, |l| l.per_task);
        let evidence = if latency > slo {
            // Broke at `rate`: the knee is at most `rate`. At or above the knee it confirms it.
            Some(LearnedCapacity {
                per_task: rate.min(knee),
                at: now,
                evidence: Evidence::Broke,
            })
        } else if rate > knee && !failing {
            Some(LearnedCapacity {
                per_task: rate,
                at: now,
                evidence: Evidence::Held,
            })
        } else {
            None
        };
        if let Some(e) = evidence {
            learned.insert(rule.name.clone(), e);
        }
    }
    learned
}

//! Every rule's verdict on this round's observation, with what learning rules learn from
//! it, and the latency guard tempered by a fresh demand reading.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::history::History;
use super::learn;
use super::learn::KneeVerdict;
use super::math;
use super::predict;
use super::rules;
use super::types::{Capacity, Observation, RuleVerdict, Vote};
use crate::policy::{Goal, Measure, Policy};

/// The verdicts, and what the policy's learning rules know after this round.
pub fn verdicts(
    policy: &Policy,
    obs: &Observation,
    history: &History,
    now: DateTime<Utc>,
) -> (Vec<RuleVerdict>, BTreeMap<String, KneeVerdict>) {
    let capacity = obs.capacity;
    let verdicts_with = |knees: &BTreeMap<String, KneeVerdict>| -> Vec<RuleVerdict> {
        policy
            .rules
            .iter()
            .map(|r| {
                let rule = learn::effective_rule(r, knees);
                let sample = math::sample(r, &obs.metrics);
                let mut verdict =
                    rules::evaluate(&rule, sample.as_ref(), capacity, policy.spare, history.last_change, now);
                if let Some(why) = learn::explain(r, knees) {
                    verdict.reason.push_str(&format!("; {why}"));
                }
                verdict
            })
            .collect()
    };
    // This round's readings may teach a learning rule its target; it then decides on it.
    let share = predict::confident_share(policy, history.predict.as_ref());
    let before = learn::known(policy, &history.learning, share, capacity, now);
    let mut verdicts = verdicts_with(&before);
    let knees = learn::learn(
        policy,
        &verdicts,
        capacity,
        &history.learning,
        &before,
        history.serving,
        now,
    );
    let moved = knees
        .iter()
        .any(|(name, k)| before.get(name).and_then(|b| b.knee) != k.knee);
    if moved {
        verdicts = verdicts_with(&knees);
    }
    temper_latency_by_demand(policy, &mut verdicts, capacity);
    (verdicts, knees)
}

/// Latency above the SLO while a fresh demand reading says the tasks already asked for
/// are enough is a backlog draining or a slow moment, not missing capacity: the latency
/// guard then adds one task at a time instead of multiplying the count (a 5x spike would
/// otherwise end at 10 tasks where 5 serve it). It still adds that task, so a demand
/// target set too high cannot hold the count down while latency suffers.
fn temper_latency_by_demand(policy: &Policy, verdicts: &mut [RuleVerdict], capacity: Capacity) {
    let enough = policy.rules.iter().zip(verdicts.iter()).any(|(r, v)| {
        r.measures == Measure::RequestRate
            && matches!(v.vote, Vote::In | Vote::Hold | Vote::NoObjection)
            && v.proposal.is_some_and(|p| p <= capacity.desired)
    });
    if !enough {
        return;
    }
    let one_more = capacity.desired.max(capacity.running).saturating_add(1);
    for (r, v) in policy.rules.iter().zip(verdicts.iter_mut()) {
        if matches!(r.goal, Goal::LatencyGuard { .. })
            && v.vote == Vote::Out
            && v.proposal.is_some_and(|p| p > one_more)
        {
            v.proposal = Some(one_more);
            v.reason.push_str(&format!(
                "; demand per task is within target, so one task at a time: {one_more}"
            ));
        }
    }
}

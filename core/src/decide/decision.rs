//! `decide`: the rules' verdicts, combined, limited and bounded into one decision that
//! explains itself.

use chrono::{DateTime, Utc};

use super::bounds::{self, effective_bounds};
use super::combine;
use super::gates::gates;
use super::history::History;
use super::predict;
use super::steps;
use super::types::{Action, Decision, ExternalChange, Limit, LimitKind, Observation, Vote};
use super::verdicts;
use crate::policy::Policy;

/// Decides the desired count for one policy at `now`.
pub fn decide(policy: &Policy, obs: &Observation, history: &History, now: DateTime<Utc>) -> Decision {
    let capacity = obs.capacity;
    let current = capacity.desired;
    let mut limits: Vec<Limit> = Vec::new();

    let bounds = effective_bounds(policy, now);
    let gates = gates(policy, history, capacity.deployment_in_progress, now);
    let external_change = history
        .last_desired
        .filter(|&expected| expected != current)
        .map(|expected| ExternalChange {
            expected,
            observed: current,
        });
    let (verdicts, knees) = verdicts::verdicts(policy, obs, history, now);
    let blind = !verdicts.is_empty() && verdicts.iter().all(|v| v.vote == Vote::Missing);

    let mut recommendation = combine::recommend(&verdicts, capacity, policy.spare, &mut limits);
    if blind {
        recommendation = combine::when_blind(policy, history, recommendation, now, &mut limits);
    }
    let forecast = predict::verdict(policy, obs, history.predict.as_ref(), &verdicts, recommendation, now);
    if let Some(f) = &forecast {
        recommendation = predict::apply(f, recommendation, current, &mut limits);
    }
    let desired = match recommendation.cmp(&current) {
        std::cmp::Ordering::Greater => steps::limit_scale_out(policy, &gates, current, recommendation, &mut limits),
        std::cmp::Ordering::Less => {
            steps::limit_scale_in(policy, history, &gates, capacity, now, recommendation, &mut limits)
        }
        std::cmp::Ordering::Equal => current,
    };
    let desired = bounds::clamp(&bounds, desired, &mut limits);

    let action = match desired.cmp(&current) {
        std::cmp::Ordering::Greater => Action::ScaleOut,
        std::cmp::Ordering::Less => Action::ScaleIn,
        std::cmp::Ordering::Equal => Action::Hold,
    };
    if policy.dry_run && action != Action::Hold {
        combine::push(&mut limits, LimitKind::DryRun, "dry run: nothing is changed".into());
    }
    if let Some(why) = &obs.withheld
        && action != Action::Hold
    {
        combine::push(&mut limits, LimitKind::OtherScaler, why.clone());
    }

    Decision {
        policy: policy.name.clone(),
        at: now,
        capacity,
        recommendation,
        desired,
        action,
        dry_run: policy.dry_run,
        bounds,
        rules: verdicts,
        limits,
        external_change,
        blind,
        gates,
        knees,
        forecast,
    }
}

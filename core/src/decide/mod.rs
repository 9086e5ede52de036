//! The decision core: a pure function of (policy, observation, history, now).
//!
//! No I/O, no clock, no async. Everything about why a decision was taken is in the
//! returned [`Decision`], so the status API, the journal, the simulator and the tests
//! all read the same explanation.

mod bounds;
mod combine;
mod controller;
mod gates;
mod history;
mod learn;
mod rules;
mod steps;
mod types;
mod verdicts;

use chrono::{DateTime, Utc};

pub use bounds::{effective_bounds, next_schedule_edge};
pub use controller::{Controller, Outcome};
pub use gates::{Block, Gates, gates};
pub use history::{CLOCK_SKEW_ALLOWANCE, History, PATIENCE_MEMORY, REVERSAL_WINDOW, max_gap};
pub use learn::{Evidence, LEARN_MEMORY, LearnedCapacity, SETTLE_PERIODS};
pub use types::*;

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
    let (verdicts, learned) = verdicts::verdicts(policy, obs, history, now);
    let blind = !verdicts.is_empty() && verdicts.iter().all(|v| v.vote == Vote::Missing);

    let mut recommendation = combine::recommend(&verdicts, capacity, policy.spare, &mut limits);
    if blind {
        recommendation = combine::when_blind(policy, history, recommendation, now, &mut limits);
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
        learned,
    }
}

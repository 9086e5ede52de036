//! The decision core: a pure function of (policy, observation, history, now).
//!
//! No I/O, no clock, no async. Everything about why a decision was taken is in the
//! returned [`Decision`], so the status API, the journal, the simulator and the tests
//! all read the same explanation.

mod gates;
mod history;
mod learn;
mod rules;
mod types;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use gates::{Block, Gates, gates};
pub use history::{History, PATIENCE_MEMORY, REVERSAL_WINDOW, max_gap, to_chrono};
pub use learn::{Evidence, LEARN_MEMORY, LearnedCapacity, SETTLE_PERIODS};
pub use types::*;

use crate::policy::{Goal, Measure, MissingAction, Policy};

/// Decides the desired count for one policy at `now`.
pub fn decide(policy: &Policy, obs: &Observation, history: &History, now: DateTime<Utc>) -> Decision {
    let capacity = obs.capacity;
    let current = capacity.desired;
    let mut limits: Vec<Limit> = Vec::new();
    let mut limit = |kind: LimitKind, detail: String| limits.push(Limit { kind, detail });

    let bounds = effective_bounds(policy, now);
    let gates = gates(policy, history, capacity.deployment_in_progress, now);
    let external_change = history
        .last_desired
        .filter(|&expected| expected != current)
        .map(|expected| ExternalChange {
            expected,
            observed: current,
        });

    let verdicts_with = |learned: &BTreeMap<String, LearnedCapacity>| -> Vec<RuleVerdict> {
        policy
            .rules
            .iter()
            .map(|r| {
                let rule = learn::effective_rule(r, learned, now);
                let mut verdict = rules::evaluate(
                    &rule,
                    obs.metrics.get(&r.name),
                    capacity,
                    policy.spare,
                    history.last_change,
                    now,
                );
                if let Some(why) = learn::explain(r, learned, now) {
                    verdict.reason.push_str(&format!("; {why}"));
                }
                verdict
            })
            .collect()
    };
    // This round's readings may teach a learning rule its target; it then decides on it.
    let mut verdicts = verdicts_with(&history.learned);
    let learned = learn::learn(policy, &verdicts, capacity, &history.learned, history.serving, now);
    if learned != history.learned {
        verdicts = verdicts_with(&learned);
    }
    temper_latency_by_demand(policy, &mut verdicts, capacity);

    let missing: Vec<&str> = names(&verdicts, |v| v.vote == Vote::Missing);
    let blind = !verdicts.is_empty() && missing.len() == verdicts.len();
    let largest = |vote: Vote| {
        verdicts
            .iter()
            .filter(|v| v.vote == vote)
            .filter_map(|v| v.proposal)
            .max()
    };

    let in_band = names(&verdicts, |v| v.within_tolerance);
    if !in_band.is_empty() {
        limit(LimitKind::Tolerance, format!("{} within tolerance", in_band.join(", ")));
    }

    // Combine: out if anyone says out; in only if everyone agrees and nobody is missing.
    let mut recommendation = if let Some(out) = largest(Vote::Out) {
        out
    } else if verdicts.iter().all(|v| matches!(v.vote, Vote::In | Vote::NoObjection)) {
        largest(Vote::In).unwrap_or(current)
    } else {
        let would_go_in = verdicts.iter().any(|v| v.vote == Vote::In);
        if would_go_in && !missing.is_empty() {
            limit(
                LimitKind::MissingData,
                format!("no scale-in while {} has no usable data", missing.join(", ")),
            );
        }
        current
    };
    if recommendation > current && policy.spare > 0 {
        limit(
            LimitKind::Spare,
            format!("{} spare task(s) kept above the metrics", policy.spare),
        );
    }
    if recommendation <= current && capacity.pending > 0 {
        let covered = verdicts
            .iter()
            .any(|v| v.proposal.is_some_and(|p| p > capacity.running && p <= current));
        if covered {
            limit(
                LimitKind::PendingCapacity,
                format!("{} pending task(s) already cover the need", capacity.pending),
            );
        }
    }

    if blind {
        let since = history.blind_since.unwrap_or(now);
        let blind_for = (now - since).to_std().unwrap_or_default();
        match policy.missing_data.action {
            MissingAction::Fallback(count) if blind_for >= policy.missing_data.after => {
                if count > recommendation {
                    limit(
                        LimitKind::Fallback,
                        format!(
                            "no data for {}s: fallback raises the count to {count}",
                            blind_for.as_secs()
                        ),
                    );
                    recommendation = count;
                }
            }
            _ => limit(LimitKind::MissingData, "no rule has usable data: holding".to_string()),
        }
    }

    let mut desired = recommendation;
    if desired > current {
        if let Some(block) = &gates.scale_out {
            limit(block.kind, block.reason.clone());
            desired = current;
        } else if let Some(step) = policy.scale_out.max_step {
            let allowed = current.saturating_add(step.allowance(current));
            if desired > allowed {
                limit(
                    LimitKind::Step,
                    format!("scale-out step limited to {allowed} ({step} per decision)"),
                );
                desired = allowed;
            }
        }
    } else if desired < current {
        desired = limit_scale_in(policy, history, &gates, capacity, now, desired, &mut limit);
    }

    let clamped = desired.clamp(bounds.min, bounds.max);
    if clamped != desired {
        let kind = if bounds.schedules.is_empty() {
            LimitKind::Bounds
        } else {
            LimitKind::Schedule
        };
        let by = if bounds.schedules.is_empty() {
            String::new()
        } else {
            format!(" (schedule {})", bounds.schedules.join(", "))
        };
        limit(
            kind,
            format!("bounds {}..{}{by} move {desired} to {clamped}", bounds.min, bounds.max),
        );
        desired = clamped;
    } else if !bounds.schedules.is_empty() {
        limit(
            LimitKind::Schedule,
            format!(
                "schedule {} sets bounds {}..{}",
                bounds.schedules.join(", "),
                bounds.min,
                bounds.max
            ),
        );
    }

    let action = match desired.cmp(&current) {
        std::cmp::Ordering::Greater => Action::ScaleOut,
        std::cmp::Ordering::Less => Action::ScaleIn,
        std::cmp::Ordering::Equal => Action::Hold,
    };
    if policy.dry_run && action != Action::Hold {
        limit(LimitKind::DryRun, "dry run: nothing is changed".into());
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

fn limit_scale_in(
    policy: &Policy,
    history: &History,
    gates: &Gates,
    capacity: Capacity,
    now: DateTime<Utc>,
    wanted: u32,
    limit: &mut impl FnMut(LimitKind, String),
) -> u32 {
    let current = capacity.desired;
    if let Some(block) = &gates.scale_in {
        limit(block.kind, block.reason.clone());
        return current;
    }
    if capacity.running == 0 {
        // Whatever a datapoint says about the tasks that produced it, none runs now: it
        // cannot describe the fleet that is starting.
        limit(
            LimitKind::MissingData,
            "no task is running: no scale-in until one is".into(),
        );
        return current;
    }
    let (window, patient) = history.stabilization(policy, now);
    let window_start = now - to_chrono(window);
    let mut target = wanted;
    if let Some(highest) = history.highest_recommendation_since(window_start)
        && highest > target
    {
        let why = if patient {
            " (patience: a scale-in was reversed within the hour)"
        } else {
            ""
        };
        limit(
            LimitKind::Stabilization,
            format!(
                "stabilization: {highest} was recommended within the last {}s{why}",
                window.as_secs()
            ),
        );
        target = highest.min(current);
    }
    if let Some(step) = policy.scale_in.max_step {
        let allowed = current.saturating_sub(step.allowance(current));
        if target < allowed {
            limit(
                LimitKind::Step,
                format!("scale-in step limited to {allowed} ({step} per decision)"),
            );
            target = allowed;
        }
    }
    target
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

/// The min/max in force at `now`: the policy's, widened or raised by open schedule windows.
pub fn effective_bounds(policy: &Policy, now: DateTime<Utc>) -> Bounds {
    let mut min = policy.min;
    let mut max = policy.max;
    let mut open = Vec::new();
    let mut sched_min: Option<u32> = None;
    let mut sched_max: Option<u32> = None;
    for s in &policy.schedules {
        // The window is open if the cron fired within the last `duration`.
        let since = now - to_chrono(s.duration);
        let fired = s.parsed.find_next_occurrence(&since, true).ok();
        if fired.is_some_and(|t| t <= now) {
            open.push(s.name.clone());
            if let Some(m) = s.min {
                sched_min = Some(sched_min.map_or(m, |x| x.max(m)));
            }
            if let Some(m) = s.max {
                sched_max = Some(sched_max.map_or(m, |x| x.max(m)));
            }
        }
    }
    if let Some(m) = sched_min {
        min = m;
    }
    if let Some(m) = sched_max {
        max = m;
    }
    max = max.max(min);
    Bounds {
        min,
        max,
        schedules: open,
    }
}

fn names(verdicts: &[RuleVerdict], pred: impl Fn(&RuleVerdict) -> bool) -> Vec<&str> {
    verdicts.iter().filter(|v| pred(v)).map(|v| v.rule.as_str()).collect()
}

/// A policy together with its history: evaluates, remembers, and learns what was applied.
/// Still free of I/O; the daemon and the simulator both drive it.
#[derive(Debug, Clone)]
pub struct Controller {
    pub policy: Policy,
    pub history: History,
}

impl Controller {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            history: History::default(),
        }
    }

    pub fn evaluate(&mut self, obs: &Observation, now: DateTime<Utc>) -> Decision {
        let decision = decide(&self.policy, obs, &self.history, now);
        self.history.record_evaluation(&self.policy, &decision);
        decision
    }

    /// Call once the backend has accepted the decision's desired count.
    pub fn applied(&mut self, decision: &Decision) {
        self.history.record_applied(decision);
    }
}

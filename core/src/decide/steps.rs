//! How far one decision may move the count: the scale-out gate and step, and the scale-in
//! gates, stabilization (the longer patience window after a reversal) and step.

use chrono::{DateTime, Utc};

use super::combine::push;
use super::history::History;
use super::types::Gates;
use super::types::{Capacity, Limit, LimitKind};
use crate::policy::Policy;
use crate::time::to_chrono;

pub fn limit_scale_out(policy: &Policy, gates: &Gates, current: u32, wanted: u32, limits: &mut Vec<Limit>) -> u32 {
    if let Some(block) = &gates.scale_out {
        push(limits, block.kind, block.reason.clone());
        return current;
    }
    if let Some(step) = policy.scale_out.max_step {
        let allowed = current.saturating_add(step.allowance(current));
        if wanted > allowed {
            push(
                limits,
                LimitKind::Step,
                format!("scale-out step limited to {allowed} ({step} per decision)"),
            );
            return allowed;
        }
    }
    wanted
}

pub fn limit_scale_in(
    policy: &Policy,
    history: &History,
    gates: &Gates,
    capacity: Capacity,
    now: DateTime<Utc>,
    wanted: u32,
    limits: &mut Vec<Limit>,
) -> u32 {
    let current = capacity.desired;
    if let Some(block) = &gates.scale_in {
        push(limits, block.kind, block.reason.clone());
        return current;
    }
    if capacity.running == 0 {
        // Whatever a datapoint says about the tasks that produced it, none runs now: it
        // cannot describe the fleet that is starting.
        push(
            limits,
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
        push(
            limits,
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
            push(
                limits,
                LimitKind::Step,
                format!("scale-in step limited to {allowed} ({step} per decision)"),
            );
            target = allowed;
        }
    }
    target
}

//! The min and max in force at a moment: the policy's, replaced by open schedule windows;
//! and the next moment a window opens or closes, when the daemon must decide again.

use chrono::{DateTime, Utc};

use super::combine::push;
use super::types::{Bounds, Limit, LimitKind};
use crate::policy::{Policy, cron};
use crate::time::to_chrono;

/// The min/max in force at `now`: the policy's, widened or raised by open schedule windows.
pub fn effective_bounds(policy: &Policy, now: DateTime<Utc>) -> Bounds {
    let mut min = policy.min;
    let mut max = policy.max;
    let mut open = Vec::new();
    let mut sched_min: Option<u32> = None;
    let mut sched_max: Option<u32> = None;
    for s in &policy.schedules {
        if cron::is_open(&s.parsed, now, to_chrono(s.duration)) {
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

/// The next moment after `now` at which one of the policy's schedule windows opens or closes.
pub fn next_schedule_edge(policy: &Policy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    policy
        .schedules
        .iter()
        .filter_map(|s| cron::next_edge(&s.parsed, now, to_chrono(s.duration)))
        .min()
}

/// `desired` held within the bounds, saying so when they (or a schedule) moved it.
pub fn clamp(bounds: &Bounds, desired: u32, limits: &mut Vec<Limit>) -> u32 {
    let clamped = desired.clamp(bounds.min, bounds.max);
    let by_schedule = !bounds.schedules.is_empty();
    if clamped != desired {
        let (kind, by) = if by_schedule {
            (
                LimitKind::Schedule,
                format!(" (schedule {})", bounds.schedules.join(", ")),
            )
        } else {
            (LimitKind::Bounds, String::new())
        };
        push(
            limits,
            kind,
            format!("bounds {}..{}{by} move {desired} to {clamped}", bounds.min, bounds.max),
        );
    } else if by_schedule {
        push(
            limits,
            LimitKind::Schedule,
            format!(
                "schedule {} sets bounds {}..{}",
                bounds.schedules.join(", "),
                bounds.min,
                bounds.max
            ),
        );
    }
    clamped
}

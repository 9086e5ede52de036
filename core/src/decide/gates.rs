//! When each direction may next act, and why not now. The decision, the status API and
//! the page all read this one answer; nothing else re-derives a cooldown.

use chrono::{DateTime, Utc};

use super::history::{History, max_gap};
use super::types::{Block, Gates, LimitKind};
use crate::policy::Policy;
use crate::time::to_chrono;

fn cooldown(what: &str, last: Option<DateTime<Utc>>, length: std::time::Duration, now: DateTime<Utc>) -> Option<Block> {
    let until = last? + to_chrono(length);
    (now < until).then(|| Block {
        kind: LimitKind::Cooldown,
        until: Some(until),
        reason: format!("{what} cooldown: {}s left", (until - now).num_seconds()),
    })
}

pub fn gates(policy: &Policy, history: &History, deployment_in_progress: bool, now: DateTime<Utc>) -> Gates {
    let scale_out = cooldown("scale-out", history.last_scale_out, policy.scale_out.cooldown, now);
    let scale_in = if !policy.scale_in.enabled {
        Some(Block {
            kind: LimitKind::ScaleInDisabled,
            until: None,
            reason: "scale-in is disabled by the policy".into(),
        })
    } else if deployment_in_progress {
        Some(Block {
            kind: LimitKind::Deployment,
            until: None,
            reason: "no scale-in while a deployment is in progress".into(),
        })
    } else {
        // The window in force: the patience window while a reversal is remembered.
        let window = to_chrono(history.stabilization(policy, now).0);
        // An evaluation now, after a gap, starts a new observed run (see History).
        let unbroken = history
            .last_evaluated
            .is_some_and(|t| now >= t && now - t <= to_chrono(max_gap(policy)));
        let observed = match history.observed_since {
            Some(t) if unbroken => now - t,
            _ => chrono::Duration::zero(),
        };
        let unobserved = (observed < window).then(|| Block {
            kind: LimitKind::Conservative,
            until: Some(now + (window - observed)),
            reason: format!(
                "only {}s of the {}s stabilization window observed (fresh start, lost state or a gap in evaluations): no scale-in for another {}s",
                observed.num_seconds().max(0),
                window.num_seconds(),
                (window - observed).num_seconds()
            ),
        });
        let blocks = [
            unobserved,
            cooldown("scale-in", history.last_scale_in, policy.scale_in.cooldown, now),
            cooldown("scale-out", history.last_scale_out, policy.scale_out.cooldown, now).map(|b| Block {
                reason: format!("{} (it blocks scale-in too)", b.reason),
                ..b
            }),
        ];
        // The block that lasts longest is the one that says when scale-in may next happen.
        blocks.into_iter().flatten().max_by_key(|b| b.until)
    };
    Gates { scale_out, scale_in }
}

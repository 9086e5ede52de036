//! The rules' votes combined into one recommendation: out if any rule says out, to the
//! largest proposal; in only if every rule agrees and none is missing; and what the
//! policy does when every rule is blind.

use chrono::{DateTime, Utc};

use super::history::History;
use super::types::{Capacity, Limit, LimitKind, RuleVerdict, Vote};
use crate::policy::{MissingAction, Policy};
use crate::time::to_std;

/// Records a limit that shaped the decision.
pub fn push(limits: &mut Vec<Limit>, kind: LimitKind, detail: String) {
    limits.push(Limit { kind, detail });
}

pub fn names(verdicts: &[RuleVerdict], pred: impl Fn(&RuleVerdict) -> bool) -> Vec<&str> {
    verdicts.iter().filter(|v| pred(v)).map(|v| v.rule.as_str()).collect()
}

/// The count the rules ask for together.
pub fn recommend(verdicts: &[RuleVerdict], capacity: Capacity, spare: u32, limits: &mut Vec<Limit>) -> u32 {
    let current = capacity.desired;
    let missing = names(verdicts, |v| v.vote == Vote::Missing);
    let largest = |vote: Vote| {
        verdicts
            .iter()
            .filter(|v| v.vote == vote)
            .filter_map(|v| v.proposal)
            .max()
    };
    let in_band = names(verdicts, |v| v.within_tolerance);
    if !in_band.is_empty() {
        push(
            limits,
            LimitKind::Tolerance,
            format!("{} within tolerance", in_band.join(", ")),
        );
    }
    let recommendation = if let Some(out) = largest(Vote::Out) {
        out
    } else if verdicts.iter().all(|v| matches!(v.vote, Vote::In | Vote::NoObjection)) {
        largest(Vote::In).unwrap_or(current)
    } else {
        let would_go_in = verdicts.iter().any(|v| v.vote == Vote::In);
        if would_go_in && !missing.is_empty() {
            push(
                limits,
                LimitKind::MissingData,
                format!("no scale-in while {} has no usable data", missing.join(", ")),
            );
        }
        current
    };
    if recommendation > current && spare > 0 {
        push(
            limits,
            LimitKind::Spare,
            format!("{spare} spare task(s) kept above the metrics"),
        );
    }
    if recommendation <= current && capacity.pending > 0 {
        let covered = verdicts
            .iter()
            .any(|v| v.proposal.is_some_and(|p| p > capacity.running && p <= current));
        if covered {
            push(
                limits,
                LimitKind::PendingCapacity,
                format!("{} pending task(s) already cover the need", capacity.pending),
            );
        }
    }
    recommendation
}

/// Every rule is without data: hold, or after `missing_data.after` raise the count to the
/// fallback (never lower it).
pub fn when_blind(
    policy: &Policy,
    history: &History,
    recommendation: u32,
    now: DateTime<Utc>,
    limits: &mut Vec<Limit>,
) -> u32 {
    let since = history.blind_since.unwrap_or(now);
    let blind_for = to_std(now - since);
    match policy.missing_data.action {
        MissingAction::Fallback(count) if blind_for >= policy.missing_data.after => {
            if count > recommendation {
                push(
                    limits,
                    LimitKind::Fallback,
                    format!(
                        "no data for {}s: fallback raises the count to {count}",
                        blind_for.as_secs()
                    ),
                );
                return count;
            }
            recommendation
        }
        _ => {
            push(
                limits,
                LimitKind::MissingData,
                "no rule has usable data: holding".to_string(),
            );
            recommendation
        }
    }
}

//! One rule's verdict from its datapoint.

use chrono::{DateTime, Utc};

use super::types::{Capacity, MissingCause, Reading, RuleVerdict, Sample, Vote};
use crate::policy::{Goal, Measure, Rule};

/// Datapoints stamped further in the future than this are refused (clock skew or bad data).
const FUTURE_SKEW_SECONDS: f64 = 60.0;

/// Failures at this share of an error rule's target veto scale-in; below it, a trickle
/// of errors that capacity does not cause lets the other rules decide.
const ERROR_VETO_SHARE: f64 = 0.5;

/// Proposals are capped here: a wild value must not turn into an absurd count before bounds apply.
const PROPOSAL_CAP: f64 = 1_000_000.0;

pub fn evaluate(
    rule: &Rule,
    sample: Option<&Sample>,
    capacity: Capacity,
    spare: u32,
    last_change: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> RuleVerdict {
    let target = rule.goal.target();
    let missing = |reason: String| RuleVerdict {
        rule: rule.name.clone(),
        value: None,
        target,
        age_seconds: None,
        proposal: None,
        vote: Vote::Missing,
        within_tolerance: false,
        reason,
    };
    let reading: Reading = match sample {
        None => return missing("no data".into()),
        Some(Sample::Missing {
            cause: MissingCause::ReadFailed,
            reason,
        }) => return missing(format!("no data (read failed: {reason})")),
        Some(Sample::Missing { reason, .. }) => return missing(format!("no data ({reason})")),
        Some(Sample::Value(r)) => *r,
    };
    let age = (now - reading.at).num_milliseconds() as f64 / 1000.0;
    if !reading.value.is_finite() || reading.value < 0.0 {
        return missing(format!("invalid value {}", reading.value));
    }
    if age < -FUTURE_SKEW_SECONDS {
        return missing(format!("datapoint is {:.0}s in the future", -age));
    }
    if age > rule.max_age.as_secs_f64() {
        return RuleVerdict {
            value: Some(reading.value),
            age_seconds: Some(age),
            ..missing(format!("stale: {:.0}s old, limit {}s", age, rule.max_age.as_secs()))
        };
    }
    // A queue's backlog is the whole queue's: per task it is over the tasks running, and
    // with none running it still asks for tasks (a worker fleet scaled to zero wakes).
    let (value, base) = if rule.measures == Measure::QueueBacklog {
        let base = capacity.running.max(1);
        (reading.value / f64::from(base), base)
    } else {
        (reading.value, reading.base.unwrap_or(capacity.running))
    };
    if base == 0 {
        return missing("no running task produced this value".into());
    }
    let current = capacity.desired;
    if let Some(changed) = last_change.filter(|c| reading.at < *c) {
        // Measured (at least partly) on the count before the last change: acting on it
        // again would apply one observation twice (2 -> 4 -> 8 on one CPU datapoint).
        return RuleVerdict {
            rule: rule.name.clone(),
            value: Some(value),
            target,
            age_seconds: Some(age),
            proposal: None,
            vote: Vote::Hold,
            within_tolerance: false,
            reason: format!(
                "{} is from {}, before the count changed at {}; waiting for a datapoint measured since",
                fmt(value),
                reading.at.format("%H:%M:%S"),
                changed.format("%H:%M:%S")
            ),
        };
    }
    let ratio = value / target;
    let call = Call {
        value,
        target,
        ratio,
        base,
        current,
        capacity,
        spare,
    };
    let Judged {
        proposal,
        vote,
        reason,
        within_tolerance,
    } = match rule.goal {
        Goal::Track { tolerance, .. } => track(&call, tolerance),
        Goal::LatencyGuard {
            scale_in_headroom,
            max_factor,
            ..
        } => latency_guard(&call, scale_in_headroom, max_factor),
        Goal::ErrorGuard { .. } => error_guard(&call),
    };
    RuleVerdict {
        rule: rule.name.clone(),
        value: Some(value),
        target,
        age_seconds: Some(age),
        proposal,
        vote,
        within_tolerance,
        reason,
    }
}

/// What a rule's judgement is made of, once its reading is usable.
struct Call {
    value: f64,
    target: f64,
    ratio: f64,
    /// Tasks that produced the value.
    base: u32,
    current: u32,
    capacity: Capacity,
    spare: u32,
}

struct Judged {
    proposal: Option<u32>,
    vote: Vote,
    reason: String,
    within_tolerance: bool,
}

impl Judged {
    fn new(proposal: Option<u32>, vote: Vote, reason: String) -> Self {
        Self {
            proposal,
            vote,
            reason,
            within_tolerance: false,
        }
    }
}

/// Proportional tracking: `ceil(base × value / target) + spare`, no change inside the band.
fn track(c: &Call, tolerance: f64) -> Judged {
    let (value, target, base, current, spare) = (c.value, c.target, c.base, c.current, c.spare);
    // The band is around the current count: with base == desired and no spare this is
    // exactly |v/t - 1| <= tolerance, and it keeps the vote monotone in the value when
    // spare tasks or pending tasks make base and desired differ.
    let want = f64::from(base) * c.ratio + f64::from(spare);
    let deviation = want / f64::from(current.max(1)) - 1.0;
    if current > 0 && deviation.abs() <= tolerance {
        return Judged {
            within_tolerance: true,
            ..Judged::new(
                Some(current),
                Vote::Hold,
                format!(
                    "{} vs target {} is within tolerance {}",
                    fmt(value),
                    fmt(target),
                    fmt(tolerance)
                ),
            )
        };
    }
    let proposal = ceil_count(want);
    let vote = compare(proposal, current);
    let spare_note = if spare > 0 {
        format!(" + {spare} spare")
    } else {
        String::new()
    };
    Judged::new(
        Some(proposal),
        vote,
        format!(
            "{} vs target {} on {} task(s) asks for {}{}",
            fmt(value),
            fmt(target),
            base,
            proposal,
            spare_note
        ),
    )
}

/// The latency SLO guard: above target scale out (at least one task, at most
/// `max_factor` × base), between the headroom and the target veto scale-in.
fn latency_guard(c: &Call, scale_in_headroom: f64, max_factor: f64) -> Judged {
    let (value, target, ratio, base, current, capacity) = (c.value, c.target, c.ratio, c.base, c.current, c.capacity);
    let ms = |s: f64| format!("{:.0}ms", s * 1000.0);
    if ratio > 1.0 && capacity.running > base {
        // Latency is not proportional to capacity: a measurement taken before the
        // newest tasks came into service says nothing about how they cope. Wait for one
        // that includes them instead of compounding scale-outs on stale evidence.
        Judged::new(
            Some(current),
            Vote::Hold,
            format!(
                "{} above SLO {} measured on {} task(s); {} run now, waiting for a fresh measurement",
                ms(value),
                ms(target),
                base,
                capacity.running
            ),
        )
    } else if ratio > 1.0 {
        let proportional = ceil_count(f64::from(base) * ratio.min(max_factor));
        let proposal = proportional.max(base + 1);
        let vote = compare(proposal, current);
        let note = if vote == Vote::Out {
            format!("{} above SLO {}, asks for {}", ms(value), ms(target), proposal)
        } else {
            format!(
                "{} above SLO {}, pending tasks already cover {}",
                ms(value),
                ms(target),
                proposal
            )
        };
        Judged::new(Some(proposal), if vote == Vote::In { Vote::Hold } else { vote }, note)
    } else if ratio >= scale_in_headroom {
        Judged::new(
            None,
            Vote::VetoIn,
            format!(
                "{} within {:.0}% of SLO {}, no scale-in",
                ms(value),
                (1.0 - scale_in_headroom) * 100.0,
                ms(target)
            ),
        )
    } else {
        Judged::new(
            None,
            Vote::NoObjection,
            format!("{} well below SLO {}", ms(value), ms(target)),
        )
    }
}

/// The failed-request guard: above target one more task, any failures veto scale-in.
fn error_guard(c: &Call) -> Judged {
    let (value, target, ratio, current, capacity) = (c.value, c.target, c.ratio, c.current, c.capacity);
    if ratio > 1.0 && capacity.pending > 0 {
        // Tasks already starting may be the cure (replacements of crashed ones, or
        // the last scale-out): wait for them rather than add one per datapoint.
        Judged::new(
            None,
            Vote::VetoIn,
            format!(
                "{} failed requests/s per task above {}; {} task(s) starting already",
                fmt(value),
                fmt(target),
                capacity.pending
            ),
        )
    } else if ratio > 1.0 {
        // Failures say capacity is short, not by how much: one task at a time.
        let proposal = current.max(capacity.running).saturating_add(1);
        Judged::new(
            Some(proposal),
            Vote::Out,
            format!(
                "{} failed requests/s per task above {}, asks for {}",
                fmt(value),
                fmt(target),
                proposal
            ),
        )
    } else if ratio >= ERROR_VETO_SHARE {
        Judged::new(
            None,
            Vote::VetoIn,
            format!(
                "{} failed requests/s per task, at least half of {}: no scale-in",
                fmt(value),
                fmt(target)
            ),
        )
    } else {
        Judged::new(
            None,
            Vote::NoObjection,
            format!("{} failed requests/s per task, well below {}", fmt(value), fmt(target)),
        )
    }
}

fn compare(proposal: u32, current: u32) -> Vote {
    match proposal.cmp(&current) {
        std::cmp::Ordering::Greater => Vote::Out,
        std::cmp::Ordering::Less => Vote::In,
        std::cmp::Ordering::Equal => Vote::Hold,
    }
}

/// Rounds a fractional task count up, forgiving float noise such as 2.0000000001.
fn ceil_count(x: f64) -> u32 {
    (x.min(PROPOSAL_CAP) - 1e-9).ceil().max(0.0) as u32
}

fn fmt(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

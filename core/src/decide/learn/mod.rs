//! The demand target a request_rate rule learns from the service's own readings: what a
//! task serves within its latency rule's SLO, estimated from many steady readings
//! (`knee.rs`), each accepted only if it describes one steady state (`evidence.rs`).
//!
//! An operator's `target` for requests per task is a guess, and a wrong one fails either
//! way: set too high, the demand rule keeps the count low while latency suffers; too low,
//! the fleet runs twice the size it needs. Once the knee is known, the target is
//! `learned_share` × the knee, so the demand rule sizes the fleet to it, scale-out and
//! scale-in alike; the latency guard stays the safety net.

pub mod evidence;
pub mod knee;
pub mod verdict;

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use self::evidence::{Refusal, Window};
use self::knee::{Basis, Knee, KneeModel, Slo};
pub use self::verdict::KneeVerdict;
use super::types::{Capacity, RuleVerdict, Vote};
use crate::policy::{Goal, Measure, Policy, Rule};

/// Failures at this share of an error rule's target make a reading no evidence: a service
/// that sheds load keeps the latency of what it serves low (a "held" reading that is not),
/// and a task that crashed makes latency high at any rate (a "breach" that is not). The
/// readings just before shedding starts bracket the knee well enough.
const FAILURE_SHARE: f64 = 0.1;

/// What a learning rule remembers between rounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Learning {
    pub model: KneeModel,
    /// The last window read, accepted or not: the next one is compared with it.
    #[serde(default)]
    pub last: Option<Window>,
    /// The start of the run of steady windows the last one belongs to.
    #[serde(default)]
    pub steady_since: Option<DateTime<Utc>>,
}

impl Learning {
    /// The state after a round's verdict.
    pub fn record(&mut self, slo: Slo, verdict: &KneeVerdict) {
        if verdict.revision != self.model.revision {
            let at = verdict.window.map(|w| w.at).or(self.model.updated).unwrap_or_default();
            self.model = self.model.on_revision(verdict.revision, slo, at);
        }
        self.steady_since = verdict.steady_since;
        if let Some(w) = verdict.window {
            if verdict.accepted() {
                self.model.add(&w, slo);
            }
            if self.last.is_none_or(|l| w.at > l.at) {
                self.last = Some(w);
            }
        }
    }
}

/// The share a learning rule aims at when a confident forecast sets it (never below the
/// rule's own).
fn shared(rule: &Rule, share: Option<f64>) -> Option<f64> {
    let own = rule.learn.as_ref()?.share;
    share.filter(|s| *s > own)
}

/// The rule as it applies now: a learning rule's target is `share` × the knee it decides
/// by. Borrowed unchanged for every other rule (this runs for every rule of every decision).
pub fn effective_rule<'a>(rule: &'a Rule, knees: &BTreeMap<String, KneeVerdict>) -> Cow<'a, Rule> {
    let Some(learn) = &rule.learn else {
        return Cow::Borrowed(rule);
    };
    let Some(knee) = knees.get(&rule.name).and_then(|v| v.knee) else {
        return Cow::Borrowed(rule);
    };
    let share = knees.get(&rule.name).and_then(|v| v.share).unwrap_or(learn.share);
    let mut owned = rule.clone();
    if let Goal::Track { target, .. } = &mut owned.goal {
        *target = learned_target(*target, share, &knee);
    }
    Cow::Owned(owned)
}

/// The target a knee gives. A tight knee sizes the fleet: `share` × the knee. A loose one
/// only bounds the written target (the operator's guess): it must be at most `share` ×
/// the highest the knee can be (the SLO broke there) and at least `share` × the lowest
/// (it held there). A knee that is only a lower bound (no breach seen, no CPU line to say
/// where a task saturates) may raise the written target but never lower it: a flat p99
/// says nothing about where it bends.
fn learned_target(written: f64, share: f64, knee: &Knee) -> f64 {
    match knee.basis {
        Basis::Extrapolated => written.max(share * knee.low),
        _ if knee.tight() => share * knee.per_task,
        _ => written.clamp(share * knee.low, share * knee.high.max(knee.low)),
    }
}

/// Why a learning rule's target is what it is, for its verdict.
pub fn explain(rule: &Rule, knees: &BTreeMap<String, KneeVerdict>) -> Option<String> {
    let learn = rule.learn.as_ref()?;
    let verdict = knees.get(&rule.name);
    let share = verdict.and_then(|v| v.share).unwrap_or(learn.share);
    let text = match verdict.and_then(|v| v.knee) {
        Some(k) => match rule.goal {
            Goal::Track { target, .. } if learned_target(target, share, &k) == target => {
                format!("target as written: {} ({})", target, k.describe())
            }
            Goal::Track { target, .. } if !k.tight() || k.basis == Basis::Extrapolated => format!(
                "target {:.0}: the written {target} held to what {} x the knee allows ({})",
                learned_target(target, share, &k),
                share,
                k.describe()
            ),
            _ => format!(
                "target {} x {:.0}/s per task{}: {}",
                share,
                k.per_task,
                if share == learn.share {
                    ""
                } else {
                    " (the forecast is confident)"
                },
                k.describe()
            ),
        },
        None => format!("target as written until {} shows where its SLO breaks", learn.from),
    };
    Some(text)
}

/// The knees the rules decide by before this round's readings.
pub fn known(
    policy: &Policy,
    learned: &BTreeMap<String, Learning>,
    share: Option<f64>,
    capacity: Capacity,
    now: DateTime<Utc>,
) -> BTreeMap<String, KneeVerdict> {
    learning_rules(policy)
        .map(|(rule, slo)| {
            let knee = learned
                .get(&rule.name)
                .and_then(|l| l.model.on_revision(capacity.revision, slo, now).estimate(slo, now));
            (
                rule.name.clone(),
                KneeVerdict {
                    revision: capacity.revision,
                    knee,
                    share: shared(rule, share),
                    ..KneeVerdict::default()
                },
            )
        })
        .collect()
}

/// Each learning rule of the policy, with the SLO of the latency rule it learns from.
pub fn learning_rules(policy: &Policy) -> impl Iterator<Item = (&Rule, Slo)> {
    policy.rules.iter().filter_map(|rule| {
        let learn = rule.learn.as_ref()?;
        let slo_rule = policy.rules.iter().find(|r| r.name == learn.from)?;
        let Measure::Latency { quantile } = slo_rule.measures else {
            return None;
        };
        Some((
            rule,
            Slo {
                seconds: slo_rule.goal.target(),
                quantile,
            },
        ))
    })
}

/// What each learning rule makes of this round: its window, whether it is evidence, and
/// the knee with it. Pure: the same verdicts on the same history give the same answer.
pub fn learn(
    policy: &Policy,
    verdicts: &[RuleVerdict],
    capacity: Capacity,
    learned: &BTreeMap<String, Learning>,
    before: &BTreeMap<String, KneeVerdict>,
    serving: Option<(u32, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> BTreeMap<String, KneeVerdict> {
    let verdict = |name: &str| verdicts.iter().find(|v| v.rule == name);
    let failing = policy.rules.iter().any(|r| {
        matches!(r.goal, Goal::ErrorGuard { .. })
            && verdict(&r.name)
                .filter(|v| v.vote != Vote::Missing)
                .and_then(|v| v.value)
                .is_some_and(|value| value > FAILURE_SHARE * r.goal.target())
    });
    let cpu = policy
        .rules
        .iter()
        .find(|r| r.measures == Measure::Cpu)
        .and_then(|r| reading(verdict(&r.name), now));
    let mut out = BTreeMap::new();
    for (rule, slo) in learning_rules(policy) {
        let Some(learn) = &rule.learn else { continue };
        let Some(slo_rule) = policy.rules.iter().find(|r| r.name == learn.from) else {
            continue;
        };
        let state = learned.get(&rule.name).cloned().unwrap_or_default();
        let same_revision = state.model.revision == capacity.revision;
        let mut model = state.model.on_revision(capacity.revision, slo, now);
        let period = rule.period.max(slo_rule.period);
        let window = window(verdict(&rule.name), verdict(&learn.from), capacity, serving, now);
        let previous = state.last.filter(|_| same_revision);
        let since = serving.map_or(now, |(_, s)| s);
        let refused = match &window {
            None => None,
            Some(Err(r)) => Some(*r),
            Some(Ok(w)) => match evidence::steady(w, previous.as_ref(), since, period, slo.seconds) {
                Err(r) => Some(r),
                Ok(()) if capacity.deployment_in_progress => Some(Refusal::Rollout),
                Ok(()) if failing => Some(Refusal::Failing),
                Ok(()) => None,
            },
        };
        // The steady span goes on from the window before this one while windows keep
        // being steady; CPU counts only if measured wholly inside it.
        let steady_since = match (&window, refused) {
            (Some(Ok(_)), None) => state.steady_since.filter(|_| same_revision).or(previous.map(|p| p.at)),
            _ => None,
        };
        let window = window.and_then(Result::ok).map(|mut w| {
            w.cpu = cpu
                .filter(|(_, at)| steady_since.is_some_and(|s| *at >= s))
                .map(|(value, _)| (value / 100.0).clamp(0.0, 1.0));
            w
        });
        let added = window.is_some() && refused.is_none();
        if let (Some(w), None) = (window, refused) {
            model.add(&w, slo);
        }
        // Without new evidence the knee is the one `known` found on the same model.
        let knee = match before.get(&rule.name) {
            Some(b) if !added => b.knee,
            _ => model.estimate(slo, now),
        };
        out.insert(
            rule.name.clone(),
            KneeVerdict {
                revision: capacity.revision,
                window,
                refused,
                steady_since,
                knee,
                // The share `known` found for this round.
                share: before.get(&rule.name).and_then(|b| b.share),
            },
        );
    }
    out
}

/// A verdict's value and the start of the window it was measured over, if it has data.
fn reading(v: Option<&RuleVerdict>, now: DateTime<Utc>) -> Option<(f64, DateTime<Utc>)> {
    let v = v.filter(|v| v.vote != Vote::Missing)?;
    let at = now - chrono::Duration::milliseconds((v.age_seconds? * 1000.0) as i64);
    Some((v.value?, at))
}

/// The round's window from the demand and latency readings (None without both), if they
/// were measured over the same period by the tasks serving now.
fn window(
    rate: Option<&RuleVerdict>,
    latency: Option<&RuleVerdict>,
    capacity: Capacity,
    serving: Option<(u32, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Option<Result<Window, Refusal>> {
    let (rate, rate_at) = reading(rate, now)?;
    let (p99, p99_at) = reading(latency, now)?;
    if (rate_at - p99_at).num_milliseconds().abs() > 1_000 {
        return Some(Err(Refusal::Apart));
    }
    let Some((tasks, _)) = serving.filter(|(tasks, _)| *tasks == capacity.running && *tasks > 0) else {
        return Some(Err(Refusal::FleetChanged));
    };
    Some(Ok(Window {
        rate,
        p99,
        at: rate_at.min(p99_at),
        tasks,
        cpu: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knee(per_task: f64, low: f64, high: f64, basis: Basis) -> Knee {
        Knee {
            per_task,
            low,
            high,
            readings: 20.0,
            span_s: 600,
            basis,
        }
    }

    #[test]
    fn a_tight_knee_sizes_the_fleet_up_or_down() {
        assert_eq!(
            learned_target(1400.0, 0.7, &knee(1000.0, 950.0, 1050.0, Basis::Bracketed)),
            700.0
        );
        assert_eq!(
            learned_target(1400.0, 0.7, &knee(3000.0, 2900.0, 3100.0, Basis::Anchored)),
            2100.0
        );
    }

    #[test]
    fn a_loose_knee_only_bounds_the_written_target() {
        // Anywhere in 800..5000: the written 1,400 stands.
        assert_eq!(
            learned_target(1400.0, 0.7, &knee(988.0, 800.0, 5000.0, Basis::Bracketed)),
            1400.0
        );
        // Broke somewhere in 900..1300: the written 1,400 is too high for 0.7 x 1,300.
        assert_eq!(
            learned_target(1400.0, 0.7, &knee(1000.0, 900.0, 1300.0, Basis::Bracketed)),
            0.7 * 1300.0
        );
    }

    #[test]
    fn a_knee_that_is_only_a_lower_bound_never_lowers_the_target() {
        assert_eq!(
            learned_target(1400.0, 0.7, &knee(988.0, 780.0, 1170.0, Basis::Extrapolated)),
            1400.0
        );
        assert_eq!(
            learned_target(1400.0, 0.7, &knee(3000.0, 2500.0, 3750.0, Basis::Extrapolated)),
            0.7 * 2500.0
        );
    }
}

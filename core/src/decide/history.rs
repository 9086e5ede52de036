//! What the core remembers between decisions. Serializable, so it survives restarts.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::learn::Learning;
use super::predict::PredictState;
use super::types::{Action, Decision};
use crate::policy::Policy;
use crate::time::to_chrono;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub last_scale_out: Option<DateTime<Utc>>,
    pub last_scale_in: Option<DateTime<Utc>>,
    /// Recommendations inside the stabilization window, oldest first.
    pub recommendations: Vec<(DateTime<Utc>, u32)>,
    /// The desired count as we last saw or set it; a different one means someone else changed it.
    pub last_desired: Option<u32>,
    /// Since when every rule has been without data.
    pub blind_since: Option<DateTime<Utc>>,
    /// Start of the current unbroken run of evaluations. Scale-in needs one whole
    /// stabilization window of it: a fresh start, a lost state file or a long outage of
    /// the daemon has not seen the window's peak.
    #[serde(default)]
    pub observed_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_evaluated: Option<DateTime<Utc>>,
    /// When the desired count last changed (by us or by someone else). A datapoint from
    /// before it was measured on another count and may not move the count again.
    #[serde(default)]
    pub last_change: Option<DateTime<Utc>>,
    /// When a scale-out last undid a recent scale-in (within [`REVERSAL_WINDOW`]): for
    /// [`PATIENCE_MEMORY`] after it, scale-ins wait for the policy's longer `patience`.
    #[serde(default)]
    pub reversed_at: Option<DateTime<Utc>>,
    /// Since when the recommendation has been below the desired count (capacity to give back).
    #[serde(default)]
    pub wanted_less_since: Option<DateTime<Utc>>,
    /// The running count and since when it has been that: readings from before it (and
    /// shortly after) were measured on other tasks or are a backlog draining.
    #[serde(default)]
    pub serving: Option<(u32, DateTime<Utc>)>,
    /// What learning rules know about what a task serves, by rule name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub learning: BTreeMap<String, Learning>,
    /// What prediction knows: the demand series, its fit, measured start-ups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predict: Option<PredictState>,
    /// AWS's own scaling of the target, suspended by this policy's `takeover`: kept with
    /// the history so that whichever daemon holds it gives AWS's scaling back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_suspension: Option<crate::migrate::handover::Suspension>,
}

/// A scale-out this soon after a scale-in reverses it.
pub const REVERSAL_WINDOW: Duration = Duration::from_secs(300);

/// How long a reversal keeps scale-ins patient.
pub const PATIENCE_MEMORY: Duration = Duration::from_secs(3600);

/// How far ahead of this daemon's clock a restored time may lie and still be trusted
/// (clocks of healthy hosts agree far better; a state file or a peer further ahead is
/// wrong, and its times would hold cooldowns and windows open for that long).
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(5);

/// Evaluations further apart than this break the observed run (see `observed_since`).
pub fn max_gap(policy: &Policy) -> Duration {
    (policy.interval * 3).max(Duration::from_secs(60))
}

impl History {
    /// Records an evaluation, whether or not its decision is applied.
    pub fn record_evaluation(&mut self, policy: &Policy, decision: &Decision) {
        let now = decision.at;
        let window_start = now - to_chrono(policy.scale_in.stabilization.max(policy.scale_in.patience));
        self.recommendations.retain(|(t, _)| *t > window_start && *t <= now);
        self.recommendations.push((now, decision.recommendation));
        self.last_desired = Some(decision.capacity.desired);
        self.blind_since = if decision.blind {
            self.blind_since.or(Some(now))
        } else {
            None
        };
        let broken = self
            .last_evaluated
            .is_none_or(|t| now < t || now - t > to_chrono(max_gap(policy)));
        if broken || self.observed_since.is_none() {
            self.observed_since = Some(now);
        }
        self.last_evaluated = Some(now);
        for (rule, slo) in super::learn::learning_rules(policy) {
            if let Some(verdict) = decision.knees.get(&rule.name) {
                self.learning.entry(rule.name.clone()).or_default().record(slo, verdict);
            }
        }
        self.learning.retain(|name, _| decision.knees.contains_key(name));
        match &decision.forecast {
            Some(f) => self
                .predict
                .get_or_insert_default()
                .record(policy, f, decision.capacity, now),
            None => self.predict = None,
        }
        let running = decision.capacity.running;
        self.serving = match self.serving {
            Some((tasks, since)) if tasks == running && since <= now => Some((tasks, since)),
            _ => Some((running, now)),
        };
        if decision.external_change.is_some() {
            self.last_change = Some(now);
        }
        // While patient, load that comes back for the capacity held is a reversal avoided:
        // it keeps the patience going as long as the load keeps coming back. Only a rule
        // with data asking for the whole count is the load coming back; a blind or
        // missing rule, a veto or a hold is not.
        let desired = decision.capacity.desired;
        let asks_for_all = decision.rules.iter().any(|v| v.proposal.is_some_and(|p| p >= desired));
        if !decision.blind && decision.recommendation < desired {
            self.wanted_less_since.get_or_insert(now);
        } else if !decision.blind
            && asks_for_all
            && let Some(since) = self.wanted_less_since.take()
        {
            let (_, patient) = self.stabilization(policy, now);
            let would_reverse = to_chrono(policy.scale_in.stabilization + REVERSAL_WINDOW);
            if patient && now >= since && now - since <= would_reverse {
                self.reversed_at = Some(now);
            }
        }
    }

    /// Records that the backend accepted the decision's desired count. Not called for
    /// dry runs or failed updates, so those start no cooldown.
    pub fn record_applied(&mut self, decision: &Decision) {
        match decision.action {
            Action::ScaleOut => {
                if self
                    .last_scale_in
                    .is_some_and(|t| decision.at - t <= to_chrono(REVERSAL_WINDOW))
                {
                    self.reversed_at = Some(decision.at);
                }
                self.last_scale_out = Some(decision.at);
                if let Some(p) = self.predict.as_mut() {
                    p.started(decision.at, decision.desired);
                }
                // A scale-out cuts a running scale-in cooldown short.
                self.last_scale_in = None;
            }
            Action::ScaleIn => self.last_scale_in = Some(decision.at),
            Action::Hold => {}
        }
        if decision.desired != decision.capacity.desired {
            self.last_change = Some(decision.at);
            // A lull is measured against the count in force; a new count starts afresh.
            self.wanted_less_since = None;
        }
        self.last_desired = Some(decision.desired);
    }

    /// The scale-in stabilization window in force at `now`: the policy's `patience` for an
    /// hour after a reversed scale-in, else its `stabilization`.
    pub fn stabilization(&self, policy: &Policy, now: DateTime<Utc>) -> (Duration, bool) {
        let patient = self
            .reversed_at
            .is_some_and(|t| t <= now && now - t < to_chrono(PATIENCE_MEMORY));
        if patient && policy.scale_in.patience > policy.scale_in.stabilization {
            (policy.scale_in.patience, true)
        } else {
            (policy.scale_in.stabilization, false)
        }
    }

    /// This history as restored at `now` from a state store, possibly written on another
    /// daemon's clock (`handed_over`: another daemon's, whose last stabilization window
    /// this one has not watched). Times later than `now` beyond [`CLOCK_SKEW_ALLOWANCE`]
    /// are not trusted, and the start is conservative:
    /// - a scale-out from the future is forgotten, so it blocks no scale-out now;
    /// - times that hold scale-in back (a scale-in, a reversal, a lull, learned
    ///   evidence, the serving run, recommendations) are moved to `now`;
    /// - the count's last change is moved to `now`, so readings from before it do not act;
    /// - the observed run starts afresh: no scale-in before a whole window is watched.
    pub fn restored(mut self, now: DateTime<Utc>, handed_over: bool) -> Self {
        let limit = now + to_chrono(CLOCK_SKEW_ALLOWANCE);
        let future = self.times_after(limit);
        let clamp = |t: &mut DateTime<Utc>| {
            if *t > limit {
                *t = now;
            }
        };
        if self.last_scale_out.is_some_and(|t| t > limit) {
            self.last_scale_out = None;
        }
        for t in [
            &mut self.last_scale_in,
            &mut self.blind_since,
            &mut self.last_change,
            &mut self.reversed_at,
            &mut self.wanted_less_since,
        ]
        .into_iter()
        .flatten()
        {
            clamp(t);
        }
        if let Some((_, since)) = self.serving.as_mut() {
            clamp(since);
        }
        for (t, _) in self.recommendations.iter_mut() {
            clamp(t);
        }
        for l in self.learning.values_mut() {
            if let Some(t) = l.model.updated.as_mut() {
                clamp(t);
            }
            if let Some(t) = l.model.first.as_mut() {
                clamp(t);
            }
            if let Some(w) = l.last.as_mut() {
                clamp(&mut w.at);
            }
        }
        if self.last_evaluated.is_some_and(|t| t > limit) {
            self.last_evaluated = None;
        }
        if let Some(p) = self.predict.as_mut() {
            p.restored(limit);
        }
        if handed_over || future > 0 {
            self.observed_since = None;
        }
        self
    }

    /// How many of the times held lie after `t`.
    pub fn times_after(&self, t: DateTime<Utc>) -> usize {
        let singles = [
            self.last_scale_out,
            self.last_scale_in,
            self.blind_since,
            self.observed_since,
            self.last_evaluated,
            self.last_change,
            self.reversed_at,
            self.wanted_less_since,
            self.serving.map(|(_, since)| since),
        ];
        singles.iter().flatten().filter(|x| **x > t).count()
            + self.recommendations.iter().filter(|(x, _)| *x > t).count()
            + self
                .learning
                .values()
                .filter(|l| l.model.updated.is_some_and(|u| u > t) || l.last.is_some_and(|w| w.at > t))
                .count()
    }

    /// The highest recommendation in the window ending at `now`.
    pub fn highest_recommendation_since(&self, since: DateTime<Utc>) -> Option<u32> {
        self.recommendations
            .iter()
            .filter(|(t, _)| *t > since)
            .map(|(_, r)| *r)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn restored_times_from_the_future_are_clamped_or_forgotten_and_the_start_is_conservative() {
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
        let later = now + chrono::Duration::hours(1);
        let near = now + chrono::Duration::seconds(2);
        let h = History {
            last_scale_out: Some(later),
            last_scale_in: Some(later),
            last_change: Some(later),
            reversed_at: Some(later),
            recommendations: vec![(now - chrono::Duration::seconds(30), 3), (later, 5)],
            observed_since: Some(now - chrono::Duration::hours(3)),
            last_evaluated: Some(later),
            serving: Some((4, later)),
            ..History::default()
        };
        let r = h.restored(now, false);
        assert_eq!(
            r.last_scale_out, None,
            "a scale-out from the future blocks no scale-out now"
        );
        assert_eq!(
            (r.last_scale_in, r.last_change, r.reversed_at),
            (Some(now), Some(now), Some(now))
        );
        assert_eq!(
            r.recommendations,
            vec![(now - chrono::Duration::seconds(30), 3), (now, 5)]
        );
        assert_eq!(r.serving, Some((4, now)));
        assert_eq!(r.last_evaluated, None);
        assert_eq!(r.observed_since, None, "no scale-in before a whole window is watched");

        // Within the allowance, and in the past, times are kept as they are.
        let h = History {
            last_scale_out: Some(near),
            observed_since: Some(now - chrono::Duration::hours(3)),
            ..History::default()
        };
        let r = h.clone().restored(now, false);
        assert_eq!(r, h);
        assert_eq!(
            h.restored(now, true).observed_since,
            None,
            "another daemon's window is not watched"
        );
    }
}

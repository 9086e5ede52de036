//! What the core remembers between decisions. Serializable, so it survives restarts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::types::{Action, Decision};
use crate::policy::Policy;

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
}

/// Evaluations further apart than this break the observed run (see `observed_since`).
pub fn max_gap(policy: &Policy) -> Duration {
    (policy.interval * 3).max(Duration::from_secs(60))
}

impl History {
    /// Records an evaluation, whether or not its decision is applied.
    pub fn record_evaluation(&mut self, policy: &Policy, decision: &Decision) {
        let now = decision.at;
        let window_start = now - to_chrono(policy.scale_in.stabilization);
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
        if decision.external_change.is_some() {
            self.last_change = Some(now);
        }
    }

    /// Records that the backend accepted the decision's desired count. Not called for
    /// dry runs or failed updates, so those start no cooldown.
    pub fn record_applied(&mut self, decision: &Decision) {
        match decision.action {
            Action::ScaleOut => {
                self.last_scale_out = Some(decision.at);
                // A scale-out cuts a running scale-in cooldown short.
                self.last_scale_in = None;
            }
            Action::ScaleIn => self.last_scale_in = Some(decision.at),
            Action::Hold => {}
        }
        if decision.desired != decision.capacity.desired {
            self.last_change = Some(decision.at);
        }
        self.last_desired = Some(decision.desired);
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

pub fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

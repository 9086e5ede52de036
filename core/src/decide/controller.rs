//! A policy with its history: evaluates, and settles what acting on a decision did. The
//! daemon and the simulator both drive it, so both follow one protocol.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::history::History;
use super::types::{Decision, Observation};
use crate::policy::Policy;

/// What became of a decision the controller asked to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The backend took the new desired count.
    Applied,
    /// The backend answered and refused or failed: nothing changed.
    Refused,
    /// The call was never sent (fenced, the write-ahead failed, or its budget ran out
    /// before sending): nothing changed.
    NotSent,
    /// The call was sent and no answer came: the count may or may not have changed.
    Unknown,
}

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
        let decision = super::decide(&self.policy, obs, &self.history, now);
        self.history.record_evaluation(&self.policy, &decision);
        decision
    }

    /// How the history changes once acting on `decision` has had `outcome`:
    /// - applied: the action counts (cooldowns start, the count is the new baseline);
    /// - refused or never sent: nothing happened, no cooldown starts, and the next round
    ///   decides again from fresh readings;
    /// - unknown: the next reading of the count is not an outside change whatever it is,
    ///   and every datapoint from before now counts as measured on another count, so one
    ///   datapoint still cannot act twice.
    pub fn settle(&mut self, decision: &Decision, outcome: Outcome, now: DateTime<Utc>) {
        match outcome {
            Outcome::Applied => self.history.record_applied(decision),
            Outcome::Refused | Outcome::NotSent => {}
            Outcome::Unknown => {
                self.history.last_desired = None;
                self.history.last_change = Some(now);
            }
        }
    }
}

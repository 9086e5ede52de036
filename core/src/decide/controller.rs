//! A policy with its history: evaluates, and settles what acting on a decision did. The
//! daemon and the simulator both drive it, so both follow one protocol.

use std::sync::Arc;

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
    /// Shared, not copied: the daemon hands a round's tasks the policy as it is at the
    /// round's start, and a fleet of thousands would copy every policy every round.
    pub policy: Arc<Policy>,
    pub history: History,
}

impl Controller {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
            history: History::default(),
        }
    }

    pub fn evaluate(&mut self, obs: &Observation, now: DateTime<Utc>) -> Decision {
        let decision = super::decision::decide(&self.policy, obs, &self.history, now);
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
    ///
    /// A decision that was not to be applied (a hold, a dry run) changes nothing, whatever
    /// the outcome says.
    pub fn settle(&mut self, decision: &Decision, outcome: Outcome, now: DateTime<Utc>) {
        if !decision.should_apply() {
            return;
        }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::TimeZone;

    use super::*;
    use crate::decide::{Capacity, Reading, Sample};

    fn controller(extra: &str) -> Controller {
        let text = format!(
            "min = 1\nmax = 10\n{extra}\n[scale_out]\ncooldown = \"60s\"\n[target]\nbackend = \"sim\"\nservice = \"s\"\n\
             [[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 50\n"
        );
        let policy = crate::policy::parse(Path::new("p.toml"), &text).unwrap();
        Controller::new(policy)
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
    }

    /// A scale-out from 2 to 4 (CPU twice the target).
    fn scale_out(c: &mut Controller) -> Decision {
        let obs = Observation {
            capacity: Capacity {
                desired: 2,
                running: 2,
                pending: 0,
                deployment_in_progress: false,
                revision: 0,
            },
            metrics: [(
                "cpu".to_string(),
                Sample::Value(Reading {
                    value: 100.0,
                    at: now() - chrono::Duration::seconds(60),
                    base: None,
                }),
            )]
            .into(),
            withheld: None,
        };
        let d = c.evaluate(&obs, now());
        assert_eq!((d.capacity.desired, d.desired), (2, 4), "{}", d.explain());
        d
    }

    #[test]
    fn an_applied_action_starts_its_cooldown_and_is_the_new_baseline() {
        let mut c = controller("");
        let d = scale_out(&mut c);
        c.settle(&d, Outcome::Applied, now());
        assert_eq!(c.history.last_scale_out, Some(now()));
        assert_eq!(c.history.last_desired, Some(4));
        assert_eq!(c.history.last_change, Some(now()));
    }

    #[test]
    fn a_refused_or_unsent_action_leaves_no_trace_so_the_next_round_tries_again() {
        for outcome in [Outcome::Refused, Outcome::NotSent] {
            let mut c = controller("");
            let d = scale_out(&mut c);
            let before = c.history.clone();
            c.settle(&d, outcome, now());
            assert_eq!(c.history, before, "{outcome:?}");
            assert_eq!(c.history.last_scale_out, None, "{outcome:?}: no cooldown");
        }
    }

    #[test]
    fn an_action_of_unknown_outcome_calls_no_count_an_outside_change_and_acts_on_no_old_datapoint() {
        let mut c = controller("");
        let d = scale_out(&mut c);
        c.settle(&d, Outcome::Unknown, now());
        assert_eq!(
            c.history.last_desired, None,
            "whatever the count is next, it is not news"
        );
        assert_eq!(
            c.history.last_change,
            Some(now()),
            "readings from before now act no more"
        );
        assert_eq!(c.history.last_scale_out, None, "no cooldown: it may not have happened");
    }

    #[test]
    fn a_dry_run_is_never_settled_as_applied() {
        let mut c = controller("dry_run = true");
        let d = scale_out(&mut c);
        let before = c.history.clone();
        c.settle(&d, Outcome::Applied, now());
        assert_eq!(c.history, before);
    }
}

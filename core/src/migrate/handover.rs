//! Whether the daemon may scale a service that Application Auto Scaling also scales, and
//! what it must do first. Two writers of one desired count fight: each takes the other's
//! change as a baseline and changes it again. So a policy either takes AWS's scaling over
//! (suspends it, and gives it back as it was when the policy goes or stops taking over),
//! or acts not at all while any of it is active.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::scaling::{AwsScaling, Suspended};

/// AWS's scaling suspended by this daemon: where, when, and the state it found, to
/// restore; kept with the target's history so that it is given back even after the policy
/// that took it is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// `service/<cluster>/<service>`.
    pub resource_id: String,
    pub region: Option<String>,
    pub at: DateTime<Utc>,
    pub before: Suspended,
}

impl Suspension {
    /// The cluster and service suspended.
    pub fn service(&self) -> Option<(&str, &str)> {
        let rest = self.resource_id.strip_prefix("service/")?;
        rest.split_once('/')
    }
}

/// What the daemon does about AWS's scaling of one policy's service this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// Nothing of AWS's changes the count: act.
    Free,
    /// Suspended by this daemon and still taken over: act.
    Held,
    /// Suspend AWS's scaling (all of it, so no scheduled action moves the count either),
    /// then act.
    Suspend { active: Vec<String> },
    /// This daemon suspended AWS's scaling and the policy no longer takes over: restore the
    /// state it found, then act not while anything of AWS's is active.
    Resume { to: Suspended },
    /// AWS's scaling is active and the policy does not take over: decide, change nothing.
    Refuse { reason: String },
}

/// The plan, from AWS's configuration as read, the policy's `takeover`, and whether this
/// daemon holds a suspension.
pub fn plan(scaling: &AwsScaling, takeover: bool, ours: Option<&Suspension>) -> Handover {
    let active = scaling.active();
    match (takeover, ours) {
        (true, Some(_)) if active.is_empty() => Handover::Held,
        (true, _) if active.is_empty() => Handover::Free,
        (true, _) => Handover::Suspend { active },
        (false, Some(s)) => Handover::Resume { to: s.before },
        (false, None) if active.is_empty() => Handover::Free,
        (false, None) => Handover::Refuse {
            reason: refusal(&active),
        },
    }
}

/// What a policy may do when AWS's scaler of its service cannot be read this round.
/// `known` is what the last read that succeeded said (None: none has since the policy
/// was loaded), `why` what went wrong. A known answer is kept. Never read, a policy that
/// takes over and holds no suspension changes nothing: the operator said AWS's scaling
/// may be there, and acting before it is suspended is the fight this prevents. A policy
/// without `takeover` acts as one would where AWS's scaler is not in use (the status
/// says it could not tell): otherwise a missing permission would stop every policy.
pub fn unreadable(takeover: bool, ours: Option<&Suspension>, known: Option<Option<&str>>, why: &str) -> Option<String> {
    match known {
        Some(answer) => answer.map(String::from),
        None if takeover && ours.is_none() => Some(format!(
            "not acting: takeover = true, but AWS's scaling of this service could not be read \
             to suspend it ({why}); the next check tries again"
        )),
        None => None,
    }
}

/// Why a policy without `takeover` changes nothing.
pub fn refusal(active: &[String]) -> String {
    format!(
        "not acting: AWS Application Auto Scaling also scales this service ({}); two scalers \
         would fight. Set `takeover = true` to suspend AWS's scaling while this policy is in \
         force, or remove AWS's policies",
        active.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::scaling::{AwsPolicy, PolicyKind, ScalableTarget, StepScaling};

    fn scaling(suspended: Suspended) -> AwsScaling {
        AwsScaling {
            resource_id: "service/prod/search".into(),
            target: Some(ScalableTarget {
                min: 1,
                max: 9,
                suspended,
            }),
            policies: vec![AwsPolicy {
                name: "steps".into(),
                kind: PolicyKind::Step(StepScaling {
                    adjustment_type: "ChangeInCapacity".into(),
                    cooldown: Some(60),
                    steps: Vec::new(),
                    alarm: None,
                }),
            }],
            scheduled: Vec::new(),
        }
    }

    fn ours(before: Suspended) -> Option<Suspension> {
        Some(Suspension {
            resource_id: "service/prod/search".into(),
            region: None,
            at: DateTime::UNIX_EPOCH,
            before,
        })
    }

    #[test]
    fn an_active_aws_policy_is_suspended_only_with_takeover() {
        let active = scaling(Suspended::NONE);
        assert_eq!(
            plan(&active, true, None),
            Handover::Suspend {
                active: vec!["step scaling policy \"steps\"".into()]
            }
        );
        let Handover::Refuse { reason } = plan(&active, false, None) else {
            panic!("without takeover the daemon must not act");
        };
        assert!(reason.contains("step scaling policy \"steps\"") && reason.contains("takeover = true"));
    }

    #[test]
    fn a_suspension_of_ours_is_held_then_given_back_as_it_was_found() {
        let suspended = scaling(Suspended::ALL);
        assert_eq!(plan(&suspended, true, ours(Suspended::NONE).as_ref()), Handover::Held);
        let partly = Suspended {
            scheduled: true,
            ..Suspended::NONE
        };
        assert_eq!(
            plan(&suspended, false, ours(partly).as_ref()),
            Handover::Resume { to: partly },
            "the state found before the takeover is restored, not a blanket resume"
        );
        // Someone else resumed AWS's scaling under a held takeover: suspend again.
        assert!(matches!(
            plan(&scaling(Suspended::NONE), true, ours(Suspended::NONE).as_ref()),
            Handover::Suspend { .. }
        ));
    }

    #[test]
    fn a_suspension_names_its_service() {
        assert_eq!(ours(Suspended::NONE).unwrap().service(), Some(("prod", "search")));
    }

    #[test]
    fn nothing_of_aws_is_free_either_way() {
        let unregistered = AwsScaling::default();
        assert_eq!(plan(&unregistered, true, None), Handover::Free);
        assert_eq!(plan(&unregistered, false, None), Handover::Free);
        // Suspended by the operator, not by us: nothing to give back.
        assert_eq!(plan(&scaling(Suspended::ALL), false, None), Handover::Free);
    }

    #[test]
    fn a_policy_that_takes_over_waits_for_a_first_read_before_acting() {
        let held = Suspension {
            resource_id: "service/prod/search".into(),
            region: None,
            at: DateTime::<Utc>::UNIX_EPOCH,
            before: Suspended::NONE,
        };
        let never = unreadable(true, None, None, "throttled");
        assert!(never.as_deref().is_some_and(|r| r.contains("throttled")), "{never:?}");
        assert_eq!(
            unreadable(true, Some(&held), None, "throttled"),
            None,
            "already suspended by us"
        );
        assert_eq!(unreadable(false, None, None, "access denied"), None, "without takeover");
        assert_eq!(unreadable(true, None, Some(None), "x"), None, "the last read said free");
        assert_eq!(
            unreadable(false, None, Some(Some("refused")), "x").as_deref(),
            Some("refused"),
            "the last answer is kept"
        );
    }
}

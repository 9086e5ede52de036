//! What the takeover of AWS's own scaler writes into the registry: when it was last read,
//! why a policy is withheld, and the suspension this daemon holds (in the target's
//! history, so it is saved and given back by whichever daemon holds the history).

use autoscaler_core::migrate::handover::Suspension;
use chrono::{DateTime, Utc};

use super::table::Registry;

/// How often AWS's scaler of a service is read again: an AWS policy added outside is
/// seen within this, and a fleet of services costs one read each per this period.
pub const RECHECK: chrono::Duration = chrono::Duration::seconds(120);

/// How soon a read, suspension or restore that failed is tried again: a policy that
/// takes over waits for it before acting, so a throttled call must not cost two minutes.
pub const RETRY: chrono::Duration = chrono::Duration::seconds(15);

impl Registry {
    /// Whether AWS's scaler of this policy's service is due to be read at `now`.
    pub(crate) fn handover_due(&self, name: &str, now: DateTime<Utc>) -> bool {
        self.policies.get(name).is_some_and(|e| {
            let wait = if e.aws_error.is_some() { RETRY } else { RECHECK };
            e.aws_checked.is_none_or(|at| now - at >= wait || at > now)
        })
    }

    /// The suspension of AWS's scaling this policy's target holds.
    pub(crate) fn suspension(&self, name: &str) -> Option<Suspension> {
        self.policies.get(name)?.controller.history.aws_suspension.clone()
    }

    pub(crate) fn set_suspension(&mut self, name: &str, suspension: Option<Suspension>) {
        if let Some(e) = self.policies.get_mut(name) {
            e.controller.history.aws_suspension = suspension;
        }
    }

    /// Records a read of AWS's scaler: why the policy is withheld now (None: it may act),
    /// and what went wrong after it, if anything.
    pub(crate) fn checked(&mut self, name: &str, at: DateTime<Utc>, withheld: Option<String>, error: Option<String>) {
        if let Some(e) = self.policies.get_mut(name) {
            e.aws_read = true;
            e.aws_checked = Some(at);
            e.aws_withheld = withheld;
            e.aws_error = error;
        }
    }

    /// Records a read of AWS's scaler that failed, and why the policy is withheld.
    pub(crate) fn unreadable(&mut self, name: &str, at: DateTime<Utc>, withheld: Option<String>, error: String) {
        if let Some(e) = self.policies.get_mut(name) {
            e.aws_checked = Some(at);
            e.aws_withheld = withheld;
            e.aws_error = Some(error);
        }
    }

    /// What the last read of AWS's scaler that succeeded said (None: none has since the
    /// policy was loaded).
    pub(crate) fn known_handover(&self, name: &str) -> Option<Option<&str>> {
        let e = self.policies.get(name)?;
        e.aws_read.then_some(e.aws_withheld.as_deref())
    }

    /// Suspensions held by targets no policy scales any more (the policy was removed):
    /// AWS's scaling is to be given back there. By target key.
    pub(crate) fn orphaned_suspensions(&self) -> Vec<(String, Suspension)> {
        self.retained
            .iter()
            .filter_map(|(key, r)| r.history.aws_suspension.clone().map(|s| (key.clone(), s)))
            .collect()
    }

    /// AWS's scaling was given back for a retained target.
    pub(crate) fn released(&mut self, key: &str) {
        if let Some(r) = self.retained.get_mut(key) {
            r.history.aws_suspension = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const POLICY: &str = "min = 1\nmax = 4\ntakeover = true\n[target]\nbackend = \"aws\"\ncluster = \"c\"\nservice = \"s\"\n[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";

    #[test]
    fn a_failed_read_is_tried_again_soon_and_a_good_one_only_after_the_recheck() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let mut r = Registry::holding("a", POLICY, t0);
        assert!(r.handover_due("a", t0), "never read");
        assert_eq!(r.known_handover("a"), None);

        r.unreadable("a", t0, Some("withheld".into()), "throttled".into());
        assert_eq!(r.known_handover("a"), None, "a failed read answers nothing");
        assert!(!r.handover_due("a", t0 + RETRY - chrono::Duration::seconds(1)));
        assert!(r.handover_due("a", t0 + RETRY));

        let t1 = t0 + RETRY;
        r.checked("a", t1, None, None);
        assert_eq!(r.known_handover("a"), Some(None));
        assert!(!r.handover_due("a", t1 + RETRY));
        assert!(r.handover_due("a", t1 + RECHECK));
    }
}

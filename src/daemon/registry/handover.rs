//! What the takeover of AWS's own scaler writes into the registry: when it was last read,
//! why a policy is withheld, and the suspension this daemon holds (in the target's
//! history, so it is saved and given back by whichever daemon holds the history).

use autoscaler_core::migrate::handover::Suspension;
use chrono::{DateTime, Utc};

use super::table::Registry;

/// How often AWS's scaler of a service is read again: an AWS policy added outside is
/// seen within this, and a fleet of services costs one read each per this period.
pub const RECHECK: chrono::Duration = chrono::Duration::seconds(120);

impl Registry {
    /// Whether AWS's scaler of this policy's service is due to be read at `now`.
    pub(crate) fn handover_due(&self, name: &str, now: DateTime<Utc>) -> bool {
        self.policies
            .get(name)
            .is_some_and(|e| e.aws_checked.is_none_or(|at| now - at >= RECHECK || at > now))
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
    /// and what went wrong, if anything.
    pub(crate) fn checked(&mut self, name: &str, at: DateTime<Utc>, withheld: Option<String>, error: Option<String>) {
        if let Some(e) = self.policies.get_mut(name) {
            e.aws_checked = Some(at);
            e.aws_withheld = withheld;
            e.aws_error = error;
        }
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

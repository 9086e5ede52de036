//! What one evaluation of a policy writes into the registry: the datapoints seen, the
//! decision, what acting on it did, the journal, the chart points and the counters.

use std::collections::BTreeMap;

use autoscaler_core::decide::{Decision, Observation, Outcome, PredictState, Sample};
use chrono::{DateTime, Utc};

use super::entry::{JournalEntry, Point};
use super::table::Registry;

/// How long the status page's charts look back.
const SERIES_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// How long after a failed demand-history load it is tried again: CloudWatch throttled or
/// down at start must not leave a predicting policy waiting a day for history of its own.
pub const HISTORY_RETRY: chrono::Duration = chrono::Duration::minutes(5);

impl Registry {
    /// Remembers the newest datapoint of each rule, so its age keeps growing while reads fail.
    pub(crate) fn note_datapoints(&mut self, name: &str, metrics: &BTreeMap<String, Sample>) {
        let Some(entry) = self.policies.get_mut(name) else {
            return;
        };
        for (rule, sample) in metrics {
            if let Sample::Value(r) = sample {
                let newest = entry.last_datapoint.entry(rule.clone()).or_insert(r.at);
                *newest = (*newest).max(r.at);
            }
        }
    }

    /// The policy's decision on `obs` at `now`, recorded in its history.
    pub(crate) fn evaluate(&mut self, name: &str, obs: &Observation, now: DateTime<Utc>) -> Option<Decision> {
        Some(self.policies.get_mut(name)?.controller.evaluate(obs, now))
    }

    /// Whether to load this policy's demand history from the backend at `now`: it predicts
    /// and has too little history of its own, and it was not asked for since the policy
    /// loaded, or the last load failed at least [`HISTORY_RETRY`] ago.
    pub(crate) fn history_wanted(&mut self, name: &str, now: DateTime<Utc>) -> bool {
        let Some(entry) = self.policies.get_mut(name) else {
            return false;
        };
        let wanted = !entry.history_asked
            && entry.history_retry.is_none_or(|at| now >= at)
            && PredictState::wants_history(&entry.controller.policy, entry.controller.history.predict.as_ref());
        entry.history_asked |= wanted;
        wanted
    }

    /// A demand-history load that failed at `now`: asked again after [`HISTORY_RETRY`].
    pub(crate) fn history_failed(&mut self, name: &str, now: DateTime<Utc>) {
        if let Some(entry) = self.policies.get_mut(name) {
            entry.history_asked = false;
            entry.history_retry = Some(now + HISTORY_RETRY);
        }
    }

    /// Puts the backend's older demand in front of the policy's own.
    pub(crate) fn seed_history(&mut self, name: &str, points: &[(DateTime<Utc>, f64)]) {
        if let Some(entry) = self.policies.get_mut(name) {
            let policy = std::sync::Arc::clone(&entry.controller.policy);
            entry
                .controller
                .history
                .predict
                .get_or_insert_default()
                .seed(&policy, points);
        }
    }

    /// Records an evaluation that reached no decision.
    pub(crate) fn fail(&mut self, name: &str, error: String) {
        if let Some(entry) = self.policies.get_mut(name) {
            entry.last_error = Some(error);
        }
    }

    /// Records a decision and what acting on it did (`outcome`, None when nothing was to
    /// be done), keeping at most `journal_size` decisions in memory (fewer in a large
    /// fleet: the state store has the rest). `read_failure` is the error of a failed
    /// metric read, shown when acting went well.
    pub(crate) fn record(
        &mut self,
        name: &str,
        entry: JournalEntry,
        outcome: Option<Outcome>,
        read_failure: Option<String>,
        journal_size: usize,
    ) {
        let cap = self.journal_cap(journal_size);
        let Some(pe) = self.policies.get_mut(name) else { return };
        let now = entry.decision.at;
        if let Some(outcome) = outcome {
            pe.controller.settle(&entry.decision, outcome, now);
        }
        pe.last_error = entry.error.clone().or(read_failure);
        *pe.decisions.entry(entry.decision.action.label()).or_insert(0) += 1;
        let values = pe.controller.policy.rules.iter().map(|r| {
            entry
                .decision
                .rules
                .iter()
                .find(|v| v.rule == r.name)
                .and_then(|v| v.value)
        });
        pe.series.push_back(Point {
            at: now,
            desired: entry.decision.desired,
            running: entry.decision.capacity.running,
            values: values.collect(),
        });
        while pe.series.front().is_some_and(|p| p.at < now - SERIES_WINDOW) {
            pe.series.pop_front();
        }
        pe.journal.push_back(entry);
        pe.journal_unsaved += 1;
        while pe.journal.len() > cap {
            pe.journal.pop_front();
        }
        pe.journal_unsaved = pe.journal_unsaved.min(pe.journal.len());
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const PREDICTING: &str = "min = 1\nmax = 8\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"demand\"\nmetric = \"request_rate\"\ntarget = 100\nnamespace = \"S\"\nmetric_name = \"Arrivals\"\n[predict]\nmode = \"scale\"\n";

    #[test]
    fn a_failed_history_load_is_asked_again_after_the_retry_and_a_good_one_never() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let mut r = Registry::holding("a", PREDICTING, t0);
        assert!(r.history_wanted("a", t0));
        assert!(!r.history_wanted("a", t0), "asked once while it loads");

        r.history_failed("a", t0);
        assert!(!r.history_wanted("a", t0 + HISTORY_RETRY - chrono::Duration::seconds(1)));
        let t1 = t0 + HISTORY_RETRY;
        assert!(r.history_wanted("a", t1), "asked again after a failure");
        assert!(
            !r.history_wanted("a", t1 + HISTORY_RETRY * 10),
            "a load that did not fail is not asked again"
        );
    }
}

//! The registry itself: the policies in force, the files rejected or skipped, the
//! histories of targets no policy scales now, and what reading them and scheduling
//! their evaluations needs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use autoscaler_core::decide::History;
use autoscaler_core::policy::Backend;
use autoscaler_core::time::to_chrono;
use chrono::{DateTime, Utc};

use super::entry::{JournalEntry, PolicyEntry, Retained};

/// Metric queries per round, all policies together, at most, unless the settings say
/// otherwise. Each rule is one query; GetMetricData bills per query (about $0.01 per
/// 1,000), so at 4,000 queries every 15 s this cap is about $7,000 a month.
pub const MAX_QUERIES_PER_ROUND: usize = 4_000;

/// Journal entries kept in memory, all policies together, at most, unless the settings
/// say otherwise (each is about a kilobyte): a fleet of thousands keeps only its newest
/// decisions at hand, and the rest are read from the state store when asked for.
pub const JOURNAL_BUDGET: usize = 20_000;

/// Entries each policy keeps in memory at least, however large the fleet.
pub const JOURNAL_FLOOR: usize = 2;

#[derive(Debug)]
pub struct Registry {
    pub(super) policies: BTreeMap<String, PolicyEntry>,
    /// Files that never yielded a valid policy, with their diagnostics.
    pub(super) rejected: BTreeMap<PathBuf, String>,
    /// Histories by target key (see [`autoscaler_core::policy::Target::key`]).
    pub(super) retained: BTreeMap<String, Retained>,
    /// The backend this daemon scales with; a valid policy for a target it cannot scale
    /// is skipped, not loaded (None: every policy is loaded).
    pub(super) backend: Option<Backend>,
    /// Files of valid policies skipped because their target is another backend's, with why.
    pub(super) skipped: BTreeMap<PathBuf, String>,
    /// Metric queries per round, all policies together, at most.
    pub(super) query_cap: usize,
    /// Journal entries in memory, all policies together, at most.
    pub(super) journal_budget: usize,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            policies: BTreeMap::new(),
            rejected: BTreeMap::new(),
            retained: BTreeMap::new(),
            backend: None,
            skipped: BTreeMap::new(),
            query_cap: MAX_QUERIES_PER_ROUND,
            journal_budget: JOURNAL_BUDGET,
        }
    }
}

impl Registry {
    /// A registry for a daemon of `backend` (None: one that loads every policy, `validate`)
    /// that admits at most `query_cap` metric queries per round and keeps at most
    /// `journal_budget` decisions in memory.
    pub fn new(backend: Option<Backend>, query_cap: usize, journal_budget: usize) -> Self {
        Self {
            backend,
            query_cap,
            journal_budget,
            ..Self::default()
        }
    }

    pub fn policies(&self) -> &BTreeMap<String, PolicyEntry> {
        &self.policies
    }

    pub fn policy(&self, name: &str) -> Option<&PolicyEntry> {
        self.policies.get(name)
    }

    pub fn rejected(&self) -> &BTreeMap<PathBuf, String> {
        &self.rejected
    }

    pub fn skipped(&self) -> &BTreeMap<PathBuf, String> {
        &self.skipped
    }

    pub fn retained(&self) -> &BTreeMap<String, Retained> {
        &self.retained
    }

    pub fn backend(&self) -> Option<Backend> {
        self.backend
    }

    /// Journal entries each policy keeps in memory: `journal_size`, or fewer when the
    /// fleet is large (see [`JOURNAL_BUDGET`]).
    pub fn journal_cap(&self, journal_size: usize) -> usize {
        (self.journal_budget / self.policies.len().max(self.retained.len()).max(1))
            .max(JOURNAL_FLOOR)
            .min(journal_size)
    }

    /// Histories restored at start: each is taken by its target's policy when it loads.
    pub(crate) fn restore(&mut self, targets: BTreeMap<String, Retained>, now: DateTime<Utc>) {
        let keep = (self.journal_budget / targets.len().max(1)).max(JOURNAL_FLOOR);
        self.retained = targets
            .into_iter()
            .map(|(key, mut r)| {
                r.history = r.history.restored(now, false);
                let extra = r.journal.len().saturating_sub(keep);
                r.journal.drain(..extra);
                (key, r)
            })
            .collect();
    }

    /// Continues from histories another daemon saved (this one has just taken the lease):
    /// policies in force take their target's history and journal; the rest are retained.
    /// Not having watched the last stabilization window, each scales in only after
    /// observing one.
    pub(crate) fn adopt(&mut self, targets: BTreeMap<String, Retained>, now: DateTime<Utc>) {
        let mut targets = targets;
        for entry in self.policies.values_mut() {
            if let Some(r) = targets.remove(&entry.controller.policy.target.key()) {
                entry.controller.history = r.history.restored(now, true);
                entry.journal = r.journal;
                entry.journal_unsaved = 0;
            }
        }
        for (key, mut r) in targets {
            r.history = r.history.restored(now, true);
            self.retained.insert(key, r);
        }
    }

    /// Every target's history (retained ones too), and the journal entries not yet saved,
    /// which are then counted as handed over.
    pub(crate) fn take_unsaved(&mut self) -> (BTreeMap<String, Retained>, BTreeMap<String, Vec<JournalEntry>>) {
        let mut histories = self.retained.clone();
        let mut appended = BTreeMap::new();
        for (name, e) in self.policies.iter_mut() {
            let key = e.controller.policy.target.key();
            histories.insert(
                key.clone(),
                Retained {
                    name: name.clone(),
                    history: e.controller.history.clone(),
                    journal: Default::default(),
                },
            );
            if e.journal_unsaved > 0 {
                let from = e.journal.len().saturating_sub(e.journal_unsaved);
                appended.insert(key, e.journal.iter().skip(from).cloned().collect());
                e.journal_unsaved = 0;
            }
        }
        (histories, appended)
    }

    /// Names of the policies due at `now`, each one's next due time advanced on its grid
    /// and its evaluation marked in flight (until [`Registry::finished`]).
    pub(crate) fn take_due(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let mut due = Vec::new();
        for (name, entry) in self.policies.iter_mut() {
            if entry.next_due > now {
                continue;
            }
            let interval = to_chrono(entry.controller.policy.interval);
            let missed = (now - entry.next_due).num_milliseconds() / interval.num_milliseconds().max(1);
            entry.next_due += interval * (missed as i32 + 1);
            if entry.paused {
                continue;
            }
            if entry.in_flight {
                entry.skipped += 1;
                tracing::warn!(policy = %name, "previous evaluation still running: tick skipped");
                continue;
            }
            entry.in_flight = true;
            due.push(name.clone());
        }
        due
    }

    /// The evaluation of `name` has ended, however it ended.
    pub(crate) fn finished(&mut self, name: &str) {
        if let Some(e) = self.policies.get_mut(name) {
            e.in_flight = false;
        }
    }

    /// Marks every policy not already running as in flight (`run --once`), returning them.
    pub(crate) fn take_all(&mut self) -> Vec<String> {
        self.policies
            .iter_mut()
            .filter(|(_, e)| !e.in_flight)
            .map(|(n, e)| {
                e.in_flight = true;
                n.clone()
            })
            .collect()
    }

    /// The earliest time a policy is due, or a schedule window of one opens or closes.
    pub(crate) fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let due = self.policies.values().map(|e| e.next_due).min();
        let edge = self
            .policies
            .values()
            .filter(|e| !e.paused)
            .filter_map(|e| autoscaler_core::decide::next_schedule_edge(&e.controller.policy, now))
            .min();
        match (due, edge) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Makes `name` due at `at`; false if there is no such policy.
    pub(crate) fn make_due(&mut self, name: &str, at: DateTime<Utc>) -> bool {
        match self.policies.get_mut(name) {
            Some(e) => {
                e.next_due = e.next_due.min(at);
                true
            }
            None => false,
        }
    }

    /// Makes every policy whose schedule window opened or closed in `(since, now]` due now.
    pub(crate) fn due_at_schedule_edges(&mut self, since: DateTime<Utc>, now: DateTime<Utc>) {
        for e in self.policies.values_mut() {
            let edge = autoscaler_core::decide::next_schedule_edge(&e.controller.policy, since);
            if edge.is_some_and(|t| t <= now) {
                e.next_due = e.next_due.min(now);
            }
        }
    }

    pub(crate) fn set_paused(&mut self, name: &str, paused: bool) -> bool {
        match self.policies.get_mut(name) {
            Some(e) => {
                e.paused = paused;
                true
            }
            None => false,
        }
    }

    /// A history as it would be once `decision` is applied, for the write-ahead record.
    pub(crate) fn history_if_applied(
        &self,
        name: &str,
        decision: &autoscaler_core::decide::Decision,
    ) -> Option<Retained> {
        let e = self.policies.get(name)?;
        let mut history: History = e.controller.history.clone();
        history.record_applied(decision);
        Some(Retained {
            name: name.to_string(),
            history,
            journal: Default::default(),
        })
    }
}

#[cfg(test)]
impl Registry {
    /// A registry holding one policy, `p/<name>.toml` with `text`, loaded at `now`.
    pub(crate) fn holding(name: &str, text: &str, now: DateTime<Utc>) -> Registry {
        let mut r = Registry::default();
        let source = crate::daemon::source::PolicySource {
            path: PathBuf::from(format!("p/{name}.toml")),
            content: Ok(text.to_string()),
        };
        let report = r.apply(vec![source], false, now);
        assert_eq!(report.added, vec![name], "{report:?}");
        r
    }
}

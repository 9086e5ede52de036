//! One policy in force, as the daemon keeps it: the policy with its history, its journal,
//! its chart points and its counters. Read through the getters; only the registry changes it.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use autoscaler_core::decide::{Controller, Decision, History};
use autoscaler_core::policy::Policy;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A decision as recorded: whether the backend took it, and why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub decision: Decision,
    pub explanation: String,
    pub applied: bool,
    pub error: Option<String>,
}

/// One point of the last hour, for the status page's charts.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub desired: u32,
    pub running: u32,
    /// Rule values in policy order.
    pub values: Vec<Option<f64>>,
}

/// The history of a target no policy in force scales (its file was deleted or renamed,
/// or it was restored from state and its policy has not loaded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Retained {
    /// The name of the policy that last scaled the target.
    pub name: String,
    pub history: History,
    #[serde(skip)]
    pub journal: VecDeque<JournalEntry>,
}

#[derive(Debug)]
pub struct PolicyEntry {
    pub(super) file: PathBuf,
    pub(super) checksum: String,
    pub(super) controller: Controller,
    /// A rejected edit of this policy's file; the policy above stays in force.
    pub(super) load_error: Option<String>,
    pub(super) paused: bool,
    pub(super) next_due: DateTime<Utc>,
    pub(super) journal: VecDeque<JournalEntry>,
    /// The last error of an evaluation: a backend call, a read, a panic.
    pub(super) last_error: Option<String>,
    pub(super) series: VecDeque<Point>,
    /// An evaluation of this policy is running; the next tick waits for it.
    pub(super) in_flight: bool,
    /// Ticks skipped because the previous evaluation was still running.
    pub(super) skipped: u64,
    /// Per rule: the period start of the newest datapoint seen, so its age keeps growing
    /// while reads fail.
    pub(super) last_datapoint: BTreeMap<String, DateTime<Utc>>,
    /// Decisions counted by action since this policy was loaded.
    pub(super) decisions: BTreeMap<&'static str, u64>,
    /// Journal entries at the back not yet handed to the state store.
    pub(super) journal_unsaved: usize,
    /// The backend was asked for this policy's demand history (once per load, unless the
    /// load fails).
    pub(super) history_asked: bool,
    /// After a load that failed: not asked again before this.
    pub(super) history_retry: Option<DateTime<Utc>>,
    /// When AWS's own scaler of the service was last read, or a read was tried.
    pub(super) aws_checked: Option<DateTime<Utc>>,
    /// A read of AWS's scaler has succeeded since the policy was loaded.
    pub(super) aws_read: bool,
    /// Why the policy changes nothing while AWS's scaler is active; None: it may act.
    pub(super) aws_withheld: Option<String>,
    /// The last failure to read, suspend or restore AWS's scaler.
    pub(super) aws_error: Option<String>,
}

impl PolicyEntry {
    pub(super) fn new(
        file: PathBuf,
        checksum: String,
        policy: Policy,
        kept: Option<Retained>,
        now: DateTime<Utc>,
    ) -> Self {
        let (history, journal) = kept.map_or_else(Default::default, |k| (k.history, k.journal));
        Self {
            file,
            checksum,
            controller: Controller {
                policy: policy.into(),
                history,
            },
            load_error: None,
            paused: false,
            next_due: now,
            journal,
            last_error: None,
            series: VecDeque::new(),
            in_flight: false,
            skipped: 0,
            last_datapoint: BTreeMap::new(),
            decisions: BTreeMap::new(),
            journal_unsaved: 0,
            history_asked: false,
            history_retry: None,
            aws_checked: None,
            aws_read: false,
            aws_withheld: None,
            aws_error: None,
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The first 32 hex digits of the SHA-256 of the file's text in force.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    pub fn policy(&self) -> &Policy {
        &self.controller.policy
    }

    /// The policy in force, shared: what a round's task evaluates.
    pub fn shared_policy(&self) -> std::sync::Arc<Policy> {
        std::sync::Arc::clone(&self.controller.policy)
    }

    pub fn history(&self) -> &History {
        &self.controller.history
    }

    pub fn load_error(&self) -> Option<&str> {
        self.load_error.as_deref()
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    pub fn next_due(&self) -> DateTime<Utc> {
        self.next_due
    }

    pub fn journal(&self) -> &VecDeque<JournalEntry> {
        &self.journal
    }

    pub fn last(&self) -> Option<&JournalEntry> {
        self.journal.back()
    }

    pub fn series(&self) -> &VecDeque<Point> {
        &self.series
    }

    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    pub fn skipped_ticks(&self) -> u64 {
        self.skipped
    }

    pub fn last_datapoint(&self) -> &BTreeMap<String, DateTime<Utc>> {
        &self.last_datapoint
    }

    pub fn decisions(&self) -> &BTreeMap<&'static str, u64> {
        &self.decisions
    }

    /// Why the policy changes nothing while AWS's own scaler is active.
    pub fn aws_withheld(&self) -> Option<&str> {
        self.aws_withheld.as_deref()
    }

    /// When AWS's own scaler of the service was last read.
    pub fn aws_checked(&self) -> Option<DateTime<Utc>> {
        self.aws_checked
    }

    /// The last failure to read, suspend or restore AWS's own scaler.
    pub fn aws_error(&self) -> Option<&str> {
        self.aws_error.as_deref()
    }
}

//! What every state store stores and answers: the snapshot saved after a round, what a
//! load found, and the counters of saving.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::daemon::registry::{JournalEntry, Retained};

pub const STATE_BYTES: &str = "ecs_autoscaler_state_bytes_written_total";
pub const STATE_FAILURES: &str = "ecs_autoscaler_state_save_failures_total";

pub fn describe_metrics() {
    metrics::describe_counter!(STATE_BYTES, "Bytes written to the state store.");
    metrics::describe_counter!(STATE_FAILURES, "State saves that failed.");
    metrics::counter!(STATE_BYTES).absolute(0);
    metrics::counter!(STATE_FAILURES).absolute(0);
}

/// What is saved after a round: every target's history, and the journal entries added
/// since the last save.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub saved_at: DateTime<Utc>,
    /// The lease epoch of the leader that took it; None when taken by a follower (a store
    /// shared by several daemons writes nothing then). The file store ignores it.
    pub epoch: Option<u64>,
    /// By target key.
    pub histories: BTreeMap<String, Retained>,
    /// By target key, oldest first.
    pub appended: BTreeMap<String, Vec<JournalEntry>>,
}

/// What was found at start.
#[derive(Debug)]
pub enum Loaded {
    /// No state: a first start.
    Missing,
    /// By target key (or, from an older state file, by policy name), journals included.
    Restored(BTreeMap<String, Retained>),
    /// Present but unusable; the reason says why. Every policy starts fresh, which means
    /// no scale-in until a whole stabilization window has been observed.
    Corrupt(String),
}

/// Where state lives: a file (`FileStore`), or DynamoDB (`super::dynamodb::DynamoStore`).
pub trait StateStore: Send + Sync + 'static {
    fn load(&self) -> Loaded;
    /// Writes a snapshot; returns the bytes written.
    fn save(&self, snapshot: &Snapshot) -> Result<u64, String>;
    /// A short description for logs and the status API.
    fn describe(&self) -> String;
    /// Records one target's history before its action is taken (write-ahead), so that a
    /// successor that takes over between the action and the next save does not repeat it.
    /// A store only one daemon uses has no successor to tell: the default does nothing.
    fn record_before_acting(&self, _key: &str, _target: &Retained, _epoch: u64) -> Result<(), String> {
        Ok(())
    }
    /// A target's saved journal, oldest first: what the daemon keeps in memory is only its
    /// newest decisions (see the registry's journal budget).
    fn journal(&self, key: &str) -> Result<VecDeque<JournalEntry>, String>;
}

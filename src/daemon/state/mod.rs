//! State that survives restarts, kept by target (see [`autoscaler_core::policy::Target::key`]):
//! each target's history (cooldowns, the stabilization window, the baseline) and its
//! decision journal. Where it is kept: a file (`file.rs`), or DynamoDB
//! (`super::dynamodb`); `writer.rs` saves snapshots in order on a thread of its own.

mod file;
mod store;
mod writer;

pub use file::FileStore;
pub use store::{Loaded, STATE_BYTES, STATE_FAILURES, Snapshot, StateStore, describe_metrics};
pub use writer::{SaveStatus, Writer};

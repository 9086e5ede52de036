//! The policies in force: each with its history, journal and counters, the files that
//! were rejected or skipped, and the histories of targets no policy scales now.
//!
//! Everyone reads it through `&Registry` (the status API, the page, the metrics, the
//! demo, tests); only the daemon changes it, through the methods marked for it in
//! `table.rs` (scheduling), `reconcile.rs` (what a re-read of the policy source changes)
//! `round.rs` (what one evaluation writes) and `handover.rs` (what the takeover of AWS's
//! own scaler writes).

mod entry;
mod handover;
mod reconcile;
mod round;
mod table;

pub use entry::{JournalEntry, Point, PolicyEntry, Retained};
pub use handover::{RECHECK, RETRY};
pub use reconcile::{ReloadReport, checksum};
pub use round::HISTORY_RETRY;
pub use table::{JOURNAL_BUDGET, JOURNAL_FLOOR, MAX_QUERIES_PER_ROUND, Registry};

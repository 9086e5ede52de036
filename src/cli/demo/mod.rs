//! `ecs-autoscaler demo`: the whole system on this machine. The daemon with the local
//! backend scales real search-service replicas under a load plan like the original
//! experiment's, shows what it does as it does it, and ends with a report.
//!
//! `run.rs` drives the run (replicas, daemon, load, the kill, the live line),
//! `summary.rs` computes the final table from what was recorded (pure), `report.rs`
//! draws it.

mod report;
mod run;
mod summary;

use std::path::PathBuf;
use std::time::Duration;

pub use run::run;

/// How the demo's load arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Load {
    /// Open loop, each second's requests in its first `burst`.
    Bursts,
    /// Open loop, evenly spread.
    Rate,
    /// Closed-loop users.
    Users,
}

pub struct Args {
    pub duration: Duration,
    pub plan: Option<String>,
    pub load: Load,
    pub burst: Duration,
    pub think: Duration,
    pub kill_replica_at: Option<Duration>,
    pub search_cost: Duration,
    pub out: PathBuf,
    pub json: bool,
}

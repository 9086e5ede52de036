//! What `demo` is asked to do.

use std::path::PathBuf;
use std::time::Duration;

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
    /// Measure one replica's knee before the run.
    pub calibrate: bool,
    pub out: PathBuf,
    pub json: bool,
}

//! A service's load, minute by minute, as it was: what `record` reads from CloudWatch,
//! what `simulate --traffic` replays, and what a policy's demand history is made of.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One minute (or coarser period) of a service's recorded load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minute {
    /// Start of the row's period (RFC 3339).
    pub timestamp: DateTime<Utc>,
    /// Requests per minute over the period (ALB RequestCount, or the service's own count).
    pub requests: f64,
    /// Average CPU % of the service's tasks.
    pub cpu: Option<f64>,
    pub desired: Option<u32>,
    pub running: Option<u32>,
}

//! Where the daemon's scaling events go: a sink takes them already rendered, so that the
//! edge knows nothing of what they say.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

/// One event as sent: its type, when it happened, and its detail as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub detail_type: &'static str,
    pub at: DateTime<Utc>,
    pub detail: String,
}

pub trait EventSink: Send + Sync + 'static {
    /// Sends a batch (at most 10); the answer is how many were not accepted, or why none were.
    fn send(&self, batch: Vec<Outgoing>) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send + '_>>;
}

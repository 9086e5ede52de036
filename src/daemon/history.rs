//! A predicting policy's demand history, loaded from the backend once when the policy has
//! too little of its own (a new policy, a state store that held none), off the round: the
//! policy decides as it would without it until the history arrives. A load that fails is
//! tried again after [`HISTORY_RETRY`].

use std::sync::Arc;
use std::time::Duration;

use autoscaler_core::policy::Policy;
use chrono::{DateTime, Utc};

use super::registry::HISTORY_RETRY;
use super::shared::Shared;
use crate::backend::MetricSource;

/// How long a load may take (14 days of minutes are a few paginated calls).
const BUDGET: Duration = Duration::from_secs(120);

/// Starts loading `policy`'s demand history as of `now`; it is put in front of what the
/// policy's rounds have recorded meanwhile.
pub fn load<B: MetricSource>(shared: Arc<Shared>, backend: Arc<B>, policy: Arc<Policy>, now: DateTime<Utc>) {
    tokio::spawn(async move {
        let name = policy.name.as_str();
        match tokio::time::timeout(BUDGET, backend.demand_history(&policy, now)).await {
            Ok(Ok(points)) if points.is_empty() => {}
            Ok(Ok(points)) => {
                tracing::info!(
                    policy = name,
                    minutes = points.len(),
                    "demand history loaded for the forecast"
                );
                shared.registry_mut().seed_history(name, &points);
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {}s", BUDGET.as_secs()),
                };
                tracing::warn!(
                    policy = name,
                    "demand history not loaded ({why}): tried again in {} min",
                    HISTORY_RETRY.num_minutes()
                );
                shared.registry_mut().history_failed(name, shared.clock.now());
            }
        }
    });
}

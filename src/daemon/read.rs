//! The round's metric read: one batched read for the policies due together, so a backend
//! can answer many with few calls, bounded so that a slow answer delays no policy past
//! its own deadline. A policy whose read did not answer in time is read on its own in
//! the next rounds (a bulkhead), so one slow query does not keep others blind; it rejoins
//! the batch once a read of its own answers in time.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use autoscaler_core::decide::{MissingCause, Sample};
use autoscaler_core::policy::Policy;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::telemetry;
use crate::backend::MetricSource;

/// Policies whose last read did not answer in time.
#[derive(Default)]
pub struct Bulkhead(Mutex<HashSet<String>>);

impl Bulkhead {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn isolated(&self, name: &str) -> bool {
        self.lock().contains(name)
    }

    fn set(&self, name: &str, isolated: bool) {
        if isolated {
            self.lock().insert(name.to_string());
        } else {
            self.lock().remove(name);
        }
    }
}

type Samples = BTreeMap<String, Sample>;

/// A policy of a read, the deadline it waits to, and where its answer goes.
type Member = (Arc<Policy>, Instant, oneshot::Sender<Samples>);

/// One policy's samples, as they arrive.
pub struct Pending {
    name: String,
    answer: oneshot::Receiver<Samples>,
    bulkhead: Arc<Bulkhead>,
}

impl Pending {
    /// The samples, or every rule missing with why if they did not come by `deadline`.
    pub async fn wait(self, policy: &Policy, deadline: Instant) -> Samples {
        match tokio::time::timeout_at(deadline, self.answer).await {
            Ok(Ok(samples)) => {
                self.bulkhead.set(&self.name, false);
                samples
            }
            _ => {
                self.bulkhead.set(&self.name, true);
                let why =
                    "the metric read did not answer within the policy's deadline; it is read on its own until it does";
                policy
                    .rules
                    .iter()
                    .flat_map(|r| r.reads())
                    .map(|read| (read.key.to_string(), Sample::missing(MissingCause::ReadFailed, why)))
                    .collect()
            }
        }
    }
}

/// Starts the reads for `policies` (each with its own deadline), returning one pending
/// answer per policy, in order.
pub fn start<B: MetricSource>(
    backend: &Arc<B>,
    bulkhead: &Arc<Bulkhead>,
    policies: &[(Arc<Policy>, Instant)],
    now: DateTime<Utc>,
) -> Vec<Pending> {
    let mut batch = Vec::new();
    let mut pending = Vec::with_capacity(policies.len());
    let mut groups: Vec<Vec<Member>> = Vec::new();
    for (policy, deadline) in policies {
        let (tx, rx) = oneshot::channel();
        pending.push(Pending {
            name: policy.name.clone(),
            answer: rx,
            bulkhead: Arc::clone(bulkhead),
        });
        let member = (Arc::clone(policy), *deadline, tx);
        if bulkhead.isolated(&policy.name) {
            groups.push(vec![member]);
        } else {
            batch.push(member);
        }
    }
    if !batch.is_empty() {
        groups.push(batch);
    }
    for group in groups {
        let backend = Arc::clone(backend);
        tokio::spawn(async move {
            // The read is given up when the last of its policies stops waiting.
            let deadline = group.iter().map(|(_, d, _)| *d).max().unwrap_or_else(Instant::now);
            let refs: Vec<&Policy> = group.iter().map(|(p, _, _)| p.as_ref()).collect();
            let started = std::time::Instant::now();
            let answer = tokio::time::timeout_at(deadline, backend.read(&refs, now)).await;
            metrics::histogram!(telemetry::BACKEND_SECONDS, "call" => "read_metrics")
                .record(started.elapsed().as_secs_f64());
            let Ok(samples) = answer else {
                metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "read_metrics").increment(1);
                return;
            };
            if samples
                .iter()
                .flat_map(|s| s.values())
                .any(|s| s.read_failure().is_some())
            {
                metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "read_metrics").increment(1);
            }
            for ((_, _, tx), s) in group.into_iter().zip(samples) {
                let _ = tx.send(s);
            }
        });
    }
    pending
}

//! One round: the policies due together share a metric read, then each is evaluated on
//! a task of its own; then a snapshot goes to the state store and, if asked for, the
//! round's heartbeat to stdout.

use std::sync::Arc;

use autoscaler_core::policy::Policy;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::evaluate::{Evaluated, evaluate, read_deadline};
use super::events::Event;
use super::heartbeat;
use super::history;
use super::read::{self, Bulkhead};
use super::registry::JournalEntry;
use super::shared::Shared;
use super::telemetry;
use crate::backend::{CapacityTarget, MetricSource};

/// A policy's evaluation in flight. However it ends, its end is recorded: returned,
/// panicked or cancelled, the policy is evaluated again at its next tick.
struct InFlight {
    shared: Arc<Shared>,
    name: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.registry_mut().finished(&self.name);
    }
}

/// Why a round runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// On the loop's schedule: a heartbeat goes out after it.
    Scheduled,
    /// `run --once`: the decisions are returned, for printing.
    Once,
}

pub async fn round<B: MetricSource + CapacityTarget>(
    shared: Arc<Shared>,
    backend: Arc<B>,
    bulkhead: Arc<Bulkhead>,
    names: Vec<String>,
    now: DateTime<Utc>,
    epoch: u64,
    kind: Kind,
) -> Vec<JournalEntry> {
    metrics::counter!(telemetry::ROUNDS).increment(1);
    let started = Instant::now();
    let timer = std::time::Instant::now();
    let policies: Vec<(Arc<Policy>, Instant)> = {
        let reg = shared.registry();
        names
            .iter()
            .filter_map(|n| reg.policy(n).map(|e| e.shared_policy()))
            .map(|p| {
                let deadline = read_deadline(&p, started);
                (p, deadline)
            })
            .collect()
    };
    for (policy, _) in &policies {
        if shared.registry_mut().history_wanted(&policy.name, now) {
            history::load(Arc::clone(&shared), Arc::clone(&backend), Arc::clone(policy), now);
        }
    }
    let pending = read::start(&backend, &bulkhead, &policies, now);
    let tasks: Vec<_> = policies
        .into_iter()
        .zip(pending)
        .map(|((policy, deadline), metrics)| {
            let (shared, backend) = (Arc::clone(&shared), Arc::clone(&backend));
            let name = policy.name.clone();
            let guard = InFlight {
                shared: Arc::clone(&shared),
                name: name.clone(),
            };
            let keep = kind == Kind::Once;
            let task = tokio::spawn(async move {
                let _guard = guard;
                evaluate(&shared, backend.as_ref(), &policy, metrics, now, epoch, deadline, keep).await
            });
            (name, task)
        })
        .collect();
    let mut entries = Vec::new();
    let mut decisions = 0u64;
    for (name, task) in tasks {
        match task.await {
            Ok(Evaluated::Decided(entry)) => {
                decisions += 1;
                entries.extend(entry.map(|e| *e));
            }
            Ok(Evaluated::Nothing) => {}
            Err(e) => panicked(&shared, &name, e),
        }
    }
    metrics::histogram!(telemetry::ROUND_SECONDS).record(timer.elapsed().as_secs_f64());
    shared.writer.save_with(|| shared.snapshot_for(epoch));
    if let Some(name) = shared
        .settings
        .heartbeat_name
        .as_ref()
        .filter(|_| kind == Kind::Scheduled)
    {
        let errors = {
            let reg = shared.registry();
            names
                .iter()
                .filter_map(|n| reg.policy(n))
                .filter(|e| e.last_error().is_some())
                .count() as u64
        } + u64::from(shared.source_error().is_some());
        let round = heartbeat::Round {
            decisions,
            backend_errors: errors,
        };
        println!("{}", heartbeat::record(name, round, now.timestamp_millis()));
    }
    entries
}

/// A policy's evaluation panicked: the policy says so in its status, and is evaluated
/// again at its next tick (its in-flight mark ended with the task's guard).
fn panicked(shared: &Shared, name: &str, e: tokio::task::JoinError) {
    let why = if e.is_panic() {
        let payload = e.into_panic();
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!("the evaluation panicked ({text}); it runs again at the policy's next tick")
    } else {
        "the evaluation was cancelled; it runs again at the policy's next tick".to_string()
    };
    tracing::error!(policy = name, "{why}");
    metrics::counter!(telemetry::PANICS).increment(1);
    let target = shared.registry().policy(name).map(|e| e.policy().target.clone());
    if let Some(target) = target {
        shared
            .events
            .emit(Event::error(name, &target, shared.clock.now(), &why));
    }
    shared.registry_mut().fail(name, why);
}

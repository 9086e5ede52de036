//! One policy's evaluation in a round: its readings and counts, the decision, and acting
//! on it. Reading is bounded by the policy's deadline; each step of acting (the fence, the
//! write-ahead, the update) has a budget of its own, so the update is never skipped
//! because the steps before it were slow.

use std::sync::Arc;
use std::time::Duration;

use autoscaler_core::decide::{Action, Capacity, Decision, Observation, Outcome};
use autoscaler_core::policy::Policy;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::events::Event;
use super::handover;
use super::read::Pending;
use super::registry::JournalEntry;
use super::shared::Shared;
use super::telemetry;
use crate::backend::{CapacityTarget, MetricSource};

/// The longest one policy's readings may take, whatever its interval.
pub const MAX_DEADLINE: Duration = Duration::from_secs(60);

/// How long a policy's readings may take: three quarters of its interval, so that an
/// evaluation cut at its deadline has ended before the policy's next tick.
pub fn read_budget(policy: &Policy) -> Duration {
    (policy.interval * 3 / 4).clamp(Duration::from_millis(500), MAX_DEADLINE)
}

/// When a policy's readings must have arrived, for a round that started at `started`.
pub fn read_deadline(policy: &Policy, started: Instant) -> Instant {
    started + read_budget(policy)
}

/// What one evaluation came to.
pub enum Evaluated {
    /// No decision: the counts could not be read (the policy's error says why).
    Nothing,
    /// A decision, journaled; its entry too if it was asked for.
    Decided(Option<Box<JournalEntry>>),
}

#[allow(clippy::too_many_arguments)]
pub async fn evaluate<B: MetricSource + CapacityTarget>(
    shared: &Shared,
    backend: &B,
    policy: &Policy,
    metrics: Pending,
    now: DateTime<Utc>,
    epoch: u64,
    deadline: Instant,
    keep: bool,
) -> Evaluated {
    let name = policy.name.as_str();
    let (metrics, capacity, withheld) = tokio::join!(
        metrics.wait(policy, deadline),
        capacity(backend, policy, deadline),
        handover::withheld(shared, backend, policy, now, deadline)
    );
    let read_failure = metrics
        .values()
        .find_map(|s| s.read_failure())
        .map(|reason| format!("read failed: {reason}"));
    shared.registry_mut().note_datapoints(name, &metrics);
    let capacity = match capacity {
        Ok(c) => c,
        Err(error) => {
            tracing::warn!(policy = name, "{error}; no decision this round");
            shared.events.emit(Event::error(name, &policy.target, now, &error));
            shared.registry_mut().fail(name, error);
            return Evaluated::Nothing;
        }
    };
    let obs = Observation {
        capacity,
        metrics,
        withheld,
    };
    let Some(decision) = shared.registry_mut().evaluate(name, &obs, now) else {
        return Evaluated::Nothing;
    };
    let (outcome, error) = if decision.should_apply() {
        let (outcome, error) = act(shared, backend, policy, &decision, epoch).await;
        (Some(outcome), error)
    } else {
        (None, None)
    };
    let entry = JournalEntry {
        explanation: decision.explain(),
        applied: outcome == Some(Outcome::Applied),
        error,
        decision,
    };
    if entry.decision.action == Action::Hold {
        tracing::debug!(policy = name, "{}", entry.explanation);
    } else {
        tracing::info!(policy = name, applied = entry.applied, "{}", entry.explanation);
    }
    match Event::from_entry(&policy.target, &entry) {
        Some(event) => shared.events.emit(event),
        None => shared.events.clear(name),
    }
    let kept = keep.then(|| Box::new(entry.clone()));
    shared
        .registry_mut()
        .record(name, entry, outcome, read_failure, shared.settings.journal_size);
    Evaluated::Decided(kept)
}

/// The target's counts, by the deadline.
async fn capacity<B: CapacityTarget>(backend: &B, policy: &Policy, deadline: Instant) -> Result<Capacity, String> {
    // The backend may answer several policies' reads with one call (ECS: 10 services of
    // a cluster per DescribeServices); each policy still waits only for its own answer.
    // Boxed: a round holds one task per policy, and the SDK's futures are large; a task
    // should carry them only while it makes the call (1,000 policies: tens of MB).
    let read = telemetry::timed("describe_service", Box::pin(backend.capacity(&policy.target)));
    match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => {
            metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "describe_service").increment(1);
            Err(format!(
                "DescribeServices did not answer within the policy's deadline ({:.1}s)",
                read_budget(policy).as_secs_f64()
            ))
        }
    }
}

/// Acts on a decision that changes the count: the fence, the write-ahead, the update.
async fn act<B: CapacityTarget>(
    shared: &Shared,
    backend: &B,
    policy: &Policy,
    decision: &Decision,
    epoch: u64,
) -> (Outcome, Option<String>) {
    if let Err(why) = fence_and_write_ahead(shared, policy, decision, epoch).await {
        metrics::counter!(telemetry::FENCED).increment(1);
        tracing::warn!(policy = %policy.name, "not acting: {why}; the next round decides again");
        return (Outcome::NotSent, Some(format!("not acting: {why}")));
    }
    let budget = shared.settings.aws.call_budget();
    let update = telemetry::timed(
        "update_service",
        Box::pin(backend.set_desired(&policy.target, decision.desired)),
    );
    match tokio::time::timeout(budget, update).await {
        Ok(Ok(())) => (Outcome::Applied, None),
        Ok(Err(e)) => {
            tracing::warn!(policy = %policy.name, "{e}; no cooldown started, the next round tries again");
            (Outcome::Refused, Some(e.to_string()))
        }
        Err(_) => {
            metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "update_service").increment(1);
            let why = format!(
                "UpdateService did not answer within {}s; the next round reads what it did",
                budget.as_secs()
            );
            (Outcome::Unknown, Some(why))
        }
    }
}

/// With a successor possible: the fence (a leader paused past its lease, whose lease was
/// taken, stops here), then the write-ahead (the action recorded before it is taken, so a
/// successor that takes over in between sees it, or, if the call never happened, an
/// outside change it takes as the baseline, and does not repeat it).
async fn fence_and_write_ahead(
    shared: &Shared,
    policy: &Policy,
    decision: &Decision,
    epoch: u64,
) -> Result<(), String> {
    let Some(lease) = shared.leadership() else {
        return Ok(());
    };
    match tokio::time::timeout(lease.fence_budget(), Box::pin(lease.confirm(epoch))).await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return Err(why),
        Err(_) => {
            return Err(format!(
                "the lease could not be confirmed within {}s",
                lease.fence_budget().as_secs()
            ));
        }
    }
    let Some(target) = shared.registry().history_if_applied(&policy.name, decision) else {
        return Ok(());
    };
    let store = Arc::clone(&shared.state_store);
    let key = policy.target.key();
    let budget = shared.settings.aws.call_budget();
    let record = tokio::task::spawn_blocking(move || store.record_before_acting(&key, &target, epoch));
    match tokio::time::timeout(budget, record).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("cannot record the action before taking it: {e}")),
        Ok(Err(e)) => Err(format!("cannot record the action before taking it: {e}")),
        Err(_) => Err(format!(
            "cannot record the action before taking it: the state store did not answer within {}s",
            budget.as_secs()
        )),
    }
}

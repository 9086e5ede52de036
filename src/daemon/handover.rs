//! AWS's own scaler beside a policy, each step bounded: read it (every
//! [`RECHECK`](super::registry::RECHECK)), then do what the core's
//! [`handover::plan`] says: suspend it under `takeover`, give it back as it was found when
//! the policy stops taking over or is removed, or withhold the policy's changes while it
//! is active. Two writers of one desired count would fight.

use std::sync::Arc;

use autoscaler_core::migrate::handover::{self, Handover, Suspension};
use autoscaler_core::migrate::scaling::{AwsScaling, Suspended};
use autoscaler_core::policy::{Policy, Target};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::events::Event;
use super::shared::Shared;
use super::telemetry;
use crate::backend::CapacityTarget;

/// Why this policy may change nothing this round (None: it may act), after reading AWS's
/// scaler if that is due and acting on the plan. A read that fails is answered by the
/// core's [`handover::unreadable`], and tried again after [`RETRY`](super::registry::RETRY).
pub async fn withheld<B: CapacityTarget>(
    shared: &Shared,
    backend: &B,
    policy: &Policy,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Option<String> {
    let name = policy.name.as_str();
    if !shared.registry().handover_due(name, now) {
        return shared.registry().policy(name)?.aws_withheld().map(String::from);
    }
    let scaling = match bounded(deadline, "read_aws_scaling", backend.other_scaler(&policy.target)).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            shared.registry_mut().checked(name, now, None, None);
            return None;
        }
        Err(why) => {
            tracing::warn!(policy = name, "cannot read AWS's own scaling of the service: {why}");
            let ours = shared.registry().suspension(name);
            let withheld = {
                let registry = shared.registry();
                handover::unreadable(policy.takeover, ours.as_ref(), registry.known_handover(name), &why)
            };
            shared
                .registry_mut()
                .unreadable(name, now, withheld.clone(), format!("reading AWS's scaling: {why}"));
            return withheld;
        }
    };
    let ours = shared.registry().suspension(name);
    let (withheld, error) = match handover::plan(&scaling, policy.takeover, ours.as_ref()) {
        Handover::Free | Handover::Held => (None, None),
        Handover::Refuse { reason } => (Some(reason), None),
        Handover::Suspend { active } => suspend(shared, backend, policy, &scaling, ours, active, now, deadline).await,
        Handover::Resume { to } => {
            match bounded(
                deadline,
                "suspend_aws_scaling",
                backend.suspend_other(&policy.target, to),
            )
            .await
            {
                Ok(()) => {
                    tracing::info!(policy = name, "AWS's own scaling of the service given back ({to:?})");
                    metrics::counter!(telemetry::TAKEOVERS, "change" => "resumed").increment(1);
                    shared.events.emit(Event::aws_scaling(
                        name,
                        &policy.target,
                        now,
                        "takeover = false: AWS's own scaling given back as it was found".into(),
                    ));
                    shared.registry_mut().set_suspension(name, None);
                    let after = with_suspended(&scaling, to);
                    let active = after.active();
                    ((!active.is_empty()).then(|| handover::refusal(&active)), None)
                }
                Err(why) => (
                    Some(format!(
                        "not acting: giving AWS's scaling back failed ({why}); the next check tries again"
                    )),
                    Some(format!("giving AWS's scaling back: {why}")),
                ),
            }
        }
    };
    shared.registry_mut().checked(name, now, withheld.clone(), error);
    withheld
}

#[allow(clippy::too_many_arguments)]
async fn suspend<B: CapacityTarget>(
    shared: &Shared,
    backend: &B,
    policy: &Policy,
    scaling: &AwsScaling,
    ours: Option<Suspension>,
    active: Vec<String>,
    now: DateTime<Utc>,
    deadline: Instant,
) -> (Option<String>, Option<String>) {
    let name = policy.name.as_str();
    // Recorded before the call: a daemon that dies after it still gives AWS's scaling back.
    // A suspension already held keeps the state found first.
    let record = ours.unwrap_or_else(|| Suspension {
        resource_id: scaling.resource_id.clone(),
        region: match &policy.target {
            Target::Aws { region, .. } => region.clone(),
            _ => None,
        },
        at: now,
        before: scaling.target.map(|t| t.suspended).unwrap_or(Suspended::NONE),
    });
    shared.registry_mut().set_suspension(name, Some(record.clone()));
    match bounded(
        deadline,
        "suspend_aws_scaling",
        backend.suspend_other(&policy.target, Suspended::ALL),
    )
    .await
    {
        Ok(()) => {
            tracing::info!(
                policy = name,
                "took over from AWS's own scaling: suspended {}",
                active.join(", ")
            );
            metrics::counter!(telemetry::TAKEOVERS, "change" => "suspended").increment(1);
            shared.events.emit(Event::aws_scaling(
                name,
                &policy.target,
                now,
                format!("takeover: AWS's own scaling suspended ({})", active.join(", ")),
            ));
            (None, None)
        }
        Err(why) => {
            if record.at == now {
                shared.registry_mut().set_suspension(name, None);
            }
            (
                Some(format!(
                    "not acting: AWS's scaling ({}) is active and suspending it failed ({why}); the next check tries again",
                    active.join(", ")
                )),
                Some(format!("suspending AWS's scaling: {why}")),
            )
        }
    }
}

/// Gives AWS's scaling back on targets no policy scales any more. Leader only: called
/// from a round.
pub async fn release_orphans<B: CapacityTarget>(shared: Arc<Shared>, backend: Arc<B>) {
    let orphans = shared.registry().orphaned_suspensions();
    for (key, s) in orphans {
        let Some((cluster, service)) = s.service() else {
            shared.registry_mut().released(&key);
            continue;
        };
        let target = Target::Aws {
            cluster: cluster.to_string(),
            service: service.to_string(),
            region: s.region.clone(),
            target_group: None,
            load_balancer: None,
        };
        let budget = shared.settings.aws.call_budget();
        match tokio::time::timeout(budget, backend.suspend_other(&target, s.before)).await {
            Ok(Ok(())) => {
                tracing::info!(
                    target = key,
                    "policy removed: AWS's own scaling of {cluster}/{service} given back"
                );
                metrics::counter!(telemetry::TAKEOVERS, "change" => "resumed").increment(1);
                let name = shared
                    .registry()
                    .retained()
                    .get(&key)
                    .map(|r| r.name.clone())
                    .unwrap_or_default();
                shared.events.emit(Event::aws_scaling(
                    &name,
                    &target,
                    shared.clock.now(),
                    "policy removed: AWS's own scaling given back as it was found".into(),
                ));
                shared.registry_mut().released(&key);
            }
            Ok(Err(e)) => tracing::warn!(
                target = key,
                "giving AWS's scaling back failed: {e}; the next round tries again"
            ),
            Err(_) => tracing::warn!(
                target = key,
                "giving AWS's scaling back timed out; the next round tries again"
            ),
        }
    }
}

fn with_suspended(scaling: &AwsScaling, to: Suspended) -> AwsScaling {
    let mut after = scaling.clone();
    if let Some(t) = &mut after.target {
        t.suspended = to;
    }
    after
}

async fn bounded<T>(
    deadline: Instant,
    call: &'static str,
    f: impl std::future::Future<Output = Result<T, crate::backend::BackendError>>,
) -> Result<T, String> {
    match tokio::time::timeout_at(deadline, Box::pin(telemetry::timed(call, f))).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => {
            metrics::counter!(telemetry::BACKEND_ERRORS, "call" => call).increment(1);
            Err("no answer within the policy's deadline".to_string())
        }
    }
}

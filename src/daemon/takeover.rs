//! Where a daemon's state comes from: the store at start (the only daemon), or the last
//! leader's state when this daemon takes the lease over.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::shared::Shared;
use super::state::{Loaded, StateStore};

/// The only daemon: reads the state once, at start. Histories with times from the future
/// (a clock set back, a file from a later run) are made safe by the core before use.
pub fn restore(shared: &Shared, store: &dyn StateStore) {
    let status = match store.load() {
        Loaded::Missing => {
            tracing::info!(store = %store.describe(), "no saved state: starting fresh (no scale-in for one stabilization window)");
            "fresh start: no saved state; no scale-in until each policy has observed one stabilization window"
                .to_string()
        }
        Loaded::Restored(targets) => {
            let now = shared.clock.now();
            let future = future_times(&targets, now);
            tracing::info!(store = %store.describe(), targets = targets.len(), "state restored");
            shared.registry_mut().restore(targets, now);
            restored_status("restored", future)
        }
        Loaded::Corrupt(reason) => {
            tracing::error!(%reason, "state unusable: starting fresh (no scale-in for one stabilization window)");
            format!("corrupt, started fresh: {reason}")
        }
    };
    shared.set_state_status(status);
}

/// This daemon holds the lease at an epoch whose state it has not loaded: it continues
/// from the state the last leader left (cooldowns, baselines, what was learned) and, not
/// having watched the last stabilization window itself, scales in only after observing
/// one. If the state cannot be read it does not lead on without it: it gives the lease up
/// (another daemon, or itself at its next claim, tries again).
pub async fn take_over(shared: &Shared, store: &Arc<dyn StateStore>, epoch: u64) {
    let from = Arc::clone(store);
    let loaded = tokio::task::spawn_blocking(move || from.load())
        .await
        .unwrap_or_else(|e| Loaded::Corrupt(format!("loading the state panicked: {e}")));
    let status = match loaded {
        Loaded::Missing => format!("took the lease at epoch {epoch}: no saved state, starting fresh"),
        Loaded::Restored(targets) => {
            let n = targets.len();
            let now = shared.clock.now();
            let future = future_times(&targets, now);
            shared.registry_mut().adopt(targets, now);
            restored_status(
                &format!("took the lease at epoch {epoch}: restored {n} target(s)"),
                future,
            )
        }
        Loaded::Corrupt(reason) => {
            tracing::error!(%reason, epoch, "cannot read the last leader's state: giving the lease up");
            if let Some(l) = shared.leadership() {
                l.release().await;
            }
            shared.set_state_status(format!("gave the lease up: the state could not be read ({reason})"));
            return;
        }
    };
    shared.adopted.store(epoch, Ordering::SeqCst);
    tracing::info!(epoch, "{status}");
    shared.set_state_status(status);
}

/// Times in the restored histories later than this daemon's clock allows.
fn future_times(
    targets: &std::collections::BTreeMap<String, super::registry::Retained>,
    now: chrono::DateTime<chrono::Utc>,
) -> usize {
    let limit = now + autoscaler_core::time::to_chrono(autoscaler_core::decide::CLOCK_SKEW_ALLOWANCE);
    targets.values().map(|r| r.history.times_after(limit)).sum()
}

fn restored_status(head: &str, future: usize) -> String {
    if future == 0 {
        return head.to_string();
    }
    tracing::warn!(
        times = future,
        "restored state holds times after this daemon's clock: they were clamped to now, and scale-in waits for one observed window"
    );
    format!(
        "{head}; {future} time(s) after this daemon's clock were clamped to now (a clock set back, or a peer's clock ahead): no scale-in until one stabilization window is observed"
    )
}

//! Re-reading the policy source, off the loop: a slow S3 or a hung volume delays no
//! decision. Each read has a deadline; when it fails or times out, the policies in force
//! stay and the status says why.

use std::sync::Arc;
use std::time::Duration;

use super::registry::ReloadReport;
use super::shared::Shared;
use super::source::Source;
use super::telemetry;

/// The longest one read of the policy source may take.
pub const READ_DEADLINE: Duration = Duration::from_secs(30);

/// Reads the source and brings the registry in line with it. Returns how long until the
/// files still being written have settled, if any are.
pub async fn reload(shared: &Arc<Shared>, source: &Source) -> Option<Duration> {
    shared.count_reload();
    let read = tokio::time::timeout(READ_DEADLINE, telemetry::timed("read_policies", source.read())).await;
    let read = match read {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => {
            tracing::error!("{e}; keeping the policies in force");
            shared.set_source_error(Some(e));
            return None;
        }
        Err(_) => {
            metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "read_policies").increment(1);
            let e = format!(
                "reading {} did not finish within {}s; keeping the policies in force",
                source.describe(),
                READ_DEADLINE.as_secs()
            );
            tracing::error!("{e}");
            shared.set_source_error(Some(e));
            return None;
        }
    };
    shared.set_source_error(None);
    let settling = !read.settling.is_empty();
    let now = shared.clock.now();
    let report = shared.registry_mut().apply(read, shared.settings.dry_run, now);
    log(&report);
    settling.then(|| shared.settle.quiet())
}

pub fn log(report: &ReloadReport) {
    for name in &report.added {
        tracing::info!(policy = %name, "policy loaded");
    }
    for name in &report.updated {
        tracing::info!(policy = %name, "policy reloaded");
    }
    for name in &report.removed {
        tracing::info!(policy = %name, "policy removed: no longer evaluated (its target's history is kept)");
    }
    for name in &report.restored {
        tracing::info!(policy = %name, "rejected edit undone: the file matches the version in force again");
    }
    for (file, why) in &report.skipped {
        tracing::info!(file = %file.display(), "policy skipped: {why}");
    }
    for (file, error) in &report.rejected {
        metrics::counter!(telemetry::RELOAD_ERRORS).increment(1);
        tracing::error!(file = %file.display(), "policy rejected, the last good version (if any) stays in force:\n{error}");
    }
}

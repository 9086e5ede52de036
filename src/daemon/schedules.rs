//! Wake-ups at schedule boundaries. The bounds a schedule sets are computed by the pure core
//! at every decision; this only makes the policy evaluate the moment a window opens or
//! closes instead of at its next interval.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid;

use super::Shared;
use crate::policy::Policy;

pub struct ScheduleWakeups {
    scheduler: JobScheduler,
    jobs: BTreeMap<String, (String, Vec<Uuid>)>,
}

impl ScheduleWakeups {
    pub async fn start() -> Result<Self, String> {
        let scheduler = JobScheduler::new().await.map_err(|e| format!("cron scheduler: {e}"))?;
        scheduler.start().await.map_err(|e| format!("cron scheduler: {e}"))?;
        Ok(Self {
            scheduler,
            jobs: BTreeMap::new(),
        })
    }

    /// Replaces the jobs of policies whose schedules changed.
    pub async fn sync(&mut self, policies: &[Policy], shared: &Arc<Shared>) {
        let wanted: BTreeMap<String, String> = policies
            .iter()
            .map(|p| {
                let key: Vec<String> = p
                    .schedules
                    .iter()
                    .map(|s| format!("{}|{}|{}", s.cron, s.duration.as_secs(), s.name))
                    .collect();
                (p.name.clone(), key.join(";"))
            })
            .collect();
        let stale: Vec<String> = self
            .jobs
            .iter()
            .filter(|(name, (key, _))| wanted.get(*name) != Some(key))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some((_, ids)) = self.jobs.remove(&name) {
                for id in ids {
                    let _ = self.scheduler.remove(&id).await;
                }
            }
        }
        for p in policies {
            if self.jobs.contains_key(&p.name) {
                continue;
            }
            let mut ids = Vec::new();
            for s in &p.schedules {
                // A window closes `duration` after it opens: wake at both edges.
                let edges = [s.with_seconds(), s.with_seconds()];
                for (i, expr) in edges.iter().enumerate() {
                    let shared = Arc::clone(shared);
                    let name = p.name.clone();
                    let delay = if i == 0 { std::time::Duration::ZERO } else { s.duration };
                    let job = Job::new_async(expr.as_str(), move |_, _| {
                        let shared = Arc::clone(&shared);
                        let name = name.clone();
                        Box::pin(async move {
                            tokio::time::sleep(delay).await;
                            shared.evaluate_now(&name);
                        })
                    });
                    match job {
                        Ok(job) => match self.scheduler.add(job).await {
                            Ok(id) => ids.push(id),
                            Err(e) => tracing::warn!(policy = %p.name, schedule = %s.name, "cannot schedule: {e}"),
                        },
                        Err(e) => tracing::warn!(policy = %p.name, schedule = %s.name, "cannot schedule: {e}"),
                    }
                }
            }
            self.jobs
                .insert(p.name.clone(), (wanted.get(&p.name).cloned().unwrap_or_default(), ids));
        }
    }

    pub async fn stop(mut self) {
        let _ = self.scheduler.shutdown().await;
    }
}

//! The `local` backend: a policy's target is a pool of search-service replicas on this
//! machine, all listening on one port through SO_REUSEPORT, the kernel balancing between
//! them. It behaves like ECS: it starts and stops replicas to reach the desired count,
//! counts a replica as running once its `/ready` answers, drains on scale-in (SIGTERM,
//! SIGKILL only past the deadline), and replaces replicas that die.
//!
//! `process.rs` starts and signals replicas, `supervisor.rs` converges pools on their
//! desired counts, `probe.rs` asks replicas whether they are ready and for their metrics,
//! `scrape.rs` reads those metrics and `measure.rs` turns them into rule values.

mod measure;
mod probe;
mod process;
pub mod scrape;
mod supervisor;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{BackendError, CapacityTarget, MetricSource};
use autoscaler_core::decide::{Capacity, MissingCause, Sample};
use autoscaler_core::policy::{Policy, Target};
pub use supervisor::{EventKind, PoolEvent, REPLICA_DEATHS, ReplicaState, describe_metrics};
use supervisor::{Pool, Shared};

pub use crate::settings::LocalSettings;

/// A pool as it is at one moment, copied out so that callers hold no lock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolSnapshot {
    pub desired: u32,
    pub starting: u32,
    pub ready: u32,
    pub draining: u32,
    /// PIDs of the replicas not yet reaped.
    pub pids: Vec<u32>,
    /// Everything that happened to the pool, oldest first.
    pub events: Vec<PoolEvent>,
}

pub struct LocalBackend {
    shared: Arc<Shared>,
}

impl LocalBackend {
    /// Starts the supervisor; pools appear when a policy first asks about them.
    pub fn start(settings: LocalSettings) -> Self {
        if settings.migrate_requests {
            process::enable_request_migration();
        }
        let shared = Arc::new(Shared::new(settings));
        tokio::spawn(supervisor::supervise(Arc::clone(&shared)));
        Self { shared }
    }

    /// The pool named `pool` now; None before a policy has asked about it.
    pub fn snapshot(&self, pool: &str) -> Option<PoolSnapshot> {
        let pools = self.shared.pools();
        let p = pools.get(pool)?;
        Some(PoolSnapshot {
            desired: p.desired,
            starting: p.count(ReplicaState::Starting),
            ready: p.count(ReplicaState::Ready),
            draining: p.count(ReplicaState::Draining),
            pids: p.replicas.iter().map(|r| r.pid).collect(),
            events: p.events.clone(),
        })
    }

    /// The base URL every replica of the pools shares.
    pub fn service_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.settings.port)
    }

    /// SIGKILLs one ready replica of `pool` (the demo's `--kill-replica-at`); its PID.
    pub fn kill_one(&self, pool: &str) -> Option<u32> {
        let pools = self.shared.pools();
        let victim = pools
            .get(pool)?
            .replicas
            .iter()
            .find(|r| r.state == ReplicaState::Ready)?
            .pid;
        process::signal(victim, libc::SIGKILL);
        Some(victim)
    }

    /// Every replica PID started and not yet reaped, across pools.
    pub fn pids(&self) -> Vec<u32> {
        self.shared
            .pools()
            .values()
            .flat_map(|p| p.replicas.iter().map(|r| r.pid))
            .collect()
    }

    /// Drains every replica (SIGTERM, then SIGKILL past the deadline) and waits for them.
    pub async fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + self.shared.settings.drain_deadline;
        for pid in self.pids() {
            process::signal(pid, libc::SIGTERM);
        }
        loop {
            let left: usize = {
                let mut pools = self.shared.pools();
                for pool in pools.values_mut() {
                    pool.replicas.retain_mut(|r| !matches!(r.child.try_wait(), Ok(Some(_))));
                }
                pools.values().map(|p| p.replicas.len()).sum()
            };
            if left == 0 {
                return;
            }
            if Instant::now() >= deadline {
                self.kill_all();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill_all(&self) {
        let mut pools = self.shared.pools();
        for r in pools.values_mut().flat_map(|p| p.replicas.iter_mut()) {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
        pools.values_mut().for_each(|p| p.replicas.clear());
    }
}

impl Drop for LocalBackend {
    fn drop(&mut self) {
        // Last resort when shutdown() was not awaited: no replica outlives the backend.
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.kill_all();
    }
}

fn pool_name<'a>(target: &'a Target, call: &'static str) -> Result<&'a str, BackendError> {
    match target {
        Target::Local { pool } => Ok(pool),
        other => Err(BackendError::Rejected {
            call,
            reason: format!("{} is not a local target", other.describe()),
        }),
    }
}

impl MetricSource for LocalBackend {
    async fn read(&self, policies: &[&Policy], now: DateTime<Utc>) -> Vec<BTreeMap<String, Sample>> {
        let pools = self.shared.pools();
        policies
            .iter()
            .map(|p| {
                p.rules
                    .iter()
                    .flat_map(|rule| rule.reads().into_iter().map(move |read| (rule, read)))
                    .map(|(rule, read)| {
                        let sample = match (pool_name(&p.target, "read"), rule.modelled()) {
                            (Err(e), _) => Sample::missing(MissingCause::Unsupported, e.to_string()),
                            (_, Err(e)) => Sample::missing(MissingCause::Unsupported, e),
                            (Ok(name), Ok(_)) => match pools.get(name) {
                                None => Sample::missing(MissingCause::NotPublished, "the pool has not started yet"),
                                Some(pool) => {
                                    measure::measure(&self.shared.settings, pool, read.measures, rule.period, now)
                                }
                            },
                        };
                        (read.key.to_string(), sample)
                    })
                    .collect()
            })
            .collect()
    }
}

impl CapacityTarget for LocalBackend {
    async fn capacity(&self, target: &Target) -> Result<Capacity, BackendError> {
        let name = pool_name(target, "capacity")?;
        let mut pools = self.shared.pools();
        let initial = self.shared.settings.initial_replicas;
        let pool = pools.entry(name.to_string()).or_insert_with(|| Pool {
            desired: initial,
            ..Pool::default()
        });
        Ok(Capacity {
            desired: pool.desired,
            running: pool.count(ReplicaState::Ready),
            pending: pool.count(ReplicaState::Starting),
            deployment_in_progress: false,
            // One build for the pool's life: the replicas never change revision.
            revision: 0,
        })
    }

    async fn set_desired(&self, target: &Target, desired: u32) -> Result<(), BackendError> {
        let name = pool_name(target, "set_desired")?;
        self.shared.pools().entry(name.to_string()).or_default().desired = desired;
        Ok(())
    }
}

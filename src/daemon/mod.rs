//! The daemon: a control loop over every policy, hot-reloaded policies, persisted
//! state, leadership when several daemons share one set of policies.
//!
//! Each policy is evaluated on its own interval, on a fixed grid: slow calls neither
//! shift later ticks (drift) nor queue up missed ones (pile-up). The loop itself never
//! waits on the world: rounds, re-reads of the policy source and the taking over of a
//! lease run as tasks of their own, each under a deadline.
//!
//! Files by job: `shared.rs` (what the loop, rounds and the API share), `takeover.rs`
//! (state at start and on taking the lease), `watcher.rs` and `reload.rs` (the policy
//! source), `round.rs`, `read.rs` and `evaluate.rs` (one round), `registry/` (the
//! policies in force), `state.rs` and `dynamodb/` (the state stores), `leadership.rs`
//! (the lease), `heartbeat.rs` and `telemetry.rs` (what the daemon reports).

#[cfg(feature = "aws")]
pub mod dynamodb;
mod evaluate;
pub mod events;
mod handover;
pub mod heartbeat;
mod history;
pub mod leadership;
mod memory;
mod read;
pub mod registry;
mod reload;
mod round;
mod shared;
pub mod source;
pub mod state;
mod takeover;
pub mod telemetry;
mod watcher;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use shared::{RegistryView, Shared};

use crate::backend::{CapacityTarget, Clock, MetricSource};
use crate::settings::Settings;
use autoscaler_core::policy::Backend;
use read::Bulkhead;
use registry::JournalEntry;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Policies(String),
}

pub struct Daemon<B> {
    shared: Arc<Shared>,
    backend: Arc<B>,
    source: tokio::sync::OnceCell<Arc<source::Source>>,
    bulkhead: Arc<Bulkhead>,
}

impl<B: MetricSource + CapacityTarget> Daemon<B> {
    pub fn new(settings: Settings, backend: Arc<B>, clock: Arc<dyn Clock>) -> Self {
        let clock_name = match settings.backend {
            Backend::Sim => format!(
                "the simulated clock of {}",
                settings
                    .sim_scenario
                    .as_ref()
                    .map_or("the embedded scenario".to_string(), |p| p.display().to_string())
            ),
            _ => "real time".to_string(),
        };
        let store: Arc<dyn state::StateStore> = Arc::new(
            state::FileStore::new(settings.state_file.clone(), settings.journal_size)
                .with_clock(clock_name, Arc::clone(&clock)),
        );
        Self::with_store(settings, backend, clock, store)
    }

    pub fn with_store(
        settings: Settings,
        backend: Arc<B>,
        clock: Arc<dyn Clock>,
        store: Arc<dyn state::StateStore>,
    ) -> Self {
        Self::with_leadership(settings, backend, clock, store, None)
    }

    /// A daemon that acts only while it holds the lease `leadership` manages; it reads
    /// its state from `store` when it takes the lease, not at start.
    pub fn with_leadership(
        settings: Settings,
        backend: Arc<B>,
        clock: Arc<dyn Clock>,
        store: Arc<dyn state::StateStore>,
        leadership: Option<Arc<leadership::Leadership>>,
    ) -> Self {
        // Install the recorder before anything is measured.
        let _ = telemetry::handle();
        memory::limit_arenas();
        let leads_alone = leadership.is_none();
        let shared = Arc::new(Shared::new(settings, clock, Arc::clone(&store), leadership));
        if leads_alone {
            takeover::restore(&shared, store.as_ref());
        } else {
            shared.set_state_status("follower: the state is read when this daemon takes the lease".into());
        }
        Self {
            shared,
            backend,
            source: tokio::sync::OnceCell::new(),
            bulkhead: Arc::new(Bulkhead::default()),
        }
    }

    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    async fn source(&self) -> Arc<source::Source> {
        let s = &self.shared;
        let source = self
            .source
            .get_or_init(|| async {
                Arc::new(source::Source::open(&s.settings.policies, &s.settings.aws, Arc::clone(&s.settle)).await)
            })
            .await;
        Arc::clone(source)
    }

    /// Loads the policies. Fails only if the policy source cannot be read at all; bad
    /// files are reported and skipped. Files still being written are waited for, up to
    /// the settle time.
    pub async fn start(&self) -> Result<(), DaemonError> {
        let source = self.source().await;
        let mut read = source.read().await.map_err(DaemonError::Policies)?;
        if !read.settling.is_empty() {
            tokio::time::sleep(self.shared.settle.quiet()).await;
            read = source.read().await.map_err(DaemonError::Policies)?;
        }
        let now = self.shared.clock.now();
        let report = self
            .shared
            .registry_mut()
            .apply(read, self.shared.settings.dry_run, now);
        reload::log(&report);
        self.shared.set_ready();
        Ok(())
    }

    /// Runs until `shutdown` completes, then lets evaluations in flight finish (up to
    /// their deadlines) and saves state.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let source = self.source().await;
        let _watcher = source.dir().and_then(|dir| watcher::watch(&self.shared, dir));
        let rescan = self.shared.settings.rescan_interval;
        let mut next_rescan = tokio::time::Instant::now() + rescan;
        let mut rounds = tokio::task::JoinSet::new();
        let mut reloading: Option<tokio::task::JoinHandle<Option<Duration>>> = None;
        let mut takeover: Option<tokio::task::JoinHandle<()>> = None;
        let mut releasing: Option<(tokio::task::JoinHandle<()>, tokio::time::Instant)> = None;
        let lease_task = self.spawn_lease_task();
        let mut last_look = self.shared.clock.now();
        loop {
            self.take_over_in_background(&mut takeover);
            self.reload_in_background(&source, &mut reloading, &mut next_rescan)
                .await;
            let now = self.shared.clock.now();
            // A follower neither reads metrics nor decides; its policies stay due, so a
            // new leader evaluates them at once.
            if let Some(epoch) = self.shared.acting_epoch() {
                let due = {
                    let mut reg = self.shared.registry_mut();
                    reg.due_at_schedule_edges(last_look, now);
                    reg.take_due(now)
                };
                self.release_in_background(&mut releasing);
                if !due.is_empty() {
                    rounds.spawn(round::round(
                        Arc::clone(&self.shared),
                        Arc::clone(&self.backend),
                        Arc::clone(&self.bulkhead),
                        due,
                        now,
                        epoch,
                        round::Kind::Scheduled,
                    ));
                }
            }
            last_look = now;
            while rounds.try_join_next().is_some() {}
            let wait = self.until_next(now, next_rescan);
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = self.shared.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        while rounds.join_next().await.is_some() {}
        if let Some(t) = lease_task {
            t.abort();
        }
        self.shared.writer.finish(self.shared.snapshot());
        self.shared.events.flush(self.shared.settings.aws.call_budget()).await;
        if let Some(l) = self.shared.leadership() {
            // After the last save: the successor reads what this leader wrote last.
            l.release().await;
        }
        tracing::info!("stopped; state saved");
    }

    /// Gives AWS's own scaling back where a policy that took it over was removed: a task of
    /// its own, tried again at most every [`registry::RECHECK`] while it fails.
    fn release_in_background(&self, releasing: &mut Option<(tokio::task::JoinHandle<()>, tokio::time::Instant)>) {
        let retry = registry::RECHECK.to_std().unwrap_or_default();
        if releasing
            .as_ref()
            .is_some_and(|(task, started)| !task.is_finished() || started.elapsed() < retry)
            || self.shared.registry().orphaned_suspensions().is_empty()
        {
            return;
        }
        let task = tokio::spawn(handover::release_orphans(
            Arc::clone(&self.shared),
            Arc::clone(&self.backend),
        ));
        *releasing = Some((task, tokio::time::Instant::now()));
    }

    /// How long the loop may sleep: until the next policy is due or a schedule window
    /// opens or closes (a follower: until the lease task wakes it), a re-read is due, or
    /// a written file has settled.
    fn until_next(&self, now: chrono::DateTime<chrono::Utc>, next_rescan: tokio::time::Instant) -> Duration {
        let until_due = if self.shared.acting_epoch().is_some() {
            let next = self.shared.registry().next_wake(now);
            next.map_or(Duration::from_secs(3600), |t| self.shared.clock.real_until(t))
        } else {
            Duration::from_secs(3600)
        };
        let settle = self.shared.reload_wait();
        until_due
            .min(next_rescan.saturating_duration_since(tokio::time::Instant::now()))
            .min(settle.unwrap_or(Duration::MAX))
            .min(Duration::from_secs(3600))
    }

    /// Starts loading the state of a lease epoch this daemon now holds, unless it is
    /// loading one already. Rounds of an earlier leadership may still run; they are
    /// fenced, and they save under no later epoch.
    fn take_over_in_background(&self, running: &mut Option<tokio::task::JoinHandle<()>>) {
        if running.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        *running = self.shared.to_adopt().map(|epoch| {
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                let store = Arc::clone(&shared.state_store);
                takeover::take_over(&shared, &store, epoch).await;
                shared.wake.notify_one();
            })
        });
    }

    /// Starts a re-read of the policy source when one is asked for or due, unless one is
    /// running; a finished one that left files settling asks for another then.
    async fn reload_in_background(
        &self,
        source: &Arc<source::Source>,
        running: &mut Option<tokio::task::JoinHandle<Option<Duration>>>,
        next_rescan: &mut tokio::time::Instant,
    ) {
        if let Some(task) = running.take() {
            if !task.is_finished() {
                *running = Some(task);
                return;
            }
            if let Ok(Some(settle)) = task.await {
                self.shared.request_reload_after(settle);
            }
        }
        let rescan_due = tokio::time::Instant::now() >= *next_rescan;
        if self.shared.take_reload() || rescan_due {
            *next_rescan = tokio::time::Instant::now() + self.shared.settings.rescan_interval;
            let (shared, source) = (Arc::clone(&self.shared), Arc::clone(source));
            *running = Some(tokio::spawn(async move {
                let settling = reload::reload(&shared, &source).await;
                shared.wake.notify_one();
                settling
            }));
        }
    }

    /// Claims or renews the lease on a fixed grid of a third of its TTL until stopped;
    /// wakes the loop when this daemon becomes the leader.
    fn spawn_lease_task(&self) -> Option<tokio::task::JoinHandle<()>> {
        let shared = Arc::clone(&self.shared);
        let lease = self.shared.leadership_arc()?;
        Some(tokio::spawn(async move {
            let mut grid = tokio::time::interval(leadership::renew_every(lease.ttl()));
            grid.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                grid.tick().await;
                if lease.tick().await == leadership::Change::BecameLeader {
                    shared.wake.notify_one();
                }
                let leading = lease.acting_epoch().is_some();
                metrics::gauge!(telemetry::LEADER).set(if leading { 1.0 } else { 0.0 });
            }
        }))
    }

    /// Evaluates every policy once, now (`run --once`).
    pub async fn evaluate_all(&self) -> Vec<JournalEntry> {
        let now = self.shared.clock.now();
        // No heartbeat: stdout carries the decisions here.
        let epoch = match self.shared.leadership() {
            None => 0,
            Some(l) => {
                l.tick().await;
                if let Some(epoch) = self.shared.to_adopt() {
                    takeover::take_over(&self.shared, &self.shared.state_store, epoch).await;
                }
                match self.shared.acting_epoch() {
                    Some(e) => e,
                    None => {
                        tracing::warn!(role = ?l.role(), "not leading: nothing evaluated");
                        return Vec::new();
                    }
                }
            }
        };
        let names = self.shared.registry_mut().take_all();
        let entries = round::round(
            Arc::clone(&self.shared),
            Arc::clone(&self.backend),
            Arc::clone(&self.bulkhead),
            names,
            now,
            epoch,
            round::Kind::Once,
        )
        .await;
        self.shared.writer.finish(self.shared.snapshot());
        self.shared.events.flush(self.shared.settings.aws.call_budget()).await;
        if let Some(l) = self.shared.leadership() {
            l.release().await;
        }
        entries
    }
}

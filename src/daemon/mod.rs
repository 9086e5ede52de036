//! The daemon: a round-based control loop over every policy, hot-reloaded policy files,
//! persisted state, and wake-ups at schedule boundaries.
//!
//! Each policy is evaluated on its own interval. Policies that are due together are
//! evaluated in one round, so a backend reads all their metrics in one batch; within a
//! round each policy's capacity read and update are independent, so one failing policy
//! never blocks another. Due times advance on a fixed grid: slow calls neither shift
//! later ticks (drift) nor queue up missed ones (pile-up).

pub mod registry;
pub mod schedules;
pub mod state;
pub mod telemetry;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::backend::{CapacityTarget, Clock, MetricSource};
use crate::decide::{Action, History, Observation, Sample, to_chrono};
use crate::policy::Policy;
use crate::settings::Settings;
use registry::{JournalEntry, Point, Registry};

/// How long the status page's charts look back.
const SERIES_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// What the daemon and its API share.
pub struct Shared {
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    registry: Mutex<Registry>,
    wake: Notify,
    reload: AtomicBool,
    reloads: AtomicU64,
    ready: AtomicBool,
    /// How the state file was found at start, for the status API.
    state_status: Mutex<String>,
}

impl Shared {
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times the policies directory has been re-read since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::SeqCst)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn state_status(&self) -> String {
        self.state_status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes `name` due now (schedule edges, resume).
    pub fn evaluate_now(&self, name: &str) {
        if let Some(entry) = self.registry().policies.get_mut(name) {
            entry.next_due = self.clock.now();
        }
        self.wake.notify_one();
    }

    /// Asks the loop to re-read the policies directory.
    pub fn request_reload(&self) {
        self.reload.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Pauses or resumes a policy; false if there is no such policy.
    pub fn set_paused(&self, name: &str, paused: bool) -> bool {
        let found = match self.registry().policies.get_mut(name) {
            Some(entry) => {
                entry.paused = paused;
                true
            }
            None => false,
        };
        if found && !paused {
            self.evaluate_now(name);
        }
        found
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Policies(String),
}

pub struct Daemon<B> {
    shared: Arc<Shared>,
    backend: Arc<B>,
}

impl<B: MetricSource + CapacityTarget> Daemon<B> {
    pub fn new(settings: Settings, backend: Arc<B>, clock: Arc<dyn Clock>) -> Self {
        // Install the recorder before anything is measured.
        let _ = telemetry::handle();
        let shared = Arc::new(Shared {
            settings,
            clock,
            registry: Mutex::new(Registry::default()),
            wake: Notify::new(),
            reload: AtomicBool::new(false),
            reloads: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            state_status: Mutex::new(String::new()),
        });
        Self { shared, backend }
    }

    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Restores persisted state and loads the policies. Fails only if the policies
    /// directory cannot be read at all; bad files are reported and skipped.
    pub fn start(&self) -> Result<(), DaemonError> {
        let settings = &self.shared.settings;
        let now = self.shared.clock.now();
        let (mut restored, conservative, status) = match state::load(&settings.state_file) {
            state::Loaded::Missing => {
                tracing::info!(file = %settings.state_file.display(), "no state file: starting fresh");
                (BTreeMap::new(), false, "fresh start (no state file)".to_string())
            }
            state::Loaded::Restored(p) => {
                tracing::info!(file = %settings.state_file.display(), policies = p.len(), "state restored");
                (p, false, "restored".to_string())
            }
            state::Loaded::Corrupt(reason) => {
                let aside = settings.state_file.with_extension("corrupt");
                let _ = std::fs::rename(&settings.state_file, &aside);
                tracing::error!(%reason, kept_at = %aside.display(), "state file unusable: no scale-in for one stabilization window");
                (
                    BTreeMap::new(),
                    true,
                    format!("corrupt, started conservatively: {reason}"),
                )
            }
        };
        *self.shared.state_status.lock().unwrap_or_else(|p| p.into_inner()) = status;

        let sources = registry::read_dir(&settings.policies_dir).map_err(DaemonError::Policies)?;
        let mut history = |p: &Policy| match restored.get(&p.name) {
            Some(s) => s.history.clone(),
            None if conservative => History::conservative(p, now),
            None => History::default(),
        };
        let report = self
            .shared
            .registry()
            .apply(sources, settings.dry_run, now, &mut history);
        log_reload(&report);
        let mut reg = self.shared.registry();
        for (name, entry) in reg.policies.iter_mut() {
            if let Some(s) = restored.remove(name) {
                entry.journal = s.journal.into_iter().collect();
            }
        }
        drop(reg);
        self.shared.ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn reload(&self) {
        self.shared.reloads.fetch_add(1, Ordering::SeqCst);
        let now = self.shared.clock.now();
        match registry::read_dir(&self.shared.settings.policies_dir) {
            Ok(sources) => {
                let report = self
                    .shared
                    .registry()
                    .apply(sources, self.shared.settings.dry_run, now, &mut |_| History::default());
                log_reload(&report);
            }
            Err(e) => tracing::error!("{e}; keeping the policies in force"),
        }
    }

    /// Runs until `shutdown` completes, then finishes the round in flight and saves state.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let _watcher = self.watch();
        let mut wakeups = if self.shared.clock.is_real_time() {
            match schedules::ScheduleWakeups::start().await {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!("{e}; schedules apply at the next evaluation instead of at their edges");
                    None
                }
            }
        } else {
            None
        };
        let rescan = self.shared.settings.rescan_interval;
        let mut next_rescan = tokio::time::Instant::now() + rescan;
        let mut synced = false;
        loop {
            let rescan_due = tokio::time::Instant::now() >= next_rescan;
            if self.shared.reload.swap(false, Ordering::SeqCst) || rescan_due {
                self.reload();
                next_rescan = tokio::time::Instant::now() + rescan;
                synced = false;
            }
            if !synced && let Some(w) = wakeups.as_mut() {
                let policies = self.policies();
                w.sync(&policies, &self.shared).await;
                synced = true;
            }
            let now = self.shared.clock.now();
            let due = self.take_due(now);
            if !due.is_empty() {
                self.round(&due, now).await;
                self.persist();
            }
            let wait = self
                .until_next()
                .min(next_rescan.saturating_duration_since(tokio::time::Instant::now()));
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = self.shared.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.persist();
        if let Some(w) = wakeups {
            w.stop().await;
        }
        tracing::info!("stopped; state saved");
    }

    /// Evaluates every policy once, now (`run --once`).
    pub async fn evaluate_all(&self) -> Vec<JournalEntry> {
        let now = self.shared.clock.now();
        let names: Vec<String> = self.shared.registry().policies.keys().cloned().collect();
        let entries = self.round(&names, now).await;
        self.persist();
        entries
    }

    fn policies(&self) -> Vec<Policy> {
        self.shared
            .registry()
            .policies
            .values()
            .map(|e| e.controller.policy.clone())
            .collect()
    }

    /// Names of the policies due at `now`, advancing each one's next due time on its grid.
    fn take_due(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut reg = self.shared.registry();
        let mut due = Vec::new();
        for (name, entry) in reg.policies.iter_mut() {
            if entry.next_due > now {
                continue;
            }
            let interval = to_chrono(entry.controller.policy.interval);
            let missed = (now - entry.next_due).num_milliseconds() / interval.num_milliseconds().max(1);
            entry.next_due += interval * (missed as i32 + 1);
            if !entry.paused {
                due.push(name.clone());
            }
        }
        due
    }

    fn until_next(&self) -> Duration {
        let reg = self.shared.registry();
        let next = reg.policies.values().map(|e| e.next_due).min();
        drop(reg);
        next.map_or(Duration::from_secs(3600), |t| self.shared.clock.real_until(t))
            .min(Duration::from_secs(3600))
    }

    async fn round(&self, names: &[String], now: DateTime<Utc>) -> Vec<JournalEntry> {
        let policies: Vec<Policy> = {
            let reg = self.shared.registry();
            names
                .iter()
                .filter_map(|n| reg.policies.get(n).map(|e| e.controller.policy.clone()))
                .collect()
        };
        let refs: Vec<&Policy> = policies.iter().collect();
        let started = std::time::Instant::now();
        let samples = self.backend.read(&refs, now).await;
        metrics::histogram!(telemetry::BACKEND_SECONDS, "call" => "read_metrics")
            .record(started.elapsed().as_secs_f64());
        let evaluations = policies.iter().zip(samples).map(|(p, m)| self.evaluate(p, m, now));
        futures::future::join_all(evaluations)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn evaluate(
        &self,
        policy: &Policy,
        metrics: BTreeMap<String, Sample>,
        now: DateTime<Utc>,
    ) -> Option<JournalEntry> {
        let name = policy.name.as_str();
        metrics::counter!(telemetry::TICKS, "policy" => name.to_string()).increment(1);
        let capacity = match telemetry::timed("describe_service", self.backend.capacity(&policy.target)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(policy = name, "{e}; no decision this round");
                if let Some(entry) = self.shared.registry().policies.get_mut(name) {
                    entry.last_error = Some(e.to_string());
                }
                return None;
            }
        };
        for (rule, sample) in &metrics {
            if let Sample::Value(r) = sample {
                let age = (now - r.at).num_milliseconds() as f64 / 1000.0;
                metrics::gauge!(telemetry::METRIC_AGE, "policy" => name.to_string(), "rule" => rule.clone()).set(age);
            }
        }
        let obs = Observation { capacity, metrics };
        let decision = self
            .shared
            .registry()
            .policies
            .get_mut(name)?
            .controller
            .evaluate(&obs, now);

        let error = if decision.should_apply() {
            let update = self.backend.set_desired(&policy.target, decision.desired);
            telemetry::timed("update_service", update).await.err().map(|e| {
                tracing::warn!(policy = name, "{e}; no cooldown started, the next round tries again");
                e.to_string()
            })
        } else {
            None
        };
        let entry = JournalEntry {
            explanation: decision.explain(),
            applied: decision.should_apply() && error.is_none(),
            error,
            decision,
        };
        {
            let mut reg = self.shared.registry();
            let pe = reg.policies.get_mut(name)?;
            if entry.applied {
                pe.controller.applied(&entry.decision);
            }
            pe.last_error = entry.error.clone();
            pe.journal.push_back(entry.clone());
            while pe.journal.len() > self.shared.settings.journal_size {
                pe.journal.pop_front();
            }
            let values = policy.rules.iter().map(|r| {
                entry
                    .decision
                    .rules
                    .iter()
                    .find(|v| v.rule == r.name)
                    .and_then(|v| v.value)
            });
            pe.series.push_back(Point {
                at: now,
                desired: entry.decision.desired,
                running: entry.decision.capacity.running,
                values: values.collect(),
            });
            while pe.series.front().is_some_and(|p| p.at < now - SERIES_WINDOW) {
                pe.series.pop_front();
            }
        }
        let action = match entry.decision.action {
            Action::Hold => "hold",
            Action::ScaleOut => "scale_out",
            Action::ScaleIn => "scale_in",
        };
        metrics::counter!(telemetry::DECISIONS, "policy" => name.to_string(), "action" => action).increment(1);
        metrics::gauge!(telemetry::DESIRED, "policy" => name.to_string()).set(f64::from(entry.decision.desired));
        if entry.decision.action == Action::Hold {
            tracing::debug!(policy = name, "{}", entry.explanation);
        } else {
            tracing::info!(policy = name, applied = entry.applied, "{}", entry.explanation);
        }
        Some(entry)
    }

    fn persist(&self) {
        let snapshot: BTreeMap<String, state::PolicyState> = self
            .shared
            .registry()
            .policies
            .iter()
            .map(|(n, e)| {
                let s = state::PolicyState {
                    history: e.controller.history.clone(),
                    journal: e.journal.iter().cloned().collect(),
                };
                (n.clone(), s)
            })
            .collect();
        if let Err(e) = state::save(&self.shared.settings.state_file, &snapshot, self.shared.clock.now()) {
            tracing::error!(file = %self.shared.settings.state_file.display(), "cannot save state: {e}");
        }
    }

    /// Watches the policies directory; the periodic re-scan covers volumes where this sees nothing.
    fn watch(&self) -> Option<notify::RecommendedWatcher> {
        use notify::Watcher;
        let shared = Arc::clone(&self.shared);
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Reading the files during a reload raises access events: reacting to those
            // would reload forever.
            let changed = event.is_ok_and(|e| e.kind.is_create() || e.kind.is_modify() || e.kind.is_remove());
            if changed {
                shared.request_reload();
            }
        })
        .map_err(|e| tracing::warn!("cannot watch policies: {e}; relying on the periodic re-scan"))
        .ok()?;
        watcher
            .watch(&self.shared.settings.policies_dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| tracing::warn!("cannot watch policies: {e}; relying on the periodic re-scan"))
            .ok()?;
        Some(watcher)
    }
}

fn log_reload(report: &registry::ReloadReport) {
    for name in &report.added {
        tracing::info!(policy = %name, "policy loaded");
    }
    for name in &report.updated {
        tracing::info!(policy = %name, "policy reloaded");
    }
    for name in &report.removed {
        tracing::info!(policy = %name, "policy removed: no longer evaluated");
    }
    for (file, error) in &report.rejected {
        metrics::counter!(telemetry::RELOAD_ERRORS).increment(1);
        tracing::error!(file = %file.display(), "policy rejected, the last good version (if any) stays in force:\n{error}");
    }
}

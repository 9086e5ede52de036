//! The daemon: a control loop over every policy, hot-reloaded policies, persisted
//! state, and wake-ups at schedule boundaries.
//!
//! Each policy is evaluated on its own interval, on a fixed grid: slow calls neither
//! shift later ticks (drift) nor queue up missed ones (pile-up). Policies due together
//! share one metric read, so a backend can batch its queries; after it, each policy's
//! capacity read, decision and update run as a task of their own under their own
//! deadline, and the loop does not wait for them: one slow or failing target never
//! holds up another. A policy whose previous evaluation is still running skips its tick
//! (counted) instead of piling up.

#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod heartbeat;
pub mod leadership;
pub mod registry;
pub mod schedules;
pub mod source;
pub mod state;
pub mod telemetry;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::backend::{CapacityTarget, Clock, MetricSource, READ_FAILED};
use crate::decide::{Action, Observation, Sample, to_chrono};
use crate::policy::Policy;
use crate::settings::Settings;
use registry::{JournalEntry, Point, Registry};

/// How long the status page's charts look back.
const SERIES_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// The longest one policy's evaluation may take, whatever its interval.
const MAX_DEADLINE: Duration = Duration::from_secs(60);

/// What the daemon and its API share.
pub struct Shared {
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    registry: Mutex<Registry>,
    wake: Notify,
    reload: AtomicBool,
    reloads: AtomicU64,
    ready: AtomicBool,
    /// How the state was found at start, for the status API.
    state_status: Mutex<String>,
    /// Why the last read of the policy source (directory or S3 prefix) failed, until one succeeds.
    source_error: Mutex<Option<String>>,
    writer: state::Writer,
    store: String,
    /// The state store itself, for the write-ahead of an action.
    state_store: Arc<dyn state::StateStore>,
    /// Who acts, when several daemons share a lease; None for the only daemon.
    leadership: Option<Arc<leadership::Leadership>>,
    /// The lease epoch whose state this daemon has loaded (0: none). It acts, and saves,
    /// only under that epoch: a lease taken by any path (the lease task or a fence) is
    /// first followed by loading the last leader's state.
    adopted: AtomicU64,
}

impl Shared {
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times the policies have been re-read since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::SeqCst)
    }

    /// Policies are loaded and at least one is in force.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.registry().policies.is_empty()
    }

    pub fn state_status(&self) -> String {
        self.state_status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Why the policies could not be re-read, while that lasts; the ones in force stay.
    pub fn source_error(&self) -> Option<String> {
        self.source_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_source_error(&self, error: Option<String>) {
        *self.source_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    /// This daemon's role: the only one, or leader or follower under a lease.
    pub fn role(&self) -> leadership::Role {
        self.leadership.as_ref().map_or(leadership::Role::Single, |l| l.role())
    }

    pub fn leadership(&self) -> Option<&leadership::Leadership> {
        self.leadership.as_deref()
    }

    /// The lease epoch this daemon acts under, or None if it may not act now: it does not
    /// hold the lease, or has not loaded the state of the epoch it holds. A daemon without
    /// a lease always may (epoch 0).
    fn acting_epoch(&self) -> Option<u64> {
        match &self.leadership {
            None => Some(0),
            Some(l) => l.acting_epoch().filter(|e| *e == self.adopted.load(Ordering::SeqCst)),
        }
    }

    /// The epoch held but whose state is not loaded yet, if any.
    fn to_adopt(&self) -> Option<u64> {
        let held = self.leadership.as_ref()?.acting_epoch()?;
        (held != self.adopted.load(Ordering::SeqCst)).then_some(held)
    }

    /// Where state is kept, and how saving has gone.
    pub fn state_store(&self) -> (String, state::SaveStatus) {
        (self.store.clone(), self.writer.status())
    }

    /// Makes `name` due now (schedule edges, resume).
    pub fn evaluate_now(&self, name: &str) {
        if let Some(entry) = self.registry().policies.get_mut(name) {
            entry.next_due = self.clock.now();
        }
        self.wake.notify_one();
    }

    /// Asks the loop to re-read the policies.
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

    /// The Prometheus exposition of the daemon.
    pub fn render_metrics(&self) -> String {
        let now = self.clock.now();
        telemetry::render(&self.registry(), now)
    }

    /// Every target's history, and the journal entries not yet saved.
    fn snapshot(&self) -> state::Snapshot {
        let epoch = self.acting_epoch().filter(|_| self.leadership.is_some());
        self.snapshot_at(epoch)
    }

    /// A snapshot stamped with `epoch` (what a shared store writes under; None writes
    /// nothing there). A round passes the epoch it ran under, so a round of an earlier
    /// leadership never writes under a later one.
    fn snapshot_for(&self, round_epoch: u64) -> state::Snapshot {
        let epoch = match &self.leadership {
            None => None,
            Some(_) => self.acting_epoch().filter(|e| *e == round_epoch),
        };
        self.snapshot_at(epoch)
    }

    fn snapshot_at(&self, epoch: Option<u64>) -> state::Snapshot {
        let mut reg = self.registry();
        let mut snapshot = state::Snapshot {
            saved_at: self.clock.now(),
            epoch,
            ..Default::default()
        };
        for (key, r) in &reg.retained {
            snapshot.histories.insert(key.clone(), r.clone());
        }
        for (name, e) in reg.policies.iter_mut() {
            let key = e.controller.policy.target.key();
            snapshot.histories.insert(
                key.clone(),
                registry::Retained {
                    name: name.clone(),
                    history: e.controller.history.clone(),
                    journal: Default::default(),
                },
            );
            if e.journal_unsaved > 0 {
                let from = e.journal.len().saturating_sub(e.journal_unsaved);
                snapshot
                    .appended
                    .insert(key, e.journal.iter().skip(from).cloned().collect());
                e.journal_unsaved = 0;
            }
        }
        snapshot
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
    source: tokio::sync::OnceCell<source::Source>,
    /// Read again when this daemon takes the lease over.
    store: Arc<dyn state::StateStore>,
}

impl<B: MetricSource + CapacityTarget> Daemon<B> {
    pub fn new(settings: Settings, backend: Arc<B>, clock: Arc<dyn Clock>) -> Self {
        let clock_name = match settings.backend {
            crate::settings::BackendKind::Sim => format!(
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
        let backend_kind = settings.backend;
        let shared = Arc::new(Shared {
            settings,
            clock,
            registry: Mutex::new(Registry {
                backend: Some(backend_kind),
                ..Registry::default()
            }),
            wake: Notify::new(),
            reload: AtomicBool::new(false),
            reloads: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            state_status: Mutex::new(String::new()),
            source_error: Mutex::new(None),
            store: store.describe(),
            state_store: Arc::clone(&store),
            writer: state::Writer::start(Arc::clone(&store)),
            adopted: AtomicU64::new(0),
            leadership,
        });
        let daemon = Self {
            shared,
            backend,
            source: tokio::sync::OnceCell::new(),
            store,
        };
        if daemon.shared.leadership.is_none() {
            daemon.restore();
        } else {
            *daemon.shared.state_status.lock().unwrap_or_else(|p| p.into_inner()) =
                "follower: the state is read when this daemon takes the lease".into();
        }
        daemon
    }

    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    fn restore(&self) {
        let store = self.store.as_ref();
        let status = match store.load() {
            state::Loaded::Missing => {
                tracing::info!(store = %store.describe(), "no saved state: starting fresh (no scale-in for one stabilization window)");
                "fresh start: no saved state; no scale-in until each policy has observed one stabilization window"
                    .to_string()
            }
            state::Loaded::Restored(targets) => {
                tracing::info!(store = %store.describe(), targets = targets.len(), "state restored");
                self.shared.registry().retained = targets;
                "restored".to_string()
            }
            state::Loaded::Corrupt(reason) => {
                tracing::error!(%reason, "state unusable: starting fresh (no scale-in for one stabilization window)");
                format!("corrupt, started fresh: {reason}")
            }
        };
        *self.shared.state_status.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// This daemon holds the lease at an epoch whose state it has not loaded: it continues
    /// from the state the last leader left (cooldowns, baselines, what was learned) and,
    /// not having watched the last stabilization window itself, scales in only after
    /// observing one. If the state cannot be read it does not lead on without it: it gives
    /// the lease up (another daemon, or itself at its next claim, tries again).
    async fn take_over(&self, epoch: u64) {
        let store = Arc::clone(&self.store);
        let loaded = tokio::task::spawn_blocking(move || store.load())
            .await
            .unwrap_or_else(|e| state::Loaded::Corrupt(format!("loading the state panicked: {e}")));
        let status = match loaded {
            state::Loaded::Missing => format!("took the lease at epoch {epoch}: no saved state, starting fresh"),
            state::Loaded::Restored(targets) => {
                let n = targets.len();
                self.shared.registry().adopt(targets);
                format!("took the lease at epoch {epoch}: restored {n} target(s)")
            }
            state::Loaded::Corrupt(reason) => {
                tracing::error!(%reason, epoch, "cannot read the last leader's state: giving the lease up");
                if let Some(l) = &self.shared.leadership {
                    l.release().await;
                }
                *self.shared.state_status.lock().unwrap_or_else(|p| p.into_inner()) =
                    format!("gave the lease up: the state could not be read ({reason})");
                return;
            }
        };
        self.shared.adopted.store(epoch, Ordering::SeqCst);
        tracing::info!(epoch, "{status}");
        *self.shared.state_status.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// Claims or renews the lease every third of its TTL until `stop`; wakes the loop when
    /// this daemon becomes the leader.
    fn spawn_lease_task(&self) -> Option<tokio::task::JoinHandle<()>> {
        let shared = Arc::clone(&self.shared);
        let lease = Arc::clone(self.shared.leadership.as_ref()?);
        Some(tokio::spawn(async move {
            loop {
                if lease.tick().await == leadership::Change::BecameLeader {
                    shared.wake.notify_one();
                }
                let leading = lease.acting_epoch().is_some();
                metrics::gauge!(telemetry::LEADER).set(if leading { 1.0 } else { 0.0 });
                tokio::time::sleep(leadership::renew_every(lease.ttl())).await;
            }
        }))
    }

    async fn source(&self) -> &source::Source {
        let settings = &self.shared.settings;
        self.source
            .get_or_init(|| source::Source::open(&settings.policies_dir, &settings.aws))
            .await
    }

    /// Loads the policies. Fails only if the policy source cannot be read at all; bad
    /// files are reported and skipped.
    pub async fn start(&self) -> Result<(), DaemonError> {
        let sources = self.source().await.read().await.map_err(DaemonError::Policies)?;
        let now = self.shared.clock.now();
        let report = self.shared.registry().apply(sources, self.shared.settings.dry_run, now);
        log_reload(&report);
        self.shared.ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn reload(&self) {
        self.shared.reloads.fetch_add(1, Ordering::SeqCst);
        let source = self.source().await;
        match telemetry::timed("read_policies", source.read()).await {
            Ok(sources) => {
                self.shared.set_source_error(None);
                let now = self.shared.clock.now();
                let report = self.shared.registry().apply(sources, self.shared.settings.dry_run, now);
                log_reload(&report);
            }
            Err(e) => {
                tracing::error!("{e}; keeping the policies in force");
                self.shared.set_source_error(Some(e.to_string()));
            }
        }
    }

    /// Runs until `shutdown` completes, then lets evaluations in flight finish (up to
    /// their deadlines) and saves state.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let _watcher = match self.source().await.dir() {
            Some(dir) => self.watch(dir),
            None => None,
        };
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
        let mut rounds = tokio::task::JoinSet::new();
        let lease_task = self.spawn_lease_task();
        loop {
            if let Some(epoch) = self.shared.to_adopt() {
                // Rounds of an earlier leadership may still run; they are fenced, and they
                // save under no later epoch.
                self.take_over(epoch).await;
            }
            let rescan_due = tokio::time::Instant::now() >= next_rescan;
            if self.shared.reload.swap(false, Ordering::SeqCst) || rescan_due {
                self.reload().await;
                next_rescan = tokio::time::Instant::now() + rescan;
                synced = false;
            }
            if !synced && let Some(w) = wakeups.as_mut() {
                let policies = self.policies();
                w.sync(&policies, &self.shared).await;
                synced = true;
            }
            let now = self.shared.clock.now();
            // A follower neither reads metrics nor decides; its policies stay due, so a
            // new leader evaluates them at once.
            if let Some(epoch) = self.shared.acting_epoch() {
                let due = self.take_due(now);
                if !due.is_empty() {
                    rounds.spawn(round(
                        Arc::clone(&self.shared),
                        Arc::clone(&self.backend),
                        due,
                        now,
                        epoch,
                        true,
                    ));
                }
            }
            while rounds.try_join_next().is_some() {}
            // A follower has nothing due: it waits for the lease task's wake-up (or a
            // re-scan), not for policies that stay due while it follows.
            let until_due = if self.shared.acting_epoch().is_some() {
                self.until_next()
            } else {
                Duration::from_secs(3600)
            };
            let wait = until_due.min(next_rescan.saturating_duration_since(tokio::time::Instant::now()));
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
        if let Some(l) = &self.shared.leadership {
            // After the last save: the successor reads what this leader wrote last.
            l.release().await;
        }
        if let Some(w) = wakeups {
            w.stop().await;
        }
        tracing::info!("stopped; state saved");
    }

    /// Evaluates every policy once, now (`run --once`).
    pub async fn evaluate_all(&self) -> Vec<JournalEntry> {
        let now = self.shared.clock.now();
        let names: Vec<String> = {
            let mut reg = self.shared.registry();
            reg.policies
                .iter_mut()
                .filter(|(_, e)| !e.in_flight)
                .map(|(n, e)| {
                    e.in_flight = true;
                    n.clone()
                })
                .collect()
        };
        // No heartbeat: stdout carries the decisions here.
        let epoch = match &self.shared.leadership {
            None => 0,
            Some(l) => {
                l.tick().await;
                if let Some(epoch) = self.shared.to_adopt() {
                    self.take_over(epoch).await;
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
        let entries = round(
            Arc::clone(&self.shared),
            Arc::clone(&self.backend),
            names,
            now,
            epoch,
            false,
        )
        .await;
        if let Some(l) = &self.shared.leadership {
            self.shared.writer.finish(self.shared.snapshot());
            l.release().await;
            return entries;
        }
        self.shared.writer.finish(self.shared.snapshot());
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

    /// Names of the policies due at `now`, advancing each one's next due time on its
    /// grid and marking it in flight.
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
            if entry.paused {
                continue;
            }
            if entry.in_flight {
                entry.skipped += 1;
                tracing::warn!(policy = %name, "previous evaluation still running: tick skipped");
                continue;
            }
            entry.in_flight = true;
            due.push(name.clone());
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

    /// Watches the policies directory; the periodic re-scan covers volumes where this
    /// sees nothing, and S3 sources.
    fn watch(&self, dir: &std::path::Path) -> Option<notify::RecommendedWatcher> {
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
            .watch(dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| tracing::warn!("cannot watch policies: {e}; relying on the periodic re-scan"))
            .ok()?;
        Some(watcher)
    }
}

/// One round: a shared metric read for the policies due, then each policy on its own
/// task under its own deadline; then a snapshot for the state store.
async fn round<B: MetricSource + CapacityTarget>(
    shared: Arc<Shared>,
    backend: Arc<B>,
    names: Vec<String>,
    now: DateTime<Utc>,
    epoch: u64,
    heartbeat: bool,
) -> Vec<JournalEntry> {
    metrics::counter!(telemetry::ROUNDS).increment(1);
    let policies: Vec<Policy> = {
        let reg = shared.registry();
        names
            .iter()
            .filter_map(|n| reg.policies.get(n).map(|e| e.controller.policy.clone()))
            .collect()
    };
    let refs: Vec<&Policy> = policies.iter().collect();
    let started = std::time::Instant::now();
    let samples = backend.read(&refs, now).await;
    metrics::histogram!(telemetry::BACKEND_SECONDS, "call" => "read_metrics").record(started.elapsed().as_secs_f64());
    let tasks: Vec<_> = policies
        .into_iter()
        .zip(samples)
        .map(|(policy, metrics)| {
            let (shared, backend) = (Arc::clone(&shared), Arc::clone(&backend));
            tokio::spawn(async move {
                let name = policy.name.clone();
                let entry = evaluate(&shared, backend.as_ref(), &policy, metrics, now, epoch).await;
                if let Some(e) = shared.registry().policies.get_mut(&name) {
                    e.in_flight = false;
                }
                entry
            })
        })
        .collect();
    let mut entries = Vec::new();
    for task in tasks {
        if let Ok(Some(entry)) = task.await {
            entries.push(entry);
        }
    }
    metrics::histogram!(telemetry::ROUND_SECONDS).record(started.elapsed().as_secs_f64());
    shared.writer.save_with(|| shared.snapshot_for(epoch));
    if let Some(name) = shared.settings.heartbeat_name.as_ref().filter(|_| heartbeat) {
        let errors = {
            let reg = shared.registry();
            names
                .iter()
                .filter_map(|n| reg.policies.get(n))
                .filter(|e| e.last_error.is_some())
                .count() as u64
        } + u64::from(shared.source_error().is_some());
        let round = heartbeat::Round {
            decisions: entries.len() as u64,
            backend_errors: errors,
        };
        println!("{}", heartbeat::record(name, round, now.timestamp_millis()));
    }
    entries
}

/// Records a failure for the policy; no decision this round.
fn fail(shared: &Shared, name: &str, error: String) -> Option<JournalEntry> {
    tracing::warn!(policy = name, "{error}; no decision this round");
    if let Some(entry) = shared.registry().policies.get_mut(name) {
        entry.last_error = Some(error);
    }
    None
}

async fn evaluate<B: MetricSource + CapacityTarget>(
    shared: &Shared,
    backend: &B,
    policy: &Policy,
    metrics: BTreeMap<String, Sample>,
    now: DateTime<Utc>,
    epoch: u64,
) -> Option<JournalEntry> {
    let name = policy.name.as_str();
    let deadline = tokio::time::Instant::now() + policy.interval.clamp(Duration::from_secs(1), MAX_DEADLINE);
    let read_failure = metrics.values().find_map(|s| match s {
        Sample::Missing { reason } if reason.starts_with(READ_FAILED) => Some(reason.clone()),
        _ => None,
    });
    {
        let mut reg = shared.registry();
        let entry = reg.policies.get_mut(name)?;
        for (rule, sample) in &metrics {
            if let Sample::Value(r) = sample {
                let newest = entry.last_datapoint.entry(rule.clone()).or_insert(r.at);
                *newest = (*newest).max(r.at);
            }
        }
    }
    // The backend may answer several policies' reads with one call (ECS: 10 services of
    // a cluster per DescribeServices); each policy still waits only for its own answer.
    // Boxed: a round holds one task per policy, and the SDK's futures are large; a task
    // should carry them only while it makes the call (1,000 policies: tens of MB).
    let capacity = telemetry::timed("describe_service", Box::pin(backend.capacity(&policy.target)));
    let capacity = match tokio::time::timeout_at(deadline, capacity).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return fail(shared, name, e.to_string()),
        Err(_) => {
            metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "describe_service").increment(1);
            return fail(
                shared,
                name,
                format!(
                    "DescribeServices did not answer within the policy's deadline ({}s)",
                    policy.interval.clamp(Duration::from_secs(1), MAX_DEADLINE).as_secs()
                ),
            );
        }
    };
    let obs = Observation { capacity, metrics };
    let decision = shared.registry().policies.get_mut(name)?.controller.evaluate(&obs, now);

    let mut unknown_outcome = false;
    // The fence: a leader paused past its lease, whose lease was taken, stops here.
    let fenced = match (decision.should_apply(), shared.leadership()) {
        (true, Some(l)) => Box::pin(l.confirm(epoch)).await.err(),
        _ => None,
    };
    // Write-ahead: with a successor possible, the action is recorded before it is taken; a
    // successor that takes over in between then sees it (or, if the call never happened,
    // an outside change it takes as the baseline) and does not repeat it.
    let fenced = match fenced {
        None if decision.should_apply() && shared.leadership().is_some() => {
            let target = {
                let reg = shared.registry();
                reg.policies.get(name).map(|e| {
                    let mut history = e.controller.history.clone();
                    history.record_applied(&decision);
                    registry::Retained {
                        name: name.to_string(),
                        history,
                        journal: Default::default(),
                    }
                })
            };
            let store = Arc::clone(&shared.state_store);
            let key = policy.target.key();
            match target {
                Some(t) => tokio::task::spawn_blocking(move || store.record_before_acting(&key, &t, epoch))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
                    .err()
                    .map(|e| format!("cannot record the action before taking it: {e}")),
                None => None,
            }
        }
        other => other,
    };
    let error = if let Some(why) = fenced {
        metrics::counter!(telemetry::FENCED).increment(1);
        tracing::warn!(policy = name, "not acting: {why}");
        Some(format!("not acting: {why}"))
    } else if decision.should_apply() {
        let update = telemetry::timed(
            "update_service",
            Box::pin(backend.set_desired(&policy.target, decision.desired)),
        );
        match tokio::time::timeout_at(deadline, update).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                tracing::warn!(policy = name, "{e}; no cooldown started, the next round tries again");
                Some(e.to_string())
            }
            Err(_) => {
                metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "update_service").increment(1);
                unknown_outcome = true;
                Some(
                    "UpdateService did not answer within the policy's deadline; the next round reads what it did"
                        .into(),
                )
            }
        }
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
        let mut reg = shared.registry();
        let pe = reg.policies.get_mut(name)?;
        if entry.applied {
            pe.controller.applied(&entry.decision);
        }
        if unknown_outcome {
            // Whether the count changed is unknown: do not call the next reading an outside
            // change, and treat every datapoint from before now as measured on another
            // count, so that one datapoint still cannot act twice.
            pe.controller.history.last_desired = None;
            pe.controller.history.last_change = Some(now);
        }
        pe.last_error = entry.error.clone().or(read_failure);
        pe.journal.push_back(entry.clone());
        pe.journal_unsaved += 1;
        while pe.journal.len() > shared.settings.journal_size {
            pe.journal.pop_front();
        }
        pe.journal_unsaved = pe.journal_unsaved.min(pe.journal.len());
        let action = match entry.decision.action {
            Action::Hold => "hold",
            Action::ScaleOut => "scale_out",
            Action::ScaleIn => "scale_in",
        };
        *pe.decisions.entry(action).or_insert(0) += 1;
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
    if entry.decision.action == Action::Hold {
        tracing::debug!(policy = name, "{}", entry.explanation);
    } else {
        tracing::info!(policy = name, applied = entry.applied, "{}", entry.explanation);
    }
    Some(entry)
}

fn log_reload(report: &registry::ReloadReport) {
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

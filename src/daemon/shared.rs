//! What the daemon's loop, its rounds and the status API share: the settings and clock,
//! the registry, who leads, how the state store is doing, and the flags that wake the loop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use super::leadership::{Leadership, Role};
use super::registry::{JournalEntry, Registry};
use super::source::Settle;
use super::state::{self, SaveStatus, StateStore, Writer};
use super::telemetry;
use crate::backend::Clock;
use crate::settings::Settings;

pub struct Shared {
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    registry: Mutex<Registry>,
    pub(super) wake: Notify,
    /// A re-read of the policy source was asked for (a change seen, the API, a rescan).
    reload: AtomicBool,
    /// When a change seen in the policies directory will have settled (tokio instant).
    pub(super) settle_until: Mutex<Option<tokio::time::Instant>>,
    pub(super) settle: Arc<Settle>,
    reloads: AtomicU64,
    ready: AtomicBool,
    /// How the state was found at start, for the status API.
    state_status: Mutex<String>,
    /// Why the last read of the policy source (directory or S3 prefix) failed, until one succeeds.
    source_error: Mutex<Option<String>>,
    pub(super) writer: Writer,
    store: String,
    /// The state store itself, for the write-ahead of an action.
    pub(super) state_store: Arc<dyn StateStore>,
    /// Who acts, when several daemons share a lease; None for the only daemon.
    leadership: Option<Arc<Leadership>>,
    /// The lease epoch whose state this daemon has loaded (0: none). It acts, and saves,
    /// only under that epoch: a lease taken by any path (the lease task or a fence) is
    /// first followed by loading the last leader's state.
    pub(super) adopted: AtomicU64,
    /// Scaling events out (a no-op until a sink is attached).
    pub events: super::events::Outbox,
}

impl Shared {
    pub(super) fn new(
        settings: Settings,
        clock: Arc<dyn Clock>,
        store: Arc<dyn StateStore>,
        leadership: Option<Arc<Leadership>>,
    ) -> Self {
        let registry = Registry::new(
            Some(settings.backend),
            settings.max_queries_per_round,
            settings.journal_in_memory,
        );
        Self {
            settle: Arc::new(Settle::new(settings.policy_settle)),
            settings,
            clock,
            registry: Mutex::new(registry),
            wake: Notify::new(),
            reload: AtomicBool::new(false),
            settle_until: Mutex::new(None),
            reloads: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            state_status: Mutex::new(String::new()),
            source_error: Mutex::new(None),
            store: store.describe(),
            writer: Writer::start(Arc::clone(&store)),
            state_store: store,
            adopted: AtomicU64::new(0),
            leadership,
            events: Default::default(),
        }
    }

    /// The policies in force, to read. The lock is held while the guard lives: copy out
    /// what is needed and let it go.
    pub fn registry(&self) -> RegistryView<'_> {
        RegistryView(self.registry_mut())
    }

    pub(super) fn registry_mut(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times the policies have been re-read since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::SeqCst)
    }

    pub(super) fn count_reload(&self) {
        self.reloads.fetch_add(1, Ordering::SeqCst);
    }

    /// Policies are loaded and at least one is in force.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.registry().policies().is_empty()
    }

    pub(super) fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    pub fn state_status(&self) -> String {
        self.state_status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(super) fn set_state_status(&self, status: String) {
        *self.state_status.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// Why the policies could not be re-read, while that lasts; the ones in force stay.
    pub fn source_error(&self) -> Option<String> {
        self.source_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(super) fn set_source_error(&self, error: Option<String>) {
        *self.source_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    /// This daemon's role: the only one, or leader or follower under a lease.
    pub fn role(&self) -> Role {
        self.leadership.as_ref().map_or(Role::Single, |l| l.role())
    }

    pub fn leadership(&self) -> Option<&Leadership> {
        self.leadership.as_deref()
    }

    pub(super) fn leadership_arc(&self) -> Option<Arc<Leadership>> {
        self.leadership.clone()
    }

    /// The lease epoch this daemon acts under, or None if it may not act now: it does not
    /// hold the lease, or has not loaded the state of the epoch it holds. A daemon without
    /// a lease always may (epoch 0).
    pub(super) fn acting_epoch(&self) -> Option<u64> {
        match &self.leadership {
            None => Some(0),
            Some(l) => l.acting_epoch().filter(|e| *e == self.adopted.load(Ordering::SeqCst)),
        }
    }

    /// The epoch held but whose state is not loaded yet, if any.
    pub(super) fn to_adopt(&self) -> Option<u64> {
        let held = self.leadership.as_ref()?.acting_epoch()?;
        (held != self.adopted.load(Ordering::SeqCst)).then_some(held)
    }

    /// A policy's newest `limit` decisions, newest first; None if there is no such policy.
    /// Beyond those kept in memory, they come from the state store.
    pub async fn decisions(&self, name: &str, limit: usize) -> Option<Vec<JournalEntry>> {
        let (mut memory, key, complete) = {
            let reg = self.registry();
            let entry = reg.policy(name)?;
            let journal: Vec<JournalEntry> = entry.journal().iter().rev().take(limit).cloned().collect();
            let cap = reg.journal_cap(self.settings.journal_size);
            // Memory holds all there is when it holds fewer than it may.
            let complete = journal.len() >= limit || entry.journal().len() < cap;
            (journal, entry.policy().target.key(), complete)
        };
        if complete {
            return Some(memory);
        }
        let store = Arc::clone(&self.state_store);
        let saved = tokio::task::spawn_blocking(move || store.journal(&key))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        // The newest are in memory (some not saved yet); older ones only in the store.
        let oldest_in_memory = memory.last().map(|e| e.decision.at);
        memory.extend(
            saved
                .into_iter()
                .rev()
                .filter(|e| oldest_in_memory.is_none_or(|t| e.decision.at < t))
                .take(limit - memory.len()),
        );
        Some(memory)
    }

    /// Where state is kept, and how saving has gone.
    pub fn state_store(&self) -> (String, SaveStatus) {
        (self.store.clone(), self.writer.status())
    }

    /// Makes `name` due now (resume, the API).
    pub fn evaluate_now(&self, name: &str) {
        let now = self.clock.now();
        self.registry_mut().make_due(name, now);
        self.wake.notify_one();
    }

    /// Asks the loop to re-read the policies now.
    pub fn request_reload(&self) {
        self.reload.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Asks the loop to re-read the policies once the directory has been quiet for the
    /// settle time (a file was written: it may be only half written yet). Each write
    /// starts the wait again.
    pub(super) fn request_reload_when_quiet(&self) {
        let at = tokio::time::Instant::now() + self.settle.quiet();
        *self.settle_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
        self.wake.notify_one();
    }

    /// Asks for a re-read in `after`, unless one is asked for sooner.
    pub(super) fn request_reload_after(&self, after: Duration) {
        let at = tokio::time::Instant::now() + after;
        let mut until = self.settle_until.lock().unwrap_or_else(|p| p.into_inner());
        *until = Some(until.map_or(at, |u| u.min(at)));
        self.wake.notify_one();
    }

    /// Takes the request for a re-read, if one is due now.
    pub(super) fn take_reload(&self) -> bool {
        if self.reload.swap(false, Ordering::SeqCst) {
            return true;
        }
        let mut until = self.settle_until.lock().unwrap_or_else(|p| p.into_inner());
        match *until {
            Some(at) if at <= tokio::time::Instant::now() => {
                *until = None;
                true
            }
            _ => false,
        }
    }

    /// How long until a re-read asked for is due, if one is.
    pub(super) fn reload_wait(&self) -> Option<Duration> {
        if self.reload.load(Ordering::SeqCst) {
            return Some(Duration::ZERO);
        }
        let until = *self.settle_until.lock().unwrap_or_else(|p| p.into_inner());
        until.map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// Pauses or resumes a policy; false if there is no such policy.
    pub fn set_paused(&self, name: &str, paused: bool) -> bool {
        let found = self.registry_mut().set_paused(name, paused);
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

    /// Every target's history, and the journal entries not yet saved, stamped with the
    /// epoch this daemon acts under now (a shared store writes nothing without one).
    pub(super) fn snapshot(&self) -> state::Snapshot {
        let epoch = self.acting_epoch().filter(|_| self.leadership.is_some());
        self.snapshot_at(epoch)
    }

    /// A snapshot stamped with `round_epoch` while this daemon still acts under it: a
    /// round of an earlier leadership never writes under a later one.
    pub(super) fn snapshot_for(&self, round_epoch: u64) -> state::Snapshot {
        let epoch = match &self.leadership {
            None => None,
            Some(_) => self.acting_epoch().filter(|e| *e == round_epoch),
        };
        self.snapshot_at(epoch)
    }

    fn snapshot_at(&self, epoch: Option<u64>) -> state::Snapshot {
        let (histories, appended) = self.registry_mut().take_unsaved();
        state::Snapshot {
            saved_at: self.clock.now(),
            epoch,
            histories,
            appended,
        }
    }
}

/// The registry, read-only: what the status API, the page, the metrics and tests see.
pub struct RegistryView<'a>(MutexGuard<'a, Registry>);

impl std::ops::Deref for RegistryView<'_> {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        &self.0
    }
}

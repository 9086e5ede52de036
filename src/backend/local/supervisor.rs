//! The supervisor: every 250 ms, per pool, reap exited replicas, converge on the desired
//! count (start replicas, drain the excess), probe readiness and scrape metrics. Like
//! ECS, a replica counts as running once its `/ready` answers, scale-in drains (SIGTERM,
//! SIGKILL only past the deadline), and a replica that dies is replaced.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::probe::Prober;
use super::process::{self, SpawnJob};
use super::scrape;
use crate::settings::LocalSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    Starting,
    Ready,
    Draining,
}

pub const REPLICA_DEATHS: &str = "ecs_autoscaler_local_replica_deaths_total";

pub fn describe_metrics() {
    metrics::describe_counter!(
        REPLICA_DEATHS,
        "Local replicas that died without being asked to stop, by pool."
    );
}

pub(super) struct Replica {
    pub pid: u32,
    pub admin: SocketAddr,
    pub started: Instant,
    pub state: ReplicaState,
    stopping_since: Option<Instant>,
    pub child: Child,
    pub scrapes: Vec<scrape::Scrape>,
    /// Why the last scrape of a ready replica failed, until one succeeds.
    pub scrape_error: Option<String>,
}

/// A notable thing that happened to a pool, for the demo's report and the logs.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolEvent {
    Started {
        pid: u32,
        at: Instant,
    },
    Ready {
        pid: u32,
        at: Instant,
        after: Duration,
    },
    Stopping {
        pid: u32,
        at: Instant,
    },
    Stopped {
        pid: u32,
        at: Instant,
        drained_in: Duration,
        killed: bool,
    },
    Died {
        pid: u32,
        at: Instant,
        status: String,
    },
}

/// What happened to a replica, without the particulars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Started,
    Ready,
    Stopping,
    Stopped,
    Died,
}

impl PoolEvent {
    /// The replica, when, and what happened to it.
    pub fn summary(&self) -> (u32, Instant, EventKind) {
        match self {
            PoolEvent::Started { pid, at } => (*pid, *at, EventKind::Started),
            PoolEvent::Ready { pid, at, .. } => (*pid, *at, EventKind::Ready),
            PoolEvent::Stopping { pid, at } => (*pid, *at, EventKind::Stopping),
            PoolEvent::Stopped { pid, at, .. } => (*pid, *at, EventKind::Stopped),
            PoolEvent::Died { pid, at, .. } => (*pid, *at, EventKind::Died),
        }
    }
}

#[derive(Default)]
pub(super) struct Pool {
    pub desired: u32,
    pub replicas: Vec<Replica>,
    pub events: Vec<PoolEvent>,
}

impl Pool {
    pub fn count(&self, state: ReplicaState) -> u32 {
        self.replicas.iter().filter(|r| r.state == state).count() as u32
    }

    /// When the set of replicas in service last changed: one became ready, was told to
    /// stop, or died. A window that reaches back past it mixes two fleets.
    pub fn in_service_changed(&self) -> Option<Instant> {
        // Events are kept in the order they happened: the newest such is the last.
        self.events.iter().rev().find_map(|e| match e {
            PoolEvent::Ready { at, .. } | PoolEvent::Stopping { at, .. } | PoolEvent::Died { at, .. } => Some(*at),
            PoolEvent::Started { .. } | PoolEvent::Stopped { .. } => None,
        })
    }

    fn live(&self) -> u32 {
        self.replicas
            .iter()
            .filter(|r| r.state != ReplicaState::Draining)
            .count() as u32
    }
}

/// What the backend and its supervisor share.
pub(super) struct Shared {
    pub settings: LocalSettings,
    pools: Mutex<BTreeMap<String, Pool>>,
    spawner: Mutex<std::sync::mpsc::Sender<SpawnJob>>,
    pub stopping: AtomicBool,
}

impl Shared {
    pub fn new(settings: LocalSettings) -> Self {
        Self {
            settings,
            pools: Mutex::new(BTreeMap::new()),
            spawner: Mutex::new(process::spawner_thread()),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn pools(&self) -> MutexGuard<'_, BTreeMap<String, Pool>> {
        self.pools.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(super) async fn supervise(shared: std::sync::Arc<Shared>) {
    let prober = Prober::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let (short, probes) = converge(&shared);
        for (pool, missing) in short {
            for _ in 0..missing {
                launch(&shared, &pool).await;
            }
        }
        let results = futures::future::join_all(probes.into_iter().map(|(pool, pid, admin)| {
            let prober = prober.clone();
            async move { (pool, pid, prober.probe(admin).await) }
        }))
        .await;
        record(&shared, results);
    }
}

/// Reaps, drains the excess; returns the pools short of replicas (and by how many) and
/// the replicas to probe.
#[allow(clippy::type_complexity)]
fn converge(shared: &Shared) -> (Vec<(String, u32)>, Vec<(String, u32, SocketAddr)>) {
    let now = Instant::now();
    let mut short = Vec::new();
    let mut probes = Vec::new();
    let mut pools = shared.pools();
    for (name, pool) in pools.iter_mut() {
        reap(name, pool, now, shared.settings.drain_deadline);
        let live = pool.live();
        if live < pool.desired {
            short.push((name.clone(), pool.desired - live));
        } else if live > pool.desired {
            stop_excess(pool, live - pool.desired, now);
        }
        for r in pool.replicas.iter().filter(|r| r.state != ReplicaState::Draining) {
            probes.push((name.clone(), r.pid, r.admin));
        }
    }
    (short, probes)
}

/// Marks replicas ready and keeps their scrapes.
fn record(shared: &Shared, results: Vec<(String, u32, super::probe::Probe)>) {
    let now = Instant::now();
    let mut pools = shared.pools();
    for (pool, pid, probe) in results {
        let Some(p) = pools.get_mut(&pool) else { continue };
        let Some(r) = p.replicas.iter_mut().find(|r| r.pid == pid) else {
            continue;
        };
        if r.state == ReplicaState::Draining {
            continue;
        }
        if probe.ready && r.state == ReplicaState::Starting {
            r.state = ReplicaState::Ready;
            let after = now.duration_since(r.started);
            p.events.push(PoolEvent::Ready { pid, at: now, after });
            tracing::info!(pool = %pool, pid, ms = after.as_millis() as u64, "replica ready");
        }
        let scraped = probe
            .metrics
            .map(|m| m.and_then(|text| scrape::parse(&text, now, process::rss_bytes(pid))));
        match scraped {
            Some(Ok(s)) => {
                r.scrapes.push(s);
                if r.scrapes.len() > 600 {
                    r.scrapes.drain(..100);
                }
                r.scrape_error = None;
            }
            Some(Err(e)) => {
                tracing::warn!(pool = %pool, pid, "{e}");
                r.scrape_error = Some(format!("replica {pid}: {e}"));
            }
            None => {}
        }
    }
}

fn reap(name: &str, pool: &mut Pool, now: Instant, deadline: Duration) {
    let mut events = Vec::new();
    pool.replicas.retain_mut(|r| {
        match r.child.try_wait() {
            Ok(Some(status)) => {
                if r.state == ReplicaState::Draining {
                    let drained_in = r.stopping_since.map_or(Duration::ZERO, |s| now.duration_since(s));
                    events.push(PoolEvent::Stopped {
                        pid: r.pid,
                        at: now,
                        drained_in,
                        killed: false,
                    });
                } else {
                    tracing::warn!(pool = %name, pid = r.pid, %status, "replica died: starting a replacement");
                    metrics::counter!(REPLICA_DEATHS, "pool" => name.to_string()).increment(1);
                    events.push(PoolEvent::Died {
                        pid: r.pid,
                        at: now,
                        status: status.to_string(),
                    });
                }
                return false;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(pool = %name, pid = r.pid, "cannot check replica: {e}"),
        }
        if r.state == ReplicaState::Draining && r.stopping_since.is_some_and(|s| now.duration_since(s) > deadline) {
            tracing::warn!(pool = %name, pid = r.pid, "replica did not drain in time: SIGKILL");
            let _ = r.child.kill();
            let _ = r.child.wait();
            events.push(PoolEvent::Stopped {
                pid: r.pid,
                at: now,
                drained_in: deadline,
                killed: true,
            });
            return false;
        }
        true
    });
    pool.events.extend(events);
}

/// Scale-in: replicas not yet ready go first, then the youngest; each drains on SIGTERM.
fn stop_excess(pool: &mut Pool, mut excess: u32, now: Instant) {
    let mut order: Vec<usize> = (0..pool.replicas.len())
        .filter(|&i| pool.replicas[i].state != ReplicaState::Draining)
        .collect();
    order.sort_by_key(|&i| {
        (
            pool.replicas[i].state == ReplicaState::Ready,
            std::cmp::Reverse(pool.replicas[i].started),
        )
    });
    for i in order {
        if excess == 0 {
            break;
        }
        let r = &mut pool.replicas[i];
        process::signal(r.pid, libc::SIGTERM);
        r.state = ReplicaState::Draining;
        r.stopping_since = Some(now);
        pool.events.push(PoolEvent::Stopping { pid: r.pid, at: now });
        excess -= 1;
    }
}

async fn launch(shared: &Shared, pool: &str) {
    let admin = match process::free_port() {
        Ok(p) => SocketAddr::from(([127, 0, 0, 1], p)),
        Err(e) => {
            tracing::error!("no free port for a replica: {e}");
            return;
        }
    };
    let (program, args) = process::command(&shared.settings, admin);
    let (reply, answer) = tokio::sync::oneshot::channel();
    let sent = shared
        .spawner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(SpawnJob { program, args, reply });
    if sent.is_err() {
        tracing::error!("the replica spawner thread is gone");
        return;
    }
    match answer.await {
        Ok(Ok(child)) => {
            let pid = child.id();
            let now = Instant::now();
            let mut pools = shared.pools();
            if let Some(p) = pools.get_mut(pool) {
                p.events.push(PoolEvent::Started { pid, at: now });
                p.replicas.push(Replica {
                    pid,
                    admin,
                    started: now,
                    state: ReplicaState::Starting,
                    stopping_since: None,
                    child,
                    scrapes: Vec::new(),
                    scrape_error: None,
                });
            }
            tracing::info!(pool = %pool, pid, "replica started");
        }
        Ok(Err(e)) => tracing::error!(pool = %pool, "cannot start a replica: {e}"),
        Err(_) => tracing::error!("the replica spawner thread dropped a request"),
    }
}

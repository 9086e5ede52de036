//! The `local` backend: a policy's target is a pool of search-service replicas on this
//! machine, all listening on one port through SO_REUSEPORT, the kernel balancing between
//! them. It behaves like ECS: it starts and stops replicas to reach the desired count,
//! counts a replica as running once its `/ready` answers, drains on scale-in (SIGTERM,
//! SIGKILL only past the deadline), and replaces replicas that die.
//!
//! Replicas are this very binary re-executed with the hidden `replica` subcommand (or a
//! configured search-service binary). They are started from one long-lived thread with
//! PR_SET_PDEATHSIG, so they die with the daemon even if it crashes.

pub mod scrape;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BackendError, CapacityTarget, MetricSource};
use crate::decide::{Capacity, Reading, Sample};
use crate::policy::{Measure, Policy, Target};

/// How local replicas are run.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    /// A search-service binary; default: this binary's `replica` subcommand.
    pub binary: Option<PathBuf>,
    /// The port every replica of the pool shares.
    pub port: u16,
    /// Worker threads per replica; one behaves like a one-vCPU task.
    pub workers: usize,
    pub catalog_size: usize,
    /// CPU burnt per search, to emulate a small task (see search-service `--search-cost`).
    pub search_cost: Duration,
    /// Replicas a pool starts with, before the first decision.
    pub initial_replicas: u32,
    /// Time a stopping replica gets to drain before SIGKILL.
    pub drain_deadline: Duration,
    /// Memory a replica is considered to have, for memory utilization rules.
    pub memory_limit_bytes: f64,
    /// Ask the kernel to hand a closing replica's queued connections to the others
    /// (net.ipv4.tcp_migrate_req), so a scale-in resets no connection.
    pub migrate_requests: bool,
}

impl Default for LocalSettings {
    fn default() -> Self {
        Self {
            binary: None,
            port: 8080,
            workers: 1,
            catalog_size: 100_000,
            search_cost: Duration::ZERO,
            initial_replicas: 2,
            drain_deadline: Duration::from_secs(10),
            memory_limit_bytes: 512.0 * 1024.0 * 1024.0,
            migrate_requests: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    Starting,
    Ready,
    Draining,
}

pub struct Replica {
    pub pid: u32,
    pub admin: SocketAddr,
    pub started: Instant,
    pub state: ReplicaState,
    stopping_since: Option<Instant>,
    child: Child,
    scrapes: Vec<scrape::Scrape>,
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

#[derive(Default)]
pub struct Pool {
    pub desired: u32,
    pub replicas: Vec<Replica>,
    pub events: Vec<PoolEvent>,
}

impl Pool {
    fn count(&self, state: ReplicaState) -> u32 {
        self.replicas.iter().filter(|r| r.state == state).count() as u32
    }
}

struct SpawnJob {
    program: PathBuf,
    args: Vec<OsString>,
    reply: tokio::sync::oneshot::Sender<std::io::Result<Child>>,
}

struct Inner {
    settings: LocalSettings,
    pools: Mutex<BTreeMap<String, Pool>>,
    spawner: Mutex<std::sync::mpsc::Sender<SpawnJob>>,
    stopping: AtomicBool,
}

pub struct LocalBackend {
    inner: Arc<Inner>,
}

/// The thread that starts every replica. PR_SET_PDEATHSIG fires when the *thread* that
/// forked the child exits, so it must be one that lives as long as the process.
fn spawner_thread() -> std::sync::mpsc::Sender<SpawnJob> {
    let (tx, rx) = std::sync::mpsc::channel::<SpawnJob>();
    std::thread::Builder::new()
        .name("replica-spawner".into())
        .spawn(move || {
            for job in rx {
                let mut cmd = Command::new(&job.program);
                cmd.args(&job.args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .env("RUST_LOG", "warn");
                // Own process group: a Ctrl-C in the terminal reaches the daemon, which
                // then drains the replicas itself.
                cmd.process_group(0);
                // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                let _ = job.reply.send(cmd.spawn());
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the replica spawner thread: {e}"));
    tx
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a PID of a child we started and have not yet reaped.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn rss_bytes(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb * 1024.0)
}

/// A plain HTTP/1.0 GET: (status, body).
async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").ok_or("truncated response")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or("not HTTP")?;
        Ok::<_, String>((status, body.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| "timed out".to_string())?
}

impl LocalBackend {
    /// Starts the supervisor; pools appear when a policy first asks about them.
    pub fn start(settings: LocalSettings) -> Self {
        if settings.migrate_requests {
            enable_request_migration();
        }
        let inner = Arc::new(Inner {
            settings,
            pools: Mutex::new(BTreeMap::new()),
            spawner: Mutex::new(spawner_thread()),
            stopping: AtomicBool::new(false),
        });
        tokio::spawn(supervise(Arc::clone(&inner)));
        Self { inner }
    }

    pub fn pools(&self) -> MutexGuard<'_, BTreeMap<String, Pool>> {
        self.inner.pools()
    }

    /// The base URL every replica of the pools shares.
    pub fn service_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.inner.settings.port)
    }

    /// SIGKILLs one ready replica of `pool` (the demo's `--kill-replica-at`); its PID.
    pub fn kill_one(&self, pool: &str) -> Option<u32> {
        let pools = self.pools();
        let victim = pools
            .get(pool)?
            .replicas
            .iter()
            .find(|r| r.state == ReplicaState::Ready)?
            .pid;
        signal(victim, libc::SIGKILL);
        Some(victim)
    }

    /// Every replica PID ever started and not yet reaped.
    pub fn pids(&self) -> Vec<u32> {
        self.pools()
            .values()
            .flat_map(|p| p.replicas.iter().map(|r| r.pid))
            .collect()
    }

    /// Drains every replica (SIGTERM, then SIGKILL past the deadline) and waits for them.
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + self.inner.settings.drain_deadline;
        for pid in self.pids() {
            signal(pid, libc::SIGTERM);
        }
        loop {
            let left: usize = {
                let mut pools = self.pools();
                for pool in pools.values_mut() {
                    pool.replicas.retain_mut(|r| !matches!(r.child.try_wait(), Ok(Some(_))));
                }
                pools.values().map(|p| p.replicas.len()).sum()
            };
            if left == 0 {
                return;
            }
            if Instant::now() >= deadline {
                let mut pools = self.pools();
                for r in pools.values_mut().flat_map(|p| p.replicas.iter_mut()) {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                }
                pools.values_mut().for_each(|p| p.replicas.clear());
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for LocalBackend {
    fn drop(&mut self) {
        // Last resort when shutdown() was not awaited: no replica outlives the backend.
        self.inner.stopping.store(true, Ordering::SeqCst);
        let mut pools = self.inner.pools();
        for r in pools.values_mut().flat_map(|p| p.replicas.iter_mut()) {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

fn enable_request_migration() {
    const KNOB: &str = "/proc/sys/net/ipv4/tcp_migrate_req";
    match std::fs::read_to_string(KNOB).map(|v| v.trim().to_string()) {
        Ok(v) if v == "1" => {}
        Ok(_) => match std::fs::write(KNOB, "1") {
            Ok(()) => tracing::info!(
                "enabled net.ipv4.tcp_migrate_req: a stopping replica hands queued connections to the others"
            ),
            Err(e) => tracing::warn!(
                "cannot enable net.ipv4.tcp_migrate_req ({e}): a scale-in may reset connections queued on the stopping replica"
            ),
        },
        Err(e) => tracing::warn!("net.ipv4.tcp_migrate_req unavailable ({e}): a scale-in may reset queued connections"),
    }
}

impl Inner {
    fn pools(&self) -> MutexGuard<'_, BTreeMap<String, Pool>> {
        self.pools.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn replica_command(&self, admin: SocketAddr) -> (PathBuf, Vec<OsString>) {
        let s = &self.settings;
        let (program, mut args): (PathBuf, Vec<OsString>) = match &s.binary {
            Some(b) => (b.clone(), vec![]),
            None => (
                std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ecs-autoscaler")),
                vec!["replica".into()],
            ),
        };
        let flags = [
            format!("--listen=127.0.0.1:{}", s.port),
            "--reuse-port".into(),
            format!("--admin-listen={admin}"),
            format!("--workers={}", s.workers),
            format!("--catalog-size={}", s.catalog_size),
            format!("--search-cost={}us", s.search_cost.as_micros()),
            format!("--shutdown-deadline={}s", s.drain_deadline.as_secs().max(1)),
            "--drain-grace=500ms".into(),
            "--log-format=json".into(),
        ];
        args.extend(flags.into_iter().map(OsString::from));
        (program, args)
    }
}

/// The supervisor: every 250 ms, per pool, reap, converge on the desired count, probe
/// readiness and scrape metrics.
async fn supervise(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let mut to_start = 0usize;
        let mut probes = Vec::new();
        {
            let now = Instant::now();
            let mut pools = inner.pools();
            for (name, pool) in pools.iter_mut() {
                reap(name, pool, now, inner.settings.drain_deadline);
                let live = pool
                    .replicas
                    .iter()
                    .filter(|r| r.state != ReplicaState::Draining)
                    .count() as u32;
                if live < pool.desired {
                    to_start += (pool.desired - live) as usize;
                    probes.push((name.clone(), None));
                } else if live > pool.desired {
                    stop_excess(pool, live - pool.desired, now);
                }
                for r in pool.replicas.iter().filter(|r| r.state != ReplicaState::Draining) {
                    probes.push((name.clone(), Some((r.pid, r.admin))));
                }
            }
        }
        for (pool, _) in probes.iter().filter(|(_, r)| r.is_none()) {
            let wanted = {
                let pools = inner.pools();
                pools.get(pool).map_or(0, |p| {
                    let live = p.replicas.iter().filter(|r| r.state != ReplicaState::Draining).count() as u32;
                    p.desired.saturating_sub(live)
                })
            };
            for _ in 0..wanted.min(to_start as u32) {
                launch(&inner, pool).await;
            }
        }
        let checks = probes
            .into_iter()
            .filter_map(|(pool, r)| r.map(|(pid, admin)| (pool, pid, admin)))
            .map(|(pool, pid, admin)| async move {
                let ready = matches!(get(admin, "/ready").await, Ok((200, _)));
                let metrics = if ready {
                    get(admin, "/metrics")
                        .await
                        .ok()
                        .filter(|(c, _)| *c == 200)
                        .map(|(_, b)| b)
                } else {
                    None
                };
                (pool, pid, ready, metrics)
            });
        let results = futures::future::join_all(checks).await;
        let now = Instant::now();
        let mut pools = inner.pools();
        for (pool, pid, ready, metrics) in results {
            let Some(p) = pools.get_mut(&pool) else { continue };
            let Some(r) = p.replicas.iter_mut().find(|r| r.pid == pid) else {
                continue;
            };
            if r.state == ReplicaState::Draining {
                continue;
            }
            if ready && r.state == ReplicaState::Starting {
                r.state = ReplicaState::Ready;
                let after = now.duration_since(r.started);
                p.events.push(PoolEvent::Ready { pid, at: now, after });
                tracing::info!(pool = %pool, pid, ms = after.as_millis() as u64, "replica ready");
            }
            if let Some(text) = metrics {
                match scrape::parse(&text, now, rss_bytes(pid)) {
                    Ok(s) => {
                        r.scrapes.push(s);
                        if r.scrapes.len() > 600 {
                            r.scrapes.drain(..100);
                        }
                    }
                    Err(e) => tracing::warn!(pool = %pool, pid, "{e}"),
                }
            }
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
                    metrics::counter!(crate::daemon::telemetry::REPLICA_DEATHS, "pool" => name.to_string())
                        .increment(1);
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
        signal(r.pid, libc::SIGTERM);
        r.state = ReplicaState::Draining;
        r.stopping_since = Some(now);
        pool.events.push(PoolEvent::Stopping { pid: r.pid, at: now });
        excess -= 1;
    }
}

async fn launch(inner: &Arc<Inner>, pool: &str) {
    let admin = match free_port() {
        Ok(p) => SocketAddr::from(([127, 0, 0, 1], p)),
        Err(e) => {
            tracing::error!("no free port for a replica: {e}");
            return;
        }
    };
    let (program, args) = inner.replica_command(admin);
    let (reply, answer) = tokio::sync::oneshot::channel();
    let sent = inner
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
            let mut pools = inner.pools();
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
                });
            }
            tracing::info!(pool = %pool, pid, "replica started");
        }
        Ok(Err(e)) => tracing::error!(pool = %pool, "cannot start a replica: {e}"),
        Err(_) => tracing::error!("the replica spawner thread dropped a request"),
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
        let pools = self.pools();
        policies
            .iter()
            .map(|p| {
                p.rules
                    .iter()
                    .map(|rule| {
                        let sample = match (pool_name(&p.target, "read"), crate::sim::scalers::modelled(rule)) {
                            (Err(e), _) => Sample::Missing { reason: e.to_string() },
                            (_, Err(e)) => Sample::Missing { reason: e },
                            (Ok(name), Ok(signal)) => match pools.get(name) {
                                None => Sample::Missing {
                                    reason: "the pool has not started yet".into(),
                                },
                                Some(pool) => self.measure(pool, signal, rule.period, now),
                            },
                        };
                        (rule.name.clone(), sample)
                    })
                    .collect()
            })
            .collect()
    }
}

impl LocalBackend {
    /// One rule's value over its period, aggregated across ready replicas the way
    /// CloudWatch aggregates tasks: average CPU, requests per target, merged latency.
    fn measure(&self, pool: &Pool, measure: Measure, period: Duration, now: DateTime<Utc>) -> Sample {
        let deltas: Vec<scrape::Delta> = pool
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Ready)
            .filter_map(|r| scrape::over(&r.scrapes, period))
            .collect();
        if deltas.is_empty() {
            return Sample::Missing {
                reason: format!("no replica has {}s of metrics yet", period.as_secs()),
            };
        }
        let n = deltas.len() as f64;
        let workers = self.inner.settings.workers.max(1) as f64;
        let value = match measure {
            Measure::Cpu => Some(
                deltas
                    .iter()
                    .map(|d| d.cpu_seconds / d.seconds / workers * 100.0)
                    .sum::<f64>()
                    / n,
            ),
            Measure::Memory => Some(
                deltas
                    .iter()
                    .map(|d| d.rss_bytes / self.inner.settings.memory_limit_bytes * 100.0)
                    .sum::<f64>()
                    / n,
            ),
            Measure::RequestsPerTarget => {
                // Normalized to the rule's period: a Sum per period per target.
                Some(
                    deltas
                        .iter()
                        .map(|d| d.requests / d.seconds * period.as_secs_f64())
                        .sum::<f64>()
                        / n,
                )
            }
            Measure::RequestRate => Some(deltas.iter().map(|d| d.requests / d.seconds).sum::<f64>() / n),
            Measure::Latency { quantile } => scrape::quantile(&deltas, quantile),
            Measure::ErrorRate | Measure::Other => {
                return Sample::Missing {
                    reason: "the local backend does not measure this yet".into(),
                };
            }
        };
        match value {
            Some(v) => Sample::Value(Reading {
                value: v,
                at: now - chrono::Duration::from_std(period).unwrap_or_default(),
                base: Some(deltas.len() as u32),
            }),
            None => Sample::Missing {
                reason: "no requests in the period".into(),
            },
        }
    }
}

impl CapacityTarget for LocalBackend {
    async fn capacity(&self, target: &Target) -> Result<Capacity, BackendError> {
        let name = pool_name(target, "capacity")?;
        let mut pools = self.pools();
        let initial = self.inner.settings.initial_replicas;
        let pool = pools.entry(name.to_string()).or_insert_with(|| Pool {
            desired: initial,
            ..Pool::default()
        });
        Ok(Capacity {
            desired: pool.desired,
            running: pool.count(ReplicaState::Ready),
            pending: pool.count(ReplicaState::Starting),
            deployment_in_progress: false,
        })
    }

    async fn set_desired(&self, target: &Target, desired: u32) -> Result<(), BackendError> {
        let name = pool_name(target, "set_desired")?;
        self.pools().entry(name.to_string()).or_default().desired = desired;
        Ok(())
    }
}

//! The control loop against a scripted backend on the real clock: schedule edges, failed
//! updates, isolation between policies, and slow calls.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ecs_autoscaler::backend::{BackendError, CapacityTarget, Clock, MetricSource, SystemClock};
use ecs_autoscaler::daemon::{Daemon, Shared};
use ecs_autoscaler::decide::{Capacity, Reading, Sample};
use ecs_autoscaler::policy::{Policy, Target};
use ecs_autoscaler::settings::Settings;

/// A service per target: CPU always 100 %, counts as set, optional failures and slowness.
#[derive(Default)]
struct Scripted {
    desired: Mutex<HashMap<String, u32>>,
    fail_update: Mutex<bool>,
    fail_capacity_for: Mutex<Option<String>>,
    /// A target whose DescribeServices takes this long.
    slow_capacity_for: Mutex<Option<(String, Duration)>>,
    /// Reads fail (as a CloudWatch outage would).
    fail_reads: Mutex<bool>,
    /// Delays of the coming reads, in order; then none.
    read_delays: Mutex<std::collections::VecDeque<Duration>>,
    reads: Mutex<Vec<Instant>>,
    updates: Mutex<Vec<(String, u32)>>,
}

fn key(t: &Target) -> String {
    t.describe()
}

impl MetricSource for Scripted {
    async fn read(&self, policies: &[&Policy], now: DateTime<Utc>) -> Vec<BTreeMap<String, Sample>> {
        self.reads.lock().unwrap().push(Instant::now());
        let delay = self.read_delays.lock().unwrap().pop_front().unwrap_or_default();
        tokio::time::sleep(delay).await;
        if *self.fail_reads.lock().unwrap() {
            let reason = format!("{}GetMetricData: injected outage", ecs_autoscaler::backend::READ_FAILED);
            return policies
                .iter()
                .map(|p| {
                    p.rules
                        .iter()
                        .map(|r| (r.name.clone(), Sample::Missing { reason: reason.clone() }))
                        .collect()
                })
                .collect();
        }
        policies
            .iter()
            .map(|p| {
                p.rules
                    .iter()
                    .map(|r| {
                        (
                            r.name.clone(),
                            Sample::Value(Reading {
                                value: 100.0,
                                at: now,
                                base: None,
                            }),
                        )
                    })
                    .collect()
            })
            .collect()
    }
}

impl CapacityTarget for Scripted {
    async fn capacity(&self, target: &Target) -> Result<Capacity, BackendError> {
        let slow = self.slow_capacity_for.lock().unwrap().clone();
        if let Some((slow, delay)) = slow
            && slow == key(target)
        {
            tokio::time::sleep(delay).await;
        }
        if self.fail_capacity_for.lock().unwrap().as_deref() == Some(&key(target)) {
            return Err(BackendError::Unavailable {
                call: "DescribeServices",
                reason: "injected".into(),
            });
        }
        let n = *self.desired.lock().unwrap().entry(key(target)).or_insert(2);
        Ok(Capacity {
            desired: n,
            running: n,
            pending: 0,
            deployment_in_progress: false,
        })
    }

    async fn set_desired(&self, target: &Target, desired: u32) -> Result<(), BackendError> {
        self.updates.lock().unwrap().push((key(target), desired));
        if *self.fail_update.lock().unwrap() {
            return Err(BackendError::Unavailable {
                call: "UpdateService",
                reason: "injected".into(),
            });
        }
        self.desired.lock().unwrap().insert(key(target), desired);
        Ok(())
    }
}

fn policy(service: &str, interval: &str, extra: &str) -> String {
    format!(
        "min = 1\nmax = 50\ninterval = \"{interval}\"\n{extra}\n[target]\nbackend = \"sim\"\nservice = \"{service}\"\n\
         [[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 50\n"
    )
}

struct Harness {
    _dir: tempfile::TempDir,
    backend: Arc<Scripted>,
    shared: Arc<Shared>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(policies: &[(&str, String)], backend: Scripted) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("policies");
    std::fs::create_dir(&pdir).unwrap();
    for (name, text) in policies {
        std::fs::write(pdir.join(format!("{name}.toml")), text).unwrap();
    }
    let env = HashMap::from([
        ("ECS_AUTOSCALER_POLICIES_DIR".to_string(), pdir.display().to_string()),
        (
            "ECS_AUTOSCALER_STATE_FILE".to_string(),
            dir.path().join("state.json").display().to_string(),
        ),
    ]);
    let settings = Settings::load_with_env(None, Some(env)).unwrap();
    let backend = Arc::new(backend);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let daemon = Daemon::new(settings, Arc::clone(&backend), clock);
    daemon.start().await.unwrap();
    let shared = daemon.shared();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        daemon
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });
    Harness {
        _dir: dir,
        backend,
        shared,
        stop,
        task,
    }
}

impl Harness {
    fn journal(&self, name: &str) -> Vec<ecs_autoscaler::daemon::registry::JournalEntry> {
        self.shared
            .registry()
            .policies
            .get(name)
            .map_or(vec![], |e| e.journal.iter().cloned().collect())
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_edge_evaluates_the_policy_at_once() {
    // Evaluated hourly, but a window opens every second: each opening wakes the policy.
    let extra = "[[schedule]]\nname = \"every-second\"\ncron = \"* * * * * *\"\nduration = \"1h\"\nmin = 3\n";
    let h = start(&[("sched", policy("s", "1h", extra))], Scripted::default()).await;
    wait_until("three evaluations", Duration::from_secs(6), || {
        h.journal("sched").len() >= 3
    })
    .await;
    assert!(
        h.journal("sched")
            .iter()
            .any(|j| j.decision.bounds.schedules == vec!["every-second".to_string()])
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_update_starts_no_cooldown_and_is_retried() {
    let backend = Scripted::default();
    *backend.fail_update.lock().unwrap() = true;
    let h = start(
        &[("svc", policy("s", "1s", "[scale_out]\ncooldown = \"1h\"\n"))],
        backend,
    )
    .await;
    wait_until("two attempts", Duration::from_secs(5), || {
        h.backend.updates.lock().unwrap().len() >= 2
    })
    .await;
    let journal = h.journal("svc");
    assert!(
        journal
            .iter()
            .all(|j| !j.applied && j.error.as_deref().is_some_and(|e| e.contains("injected")))
    );
    assert_eq!(
        h.shared.registry().policies["svc"].controller.history.last_scale_out,
        None
    );

    *h.backend.fail_update.lock().unwrap() = false;
    wait_until("an applied update", Duration::from_secs(5), || {
        h.journal("svc").iter().any(|j| j.applied)
    })
    .await;
    let tried = h.backend.updates.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        h.backend.updates.lock().unwrap().len(),
        tried,
        "now inside the cooldown: no more updates"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_policy_does_not_block_another() {
    let backend = Scripted::default();
    *backend.fail_capacity_for.lock().unwrap() = Some("sim broken".into());
    let h = start(
        &[
            ("broken", policy("broken", "1s", "")),
            ("fine", policy("fine", "1s", "")),
        ],
        backend,
    )
    .await;
    wait_until("the healthy policy decides", Duration::from_secs(5), || {
        h.journal("fine").len() >= 2
    })
    .await;
    assert!(h.journal("broken").is_empty());
    let err = h.shared.registry().policies["broken"].last_error.clone().unwrap();
    assert!(err.contains("DescribeServices failed: injected"), "{err}");
    h.stop().await;
}

/// Due times sit on a fixed grid. One read takes 2.5 s on a 1 s interval: the ticks it
/// overlaps are skipped (not replayed in a burst when it ends) and the next read starts
/// on the grid (not 1 s after the slow one ended, which would drift).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_round_neither_replays_missed_ticks_nor_shifts_the_grid() {
    let backend = Scripted::default();
    backend
        .read_delays
        .lock()
        .unwrap()
        .extend([Duration::ZERO, Duration::from_millis(2500)]);
    let h = start(&[("svc", policy("s", "1s", ""))], backend).await;
    wait_until("six reads", Duration::from_secs(10), || {
        h.backend.reads.lock().unwrap().len() >= 6
    })
    .await;
    let reads = h.backend.reads.lock().unwrap().clone();
    let skipped = h.shared.registry().policies["svc"].skipped;
    h.stop().await;
    let origin = reads[0];
    for (i, pair) in reads.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(800),
            "read {} came {gap:?} after the one before: a replayed tick",
            i + 1
        );
    }
    for (i, r) in reads.iter().enumerate() {
        let offset = (*r - origin).as_secs_f64();
        let off_grid = (offset - offset.round()).abs();
        assert!(off_grid < 0.2, "read {i} at {offset:.2}s is off the 1 s grid");
    }
    assert!(skipped >= 1, "the overlapped ticks are counted as skipped");
}

/// One slow target (DescribeServices takes 5 s) does not hold up a healthy policy: its
/// decisions stay on their 1 s schedule, and the slow one is cut at its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_target_does_not_hold_up_a_healthy_policy() {
    let backend = Scripted::default();
    *backend.slow_capacity_for.lock().unwrap() = Some(("sim slow".into(), Duration::from_secs(5)));
    let h = start(
        &[("slow", policy("slow", "1s", "")), ("fine", policy("fine", "1s", ""))],
        backend,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(4600)).await;
    let fine: Vec<_> = h.journal("fine").iter().map(|j| j.decision.at).collect();
    let (slow_error, slow_decisions) = {
        let reg = h.shared.registry();
        (
            reg.policies["slow"].last_error.clone(),
            reg.policies["slow"].journal.len(),
        )
    };
    h.stop().await;
    assert!(
        fine.len() >= 4,
        "the healthy policy decided {} times in 4.6 s",
        fine.len()
    );
    for pair in fine.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!((800..=1200).contains(&gap), "healthy decisions {gap} ms apart");
    }
    assert_eq!(slow_decisions, 0);
    let err = slow_error.expect("the slow policy reports why it decided nothing");
    assert!(err.contains("deadline"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_daemon_does_not_reload_in_a_loop() {
    let h = start(
        &[("svc", policy("s", "1h", "")), ("bad", "min = \n".into())],
        Scripted::default(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Reading the policy files raises inotify access events; they must not trigger reloads.
    assert!(
        h.shared.reloads() <= 1,
        "{} reloads while nothing changed",
        h.shared.reloads()
    );
    let dir = h.shared.settings.policies_dir.clone();
    std::fs::write(dir.join("svc.toml"), policy("s", "30m", "")).unwrap();
    wait_until("the edit is picked up", Duration::from_secs(5), || {
        h.shared.registry().policies["svc"].controller.policy.interval == Duration::from_secs(1800)
    })
    .await;
    h.stop().await;
}

/// While reads fail, the metric's age keeps growing on /metrics and the failure is the
/// policy's error; nothing is scaled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metric_outage_is_visible_while_it_lasts() {
    let h = start(&[("svc", policy("s", "1s", ""))], Scripted::default()).await;
    wait_until("a decision", Duration::from_secs(5), || !h.journal("svc").is_empty()).await;
    *h.backend.fail_reads.lock().unwrap() = true;
    let age = |text: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix("ecs_autoscaler_metric_age_seconds{policy=\"svc\",rule=\"cpu\"} "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no age in {text}"))
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let first = age(&h.shared.render_metrics());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = age(&h.shared.render_metrics());
    assert!(
        second >= first + 1.0,
        "the age froze while blind: {first} then {second}"
    );
    let err = h.shared.registry().policies["svc"]
        .last_error
        .clone()
        .unwrap_or_default();
    assert!(err.contains("injected outage"), "{err}");
    h.stop().await;
}

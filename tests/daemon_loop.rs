//! The control loop against the scripted backend, on tokio's paused clock: time moves only
//! when every task waits, so these tests measure the loop's own schedule, not the
//! machine's load. Schedule edges, failed and slow updates, isolation between policies,
//! slow reads, panics, and what a reload may not do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use ecs_autoscaler::backend::scripted::{Script, Scripted};
use ecs_autoscaler::backend::{Clock, TokioClock};
use ecs_autoscaler::daemon::registry::JournalEntry;
use ecs_autoscaler::daemon::{Daemon, Shared};
use ecs_autoscaler::settings::Settings;
use tokio::time::Instant;

/// A Monday, 10:00:00 UTC: the paused clock's start.
fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

fn policy(service: &str, interval: &str, extra: &str) -> String {
    format!(
        "min = 1\nmax = 50\ninterval = \"{interval}\"\n{extra}\n[target]\nbackend = \"sim\"\nservice = \"{service}\"\n\
         [[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 50\n"
    )
}

struct Harness {
    dir: tempfile::TempDir,
    backend: Arc<Scripted>,
    shared: Arc<Shared>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(policies: &[(&str, String)], script: Script) -> Harness {
    start_with(policies, script, &[]).await
}

async fn start_with(policies: &[(&str, String)], script: Script, env: &[(&str, &str)]) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("policies");
    std::fs::create_dir(&pdir).unwrap();
    for (name, text) in policies {
        std::fs::write(pdir.join(format!("{name}.toml")), text).unwrap();
    }
    let mut vars = HashMap::from([
        ("ECS_AUTOSCALER_POLICIES_DIR".to_string(), pdir.display().to_string()),
        (
            "ECS_AUTOSCALER_STATE_FILE".to_string(),
            dir.path().join("state.json").display().to_string(),
        ),
        // These tests are not about half-written files (see the settle tests below, on
        // the real clock): the paused clock does not move the files' times.
        ("ECS_AUTOSCALER_POLICY_SETTLE".to_string(), "0s".to_string()),
    ]);
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::load_with_env(None, Some(vars)).unwrap();
    let backend = Arc::new(Scripted::new(script));
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(origin()));
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
        dir,
        backend,
        shared,
        stop,
        task,
    }
}

impl Harness {
    fn journal(&self, name: &str) -> Vec<JournalEntry> {
        self.shared
            .registry()
            .policy(name)
            .map_or(vec![], |e| e.journal().iter().cloned().collect())
    }

    fn last_error(&self, name: &str) -> Option<String> {
        self.shared
            .registry()
            .policy(name)
            .and_then(|e| e.last_error().map(str::to_string))
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Waits (in the clock's time) until `check` holds.
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

#[tokio::test(start_paused = true)]
async fn a_schedule_edge_evaluates_the_policy_at_once() {
    // Evaluated hourly; a window opens 10 s after start and raises min to 3. Only the
    // wake-up at its edge can evaluate the policy before the hour is up.
    let extra = "[[schedule]]\nname = \"soon\"\ncron = \"10 0 10 * * *\"\nduration = \"1h\"\nmin = 3\n";
    let h = start(
        &[("sched", policy("s", "1h", extra))],
        Script {
            value: Some(50.0),
            ..Script::default()
        },
    )
    .await;
    wait_until("a second evaluation", Duration::from_secs(30), || {
        h.journal("sched").len() >= 2
    })
    .await;
    let journal = h.journal("sched");
    assert!(
        journal[0].decision.bounds.schedules.is_empty(),
        "the window is shut at start: {}",
        journal[0].explanation
    );
    let edge = origin() + chrono::Duration::seconds(10);
    let woken = &journal[1];
    assert_eq!(woken.decision.bounds.schedules, vec!["soon".to_string()]);
    assert!(
        woken.decision.at >= edge && woken.decision.at - edge < chrono::Duration::milliseconds(100),
        "evaluated at {}, the window opened at {edge}",
        woken.decision.at
    );
    assert_eq!(woken.decision.desired, 3, "{}", woken.explanation);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_update_starts_no_cooldown_and_is_retried() {
    let h = start(
        &[("svc", policy("s", "1s", "[scale_out]\ncooldown = \"1h\"\n"))],
        Script {
            fail_update: true,
            ..Script::default()
        },
    )
    .await;
    wait_until("two attempts", Duration::from_secs(5), || {
        h.backend.updates().len() >= 2
    })
    .await;
    let journal = h.journal("svc");
    assert!(
        journal
            .iter()
            .all(|j| !j.applied && j.error.as_deref().is_some_and(|e| e.contains("injected")))
    );
    assert_eq!(
        h.shared.registry().policy("svc").unwrap().history().last_scale_out,
        None
    );

    h.backend.edit(|s| s.fail_update = false);
    wait_until("an applied update", Duration::from_secs(5), || {
        h.journal("svc").iter().any(|j| j.applied)
    })
    .await;
    let tried = h.backend.updates().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        h.backend.updates().len(),
        tried,
        "now inside the cooldown: no more updates"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn one_failing_policy_does_not_block_another() {
    let h = start(
        &[
            ("broken", policy("broken", "1s", "")),
            ("fine", policy("fine", "1s", "")),
        ],
        Script {
            fail_capacity_for: Some("sim broken".into()),
            ..Script::default()
        },
    )
    .await;
    wait_until("the healthy policy decides", Duration::from_secs(5), || {
        h.journal("fine").len() >= 2
    })
    .await;
    assert!(h.journal("broken").is_empty());
    let err = h.last_error("broken").unwrap();
    assert!(err.contains("DescribeServices failed: injected"), "{err}");
    h.stop().await;
}

/// Due times sit on a fixed grid. One round takes 2.5 s on a 1 s interval (its update
/// is slow): the ticks it overlaps are skipped (not replayed in a burst when it ends) and
/// the next read starts on the grid (not 1 s after the slow one ended, which would drift).
#[tokio::test(start_paused = true)]
async fn a_slow_round_neither_replays_missed_ticks_nor_shifts_the_grid() {
    let h = start(
        &[("svc", policy("s", "1s", "[scale_out]\ncooldown = \"1h\"\n"))],
        Script {
            update_delay: Duration::from_millis(2500),
            ..Script::default()
        },
    )
    .await;
    wait_until("six reads", Duration::from_secs(10), || h.backend.reads().len() >= 6).await;
    let reads: Vec<Instant> = h.backend.reads().into_iter().map(|(at, _)| at).collect();
    let skipped = h.shared.registry().policy("svc").unwrap().skipped_ticks();
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
#[tokio::test(start_paused = true)]
async fn a_slow_target_does_not_hold_up_a_healthy_policy() {
    let h = start(
        &[("slow", policy("slow", "1s", "")), ("fine", policy("fine", "1s", ""))],
        Script {
            slow_capacity_for: Some(("sim slow".into(), Duration::from_secs(5))),
            ..Script::default()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(4600)).await;
    let fine: Vec<_> = h.journal("fine").iter().map(|j| j.decision.at).collect();
    let (slow_error, slow_decisions) = (h.last_error("slow"), h.journal("slow").len());
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

/// One slow metric query (20 s) in a batched read: the other policy of the batch decides
/// on its own schedule (blind once, at its deadline), and from then on it is read apart
/// from the slow one, with data again.
#[tokio::test(start_paused = true)]
async fn a_slow_metric_read_delays_no_other_policy_past_its_interval() {
    let h = start(
        &[("slow", policy("slow", "2s", "")), ("fine", policy("fine", "2s", ""))],
        Script {
            slow_read_for: Some(("sim slow".into(), Duration::from_secs(20))),
            value: Some(50.0),
            ..Script::default()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(21)).await;
    let fine = h.journal("fine");
    h.stop().await;
    assert!(
        fine.len() >= 10,
        "the healthy policy decided {} times in 21 s on a 2 s interval",
        fine.len()
    );
    for pair in fine.windows(2) {
        let gap = (pair[1].decision.at - pair[0].decision.at).num_milliseconds();
        assert!(gap <= 2100, "healthy decisions {gap} ms apart");
    }
    let with_data = fine.iter().filter(|j| !j.decision.blind).count();
    assert!(
        with_data >= fine.len() - 1,
        "blind at most once: {} of {} decisions had data",
        with_data,
        fine.len()
    );
}

/// A policy whose evaluation panics says so in its status, and is evaluated again at its
/// next tick: the panic silences nothing.
#[tokio::test(start_paused = true)]
async fn a_panicking_evaluation_is_reported_and_runs_again_at_its_next_tick() {
    let h = start(
        &[("boom", policy("boom", "1s", "")), ("fine", policy("fine", "1s", ""))],
        Script {
            panic_for: Some("sim boom".into()),
            ..Script::default()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let err = h.last_error("boom").expect("the panic is the policy's error");
    assert!(err.contains("panicked") && err.contains("scripted panic"), "{err}");
    assert!(h.journal("boom").is_empty());
    // It is tried again: once the target behaves, it decides on its next tick.
    h.backend.edit(|s| s.panic_for = None);
    wait_until("a decision after the panics", Duration::from_millis(1100), || {
        !h.journal("boom").is_empty()
    })
    .await;
    assert!(h.journal("fine").len() >= 3, "the other policy went on meanwhile");
    let skipped = h.shared.registry().policy("boom").unwrap().skipped_ticks();
    assert_eq!(skipped, 0, "no tick was lost to a policy left in flight");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_daemon_does_not_reload_in_a_loop() {
    let h = start(
        &[("svc", policy("s", "1h", "")), ("bad", "min = \n".into())],
        Script::default(),
    )
    .await;
    real_pause(Duration::from_millis(300)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Reading the policy files raises inotify access events; they must not trigger reloads.
    assert!(
        h.shared.reloads() <= 1,
        "{} reloads while nothing changed",
        h.shared.reloads()
    );
    let dir = h.dir.path().join("policies");
    std::fs::write(dir.join("svc.toml"), policy("s", "30m", "")).unwrap();
    for _ in 0..100 {
        if h.shared.registry().policy("svc").unwrap().policy().interval == Duration::from_secs(1800) {
            break;
        }
        real_pause(Duration::from_millis(50)).await;
    }
    assert_eq!(
        h.shared.registry().policy("svc").unwrap().policy().interval,
        Duration::from_secs(1800),
        "the edit is picked up"
    );
    h.stop().await;
}

/// While reads fail, the metric's age keeps growing on /metrics and the failure is the
/// policy's error; nothing is scaled.
#[tokio::test(start_paused = true)]
async fn a_metric_outage_is_visible_while_it_lasts() {
    let h = start(&[("svc", policy("s", "1s", ""))], Script::default()).await;
    wait_until("a decision", Duration::from_secs(5), || !h.journal("svc").is_empty()).await;
    h.backend.edit(|s| s.fail_reads = true);
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
    let err = h.last_error("svc").unwrap_or_default();
    assert!(err.contains("injected outage"), "{err}");
    h.stop().await;
}

/// Lets real time pass without moving the paused clock: for the file watcher's thread.
async fn real_pause(d: Duration) {
    tokio::task::spawn_blocking(move || std::thread::sleep(d))
        .await
        .unwrap();
}

/// A large fleet keeps only its newest decisions in memory; older ones asked for come
/// from the state store, in order, with none missing and none twice.
#[tokio::test(start_paused = true)]
async fn decisions_beyond_those_kept_in_memory_come_from_the_state_store() {
    let h = start_with(
        &[("a", policy("a", "1s", "")), ("b", policy("b", "1s", ""))],
        Script {
            value: Some(50.0),
            ..Script::default()
        },
        &[("ECS_AUTOSCALER_JOURNAL_IN_MEMORY", "20")],
    )
    .await;
    wait_until("30 decisions", Duration::from_secs(40), || {
        h.journal("a").len() >= 10 && {
            h.shared
                .registry()
                .policy("a")
                .unwrap()
                .journal()
                .back()
                .is_some_and(|j| j.decision.at >= origin() + chrono::Duration::seconds(30))
        }
    })
    .await;
    assert_eq!(h.journal("a").len(), 10, "20 in memory for two policies: 10 each");
    // The state writer saves on a thread of its own, in real time.
    real_pause(Duration::from_millis(300)).await;
    let decisions = h.shared.decisions("a", 25).await.unwrap();
    assert_eq!(decisions.len(), 25);
    for pair in decisions.windows(2) {
        assert_eq!(
            (pair[0].decision.at - pair[1].decision.at).num_seconds(),
            1,
            "newest first, one a second, none missing or repeated"
        );
    }
    h.stop().await;
}

// ---- Only whole files become policies (the real clock: files are written in real time) ----

/// The whole file keeps the service at 2 (a schedule caps it); its first part alone is a
/// valid policy that would raise it to 4.
const WHOLE_START: &str = "min = 4\nmax = 8\ninterval = \"1s\"\n[target]\nbackend = \"sim\"\nservice = \"churn\"\n\
     [[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 50\n";
const WHOLE_END: &str = "[[schedule]]\nname = \"cap\"\ncron = \"* * * * *\"\nduration = \"1h\"\nmin = 1\nmax = 2\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_file_rewritten_in_pieces_is_never_acted_on_half_written() {
    let whole = format!("{WHOLE_START}{WHOLE_END}");
    let h = start_with(
        &[("churn", whole.clone())],
        Script {
            value: Some(50.0),
            ..Script::default()
        },
        &[("ECS_AUTOSCALER_POLICY_SETTLE", "1s")],
    )
    .await;
    wait_until("the whole policy is in force", Duration::from_secs(5), || {
        h.journal("churn").len() >= 2
    })
    .await;
    let path = h.dir.path().join("policies/churn.toml");
    // 120 rewrites in place, each cut after the first part for 5 to 120 ms.
    for i in 0..120u64 {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(WHOLE_START.as_bytes()).unwrap();
        f.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(5 + (i * 37) % 116)).await;
        f.write_all(WHOLE_END.as_bytes()).unwrap();
        drop(f);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An edit that is undone within the settle time: a policy of min 4, for 300 ms.
    std::fs::write(&path, WHOLE_START).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(&path, &whole).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let raised: Vec<(String, u32)> = h.backend.updates().into_iter().filter(|(_, d)| *d > 2).collect();
    assert!(raised.is_empty(), "acted on a half-written or undone file: {raised:?}");
    assert!(
        h.journal("churn").iter().all(|j| j.decision.bounds.max == 2),
        "every decision was taken under the whole file"
    );
    assert!(h.journal("churn").len() >= 12, "it went on deciding meanwhile");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_renamed_into_place_is_loaded_at_once() {
    let h = start_with(
        &[("svc", policy("s", "1s", ""))],
        Script::default(),
        &[("ECS_AUTOSCALER_POLICY_SETTLE", "2s")],
    )
    .await;
    // The watcher is installed when the loop starts: a rename before that is seen only
    // by the periodic re-scan.
    wait_until("the loop decides", Duration::from_secs(10), || {
        !h.journal("svc").is_empty()
    })
    .await;
    let dir = h.dir.path().join("policies");
    let tmp = dir.join(".svc.toml.swp");
    std::fs::write(&tmp, policy("s", "30m", "")).unwrap();
    let renamed = Instant::now();
    std::fs::rename(&tmp, dir.join("svc.toml")).unwrap();
    wait_until("the renamed file is in force", Duration::from_secs(5), || {
        h.shared.registry().policy("svc").unwrap().policy().interval == Duration::from_secs(1800)
    })
    .await;
    let took = renamed.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "loaded {took:?} after the rename; written in place it would wait the 2 s settle time"
    );
    h.stop().await;
}

// ---- No trust in times from the future ----

fn history_from_the_future(at: DateTime<Utc>) -> autoscaler_core::decide::History {
    autoscaler_core::decide::History {
        last_scale_out: Some(at),
        last_scale_in: Some(at),
        last_change: Some(at),
        last_desired: Some(2),
        recommendations: vec![(at, 2)],
        observed_since: Some(at - chrono::Duration::hours(2)),
        last_evaluated: Some(at),
        ..Default::default()
    }
}

/// A valid state file, saved "now", whose history's times lie an hour ahead: the
/// scale-out they would block for an hour happens at once, and the status says why.
#[tokio::test(start_paused = true)]
async fn times_from_the_future_in_a_state_file_are_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    {
        use ecs_autoscaler::daemon::state::{FileStore, Snapshot, StateStore};
        let mut snapshot = Snapshot {
            saved_at: origin(),
            ..Snapshot::default()
        };
        snapshot.histories.insert(
            "sim/s".into(),
            ecs_autoscaler::daemon::registry::Retained {
                name: "svc".into(),
                history: history_from_the_future(origin() + chrono::Duration::hours(1)),
                journal: Default::default(),
            },
        );
        FileStore::new(state.clone(), 10).save(&snapshot).unwrap();
    }
    let h = start_with(
        &[("svc", policy("s", "10s", "[scale_out]\ncooldown = \"1h\"\n"))],
        Script::default(),
        &[("ECS_AUTOSCALER_STATE_FILE", state.to_str().unwrap())],
    )
    .await;
    wait_until("a scale-out", Duration::from_secs(30), || {
        !h.backend.updates().is_empty()
    })
    .await;
    let first = &h.journal("svc")[0];
    assert!(first.applied && first.decision.desired > 2, "{}", first.explanation);
    let status = h.shared.state_status();
    assert!(status.contains("clamped"), "{status}");
    h.stop().await;
}

/// Two daemons share a state store and a lease; the first runs two hours ahead. The
/// second takes over and does not sit out the cooldown the first's clock set.
#[tokio::test(start_paused = true)]
async fn a_successor_whose_clock_is_behind_is_not_blocked_by_the_leaders_future() {
    use ecs_autoscaler::daemon::leadership::{Leadership, MemoryLease};
    use ecs_autoscaler::daemon::state::{FileStore, StateStore};
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("policies");
    std::fs::create_dir(&pdir).unwrap();
    std::fs::write(
        pdir.join("svc.toml"),
        policy("s", "10s", "[scale_out]\ncooldown = \"1h\"\n"),
    )
    .unwrap();
    let settings = || {
        let vars = HashMap::from([
            ("ECS_AUTOSCALER_POLICIES_DIR".to_string(), pdir.display().to_string()),
            ("ECS_AUTOSCALER_POLICY_SETTLE".to_string(), "0s".to_string()),
        ]);
        Settings::load_with_env(None, Some(vars)).unwrap()
    };
    let store: Arc<dyn StateStore> = Arc::new(FileStore::new(dir.path().join("shared.json"), 10));
    let lease = Arc::new(MemoryLease::default());
    let backend = Arc::new(Scripted::default());
    let run = |name: &str, clock: DateTime<Utc>| {
        let leadership = Arc::new(Leadership::new(
            Box::new(Arc::clone(&lease)),
            name.into(),
            Duration::from_secs(15),
        ));
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(clock));
        Daemon::with_leadership(
            settings(),
            Arc::clone(&backend),
            clock,
            Arc::clone(&store),
            Some(leadership),
        )
    };
    let ahead = run("ahead", origin() + chrono::Duration::hours(2));
    ahead.start().await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shared = ahead.shared();
    let task = tokio::spawn(async move {
        ahead
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });
    wait_until("the leader two hours ahead scales out", Duration::from_secs(30), || {
        backend.updates().len() == 1
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap();
    drop(shared);

    let behind = run("behind", origin());
    behind.start().await.unwrap();
    let shared = behind.shared();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        behind
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });
    wait_until("the successor scales out again", Duration::from_secs(30), || {
        backend.updates().len() == 2
    })
    .await;
    let status = shared.state_status();
    assert!(status.contains("clamped"), "{status}");
    let _ = stop.send(());
    task.await.unwrap();
}

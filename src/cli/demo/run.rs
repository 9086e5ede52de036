//! Runs the demo: replicas under the local backend, the daemon, the load plan, the kill,
//! and a live line a second; then hands what was recorded to the summary and the report.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ecs_autoscaler::backend::local::{LocalBackend, LocalSettings, PoolEvent, PoolSnapshot};
use ecs_autoscaler::backend::{Clock, SystemClock};
use ecs_autoscaler::daemon::{Daemon, Shared};
use ecs_autoscaler::loadgen::{self, Mode, Plan, Recorder};
use ecs_autoscaler::settings::Settings;

use super::args::{Args, Load};
use super::calibrate;
use super::report::{self, Report, Tick};
use super::summary::{self, DecisionLine, Happening, Kill, Recorded, Targets};

const POLICY_FILE: &str = "local-latency-cpu.toml";
const POLICY: &str = include_str!("../../../policies/local-latency-cpu.toml");
const POOL: &str = "search";

/// The default plan: a low load, a step up, the low load again. Levels follow the CPU a
/// search costs, so the plan means the same on any machine: the step asks for 40 % of one
/// replica's CPU, under the CPU rule's target, but in bursts (each second's requests in its
/// first quarter) that queue on one replica beyond the latency SLO. The latency rule
/// scales out, p99 recovers, and the demand rule learns what one replica can take.
fn default_plan(args: &Args) -> String {
    let total = args.duration.as_secs_f64().max(30.0);
    let (low_for, high_for, after_for) = (total * 0.2, total * 0.45, total * 0.35);
    let per_replica = 1.0 / args.search_cost.as_secs_f64().max(1e-4);
    let (low, high) = (per_replica * 0.1, per_replica * 0.4);
    let level = |rps: f64| match args.load {
        Load::Bursts | Load::Rate => rps.round(),
        // Closed-loop users needed for a request rate, with about 2 ms of service latency.
        Load::Users => (rps * (args.think.as_secs_f64() + 0.002)).ceil().max(1.0),
    };
    format!(
        "{} for {}s, {} for {}s, {} for {}s",
        level(low),
        low_for.round(),
        level(high),
        high_for.round(),
        level(low),
        after_for.round()
    )
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(demo(args))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The moment the demo kills a replica: at the asked time once the pool is steady (every
/// replica ready, none starting or draining), so that the replacement is the supervisor
/// answering the kill and not a scale-out or scale-in under way; at the latest 15 s later.
fn time_to_kill(asked: Option<Duration>, now: Duration, pool: &PoolSnapshot) -> bool {
    asked.is_some_and(|at| {
        let steady = pool.ready == pool.desired && pool.starting == 0 && pool.draining == 0 && pool.ready > 0;
        now >= at && (steady || now >= at + Duration::from_secs(15))
    })
}

fn happenings(events: &[PoolEvent], start: Instant) -> Vec<Happening> {
    let at = |i: &Instant| i.saturating_duration_since(start).as_secs_f64();
    events
        .iter()
        .map(|e| {
            let (pid, when, kind) = e.summary();
            Happening {
                t: at(&when),
                pid,
                kind,
            }
        })
        .collect()
}

/// The live line: the pool, the load as the client sees it, the policy's view, and the
/// last decision's reason.
fn live_line(tick: &Tick, targets: &Targets, failed: u64, reason: &str) -> String {
    let pct = targets.percentile_name();
    let slo = targets.latency_rule.as_ref().map_or(0.0, |r| r.2);
    let cpu_target = targets.cpu_rule.as_ref().map_or(0.0, |r| r.1);
    let ms = |v: Option<f64>| v.map_or("-".into(), |p| format!("{p:.1} ms"));
    format!(
        "t={:>4}s  replicas {}/{}  {:>5} req/s  client {pct} {:>8}  failed {:>4} | policy: {pct} {} (SLO {slo:.0} ms), CPU {} (target {cpu_target:.0} %) | {}",
        tick.t,
        tick.ready,
        tick.desired,
        tick.rps,
        ms(tick.client_p99_ms),
        failed,
        ms(tick.policy_latency_ms),
        tick.policy_cpu.map_or("-".into(), |c| format!("{c:.0} %")),
        reason
    )
}

async fn demo(args: Args) -> anyhow::Result<ExitCode> {
    let policy = autoscaler_core::policy::parse(Path::new(POLICY_FILE), POLICY)
        .map_err(|e| anyhow::anyhow!("the embedded policy is invalid: {e}"))?;
    let targets = Targets::of(&policy);
    let work = tempfile::tempdir().context("creating a working directory")?;
    let policies = work.path().join("policies");
    std::fs::create_dir(&policies)?;
    std::fs::write(policies.join(POLICY_FILE), POLICY)?;
    let mode = match args.load {
        Load::Bursts => Mode::Rate {
            burst: Some(args.burst),
        },
        Load::Rate => Mode::Rate { burst: None },
        Load::Users => Mode::Users { think: args.think },
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let plan_text = args.plan.clone().unwrap_or_else(|| default_plan(&args));
    let plan = Plan::parse(mode, &plan_text, 20.0).map_err(|e| anyhow::anyhow!("--plan: {e}"))?;

    let env = std::collections::HashMap::from([
        ("ECS_AUTOSCALER_BACKEND".to_string(), "local".to_string()),
        (
            "ECS_AUTOSCALER_POLICIES_DIR".to_string(),
            policies.display().to_string(),
        ),
        (
            "ECS_AUTOSCALER_STATE_FILE".to_string(),
            work.path().join("state.json").display().to_string(),
        ),
    ]);
    let settings = Settings::load_with_env(None, Some(env))?;
    let local = |port| LocalSettings {
        port,
        workers: 1,
        catalog_size: 20_000,
        search_cost: args.search_cost,
        initial_replicas: 1,
        drain_deadline: Duration::from_secs(5),
        ..LocalSettings::default()
    };
    let calibration = match args.calibrate {
        true => {
            let slo_ms = targets.latency_rule.as_ref().map_or(50.0, |r| r.2);
            Some(calibrate::sweep(local(free_port()?), &policy.target, mode, slo_ms).await?)
        }
        false => None,
    };
    let backend = Arc::new(LocalBackend::start(local(free_port()?)));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let daemon = Arc::new(Daemon::new(settings, Arc::clone(&backend), clock));
    daemon.start().await?;
    let shared = daemon.shared();
    let (stop_daemon, daemon_stopped) = tokio::sync::oneshot::channel::<()>();
    let loop_daemon = Arc::clone(&daemon);
    let daemon_task = tokio::spawn(async move {
        loop_daemon
            .run(async move {
                let _ = daemon_stopped.await;
            })
            .await
    });

    let ready_by = Instant::now() + Duration::from_secs(30);
    while backend.snapshot(POOL).is_none_or(|p| p.ready == 0) {
        anyhow::ensure!(Instant::now() < ready_by, "no replica became ready within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "demo: {} on {} cores; plan ({}): {}",
        backend.service_url(),
        cores,
        match args.load {
            Load::Bursts => format!("requests/s, each second's in its first {:?}", args.burst),
            Load::Rate => "requests/s".to_string(),
            Load::Users => "users".to_string(),
        },
        plan_text
    );

    let start = Instant::now();
    let recorder = Arc::new(Recorder::new(start));
    let (stop_load, load_stopping) = tokio::sync::watch::channel(false);
    let load = tokio::spawn(loadgen::run(
        backend.service_url(),
        plan.clone(),
        Arc::clone(&recorder),
        load_stopping,
    ));

    let live = std::io::stderr().is_terminal();
    let mut ticks: Vec<Tick> = Vec::new();
    let mut kill: Option<Kill> = None;
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.tick().await;
    while !load.is_finished() {
        second.tick().await;
        let t = start.elapsed();
        let pool = backend.snapshot(POOL).unwrap_or_default();
        if kill.is_none()
            && time_to_kill(args.kill_replica_at, t, &pool)
            && let Some(pid) = backend.kill_one(POOL)
        {
            eprintln!("\ndemo: killed replica {pid} with SIGKILL at {:.1}s", t.as_secs_f64());
            kill = Some(Kill {
                t: t.as_secs_f64(),
                pid,
            });
        }
        let last = recorder.last_complete();
        let last_decision = shared
            .registry()
            .policies()
            .values()
            .next()
            .and_then(|e| e.last().cloned());
        let (policy_latency_ms, policy_cpu) = last_decision
            .as_ref()
            .map_or((None, None), |d| targets.seen(&d.decision));
        let tick = Tick {
            t: t.as_secs(),
            rps: last.as_ref().map_or(0, |s| s.ok),
            failed: last.as_ref().map_or(0, |s| s.failed),
            client_p99_ms: last.as_ref().and_then(loadgen::Second::p99_ms),
            policy_latency_ms,
            policy_cpu,
            desired: pool.desired,
            ready: pool.ready,
        };
        let line = live_line(
            &tick,
            &targets,
            recorder.failed(),
            last_decision.as_ref().map_or("", |d| &d.explanation),
        );
        if live {
            let width = 200;
            eprint!("\r{:<width$.width$}", line);
            let _ = std::io::stderr().flush();
        } else if tick.t.is_multiple_of(5) {
            eprintln!("{line}");
        }
        ticks.push(tick);
    }
    if live {
        eprintln!();
    }
    let _ = stop_load.send(true);
    let _ = load.await;
    // Exact per-second load figures, now that every second is complete.
    let seconds = recorder.seconds();
    for tick in &mut ticks {
        if let Some(s) = (tick.t as usize).checked_sub(1).and_then(|i| seconds.get(i)) {
            tick.rps = s.ok;
            tick.failed = s.failed;
            tick.client_p99_ms = s.p99_ms();
        }
    }
    let _ = stop_daemon.send(());
    let _ = daemon_task.await;
    let events = backend.snapshot(POOL).map(|p| p.events).unwrap_or_default();
    backend.shutdown().await;

    let origin = load_start(&shared, start);
    let decisions: Vec<DecisionLine> = shared
        .registry()
        .policies()
        .values()
        .flat_map(|e| e.journal().iter())
        .filter(|j| j.applied)
        .map(|j| {
            let t = (j.decision.at - origin).num_milliseconds() as f64 / 1000.0;
            DecisionLine::new(t, &j.decision, &j.explanation, &targets)
        })
        .collect();
    let happenings = happenings(&events, start);
    // The step up and how long its level lasts.
    let step = plan.first_step_up().map(|s| {
        let mut start = Duration::ZERO;
        let high = plan
            .steps
            .iter()
            .find(|st| {
                let found = start == s;
                start += st.duration;
                found
            })
            .map_or(Duration::ZERO, |st| st.duration);
        (s.as_secs_f64(), (s + high).as_secs_f64())
    });
    let learned = shared
        .registry()
        .policies()
        .values()
        .next()
        .and_then(|e| e.last())
        .and_then(|d| d.decision.knees.values().find_map(|k| k.knee));
    let replicas: Vec<u32> = ticks.iter().map(|t| t.desired.max(t.ready)).collect();
    let summary = summary::summarize(&Recorded {
        seconds: &seconds,
        decisions: &decisions,
        happenings: &happenings,
        step,
        kill,
        targets: &targets,
        replicas: &replicas,
        policy_latency: &ticks.iter().map(|t| t.policy_latency_ms).collect::<Vec<_>>(),
        learned,
        calibration: calibration.as_ref(),
    });
    report::write(&args.out, &summary, &ticks, &decisions, &plan_text)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Report {
                summary: &summary,
                timeline: &ticks,
                decisions: &decisions
            })?
        );
    } else {
        print!("{}", summary::table(&summary));
        println!("report: {}", args.out.join("report.html").display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The wall-clock time of the load's start, for placing decisions on the timeline.
fn load_start(shared: &Shared, start: Instant) -> chrono::DateTime<chrono::Utc> {
    shared.clock.now() - autoscaler_core::time::to_chrono(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kill_waits_for_a_steady_pool_at_most_15_s() {
        let steady = PoolSnapshot {
            desired: 2,
            ready: 2,
            ..PoolSnapshot::default()
        };
        let scaling_in = PoolSnapshot {
            desired: 1,
            ready: 1,
            draining: 1,
            ..PoolSnapshot::default()
        };
        let at = Some(Duration::from_secs(60));
        assert!(!time_to_kill(at, Duration::from_secs(59), &steady));
        assert!(time_to_kill(at, Duration::from_secs(60), &steady));
        assert!(!time_to_kill(at, Duration::from_secs(61), &scaling_in));
        assert!(time_to_kill(at, Duration::from_secs(75), &scaling_in));
        assert!(!time_to_kill(None, Duration::from_secs(75), &steady));
    }
}

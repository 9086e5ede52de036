//! `ecs-autoscaler demo`: the whole system on this machine. The daemon with the local
//! backend scales real search-service replicas under a load plan like the original
//! experiment's, shows what it does as it does it, and ends with a report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ecs_autoscaler::backend::local::{LocalBackend, LocalSettings, PoolEvent, ReplicaState};
use ecs_autoscaler::backend::{Clock, SystemClock};
use ecs_autoscaler::chart::{self, Panel, Series};
use ecs_autoscaler::daemon::Daemon;
use ecs_autoscaler::loadgen::{self, Mode, Plan, Recorder};
use ecs_autoscaler::settings::Settings;
use serde::Serialize;

const POLICY: &str = include_str!("../../policies/local-latency-cpu.toml");
const POOL: &str = "search";

pub struct Args {
    pub duration: Duration,
    pub plan: Option<String>,
    pub rate: bool,
    pub think: Duration,
    pub kill_replica_at: Option<Duration>,
    pub search_cost: Duration,
    pub out: PathBuf,
    pub json: bool,
}

/// Per second of the run: what the load saw and what the pool looked like.
#[derive(Debug, Clone, Serialize)]
struct Tick {
    t: u64,
    rps: u64,
    failed: u64,
    p99_ms: Option<f64>,
    desired: u32,
    ready: u32,
    cpu: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct DecisionLine {
    t: f64,
    from: u32,
    to: u32,
    explanation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub load_step_at_s: Option<f64>,
    pub first_scale_out_after_step_s: Option<f64>,
    pub p99_before_scale_out_ms: Option<f64>,
    pub p99_after_scale_out_ms: Option<f64>,
    pub scale_outs: usize,
    pub scale_ins: usize,
    pub requests: u64,
    pub failed_requests: u64,
    pub failed_during_scale_in: u64,
    pub killed_pid: Option<u32>,
    pub failed_during_kill: Option<u64>,
    pub recovery_s: Option<f64>,
    pub replica_pids: Vec<u32>,
}

#[derive(Serialize)]
struct Report<'a> {
    summary: &'a Summary,
    timeline: &'a [Tick],
    decisions: &'a [DecisionLine],
}

/// The default plan, scaled to this machine: per-request CPU cost is fixed, so the peak
/// asks for about 1.4 cores of replicas, leaving the rest for the load generator.
fn default_plan(duration: Duration, cores: usize, search_cost: Duration, think: Duration) -> String {
    let total = duration.as_secs_f64().max(30.0);
    let (low, step, high_for) = (total * 0.15, total * 0.45, total * 0.40);
    let per_core = 1.0 / search_cost.as_secs_f64().max(1e-4);
    let peak_rps = per_core * (cores as f64 * 0.7).min(2.0);
    // Closed-loop users needed for a request rate, with about 2 ms of service latency.
    let users = |rps: f64| (rps * (think.as_secs_f64() + 0.002)).ceil().max(1.0);
    format!(
        "{} for {}s, {} for {}s, {} for {}s",
        users(peak_rps * 0.12),
        low.round(),
        users(peak_rps),
        step.round(),
        users(peak_rps * 0.12),
        high_for.round()
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

async fn demo(args: Args) -> anyhow::Result<ExitCode> {
    let work = tempfile::tempdir().context("creating a working directory")?;
    let policies = work.path().join("policies");
    std::fs::create_dir(&policies)?;
    std::fs::write(policies.join("local-latency-cpu.toml"), POLICY)?;
    let service_port = free_port()?;
    let mode = if args.rate {
        Mode::Rate
    } else {
        Mode::Users { think: args.think }
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let plan_text = args.plan.clone().unwrap_or_else(|| {
        if args.rate {
            let peak = (1.0 / args.search_cost.as_secs_f64().max(1e-4)) * (cores as f64 * 0.7).min(2.0);
            let total = args.duration.as_secs_f64().max(30.0);
            format!(
                "{:.0} for {:.0}s, {:.0} for {:.0}s, {:.0} for {:.0}s",
                peak * 0.12,
                total * 0.15,
                peak,
                total * 0.45,
                peak * 0.12,
                total * 0.4
            )
        } else {
            default_plan(args.duration, cores, args.search_cost, args.think)
        }
    });
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
    let local = LocalSettings {
        port: service_port,
        workers: 1,
        catalog_size: 20_000,
        search_cost: args.search_cost,
        initial_replicas: 1,
        drain_deadline: Duration::from_secs(5),
        ..LocalSettings::default()
    };
    let backend = Arc::new(LocalBackend::start(local));
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
    while backend
        .pools()
        .get(POOL)
        .is_none_or(|p| p.replicas.iter().all(|r| r.state != ReplicaState::Ready))
    {
        anyhow::ensure!(Instant::now() < ready_by, "no replica became ready within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "demo: {} on {}; plan ({}): {}",
        backend.service_url(),
        cores,
        if args.rate { "requests/s" } else { "users" },
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
    let mut killed: Option<(u32, Instant)> = None;
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.tick().await;
    while !load.is_finished() {
        second.tick().await;
        let t = start.elapsed();
        if let Some(at) = args.kill_replica_at
            && killed.is_none()
            && t >= at
            && let Some(pid) = backend.kill_one(POOL)
        {
            eprintln!("\ndemo: killed replica {pid} with SIGKILL at {}s", t.as_secs());
            killed = Some((pid, Instant::now()));
        }
        let seconds = recorder.seconds();
        let last = seconds.len().checked_sub(2).and_then(|i| seconds.get(i));
        let (desired, ready) = backend.pools().get(POOL).map_or((0, 0), |p| {
            (
                p.desired,
                p.replicas.iter().filter(|r| r.state == ReplicaState::Ready).count() as u32,
            )
        });
        let last_decision = shared
            .registry()
            .policies
            .values()
            .next()
            .and_then(|e| e.last().cloned());
        let cpu = last_decision
            .as_ref()
            .and_then(|d| d.decision.rules.iter().find(|r| r.rule == "cpu").and_then(|r| r.value));
        let tick = Tick {
            t: t.as_secs(),
            rps: last.map_or(0, |s| s.ok),
            failed: last.map_or(0, |s| s.failed),
            p99_ms: last.and_then(loadgen::Second::p99_ms),
            desired,
            ready,
            cpu,
        };
        let reason = last_decision.map_or(String::new(), |d| d.explanation);
        let line = format!(
            "t={:>4}s  replicas {}/{}  rps {:>6}  p99 {:>8}  failed {:>4}  | {}",
            tick.t,
            tick.ready,
            tick.desired,
            tick.rps,
            tick.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms")),
            recorder.failed(),
            reason
        );
        if live {
            let width = 160;
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
            tick.p99_ms = s.p99_ms();
        }
    }
    let _ = stop_daemon.send(());
    let _ = daemon_task.await;
    let pids_seen: Vec<u32> = backend
        .pools()
        .get(POOL)
        .map(|p| {
            p.events
                .iter()
                .filter_map(|e| match e {
                    PoolEvent::Started { pid, .. } => Some(*pid),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    backend.shutdown().await;

    let decisions: Vec<DecisionLine> = shared
        .registry()
        .policies
        .values()
        .flat_map(|e| e.journal.iter())
        .filter(|j| j.applied)
        .map(|j| DecisionLine {
            t: (j.decision.at - shared_start(&shared, start)).num_milliseconds() as f64 / 1000.0,
            from: j.decision.capacity.desired,
            to: j.decision.desired,
            explanation: j.explanation.clone(),
        })
        .collect();
    let events = backend.pools().get(POOL).map(|p| p.events.clone()).unwrap_or_default();
    let summary = summarize(&plan, &recorder, &decisions, &events, start, killed, pids_seen);
    write_report(&args.out, &summary, &ticks, &decisions, &plan_text)?;
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
        print!("{}", table(&summary));
        println!("report: {}", args.out.join("report.html").display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The wall-clock time of the load's start, for placing decisions on the timeline.
fn shared_start(shared: &ecs_autoscaler::daemon::Shared, start: Instant) -> chrono::DateTime<chrono::Utc> {
    shared.clock.now() - chrono::Duration::from_std(start.elapsed()).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    plan: &Plan,
    recorder: &Recorder,
    decisions: &[DecisionLine],
    events: &[PoolEvent],
    start: Instant,
    killed: Option<(u32, Instant)>,
    replica_pids: Vec<u32>,
) -> Summary {
    let seconds = recorder.seconds();
    let at = |i: Instant| i.saturating_duration_since(start).as_secs_f64();
    let step = plan.first_step_up().map(|d| d.as_secs_f64());
    let first_out = step.and_then(|s| decisions.iter().find(|d| d.t >= s && d.to > d.from));
    let ready_after_out = first_out.and_then(|d| {
        events.iter().find_map(|e| match e {
            PoolEvent::Ready { at: when, .. } if at(*when) >= d.t => Some(at(*when)),
            _ => None,
        })
    });
    let p99_over = |from: f64, to: f64| -> Option<f64> {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).ok()?;
        for (i, s) in seconds.iter().enumerate() {
            let t = i as f64;
            if t >= from && t < to {
                h.add(&s.latency).ok()?;
            }
        }
        (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0)
    };
    let failed_between = |from: f64, to: f64| -> u64 {
        seconds
            .iter()
            .enumerate()
            .filter(|(i, _)| (*i as f64) >= from.floor() && (*i as f64) <= to.ceil())
            .map(|(_, s)| s.failed)
            .sum()
    };
    let high_until = step.map(|s| s + plan.steps.get(1).map_or(0.0, |st| st.duration.as_secs_f64()));
    let p99_before = match (step, first_out.map(|d| d.t), ready_after_out) {
        (Some(s), Some(_), Some(r)) => p99_over(s, r),
        _ => None,
    };
    let p99_after = match (ready_after_out, high_until) {
        (Some(r), Some(h)) => p99_over(r + 2.0, h),
        _ => None,
    };
    let mut failed_scale_in = 0;
    for e in events {
        if let PoolEvent::Stopping { pid, at: when } = e
            && killed.is_none_or(|(k, _)| k != *pid)
        {
            let stopped = events.iter().find_map(|x| match x {
                PoolEvent::Stopped { pid: p, at: w, .. } if p == pid => Some(at(*w)),
                _ => None,
            });
            // Failures are binned by when the request started, so a request cut off at
            // `when` lands in the second before it.
            failed_scale_in += failed_between(at(*when) - 1.0, stopped.unwrap_or(at(*when)) + 1.0);
        }
    }
    let (failed_kill, recovery) = match killed {
        Some((pid, when)) => {
            let died = events.iter().find_map(|e| match e {
                PoolEvent::Died { pid: p, at: w, .. } if *p == pid => Some(*w),
                _ => None,
            });
            let replaced = died.and_then(|d| {
                events.iter().find_map(|e| match e {
                    PoolEvent::Ready { at: w, .. } if *w >= d => Some(*w),
                    _ => None,
                })
            });
            let end = replaced.map_or(at(when) + 5.0, &at);
            (
                Some(failed_between(at(when) - 1.0, end + 1.0)),
                replaced.map(|r| r.duration_since(when).as_secs_f64()),
            )
        }
        None => (None, None),
    };
    Summary {
        load_step_at_s: step,
        first_scale_out_after_step_s: first_out.zip(step).map(|(d, s)| d.t - s),
        p99_before_scale_out_ms: p99_before,
        p99_after_scale_out_ms: p99_after,
        scale_outs: decisions.iter().filter(|d| d.to > d.from).count(),
        scale_ins: decisions.iter().filter(|d| d.to < d.from).count(),
        requests: seconds.iter().map(|s| s.ok + s.failed).sum(),
        failed_requests: recorder.failed(),
        failed_during_scale_in: failed_scale_in,
        killed_pid: killed.map(|k| k.0),
        failed_during_kill: failed_kill,
        recovery_s: recovery,
        replica_pids,
    }
}

fn table(s: &Summary) -> String {
    let secs = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} s"));
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} ms"));
    let rows = [
        ("load step at", secs(s.load_step_at_s)),
        (
            "time from the load step to the scale-out",
            secs(s.first_scale_out_after_step_s),
        ),
        ("p99 before the scale-out took effect", ms(s.p99_before_scale_out_ms)),
        ("p99 after", ms(s.p99_after_scale_out_ms)),
        ("scale-outs / scale-ins", format!("{} / {}", s.scale_outs, s.scale_ins)),
        ("requests", s.requests.to_string()),
        ("failed requests", s.failed_requests.to_string()),
        ("failed during scale-in", s.failed_during_scale_in.to_string()),
        (
            "failed during the kill",
            s.failed_during_kill.map_or("-".into(), |f| f.to_string()),
        ),
        ("recovery after the kill", secs(s.recovery_s)),
    ];
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:width$}  {v}\n")).collect()
}

fn write_report(
    dir: &Path,
    summary: &Summary,
    ticks: &[Tick],
    decisions: &[DecisionLine],
    plan: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let series = |name: &str, f: &dyn Fn(&Tick) -> Option<f64>| Series {
        name: name.to_string(),
        points: ticks.iter().filter_map(|t| f(t).map(|v| (t.t as f64, v))).collect(),
    };
    let panels = [
        Panel {
            title: "load (answered requests/s)".into(),
            series: vec![series("rps", &|t| Some(t.rps as f64))],
            log_scale: false,
            reference: None,
        },
        Panel {
            title: "replicas".into(),
            series: vec![
                series("desired", &|t| Some(f64::from(t.desired))),
                series("ready", &|t| Some(f64::from(t.ready))),
            ],
            log_scale: false,
            reference: None,
        },
        Panel {
            title: "CPU % (as the policy saw it)".into(),
            series: vec![series("cpu", &|t| t.cpu)],
            log_scale: false,
            reference: Some(("target 60 %".into(), 60.0)),
        },
        Panel {
            title: "p99 latency (ms, log scale)".into(),
            series: vec![series("p99", &|t| t.p99_ms)],
            log_scale: true,
            reference: Some(("SLO 50 ms".into(), 50.0)),
        },
        Panel {
            title: "failed requests per second".into(),
            series: vec![series("failed", &|t| Some(t.failed as f64))],
            log_scale: false,
            reference: None,
        },
    ];
    let x_max = ticks.last().map_or(1.0, |t| t.t as f64 + 1.0);
    let svg = chart::svg(&panels, "seconds", x_max).map_err(|e| anyhow::anyhow!(e))?;
    let mut text = table(summary);
    text.push_str("\ndecisions:\n");
    for d in decisions {
        text.push_str(&format!("  {:>6.1}s  {}\n", d.t, d.explanation));
    }
    let html = chart::html("ecs-autoscaler local demo", &format!("plan: {plan}"), &text, &svg);
    std::fs::write(dir.join("report.html"), html)?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&Report {
            summary,
            timeline: ticks,
            decisions,
        })?,
    )?;
    Ok(())
}

//! The daemon's own cost for many policies: the loop, the registry, the rounds, the
//! journal and the state writer, against the scripted backend in this process, which
//! answers every read and update at once, so that nothing but the shell is measured.
//!
//! `cargo bench --bench shell_scale [-- 1000 10000]`: for each count of policies, all on
//! a 5 s interval and all due together, 24 rounds on the real clock (journals in
//! memory full by then). Prints the round
//! overhead (from the answers arriving to every decision journaled: the scripted backend
//! answers at once, so a round's duration is that), the process's RSS, and its CPU per
//! round.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ecs_autoscaler::backend::scripted::{Script, Scripted};
use ecs_autoscaler::backend::{Clock, SystemClock};
use ecs_autoscaler::daemon::Daemon;
use ecs_autoscaler::settings::Settings;

/// Enough rounds for the journals in memory to fill (1,000 policies keep 20 each).
const ROUNDS: u64 = 24;
const INTERVAL_S: u64 = 5;

fn policy(i: usize) -> String {
    format!(
        "min = 1\nmax = 50\ninterval = \"{INTERVAL_S}s\"\n[target]\nbackend = \"sim\"\nservice = \"svc-{i}\"\n\
         [[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 50\n\
         [scale_in]\nstabilization = \"60s\"\n"
    )
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes only into the struct passed.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

/// The mean and the largest round of the daemon's round histogram.
fn rounds(metrics: &str) -> (f64, u64, f64) {
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let (sum, count) = (
        value("ecs_autoscaler_round_seconds_sum "),
        value("ecs_autoscaler_round_seconds_count "),
    );
    // The smallest bucket holding every round bounds the largest from above.
    let largest = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("ecs_autoscaler_round_seconds_bucket{le=\""))
        .filter_map(|l| {
            let (le, n) = l.split_once("\"} ")?;
            Some((
                le.parse::<f64>().unwrap_or(f64::INFINITY),
                n.trim().parse::<f64>().ok()?,
            ))
        })
        .find(|(_, n)| *n >= count)
        .map_or(f64::NAN, |(le, _)| le);
    (sum / count.max(1.0), count as u64, largest)
}

async fn measure(n: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pdir = dir.path().join("policies");
    std::fs::create_dir(&pdir).expect("the policies directory");
    for i in 0..n {
        std::fs::write(pdir.join(format!("p{i:05}.toml")), policy(i)).expect("a policy file");
    }
    let env = HashMap::from([
        ("ECS_AUTOSCALER_POLICIES_DIR".to_string(), pdir.display().to_string()),
        (
            "ECS_AUTOSCALER_STATE_FILE".to_string(),
            dir.path().join("state.json").display().to_string(),
        ),
        ("ECS_AUTOSCALER_POLICY_SETTLE".to_string(), "0s".to_string()),
        (
            "ECS_AUTOSCALER_MAX_QUERIES_PER_ROUND".to_string(),
            "1000000".to_string(),
        ),
        ("ECS_AUTOSCALER_RESCAN_INTERVAL".to_string(), "1h".to_string()),
    ]);
    let settings = Settings::load_with_env(None, Some(env)).expect("settings");
    let backend = Arc::new(Scripted::new(Script {
        value: Some(50.0),
        ..Script::default()
    }));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let loaded = Instant::now();
    let daemon = Daemon::new(settings, backend, clock);
    daemon.start().await.expect("the policies load");
    let load_s = loaded.elapsed().as_secs_f64();
    let shared = daemon.shared();
    let before = shared.render_metrics();
    let (_, rounds_before, _) = rounds(&before);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let task = tokio::spawn(async move {
        daemon
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });
    tokio::time::sleep(Duration::from_secs(ROUNDS * INTERVAL_S) - Duration::from_millis(500)).await;
    let metrics = shared.render_metrics();
    let (mean, count, largest) = rounds(&metrics);
    let rss_kb = status_kb("VmRSS:");
    let cpu = cpu_seconds() - cpu0;
    let wall = started.elapsed().as_secs_f64();
    let decisions: usize = shared.registry().policies().values().map(|e| e.journal().len()).sum();
    let _ = stop.send(());
    let _ = task.await;
    let rounds_run = count - rounds_before;
    println!(
        "{n:>6} policies: load {load_s:.2} s; {rounds_run} rounds, {decisions} decisions; round overhead mean {:.0} ms \
         (largest <= {largest} s); RSS {:.0} MiB; CPU {:.2} s per round ({:.1} % of one core)",
        mean * 1000.0,
        rss_kb as f64 / 1024.0,
        cpu / rounds_run.max(1) as f64,
        cpu / wall * 100.0,
    );
}

fn main() {
    let counts: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    if counts.len() != 1 {
        // One process per count, so one's memory does not count towards the next's.
        let counts = if counts.is_empty() { vec![1_000, 10_000] } else { counts };
        let me = std::env::current_exe().expect("this benchmark's path");
        for n in counts {
            let status = std::process::Command::new(&me).arg(n.to_string()).status();
            assert!(status.is_ok_and(|s| s.success()), "the run for {n} policies failed");
        }
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(measure(counts[0]));
}

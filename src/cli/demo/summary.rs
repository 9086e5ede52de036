//! What the demo showed, computed from what was recorded: pure, so every figure of the
//! final table is unit-tested. Times are seconds from the start of the load.

use hdrhistogram::Histogram;
use serde::Serialize;

use autoscaler_core::decide::{Decision, Knee, Vote};
use autoscaler_core::policy::{Goal, Measure, Policy};
pub use ecs_autoscaler::backend::local::EventKind as Kind;
use ecs_autoscaler::loadgen::Second;

use super::calibrate::Calibration;

/// The demo policy's figures the run is judged against, read from the policy itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targets {
    /// The latency rule's name, its quantile (0.99 for p99) and its SLO in ms.
    pub latency_rule: Option<(String, f64, f64)>,
    /// The CPU rule's name and its target in %.
    pub cpu_rule: Option<(String, f64)>,
    /// The latency rule's period, seconds.
    pub latency_period_s: f64,
}

impl Targets {
    pub fn of(policy: &Policy) -> Self {
        let latency_rule = policy.rules.iter().find_map(|r| match (r.measures, &r.goal) {
            (Measure::Latency { quantile }, Goal::LatencyGuard { target, .. }) => {
                Some((r.name.clone(), quantile, target * 1000.0))
            }
            _ => None,
        });
        let cpu_rule = policy
            .rules
            .iter()
            .find(|r| r.measures == Measure::Cpu)
            .map(|r| (r.name.clone(), r.goal.target()));
        let latency_period_s = policy
            .rules
            .iter()
            .find(|r| matches!(r.measures, Measure::Latency { .. }))
            .map_or(0.0, |r| r.period.as_secs_f64());
        Self {
            latency_rule,
            cpu_rule,
            latency_period_s,
        }
    }

    /// What a decision saw of the latency rule (ms) and the CPU rule (%).
    pub fn seen(&self, decision: &Decision) -> (Option<f64>, Option<f64>) {
        let value = |name: Option<&String>| {
            name.and_then(|n| decision.rules.iter().find(|v| &v.rule == n).and_then(|v| v.value))
        };
        (
            value(self.latency_rule.as_ref().map(|r| &r.0)).map(|s| s * 1000.0),
            value(self.cpu_rule.as_ref().map(|r| &r.0)),
        )
    }

    /// "p99" for a 0.99 quantile.
    pub fn percentile_name(&self) -> String {
        self.latency_rule
            .as_ref()
            .map_or("p99".into(), |(_, q, _)| format!("p{}", (q * 100.0).round()))
    }
}

/// One applied decision, placed on the run's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionLine {
    pub t: f64,
    pub from: u32,
    pub to: u32,
    /// The rules whose proposals the decision followed ("p99 and demand" when both asked
    /// for as much); None for a scale-in, which every rule allowed.
    pub driver: Option<String>,
    /// The latency rule's value as the policy saw it, in ms.
    pub policy_latency_ms: Option<f64>,
    /// The CPU rule's value as the policy saw it, in %.
    pub policy_cpu: Option<f64>,
    pub explanation: String,
}

impl DecisionLine {
    pub fn new(t: f64, decision: &Decision, explanation: &str, targets: &Targets) -> Self {
        // Every rule that asked for as much as the decision's recommendation drove it.
        let driver = (decision.desired > decision.capacity.desired)
            .then(|| {
                let drivers: Vec<&str> = decision
                    .rules
                    .iter()
                    .filter(|v| v.vote == Vote::Out && v.proposal >= Some(decision.recommendation))
                    .map(|v| v.rule.as_str())
                    .collect();
                (!drivers.is_empty()).then(|| drivers.join(" and "))
            })
            .flatten();
        let (policy_latency_ms, policy_cpu) = targets.seen(decision);
        Self {
            t,
            from: decision.capacity.desired,
            to: decision.desired,
            driver,
            policy_latency_ms,
            policy_cpu,
            explanation: explanation.to_string(),
        }
    }
}

/// Something that happened to a replica, `t` seconds into the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Happening {
    pub t: f64,
    pub pid: u32,
    pub kind: Kind,
}

/// The demo's kill: which replica and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kill {
    pub t: f64,
    pub pid: u32,
}

/// Everything the summary is computed from.
pub struct Recorded<'a> {
    /// Per second of the load, from the client's side.
    pub seconds: &'a [Second],
    pub decisions: &'a [DecisionLine],
    pub happenings: &'a [Happening],
    /// When the load stepped up, and when that level ended.
    pub step: Option<(f64, f64)>,
    pub kill: Option<Kill>,
    pub targets: &'a Targets,
    /// Replicas billed in each second (the desired count, or more while some drain).
    pub replicas: &'a [u32],
    /// The latency rule's value as the policy last saw it, each second (ms).
    pub policy_latency: &'a [Option<f64>],
    /// The knee the policy decided by at the end.
    pub learned: Option<Knee>,
    pub calibration: Option<&'a Calibration>,
}

/// What the policy learned a replica serves, against what the calibration measured, and
/// what that means for the fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sizing {
    /// The knee the policy decided by at the end of the run, and how it says it knows it.
    pub learned_knee: Option<f64>,
    pub learned_knee_text: Option<String>,
    /// What the calibration sweep measured on one replica.
    pub calibrated_knee: Option<f64>,
    /// Learned ÷ calibrated − 1.
    pub knee_error: Option<f64>,
    pub replica_seconds: u64,
    /// Each second, the fewest replicas whose share of the load stays at or under the
    /// calibrated knee (at least one), summed.
    pub fewest_replica_seconds: Option<u64>,
    /// The most replicas the policy kept once the step's scale-out had settled, and the
    /// fewest the step needed.
    pub replicas_after_step: Option<u32>,
    pub needed_after_step: Option<u32>,
    /// Over ten seconds from one latency period after the scale-out's new replica was ready
    /// (the policy's first window wholly on the new fleet): the highest p99 the policy read
    /// and the highest the client saw in a second (ms).
    pub policy_p99_after_scale_out_ms: Option<f64>,
    pub client_p99_after_scale_out_ms: Option<f64>,
}

/// The client's view of latency in the three phases around the first scale-out after the
/// load step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    /// Before the step, at the low load.
    pub before_ms: Option<f64>,
    /// From the step until the scale-out's first new replica was ready.
    pub during_ms: Option<f64>,
    /// From two seconds after that until the high load ended.
    pub after_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub targets: Targets,
    pub load_step_at_s: Option<f64>,
    pub first_scale_out_after_step_s: Option<f64>,
    /// The rule that drove that scale-out.
    pub scale_out_driver: Option<String>,
    /// What the policy saw when it decided: its latency percentile (ms) and CPU (%).
    pub policy_latency_at_scale_out_ms: Option<f64>,
    pub policy_cpu_at_scale_out: Option<f64>,
    /// The client's p99 before, during and after.
    pub client_p99: Phases,
    pub scale_outs: usize,
    pub scale_ins: usize,
    pub requests: u64,
    /// Failed requests, split so that every one is counted once: during the kill's
    /// recovery, during a scale-in's drain, or at any other time.
    pub failed_requests: u64,
    pub failed_during_kill: u64,
    pub failed_during_scale_in: u64,
    pub failed_otherwise: u64,
    pub killed_pid: Option<u32>,
    pub kill_at_s: Option<f64>,
    /// The replica that replaced the killed one, and seconds from the kill to its readiness.
    pub replacement_pid: Option<u32>,
    pub recovery_s: Option<f64>,
    pub replica_pids: Vec<u32>,
    pub sizing: Sizing,
}

/// How soon after a death its replacement starts (the supervisor checks every 250 ms).
const REPLACED_WITHIN: f64 = 5.0;

fn p99_over(seconds: &[Second], from: f64, to: f64) -> Option<f64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).ok()?;
    for (i, s) in seconds.iter().enumerate() {
        let t = i as f64;
        if t >= from && t < to {
            h.add(&s.latency).ok()?;
        }
    }
    (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0)
}

fn first(happenings: &[Happening], kind: Kind, after: f64, pid: Option<u32>) -> Option<&Happening> {
    happenings
        .iter()
        .find(|h| h.kind == kind && h.t >= after && pid.is_none_or(|p| p == h.pid))
}

pub fn summarize(r: &Recorded) -> Summary {
    let step = r.step.map(|s| s.0);
    let first_out = step.and_then(|s| r.decisions.iter().find(|d| d.t >= s && d.to > d.from));
    // The scale-out's replica: one started after the decision, ready.
    let ready_after_out = first_out
        .and_then(|d| first(r.happenings, Kind::Started, d.t, None))
        .and_then(|started| first(r.happenings, Kind::Ready, started.t, Some(started.pid)))
        .map(|h| h.t);
    let client_p99 = match r.step {
        Some((step, high_until)) => Phases {
            // The first seconds warm connections and caches up.
            before_ms: p99_over(r.seconds, 3.0_f64.min(step / 2.0), step),
            during_ms: p99_over(r.seconds, step, ready_after_out.unwrap_or(high_until)),
            after_ms: ready_after_out.and_then(|ready| p99_over(r.seconds, ready + 2.0, high_until)),
        },
        None => Phases::default(),
    };

    // Failures are binned by when the request started; a request cut off at `t` lands in
    // the second before it, hence the windows reach one second back.
    let kill = r.kill.map(|k| {
        let died = first(r.happenings, Kind::Died, k.t, Some(k.pid)).map_or(k.t, |h| h.t);
        // The supervisor starts a replacement within a tick or two of noticing the death;
        // a replica started later is a scale-out's, not the kill's.
        let replacement = first(r.happenings, Kind::Started, died, None).filter(|s| s.t <= died + REPLACED_WITHIN);
        let ready = replacement.and_then(|s| first(r.happenings, Kind::Ready, s.t, Some(s.pid)));
        (k, replacement.map(|s| s.pid), ready.map(|h| h.t))
    });
    let kill_window = kill.map(|(k, _, ready)| (k.t - 1.0, ready.unwrap_or(k.t + 5.0) + 1.0));
    let drain_windows: Vec<(f64, f64)> = r
        .happenings
        .iter()
        .filter(|h| h.kind == Kind::Stopping)
        .map(|h| {
            let stopped = first(r.happenings, Kind::Stopped, h.t, Some(h.pid)).map_or(h.t, |s| s.t);
            (h.t - 1.0, stopped + 1.0)
        })
        .collect();
    let inside = |t: f64, (from, to): (f64, f64)| t + 1.0 > from && t <= to;
    let (mut during_kill, mut during_scale_in, mut otherwise) = (0, 0, 0);
    for (i, s) in r.seconds.iter().enumerate() {
        let t = i as f64;
        if kill_window.is_some_and(|w| inside(t, w)) {
            during_kill += s.failed;
        } else if drain_windows.iter().any(|&w| inside(t, w)) {
            during_scale_in += s.failed;
        } else {
            otherwise += s.failed;
        }
    }

    let sizing = sizing(r, ready_after_out);
    Summary {
        sizing,
        targets: r.targets.clone(),
        load_step_at_s: step,
        first_scale_out_after_step_s: first_out.zip(step).map(|(d, s)| d.t - s),
        scale_out_driver: first_out.and_then(|d| d.driver.clone()),
        policy_latency_at_scale_out_ms: first_out.and_then(|d| d.policy_latency_ms),
        policy_cpu_at_scale_out: first_out.and_then(|d| d.policy_cpu),
        client_p99,
        scale_outs: r.decisions.iter().filter(|d| d.to > d.from).count(),
        scale_ins: r.decisions.iter().filter(|d| d.to < d.from).count(),
        requests: r.seconds.iter().map(|s| s.ok + s.failed).sum(),
        failed_requests: during_kill + during_scale_in + otherwise,
        failed_during_kill: during_kill,
        failed_during_scale_in: during_scale_in,
        failed_otherwise: otherwise,
        killed_pid: kill.map(|(k, _, _)| k.pid),
        kill_at_s: kill.map(|(k, _, _)| k.t),
        replacement_pid: kill.and_then(|(_, p, _)| p),
        recovery_s: kill.and_then(|(k, _, ready)| ready.map(|t| t - k.t)),
        replica_pids: r
            .happenings
            .iter()
            .filter(|h| h.kind == Kind::Started)
            .map(|h| h.pid)
            .collect(),
    }
}

fn sizing(r: &Recorded, ready_after_out: Option<f64>) -> Sizing {
    let calibrated = r.calibration.and_then(|c| c.knee);
    let needed = |rate: f64| calibrated.map(|k| ((rate / k).ceil() as u32).max(1));
    let rate = |i: usize| r.seconds.get(i).map_or(0.0, |s| (s.ok + s.failed) as f64);
    let fewest = calibrated.map(|_| {
        (0..r.replicas.len())
            .map(|i| u64::from(needed(rate(i)).unwrap_or(1)))
            .sum()
    });
    // Once the step's scale-out has settled (its replica ready, ten seconds on) until
    // the step ends.
    let settled = ready_after_out
        .zip(r.step)
        .map(|(ready, (_, until))| (ready + 10.0, until));
    let in_window = |(from, to): (f64, f64)| (from.max(0.0) as usize)..(to.max(0.0) as usize);
    let replicas_after_step = settled.and_then(|w| r.replicas.get(in_window(w))?.iter().copied().max());
    let needed_after_step = settled.and_then(|w| {
        let range = in_window(w);
        let n = range.len().max(1) as f64;
        needed(range.map(rate).sum::<f64>() / n)
    });
    // From one rule period after the replica was ready (the policy's first window wholly
    // on the new fleet) for ten seconds, for both sides.
    let period = r.targets.latency_period_s;
    let after = ready_after_out.map(|ready| (ready + period, ready + period + 10.0));
    let policy_p99 = after.and_then(|w| {
        r.policy_latency
            .get(in_window(w))?
            .iter()
            .flatten()
            .copied()
            .reduce(f64::max)
    });
    let client_p99 = after.and_then(|w| {
        r.seconds
            .get(in_window(w))?
            .iter()
            .filter_map(Second::p99_ms)
            .reduce(f64::max)
    });
    Sizing {
        learned_knee: r.learned.map(|k| k.per_task),
        learned_knee_text: r.learned.map(|k| k.describe()),
        calibrated_knee: calibrated,
        knee_error: r.learned.zip(calibrated).map(|(l, c)| l.per_task / c - 1.0),
        replica_seconds: r.replicas.iter().map(|&n| u64::from(n)).sum(),
        fewest_replica_seconds: fewest,
        replicas_after_step,
        needed_after_step,
        policy_p99_after_scale_out_ms: policy_p99,
        client_p99_after_scale_out_ms: client_p99,
    }
}

fn count(n: Option<u32>) -> String {
    n.map_or("-".into(), |n| n.to_string())
}

fn calibrated(s: &Sizing) -> String {
    match (s.calibrated_knee, s.knee_error) {
        (Some(k), Some(e)) => format!("{k:.0} req/s per replica (learned {:+.0} %)", e * 100.0),
        (Some(k), None) => format!("{k:.0} req/s per replica"),
        (None, _) => "- (run with --calibrate)".into(),
    }
}

/// The final table, as printed and as shown at the top of the report.
pub fn table(s: &Summary) -> String {
    let secs = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} s"));
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} ms"));
    let pct = s.targets.percentile_name();
    let slo = s
        .targets
        .latency_rule
        .as_ref()
        .map_or(String::new(), |r| format!(" (SLO {:.0} ms)", r.2));
    let cpu_target = s
        .targets
        .cpu_rule
        .as_ref()
        .map_or(String::new(), |r| format!(" (target {:.0} %)", r.1));
    let seen = format!(
        "{} / {}",
        s.policy_latency_at_scale_out_ms
            .map_or("-".into(), |v| format!("{pct} {v:.1} ms{slo}")),
        s.policy_cpu_at_scale_out
            .map_or("-".into(), |v| format!("CPU {v:.0} %{cpu_target}"))
    );
    let kill = match (s.killed_pid, s.replacement_pid) {
        (None, _) => "-".to_string(),
        (Some(k), Some(r)) => format!(
            "pid {k} killed, pid {r} replaced it, ready after {}",
            secs(s.recovery_s)
        ),
        (Some(k), None) => format!("pid {k} killed, no replacement started"),
    };
    let rows = [
        ("load step at", secs(s.load_step_at_s)),
        (
            "time from the load step to the scale-out",
            secs(s.first_scale_out_after_step_s),
        ),
        (
            "rule that scaled out",
            s.scale_out_driver.clone().unwrap_or_else(|| "-".into()),
        ),
        ("what the policy saw then", seen),
        (&*format!("client {pct} before the step"), ms(s.client_p99.before_ms)),
        (
            &*format!("client {pct} from the step to the new replica"),
            ms(s.client_p99.during_ms),
        ),
        (
            &*format!("client {pct} after it, until the load drops"),
            ms(s.client_p99.after_ms),
        ),
        ("scale-outs / scale-ins", format!("{} / {}", s.scale_outs, s.scale_ins)),
        ("requests", s.requests.to_string()),
        (
            "failed requests (kill / scale-in / other)",
            format!(
                "{} ({} / {} / {})",
                s.failed_requests, s.failed_during_kill, s.failed_during_scale_in, s.failed_otherwise
            ),
        ),
        ("replica killed", kill),
        (
            &*format!("after the scale-out: policy {pct} / client {pct}"),
            format!(
                "{} / {} (highest over 10 s, from a period after its replica was ready)",
                ms(s.sizing.policy_p99_after_scale_out_ms),
                ms(s.sizing.client_p99_after_scale_out_ms)
            ),
        ),
        (
            "knee the policy learned",
            s.sizing.learned_knee_text.clone().unwrap_or_else(|| "-".into()),
        ),
        ("knee the calibration measured", calibrated(&s.sizing)),
        (
            "replicas after the step (fewest that hold)",
            format!(
                "{} ({})",
                count(s.sizing.replicas_after_step),
                count(s.sizing.needed_after_step)
            ),
        ),
        (
            "replica-seconds (fewest that hold)",
            format!(
                "{} ({})",
                s.sizing.replica_seconds,
                s.sizing.fewest_replica_seconds.map_or("-".into(), |f| f.to_string())
            ),
        ),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:width$}  {v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(ok: u64, failed: u64, latency_us: u64) -> Second {
        let mut s = Second {
            ok,
            failed,
            ..Second::default()
        };
        for _ in 0..ok {
            s.latency.record(latency_us).unwrap();
        }
        s
    }

    fn targets() -> Targets {
        let policy = autoscaler_core::policy::parse(
            std::path::Path::new("p.toml"),
            include_str!("../../../policies/local-latency-cpu.toml"),
        )
        .unwrap();
        Targets::of(&policy)
    }

    fn at(t: f64, pid: u32, kind: Kind) -> Happening {
        Happening { t, pid, kind }
    }

    fn line(t: f64, from: u32, to: u32, driver: Option<&str>) -> DecisionLine {
        DecisionLine {
            t,
            from,
            to,
            driver: driver.map(str::to_string),
            policy_latency_ms: Some(80.0),
            policy_cpu: Some(45.0),
            explanation: String::new(),
        }
    }

    #[test]
    fn targets_come_from_the_embedded_policy() {
        let t = targets();
        let (name, q, slo) = t.latency_rule.clone().unwrap();
        assert_eq!((name.as_str(), q), ("p99", 0.99));
        assert!(slo > 0.0);
        assert_eq!(t.cpu_rule.as_ref().unwrap().0, "cpu");
        assert_eq!(t.percentile_name(), "p99");
    }

    /// 10 s low (2 ms), a step at 10 s (40 ms until the new replica is ready at 16 s), then
    /// 5 ms until the high load ends at 30 s.
    fn run() -> (Vec<Second>, Vec<DecisionLine>, Vec<Happening>) {
        let seconds: Vec<Second> = (0..40)
            .map(|t| match t {
                0..10 => second(100, 0, 2_000),
                10..16 => second(300, 0, 40_000),
                16..30 => second(300, 0, 5_000),
                _ => second(100, 0, 2_000),
            })
            .collect();
        let decisions = vec![line(13.0, 1, 2, Some("p99")), line(33.0, 2, 1, None)];
        let happenings = vec![
            at(0.0, 100, Kind::Started),
            at(0.5, 100, Kind::Ready),
            at(13.2, 200, Kind::Started),
            at(16.0, 200, Kind::Ready),
            at(33.0, 200, Kind::Stopping),
            at(34.0, 200, Kind::Stopped),
        ];
        (seconds, decisions, happenings)
    }

    #[test]
    fn the_three_phases_around_the_scale_out_are_measured_apart() {
        let (seconds, decisions, happenings) = run();
        let targets = targets();
        let s = summarize(&Recorded {
            seconds: &seconds,
            decisions: &decisions,
            happenings: &happenings,
            step: Some((10.0, 30.0)),
            kill: None,
            targets: &targets,
            replicas: &[],
            policy_latency: &[],
            learned: None,
            calibration: None,
        });
        assert_eq!(s.first_scale_out_after_step_s, Some(3.0));
        assert_eq!(s.scale_out_driver.as_deref(), Some("p99"));
        let near = |v: Option<f64>, want: f64| (v.unwrap() - want).abs() < want * 0.01;
        assert!(near(s.client_p99.before_ms, 2.0), "{:?}", s.client_p99);
        assert!(near(s.client_p99.during_ms, 40.0), "{:?}", s.client_p99);
        assert!(near(s.client_p99.after_ms, 5.0), "{:?}", s.client_p99);
        assert_eq!((s.scale_outs, s.scale_ins), (1, 1));
        assert_eq!(s.replica_pids, vec![100, 200]);
        let text = table(&s);
        assert!(
            text.contains("client p99 from the step to the new replica   40.0 ms"),
            "{text}"
        );
        assert!(text.contains("rule that scaled out"), "{text}");
    }

    #[test]
    fn every_failed_request_is_counted_once() {
        let (mut seconds, decisions, mut happenings) = run();
        // Failures during the scale-in's drain (33-34 s) and the kill at 20 s, whose
        // replacement is ready at 22.5 s, and one stray failure at 5 s.
        for (t, n) in [(5, 1), (19, 2), (20, 3), (22, 4), (33, 5), (34, 6)] {
            seconds[t].failed = n;
        }
        happenings.extend([
            at(20.1, 100, Kind::Died),
            at(20.3, 300, Kind::Started),
            at(22.5, 300, Kind::Ready),
        ]);
        happenings.sort_by(|a, b| a.t.total_cmp(&b.t));
        let targets = targets();
        let s = summarize(&Recorded {
            seconds: &seconds,
            decisions: &decisions,
            happenings: &happenings,
            step: Some((10.0, 30.0)),
            kill: Some(Kill { t: 20.0, pid: 100 }),
            targets: &targets,
            replicas: &[],
            policy_latency: &[],
            learned: None,
            calibration: None,
        });
        assert_eq!(s.failed_requests, 21);
        assert_eq!(s.failed_during_kill, 2 + 3 + 4);
        assert_eq!(s.failed_during_scale_in, 5 + 6);
        assert_eq!(s.failed_otherwise, 1);
        assert_eq!(s.replacement_pid, Some(300));
        assert!((s.recovery_s.unwrap() - 2.5).abs() < 1e-9);
        assert!(table(&s).contains("pid 100 killed, pid 300 replaced it, ready after 2.5 s"));
    }

    #[test]
    fn a_replica_started_long_after_a_kill_is_not_its_replacement() {
        let (seconds, decisions, mut happenings) = run();
        // The kill at 5 s, before the step: the pool had only pid 100, and nothing
        // replaced it until the scale-out's replica at 13.2 s.
        happenings.push(at(5.1, 100, Kind::Died));
        happenings.sort_by(|a, b| a.t.total_cmp(&b.t));
        let targets = targets();
        let s = summarize(&Recorded {
            seconds: &seconds,
            decisions: &decisions,
            happenings: &happenings,
            step: Some((10.0, 30.0)),
            kill: Some(Kill { t: 5.0, pid: 100 }),
            targets: &targets,
            replicas: &[],
            policy_latency: &[],
            learned: None,
            calibration: None,
        });
        assert_eq!(s.replacement_pid, None);
        assert!(table(&s).contains("no replacement started"));
        // The scale-out's own replica still ends the "during" phase.
        assert!(
            (s.client_p99.during_ms.unwrap() - 40.0).abs() < 0.5,
            "{:?}",
            s.client_p99
        );
    }

    #[test]
    fn sizing_weighs_the_fleet_against_what_the_calibration_says_it_needs() {
        use autoscaler_core::decide::Basis;
        let (seconds, decisions, happenings) = run();
        let targets = targets();
        // One replica until the scale-out's replica is ready at 16 s, two until 33 s,
        // then three (one too many) to the end.
        let replicas: Vec<u32> = (0..40)
            .map(|t| {
                if t < 16 {
                    1
                } else if t < 33 {
                    2
                } else {
                    3
                }
            })
            .collect();
        let mut policy_latency = vec![None; 40];
        policy_latency[24] = Some(6.0);
        let calibration = Calibration {
            steps: vec![],
            knee: Some(200.0),
        };
        let learned = Knee {
            per_task: 230.0,
            low: 210.0,
            high: 250.0,
            readings: 12.0,
            span_s: 60,
            basis: Basis::Bracketed,
        };
        let s = summarize(&Recorded {
            seconds: &seconds,
            decisions: &decisions,
            happenings: &happenings,
            step: Some((10.0, 30.0)),
            kill: None,
            targets: &targets,
            replicas: &replicas,
            policy_latency: &policy_latency,
            learned: Some(learned),
            calibration: Some(&calibration),
        });
        let z = &s.sizing;
        assert!((z.knee_error.unwrap() - 0.15).abs() < 1e-9, "{z:?}");
        // 300 req/s at a 200 req/s knee needs 2 while the step lasts; 100 needs 1.
        assert_eq!((z.replicas_after_step, z.needed_after_step), (Some(2), Some(2)));
        assert_eq!(z.replica_seconds, 16 + 2 * 17 + 3 * 7);
        assert_eq!(z.fewest_replica_seconds, Some(10 + 2 * 20 + 10));
        assert_eq!(z.policy_p99_after_scale_out_ms, Some(6.0));
        assert!(z.client_p99_after_scale_out_ms.is_some());
        assert!(table(&s).contains("learned +15 %"), "{}", table(&s));
    }
}

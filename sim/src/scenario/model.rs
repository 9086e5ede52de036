//! A scenario as the simulator runs it: the service, its traffic, CloudWatch's delivery,
//! failures and faults, with the load and the markers they make.

use chrono::{DateTime, Utc};

use super::faults::{Fault, Faults};

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub duration: u64,
    pub seed: u64,
    pub start: DateTime<Utc>,
    /// p99 above this counts as an SLO-violation second (seconds).
    pub slo_p99: f64,
    /// When the first load step happens, for "time to first scale-out".
    pub load_step_at: Option<u64>,
    /// Seconds before this are the service's history: every scaler runs through them, and
    /// the summary counts only what comes after (a forecaster needs days to learn from).
    pub score_from: u64,
    pub service: ServiceModel,
    pub cloudwatch: CloudWatchModel,
    pub traffic: Traffic,
    pub failures: Vec<Failure>,
    pub faults: Faults,
    /// New revisions of the service, in time order.
    pub deploys: Vec<Deploy>,
}

/// A new revision of the service: from `at` every task serves `capacity` × what it served
/// before (a slower build: 0.7), and a rollout is under way for `rollout` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deploy {
    pub at: u64,
    pub capacity: f64,
    pub rollout: u64,
}

impl Scenario {
    /// What the tasks serve at `t` against what they served at the start.
    pub fn capacity_factor(&self, t: u64) -> f64 {
        self.deploys.iter().filter(|d| d.at <= t).map(|d| d.capacity).product()
    }

    /// The service's revision at `t`: 1, and one more per deploy since.
    pub fn revision(&self, t: u64) -> u64 {
        1 + self.deploys.iter().filter(|d| d.at <= t).count() as u64
    }

    /// Whether a deploy's rollout is under way at `t`.
    pub fn rolling_out(&self, t: u64) -> bool {
        self.deploys.iter().any(|d| d.at <= t && t < d.at + d.rollout)
    }
}

#[derive(Debug, Clone)]
pub struct ServiceModel {
    pub initial_tasks: u32,
    /// Requests per second one task serves at 100 % CPU.
    pub capacity_rps: f64,
    /// CPU % of an idle task (runtime, health checks, logging).
    pub idle_cpu: f64,
    pub memory_percent: f64,
    /// Latency floor of a request (seconds).
    pub base_latency: f64,
    /// Launch to healthy in the target group (seconds), and its +/- spread.
    pub startup: f64,
    pub startup_jitter: f64,
    /// How long a dead task still receives requests before it leaves the target group.
    pub failure_detection: f64,
    /// How long ECS takes to launch a replacement for a task that died.
    pub replacement_delay: f64,
    /// Requests queued longer than this fail.
    pub request_timeout: f64,
    /// Each task's capacity is `capacity_rps` times 1 ± up to this (uniform), drawn at launch.
    pub capacity_spread: f64,
    /// The load arrives as messages in one shared queue (SQS) the tasks work, instead of
    /// requests the load balancer spreads: nothing times out, messages wait.
    pub queue: bool,
}

#[derive(Debug, Clone)]
pub struct CloudWatchModel {
    /// Publication delay of 1-minute metrics (ECS, ALB) after their minute ends.
    pub standard_delay: u64,
    /// Publication delay of high-resolution (sub-minute) metrics.
    pub high_resolution_delay: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadKind {
    /// Closed loop: users that wait for each answer, then think.
    Users,
    /// Open loop: requests per second regardless of how the service copes.
    Rate,
}

#[derive(Debug, Clone)]
pub struct Traffic {
    pub kind: LoadKind,
    /// Client-side round trip added to every request of a closed-loop user.
    pub rtt: f64,
    pub think_time: f64,
    /// Relative standard deviation of per-second noise.
    pub noise: f64,
    pub phases: Vec<Phase>,
    pub diurnal: Option<Diurnal>,
}

#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub at: u64,
    /// Users or requests per second, depending on the kind.
    pub level: f64,
    /// Linear ramp from the previous level.
    pub ramp: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Diurnal {
    pub min: f64,
    pub max: f64,
    pub peak_at: u64,
    pub period: u64,
    /// Load on days 6 and 7 of every week of the run (a run starting on a Monday has its
    /// weekend there), as a share of the weekday curve.
    pub weekend: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub at: u64,
    pub tasks: u32,
    pub kind: FailureKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The process dies: the load balancer keeps sending it requests, which fail, until
    /// its health checks notice (`failure_detection`).
    Crash,
    /// ECS stops the task (a deploy, a scale-in elsewhere, Fargate maintenance): it is
    /// deregistered at once and drains what it holds, so no request fails.
    Stop,
}

impl Traffic {
    /// The noiseless load level (users or requests/s) at second `t`.
    pub fn level(&self, t: u64) -> f64 {
        if let Some(d) = self.diurnal {
            let phase = (t as f64 - d.peak_at as f64) / d.period as f64 * std::f64::consts::TAU;
            let day = (t / 86_400) % 7;
            let share = if day >= 5 { d.weekend } else { 1.0 };
            return (d.min + (d.max - d.min) * (1.0 + phase.cos()) / 2.0) * share;
        }
        // Phases are sorted and each ramp ends before the next phase (the parser checks), so
        // the phase in force and the one before it decide; a binary search keeps a replay of
        // weeks of per-minute phases fast.
        let i = self.phases.partition_point(|p| p.at <= t);
        let Some(p) = i.checked_sub(1).map(|i| &self.phases[i]) else {
            return 0.0;
        };
        let from = i.checked_sub(2).map_or(0.0, |j| self.phases[j].level);
        let into = t - p.at;
        if p.ramp > 0 && into < p.ramp {
            from + (p.level - from) * into as f64 / p.ramp as f64
        } else {
            p.level
        }
    }

    /// Requests per second the load would send to a service answering in `latency` seconds.
    pub fn offered_rate(&self, level: f64, latency: f64) -> f64 {
        match self.kind {
            LoadKind::Rate => level,
            LoadKind::Users => level / (self.rtt + self.think_time + latency).max(1e-3),
        }
    }

    /// The first time the load rises after the start.
    pub fn first_step(&self) -> Option<u64> {
        let mut previous = None;
        for p in &self.phases {
            if let Some(prev) = previous
                && p.level > prev
                && p.at > 0
            {
                return Some(p.at);
            }
            previous = Some(p.level);
        }
        None
    }
}

impl Scenario {
    /// What happens to the world and when, for markers on charts: load steps (when the
    /// load is a handful of phases, not a replayed recording), task failures and faults.
    pub fn steps(&self) -> Vec<(f64, String)> {
        let unit = match self.traffic.kind {
            LoadKind::Users => "users",
            LoadKind::Rate => "req/s",
        };
        let mut out = Vec::new();
        if self.traffic.diurnal.is_none() && self.traffic.phases.len() <= 12 {
            for pair in self.traffic.phases.windows(2) {
                out.push((
                    pair[1].at as f64,
                    format!("load {:.0} → {:.0} {unit}", pair[0].level, pair[1].level),
                ));
            }
        }
        for f in &self.failures {
            let what = match f.kind {
                FailureKind::Crash => "crash",
                FailureKind::Stop => "stop",
            };
            out.push((f.at as f64, format!("{what} of {} task(s)", f.tasks)));
        }
        for w in &self.faults.windows {
            let what = match &w.fault {
                Fault::CloudWatchOutage => "CloudWatch outage".to_string(),
                Fault::LateDatapoints(s) => format!("datapoints {s} s late"),
                Fault::MissingDatapoints(p) => format!("{:.0} % of datapoints missing", p * 100.0),
                Fault::UpdateServiceFails(e) => format!("UpdateService fails: {e}"),
                Fault::Deployment => "deployment".to_string(),
                Fault::FailedStarts(p) => format!("{:.0} % of starts fail", p * 100.0),
            };
            out.push((w.from as f64, what));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

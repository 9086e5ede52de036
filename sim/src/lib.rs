//! The simulator: replays a scenario in virtual time, one step per second, with a scaler
//! deciding the desired count. Policies go through the same [`autoscaler_core::decide`] core as the
//! daemon; there is no second implementation of the rules.

pub mod cloudwatch;
pub mod families;
pub mod imported;
pub mod migration;
pub mod prediction;
pub mod predictive;
pub mod replay;
pub mod report;
pub mod scalers;
pub mod scenario;
pub mod seeds;
pub mod timeline;
pub mod truth;
pub mod world;

use serde::Serialize;

pub use predictive::{AwsPredictive, Forecaster};
pub use scalers::{Change, MetricReader, Oracle, PolicyScaler, ReactiveLimit, Resolution, Scaler, TargetTracking};
pub use scenario::Scenario;
use world::{Second, World};

use autoscaler_core::decide::{Action, Basis};
use autoscaler_core::policy::Policy;

/// The comparisons `simulate --compare` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// AWS target tracking on one-minute metrics, on the policy's utilization metric (CPU 70 % if none).
    AwsTargetTracking,
    /// AWS target tracking on ECS's 20-second CPU metric (since June 2026).
    AwsTargetTracking20s,
    /// AWS predictive scaling (hourly forecasts of the load, a good seasonal forecaster)
    /// together with 20 s target tracking, as AWS users run the two.
    AwsPredictive,
    /// The same, told each future hour's true mean load: the best AWS's hourly design can do.
    AwsPredictivePerfectHourly,
    /// Knows the demand as soon as any datapoint could show it, and acts at once: the floor
    /// for a reactive policy.
    ReactiveLimit,
    /// Perfect foresight: the lower bound on cost.
    Oracle,
    /// The policy itself with its `[predict]` table off: what prediction adds.
    PredictionOff,
}

impl Comparison {
    pub const ALL: [Comparison; 6] = [
        Comparison::AwsTargetTracking20s,
        Comparison::AwsTargetTracking,
        Comparison::AwsPredictive,
        Comparison::AwsPredictivePerfectHourly,
        Comparison::ReactiveLimit,
        Comparison::Oracle,
    ];

    /// The name `--compare` takes and reports show.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::AwsTargetTracking => "aws-target-tracking",
            Comparison::AwsTargetTracking20s => "aws-target-tracking-20s",
            Comparison::AwsPredictive => "aws-predictive",
            Comparison::AwsPredictivePerfectHourly => "aws-predictive-perfect-hourly",
            Comparison::ReactiveLimit => "reactive-limit",
            Comparison::Oracle => "oracle",
            Comparison::PredictionOff => "prediction-off",
        }
    }

    pub fn scaler(self, policy: &Policy, scenario: &Scenario) -> Box<dyn Scaler> {
        match self {
            Comparison::AwsTargetTracking => Box::new(TargetTracking::for_policy(policy, Resolution::OneMinute)),
            Comparison::AwsTargetTracking20s => Box::new(TargetTracking::for_policy(policy, Resolution::TwentySeconds)),
            Comparison::AwsPredictive => Box::new(AwsPredictive::new(policy, scenario, Forecaster::Seasonal)),
            Comparison::AwsPredictivePerfectHourly => {
                Box::new(AwsPredictive::new(policy, scenario, Forecaster::Perfect))
            }
            Comparison::ReactiveLimit => Box::new(ReactiveLimit::new(policy, scenario)),
            Comparison::Oracle => Box::new(Oracle::new(policy, scenario)),
            Comparison::PredictionOff => {
                let mut off = policy.clone();
                off.predict = None;
                off.name = format!("{} (prediction off)", policy.name);
                Box::new(PolicyScaler::new(off, scenario))
            }
        }
    }
}

impl std::str::FromStr for Comparison {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let every = Comparison::ALL.into_iter().chain([Comparison::PredictionOff]);
        every.clone().find(|c| c.name() == s).ok_or_else(|| {
            let names: Vec<&str> = every.map(|c| c.name()).collect();
            format!("unknown comparison \"{s}\": use one of {}", names.join(", "))
        })
    }
}

/// One scaler's run through a scenario.
pub struct Run {
    pub scaler: String,
    pub seconds: Vec<Second>,
    pub changes: Vec<Change>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub scaler: String,
    /// Seconds in which p99 exceeded the SLO or requests failed.
    pub slo_violation_seconds: u64,
    /// Sum over seconds of tasks launched or running: what Fargate bills.
    pub task_seconds: f64,
    pub peak_p99_ms: f64,
    pub failed_requests: u64,
    pub total_requests: u64,
    pub scale_outs: u32,
    pub scale_ins: u32,
    /// From the scenario's first load step to the first scale-out after it.
    pub first_scale_out_after_step_s: Option<u64>,
    pub max_tasks: u32,
    pub mean_cpu: f64,
    /// Scale-ins followed by a scale-out within [`autoscaler_core::decide::REVERSAL_WINDOW`]: capacity
    /// given back too early.
    pub reversed_scale_ins: u32,
    pub tasks_launched: u32,
    /// The knee the scaler learned, at the end of the run, beside the true one then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knee: Option<KneeFigure>,
}

/// A learned knee against the simulator's ground truth.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct KneeFigure {
    /// Requests per task per second the scaler sized by (its usable knee).
    pub learned: f64,
    /// What the slowest task in service really serves within the SLO.
    pub truth: f64,
    /// Whether the learned figure is only a lower bound (no breach seen, no CPU).
    pub lower_bound: bool,
}

impl KneeFigure {
    /// Learned ÷ true.
    pub fn ratio(&self) -> f64 {
        self.learned / self.truth
    }
}

/// Runs `scaler` through `scenario`. `progress` is told of each simulated second.
pub fn run(scenario: &Scenario, scaler: &mut dyn Scaler, progress: &mut dyn FnMut(u64)) -> Run {
    let mut world = World::new(scenario);
    let mut changes = Vec::new();
    for t in 0..scenario.duration {
        if let Some(change) = scaler.tick(&mut world, scenario, t) {
            changes.push(change);
        }
        world.step(t);
        progress(t);
    }
    let end = scenario.duration.saturating_sub(1);
    let knee = scaler
        .knee()
        .zip(world.slowest_capacity(end))
        .map(|(k, slowest)| KneeFigure {
            learned: k.usable(),
            truth: truth::knee(scenario, slowest),
            lower_bound: k.basis == Basis::Extrapolated,
        });
    let seconds = world.seconds.into_seconds();
    let mut summary = summarize(scenario, &scaler.name(), &seconds, &changes);
    summary.knee = knee;
    Run {
        scaler: scaler.name(),
        seconds,
        changes,
        summary,
    }
}

/// Whether second `s` breaks the SLO: p99 above it (for a queue, a message's wait), or a
/// request failed.
pub fn violated(scenario: &Scenario, s: &Second) -> bool {
    // Messages waiting with no task to work them break it too (a queue-fed service).
    let stranded = s.backlog >= 0.5 && s.served == 0.0;
    s.failed >= 0.5 || stranded || (s.served > 0.0 && s.p99() > scenario.slo_p99)
}

fn summarize(scenario: &Scenario, scaler: &str, seconds: &[Second], changes: &[Change]) -> Summary {
    let from = (scenario.score_from as usize).min(seconds.len());
    let seconds = &seconds[from..];
    let changes: Vec<Change> = changes
        .iter()
        .filter(|c| c.at >= scenario.score_from)
        .cloned()
        .collect();
    let changes = changes.as_slice();
    let violation = |s: &Second| violated(scenario, s);
    let cpu: Vec<f64> = seconds.iter().filter_map(|s| s.cpu).collect();
    let step = scenario.load_step_at;
    Summary {
        scaler: scaler.to_string(),
        slo_violation_seconds: seconds.iter().filter(|s| violation(s)).count() as u64,
        task_seconds: seconds.iter().map(|s| f64::from(s.billed())).sum(),
        peak_p99_ms: seconds
            .iter()
            .filter(|s| s.served > 0.0)
            .map(|s| s.p99() * 1000.0)
            .fold(0.0, f64::max),
        failed_requests: seconds.iter().map(|s| s.failed).sum::<f64>().round() as u64,
        total_requests: seconds.iter().map(|s| s.offered).sum::<f64>().round() as u64,
        scale_outs: changes
            .iter()
            .filter(|c| scalers::action(c) == Action::ScaleOut)
            .count() as u32,
        scale_ins: changes.iter().filter(|c| scalers::action(c) == Action::ScaleIn).count() as u32,
        first_scale_out_after_step_s: step.and_then(|at| {
            changes
                .iter()
                .find(|c| c.at >= at && scalers::action(c) == Action::ScaleOut)
                .map(|c| c.at - at)
        }),
        max_tasks: seconds.iter().map(|s| s.healthy + s.provisioning).max().unwrap_or(0),
        mean_cpu: if cpu.is_empty() {
            0.0
        } else {
            cpu.iter().sum::<f64>() / cpu.len() as f64
        },
        reversed_scale_ins: reversals(changes),
        tasks_launched: seconds.iter().map(|s| s.launched).sum(),
        knee: None,
    }
}

fn reversals(changes: &[Change]) -> u32 {
    changes
        .iter()
        .enumerate()
        .filter(|(_, c)| scalers::action(c) == Action::ScaleIn)
        .filter(|(i, c)| {
            changes[i + 1..]
                .iter()
                .take_while(|n| n.at <= c.at + autoscaler_core::decide::REVERSAL_WINDOW.as_secs())
                .any(|n| scalers::action(n) == Action::ScaleOut)
        })
        .count() as u32
}

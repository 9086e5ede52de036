//! A validated policy: every value has been checked, every default filled in.
//! The decision core only ever sees this type, never the raw file.

use std::collections::BTreeMap;
use std::time::Duration;

use croner::Cron;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub name: String,
    pub target: Target,
    pub min: u32,
    pub max: u32,
    #[serde(serialize_with = "super::duration::serialize")]
    pub interval: Duration,
    pub dry_run: bool,
    /// Suspend AWS's own scaling of the service while in force (aws targets).
    pub takeover: bool,
    /// Tasks kept above what the metrics ask for (N+1).
    pub spare: u32,
    pub scale_out: ScaleOut,
    pub scale_in: ScaleIn,
    pub missing_data: MissingData,
    pub rules: Vec<Rule>,
    pub schedules: Vec<Schedule>,
    /// Predictive pre-scaling; None: off.
    pub predict: Option<Predict>,
}

// Which world a target lives in, and so which backend scales it: the one name for it
// everywhere (policy files, settings, the status API). A plain comment: the JSON Schema
// takes doc comments as descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An ECS service, through CloudWatch and the ECS API.
    Aws,
    /// A pool of search-service processes on this machine.
    Local,
    /// A simulated service (backtesting).
    Sim,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Aws, Backend::Local, Backend::Sim];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Aws => "aws",
            Backend::Local => "local",
            Backend::Sim => "sim",
        }
    }

    /// Whether this backend can scale `target`. The simulator models any target; the
    /// others scale only their own kind.
    pub fn serves(self, target: &Target) -> bool {
        self == Backend::Sim || target.backend() == self
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend \"{s}\": use aws, local or sim"))
    }
}

/// What a policy scales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum Target {
    Aws {
        cluster: String,
        service: String,
        region: Option<String>,
        target_group: Option<String>,
        load_balancer: Option<String>,
    },
    Local {
        pool: String,
    },
    Sim {
        service: String,
    },
}

impl Target {
    pub fn backend(&self) -> Backend {
        match self {
            Target::Aws { .. } => Backend::Aws,
            Target::Local { .. } => Backend::Local,
            Target::Sim { .. } => Backend::Sim,
        }
    }

    /// Identifies the scaled thing across files, names and restarts: history is kept
    /// under it, and two policies may not share it.
    pub fn key(&self) -> String {
        match self {
            Target::Aws {
                cluster,
                service,
                region,
                ..
            } => format!("aws/{}/{cluster}/{service}", region.as_deref().unwrap_or("-")),
            Target::Local { pool } => format!("local/{pool}"),
            Target::Sim { service } => format!("sim/{service}"),
        }
    }

    /// Whether two targets scale the same thing: the same backend and service (or pool),
    /// where a target without a region is in the daemon's region, whichever it is.
    pub fn overlaps(&self, other: &Target) -> bool {
        match (self, other) {
            (
                Target::Aws {
                    cluster: c1,
                    service: s1,
                    region: r1,
                    ..
                },
                Target::Aws {
                    cluster: c2,
                    service: s2,
                    region: r2,
                    ..
                },
            ) => c1 == c2 && s1 == s2 && (r1.is_none() || r2.is_none() || r1 == r2),
            (Target::Local { pool: a }, Target::Local { pool: b }) => a == b,
            (Target::Sim { service: a }, Target::Sim { service: b }) => a == b,
            _ => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Target::Aws { cluster, service, .. } => format!("aws {cluster}/{service}"),
            Target::Local { pool } => format!("local pool {pool}"),
            Target::Sim { service } => format!("sim {service}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleOut {
    #[serde(serialize_with = "super::duration::serialize")]
    pub cooldown: Duration,
    pub max_step: Option<StepLimit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleIn {
    pub enabled: bool,
    #[serde(serialize_with = "super::duration::serialize")]
    pub cooldown: Duration,
    #[serde(serialize_with = "super::duration::serialize")]
    pub stabilization: Duration,
    /// The stabilization window for an hour after a scale-in was reversed.
    #[serde(serialize_with = "super::duration::serialize")]
    pub patience: Duration,
    pub max_step: Option<StepLimit>,
}

/// The largest change one decision may make.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepLimit {
    Count(u32),
    /// Percent of the current desired count; always at least one task.
    Percent(f64),
}

impl std::fmt::Display for StepLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepLimit::Count(n) => write!(f, "{n} task(s)"),
            StepLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl StepLimit {
    /// Tasks this limit allows to add or remove from `current`.
    pub fn allowance(self, current: u32) -> u32 {
        match self {
            StepLimit::Count(n) => n,
            StepLimit::Percent(p) => ((f64::from(current) * p / 100.0).floor() as u32).max(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingData {
    pub action: MissingAction,
    /// How long every rule must have been without data before the action applies.
    #[serde(serialize_with = "super::duration::serialize")]
    pub after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "count")]
pub enum MissingAction {
    /// Keep the current count (never scale in on missing data).
    Hold,
    /// Raise the count to at least this many tasks; never lowers it.
    Fallback(u32),
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub name: String,
    pub metric: Metric,
    pub statistic: Statistic,
    #[serde(serialize_with = "super::duration::serialize")]
    pub period: Duration,
    /// A datapoint older than this (from the start of its period) is stale.
    #[serde(serialize_with = "super::duration::serialize")]
    pub max_age: Duration,
    pub goal: Goal,
    /// What the value measures, whichever metric carries it: how the simulator and the
    /// local backend produce it.
    pub measures: Measure,
    /// A demand target learned from the service's datapoints (request_rate rules).
    pub learn: Option<Learn>,
    /// With `math`, the series read instead of `metric` (which is then the first of them),
    /// each under the key [`Rule::read_key`].
    pub operands: Vec<Operand>,
    pub math: Option<Math>,
}

/// One CloudWatch series a rule with metric math reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operand {
    pub name: String,
    /// [`Rule::read_key`] of the rule and this operand.
    pub key: String,
    pub metric: Metric,
    pub statistic: Statistic,
    /// What it measures, when the simulator can produce it ([`Measure::of_cloudwatch`]).
    pub measures: Measure,
}

/// How a rule's value is computed from its operands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Math {
    /// `expression`, over the operands by name.
    Expression {
        text: String,
        #[serde(skip)]
        parsed: super::expression::Expr,
    },
    /// A queue's work within the acceptable wait: the messages visible (operand
    /// `visible`) and those arriving meanwhile (`sent`, per second, × `wait` seconds).
    QueueWork { wait: f64 },
}

/// One series a backend reads for a rule: the key its sample goes under, and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Read<'a> {
    pub key: &'a str,
    pub metric: &'a Metric,
    pub statistic: Statistic,
    pub measures: Measure,
}

impl Rule {
    /// The key an operand's sample goes under in an observation: `<rule>.<operand>`.
    pub fn read_key(rule: &str, operand: &str) -> String {
        format!("{rule}.{operand}")
    }

    /// The series a backend reads for this rule: its own metric, or with metric math each
    /// operand.
    pub fn reads(&self) -> Vec<Read<'_>> {
        if self.math.is_none() {
            return vec![Read {
                key: &self.name,
                metric: &self.metric,
                statistic: self.statistic,
                measures: self.measures,
            }];
        }
        self.operands
            .iter()
            .map(|o| Read {
                key: &o.key,
                metric: &o.metric,
                statistic: o.statistic,
                measures: o.measures,
            })
            .collect()
    }

    /// What the simulator and the local backend produce for this rule, or why they cannot:
    /// a metric only CloudWatch knows the meaning of has no model.
    pub fn modelled(&self) -> Result<Measure, String> {
        for o in self.operands.iter().filter(|o| o.measures == Measure::Other) {
            if let Metric::Custom { namespace, name, .. } = &o.metric {
                return Err(format!(
                    "metric \"{}\" ({namespace}/{name}) exists only in CloudWatch: the simulator and the local backend cannot produce it",
                    o.name
                ));
            }
        }
        if self.math.is_some() {
            return Ok(self.measures);
        }
        match (self.measures, &self.metric) {
            (Measure::Other, Metric::Custom { namespace, name, .. }) => Err(format!(
                "custom metric {namespace}/{name} exists only in CloudWatch: the simulator and the local backend cannot produce it"
            )),
            (Measure::Other, m) => Err(format!("{m:?} exists only in CloudWatch")),
            (m, _) => Ok(m),
        }
    }
}

/// How a request_rate rule learns its target: the per-task rate at which the latency
/// rule `from` reaches its SLO, times `share`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Learn {
    pub from: String,
    pub share: f64,
}

/// The quantity behind a rule, fixed when the policy is validated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Measure {
    /// Average CPU % of the service's tasks.
    Cpu,
    /// Average memory % of the service's tasks.
    Memory,
    /// Requests per target in one period (ALB RequestCountPerTarget).
    RequestsPerTarget,
    /// Requests arriving per task per second.
    RequestRate,
    /// Failed requests per task per second.
    ErrorRate,
    /// A response-time quantile (0..1), in seconds.
    Latency { quantile: f64 },
    /// Messages waiting in a queue, per running task (the rule divides the queue's total).
    QueueBacklog,
    /// Messages arriving in a queue per second, the whole queue's.
    QueueArrivals,
    /// A metric only CloudWatch knows the meaning of.
    Other,
}

impl Measure {
    /// A value of this measure as people read it, with its unit: "150 ms", "70.0 %",
    /// "1400 req/s per task". The status page and the reports show values this way.
    /// The unit values are charted in, and the factor from the measured value to it
    /// (latencies are measured in seconds and read in milliseconds).
    pub fn unit(self) -> (&'static str, f64) {
        match self {
            Measure::Latency { .. } => ("ms", 1000.0),
            Measure::Cpu | Measure::Memory => ("%", 1.0),
            Measure::RequestRate => ("req/s per task", 1.0),
            Measure::ErrorRate => ("failed/s per task", 1.0),
            Measure::RequestsPerTarget => ("requests per target", 1.0),
            Measure::QueueBacklog => ("messages per task", 1.0),
            Measure::QueueArrivals => ("messages/s", 1.0),
            Measure::Other => ("", 1.0),
        }
    }

    /// What a CloudWatch metric measures, for the ones the simulator produces: ECS's CPU
    /// and memory, the ALB's requests per target and response-time percentiles, an SQS
    /// queue's visible messages and (summed) arrivals. Other for any other.
    pub fn of_cloudwatch(namespace: &str, name: &str, statistic: Statistic) -> Measure {
        match (namespace, name, statistic) {
            ("AWS/ECS", "CPUUtilization", _) => Measure::Cpu,
            ("AWS/ECS", "MemoryUtilization", _) => Measure::Memory,
            ("AWS/ApplicationELB", "RequestCountPerTarget", _) => Measure::RequestsPerTarget,
            ("AWS/ApplicationELB", "TargetResponseTime", Statistic::Percentile(p)) => {
                Measure::Latency { quantile: p / 100.0 }
            }
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", _) => Measure::QueueBacklog,
            ("AWS/SQS", "NumberOfMessagesSent", Statistic::Sum) => Measure::QueueArrivals,
            _ => Measure::Other,
        }
    }

    pub fn show(self, value: f64) -> String {
        match self {
            Measure::Latency { .. } if value * 1000.0 < 10.0 => format!("{:.1} ms", value * 1000.0),
            Measure::Latency { .. } => format!("{:.0} ms", value * 1000.0),
            Measure::Cpu | Measure::Memory => format!("{value:.1} %"),
            Measure::RequestRate => format!("{value:.0} req/s per task"),
            Measure::ErrorRate => format!("{value:.2} failed/s per task"),
            Measure::RequestsPerTarget => format!("{value:.0} requests per target"),
            Measure::QueueBacklog => format!("{value:.1} messages per task"),
            Measure::QueueArrivals => format!("{value:.1} messages/s"),
            Measure::Other => format!("{value:.3}"),
        }
    }
}

/// Where a rule's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Metric {
    EcsCpu,
    EcsMemory,
    AlbRequestsPerTarget,
    /// ALB `TargetResponseTime` (seconds).
    AlbResponseTime,
    Custom {
        namespace: String,
        name: String,
        dimensions: BTreeMap<String, String>,
        /// Multiplier that turns the metric's unit into the rule's unit (seconds for latency).
        scale: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    Average,
    Sum,
    Maximum,
    Minimum,
    SampleCount,
    /// A percentile such as 99.0 for p99.
    Percentile(f64),
}

impl Statistic {
    /// CloudWatch's spelling of the statistic.
    pub fn cloudwatch_name(self) -> String {
        match self {
            Statistic::Average => "Average".into(),
            Statistic::Sum => "Sum".into(),
            Statistic::Maximum => "Maximum".into(),
            Statistic::Minimum => "Minimum".into(),
            Statistic::SampleCount => "SampleCount".into(),
            Statistic::Percentile(p) => format!("p{}", trim_float(p)),
        }
    }
}

fn trim_float(p: f64) -> String {
    let s = format!("{p}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// How a rule turns its value into a vote.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Goal {
    /// Proportional control towards `target` (CPU %, requests per target, ...).
    Track { target: f64, tolerance: f64 },
    /// Latency SLO guard: above `target` (seconds) scale out by at most `max_factor`;
    /// between `scale_in_headroom × target` and `target` veto scale-in.
    LatencyGuard {
        target: f64,
        scale_in_headroom: f64,
        max_factor: f64,
    },
    /// Failed-request guard: above `target` (per task per second) add one task; any
    /// failures veto scale-in.
    ErrorGuard { target: f64 },
}

impl Goal {
    pub fn target(&self) -> f64 {
        match *self {
            Goal::Track { target, .. } | Goal::LatencyGuard { target, .. } | Goal::ErrorGuard { target } => target,
        }
    }
}

/// A cron window that changes the bounds while it is open.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub name: String,
    pub cron: String,
    #[serde(skip)]
    pub parsed: Cron,
    #[serde(serialize_with = "super::duration::serialize")]
    pub duration: Duration,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

impl Schedule {
    /// The expression with an explicit seconds field, as tokio-cron-scheduler requires.
    pub fn with_seconds(&self) -> String {
        if self.cron.split_whitespace().count() == 5 {
            format!("0 {}", self.cron)
        } else {
            self.cron.clone()
        }
    }
}

/// What prediction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PredictMode {
    /// Nothing is forecast.
    Off,
    /// Forecast, journal and show the floor it would set; change nothing.
    ForecastOnly,
    /// Raise the count to the floor ahead of forecast load, and keep tasks the forecast
    /// needs again soon.
    Scale,
}

/// How far ahead a floor looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lead {
    /// The service's start-up time as this policy has measured it (p90 of desired change
    /// to running), [`Predict::DEFAULT_LEAD`] until it has.
    Auto,
    #[serde(serialize_with = "super::duration::serialize")]
    Fixed(Duration),
}

/// Predictive pre-scaling: a floor from forecast demand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Predict {
    pub mode: PredictMode,
    /// The rule whose load is forecast: total load = its per-task value × tasks, and the
    /// floor is the forecast peak ÷ its target.
    pub rule: String,
    /// History kept and used.
    #[serde(serialize_with = "super::duration::serialize")]
    pub history: Duration,
    pub lead: Lead,
    /// No floor while the backtest's p90 error at the lead exceeds this.
    pub max_error: f64,
    /// The floor is at most this many tasks above the reactive count, and at most this
    /// share above it (0.5: 50 % more). Neither by default: a recurring 5x step needs 5x,
    /// and the backtest and the retraction guard against a wrong forecast.
    pub max_tasks_above: Option<u32>,
    pub max_share_above: Option<f64>,
    /// While a floor applies from a forecast whose backtest p90 error is within 10 %,
    /// learning rules aim at this share of the knee instead of their `learned_share`:
    /// the forecast, not headroom, covers the recurring rises. None: off.
    pub confident_share: Option<f64>,
}

impl Predict {
    pub const DEFAULT_LEAD: Duration = Duration::from_secs(120);
    pub const DEFAULT_HISTORY: Duration = Duration::from_secs(14 * 86_400);
    pub const MIN_HISTORY: Duration = Duration::from_secs(86_400);
    pub const MAX_HISTORY: Duration = Duration::from_secs(28 * 86_400);
    pub const DEFAULT_MAX_ERROR: f64 = 0.25;

    /// Minutes of history kept.
    pub fn minutes(&self) -> usize {
        (self.history.as_secs() / 60) as usize
    }
}

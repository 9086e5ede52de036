//! The policy file format exactly as written: every value keeps its location so that
//! validation can point at it. The JSON Schema shipped for editors is derived from here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;

pub use super::model::Backend;

/// A value together with where it was written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Located<T>(pub serde_spanned::Spanned<T>);

impl<T> Located<T> {
    pub fn get(&self) -> &T {
        self.0.get_ref()
    }
    pub fn span(&self) -> Range<usize> {
        self.0.span()
    }
}

// The location is an artefact of parsing; editors should see the plain value's schema.
impl<T: JsonSchema> JsonSchema for Located<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// An ecs-autoscaler policy: how one service is kept at the right size.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ecs-autoscaler policy")]
pub struct PolicyFile {
    /// Policy name; defaults to the file name without its extension.
    pub name: Option<Located<String>>,
    /// What this policy scales.
    pub target: Located<TargetFile>,
    /// Fewest tasks, enforced always (schedules may raise it for a window).
    #[schemars(range(min = 0))]
    pub min: Located<i64>,
    /// Most tasks, enforced always.
    #[schemars(range(min = 1))]
    pub max: Located<i64>,
    /// How often the policy is evaluated, e.g. "15s". Default "15s".
    pub interval: Option<Located<String>>,
    /// Compute and record every decision but change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// aws targets: suspend Application Auto Scaling's own scaling of the service while this
    /// policy is in force, and give it back as it was when the policy goes or this turns
    /// false. Without it the policy changes nothing while any of AWS's scaling is active.
    /// Default false.
    pub takeover: Option<Located<bool>>,
    /// Tasks to keep above what the metrics ask for (N+1). Default 0.
    #[schemars(range(min = 0))]
    pub spare: Option<Located<i64>>,
    pub scale_out: Option<Located<ScaleOutFile>>,
    pub scale_in: Option<Located<ScaleInFile>>,
    pub missing_data: Option<Located<MissingDataFile>>,
    /// Target-tracking rules; at least one.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Located<RuleFile>>,
    /// Cron windows that change min/max.
    #[serde(default, rename = "schedule")]
    pub schedules: Vec<Located<ScheduleFile>>,
    /// Predictive pre-scaling from forecast demand.
    pub predict: Option<Located<PredictFile>>,
}

/// `backend = "aws"` needs `cluster` and `service`; `local` needs `pool`; `sim` needs `service`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub backend: Located<Backend>,
    /// ECS cluster name (aws).
    pub cluster: Option<Located<String>>,
    /// ECS service name (aws) or simulated service name (sim).
    pub service: Option<Located<String>>,
    /// AWS region (aws); defaults to the standard AWS configuration chain.
    pub region: Option<Located<String>>,
    /// ALB target group, as in CloudWatch's TargetGroup dimension (aws; needed by ALB rules),
    /// e.g. "targetgroup/search/0123456789abcdef".
    pub target_group: Option<Located<String>>,
    /// ALB, as in CloudWatch's LoadBalancer dimension (aws; needed by ALB latency rules),
    /// e.g. "app/search/0123456789abcdef".
    pub load_balancer: Option<Located<String>>,
    /// Replica pool name (local).
    pub pool: Option<Located<String>>,
}

/// A step limit: a task count (2) or a percentage of the current count ("50%").
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StepFile {
    Count(i64),
    Percent(#[schemars(regex(pattern = r"^\s*[0-9]+(\.[0-9]+)?\s*%\s*$"))] String),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleOutFile {
    /// Time after a scale-out before the next one. Default "60s".
    pub cooldown: Option<Located<String>>,
    /// Most tasks added by one decision: a count or "100%". Default: no limit.
    pub max_step: Option<Located<StepFile>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleInFile {
    /// Set to false to never scale in. Default true.
    pub enabled: Option<bool>,
    /// Time after a scale-in before the next one. Default "300s".
    pub cooldown: Option<Located<String>>,
    /// Scale in only to the highest recommendation seen in this window. Default "300s".
    pub stabilization: Option<Located<String>>,
    /// After a scale-in had to be undone (a scale-out within 5 minutes), scale-ins use this
    /// longer window instead, for an hour: load that came back once is expected back.
    /// Default: the stabilization window (no change).
    pub patience: Option<Located<String>>,
    /// Most tasks removed by one decision: a count or "50%". Default: no limit.
    pub max_step: Option<Located<StepFile>>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MissingActionFile {
    /// Keep the current count.
    Hold,
    /// Raise the count to at least `fallback_count`.
    Fallback,
}

/// What to do when every rule has been without data for a while. Missing data never causes a scale-in.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MissingDataFile {
    /// "hold" (default) or "fallback".
    pub action: Option<Located<MissingActionFile>>,
    /// With action = "fallback": the count to raise to.
    pub fallback_count: Option<Located<i64>>,
    /// How long all rules must have been without data. Default "5m".
    pub after: Option<Located<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// AWS/ECS CPUUtilization of the service (percent).
    EcsCpu,
    /// AWS/ECS MemoryUtilization of the service (percent).
    EcsMemory,
    /// AWS/ApplicationELB RequestCountPerTarget (requests per target per period).
    AlbRequestsPerTarget,
    /// A latency percentile, guarded as an SLO.
    Latency,
    /// Requests arriving per task per second, from the service's own count (a custom
    /// metric: namespace, metric_name, dimensions; a count per period and task, such as
    /// the search service's EMF ArrivalCount). A leading signal: it rises with the load,
    /// before CPU or latency saturate, and keeps rising past saturation.
    RequestRate,
    /// Failed requests per task per second, from the service's own count (a custom metric
    /// like request_rate, such as the search service's EMF ErrorCount: 5xx, shed requests
    /// included). A guard: above the target it scales out one task at a time; any error
    /// vetoes scale-in. It sees a fleet that serves nothing, where latency has no data.
    ErrorRate,
    /// Any CloudWatch metric, tracked proportionally.
    Custom,
    /// Messages waiting in an SQS queue (`AWS/SQS` ApproximateNumberOfMessagesVisible) per
    /// running task, against an acceptable backlog per task: `target`, or derived from
    /// `acceptable_latency` × `processing_rate`. For services that work a queue.
    QueueBacklog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LatencySource {
    /// ALB TargetResponseTime with a percentile statistic.
    Alb,
    /// A custom metric, such as the search service's EMF LatencyP99.
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnitFile {
    Seconds,
    Milliseconds,
    Microseconds,
}

/// A rule's target: a number, or for latency rules a duration such as "150ms".
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TargetValue {
    Number(f64),
    Text(String),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Unique within the policy.
    pub name: Located<String>,
    pub metric: Located<MetricKind>,
    /// Target value: a number, or a duration such as "150ms" for latency. A
    /// queue_backlog rule may derive it instead (`acceptable_latency`, `processing_rate`).
    pub target: Option<Located<TargetValue>>,
    /// Utilization rules: no change while |value/target - 1| <= tolerance. Default 0.1.
    pub tolerance: Option<Located<f64>>,
    /// average, sum, maximum, minimum, sample_count or a percentile such as p99.
    pub statistic: Option<Located<String>>,
    /// CloudWatch period: 1, 5, 10, 30 seconds or a multiple of 60. Default "60s".
    pub period: Option<Located<String>>,
    /// Datapoints older than this count as missing. Default 3 periods plus 60s.
    pub max_age: Option<Located<String>>,
    /// Latency rules: the percentile guarded, e.g. "p99" (default).
    pub percentile: Option<Located<String>>,
    /// Latency rules: below this fraction of the target scale-in is allowed. Default 0.7.
    pub scale_in_headroom: Option<Located<f64>>,
    /// Latency rules: the most one scale-out may multiply the running count by. Default 2.
    pub max_scale_out_factor: Option<Located<f64>>,
    /// Latency rules: "alb" (default) or "custom".
    pub source: Option<Located<LatencySource>>,
    /// Custom metrics: CloudWatch namespace.
    pub namespace: Option<Located<String>>,
    /// Custom metrics: CloudWatch metric name.
    pub metric_name: Option<Located<String>>,
    /// Custom metrics: CloudWatch dimensions.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Custom latency metrics: the metric's unit. Default "milliseconds".
    pub unit: Option<Located<UnitFile>>,
    /// request_rate and error_rate: how long each published count covers (one task's
    /// record), whatever the period read. Default "10s", the search service's EMF window.
    pub count_window: Option<Located<String>>,
    /// request_rate rules: the latency rule whose SLO the demand target is learned
    /// against. `target` is then the starting point; from the service's own datapoints
    /// the target becomes `learned_share` × the per-task rate at which that rule's SLO
    /// broke (or the highest rate seen within it).
    pub learn_from: Option<Located<String>>,
    /// request_rate rules with `learn_from`: the share of the learned rate to aim for. Default 0.7.
    pub learned_share: Option<Located<f64>>,
    /// queue_backlog rules: the SQS queue's name.
    pub queue: Option<Located<String>>,
    /// queue_backlog rules without `target`: how long a message may wait, e.g. "2m".
    pub acceptable_latency: Option<Located<String>>,
    /// queue_backlog rules without `target`: messages one task processes per second.
    /// The acceptable backlog per task is `acceptable_latency` × this.
    pub processing_rate: Option<Located<f64>>,
    /// Custom rules: metric math over `metrics` by name, e.g. "errors / requests * 100",
    /// evaluated by the daemon from the datapoints it reads.
    pub expression: Option<Located<String>>,
    /// Custom rules with `expression`: the CloudWatch metrics it names.
    #[serde(default)]
    pub metrics: BTreeMap<String, OperandFile>,
}

/// One metric a custom rule's `expression` names.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperandFile {
    pub namespace: Located<String>,
    pub metric_name: Located<String>,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// average (default), sum, maximum, minimum, sample_count or a percentile such as p99.
    pub statistic: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    pub name: Located<String>,
    /// When the window opens: cron with optional seconds, e.g. "0 8 * * Mon-Fri" (UTC).
    pub cron: Located<String>,
    /// How long the window stays open, e.g. "10h".
    pub duration: Located<String>,
    /// Min while the window is open.
    #[schemars(range(min = 0))]
    pub min: Option<Located<i64>>,
    /// Max while the window is open.
    #[schemars(range(min = 1))]
    pub max: Option<Located<i64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictFile {
    /// "off", "forecast_only" (forecast, journal and show; change nothing) or "scale".
    /// Default "forecast_only".
    pub mode: Option<Located<super::model::PredictMode>>,
    /// The rule whose load is forecast (a utilization or request_rate rule). Default: the
    /// first request_rate rule, else the first utilization rule.
    pub rule: Option<Located<String>>,
    /// History kept and used, "1d" to "28d". Default "14d".
    pub history: Option<Located<String>>,
    /// How far ahead the floor looks: "auto" (the measured start-up time) or a duration
    /// such as "90s". Default "auto".
    pub lead: Option<Located<String>>,
    /// No floor while the backtest's p90 error exceeds this share, in (0, 1]. Default 0.25.
    pub max_error: Option<Located<f64>>,
    /// The floor is at most this many tasks above the reactive count. Default: no limit.
    #[schemars(range(min = 1))]
    pub max_tasks_above: Option<Located<i64>>,
    /// The floor is at most this share above the reactive count, > 0 (0.5: half as many
    /// again). Default: no limit.
    pub max_share_above: Option<Located<f64>>,
    /// While a floor applies from a forecast whose backtest p90 error is within 10 %,
    /// learning rules aim at this share of the knee, in (0, 1). Default: off.
    pub confident_share: Option<Located<f64>>,
}

/// The JSON Schema of policy files, as shipped in `policies/policy.schema.json`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PolicyFile)).unwrap_or_default()
}

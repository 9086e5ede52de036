//! A scenario file as written; `parse.rs` checks it into the model.

use autoscaler_core::policy::file::Located;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    pub duration: Located<String>,
    #[serde(default)]
    pub seed: u64,
    pub start: Option<Located<String>>,
    pub slo_p99: Option<Located<String>>,
    pub load_step_at: Option<Located<String>>,
    /// Seconds before this are history: simulated, not scored.
    pub score_from: Option<Located<String>>,
    pub service: ServiceFile,
    #[serde(default)]
    pub cloudwatch: CloudWatchFile,
    pub traffic: Located<TrafficFile>,
    #[serde(default, rename = "failure")]
    pub failures: Vec<FailureFile>,
    #[serde(default, rename = "fault")]
    pub faults: Vec<Located<FaultFile>>,
    #[serde(default, rename = "deploy")]
    pub deploys: Vec<Located<DeployFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployFile {
    pub at: Located<String>,
    /// What a task of the new revision serves, as a share of the old: 0.7 is 30 % slower.
    pub capacity: Located<f64>,
    pub rollout: Option<Located<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    pub initial_tasks: Located<u32>,
    pub capacity_rps: Located<f64>,
    #[serde(default = "default_idle_cpu")]
    pub idle_cpu: f64,
    #[serde(default = "default_memory")]
    pub memory_percent: f64,
    pub base_latency: Option<Located<String>>,
    pub startup: Option<Located<String>>,
    pub startup_jitter: Option<Located<String>>,
    pub failure_detection: Option<Located<String>>,
    pub replacement_delay: Option<Located<String>>,
    pub request_timeout: Option<Located<String>>,
    #[serde(default)]
    pub capacity_spread: Option<Located<f64>>,
    /// A queue worker: the load is messages in one shared queue.
    #[serde(default)]
    pub queue: bool,
}

pub fn default_idle_cpu() -> f64 {
    15.0
}
pub fn default_memory() -> f64 {
    30.0
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchFile {
    pub standard_delay: Option<Located<String>>,
    pub high_resolution_delay: Option<Located<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum LoadKindFile {
    Users,
    Rate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficFile {
    pub kind: LoadKindFile,
    pub rtt: Option<Located<String>>,
    pub think_time: Option<Located<String>>,
    #[serde(default)]
    pub noise: f64,
    #[serde(default, rename = "phase")]
    pub phases: Vec<Located<PhaseFile>>,
    pub diurnal: Option<DiurnalFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseFile {
    pub at: Located<String>,
    pub users: Option<f64>,
    pub rate: Option<f64>,
    pub ramp: Option<Located<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiurnalFile {
    pub min: f64,
    pub max: f64,
    pub peak_at: Located<String>,
    pub period: Option<Located<String>>,
    pub weekend: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureFile {
    pub at: Located<String>,
    #[serde(default = "one")]
    pub tasks: u32,
    #[serde(default)]
    pub kind: FailureKindFile,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailureKindFile {
    #[default]
    Crash,
    Stop,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    pub kind: FaultKindFile,
    pub at: Located<String>,
    pub duration: Option<Located<String>>,
    pub delay: Option<Located<String>>,
    pub probability: Option<Located<f64>>,
    pub error: Option<String>,
    pub desired: Option<u32>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKindFile {
    CloudwatchOutage,
    LateDatapoints,
    MissingDatapoints,
    UpdateServiceFails,
    Deployment,
    FailedStarts,
    OtherWriter,
}

pub fn one() -> u32 {
    1
}

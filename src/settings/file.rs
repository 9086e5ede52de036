//! The settings as written: a TOML file and `ECS_AUTOSCALER_*` variables, before checking.

use std::path::PathBuf;

use autoscaler_core::policy::Backend;
use serde::Deserialize;

/// Where histories and journals are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// One file (`state_file`): one daemon.
    File,
    /// A DynamoDB table shared by several daemons, one of which leads under a lease.
    Dynamodb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for CloudWatch Logs.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    #[serde(default = "default_backend")]
    pub backend: Backend,
    #[serde(default = "default_policies_dir")]
    pub policies_dir: PathBuf,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Default: `ecs-autoscaler-{backend}-state.json`, one file per backend's clock.
    pub state_file: Option<PathBuf>,
    #[serde(default = "default_state_backend")]
    pub state_backend: StateBackend,
    #[serde(default)]
    pub dynamodb: RawDynamo,
    #[serde(default)]
    pub api_token: Option<String>,
    #[serde(default = "default_log_format")]
    pub log_format: LogFormat,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default = "default_rescan")]
    pub rescan_interval: String,
    #[serde(default = "default_journal")]
    pub journal_size: usize,
    #[serde(default)]
    pub heartbeat_name: Option<String>,
    /// How long a policy file written in place must be quiet before it is read.
    #[serde(default = "default_settle")]
    pub policy_settle: String,
    #[serde(default = "default_query_cap")]
    pub max_queries_per_round: usize,
    #[serde(default = "default_journal_in_memory")]
    pub journal_in_memory: usize,
    #[serde(default)]
    pub sim: RawSim,
    #[serde(default)]
    pub aws: RawAws,
    #[serde(default)]
    pub local: RawLocal,
    #[serde(default)]
    pub events: RawEvents,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvents {
    pub bus: Option<String>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocal {
    pub binary: Option<PathBuf>,
    pub port: Option<u16>,
    pub workers: Option<usize>,
    pub catalog_size: Option<usize>,
    pub search_cost: Option<String>,
    pub initial_replicas: Option<u32>,
    pub drain_deadline: Option<String>,
    pub migrate_requests: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub call_timeout: Option<String>,
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDynamo {
    pub table: Option<String>,
    pub name: Option<String>,
    pub lease_ttl: Option<String>,
    pub journal_ttl: Option<String>,
    pub instance_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSim {
    pub scenario: Option<PathBuf>,
    pub speed: Option<f64>,
}

fn default_backend() -> Backend {
    Backend::Sim
}
fn default_policies_dir() -> PathBuf {
    PathBuf::from("policies")
}
fn default_listen() -> String {
    "127.0.0.1:9090".into()
}
fn default_state_backend() -> StateBackend {
    StateBackend::File
}
fn default_log_format() -> LogFormat {
    LogFormat::Pretty
}
fn default_rescan() -> String {
    "30s".into()
}
fn default_journal() -> usize {
    200
}
fn default_settle() -> String {
    "1s".into()
}
fn default_query_cap() -> usize {
    4_000
}
fn default_journal_in_memory() -> usize {
    20_000
}

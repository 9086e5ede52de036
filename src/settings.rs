//! Daemon settings: a TOML file plus `ECS_AUTOSCALER_*` environment overrides, read with
//! the `config` crate and validated before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::policy::duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Aws,
    Local,
    Sim,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Aws => "aws",
            BackendKind::Local => "local",
            BackendKind::Sim => "sim",
        }
    }

    /// Whether this backend can scale `target`. The simulator models any target; the
    /// others scale only their own kind.
    pub fn serves(self, target: &crate::policy::Target) -> bool {
        self == BackendKind::Sim || target.backend() == self.name()
    }
}

/// Where histories and journals are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// One file (`state_file`): one daemon.
    File,
    /// A DynamoDB table shared by several daemons, one of which leads under a lease.
    Dynamodb,
}

/// The `dynamodb` state backend.
#[derive(Debug, Clone)]
pub struct DynamoSettings {
    pub table: String,
    /// Prefix of every item: deployments sharing a table keep apart by it.
    pub name: String,
    /// How long the leader's lease lasts unless renewed (every third of it).
    pub lease_ttl: Duration,
    /// How long journal entries stay in the table.
    pub journal_ttl: Duration,
    /// This daemon's name in the lease (default: host name and a random suffix).
    pub instance_id: String,
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
struct RawSettings {
    #[serde(default = "default_backend")]
    backend: BackendKind,
    #[serde(default = "default_policies_dir")]
    policies_dir: PathBuf,
    #[serde(default = "default_listen")]
    listen: String,
    /// Default: `ecs-autoscaler-{backend}-state.json`, one file per backend's clock.
    state_file: Option<PathBuf>,
    #[serde(default = "default_state_backend")]
    state_backend: StateBackend,
    #[serde(default)]
    dynamodb: RawDynamo,
    #[serde(default)]
    api_token: Option<String>,
    #[serde(default = "default_log_format")]
    log_format: LogFormat,
    #[serde(default)]
    dry_run: bool,
    #[serde(default = "default_rescan")]
    rescan_interval: String,
    #[serde(default = "default_journal")]
    journal_size: usize,
    #[serde(default)]
    heartbeat_name: Option<String>,
    #[serde(default)]
    sim: RawSim,
    #[serde(default)]
    aws: RawAws,
    #[serde(default)]
    local: RawLocal,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    binary: Option<PathBuf>,
    port: Option<u16>,
    workers: Option<usize>,
    catalog_size: Option<usize>,
    search_cost: Option<String>,
    initial_replicas: Option<u32>,
    drain_deadline: Option<String>,
    migrate_requests: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: Option<String>,
    endpoint_url: Option<String>,
    call_timeout: Option<String>,
    max_attempts: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDynamo {
    table: Option<String>,
    name: Option<String>,
    lease_ttl: Option<String>,
    journal_ttl: Option<String>,
    instance_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSim {
    scenario: Option<PathBuf>,
    speed: Option<f64>,
}

fn default_backend() -> BackendKind {
    BackendKind::Sim
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

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: BackendKind,
    pub policies_dir: PathBuf,
    pub listen: SocketAddr,
    pub state_file: PathBuf,
    pub state_backend: StateBackend,
    /// Set when `state_backend` is `dynamodb`.
    pub dynamodb: Option<DynamoSettings>,
    /// Bearer token for mutating endpoints; they are disabled without one.
    pub api_token: Option<String>,
    pub log_format: LogFormat,
    /// Forces every policy into dry-run mode.
    pub dry_run: bool,
    /// Re-scan of the policies directory, for volumes where inotify sees nothing.
    pub rescan_interval: Duration,
    /// Decisions kept per policy for the API and the state file.
    pub journal_size: usize,
    /// When set, one CloudWatch EMF record per round on stdout (namespace ECSAutoscaler,
    /// dimension Autoscaler = this name), for alarms on a daemon that stopped deciding.
    pub heartbeat_name: Option<String>,
    /// `sim` backend: the scenario (default: the embedded original experiment).
    pub sim_scenario: Option<PathBuf>,
    /// `sim` backend: virtual seconds per real second.
    pub sim_speed: f64,
    /// `aws` backend: region, endpoint override, timeouts and retries.
    pub aws: AwsSettings,
    /// `local` backend: how replicas run.
    pub local: crate::backend::local::LocalSettings,
}

/// Environment variables that override the file (nested keys use `__`).
pub const ENV_PREFIX: &str = "ECS_AUTOSCALER";

#[derive(Debug, thiserror::Error)]
#[error("settings: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Reads `file` (if given; it must exist) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_with_env(file, None)
    }

    /// As [`Settings::load`], with an explicit environment instead of the process's.
    pub fn load_with_env(
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(f) = file {
            builder = builder.add_source(config::File::from(f).format(config::FileFormat::Toml).required(true));
        }
        // try_parsing turns "0123" into the number 123; names and secrets are taken verbatim.
        let verbatim = |key: &str| {
            let var = format!("{ENV_PREFIX}_{key}");
            match &env {
                Some(map) => map.get(&var).cloned(),
                None => std::env::var(&var).ok(),
            }
        };
        let (token, heartbeat) = (verbatim("API_TOKEN"), verbatim("HEARTBEAT_NAME"));
        let environment = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .source(env);
        let mut raw: RawSettings = builder
            .add_source(environment)
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| SettingsError(e.to_string()))?;
        raw.api_token = token.or(raw.api_token);
        raw.heartbeat_name = heartbeat.or(raw.heartbeat_name);
        Self::validate(raw)
    }

    fn validate(raw: RawSettings) -> Result<Self, SettingsError> {
        let listen: SocketAddr = raw.listen.parse().map_err(|e| {
            SettingsError(format!(
                "listen \"{}\" is not an address such as 127.0.0.1:9090 ({e})",
                raw.listen
            ))
        })?;
        let rescan_interval =
            duration::parse(&raw.rescan_interval).map_err(|e| SettingsError(format!("rescan_interval: {e}")))?;
        if rescan_interval < Duration::from_secs(1) {
            return Err(SettingsError("rescan_interval must be at least 1s".into()));
        }
        if raw.journal_size == 0 || raw.journal_size > 100_000 {
            return Err(SettingsError(format!(
                "journal_size must be 1..=100000, found {}",
                raw.journal_size
            )));
        }
        let policies = raw.policies_dir.to_string_lossy();
        if policies.starts_with("s3://") && crate::daemon::source::parse_s3(&policies).is_none() {
            return Err(SettingsError(format!(
                "policies_dir \"{policies}\" must be a directory or s3://BUCKET/PREFIX/"
            )));
        }
        let api_token = raw.api_token.filter(|t| !t.trim().is_empty());
        if let Some(t) = &api_token
            && t.len() < 16
        {
            return Err(SettingsError("api_token must be at least 16 characters".into()));
        }
        let sim_speed = raw.sim.speed.unwrap_or(1.0);
        if !(sim_speed.is_finite() && sim_speed > 0.0 && sim_speed <= 100_000.0) {
            return Err(SettingsError(format!(
                "sim.speed must be in (0, 100000], found {sim_speed}"
            )));
        }
        let mut aws = AwsSettings {
            region: raw.aws.region.filter(|r| !r.trim().is_empty()),
            endpoint_url: raw.aws.endpoint_url.filter(|e| !e.trim().is_empty()),
            ..Default::default()
        };
        if let Some(t) = &raw.aws.call_timeout {
            aws.call_timeout = duration::parse(t).map_err(|e| SettingsError(format!("aws.call_timeout: {e}")))?;
        }
        if let Some(n) = raw.aws.max_attempts {
            if !(1..=10).contains(&n) {
                return Err(SettingsError(format!("aws.max_attempts must be 1..=10, found {n}")));
            }
            aws.max_attempts = n;
        }
        if let Some(e) = &aws.endpoint_url
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(SettingsError(format!(
                "aws.endpoint_url \"{e}\" must start with http:// or https://"
            )));
        }
        let dynamodb = match raw.state_backend {
            StateBackend::File => None,
            StateBackend::Dynamodb => Some(dynamo_settings(raw.dynamodb)?),
        };
        if !cfg!(feature = "aws") {
            let needs = [
                (raw.backend == BackendKind::Aws, "backend \"aws\""),
                (dynamodb.is_some(), "state_backend \"dynamodb\""),
                (
                    raw.policies_dir.to_string_lossy().starts_with("s3://"),
                    "policies_dir in S3",
                ),
            ];
            if let Some((_, what)) = needs.iter().find(|(needed, _)| *needed) {
                return Err(SettingsError(format!(
                    "{what} needs the AWS SDK, and this binary was built without it (--no-default-features): build it with the default features"
                )));
            }
        }
        let mut local = crate::backend::local::LocalSettings::default();
        let l = raw.local;
        local.binary = l.binary;
        if let Some(p) = l.port {
            if p == 0 {
                return Err(SettingsError("local.port must be a fixed port, not 0".into()));
            }
            local.port = p;
        }
        if let Some(w) = l.workers {
            if !(1..=64).contains(&w) {
                return Err(SettingsError(format!("local.workers must be 1..=64, found {w}")));
            }
            local.workers = w;
        }
        if let Some(c) = l.catalog_size {
            local.catalog_size = c;
        }
        if let Some(c) = &l.search_cost {
            local.search_cost = duration::parse(c)
                .or_else(|e| if c.trim() == "0" { Ok(Duration::ZERO) } else { Err(e) })
                .map_err(|e| SettingsError(format!("local.search_cost: {e}")))?;
        }
        if let Some(n) = l.initial_replicas {
            local.initial_replicas = n;
        }
        if let Some(d) = &l.drain_deadline {
            local.drain_deadline =
                duration::parse(d).map_err(|e| SettingsError(format!("local.drain_deadline: {e}")))?;
        }
        if let Some(m) = l.migrate_requests {
            local.migrate_requests = m;
        }
        Ok(Settings {
            local,
            aws,
            backend: raw.backend,
            policies_dir: raw.policies_dir,
            listen,
            state_file: raw
                .state_file
                .unwrap_or_else(|| PathBuf::from(format!("ecs-autoscaler-{}-state.json", raw.backend.name()))),
            state_backend: raw.state_backend,
            dynamodb,
            api_token,
            log_format: raw.log_format,
            dry_run: raw.dry_run,
            rescan_interval,
            journal_size: raw.journal_size,
            heartbeat_name: raw.heartbeat_name.filter(|n| !n.trim().is_empty()),
            sim_scenario: raw.sim.scenario,
            sim_speed,
        })
    }
}

fn dynamo_settings(raw: RawDynamo) -> Result<DynamoSettings, SettingsError> {
    let table = raw.table.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        SettingsError("state_backend \"dynamodb\" needs dynamodb.table (ECS_AUTOSCALER_DYNAMODB__TABLE)".into())
    })?;
    let duration = |v: &Option<String>, key: &str, default: Duration| -> Result<Duration, SettingsError> {
        v.as_deref()
            .map_or(Ok(default), duration::parse)
            .map_err(|e| SettingsError(format!("dynamodb.{key}: {e}")))
    };
    let lease_ttl = duration(&raw.lease_ttl, "lease_ttl", Duration::from_secs(15))?;
    if !(Duration::from_secs(3)..=Duration::from_secs(300)).contains(&lease_ttl) {
        return Err(SettingsError(format!(
            "dynamodb.lease_ttl must be between 3s and 5m, found {}s",
            lease_ttl.as_secs_f64()
        )));
    }
    let journal_ttl = duration(&raw.journal_ttl, "journal_ttl", Duration::from_secs(7 * 86_400))?;
    if journal_ttl < Duration::from_secs(3600) {
        return Err(SettingsError("dynamodb.journal_ttl must be at least 1h".into()));
    }
    let name = raw.name.unwrap_or_else(|| "ecs-autoscaler".into());
    if name.trim().is_empty() || name.contains('#') {
        return Err(SettingsError(format!(
            "dynamodb.name \"{name}\" must be non-empty and may not contain '#'"
        )));
    }
    let instance_id = raw.instance_id.filter(|i| !i.trim().is_empty()).unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        format!("{}-{}", host.trim(), &suffix[..8])
    });
    Ok(DynamoSettings {
        table,
        name,
        lease_ttl,
        journal_ttl,
        instance_id,
    })
}

/// Connection settings of the `aws` backend.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// Region; default: the standard AWS configuration chain (AWS_REGION, profile, IMDS/ECS).
    pub region: Option<String>,
    /// Endpoint override for VPC endpoints, proxies or a local test server.
    pub endpoint_url: Option<String>,
    /// Limit on one attempt of one call.
    pub call_timeout: Duration,
    /// Attempts per call, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Consecutive failures that open an API's circuit, and how long it stays open.
    pub breaker_threshold: u32,
    pub breaker_open_for: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            call_timeout: Duration::from_secs(5),
            max_attempts: 3,
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn defaults_need_no_file() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(s.backend, BackendKind::Sim);
        assert_eq!(s.listen, "127.0.0.1:9090".parse().unwrap());
        assert_eq!(s.api_token, None);
        assert_eq!(s.rescan_interval, Duration::from_secs(30));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "backend = \"aws\"\nlisten = \"0.0.0.0:9000\"\n[sim]\nspeed = 10\n",
        )
        .unwrap();
        let s = Settings::load_with_env(
            Some(&file),
            env(&[
                ("ECS_AUTOSCALER_LISTEN", "127.0.0.1:9191"),
                ("ECS_AUTOSCALER_DRY_RUN", "true"),
                ("ECS_AUTOSCALER_SIM__SPEED", "60"),
                ("ECS_AUTOSCALER_API_TOKEN", "0123456789abcdef"),
                ("ECS_AUTOSCALER_AWS__ENDPOINT_URL", "http://127.0.0.1:5000"),
                ("ECS_AUTOSCALER_AWS__MAX_ATTEMPTS", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.backend, BackendKind::Aws);
        assert_eq!(s.listen, "127.0.0.1:9191".parse().unwrap());
        assert!(s.dry_run);
        assert_eq!(s.sim_speed, 60.0);
        assert_eq!(s.api_token.as_deref(), Some("0123456789abcdef"));
        assert_eq!(s.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(s.aws.max_attempts, 1);
    }

    #[test]
    fn numeric_looking_tokens_and_names_are_kept_verbatim() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("ECS_AUTOSCALER_API_TOKEN", "0012345678901234567"),
                ("ECS_AUTOSCALER_HEARTBEAT_NAME", "007"),
            ]),
        )
        .unwrap();
        assert_eq!(s.api_token.as_deref(), Some("0012345678901234567"));
        assert_eq!(s.heartbeat_name.as_deref(), Some("007"));
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let err = |pairs: &[(&str, &str)]| Settings::load_with_env(None, env(pairs)).unwrap_err().to_string();
        assert!(err(&[("ECS_AUTOSCALER_LISTEN", "nowhere")]).contains("listen \"nowhere\""));
        assert!(err(&[("ECS_AUTOSCALER_BACKEND", "gcp")]).contains("gcp"));
        assert!(err(&[("ECS_AUTOSCALER_API_TOKEN", "short")]).contains("at least 16"));
        assert!(err(&[("ECS_AUTOSCALER_RESCAN_INTERVAL", "30")]).contains("no unit"));
        assert!(err(&[("ECS_AUTOSCALER_AWS__ENDPOINT_URL", "localhost:5000")]).contains("http://"));
        assert!(err(&[("ECS_AUTOSCALER_AWS__MAX_ATTEMPTS", "0")]).contains("max_attempts"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "colour = 1\n").unwrap();
        assert!(
            Settings::load_with_env(Some(&file), env(&[]))
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
        assert!(Settings::load_with_env(Some(&dir.path().join("none.toml")), env(&[])).is_err());
    }
}

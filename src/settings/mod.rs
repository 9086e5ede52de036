//! Daemon settings: a TOML file plus `ECS_AUTOSCALER_*` environment overrides, read with
//! the `config` crate and validated before anything starts. The file as written is in
//! `file.rs`; each backend's section checks itself in its own file.
//!
//! Settings depend on the policy model alone: every other layer reads them.

mod aws;
mod dynamodb;
mod error;
mod events;
mod file;
mod local;
mod policies;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use autoscaler_core::policy::{Backend, duration};

pub use aws::AwsSettings;
pub use dynamodb::DynamoSettings;
use dynamodb::dynamo_settings;
pub use error::SettingsError;
pub use events::EventsSettings;
use events::events_settings;
use file::RawSettings;
pub use file::{LogFormat, StateBackend};
pub use local::LocalSettings;
pub use policies::PolicyLocation;

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: Backend,
    /// Where the policies are: a directory, or an S3 prefix.
    pub policies: PolicyLocation,
    pub listen: SocketAddr,
    pub state_file: PathBuf,
    pub state_backend: StateBackend,
    /// Set when `state_backend` is `dynamodb`.
    pub dynamodb: Option<DynamoSettings>,
    /// Bearer token for mutating endpoints; they are disabled without one.
    pub api_token: Option<String>,
    /// Where scaling events go; None: nowhere.
    pub events: Option<EventsSettings>,
    pub log_format: LogFormat,
    /// Forces every policy into dry-run mode.
    pub dry_run: bool,
    /// Re-scan of the policies directory, for volumes where inotify sees nothing.
    pub rescan_interval: Duration,
    /// Decisions kept per policy for the API and the state file.
    pub journal_size: usize,
    /// A policy file written in place is read once it has been quiet this long (one
    /// renamed into place at once): a half-written file is never acted on.
    pub policy_settle: Duration,
    /// Metric queries per round of all policies together, at most (a cost guard:
    /// GetMetricData bills per query).
    pub max_queries_per_round: usize,
    /// Decisions kept in memory, all policies together, at most; older ones are read
    /// from the state store when the API asks for them.
    pub journal_in_memory: usize,
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
    pub local: LocalSettings,
}

/// Environment variables that override the file (nested keys use `__`).
pub const ENV_PREFIX: &str = "ECS_AUTOSCALER";

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
        let policy_settle = duration::parse(&raw.policy_settle)
            .or_else(|e| {
                if raw.policy_settle.trim() == "0" {
                    Ok(Duration::ZERO)
                } else {
                    Err(e)
                }
            })
            .map_err(|e| SettingsError(format!("policy_settle: {e}")))?;
        if policy_settle > Duration::from_secs(60) {
            return Err(SettingsError("policy_settle must be at most 60s".into()));
        }
        if !(1..=1_000_000).contains(&raw.max_queries_per_round) {
            return Err(SettingsError(format!(
                "max_queries_per_round must be 1..=1000000, found {}",
                raw.max_queries_per_round
            )));
        }
        if !(1..=10_000_000).contains(&raw.journal_in_memory) {
            return Err(SettingsError(format!(
                "journal_in_memory must be 1..=10000000, found {}",
                raw.journal_in_memory
            )));
        }
        let policies = PolicyLocation::parse(&raw.policies_dir).ok_or_else(|| {
            SettingsError(format!(
                "policies_dir \"{}\" must be a directory or s3://BUCKET/PREFIX/",
                raw.policies_dir.display()
            ))
        })?;
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
        let aws = AwsSettings::from_raw(raw.aws)?;
        let dynamodb = match raw.state_backend {
            StateBackend::File => None,
            StateBackend::Dynamodb => Some(dynamo_settings(raw.dynamodb)?),
        };
        let events = events_settings(raw.events)?;
        needs_no_aws_sdk(raw.backend, dynamodb.is_some(), events.is_some(), &policies)?;
        Ok(Settings {
            local: LocalSettings::from_raw(raw.local)?,
            aws,
            backend: raw.backend,
            policies,
            listen,
            state_file: raw
                .state_file
                .unwrap_or_else(|| PathBuf::from(format!("ecs-autoscaler-{}-state.json", raw.backend))),
            state_backend: raw.state_backend,
            dynamodb,
            api_token,
            events,
            log_format: raw.log_format,
            dry_run: raw.dry_run,
            rescan_interval,
            journal_size: raw.journal_size,
            policy_settle,
            max_queries_per_round: raw.max_queries_per_round,
            journal_in_memory: raw.journal_in_memory,
            heartbeat_name: raw.heartbeat_name.filter(|n| !n.trim().is_empty()),
            sim_scenario: raw.sim.scenario,
            sim_speed,
        })
    }
}

/// A binary built without the aws feature refuses settings that need the AWS SDK.
fn needs_no_aws_sdk(
    backend: Backend,
    dynamodb: bool,
    events: bool,
    policies: &PolicyLocation,
) -> Result<(), SettingsError> {
    if cfg!(feature = "aws") {
        return Ok(());
    }
    let needs = [
        (backend == Backend::Aws, "backend \"aws\""),
        (dynamodb, "state_backend \"dynamodb\""),
        (events, "events.bus (EventBridge)"),
        (matches!(policies, PolicyLocation::S3 { .. }), "policies_dir in S3"),
    ];
    match needs.iter().find(|(needed, _)| *needed) {
        Some((_, what)) => Err(SettingsError(format!(
            "{what} needs the AWS SDK, and this binary was built without it (--no-default-features): build it with the default features"
        ))),
        None => Ok(()),
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
        assert_eq!(s.backend, Backend::Sim);
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
        assert_eq!(s.backend, Backend::Aws);
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

//! `[dynamodb]`: the state table several daemons share, and their lease.

use std::time::Duration;

use autoscaler_core::policy::duration;

use super::error::SettingsError;
use super::file::RawDynamo;

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

pub(super) fn dynamo_settings(raw: RawDynamo) -> Result<DynamoSettings, SettingsError> {
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

//! `[local]`: how the local backend runs search-service replicas on this machine.

use std::path::PathBuf;
use std::time::Duration;

use autoscaler_core::policy::duration;

use super::error::SettingsError;
use super::file::RawLocal;

#[derive(Debug, Clone)]
pub struct LocalSettings {
    /// A search-service binary; default: this binary's `replica` subcommand.
    pub binary: Option<PathBuf>,
    /// The port every replica of the pool shares.
    pub port: u16,
    /// Worker threads per replica; one behaves like a one-vCPU task.
    pub workers: usize,
    pub catalog_size: usize,
    /// CPU burnt per search, to emulate a small task (see search-service `--search-cost`).
    pub search_cost: Duration,
    /// Replicas a pool starts with, before the first decision.
    pub initial_replicas: u32,
    /// Time a stopping replica gets to drain before SIGKILL.
    pub drain_deadline: Duration,
    /// Memory a replica is considered to have, for memory utilization rules.
    pub memory_limit_bytes: f64,
    /// Ask the kernel to hand a closing replica's queued connections to the others
    /// (net.ipv4.tcp_migrate_req), so a scale-in resets no connection.
    pub migrate_requests: bool,
}

impl Default for LocalSettings {
    fn default() -> Self {
        Self {
            binary: None,
            port: 8080,
            workers: 1,
            catalog_size: 100_000,
            search_cost: Duration::ZERO,
            initial_replicas: 2,
            drain_deadline: Duration::from_secs(10),
            memory_limit_bytes: 512.0 * 1024.0 * 1024.0,
            migrate_requests: true,
        }
    }
}

impl LocalSettings {
    pub(super) fn from_raw(l: RawLocal) -> Result<Self, SettingsError> {
        let mut local = LocalSettings {
            binary: l.binary,
            ..LocalSettings::default()
        };
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
        Ok(local)
    }
}

//! A backend whose world is a script: every target's counts as set, every rule's value as
//! told, and failures, delays and panics where asked for. The daemon's loop tests and the
//! benchmark of the shell's own cost run against it, in process, with nothing else in
//! the way.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use autoscaler_core::decide::{Capacity, MissingCause, Reading, Sample};
use autoscaler_core::policy::{Policy, Target};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::{BackendError, CapacityTarget, MetricSource};

/// What the script says, changeable while the daemon runs. Targets are named by
/// [`Target::describe`].
#[derive(Default)]
pub struct Script {
    /// Every rule's value, unless set per target.
    pub value: Option<f64>,
    pub values: HashMap<String, f64>,
    /// Count a target starts at (default 2).
    pub initial: Option<u32>,
    pub fail_update: bool,
    /// UpdateService takes this long.
    pub update_delay: Duration,
    pub fail_capacity_for: Option<String>,
    /// A target whose DescribeServices takes this long.
    pub slow_capacity_for: Option<(String, Duration)>,
    /// A target whose DescribeServices panics.
    pub panic_for: Option<String>,
    /// Reads fail, as a CloudWatch outage would.
    pub fail_reads: bool,
    /// Delays of the coming reads, in order; then none.
    pub read_delays: VecDeque<Duration>,
    /// A read that includes this target takes this long.
    pub slow_read_for: Option<(String, Duration)>,
}

#[derive(Default)]
pub struct Scripted {
    pub script: Mutex<Script>,
    desired: Mutex<HashMap<String, u32>>,
    /// When each read started, and the targets it covered.
    reads: Mutex<Vec<(Instant, Vec<String>)>>,
    /// (target, desired) of every UpdateService, in order.
    updates: Mutex<Vec<(String, u32)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Scripted {
    pub fn new(script: Script) -> Self {
        Self {
            script: Mutex::new(script),
            ..Self::default()
        }
    }

    /// Changes the script.
    pub fn edit(&self, f: impl FnOnce(&mut Script)) {
        f(&mut lock(&self.script));
    }

    pub fn reads(&self) -> Vec<(Instant, Vec<String>)> {
        lock(&self.reads).clone()
    }

    pub fn updates(&self) -> Vec<(String, u32)> {
        lock(&self.updates).clone()
    }

    pub fn desired(&self, target: &str) -> Option<u32> {
        lock(&self.desired).get(target).copied()
    }
}

impl MetricSource for Scripted {
    async fn read(&self, policies: &[&Policy], now: DateTime<Utc>) -> Vec<BTreeMap<String, Sample>> {
        let targets: Vec<String> = policies.iter().map(|p| p.target.describe()).collect();
        lock(&self.reads).push((Instant::now(), targets.clone()));
        let (delay, fail, value, values) = {
            let mut s = lock(&self.script);
            let mut delay = s.read_delays.pop_front().unwrap_or_default();
            if let Some((slow, d)) = &s.slow_read_for
                && targets.contains(slow)
            {
                delay = delay.max(*d);
            }
            (delay, s.fail_reads, s.value.unwrap_or(100.0), s.values.clone())
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        policies
            .iter()
            .zip(&targets)
            .map(|(p, target)| {
                let v = values.get(target).copied().unwrap_or(value);
                p.rules
                    .iter()
                    .flat_map(|r| r.reads())
                    .map(|read| {
                        let sample = if fail {
                            Sample::missing(MissingCause::ReadFailed, "GetMetricData: injected outage")
                        } else {
                            Sample::Value(Reading {
                                value: v,
                                at: now,
                                base: None,
                            })
                        };
                        (read.key.to_string(), sample)
                    })
                    .collect()
            })
            .collect()
    }
}

impl CapacityTarget for Scripted {
    async fn capacity(&self, target: &Target) -> Result<Capacity, BackendError> {
        let key = target.describe();
        let (slow, failing, panicking, initial) = {
            let s = lock(&self.script);
            let slow = s.slow_capacity_for.clone().filter(|(t, _)| *t == key).map(|(_, d)| d);
            (
                slow,
                s.fail_capacity_for.as_deref() == Some(key.as_str()),
                s.panic_for.as_deref() == Some(key.as_str()),
                s.initial.unwrap_or(2),
            )
        };
        if let Some(d) = slow {
            tokio::time::sleep(d).await;
        }
        if panicking {
            panic!("scripted panic for {key}");
        }
        if failing {
            return Err(BackendError::Unavailable {
                call: "DescribeServices",
                reason: "injected".into(),
            });
        }
        let n = *lock(&self.desired).entry(key).or_insert(initial);
        Ok(Capacity {
            desired: n,
            running: n,
            pending: 0,
            deployment_in_progress: false,
            revision: 0,
        })
    }

    async fn set_desired(&self, target: &Target, desired: u32) -> Result<(), BackendError> {
        let key = target.describe();
        lock(&self.updates).push((key.clone(), desired));
        let (fail, delay) = {
            let s = lock(&self.script);
            (s.fail_update, s.update_delay)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if fail {
            return Err(BackendError::Unavailable {
                call: "UpdateService",
                reason: "injected".into(),
            });
        }
        lock(&self.desired).insert(key, desired);
        Ok(())
    }
}

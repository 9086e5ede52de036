//! Builders shared by the decision-core tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use autoscaler_core::decide::{Capacity, Controller, History, Observation, Reading, Sample};
use autoscaler_core::policy::{self, Policy};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// A Monday, 10:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

pub fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

pub fn policy(body: &str) -> Policy {
    let src = format!("{body}\n[target]\nbackend = \"sim\"\nservice = \"s\"\n");
    policy::parse(Path::new("test.toml"), &src).unwrap_or_else(|e| panic!("{e}"))
}

pub const CPU: &str = "[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";
pub const P99: &str =
    "[[rule]]\nname = \"p99\"\nmetric = \"latency\"\ntarget = \"150ms\"\nperiod = \"10s\"\nmax_age = \"60s\"\n";

/// CPU 70 % on min..max with no cooldowns unless the extra text sets them.
pub fn cpu_policy(min: u32, max: u32, extra: &str) -> Policy {
    policy(&format!("min = {min}\nmax = {max}\n{extra}\n{CPU}"))
}

pub fn steady(n: u32) -> Capacity {
    Capacity {
        desired: n,
        running: n,
        pending: 0,
        deployment_in_progress: false,
        revision: 0,
    }
}

pub fn value(v: f64, now: DateTime<Utc>) -> Sample {
    Sample::Value(Reading {
        value: v,
        at: now - secs(60),
        base: None,
    })
}

pub fn obs(capacity: Capacity, metrics: &[(&str, Sample)]) -> Observation {
    Observation {
        capacity,
        metrics: metrics
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        withheld: None,
    }
}

/// A history that has watched the service for an hour without acting: the
/// stabilization window is observed, no cooldown runs.
pub fn seasoned() -> History {
    History {
        observed_since: Some(t0() - secs(3600)),
        last_evaluated: Some(t0() - secs(10)),
        ..History::default()
    }
}

/// A controller with a [`seasoned`] history.
pub fn seasoned_controller(policy: Policy) -> Controller {
    Controller {
        policy: policy.into(),
        history: seasoned(),
    }
}

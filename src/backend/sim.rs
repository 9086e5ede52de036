//! The `sim` backend for the daemon: each scaled service is a simulated world, advanced
//! to the daemon's (usually accelerated) clock before every read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{BackendError, CapacityTarget, Clock, MetricSource};
use autoscaler_core::decide::{Capacity, Sample};
use autoscaler_core::policy::{Policy, Target};
use autoscaler_sim::timeline::Timeline;
use autoscaler_sim::world::World;
use autoscaler_sim::{MetricReader, Scenario};

/// Simulated seconds each service keeps: enough for the longest look-back of any rule
/// (three periods of up to an hour, a publication delay, `max_age` up to an hour). A
/// daemon runs for months; its worlds must not grow with it.
const KEPT: u64 = 4 * 3600;

pub struct SimBackend {
    scenario: Scenario,
    clock: Arc<dyn Clock>,
    services: Mutex<BTreeMap<String, World>>,
}

/// How far into its scenario the daemon joins a simulated service: it joins one that has
/// been running (as a daemon deployed next to a live service does), so that every rule,
/// even one on 1-minute metrics published late, has datapoints at the first evaluation
/// and `run --once` shows a real decision.
pub fn joins_at(scenario: &Scenario) -> DateTime<Utc> {
    let lead_in = (scenario.duration / 2).min(300);
    scenario.start + chrono::Duration::seconds(lead_in as i64)
}

impl SimBackend {
    pub fn new(scenario: Scenario, clock: Arc<dyn Clock>) -> Self {
        Self {
            scenario,
            clock,
            services: Mutex::new(BTreeMap::new()),
        }
    }

    /// Seconds into the scenario at `now`.
    fn second(&self, now: DateTime<Utc>) -> u64 {
        (now - self.scenario.start).num_seconds().max(0) as u64
    }

    /// Runs `f` on the target's world, advanced to the clock.
    fn with_world<T>(&self, target: &Target, f: impl FnOnce(&mut World, u64) -> T) -> T {
        let t = self.second(self.clock.now());
        let mut services = self.services.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let world = services
            .entry(target.describe())
            .or_insert_with(|| World::with_timeline(&self.scenario, Timeline::window(KEPT)));
        while world.seconds.end() < t {
            let next = world.seconds.end();
            world.step(next);
        }
        f(world, t)
    }
}

impl MetricSource for SimBackend {
    async fn read(&self, policies: &[&Policy], _now: DateTime<Utc>) -> Vec<BTreeMap<String, Sample>> {
        policies
            .iter()
            .map(|p| {
                let reader = MetricReader::new(p, &self.scenario);
                self.with_world(&p.target, |world, t| reader.read(&world.seconds, t))
            })
            .collect()
    }
}

impl CapacityTarget for SimBackend {
    async fn capacity(&self, target: &Target) -> Result<Capacity, BackendError> {
        Ok(self.with_world(target, |world, t| world.capacity(t)))
    }

    async fn set_desired(&self, target: &Target, desired: u32) -> Result<(), BackendError> {
        self.with_world(target, |world, t| world.set_desired(desired, t))
            .map_err(|reason| BackendError::Unavailable {
                call: "UpdateService",
                reason,
            })
    }
}

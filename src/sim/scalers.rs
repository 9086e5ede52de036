//! What decides the desired count in a simulation: a policy through the decision core,
//! the model of AWS target tracking, or the oracle.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::cloudwatch::{self, Signal};
use super::scenario::Scenario;
use super::world::{Second, World};
use crate::decide::{Action, Controller, Observation, Reading, Sample};
use crate::policy::{Goal, Policy};

/// A change of desired count, with why.
#[derive(Debug, Clone)]
pub struct Change {
    pub at: u64,
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

pub trait Scaler {
    fn name(&self) -> String;
    /// Evaluates at second `t` (called every second; the scaler keeps its own cadence).
    fn tick(&mut self, world: &mut World, scenario: &Scenario, t: u64) -> Option<Change>;
}

/// A policy, evaluated by the decision core exactly as the daemon does.
pub struct PolicyScaler {
    controller: Controller,
    reader: MetricReader,
    start: DateTime<Utc>,
    interval: u64,
}

impl PolicyScaler {
    pub fn new(policy: Policy, scenario: &Scenario) -> Self {
        Self {
            interval: policy.interval.as_secs().max(1),
            reader: MetricReader::new(&policy, scenario),
            controller: Controller::new(policy),
            start: scenario.start,
        }
    }
}

impl Scaler for PolicyScaler {
    fn name(&self) -> String {
        self.controller.policy.name.clone()
    }

    fn tick(&mut self, world: &mut World, _: &Scenario, t: u64) -> Option<Change> {
        if t == 0 || !t.is_multiple_of(self.interval) {
            return None;
        }
        let obs = Observation {
            capacity: world.capacity(t),
            metrics: self.reader.read(&world.seconds, t),
        };
        let now = self.start + chrono::Duration::seconds(t as i64);
        let decision = self.controller.evaluate(&obs, now);
        if !decision.should_apply() {
            return None;
        }
        world.set_desired(decision.desired);
        self.controller.applied(&decision);
        Some(Change {
            at: t,
            from: decision.capacity.desired,
            to: decision.desired,
            reason: decision.explain(),
        })
    }
}

/// Reads a policy's rules from a simulated world the way CloudWatch would deliver them.
pub struct MetricReader {
    signals: Vec<(String, Result<Signal, String>, u64, u64)>,
    start: DateTime<Utc>,
}

impl MetricReader {
    pub fn new(policy: &Policy, scenario: &Scenario) -> Self {
        let signals = policy
            .rules
            .iter()
            .map(|r| {
                let period = r.period.as_secs().max(1);
                let delay = if period < 60 {
                    scenario.cloudwatch.high_resolution_delay
                } else {
                    scenario.cloudwatch.standard_delay
                };
                (r.name.clone(), Signal::of(r), period, delay)
            })
            .collect();
        Self {
            signals,
            start: scenario.start,
        }
    }

    /// Every rule's newest visible datapoint at second `t`.
    pub fn read(&self, seconds: &[Second], t: u64) -> BTreeMap<String, Sample> {
        self.signals
            .iter()
            .map(|(name, signal, period, delay)| {
                let sample = match signal {
                    Err(why) => Sample::Missing { reason: why.clone() },
                    Ok(signal) => match cloudwatch::latest(seconds, *signal, *period, *delay, t) {
                        Some(dp) => Sample::Value(Reading {
                            value: dp.value,
                            at: self.start + chrono::Duration::seconds(dp.start as i64),
                            base: Some(dp.base),
                        }),
                        None => Sample::Missing {
                            reason: "no datapoint published yet".into(),
                        },
                    },
                };
                (name.clone(), sample)
            })
            .collect()
    }
}

/// AWS target tracking as Application Auto Scaling runs it for ECS: two CloudWatch alarms on
/// 1-minute datapoints (3 of 3 above target to scale out, 15 of 15 below 90 % of target to
/// scale in), evaluated once a minute, with 300 s cooldowns. During the scale-out cooldown it
/// may still scale out further, counting the capacity already added, as AWS documents.
///
/// Calibrated to the original experiment's observed timeline (third task launching about
/// 2 minutes after the load step): the alarms count the minute in progress as a datapoint and
/// run [`TargetTracking::EVALUATION_PHASE`] seconds into each minute. Waiting for three whole
/// minutes would launch it a minute later than AWS did and flatter every comparison.
pub struct TargetTracking {
    signal: Signal,
    target: f64,
    min: u32,
    max: u32,
    out_cooldown: u64,
    in_cooldown: u64,
    last_out: Option<u64>,
    last_in: Option<u64>,
}

impl TargetTracking {
    pub const SCALE_OUT_DATAPOINTS: usize = 3;
    pub const SCALE_IN_DATAPOINTS: usize = 15;
    pub const SCALE_IN_THRESHOLD: f64 = 0.9;
    /// Seconds past the minute at which the alarms are evaluated.
    pub const EVALUATION_PHASE: u64 = 20;

    /// Tracks the policy's first utilization rule (CPU 70 % if it has none), within its bounds.
    pub fn for_policy(policy: &Policy) -> Self {
        let tracked = policy.rules.iter().find_map(|r| match (r.goal, Signal::of(r)) {
            (Goal::Track { target, .. }, Ok(signal)) => Some((signal, target)),
            _ => None,
        });
        let (signal, target) = tracked.unwrap_or((Signal::Cpu, 70.0));
        Self {
            signal,
            target,
            min: policy.min,
            max: policy.max,
            out_cooldown: 300,
            in_cooldown: 300,
            last_out: None,
            last_in: None,
        }
    }
}

impl Scaler for TargetTracking {
    fn name(&self) -> String {
        "aws-target-tracking".into()
    }

    fn tick(&mut self, world: &mut World, scenario: &Scenario, t: u64) -> Option<Change> {
        if t % 60 != Self::EVALUATION_PHASE {
            return None;
        }
        let alarm =
            |n| cloudwatch::alarm_datapoints(&world.seconds, self.signal, scenario.cloudwatch.standard_delay, t, n);
        let desired = world.desired();
        let proposal =
            |dp: &cloudwatch::Datapoint| ((f64::from(dp.base.max(1)) * dp.value / self.target) - 1e-9).ceil() as u32;

        if let Some(points) = alarm(Self::SCALE_OUT_DATAPOINTS)
            && points.iter().all(|dp| dp.value > self.target)
        {
            let to = proposal(&points[0]).clamp(self.min, self.max);
            if to > desired {
                world.set_desired(to);
                self.last_out = Some(t);
                return Some(Change {
                    at: t,
                    from: desired,
                    to,
                    reason: format!(
                        "high alarm: 3 of 3 datapoints above {}, latest {:.1}",
                        self.target, points[0].value
                    ),
                });
            }
        }
        let cooled = |last: Option<u64>, cd: u64| last.is_none_or(|l| t >= l + cd);
        if cooled(self.last_in, self.in_cooldown)
            && cooled(self.last_out, self.out_cooldown)
            && let Some(points) = alarm(Self::SCALE_IN_DATAPOINTS)
            && points
                .iter()
                .all(|dp| dp.value < self.target * Self::SCALE_IN_THRESHOLD)
        {
            let to = proposal(&points[0]).clamp(self.min, self.max);
            if to < desired {
                world.set_desired(to);
                self.last_in = Some(t);
                return Some(Change {
                    at: t,
                    from: desired,
                    to,
                    reason: format!("low alarm: 15 of 15 datapoints below {:.0}", self.target * 0.9),
                });
            }
        }
        // Bounds are enforced by Application Auto Scaling too.
        let bounded = desired.clamp(self.min, self.max);
        if bounded != desired {
            world.set_desired(bounded);
            return Some(Change {
                at: t,
                from: desired,
                to: bounded,
                reason: "bounds".into(),
            });
        }
        None
    }
}

/// Perfect foresight: at every second, the fewest tasks that keep p99 within the SLO for the
/// load ahead, launched one start-up time early. The lower bound on cost a policy is measured by.
pub struct Oracle {
    min: u32,
    max: u32,
    needs: Vec<u32>,
    lead: u64,
}

impl Oracle {
    pub fn new(policy: &Policy, scenario: &Scenario) -> Self {
        let s = &scenario.service;
        // Highest utilization at which a task's p99 stays within the SLO, with room for noise.
        let service_time = 1.0 / s.capacity_rps;
        let slo_room = (scenario.slo_p99 - s.base_latency).max(service_time * 5.0);
        let rho_max =
            (1.0 - service_time * 100f64.ln() / slo_room).clamp(0.1, 0.99) / (1.0 + 4.0 * scenario.traffic.noise);
        let needs = (0..scenario.duration + 1)
            .map(|t| {
                let level = scenario.traffic.level(t);
                let rate = scenario.traffic.offered_rate(level, s.base_latency);
                (rate / (s.capacity_rps * rho_max)).ceil() as u32
            })
            .collect();
        Self {
            min: policy.min,
            max: policy.max,
            needs,
            lead: (s.startup + s.startup_jitter).ceil() as u64,
        }
    }
}

impl Scaler for Oracle {
    fn name(&self) -> String {
        "oracle".into()
    }

    fn tick(&mut self, world: &mut World, _: &Scenario, t: u64) -> Option<Change> {
        let ahead = (t as usize)..=((t + self.lead) as usize).min(self.needs.len().saturating_sub(1));
        let need = self.needs.get(ahead).and_then(|w| w.iter().max().copied()).unwrap_or(0);
        let to = need.clamp(self.min, self.max);
        let from = world.desired();
        (to != from).then(|| {
            world.set_desired(to);
            Change {
                at: t,
                from,
                to,
                reason: format!("the load {}s ahead needs {need}", self.lead),
            }
        })
    }
}

/// Actions of a change, for counting.
pub fn action(c: &Change) -> Action {
    if c.to > c.from {
        Action::ScaleOut
    } else {
        Action::ScaleIn
    }
}

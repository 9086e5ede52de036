//! AWS predictive scaling for ECS, run as AWS users run it: beside target tracking on
//! 20 s metrics, the desired count the larger of the two. What Application Auto Scaling
//! documents, and this model does:
//! - a forecast needs at least 24 hours of history and uses up to 14 days;
//! - it forecasts the next 48 hours of *hourly* load, refitted every 6 hours;
//! - an hour's capacity is its forecast load over the target per task (for the CPU metric
//!   pair: total CPU over the target utilization);
//! - it is applied at the start of each hour, moved earlier by `SchedulingBufferTime`
//!   (300 s by default);
//! - max capacity is honoured (`HonorMaxCapacity`);
//! - it never scales in by itself: the forecast capacity is a floor under target tracking,
//!   which alone gives tasks back.
//!
//! AWS does not publish its forecaster. [`Forecaster::Seasonal`] is a good one for hourly
//! means (the same hour of past days of the same kind, weekday or weekend, with a level
//! adjustment from the last hours); [`Forecaster::Perfect`] knows each future hour's true
//! mean: the best this hourly design could ever do.

use std::collections::BTreeMap;

use super::scalers::{Change, Resolution, Scaler, TargetTracking};
use super::scenario::Scenario;
use super::world::World;
use autoscaler_core::decide::median;
use autoscaler_core::policy::{Measure, Policy};

const HOUR: u64 = 3600;
/// Whole hours of history before the first forecast.
pub const MIN_HISTORY_HOURS: u64 = 24;
/// Days of history a forecast uses at most.
pub const MAX_HISTORY_DAYS: u64 = 14;
/// Hours forecast at each fit, and how often it is refitted.
pub const HORIZON_HOURS: u64 = 48;
pub const REFIT: u64 = 6 * HOUR;
/// `SchedulingBufferTime`'s default.
pub const DEFAULT_BUFFER: u64 = 300;
/// Hours the level adjustment compares, and how far it may move a forecast.
const LEVEL_HOURS: u64 = 6;
const LEVEL_RANGE: (f64, f64) = (0.8, 1.25);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forecaster {
    Seasonal,
    Perfect,
}

pub struct AwsPredictive {
    tt: TargetTracking,
    plan: HourlyPlan,
}

/// The forecasting half of predictive scaling: capacity per hour, refitted every
/// [`REFIT`], in force from each hour's start less the buffer.
pub struct HourlyPlan {
    forecaster: Forecaster,
    /// The true mean of requests offered per second in each hour of the scenario; the
    /// seasonal forecaster reads only hours already over.
    hourly: Vec<f64>,
    /// Requests per second a task serves at the target.
    per_task: f64,
    buffer: u64,
    min: u32,
    max: u32,
    /// Capacity per hour (index since the start), from the last fit.
    plan: BTreeMap<u64, u32>,
    fitted_at: Option<u64>,
}

/// The target per task in requests per second: for the CPU pair, the share of a task's
/// capacity at which CPU is at the target; for ALB request counts, the target's requests
/// per minute.
pub fn per_task(measure: Measure, target: f64, scenario: &Scenario) -> f64 {
    let s = &scenario.service;
    match measure {
        Measure::RequestsPerTarget => target / 60.0,
        _ => s.capacity_rps * ((target - s.idle_cpu) / (100.0 - s.idle_cpu)).clamp(0.05, 1.0),
    }
}

impl AwsPredictive {
    pub fn new(policy: &Policy, scenario: &Scenario, forecaster: Forecaster) -> Self {
        let tt = TargetTracking::for_policy(policy, Resolution::TwentySeconds);
        let (measure, target) = tt.tracked();
        let plan = HourlyPlan::new(
            scenario,
            forecaster,
            per_task(measure, target, scenario),
            DEFAULT_BUFFER,
            (policy.min, policy.max),
        );
        Self { tt, plan }
    }
}

impl HourlyPlan {
    pub fn new(
        scenario: &Scenario,
        forecaster: Forecaster,
        per_task: f64,
        buffer: u64,
        (min, max): (u32, u32),
    ) -> Self {
        Self {
            forecaster,
            hourly: hourly_means(scenario),
            per_task,
            buffer,
            min,
            max,
            plan: BTreeMap::new(),
            fitted_at: None,
        }
    }

    /// The capacity planned for hour `h` (since the start), once forecast.
    pub fn planned(&self, h: u64) -> Option<u32> {
        self.plan.get(&h).copied()
    }

    /// At `t`: refits when due, and gives the hour in force (its start moved earlier by
    /// the buffer) and its planned capacity, the minimum before any forecast.
    pub fn floor(&mut self, t: u64) -> (u64, u32) {
        if t >= MIN_HISTORY_HOURS * HOUR && self.fitted_at.is_none_or(|f| t >= f + REFIT) {
            self.refit(t);
        }
        let hour = (t + self.buffer) / HOUR;
        (hour, self.planned(hour).unwrap_or(self.min).max(self.min))
    }

    /// Sets the bounds the plan is clamped to, as a scheduled action does.
    pub fn set_bounds(&mut self, min: u32, max: u32) {
        self.min = min.min(max);
        self.max = max;
    }

    /// The forecast load of hour `h`, made at second `t`.
    fn forecast(&self, h: u64, t: u64) -> Option<f64> {
        match self.forecaster {
            Forecaster::Perfect => self.hourly.get(h as usize).copied(),
            Forecaster::Seasonal => {
                let done = t / HOUR;
                let base = seasonal(&self.hourly, h, done)?;
                // How the last hours ran against what the same method said of them.
                let mut ratios: Vec<f64> = (done.saturating_sub(LEVEL_HOURS)..done)
                    .filter_map(|k| {
                        let expected = seasonal(&self.hourly, k, k)?;
                        (expected > 0.0).then(|| self.hourly[k as usize] / expected)
                    })
                    .collect();
                let level = median(&mut ratios).unwrap_or(1.0).clamp(LEVEL_RANGE.0, LEVEL_RANGE.1);
                Some(base * level)
            }
        }
    }

    fn refit(&mut self, t: u64) {
        let first = t / HOUR;
        self.plan = (first..first + HORIZON_HOURS)
            .filter_map(|h| {
                let load = self.forecast(h, t)?;
                let tasks = (load / self.per_task - 1e-9).ceil().max(0.0) as u32;
                Some((h, tasks.clamp(self.min, self.max)))
            })
            .collect();
        self.fitted_at = Some(t);
    }
}

/// The median of the same hour on past days of the same kind (weekday, weekend), at most
/// [`MAX_HISTORY_DAYS`] back, from hours before `done`.
fn seasonal(hourly: &[f64], h: u64, done: u64) -> Option<f64> {
    let weekend = |h: u64| (h / 24) % 7 >= 5;
    let past: Vec<u64> = (1..=MAX_HISTORY_DAYS)
        .filter_map(|k| h.checked_sub(24 * k))
        .filter(|p| *p < done)
        .collect();
    let mut same: Vec<f64> = past
        .iter()
        .filter(|p| weekend(**p) == weekend(h))
        .map(|p| hourly[*p as usize])
        .collect();
    if !same.is_empty() {
        return median(&mut same);
    }
    median(&mut past.iter().map(|p| hourly[*p as usize]).collect::<Vec<_>>())
}

/// The mean offered requests per second of each hour (the last one may be partial): the
/// hourly sum of the load metric, per second.
fn hourly_means(scenario: &Scenario) -> Vec<f64> {
    let latency = scenario.service.base_latency;
    let hours = scenario.duration.div_ceil(HOUR) + HORIZON_HOURS;
    (0..hours)
        .map(|h| {
            let (from, to) = (h * HOUR, ((h + 1) * HOUR).min(scenario.duration.max(h * HOUR + 1)));
            // Each minute's level is enough for an hourly mean of piecewise-linear load.
            let samples: Vec<f64> = (from..to)
                .step_by(60)
                .map(|t| scenario.traffic.offered_rate(scenario.traffic.level(t), latency))
                .collect();
            samples.iter().sum::<f64>() / samples.len().max(1) as f64
        })
        .collect()
}

impl Scaler for AwsPredictive {
    fn name(&self) -> String {
        match self.plan.forecaster {
            Forecaster::Seasonal => "aws-predictive".into(),
            Forecaster::Perfect => "aws-predictive-perfect-hourly".into(),
        }
    }

    fn tick(&mut self, world: &mut World, scenario: &Scenario, t: u64) -> Option<Change> {
        let (hour, floor) = self.plan.floor(t);
        self.tt.set_min(floor);
        raise_to_plan(world, t, hour, floor).or_else(|| self.tt.tick(world, scenario, t))
    }
}

/// Raises the desired count to the hour's planned capacity; predictive scaling never
/// lowers it.
pub fn raise_to_plan(world: &mut World, t: u64, hour: u64, floor: u32) -> Option<Change> {
    let desired = world.desired();
    if floor <= desired {
        return None;
    }
    world.set_desired(floor, t).ok()?;
    Some(Change {
        at: t,
        from: desired,
        to: floor,
        reason: plan_reason(floor, hour),
    })
}

/// Why the count was raised to the plan: the capacity and the hour it is for.
pub fn plan_reason(floor: u32, hour: u64) -> String {
    format!(
        "predictive scaling: capacity {floor} for the hour from {:02}:00",
        hour % 24
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// `days` of a load that is 600 req/s except 6,000 from 10:00 to 11:00 every day.
    fn scenario(days: u64) -> Scenario {
        let mut text = format!(
            "duration = \"{}s\"\n[service]\ninitial_tasks = 1\ncapacity_rps = 1000\n[traffic]\nkind = \"rate\"\nnoise = 0\n",
            days * 86_400
        );
        for d in 0..days {
            let at = d * 86_400;
            text.push_str(&format!(
                "[[traffic.phase]]\nat = \"{}s\"\nrate = 600\n[[traffic.phase]]\nat = \"{}s\"\nrate = 6000\n[[traffic.phase]]\nat = \"{}s\"\nrate = 600\n",
                at,
                at + 10 * HOUR,
                at + 11 * HOUR
            ));
        }
        crate::scenario::parse(Path::new("hourly.toml"), &text).unwrap()
    }

    fn policy() -> Policy {
        let text = "min = 1\nmax = 50\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";
        autoscaler_core::policy::parse(Path::new("p.toml"), text).unwrap()
    }

    /// Runs the model for `days`, returning its changes.
    fn run(days: u64, forecaster: Forecaster) -> (AwsPredictive, Vec<Change>) {
        let s = scenario(days);
        let mut model = AwsPredictive::new(&policy(), &s, forecaster);
        let mut world = World::new(&s);
        let mut changes = vec![];
        for t in 0..s.duration {
            changes.extend(model.tick(&mut world, &s, t));
            world.step(t);
        }
        (model, changes)
    }

    fn predictive(c: &Change) -> bool {
        c.reason.starts_with("predictive scaling")
    }

    #[test]
    fn no_forecast_before_a_day_of_history() {
        for f in [Forecaster::Seasonal, Forecaster::Perfect] {
            let (model, changes) = run(1, f);
            assert!(model.plan.fitted_at.is_none(), "{f:?}");
            assert!(!changes.iter().any(predictive), "{f:?}");
        }
    }

    #[test]
    fn capacity_is_raised_at_the_hour_start_less_the_buffer_and_never_lowered_by_the_forecast() {
        for f in [Forecaster::Seasonal, Forecaster::Perfect] {
            let (model, changes) = run(3, f);
            let raised: Vec<&Change> = changes.iter().filter(|c| predictive(c)).collect();
            // Days 2 and 3 at 09:55: 6,000 req/s at 70 % CPU of 1,000-req/s tasks.
            let wanted = (6000.0 / model.plan.per_task).ceil() as u32;
            for day in [1, 2] {
                let at = day * 86_400 + 10 * HOUR - DEFAULT_BUFFER;
                assert!(
                    raised.iter().any(|c| c.at == at && c.to == wanted),
                    "{f:?}: day {day}: {:?}",
                    raised.iter().map(|c| (c.at, c.to)).collect::<Vec<_>>()
                );
            }
            assert!(raised.iter().all(|c| c.to > c.from), "{f:?}: the forecast only raises");
            // Scale-in is target tracking's alone (its low alarm), and never below the
            // capacity planned for the hour in force.
            for c in changes.iter().filter(|c| c.to < c.from) {
                assert!(c.reason.starts_with("low alarm"), "{f:?}: {}", c.reason);
                let planned = (10 * HOUR - DEFAULT_BUFFER..11 * HOUR - DEFAULT_BUFFER).contains(&(c.at % 86_400));
                if c.at >= 86_400 && planned {
                    assert!(
                        c.to >= wanted,
                        "{f:?}: scaled in to {} at {}, below the planned {wanted}",
                        c.to,
                        c.at
                    );
                }
            }
        }
    }

    #[test]
    fn the_forecast_is_refitted_every_six_hours_over_forty_eight() {
        let (model, _) = run(3, Forecaster::Seasonal);
        let fitted = model.plan.fitted_at.unwrap();
        assert_eq!((fitted - MIN_HISTORY_HOURS * HOUR) % REFIT, 0);
        let first = fitted / HOUR;
        assert_eq!(model.plan.plan.keys().next(), Some(&first));
        assert_eq!(model.plan.plan.len() as u64, HORIZON_HOURS);
    }

    #[test]
    fn max_capacity_is_honoured() {
        let s = scenario(2);
        let mut p = policy();
        p.max = 3;
        let mut model = AwsPredictive::new(&p, &s, Forecaster::Perfect);
        model.plan.refit(86_400);
        assert!(model.plan.plan.values().all(|c| *c <= 3));
    }
}

//! A service's own Application Auto Scaling configuration, as `import` read it, run as
//! AWS runs it: what the service would have done under AWS's scaler on the same traffic.
//! The migration report sets it beside the policy that replaces it.
//!
//! - Target tracking: each policy's metric, target, cooldowns and `DisableScaleIn`; it
//!   scales out when any policy's high alarm fires and in only when every policy that may
//!   scale in is ready to (AWS's rule for several policies on one target).
//! - Step scaling: the alarm's metric, comparison, threshold, period and datapoints; the
//!   step the breach falls in; the policy's cooldown.
//! - Scheduled actions: min and max changed when the cron expression fires (UTC; AWS
//!   `at()` and `rate()` and other time zones are not replayed, and said so).
//! - Predictive scaling in `ForecastAndScale`: the hourly plan of [`super::predictive`]
//!   at the policy's target and buffer, a floor under the rest.
//!
//! A policy on a metric the simulator cannot produce is left out and named in
//! [`ImportedAws::left_out`], never silently replaced.

use chrono::Duration;

use super::cloudwatch;
use super::predictive::{self, DEFAULT_BUFFER, Forecaster, HourlyPlan};
use super::scalers::{Change, Resolution, Scaler, TargetTracking};
use super::scenario::Scenario;
use super::world::World;
use autoscaler_core::migrate::import::aws_cron;
use autoscaler_core::migrate::scaling::{AwsScaling, PolicyKind, StepScaling};
use autoscaler_core::policy::{Measure, cron};

pub struct ImportedAws {
    min: u32,
    max: u32,
    tracking: Vec<TargetTracking>,
    steps: Vec<StepPolicy>,
    schedule: Vec<Scheduled>,
    plan: Option<HourlyPlan>,
    left_out: Vec<String>,
}

struct StepPolicy {
    name: String,
    measure: Measure,
    policy: StepScaling,
    alarm: autoscaler_core::migrate::scaling::Alarm,
    last: Option<u64>,
}

struct Scheduled {
    name: String,
    cron: cron::Cron,
    min: Option<u32>,
    max: Option<u32>,
    /// Seconds since the start of the next firing still to apply.
    next: Option<u64>,
}

impl ImportedAws {
    /// The scaler `aws` describes, on `scenario`'s clock (its `start` is the wall time of
    /// second 0). Errors when there is nothing to run: no scalable target.
    pub fn new(aws: &AwsScaling, scenario: &Scenario) -> Result<Self, String> {
        let target = aws
            .target
            .ok_or_else(|| format!("{} is not registered with Application Auto Scaling", aws.resource_id))?;
        let bounds = (target.min, target.max.max(target.min));
        let mut me = Self {
            min: bounds.0,
            max: bounds.1,
            tracking: Vec::new(),
            steps: Vec::new(),
            schedule: Vec::new(),
            plan: None,
            left_out: Vec::new(),
        };
        for p in &aws.policies {
            me.add(&p.name, &p.kind, bounds, scenario);
        }
        for a in &aws.scheduled {
            let utc = a.timezone.as_deref().is_none_or(|z| matches!(z, "UTC" | "Etc/UTC"));
            match aws_cron(&a.schedule).and_then(|c| cron::parse(&c).ok()) {
                Some(cron) if utc => {
                    let mut s = Scheduled {
                        name: a.name.clone(),
                        cron,
                        min: a.min,
                        max: a.max,
                        next: None,
                    };
                    s.next = s.after(scenario, 0, true);
                    me.schedule.push(s);
                }
                _ => me.left_out.push(format!(
                    "scheduled action \"{}\" ({}{}): only cron() in UTC is replayed",
                    a.name,
                    a.schedule,
                    a.timezone.as_deref().map_or(String::new(), |z| format!(", {z}"))
                )),
            }
        }
        Ok(me)
    }

    fn add(&mut self, name: &str, kind: &PolicyKind, bounds: (u32, u32), scenario: &Scenario) {
        match kind {
            PolicyKind::TargetTracking(tt) => match tt.metric.measure() {
                Some(measure) => {
                    let resolution = if tt.metric.high_resolution() {
                        Resolution::TwentySeconds
                    } else {
                        Resolution::OneMinute
                    };
                    let cooldown = |c: Option<u32>| c.map_or(TargetTracking::DEFAULT_COOLDOWN, u64::from);
                    self.tracking.push(
                        TargetTracking::tracking(measure, tt.target, resolution, bounds).with_cooldowns(
                            cooldown(tt.scale_out_cooldown),
                            cooldown(tt.scale_in_cooldown),
                            tt.disable_scale_in,
                        ),
                    );
                }
                None => self.left_out.push(format!(
                    "target tracking \"{name}\": its metric is not one the simulator produces"
                )),
            },
            PolicyKind::Step(step) => match step.alarm.as_ref().and_then(|a| Some((a.metric.measure()?, a))) {
                Some((measure, alarm)) if alarm.breached(0.0).is_some() => self.steps.push(StepPolicy {
                    name: name.to_string(),
                    measure,
                    policy: step.clone(),
                    alarm: alarm.clone(),
                    last: None,
                }),
                _ => self.left_out.push(format!(
                    "step scaling \"{name}\": no alarm on a metric the simulator produces"
                )),
            },
            PolicyKind::Predictive(p) if p.mode == "ForecastAndScale" => {
                let measure = match p.metric_pair.as_deref() {
                    Some("ALBRequestCount") => Measure::RequestsPerTarget,
                    Some("ECSServiceCPUUtilization") => Measure::Cpu,
                    Some("ECSServiceMemoryUtilization") => Measure::Memory,
                    _ => {
                        self.left_out.push(format!(
                            "predictive scaling \"{name}\": customized metrics are not replayed"
                        ));
                        return;
                    }
                };
                let buffer = p.scheduling_buffer.map_or(DEFAULT_BUFFER, u64::from);
                let per_task = predictive::per_task(measure, p.target, scenario);
                self.plan = Some(HourlyPlan::new(
                    scenario,
                    Forecaster::Seasonal,
                    per_task,
                    buffer,
                    bounds,
                ));
            }
            PolicyKind::Predictive(_) => self.left_out.push(format!(
                "predictive scaling \"{name}\": ForecastOnly never changes the count"
            )),
        }
    }

    /// What AWS holds that this run leaves out, and why.
    pub fn left_out(&self) -> &[String] {
        &self.left_out
    }

    fn set_bounds(&mut self, min: Option<u32>, max: Option<u32>) {
        self.max = max.unwrap_or(self.max);
        self.min = min.unwrap_or(self.min).min(self.max);
        for tt in &mut self.tracking {
            tt.set_bounds(self.min, self.max);
        }
        if let Some(plan) = &mut self.plan {
            plan.set_bounds(self.min, self.max);
        }
    }

    /// Scheduled actions due at `t`, in order; the reason of the last, if any fired.
    fn scheduled(&mut self, scenario: &Scenario, t: u64) -> Option<String> {
        let mut fired = None;
        for k in 0..self.schedule.len() {
            let s = &mut self.schedule[k];
            if s.next.is_none_or(|n| n > t) {
                continue;
            }
            s.next = s.after(scenario, t, false);
            let (name, min, max) = (s.name.clone(), s.min, s.max);
            self.set_bounds(min, max);
            fired = Some(format!(
                "scheduled action \"{name}\": min {}, max {}",
                self.min, self.max
            ));
        }
        fired
    }

    /// The step policies' verdict at `t`: the largest count any breached alarm's step asks for.
    fn stepped(&mut self, world: &World, scenario: &Scenario, t: u64) -> Option<(u32, String, usize)> {
        let desired = world.desired();
        let mut best: Option<(u32, String, usize)> = None;
        for (k, p) in self.steps.iter().enumerate() {
            let cooled = p.last.is_none_or(|l| t >= l + p.policy.cooldown.map_or(0, u64::from));
            // CloudWatch evaluates a standard alarm every minute, a high-resolution one every 10 s.
            let evaluates = if p.alarm.period >= 60 {
                t % 60 == 20
            } else {
                t.is_multiple_of(10)
            };
            if !cooled || !evaluates {
                continue;
            }
            let Some((to, why)) = p.verdict(world, scenario, t, desired) else {
                continue;
            };
            let to = to.clamp(self.min, self.max);
            if to != desired && best.as_ref().is_none_or(|b| to > b.0) {
                best = Some((to, why, k));
            }
        }
        best
    }

    /// The dynamic policies' count at `t`, with why, and the target-tracking policies whose
    /// cooldowns it starts.
    fn dynamic(&mut self, world: &World, scenario: &Scenario, t: u64) -> Option<(u32, String, Vec<usize>)> {
        let desired = world.desired();
        let highs: Vec<(usize, (u32, String))> = self
            .tracking
            .iter()
            .enumerate()
            .filter(|(_, tt)| tt.evaluates_at(scenario, t))
            .filter_map(|(k, tt)| Some((k, tt.high(world, scenario, t)?)))
            .collect();
        let out = highs.iter().map(|(_, c)| c.clone()).max_by_key(|(to, _)| *to);
        let stepped = self.stepped(world, scenario, t);
        if let Some((_, _, k)) = &stepped {
            self.steps[*k].last = Some(t);
        }
        let stepped = stepped.map(|(to, why, _)| (to, why));
        let fired: Vec<usize> = highs.iter().map(|(k, _)| *k).collect();
        match (out, stepped) {
            (Some(a), Some(b)) if b.0 > a.0 => return Some((b.0, b.1, fired)),
            (Some(a), _) => return Some((a.0, a.1, fired)),
            (None, Some(b)) => return Some((b.0, b.1, Vec::new())),
            (None, None) => {}
        }
        // In only when every policy that may scale in is ready to, to the largest count any asks for.
        let enabled: Vec<usize> = (0..self.tracking.len())
            .filter(|k| !self.tracking[*k].scale_in_disabled())
            .collect();
        if !enabled.iter().any(|k| self.tracking[*k].evaluates_at(scenario, t)) {
            return None;
        }
        let ready: Option<Vec<(u32, String)>> = enabled
            .iter()
            .map(|k| self.tracking[*k].low(world, scenario, t))
            .collect();
        let (to, why) = ready?.into_iter().max_by_key(|(to, _)| *to)?;
        (to < desired).then_some((to, why, enabled))
    }
}

impl Scheduled {
    /// The next firing at or after second `t` (strictly after it unless `inclusive`).
    fn after(&self, scenario: &Scenario, t: u64, inclusive: bool) -> Option<u64> {
        let now = scenario.start + Duration::seconds(t as i64);
        let next = self.cron.find_next_occurrence(&now, inclusive).ok()?;
        u64::try_from((next - scenario.start).num_seconds()).ok()
    }
}

impl StepPolicy {
    /// The count the step the alarm's newest datapoint falls in asks for, if the alarm fires.
    fn verdict(&self, world: &World, scenario: &Scenario, t: u64, desired: u32) -> Option<(u32, String)> {
        let alarm = cloudwatch::Alarm {
            period: u64::from(self.alarm.period.max(10)),
            delay: scenario.cloudwatch.standard_delay,
            partial: false,
        };
        let series = cloudwatch::series_id(self.measure);
        let missing = |start| scenario.faults.datapoint_missing(scenario.seed, series, start);
        let n = self.alarm.evaluation_periods.max(1) as usize;
        let points = cloudwatch::alarm_datapoints(&world.seconds, self.measure, alarm, t, n, missing)?;
        // Response times are in seconds here as in CloudWatch, so thresholds compare as read.
        if !points.iter().all(|dp| self.alarm.breached(dp.value).unwrap_or(false)) {
            return None;
        }
        let over = points[0].value - self.alarm.threshold;
        let step = self
            .policy
            .steps
            .iter()
            .find(|s| s.lower.is_none_or(|l| over >= l) && s.upper.is_none_or(|u| over < u))?;
        let d = i64::from(desired);
        let adj = i64::from(step.adjustment);
        let to = match self.policy.adjustment_type.as_str() {
            "ExactCapacity" => adj,
            "PercentChangeInCapacity" => {
                let change = (d * adj) as f64 / 100.0;
                // AWS rounds a fractional change away from zero, and changes by one at least.
                let change = if change > 0.0 {
                    change.ceil().max(1.0)
                } else {
                    change.floor().min(-1.0)
                };
                d + change as i64
            }
            _ => d + adj,
        };
        Some((
            to.clamp(0, i64::from(u32::MAX)) as u32,
            format!(
                "step scaling \"{}\": alarm \"{}\" {:.1} against {}",
                self.name, self.alarm.name, points[0].value, self.alarm.threshold
            ),
        ))
    }
}

impl Scaler for ImportedAws {
    fn name(&self) -> String {
        "aws-imported".into()
    }

    fn tick(&mut self, world: &mut World, scenario: &Scenario, t: u64) -> Option<Change> {
        let scheduled = self.scheduled(scenario, t);
        let desired = world.desired();
        let mut change = self.dynamic(world, scenario, t);
        if let Some(plan) = &mut self.plan {
            // Predictive capacity is a floor: it raises, never lowers.
            let (hour, floor) = plan.floor(t);
            if floor > change.as_ref().map_or(desired, |c| c.0) {
                change = Some((floor, predictive::plan_reason(floor, hour), Vec::new()));
            }
        }
        // Application Auto Scaling holds the count within the bounds in force.
        let (to, reason, policies) = match change {
            Some((to, why, policies)) => (to.clamp(self.min, self.max), why, policies),
            None => (
                desired.clamp(self.min, self.max),
                scheduled.unwrap_or_else(|| "bounds".into()),
                Vec::new(),
            ),
        };
        if to == desired {
            return None;
        }
        // A failed UpdateService is retried at the next evaluation; no cooldown starts.
        world.set_desired(to, t).ok()?;
        for k in policies {
            self.tracking[k].changed(desired, to, t);
        }
        Some(Change {
            at: t,
            from: desired,
            to,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use autoscaler_core::migrate::scaling::{
        Alarm, AwsMetric, AwsPolicy, Predictive, ScalableTarget, ScheduledAction, Step, Suspended,
        TargetTracking as Tracking,
    };

    use super::*;
    use crate::migration::{self, TaskSize};

    /// A run from `start` for `hours` on one task's worth of capacity (1,000 req/s), the load
    /// `phases` of (second, req/s).
    fn scenario(start: &str, hours: u64, tasks: u32, phases: &[(u64, f64)]) -> Scenario {
        let mut text = format!(
            "start = \"{start}\"\nduration = \"{}s\"\n[service]\ninitial_tasks = {tasks}\ncapacity_rps = 1000\n\
             [traffic]\nkind = \"rate\"\nnoise = 0\n",
            hours * 3600
        );
        for (at, rate) in phases {
            text.push_str(&format!("[[traffic.phase]]\nat = \"{at}s\"\nrate = {rate}\n"));
        }
        crate::scenario::parse(Path::new("imported.toml"), &text).unwrap()
    }

    fn aws(policies: Vec<AwsPolicy>, scheduled: Vec<ScheduledAction>) -> AwsScaling {
        AwsScaling {
            resource_id: AwsScaling::resource_id("prod", "search"),
            target: Some(ScalableTarget {
                min: 1,
                max: 20,
                suspended: Suspended::NONE,
            }),
            policies,
            scheduled,
        }
    }

    fn tracking(name: &str, metric: &str, target: f64, disable_scale_in: bool) -> AwsPolicy {
        AwsPolicy {
            name: name.into(),
            kind: PolicyKind::TargetTracking(Tracking {
                metric: AwsMetric::Predefined {
                    name: metric.into(),
                    resource_label: None,
                },
                target,
                scale_out_cooldown: Some(60),
                scale_in_cooldown: Some(60),
                disable_scale_in,
            }),
        }
    }

    /// Predictive scaling "daily" on the CPU pair at 70 %.
    fn predictive(mode: &str, scheduling_buffer: Option<u32>) -> AwsPolicy {
        AwsPolicy {
            name: "daily".into(),
            kind: PolicyKind::Predictive(Predictive {
                mode: mode.into(),
                metric_pair: Some("ECSServiceCPUUtilization".into()),
                target: 70.0,
                scheduling_buffer,
                max_capacity_behavior: None,
            }),
        }
    }

    fn at(name: &str, schedule: &str, min: Option<u32>, max: Option<u32>) -> ScheduledAction {
        ScheduledAction {
            name: name.into(),
            schedule: schedule.into(),
            timezone: None,
            min,
            max,
        }
    }

    fn run(aws: &AwsScaling, scenario: &Scenario) -> crate::Run {
        let mut scaler = ImportedAws::new(aws, scenario).unwrap();
        crate::run(scenario, &mut scaler, &mut |_| {})
    }

    const CPU: &str = "ECSServiceAverageCPUUtilization";
    const REQUESTS: &str = "ALBRequestCountPerTarget";

    #[test]
    fn a_scheduled_action_changes_the_bounds_when_its_cron_fires_on_the_wall_clock() {
        // 05:30 UTC start: 08:00 is 9,000 s in, 09:00 is 12,600 s in.
        let s = scenario("2026-11-02T05:30:00Z", 5, 1, &[(0, 100.0)]);
        let config = aws(
            vec![tracking("cpu70", CPU, 70.0, false)],
            vec![
                at("morning", "cron(0 8 ? * * *)", Some(5), None),
                at("later", "cron(0 9 ? * * *)", Some(1), None),
            ],
        );
        let changes = run(&config, &s).changes;
        let first = changes.first().expect("the morning action raises the count");
        assert_eq!((first.at, first.to), (9000, 5), "{changes:?}");
        assert!(first.reason.contains("morning"), "{}", first.reason);
        // At 09:00 the minimum is 1 again; the low alarm, in alarm all along, gives tasks back.
        let back = changes.iter().find(|c| c.to < 5).expect("a scale-in after 09:00");
        assert!(back.at >= 12_600 && back.at < 12_600 + 120, "{back:?}");
        assert!(back.reason.starts_with("low alarm"), "{}", back.reason);
    }

    #[test]
    fn it_scales_in_only_when_every_policy_that_may_scale_in_is_ready() {
        // 200 req/s on 4 tasks: CPU far under 70 %, requests exactly at 3,000 per target a minute.
        let s = scenario("2026-11-02T00:00:00Z", 2, 4, &[(0, 200.0)]);
        let cpu = tracking("cpu70", CPU, 70.0, false);
        let scale_ins = |policies: Vec<AwsPolicy>| run(&aws(policies, vec![]), &s).summary.scale_ins;
        assert!(scale_ins(vec![cpu.clone()]) > 0, "CPU alone gives tasks back");
        assert_eq!(
            scale_ins(vec![cpu.clone(), tracking("requests", REQUESTS, 3000.0, false)]),
            0,
            "a policy at its target holds the count"
        );
        assert!(
            scale_ins(vec![cpu, tracking("requests", REQUESTS, 3000.0, true)]) > 0,
            "a policy with scale-in disabled does not hold it"
        );
    }

    fn step(evaluation_periods: u32) -> AwsPolicy {
        AwsPolicy {
            name: "cpu-steps".into(),
            kind: PolicyKind::Step(StepScaling {
                adjustment_type: "ExactCapacity".into(),
                cooldown: Some(300),
                steps: vec![Step {
                    lower: Some(0.0),
                    upper: None,
                    adjustment: 4,
                }],
                alarm: Some(Alarm {
                    name: "cpu-high".into(),
                    metric: AwsMetric::Custom {
                        namespace: "AWS/ECS".into(),
                        name: "CPUUtilization".into(),
                        dimensions: vec![],
                        statistic: "Average".into(),
                    },
                    comparison: "GreaterThanThreshold".into(),
                    threshold: 70.0,
                    period: 60,
                    evaluation_periods,
                }),
            }),
        }
    }

    #[test]
    fn a_step_policy_fires_after_its_alarm_breaches_for_its_datapoints() {
        let s = scenario("2026-11-02T00:00:00Z", 1, 1, &[(0, 100.0), (1800, 950.0)]);
        let first = |n| run(&aws(vec![step(n)], vec![]), &s).changes[0].clone();
        let (one, three) = (first(1), first(3));
        assert_eq!((one.to, three.to), (4, 4), "ExactCapacity sets the count");
        assert!(one.reason.contains("cpu-high"), "{}", one.reason);
        assert!(one.at > 1800 && one.at < 1800 + 180, "{one:?}");
        assert!(
            three.at >= one.at + 120,
            "three datapoints wait two minutes more: {} against {}",
            three.at,
            one.at
        );
    }

    #[test]
    fn predictive_scaling_raises_capacity_by_its_buffer_before_a_recurring_hour() {
        // A day-after-day hour of 6,000 req/s at 10:00; the imported policy's buffer is 10 min.
        let mut phases = vec![];
        for d in 0..3 {
            phases.extend([
                (d * 86_400, 600.0),
                (d * 86_400 + 36_000, 6000.0),
                (d * 86_400 + 39_600, 600.0),
            ]);
        }
        let s = scenario("2026-11-02T00:00:00Z", 72, 1, &phases);
        let predictive = predictive("ForecastAndScale", Some(600));
        let changes = run(&aws(vec![tracking("cpu70", CPU, 70.0, false), predictive], vec![]), &s).changes;
        let raised: Vec<u64> = changes
            .iter()
            .filter(|c| c.reason.starts_with("predictive scaling"))
            .map(|c| c.at)
            .collect();
        assert!(
            raised.iter().all(|t| *t >= 86_400),
            "no forecast before 24 h: {raised:?}"
        );
        assert!(raised.contains(&(86_400 + 36_000 - 600)), "{raised:?}");
        assert!(raised.contains(&(2 * 86_400 + 36_000 - 600)), "{raised:?}");
    }

    #[test]
    fn what_the_simulator_cannot_replay_is_named_not_replaced() {
        let s = scenario("2026-11-02T00:00:00Z", 1, 1, &[(0, 100.0)]);
        let custom = AwsPolicy {
            name: "queue".into(),
            kind: PolicyKind::TargetTracking(Tracking {
                metric: AwsMetric::Custom {
                    namespace: "Orders".into(),
                    name: "PendingJobs".into(),
                    dimensions: vec![],
                    statistic: "Average".into(),
                },
                target: 10.0,
                scale_out_cooldown: None,
                scale_in_cooldown: None,
                disable_scale_in: false,
            }),
        };
        let forecast_only = predictive("ForecastOnly", None);
        let mut local = at("local", "cron(0 8 ? * * *)", Some(3), None);
        local.timezone = Some("Europe/Berlin".into());
        let config = aws(
            vec![custom, forecast_only, tracking("cpu70", CPU, 70.0, false)],
            vec![at("hourly", "rate(1 hour)", Some(2), None), local],
        );
        let scaler = ImportedAws::new(&config, &s).unwrap();
        let left = scaler.left_out().join("\n");
        for name in ["\"queue\"", "\"daily\"", "\"hourly\"", "\"local\"", "Europe/Berlin"] {
            assert!(left.contains(name), "{name} missing from:\n{left}");
        }
        assert_eq!(scaler.tracking.len(), 1);
        let unregistered = AwsScaling { target: None, ..config };
        let err = ImportedAws::new(&unregistered, &s).err().unwrap();
        assert!(err.contains("not registered"), "{err}");
    }

    #[test]
    fn days_split_the_run_at_utc_midnight_and_price_it_at_fargate_rates() {
        let s = scenario("2026-11-02T23:00:00Z", 2, 3, &[(0, 100.0)]);
        let run = run(&aws(vec![], vec![]), &s);
        let size = TaskSize {
            vcpu: 0.5,
            memory_gb: 1.0,
        };
        let days = migration::days(&s, &run, size);
        assert_eq!(days.len(), 2, "{days:?}");
        assert_eq!(days[0].date.to_string(), "2026-11-02");
        assert_eq!(days[0].task_seconds, 3.0 * 3600.0, "min 1 with no policy keeps 3 tasks");
        let total: f64 = days.iter().map(|d| d.task_seconds).sum();
        assert_eq!(total, run.summary.task_seconds);
        let dollars = 3.0 * 2.0 * (0.5 * migration::VCPU_HOUR + migration::GB_HOUR);
        assert!((days.iter().map(|d| d.dollars).sum::<f64>() - dollars).abs() < 1e-9);
    }
}

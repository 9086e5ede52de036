//! Predictive pre-scaling through the decision core: a service with an office-hours
//! pattern, driven minute by minute for days on a clock given as an argument.

mod common;

use autoscaler_core::decide::{Capacity, Controller, Decision, ForecastStatus, LimitKind, Outcome, Reading, Sample};
use chrono::{DateTime, Duration, Utc};
use common::*;

const DAY: i64 = 1440;
/// Requests per second a task is aimed at.
const PER_TASK: f64 = 1000.0;
/// Seconds from a desired-count change to the new tasks serving.
const START_UP: i64 = 90;

/// 1,000 req/s at night, 5,000 from 09:00 to 17:00, every day but a `holiday`; with a
/// `lunch` dip back to 1,000 from 12:00 to 12:06.
fn office(minute: i64, holiday: Option<i64>, lunch: bool) -> f64 {
    let day = minute.div_euclid(DAY);
    let of_day = minute.rem_euclid(DAY);
    let dip = lunch && (720..726).contains(&of_day);
    if Some(day) != holiday && (540..1020).contains(&of_day) && !dip {
        5000.0
    } else {
        1000.0
    }
}

fn predict_policy(mode: &str) -> autoscaler_core::policy::Policy {
    let predict = if mode.is_empty() {
        String::new()
    } else {
        format!("[predict]\nmode = \"{mode}\"\n")
    };
    policy(&format!(
        "min = 1\nmax = 20\ninterval = \"60s\"\n[scale_in]\nstabilization = \"2m\"\n[scale_out]\ncooldown = \"5m\"\n\
         [[rule]]\nname = \"demand\"\nmetric = \"request_rate\"\nnamespace = \"S\"\nmetric_name = \"Arrivals\"\ntarget = {PER_TASK}\nperiod = \"60s\"\nmax_age = \"180s\"\n\
         {predict}"
    ))
}

/// Midnight of the first day.
fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(t0().timestamp().div_euclid(86_400) * 86_400, 0).unwrap()
}

/// The service: tasks start `START_UP` after the count is raised, stop at once.
struct World {
    controller: Controller,
    desired: u32,
    running: u32,
    raised_at: Option<DateTime<Utc>>,
    /// Minutes the load was above what the running tasks serve at their target × 1.2.
    under_served: Vec<i64>,
    decisions: Vec<Decision>,
    lunch: bool,
}

impl World {
    fn new(mode: &str) -> Self {
        Self {
            controller: Controller::new(predict_policy(mode)),
            desired: 1,
            running: 1,
            raised_at: None,
            under_served: vec![],
            decisions: vec![],
            lunch: false,
        }
    }

    /// Runs minutes `[from, to)`, keeping decisions from `keep_from` on.
    fn run(&mut self, from: i64, to: i64, keep_from: i64, holiday: Option<i64>) {
        for m in from..to {
            let now = epoch() + Duration::minutes(m);
            if self.running > self.desired {
                self.running = self.desired;
            }
            if self.running < self.desired && self.raised_at.is_some_and(|t| now - t >= Duration::seconds(START_UP)) {
                self.running = self.desired;
            }
            let load = office(m - 1, holiday, self.lunch);
            if load > f64::from(self.running) * PER_TASK * 1.2 {
                self.under_served.push(m);
            }
            let capacity = Capacity {
                desired: self.desired,
                running: self.running,
                pending: self.desired - self.running,
                deployment_in_progress: false,
                revision: 0,
            };
            let reading = Sample::Value(Reading {
                value: load / f64::from(self.running),
                at: now - Duration::seconds(60),
                base: Some(self.running),
            });
            let d = self.controller.evaluate(&obs(capacity, &[("demand", reading)]), now);
            if d.should_apply() {
                if d.desired > self.desired {
                    self.raised_at = Some(now);
                }
                self.desired = d.desired;
                self.controller.settle(&d, Outcome::Applied, now);
            }
            if m >= keep_from {
                self.decisions.push(d);
            }
        }
    }

    fn at(&self, minute: i64) -> &Decision {
        let t = epoch() + Duration::minutes(minute);
        self.decisions
            .iter()
            .find(|d| d.at == t)
            .expect("a decision at that minute")
    }
}

/// 08:00 of day `d`.
fn morning(d: i64) -> i64 {
    d * DAY + 480
}

#[test]
fn without_two_days_of_history_nothing_is_forecast() {
    let mut w = World::new("scale");
    w.run(0, DAY + 600, 0, None);
    let d = w.at(DAY + 535);
    let f = d
        .forecast
        .as_ref()
        .expect("a predicting policy says what the forecast did");
    assert_eq!(f.status, ForecastStatus::NoHistory, "{}", f.reason);
    assert!(!d.limited_by(LimitKind::Forecast));
    // The step on day 2 is met reactively: late.
    assert!(w.under_served.iter().any(|m| (DAY + 540..DAY + 545).contains(m)));
}

#[test]
fn a_recurring_step_finds_its_capacity_already_running() {
    let mut w = World::new("scale");
    w.run(0, 3 * DAY + 600, morning(3), None);
    // Before 09:00 the count is already up, and the decision says why.
    let before = w.at(3 * DAY + 538);
    let f = before.forecast.as_ref().unwrap();
    assert_eq!(f.status, ForecastStatus::Applied, "{}", f.reason);
    assert!(f.lead_measured, "the lead comes from measured start-ups: {}", f.reason);
    assert!(before.limited_by(LimitKind::Forecast), "{}", before.explain());
    assert!(w.running >= 5);
    let raised = w
        .decisions
        .iter()
        .find(|d| d.desired >= 5)
        .map(|d| (d.at - epoch()).num_minutes())
        .unwrap();
    assert!(
        (3 * DAY + 535..3 * DAY + 539).contains(&raised),
        "raised at minute {} of the day, not lead-early",
        raised - 3 * DAY
    );
    let late: Vec<i64> = w.under_served.iter().filter(|m| **m >= 3 * DAY).copied().collect();
    assert!(late.is_empty(), "under-served minutes on day 4: {late:?}");
    let p = w.controller.history.predict.as_ref().unwrap();
    assert!(p.held_task_seconds > 0.0);
    assert_eq!(p.wasted_task_seconds, 0.0, "a forecast that came true wasted nothing");
    // The rules alone are late at the same step.
    let mut reactive = World::new("");
    reactive.run(0, 3 * DAY + 600, morning(3), None);
    assert!(reactive.under_served.iter().any(|m| *m >= 3 * DAY + 540));
    assert!(reactive.at(3 * DAY + 538).forecast.is_none());
}

#[test]
fn forecast_only_shows_the_floor_and_changes_nothing() {
    let mut shown = World::new("forecast_only");
    let mut reactive = World::new("");
    shown.run(0, 3 * DAY + 600, morning(3), None);
    reactive.run(0, 3 * DAY + 600, morning(3), None);
    let d = shown.at(3 * DAY + 538);
    let f = d.forecast.as_ref().unwrap();
    assert_eq!(f.status, ForecastStatus::ForecastOnly, "{}", f.reason);
    assert_eq!(f.floor, Some(5), "{}", f.reason);
    let counts = |w: &World| w.decisions.iter().map(|d| d.desired).collect::<Vec<_>>();
    assert_eq!(counts(&shown), counts(&reactive));
}

#[test]
fn a_holiday_retracts_the_floor_within_three_rounds_and_counts_the_waste() {
    let mut w = World::new("scale");
    w.run(0, 3 * DAY + 660, morning(3), Some(3));
    assert!(w.at(3 * DAY + 538).limited_by(LimitKind::Forecast));
    let retracted = w
        .decisions
        .iter()
        .find(|d| {
            d.forecast
                .as_ref()
                .is_some_and(|f| f.status == ForecastStatus::Retracted)
        })
        .map(|d| (d.at - epoch()).num_minutes() - 3 * DAY)
        .expect("the floor is retracted");
    assert!((541..=544).contains(&retracted), "retracted at minute {retracted}");
    let last = w.decisions.last().unwrap();
    assert_eq!(last.desired, 1, "the tasks are given back: {}", last.explain());
    let wasted = last.forecast.as_ref().unwrap().wasted_task_seconds;
    assert!(wasted > 0.0, "the floor's waste is counted");
}

#[test]
fn a_dip_shorter_than_the_lead_and_cooldown_keeps_its_tasks() {
    // Every day at 12:00 the load dips for 6 minutes. The rules alone give tasks back
    // after the 2-minute stabilization and are short when the load returns; the forecast
    // needs them again within lead + interval + the 5-minute scale-out cooldown.
    let noon = 3 * DAY + 720;
    let run = |mode: &str| {
        let mut w = World::new(mode);
        w.lunch = true;
        w.run(0, noon + 30, noon - 5, None);
        w
    };
    let (predicted, reactive) = (run("scale"), run(""));
    let low = |w: &World| w.decisions.iter().map(|d| d.desired).min().unwrap();
    assert!(low(&reactive) < 5, "the rules alone scale in during the dip");
    assert_eq!(low(&predicted), 5, "the forecast keeps the tasks");
    assert!(predicted.decisions.iter().any(|d| {
        d.limits
            .iter()
            .any(|l| l.kind == LimitKind::Forecast && l.detail.starts_with("scale-in held"))
    }));
    assert!(reactive.under_served.iter().any(|m| (noon + 6..noon + 12).contains(m)));
    assert!(
        !predicted.under_served.iter().any(|m| *m >= noon - 5),
        "{:?}",
        predicted.under_served
    );
}

#[test]
fn the_forecast_state_survives_the_state_store() {
    let mut w = World::new("scale");
    w.run(0, 3 * DAY + 600, morning(3), None);
    let json = serde_json::to_string(&w.controller.history).unwrap();
    let back: autoscaler_core::decide::History = serde_json::from_str(&json).unwrap();
    assert_eq!(back.predict, w.controller.history.predict, "values are held as stored");
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    // 3.4 days of minutes: 16-bit values, base64.
    assert!(json.len() < 30_000, "history of 3.4 days is {} bytes", json.len());
}

#[test]
fn history_loaded_at_start_forecasts_at_once_and_keeps_the_rounds_own_minutes() {
    // A new daemon: no history of its own, three days loaded from the backend.
    let policy = predict_policy("scale");
    assert!(autoscaler_core::decide::PredictState::wants_history(&policy, None));
    let loaded: Vec<(DateTime<Utc>, f64)> = (0..3 * DAY + 530)
        .map(|m| (epoch() + Duration::minutes(m), office(m, None, false)))
        .collect();
    let mut w = World::new("scale");
    // Two rounds of its own first, then the load arrives.
    w.run(3 * DAY + 530, 3 * DAY + 532, 0, None);
    let own = w.controller.history.predict.clone().unwrap();
    w.controller.history.predict.as_mut().unwrap().seed(&policy, &loaded);
    let p = w.controller.history.predict.as_ref().unwrap();
    assert!(!autoscaler_core::decide::PredictState::wants_history(&policy, Some(p)));
    assert_eq!(p.series.start(), autoscaler_core::decide::minute_of(epoch()));
    assert_eq!(p.series.end(), own.series.end(), "the rounds' own minutes are kept");
    w.run(3 * DAY + 532, 3 * DAY + 545, 3 * DAY + 532, None);
    let d = w.at(3 * DAY + 538);
    assert!(d.limited_by(LimitKind::Forecast), "{}", d.explain());
}

#[test]
fn a_confident_forecast_lends_its_share_only_while_it_is_applied_and_holds() {
    use autoscaler_core::decide::predict_confident_share as confident;
    let with = |mode: &str| {
        policy(&format!(
            "min = 1\nmax = 20\ninterval = \"60s\"\n\
         [[rule]]\nname = \"demand\"\nmetric = \"request_rate\"\nnamespace = \"S\"\nmetric_name = \"Arrivals\"\ntarget = {PER_TASK}\nperiod = \"60s\"\n\
         [predict]\nmode = \"{mode}\"\nconfident_share = 0.85\n"
        ))
    };
    let mut w = World::new("scale");
    w.run(0, 3 * DAY + 600, 3 * DAY + 599, None);
    let state = w.controller.history.predict.clone().unwrap();
    assert!(state.fit.is_some_and(|f| f.error_p90 <= 0.1), "{:?}", state.fit);
    assert_eq!(confident(&with("scale"), Some(&state)), Some(0.85));
    assert_eq!(
        confident(&with("forecast_only"), Some(&state)),
        None,
        "only a floor in force lends it"
    );
    assert_eq!(
        confident(&predict_policy("scale"), Some(&state)),
        None,
        "off unless set"
    );
    assert_eq!(confident(&with("scale"), None), None, "no history, no confidence");
    let mut retracted = state.clone();
    retracted.retracted_since = Some(epoch());
    assert_eq!(
        confident(&with("scale"), Some(&retracted)),
        None,
        "a retracted floor lends nothing"
    );
    let mut unsure = state;
    unsure.fit = unsure
        .fit
        .map(|f| autoscaler_core::decide::Backtest { error_p90: 0.2, ..f });
    assert_eq!(confident(&with("scale"), Some(&unsure)), None);
}

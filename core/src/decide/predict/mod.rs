//! Predictive pre-scaling: a floor from forecast demand, guarded against false
//! prediction.
//!
//! - The load of the policy's `[predict] rule` (its per-task value × tasks) goes into a
//!   minute series kept in the history (`series.rs`).
//! - Every half hour the seasons are backtested on the service's own last day; the one that
//!   erred least is kept with its error (`forecast.rs`).
//! - Each round the peak demand forecast over the lead (the start-up time this policy has
//!   measured, plus one interval) gives a floor: the count that peak needs at the rule's
//!   target. It applies only while the backtest error is at most `max_error`, sized by
//!   the backtest's bias, and never more than the limits above the reactive count.
//! - Tasks the forecast needs again within lead + scale-out cooldown are not given back.
//! - Load well below the forecast for three rounds retracts the floor; the task-seconds
//!   it held meanwhile are accounted as wasted.

pub mod forecast;
pub mod series;
pub mod verdict;

pub use verdict::{ForecastStatus, ForecastVerdict};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use self::forecast::Backtest;
use self::series::{Minute, Series, minute_of};
use super::types::{Capacity, Limit, LimitKind, Observation, RuleVerdict, Sample};
use crate::policy::{Lead, Policy, Predict, PredictMode};

/// How often the seasons are backtested again (minutes).
const REFIT: Minute = 30;
/// Start-ups remembered for the lead, and the fewest that count.
const STARTUPS: usize = 20;
const MIN_STARTUPS: usize = 3;
/// Load below this share of the forecast, this many rounds running, retracts the floor;
/// back above `RESUME` of it, or an hour on, the floor may return.
const RETRACT: f64 = 0.7;
const RETRACT_ROUNDS: u32 = 3;
const RESUME: f64 = 0.85;
const RETRACT_FOR: i64 = 3600;

/// What prediction remembers, in the policy's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PredictState {
    pub series: Series,
    /// The newest datapoint recorded (one datapoint is recorded once).
    #[serde(default)]
    pub last_reading: Option<DateTime<Utc>>,
    #[serde(default)]
    pub fit: Option<Backtest>,
    #[serde(default)]
    pub fit_at: Option<Minute>,
    /// Seconds from a scale-out to its tasks running, newest last.
    #[serde(default)]
    pub startups: Vec<f64>,
    /// A scale-out whose tasks are not all running yet: when, and to how many.
    #[serde(default)]
    pub starting: Option<(DateTime<Utc>, u32)>,
    #[serde(default)]
    pub misses: u32,
    #[serde(default)]
    pub retracted_since: Option<DateTime<Utc>>,
    /// Task-seconds floors held above the reactive count: in total, in floors later
    /// retracted, and in the episode under way.
    #[serde(default)]
    pub held_task_seconds: f64,
    #[serde(default)]
    pub wasted_task_seconds: f64,
    #[serde(default)]
    pub episode_task_seconds: f64,
}

/// A backtest p90 error within this is confident enough to trade headroom for forecast.
const CONFIDENT: f64 = 0.1;

/// The share of the knee learning rules aim at while the forecast is confident: the
/// policy's `confident_share` when it predicts with `mode = "scale"`, the last backtest's
/// p90 error is within [`CONFIDENT`] and no floor is retracted. None otherwise.
pub fn confident_share(policy: &Policy, state: Option<&PredictState>) -> Option<f64> {
    let p = policy.predict.as_ref().filter(|p| p.mode == PredictMode::Scale)?;
    let share = p.confident_share?;
    let s = state?;
    let fit = s.fit?;
    (fit.error_p90 <= CONFIDENT && s.retracted_since.is_none()).then_some(share)
}

/// The lead at `now`: the p90 of measured start-ups, else the default.
pub fn lead(p: &Predict, state: Option<&PredictState>) -> (f64, bool) {
    match p.lead {
        Lead::Fixed(d) => (d.as_secs_f64(), false),
        Lead::Auto => {
            let mut s: Vec<f64> = state.map_or(vec![], |s| s.startups.clone());
            if s.len() < MIN_STARTUPS {
                return (Predict::DEFAULT_LEAD.as_secs_f64(), false);
            }
            s.sort_by(f64::total_cmp);
            (s[(s.len() * 9).div_ceil(10) - 1], true)
        }
    }
}

/// Minutes a floor looks ahead: the lead and one interval, whole minutes.
fn horizon(policy: &Policy, lead_s: f64) -> Minute {
    ((lead_s + policy.interval.as_secs_f64()) / 60.0).ceil().max(1.0) as Minute
}

/// The predicting rule's reading: total demand and its time.
fn demand(p: &Predict, obs: &Observation) -> Option<(f64, DateTime<Utc>)> {
    match obs.metrics.get(&p.rule)? {
        Sample::Value(r) if r.value.is_finite() && r.value >= 0.0 => {
            let tasks = r.base.unwrap_or(obs.capacity.running).max(1);
            Some((r.value * f64::from(tasks), r.at))
        }
        _ => None,
    }
}

/// Tasks `demand` needs at `per_task` each. Half a percent is forgiven: the stored series
/// is precise to 0.05 %, and 5,001 requests at 1,000 a task are five tasks' work.
fn needs(demand: f64, per_task: f64) -> u32 {
    if per_task <= 0.0 {
        return 0;
    }
    (demand / per_task * 0.995).ceil().max(0.0) as u32
}

/// What the forecast says for this decision; None when the policy does not predict.
pub fn verdict(
    policy: &Policy,
    obs: &Observation,
    history: Option<&PredictState>,
    rules: &[RuleVerdict],
    reactive: u32,
    now: DateTime<Utc>,
) -> Option<ForecastVerdict> {
    let p = policy.predict.as_ref()?;
    let (lead_s, lead_measured) = lead(p, history);
    let reading = demand(p, obs);
    let per_task = rules.iter().find(|r| r.rule == p.rule).map_or(0.0, |r| r.target);
    let mut v = ForecastVerdict {
        status: ForecastStatus::NoHistory,
        floor: None,
        keep: None,
        demand: None,
        peak_at: None,
        actual: reading.map(|d| d.0),
        actual_at: reading.map(|d| d.1),
        season: None,
        error_p90: None,
        lead_s,
        lead_measured,
        reactive,
        wasted_task_seconds: history.map_or(0.0, |h| h.wasted_task_seconds),
        reason: String::new(),
    };
    if p.mode == PredictMode::Off {
        v.status = ForecastStatus::Off;
        v.reason = "prediction off: the demand is recorded, nothing is forecast".into();
        return Some(v);
    }
    let empty = Series::default();
    let series = history.map_or(&empty, |h| &h.series);
    let Some(fit) = history.and_then(|h| h.fit) else {
        v.reason = format!(
            "no forecast: {:.1} h of history, a season needs two whole cycles (and a day to backtest)",
            series.known() as f64 / 60.0
        );
        return Some(v);
    };
    v.error_p90 = Some(fit.error_p90);
    let m = minute_of(now);
    let h = horizon(policy, lead_s);
    let Some(peak) = forecast::peak(series, fit.season, m, m + h, series.end().min(m + 1)) else {
        v.reason = "no forecast: the history has gaps where this season needs cycles".into();
        return Some(v);
    };
    let bias = fit.bias.clamp(0.8, 1.25);
    let peak_demand = peak.demand * bias;
    v.demand = Some(peak_demand);
    v.peak_at = DateTime::from_timestamp(peak.at * 60, 0);
    v.season = Some(fit.season.describe(peak.cycles));
    let keep_h = h + (policy.scale_out.cooldown.as_secs() / 60) as Minute;
    let keep_demand = forecast::peak(series, fit.season, m, m + keep_h, series.end().min(m + 1))
        .map_or(peak_demand, |k| k.demand * bias);
    let cap = |n: u32| {
        let share = p
            .max_share_above
            .map_or(u32::MAX, |a| (f64::from(reactive.max(1)) * (1.0 + a)).floor() as u32);
        let by_tasks = p.max_tasks_above.map_or(u32::MAX, |a| reactive.saturating_add(a));
        n.min(share).min(by_tasks)
    };
    v.floor = Some(cap(needs(peak_demand, per_task)));
    v.keep = Some(cap(needs(keep_demand.max(peak_demand), per_task)));
    let text = format!(
        "predictive floor {}: {:.0} forecast at {} from {}, backtest error p90 {:.0} %, lead {:.0} s{}",
        v.floor.unwrap_or(0),
        peak_demand,
        v.peak_at.map_or("-".into(), |t| t.format("%H:%M").to_string()),
        v.season.as_deref().unwrap_or("-"),
        fit.error_p90 * 100.0,
        lead_s,
        if lead_measured {
            " (measured)"
        } else {
            " (default until measured)"
        }
    );
    let retracted = history.and_then(|h| h.retracted_since).is_some();
    (v.status, v.reason) = if v.actual.is_none() {
        (
            ForecastStatus::NoData,
            format!("{text}; not applied: the rule has no reading"),
        )
    } else if fit.error_p90 > p.max_error {
        (
            ForecastStatus::NotConfident,
            format!(
                "{text}; not applied: error above max_error {:.0} %",
                p.max_error * 100.0
            ),
        )
    } else if retracted {
        (
            ForecastStatus::Retracted,
            format!(
                "{text}; retracted: the load stayed below {:.0} % of the forecast",
                RETRACT * 100.0
            ),
        )
    } else if p.mode == PredictMode::ForecastOnly {
        (
            ForecastStatus::ForecastOnly,
            format!("{text} (forecast only: nothing is changed)"),
        )
    } else {
        (ForecastStatus::Applied, text)
    };
    Some(v)
}

/// The rules' recommendation with the forecast in force: raised to the floor, and a
/// scale-in stopped at the count the forecast needs again soon.
pub fn apply(v: &ForecastVerdict, recommendation: u32, current: u32, limits: &mut Vec<Limit>) -> u32 {
    if !v.in_force() {
        return recommendation;
    }
    let floor = v.floor.unwrap_or(0);
    if floor > recommendation {
        limits.push(Limit {
            kind: LimitKind::Forecast,
            detail: v.reason.clone(),
        });
        return floor;
    }
    let keep = v.keep.unwrap_or(0).min(current);
    if recommendation < current && keep > recommendation {
        limits.push(Limit {
            kind: LimitKind::Forecast,
            detail: format!(
                "scale-in held at {keep}: the forecast needs {keep} again within the lead and the scale-out cooldown ({})",
                v.reason
            ),
        });
        return keep;
    }
    recommendation
}

impl PredictState {
    /// Records one evaluation: the demand reading, a start-up that completed, the
    /// retraction check and the floor's cost; backtests again when due.
    pub fn record(&mut self, policy: &Policy, verdict: &ForecastVerdict, capacity: Capacity, now: DateTime<Utc>) {
        let Some(p) = policy.predict.as_ref() else { return };
        if let (Some(value), Some(at)) = (verdict.actual, verdict.actual_at)
            && at <= now
            && self.last_reading.is_none_or(|l| at > l)
        {
            self.series.add(minute_of(at), value, p.minutes());
            self.last_reading = Some(at);
        }
        // A scale-in (or an outside change) below the count being started ends the timing:
        // those tasks will never all run.
        if self.starting.is_some_and(|(_, to)| capacity.desired < to) {
            self.starting = None;
        }
        if let Some((since, to)) = self.starting
            && capacity.running >= to
        {
            self.startups.push((now - since).num_milliseconds() as f64 / 1000.0);
            let extra = self.startups.len().saturating_sub(STARTUPS);
            self.startups.drain(..extra);
            self.starting = None;
        }
        self.check_retraction(Some(verdict), policy, now);
        let m = minute_of(now);
        // Refits are spread over the half hour by the policy's name: a daemon with a
        // thousand policies started together must not backtest them all in one round.
        let stagger = policy.name.bytes().fold(0i64, |h, b| (h * 31 + i64::from(b)) % REFIT);
        if self.fit_at.is_none_or(|f| m - f >= REFIT + stagger || m < f) {
            let (lead_s, _) = lead(p, Some(self));
            self.fit = forecast::best(&self.series, self.series.end().min(m + 1), horizon(policy, lead_s));
            self.fit_at = Some(m);
        }
    }

    fn check_retraction(&mut self, verdict: Option<&ForecastVerdict>, policy: &Policy, now: DateTime<Utc>) {
        let Some(v) = verdict else { return };
        let expected = self.fit.and_then(|f| {
            let m = self.series.end() - 1;
            forecast::at(&self.series, f.season, m, m)
        });
        let ratio = match (v.actual, expected) {
            (Some(a), Some(e)) if e > 0.0 => Some(a / e),
            _ => None,
        };
        if let Some(since) = self.retracted_since {
            if ratio.is_some_and(|r| r >= RESUME) || (now - since).num_seconds() >= RETRACT_FOR || now < since {
                self.retracted_since = None;
                self.misses = 0;
            }
            return;
        }
        // Only a floor that holds tasks the rules would not can be wrong at a cost.
        let binding = v.floor.is_some_and(|f| f > v.reactive) && matches!(v.status, ForecastStatus::Applied);
        if binding {
            let extra = f64::from(v.floor.unwrap_or(0) - v.reactive);
            let cost = extra * policy.interval.as_secs_f64();
            self.held_task_seconds += cost;
            self.episode_task_seconds += cost;
        } else {
            self.episode_task_seconds = 0.0;
        }
        if binding && ratio.is_some_and(|r| r < RETRACT) {
            self.misses += 1;
        } else {
            self.misses = 0;
        }
        if self.misses >= RETRACT_ROUNDS {
            self.retracted_since = Some(now);
            self.wasted_task_seconds += self.episode_task_seconds;
            self.episode_task_seconds = 0.0;
        }
    }

    /// Per minute from `back` minutes before `now` to `ahead` after it: the demand seen, and
    /// what the kept season forecast for that minute (for a past minute, with only what
    /// was known before it). For the status page's chart.
    pub fn curve(
        &self,
        now: DateTime<Utc>,
        back: Minute,
        ahead: Minute,
    ) -> Vec<(DateTime<Utc>, Option<f64>, Option<f64>)> {
        let m = minute_of(now);
        let known = self.series.end().min(m + 1);
        (m - back..m + ahead)
            .filter_map(|x| {
                let forecast = self
                    .fit
                    .and_then(|f| forecast::at(&self.series, f.season, x, x.min(known)));
                Some((DateTime::from_timestamp(x * 60, 0)?, self.series.get(x), forecast))
            })
            .collect()
    }

    /// Whether the series is too short to forecast from: a new policy, or a state store
    /// that held none. The shell then loads what the backend remembers (CloudWatch's
    /// last days) once.
    pub fn wants_history(policy: &Policy, state: Option<&PredictState>) -> bool {
        policy.predict.as_ref().is_some_and(|p| {
            let enough = (2 * forecast::DAY).min(p.minutes() as Minute);
            state.is_none_or(|s| (s.series.known() as Minute) < enough)
        })
    }

    /// Puts older demand (minute, value) in front of what the series holds: the history a
    /// backend remembers, loaded at start. Minutes the series already has are kept as
    /// they are; the seasons are backtested again at the next round.
    pub fn seed(&mut self, policy: &Policy, points: &[(DateTime<Utc>, f64)]) {
        let Some(p) = policy.predict.as_ref() else { return };
        let keep = p.minutes();
        let held_from = (!self.series.is_empty()).then(|| self.series.start());
        let mut older: Vec<(Minute, f64)> = points
            .iter()
            .map(|(t, v)| (minute_of(*t), *v))
            .filter(|(m, _)| held_from.is_none_or(|h| *m < h))
            .collect();
        older.sort_by_key(|p| p.0);
        if older.is_empty() {
            return;
        }
        let mut merged = Series::default();
        for (m, v) in older {
            merged.add(m, v, keep);
        }
        for m in self.series.start()..self.series.end() {
            if let Some(v) = self.series.get(m) {
                merged.add(m, v, keep);
            }
        }
        self.last_reading = self.last_reading.max(points.iter().map(|p| p.0).max());
        self.series = merged;
        self.fit = None;
        self.fit_at = None;
    }

    /// A scale-out was applied: its tasks' start-up is timed.
    pub fn started(&mut self, at: DateTime<Utc>, to: u32) {
        if self.starting.is_none() {
            self.starting = Some((at, to));
        }
    }

    /// Times after `limit` (from a state file or a peer ahead of this clock) are dropped.
    pub fn restored(&mut self, limit: DateTime<Utc>) {
        let ahead = |t: DateTime<Utc>| t > limit;
        if self.last_reading.is_some_and(ahead) {
            self.last_reading = None;
        }
        if self.starting.is_some_and(|s| ahead(s.0)) {
            self.starting = None;
        }
        if self.retracted_since.is_some_and(ahead) {
            self.retracted_since = None;
        }
        if self.fit_at.is_some_and(|f| f > minute_of(limit)) {
            self.fit_at = None;
        }
    }
}

//! Which readings describe one steady state, and so may teach a knee: the load and the
//! fleet both steady over the reading's whole window.
//! - The running count did not change within it (nor since the window before it).
//! - The arrival rate did not step between the window before it and it.
//! - No backlog is draining: a p99 above the SLO that is falling fast at a steady rate is
//!   a queue built at an earlier, higher load, not what this load costs.
//! - No rollout is under way, and a p99 within the SLO while requests fail is no
//!   evidence (a shedding service keeps the latency of what it serves low).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One window's per-task arrival rate and p99, as the rules read them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Requests arriving per task per second.
    pub rate: f64,
    /// p99 in seconds.
    pub p99: f64,
    /// Start of the window.
    pub at: DateTime<Utc>,
    /// Tasks in service while it was measured.
    pub tasks: u32,
    /// The tasks' mean CPU utilization (0..1) over a window wholly inside the steady span
    /// this one belongs to, if the policy reads CPU: what a task serves at saturation
    /// follows from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
}

impl Window {
    /// A reading of `rate` per task and `p99` seconds from `at`, on one task, without CPU.
    pub fn reading(rate: f64, p99: f64, at: DateTime<Utc>) -> Self {
        Self {
            rate,
            p99,
            at,
            tasks: 1,
            cpu: None,
        }
    }

    /// The same reading with the tasks' CPU utilization (0..1).
    pub fn with_cpu(self, cpu: f64) -> Self {
        Self { cpu: Some(cpu), ..self }
    }
}

/// Why a window teaches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The running count changed within the window or the one before it.
    FleetChanged,
    /// The arrival rate stepped between the window before and this one.
    LoadStepped,
    /// A p99 above the SLO falling fast at a steady rate: a backlog draining.
    BacklogDraining,
    /// No window before it to compare with (the first, or after a gap).
    NoPrevious,
    /// A rollout is under way: two versions serve.
    Rollout,
    /// Requests fail: a low p99 of what is served proves nothing.
    Failing,
    /// The rate and the p99 were not measured over the same window.
    Apart,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::FleetChanged => "the running count changed within the window",
            Refusal::LoadStepped => "the load stepped since the window before",
            Refusal::BacklogDraining => "a backlog is draining",
            Refusal::NoPrevious => "no window before it to compare with",
            Refusal::Rollout => "a rollout is under way",
            Refusal::Failing => "requests are failing",
            Refusal::Apart => "rate and p99 were measured over different windows",
        }
    }
}

/// The rate may differ from the window before by this share and still be one load.
pub const STEADY_RATE: f64 = 0.15;
/// A p99 above the SLO that fell below this share of the one before is a backlog draining:
/// a task past its knee but below saturation holds a steady queue (its p99 wanders with
/// noise), one past saturation grows it; only a queue built at an earlier load shrinks.
const DRAINING: f64 = 0.9;

/// Whether `now` (with the window before it, `previous`) describes one steady state of
/// a fleet that has run unchanged since `serving_since`, with `period` between windows.
pub fn steady(
    now: &Window,
    previous: Option<&Window>,
    serving_since: DateTime<Utc>,
    period: std::time::Duration,
    slo: f64,
) -> Result<(), Refusal> {
    if now.at < serving_since {
        return Err(Refusal::FleetChanged);
    }
    let Some(prev) = previous else {
        return Err(Refusal::NoPrevious);
    };
    let gap = (now.at - prev.at).num_milliseconds() as f64 / 1000.0;
    // The window before must be the one just before (a reading may be read twice).
    if gap <= 0.0 || gap > 2.5 * period.as_secs_f64() {
        return Err(Refusal::NoPrevious);
    }
    if prev.at < serving_since || prev.tasks != now.tasks {
        return Err(Refusal::FleetChanged);
    }
    let higher = now.rate.max(prev.rate);
    if higher > 0.0 && (now.rate - prev.rate).abs() > STEADY_RATE * higher {
        return Err(Refusal::LoadStepped);
    }
    if now.p99 > slo && now.p99 < DRAINING * prev.p99 {
        return Err(Refusal::BacklogDraining);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn w(at: i64, rate: f64, p99: f64, tasks: u32) -> Window {
        Window {
            rate,
            p99,
            at: t(at),
            tasks,
            cpu: None,
        }
    }

    const P: Duration = Duration::from_secs(5);
    const SLO: f64 = 0.050;

    #[test]
    fn a_window_that_straddles_a_load_step_is_refused_and_so_is_the_next() {
        // 100/s, then a window half at 100 and half at 400, then 400: the demo's step.
        let before = w(0, 100.0, 0.004, 1);
        let straddling = w(5, 250.0, 0.120, 1);
        let after = w(10, 400.0, 0.217, 1);
        let steady_again = w(15, 395.0, 0.230, 1);
        let since = t(-600);
        assert_eq!(
            steady(&straddling, Some(&before), since, P, SLO),
            Err(Refusal::LoadStepped)
        );
        assert_eq!(
            steady(&after, Some(&straddling), since, P, SLO),
            Err(Refusal::LoadStepped)
        );
        assert_eq!(steady(&steady_again, Some(&after), since, P, SLO), Ok(()));
    }

    #[test]
    fn a_window_measured_across_a_scale_out_is_refused() {
        // Two tasks serve from 12 s; the window from 10 s was measured on one, then two.
        let before = w(5, 200.0, 0.010, 1);
        let across = w(10, 100.0, 0.008, 2);
        assert_eq!(
            steady(&across, Some(&before), t(12), P, SLO),
            Err(Refusal::FleetChanged)
        );
        // The first window wholly on two tasks still has its predecessor across the change.
        let first = w(15, 100.0, 0.008, 2);
        assert_eq!(steady(&first, Some(&across), t(12), P, SLO), Err(Refusal::FleetChanged));
        let second = w(20, 102.0, 0.008, 2);
        assert_eq!(steady(&second, Some(&first), t(12), P, SLO), Ok(()));
    }

    #[test]
    fn a_window_measured_across_a_kill_is_refused() {
        // A task of three dies at 31 s: the count the window was measured on is gone.
        let before = w(25, 300.0, 0.010, 3);
        let across = w(30, 450.0, 0.400, 2);
        assert_eq!(
            steady(&across, Some(&before), t(31), P, SLO),
            Err(Refusal::FleetChanged)
        );
    }

    #[test]
    fn a_backlog_draining_at_a_steady_rate_is_refused() {
        let queued = w(0, 300.0, 0.900, 2);
        let draining = w(5, 305.0, 0.400, 2);
        assert_eq!(
            steady(&draining, Some(&queued), t(-600), P, SLO),
            Err(Refusal::BacklogDraining)
        );
        let settled = w(10, 300.0, 0.380, 2);
        assert_eq!(steady(&settled, Some(&draining), t(-600), P, SLO), Ok(()));
    }

    #[test]
    fn a_backlog_draining_slowly_after_an_overload_is_refused_too() {
        // Four tasks catch up with the queue a spike left: p99 falls 15 % a window.
        let mut prev = w(0, 2100.0, 1.300, 4);
        for i in 1..6 {
            let next = w(i * 5, 2100.0, prev.p99 * 0.85, 4);
            assert_eq!(
                steady(&next, Some(&prev), t(-600), P, SLO),
                Err(Refusal::BacklogDraining),
                "window {i}"
            );
            prev = next;
        }
        // A task past its knee holds a steady queue: its p99 wanders, it does not drain.
        let held = w(30, 2100.0, prev.p99 * 0.95, 4);
        assert_eq!(steady(&held, Some(&prev), t(-600), P, SLO), Ok(()));
    }

    #[test]
    fn a_reading_after_a_gap_has_nothing_to_be_compared_with() {
        let old = w(0, 300.0, 0.010, 2);
        let later = w(60, 300.0, 0.010, 2);
        assert_eq!(steady(&later, Some(&old), t(-600), P, SLO), Err(Refusal::NoPrevious));
        assert_eq!(steady(&later, None, t(-600), P, SLO), Err(Refusal::NoPrevious));
    }
}

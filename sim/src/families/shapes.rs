//! One generator per shape of load; each draws its parameters in a fixed order, so a
//! seed always makes the same member.

use std::fmt::Write as _;

use serde::Deserialize;

use super::member::{CAPACITY, Member, Range, tasks_for};

pub fn spike(m: &mut Member, base_rate: Range, factor: Range, hold_min: Range) {
    let (base, factor, hold) = (m.draw(base_rate), m.draw(factor), (m.draw(hold_min) * 60.0) as u64);
    let at = 300 + (m.draw([0.0, 300.0]) as u64);
    m.header(at + hold + 900, tasks_for(base), 0.05, CAPACITY, "");
    m.phase(0, base, 0);
    m.phase(at, base * factor, 0);
    m.phase(at + hold, base, 0);
}

pub fn ramp(m: &mut Member, base_rate: Range, factor: Range, ramp_min: Range) {
    let (base, factor, ramp) = (m.draw(base_rate), m.draw(factor), (m.draw(ramp_min) * 60.0) as u64);
    m.header(300 + 2 * ramp + 600 + 900, tasks_for(base), 0.05, CAPACITY, "");
    m.phase(0, base, 0);
    m.phase(300, base, 0);
    m.phase(300 + ramp, base * factor, ramp);
    m.phase(300 + ramp + 600 + ramp, base, ramp);
}

pub fn oscillation(m: &mut Member, base_rate: Range, swing: Range, half_period_min: Range, noise: Range, hours: f64) {
    let (base, swing) = (m.draw(base_rate), m.draw(swing));
    let half = ((m.draw(half_period_min) * 60.0) as u64).max(60);
    let noise = m.draw(noise);
    let duration = (hours * 3600.0) as u64;
    m.header(duration, tasks_for(base), noise, CAPACITY, "");
    let mut at = 0;
    let mut high = true;
    while at < duration {
        let rate = base * if high { 1.0 + swing } else { 1.0 - swing };
        m.phase(at, rate, if at == 0 { 0 } else { 30 });
        at += half;
        high = !high;
    }
}

pub fn repeated_spikes(
    m: &mut Member,
    base_rate: Range,
    factor: Range,
    count: Range,
    gap_min: Range,
    length_min: Range,
) {
    let (base, factor) = (m.draw(base_rate), m.draw(factor));
    let count = m.draw(count).round().max(1.0) as u64;
    let gap = (m.draw(gap_min) * 60.0) as u64;
    let length = (m.draw(length_min) * 60.0) as u64;
    let total = 300 + count * (length + gap) + 900;
    m.header(total, tasks_for(base), 0.05, CAPACITY, "");
    m.phase(0, base, 0);
    let mut kills = String::new();
    for i in 0..count {
        let at = 300 + i * (length + gap);
        m.phase(at, base * factor, 0);
        m.phase(at + length, base, 0);
        if i % 2 == 1 {
            let _ = writeln!(kills, "[[failure]]\nat = \"{}s\"\nkind = \"crash\"", at + length / 2);
        }
    }
    m.push(&kills);
}

pub fn fleet(m: &mut Member, tasks: Range, factor: Range) {
    let tasks = m.draw([tasks[0].ln(), tasks[1].ln()]).exp().round().max(1.0) as u32;
    let base = f64::from(tasks) * CAPACITY * 0.55;
    let factor = m.draw(factor);
    m.header(600 + 1200 + 900, tasks, 0.05, CAPACITY, "capacity_spread = 0.1");
    m.phase(0, base, 0);
    m.phase(600, base * factor, 0);
    m.phase(1800, base, 0);
}

pub fn diurnal_week(m: &mut Member, min_rate: Range, max_rate: Range, weekend: Range) {
    let (min, max, weekend) = (m.draw(min_rate), m.draw(max_rate), m.draw(weekend));
    m.header(7 * 86_400, tasks_for(min), 0.05, CAPACITY, "");
    m.push(&format!(
        "[traffic.diurnal]\nmin = {min:.0}\nmax = {max:.0}\npeak_at = \"14h\"\nperiod = \"24h\"\nweekend = {weekend:.2}\n"
    ));
}

pub fn unknown_capacity(m: &mut Member, base_rate: Range, factor: Range, capacity: Range) {
    let capacity = m.draw(capacity);
    let (base, factor) = (m.draw(base_rate), m.draw(factor));
    let at = 600 + (m.draw([0.0, 300.0]) as u64);
    let tasks = ((base / (CAPACITY * capacity * 0.6)).ceil() as u32).max(2);
    m.header(at + 1200 + 900, tasks, 0.05, CAPACITY * capacity, "");
    m.phase(0, base, 0);
    m.phase(at, base * factor, 0);
    m.phase(at + 1200, base, 0);
}

pub fn faults(m: &mut Member, base_rate: Range, factor: Range) {
    let (base, factor) = (m.draw(base_rate), m.draw(factor));
    let at = 600;
    m.header(3600, tasks_for(base), 0.05, CAPACITY, "");
    m.phase(0, base, 0);
    m.phase(at, base * factor, 0);
    m.phase(at + 1200, base, 0);
    let outage = at + (m.draw([0.0, 120.0]) as u64);
    m.push(&format!(
        "[[fault]]\nkind = \"cloudwatch_outage\"\nat = \"{outage}s\"\nduration = \"90s\"\n\
         [[fault]]\nkind = \"late_datapoints\"\nat = \"{late}s\"\nduration = \"5m\"\ndelay = \"45s\"\n\
         [[fault]]\nkind = \"missing_datapoints\"\nat = \"0s\"\nduration = \"1h\"\nprobability = 0.1\n\
         [[fault]]\nkind = \"update_service_fails\"\nat = \"{throttle}s\"\nduration = \"60s\"\n\
         [[fault]]\nkind = \"failed_starts\"\nat = \"{at}s\"\nduration = \"5m\"\nprobability = 0.3\n\
         [[fault]]\nkind = \"other_writer\"\nat = \"{writer}s\"\ndesired = 2\n",
        late = at + 600,
        throttle = at + 30,
        writer = at + 1500,
    ));
}

/// A new build whose tasks serve `capacity` × what the old ones did (0.7: 30 % slower),
/// rolled out over three minutes under a steady load that swings by a fifth, then a spike
/// on the new build: the knee learned on the old revision no longer holds.
pub fn deploy(m: &mut Member, base_rate: Range, factor: Range, capacity: Range) {
    let (base, factor, capacity) = (m.draw(base_rate), m.draw(factor), m.draw(capacity));
    let at = 1200 + (m.draw([0.0, 600.0]) as u64);
    let spike = at + 1200;
    m.header(spike + 900 + 900, tasks_for(base), 0.05, CAPACITY, "");
    // The load wanders between 0.8 and 1.2 × the base every five minutes, so there is
    // evidence at more than one rate on either build.
    let mut t = 0;
    let mut up = false;
    while t + 300 <= spike {
        m.phase(t, base * if up { 1.2 } else { 0.8 }, if t == 0 { 0 } else { 60 });
        up = !up;
        t += 300;
    }
    m.phase(spike, base * factor, 0);
    m.phase(spike + 900, base, 0);
    m.push(&format!(
        "[[deploy]]\nat = \"{at}s\"\ncapacity = {capacity:.2}\nrollout = \"3m\"\n"
    ));
}

/// What recurs in a [`recurring`] member, and what breaks the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Office hours: a day curve on weekdays, lighter weekends.
    Weekly,
    /// A flat load with a batch job at the same time every day (drawn hour and minute).
    Batch,
    /// A flat load with a burst every 10-60 minutes (cron-driven clients).
    Short,
    /// Office hours growing 2-5 % a day.
    Growth,
    /// Office hours; the last scored weekday is a holiday with weekend traffic.
    Holiday,
    /// Office hours; over the scored days everything comes an hour earlier.
    Shift,
    /// Office hours and, once, an unannounced event (3-5x for 20-40 minutes).
    OneOff,
}

/// Days of per-minute load: `pattern` on a night rate rising `peak_factor`x by day.
/// The days before the last `scored_days` are history, run but not scored.
pub fn recurring(
    m: &mut Member,
    pattern: Pattern,
    days: Range,
    scored_days: f64,
    night_rate: Range,
    peak_factor: Range,
    noise: Range,
) {
    let days = m.draw(days).round().max(scored_days.ceil()) as u64;
    let (night, peak, noise) = (m.draw(night_rate), m.draw(peak_factor), m.draw(noise));
    let weekend = m.draw([0.3, 0.7]);
    let growth = m.draw([0.02, 0.05]);
    let batch_at = (m.draw([0.0, 23.0 * 60.0]) as u64).min(23 * 60);
    let batch_len = m.draw([10.0, 20.0]) as u64;
    let every = m.draw([10.0, 60.0]) as u64;
    let burst = (m.draw([2.0, 5.0]) as u64).min(every / 2).max(1);
    let event_factor = m.draw([3.0, 5.0]);
    let event_len = m.draw([20.0, 40.0]) as u64;
    let event_at = m.draw([8.0 * 60.0, 20.0 * 60.0]) as u64;
    let minutes = days * 1440;
    let scored_from = minutes - (scored_days * 1440.0) as u64;
    // The last weekday among the scored days (the start is a Monday).
    let holiday = (scored_from / 1440..days).rev().find(|d| d % 7 < 5);
    // Office hours: the day's load arrives within `rise` minutes from 08:45 (people log
    // in, a class starts), swells by a fifth to 13:00 and falls back from 18:00 over half
    // an hour.
    let rise = m.draw([5.0, 20.0]);
    // No two days alike: each day's peak is 0.85-1.15x, and it opens up to 10 minutes
    // earlier or later (and a batch job starts up to 2 minutes off its time).
    let amplitude: Vec<f64> = (0..days).map(|_| m.draw([0.85, 1.15])).collect();
    let late: Vec<f64> = (0..days).map(|_| m.draw([-10.0, 10.0])).collect();
    let of = |v: &[f64], minute: u64| v[(minute / 1440) as usize % v.len()];
    let office = |minute: u64, shift: u64| {
        let m = minute + shift;
        let min_of_day = (m % 1440) as f64;
        let (open, close) = (8.0 * 60.0 + 45.0 + of(&late, m), 18.0 * 60.0);
        let day = if min_of_day < open || min_of_day >= close + 30.0 {
            0.0
        } else if min_of_day < open + rise {
            (min_of_day - open) / rise
        } else if min_of_day >= close {
            1.0 - (min_of_day - close) / 30.0
        } else {
            let swell = ((min_of_day - open) / (close - open) * std::f64::consts::PI).sin();
            (1.0 + 0.2 * swell) / 1.2
        };
        let share = if (m / 1440) % 7 >= 5 { weekend } else { 1.0 };
        night + night * (peak - 1.0) * day * share * of(&amplitude, m)
    };
    let rate = |minute: u64| -> f64 {
        let of_day = minute % 1440;
        match pattern {
            Pattern::Weekly => office(minute, 0),
            Pattern::Growth => office(minute, 0) * (1.0 + growth).powf(minute as f64 / 1440.0),
            Pattern::Holiday if Some(minute / 1440) == holiday => {
                // A weekday with weekend traffic.
                office(minute + 5 * 1440 - (minute / 1440 % 7) * 1440, 0)
            }
            Pattern::Holiday => office(minute, 0),
            Pattern::Shift if minute >= scored_from => office(minute, 60),
            Pattern::Shift => office(minute, 0),
            Pattern::OneOff if minute >= scored_from + event_at && minute < scored_from + event_at + event_len => {
                office(minute, 0) * event_factor
            }
            Pattern::OneOff => office(minute, 0),
            Pattern::Batch => {
                let start = (batch_at as f64 + of(&late, minute) / 5.0).round().max(0.0) as u64;
                if (start..start + batch_len).contains(&of_day) {
                    night * (1.0 + (peak - 1.0) * of(&amplitude, minute))
                } else {
                    night
                }
            }
            Pattern::Short if minute % every < burst => night * (1.0 + (peak - 1.0) * of(&amplitude, minute)),
            Pattern::Short => night,
        }
    };
    // Before the header: a top-level key.
    m.push(&format!("score_from = \"{}s\"\n", scored_from * 60));
    m.header(minutes * 60, tasks_for(night), noise, CAPACITY, "");
    let mut last = f64::NAN;
    for minute in 0..minutes {
        let r = rate(minute).round();
        if r != last {
            m.phase(minute * 60, r, if minute == 0 { 0 } else { 60 });
            last = r;
        }
    }
}

//! One generator per shape of load; each draws its parameters in a fixed order, so a
//! seed always makes the same member.

use std::fmt::Write as _;

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

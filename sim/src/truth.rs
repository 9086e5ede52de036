//! The simulator's ground truth for what a policy learns: the per-task arrival rate at
//! which the p99 a policy reads (10 s datapoints) reaches the SLO, measured as an operator
//! would, by a sweep: one task of the given capacity, fed a steady rate with the
//! scenario's per-second noise, the rate bisected until the median datapoint sits on the
//! SLO. A formula from queueing theory gives the knee of noiseless arrivals; noisy ones
//! (a tenth of the rate, second to second) break the SLO well below it, and that is the
//! knee a policy sees and must size by.

use super::cloudwatch::mixture_quantile;
use super::scenario::{Faults, LoadKind, Phase, Scenario, Traffic};
use super::world::World;

/// Seconds each probe of the sweep runs, and the first ones it ignores (the queue settles).
const PROBE: u64 = 600;
const SETTLE: u64 = 60;
/// The datapoints' period, as the shipped policies read p99.
const PERIOD: u64 = 10;
/// Bisection steps: the knee to within 0.01 % of the capacity.
const STEPS: u32 = 14;

/// The knee of a task of `capacity` requests/s at 100 % CPU under `scenario`'s traffic noise.
pub fn knee(scenario: &Scenario, capacity: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, capacity);
    for _ in 0..STEPS {
        let mid = (lo + hi) / 2.0;
        if median_p99(scenario, capacity, mid).is_some_and(|p| p <= scenario.slo_p99) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The median p99 datapoint of one task of `capacity` fed `rate` requests/s.
fn median_p99(scenario: &Scenario, capacity: f64, rate: f64) -> Option<f64> {
    let mut probe = scenario.clone();
    probe.duration = PROBE;
    probe.service.initial_tasks = 1;
    probe.service.capacity_rps = capacity;
    probe.service.capacity_spread = 0.0;
    probe.failures.clear();
    probe.faults = Faults::default();
    probe.deploys.clear();
    probe.traffic = Traffic {
        kind: LoadKind::Rate,
        phases: vec![Phase {
            at: 0,
            level: rate,
            ramp: 0,
        }],
        diurnal: None,
        ..scenario.traffic.clone()
    };
    let mut world = World::new(&probe);
    for t in 0..PROBE {
        world.step(t);
    }
    let seconds = world.seconds.kept();
    let mut p99s: Vec<f64> = seconds[SETTLE as usize..]
        .chunks(PERIOD as usize)
        .filter_map(|w| mixture_quantile(w, 0.99))
        .collect();
    p99s.sort_by(f64::total_cmp);
    p99s.get(p99s.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        super::super::scenario::parse(
            std::path::Path::new("t.toml"),
            "duration = \"10m\"\nseed = 1\n[service]\ninitial_tasks = 1\ncapacity_rps = 2000\n[traffic]\nkind = \"rate\"\n\
             [[traffic.phase]]\nat = \"0s\"\nrate = 100\n",
        )
        .unwrap()
    }

    #[test]
    fn the_knee_sits_below_saturation_and_scales_with_capacity() {
        let s = scenario();
        let (small, big) = (knee(&s, 1000.0), knee(&s, 2000.0));
        // Below 100 % CPU (queues grow without bound there), above half of it (a
        // 150 ms SLO on millisecond service times leaves room).
        assert!(small > 500.0 && small < 1000.0, "{small}");
        assert!(big > 1.8 * small && big < 2.2 * small, "{small} {big}");
        // At the knee the median datapoint is within the SLO; a little above, it is not.
        assert!(median_p99(&s, 1000.0, small).is_some_and(|p| p <= s.slo_p99));
        assert!(median_p99(&s, 1000.0, small * 1.05).is_none_or(|p| p > s.slo_p99));
    }
}

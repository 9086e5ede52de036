//! Simulator speed: a 24-hour scenario at 1-second resolution, per scaler.
//! Run with `cargo bench --bench simulate`; prints the median of several runs.

use std::path::Path;
use std::time::{Duration, Instant};

use autoscaler_core::policy;
use autoscaler_sim::{self as sim, Comparison, PolicyScaler, Scaler, scenario};

const RUNS: usize = 15;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let scenario = scenario::load(Path::new("scenarios/diurnal.toml")).expect("scenario");
    let policy = policy::load(Path::new("policies/latency-slo.toml")).expect("policy");
    println!(
        "scenario {}: {} simulated seconds, median of {RUNS} runs",
        scenario.name, scenario.duration
    );
    type Make = Box<dyn Fn() -> Box<dyn Scaler>>;
    let makers: Vec<(&str, Make)> = vec![
        ("latency-slo policy", {
            let (p, s) = (policy.clone(), scenario.clone());
            Box::new(move || Box::new(PolicyScaler::new(p.clone(), &s)))
        }),
        ("aws-target-tracking", {
            let (p, s) = (policy.clone(), scenario.clone());
            Box::new(move || Comparison::AwsTargetTracking.scaler(&p, &s))
        }),
        ("oracle", {
            let (p, s) = (policy.clone(), scenario.clone());
            Box::new(move || Comparison::Oracle.scaler(&p, &s))
        }),
    ];
    for (name, make) in makers {
        let samples: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let mut scaler = make();
                let start = Instant::now();
                let run = sim::run(&scenario, scaler.as_mut(), &mut |_| {});
                let elapsed = start.elapsed();
                std::hint::black_box(run.summary);
                elapsed
            })
            .collect();
        let m = median(samples);
        println!(
            "{name:>22}: {:>8.2} ms per 24 h run ({:.0}x faster than real time)",
            m.as_secs_f64() * 1000.0,
            scenario.duration as f64 / m.as_secs_f64()
        );
    }
}

//! How well each forecaster predicts what the predictive floor is sized by: the peak of
//! demand over the next `horizon` minutes, at every 5th minute of each prediction family
//! member's scored days, from the minutes before it only.
//!
//! - `core`: the daemon's forecaster (seasonal medians of cycle peaks, a level correction,
//!   the season picked by its own backtest, refitted hourly as the daemon does);
//! - `mstl+ets`: augurs' MSTL (daily and, with two weeks of history, weekly seasons) with
//!   an AutoETS trend, refitted every hour on up to 14 days, its point forecast's peak;
//! - `naive-day`: the same minutes yesterday.
//!
//! Usage: `cargo run --release --manifest-path tools/forecast-eval/Cargo.toml -- \
//!   scenarios/prediction.toml [seeds] [horizon minutes]`

use std::path::Path;
use std::time::Instant;

use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::prelude::*;
use autoscaler_core::decide::{Minute, Season, Series, forecast};
use autoscaler_sim::families::{self, Shape};
use autoscaler_sim::scenario::unit_hash;

const STEP: Minute = 5;
const REFIT: Minute = 60;
const KEEP: usize = 14 * 1440;

/// Per-minute demand (requests/s) of a family member: the mean of its level over each
/// minute, with the scenario's per-second noise averaged over the minute.
fn demand(s: &autoscaler_sim::Scenario, seed: u64) -> Vec<f64> {
    let minutes = s.duration / 60;
    (0..minutes)
        .map(|m| {
            let level: f64 = (0..6).map(|k| s.traffic.level(m * 60 + k * 10 + 5)).sum::<f64>() / 6.0;
            // Sum of 12 uniforms - 6: close to a standard normal, deterministic per minute.
            let z: f64 = (0..12).map(|k| unit_hash(seed, m, k)).sum::<f64>() - 6.0;
            (level * (1.0 + s.traffic.noise * z / 60f64.sqrt())).max(0.0)
        })
        .collect()
}

struct Errors {
    name: &'static str,
    rel: Vec<f64>,
    /// Forecast below 90 % of the actual peak: the floor would have been short.
    short: usize,
    seconds: f64,
}

impl Errors {
    fn new(name: &'static str) -> Self {
        Errors {
            name,
            rel: Vec::new(),
            short: 0,
            seconds: 0.0,
        }
    }

    fn push(&mut self, forecast: Option<f64>, actual: f64, scale: f64) {
        let f = forecast.unwrap_or(0.0);
        let denominator = actual.max(f).max(scale);
        self.rel.push((actual - f).abs() / denominator);
        if f < 0.9 * actual {
            self.short += 1;
        }
    }

    fn line(&mut self) -> String {
        self.rel.sort_by(f64::total_cmp);
        let q = |p: f64| self.rel[((self.rel.len() as f64 * p).ceil() as usize).clamp(1, self.rel.len()) - 1];
        format!(
            "{:10} median {:5.1} %  p90 {:5.1} %  short {:5.1} %  fit {:6.2} s",
            self.name,
            100.0 * q(0.5),
            100.0 * q(0.9),
            100.0 * self.short as f64 / self.rel.len() as f64,
            self.seconds
        )
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let file = args.get(1).map_or("scenarios/prediction.toml", String::as_str);
    let seeds: u64 = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let horizon: Minute = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let source = std::fs::read_to_string(file)?;
    let file = families::parse(Path::new(file), &source).map_err(|e| e.to_string())?;
    println!(
        "peak of the next {horizon} min, every {STEP} min of the scored days, seeds 1..={seeds}; error = |actual - forecast| / max(actual, forecast, a quarter of the mean)"
    );
    for family in &file.families {
        let Shape::Recurring { scored_days, .. } = &family.shape else {
            continue;
        };
        let mut rows = [Errors::new("core"), Errors::new("mstl+ets"), Errors::new("naive-day")];
        for seed in 1..=seeds {
            let scenario = family.scenario(seed);
            let d = demand(&scenario, seed);
            let n = d.len() as Minute;
            let scored_from = n - (*scored_days * 1440.0) as Minute;
            if scored_from < 1440 {
                // Less than a day before the scored days: nothing to forecast from (the
                // no-history family, where the policy is reactive).
                continue;
            }
            let scale = d.iter().sum::<f64>() / d.len() as f64 * 0.25;
            let mut series = Series::default();
            for (m, v) in d.iter().enumerate().take(scored_from as usize) {
                series.add(m as Minute, *v, KEEP);
            }
            let (mut season, mut fit, mut fit_at): (Option<Season>, Vec<f64>, Minute) = (None, Vec::new(), 0);
            let mut now = scored_from;
            while now + horizon <= n {
                while series.end() < now {
                    let m = series.end();
                    series.add(m, d[m as usize], KEEP);
                }
                let actual = d[now as usize..(now + horizon) as usize]
                    .iter()
                    .copied()
                    .fold(0.0, f64::max);
                if (now - scored_from) % REFIT == 0 {
                    let t = Instant::now();
                    season = forecast::best(&series, now, horizon).map(|b| b.season);
                    rows[0].seconds += t.elapsed().as_secs_f64();
                    let t = Instant::now();
                    fit = mstl(&d[(now as usize).saturating_sub(KEEP)..now as usize], REFIT + horizon);
                    fit_at = now;
                    rows[1].seconds += t.elapsed().as_secs_f64();
                }
                let core = season
                    .and_then(|s| forecast::peak(&series, s, now, now + horizon, now))
                    .map(|p| p.demand);
                rows[0].push(core, actual, scale);
                let k = (now - fit_at) as usize;
                let augurs = fit
                    .get(k..k + horizon as usize)
                    .map(|w| w.iter().copied().fold(0.0, f64::max));
                rows[1].push(augurs, actual, scale);
                let naive = d[(now - 1440) as usize..(now - 1440 + horizon) as usize]
                    .iter()
                    .copied()
                    .fold(0.0, f64::max);
                rows[2].push(Some(naive), actual, scale);
                now += STEP;
            }
        }
        if rows[0].rel.is_empty() {
            println!("\n{}: less than a day of history, nothing to forecast", family.name);
            continue;
        }
        println!("\n{} ({} points)", family.name, rows[0].rel.len());
        for r in &mut rows {
            println!("  {}", r.line());
        }
    }
    Ok(())
}

/// augurs' MSTL + AutoETS trend on `history`, forecast `ahead` minutes.
fn mstl(history: &[f64], ahead: Minute) -> Vec<f64> {
    let mut periods = vec![1440];
    if history.len() >= 2 * 7 * 1440 {
        periods.push(7 * 1440);
    }
    let model = MSTLModel::new(periods, AutoETS::non_seasonal().into_trend_model());
    model
        .fit(history)
        .and_then(|f| f.predict(ahead as usize, None))
        .map(|f| f.point)
        .unwrap_or_default()
}

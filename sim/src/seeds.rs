//! Paired seeds: every scaler runs on the same scenarios, seed by seed, so a difference
//! between two scalers on one seed is theirs and not the traffic's. Figures are reported as
//! median and p90 over the seeds, with the paired win rate of the policy against each
//! comparison.

use std::fmt::Write as _;
use std::ops::RangeInclusive;

use serde::Serialize;

use super::{Comparison, PolicyScaler, Scaler, Scenario, Summary};
use autoscaler_core::policy::Policy;

/// Parses `A..B` or `A..=B` (both inclusive) or a single seed `A`.
pub fn parse_range(text: &str) -> Result<RangeInclusive<u64>, String> {
    let bad = || format!("seeds \"{text}\" must be a number or a range such as 1..20");
    let (a, b) = match text.split_once("..") {
        None => {
            let a = text.trim().parse().map_err(|_| bad())?;
            (a, a)
        }
        Some((a, b)) => (
            a.trim().parse().map_err(|_| bad())?,
            b.trim_start_matches('=').trim().parse().map_err(|_| bad())?,
        ),
    };
    if a > b {
        return Err(format!("seeds \"{text}\": the first seed is after the last"));
    }
    if b - a >= 1000 {
        return Err(format!("seeds \"{text}\": at most 1,000 seeds"));
    }
    Ok(a..=b)
}

/// Every scaler's summary on every seed: `runs[s][k]` is scaler `k` on seed `s`; scaler 0
/// is the policy.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    pub name: String,
    pub seeds: Vec<u64>,
    pub scalers: Vec<String>,
    pub runs: Vec<Vec<Summary>>,
}

/// Runs the policy and `compare` on `make(seed)` for every seed, spread over the cores.
pub fn run(
    name: &str,
    policy: &Policy,
    compare: &[Comparison],
    seeds: RangeInclusive<u64>,
    make: &(dyn Fn(u64) -> Scenario + Sync),
) -> Paired {
    let seeds: Vec<u64> = seeds.collect();
    let one = |seed: u64| -> Vec<Summary> {
        let scenario = make(seed);
        let mut scalers: Vec<Box<dyn Scaler>> = vec![Box::new(PolicyScaler::new(policy.clone(), &scenario))];
        scalers.extend(compare.iter().map(|c| c.scaler(policy, &scenario)));
        scalers
            .iter_mut()
            .map(|s| super::run(&scenario, s.as_mut(), &mut |_| {}).summary)
            .collect()
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(seeds.len().max(1));
    let mut runs: Vec<Option<Vec<Summary>>> = vec![None; seeds.len()];
    std::thread::scope(|scope| {
        let chunks: Vec<_> = runs
            .chunks_mut(seeds.len().div_ceil(workers).max(1))
            .zip(seeds.chunks(seeds.len().div_ceil(workers).max(1)))
            .map(|(out, seeds)| {
                scope.spawn(move || {
                    for (slot, &seed) in out.iter_mut().zip(seeds) {
                        *slot = Some(one(seed));
                    }
                })
            })
            .collect();
        for c in chunks {
            // A panic in a run is a bug in the simulator; surface it.
            if let Err(p) = c.join() {
                std::panic::resume_unwind(p);
            }
        }
    });
    let mut scalers = vec![policy.name.clone()];
    scalers.extend(
        runs.first()
            .and_then(|r| r.as_ref())
            .map(|r| r[1..].iter().map(|s| s.scaler.clone()).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    Paired {
        name: name.to_string(),
        seeds,
        scalers,
        runs: runs.into_iter().flatten().collect(),
    }
}

/// The q-quantile (0..=1) by the nearest-rank method; `None` for no values.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// A figure of a summary, as the tables show it.
pub type Figure = (&'static str, fn(&Summary) -> f64);

pub const FIGURES: &[Figure] = &[
    ("SLO-violation s", |s| s.slo_violation_seconds as f64),
    ("task-seconds", |s| s.task_seconds),
    ("failed requests", |s| s.failed_requests as f64),
    ("reversed scale-ins", |s| f64::from(s.reversed_scale_ins)),
    ("tasks launched", |s| f64::from(s.tasks_launched)),
];

impl Paired {
    /// One figure of scaler `k` over the seeds.
    pub fn values(&self, k: usize, figure: fn(&Summary) -> f64) -> Vec<f64> {
        self.runs.iter().map(|r| figure(&r[k])).collect()
    }

    pub fn median(&self, k: usize, figure: fn(&Summary) -> f64) -> f64 {
        quantile(&self.values(k, figure), 0.5).unwrap_or(0.0)
    }

    /// Share of seeds on which the policy did better than scaler `k`: fewer SLO-violation
    /// seconds, or as few at fewer task-seconds.
    pub fn win_rate(&self, k: usize) -> f64 {
        if self.runs.is_empty() {
            return 0.0;
        }
        let wins = self
            .runs
            .iter()
            .filter(|r| {
                let (p, o) = (&r[0], &r[k]);
                p.slo_violation_seconds < o.slo_violation_seconds
                    || (p.slo_violation_seconds == o.slo_violation_seconds && p.task_seconds < o.task_seconds)
            })
            .count();
        wins as f64 / self.runs.len() as f64
    }

    /// A table: per scaler, median and p90 of every figure, and the policy's win rate.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} over seeds {}..{} ({} paired runs each): median / p90",
            self.name,
            self.seeds.first().copied().unwrap_or(0),
            self.seeds.last().copied().unwrap_or(0),
            self.seeds.len()
        );
        let width = self.scalers.iter().map(String::len).max().unwrap_or(0).max(6);
        let _ = write!(out, "{:width$}", "scaler");
        for (label, _) in FIGURES {
            let _ = write!(out, "  {label:>20}");
        }
        let _ = writeln!(out, "  {:>12}", "policy wins");
        for (k, scaler) in self.scalers.iter().enumerate() {
            let _ = write!(out, "{scaler:width$}");
            for (_, f) in FIGURES {
                let v = self.values(k, *f);
                let cell = format!(
                    "{} / {}",
                    short(quantile(&v, 0.5).unwrap_or(0.0)),
                    short(quantile(&v, 0.9).unwrap_or(0.0))
                );
                let _ = write!(out, "  {cell:>20}");
            }
            let wins = if k == 0 {
                "-".to_string()
            } else {
                format!("{:.0} %", self.win_rate(k) * 100.0)
            };
            let _ = writeln!(out, "  {wins:>12}");
        }
        out
    }
}

/// One line per family: the policy's medians next to each comparison's, and the goals
/// (against the 20 s AWS model, the oracle and the reactive limit) met or not, with the
/// numbers that decide it.
pub fn goals(families: &[Paired]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "medians over the seeds; SLO-violation seconds and task-seconds of policy | aws-20s | aws-60s | reactive limit | oracle"
    );
    let _ = writeln!(
        out,
        "{:16} {:>34} {:>44} {:>9}  goals",
        "family", "SLO-violation s", "task-seconds", "reversals"
    );
    for p in families {
        let find = |name: &str| p.scalers.iter().position(|s| s == name);
        let med = |k: Option<usize>, f: fn(&Summary) -> f64| k.map(|k| p.median(k, f));
        let viol = |s: &Summary| s.slo_violation_seconds as f64;
        let cost = |s: &Summary| s.task_seconds;
        let (tt20, tt60, limit, oracle) = (
            find("aws-target-tracking-20s"),
            find("aws-target-tracking"),
            find("reactive-limit"),
            find("oracle"),
        );
        let cells = |f: fn(&Summary) -> f64| {
            [Some(0), tt20, tt60, limit, oracle]
                .iter()
                .map(|k| med(*k, f).map_or("-".to_string(), short))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let (pv, pc) = (p.median(0, viol), p.median(0, cost));
        let reversals = p.median(0, |s| f64::from(s.reversed_scale_ins));
        let mut verdicts = Vec::new();
        if let (Some(v), Some(c)) = (med(tt20, viol), med(tt20, cost)) {
            let ok = pv <= 0.5 * v && pc <= c;
            let violations = if v > 0.0 {
                format!("{:.0} % of its violations", pv / v * 100.0)
            } else if pv > 0.0 {
                "violations where it has none".into()
            } else {
                "no violations, nor it".into()
            };
            verdicts.push(format!(
                "{} vs 20s: {violations} at {:.2}x its cost",
                mark(ok),
                pc / c.max(1.0)
            ));
        }
        if let Some(c) = med(oracle, cost) {
            verdicts.push(format!("{} cost {:.2}x oracle", mark(pc <= 1.25 * c), pc / c.max(1.0)));
        }
        if let Some(v) = med(limit, viol) {
            let ok = pv <= 1.25 * v || pv == 0.0;
            let versus = if v > 0.0 {
                format!("violations {:.2}x the limit's", pv / v)
            } else if pv > 0.0 {
                format!("{pv:.0} violation s where the limit has none")
            } else {
                "no violations, nor the limit".into()
            };
            verdicts.push(format!("{} {versus}", mark(ok)));
        }
        verdicts.push(format!("{} {} reversals", mark(reversals == 0.0), short(reversals)));
        let _ = writeln!(
            out,
            "{:16} {:>34} {:>44} {:>9}  {}",
            p.name,
            cells(viol),
            cells(cost),
            short(reversals),
            verdicts.join("; ")
        );
    }
    out
}

/// One line per family: how close the policy's learned knee came to the true one, over
/// the members that produced an estimate (median and p90 of |learned ÷ true − 1|, and the
/// share within ±15 %), and how many members gave only a lower bound (and whether it was
/// one: at most the truth).
pub fn knees(families: &[Paired]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:16} {:>9} {:>15} {:>13} {:>12}",
        "family", "estimates", "error med / p90", "within 15 %", "lower bounds"
    );
    for p in families {
        let figures: Vec<_> = p.runs.iter().filter_map(|r| r[0].knee).collect();
        let estimates: Vec<f64> = figures
            .iter()
            .filter(|k| !k.lower_bound)
            .map(|k| (k.ratio() - 1.0).abs())
            .collect();
        let bounds: Vec<_> = figures.iter().filter(|k| k.lower_bound).collect();
        let error = match (quantile(&estimates, 0.5), quantile(&estimates, 0.9)) {
            (Some(m), Some(q)) => format!("{:.0} % / {:.0} %", m * 100.0, q * 100.0),
            _ => "-".into(),
        };
        let within = if estimates.is_empty() {
            "-".into()
        } else {
            let ok = estimates.iter().filter(|e| **e <= 0.15).count();
            format!("{:.0} %", ok as f64 / estimates.len() as f64 * 100.0)
        };
        let valid = bounds.iter().filter(|k| k.ratio() <= 1.0 + 1e-9).count();
        let _ = writeln!(
            out,
            "{:16} {:>9} {:>15} {:>13} {:>12}",
            p.name,
            format!("{}/{}", estimates.len(), p.runs.len()),
            error,
            within,
            format!("{} ({valid} valid)", bounds.len())
        );
    }
    out
}

fn mark(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISS" }
}

/// A number in a table cell: no decimals, thousands as k.
pub fn short(x: f64) -> String {
    if x.abs() >= 100_000.0 {
        format!("{:.0}k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_inclusively_and_bad_ones_say_why() {
        assert_eq!(parse_range("1..20").unwrap(), 1..=20);
        assert_eq!(parse_range("3..=4").unwrap(), 3..=4);
        assert_eq!(parse_range("7").unwrap(), 7..=7);
        assert!(parse_range("5..1").unwrap_err().contains("after"));
        assert!(parse_range("a..b").unwrap_err().contains("range such as"));
        assert!(parse_range("1..5000").unwrap_err().contains("1,000"));
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(5.0));
        assert_eq!(quantile(&v, 0.9), Some(9.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}

//! The prediction families' goals: one line per family with the medians of the predicting
//! policy beside the same policy with prediction off, AWS's models and the bounds, and
//! whether the family's goal is met, with the numbers that decide it.

use std::fmt::Write as _;

use serde::Deserialize;

use super::Summary;
use super::seeds::{Paired, short};

/// What prediction must achieve on a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Load that recurs: far fewer violations than any reactive scaler, fewer than AWS's
    /// predictive scaling at no more cost, and close to the oracle's cost.
    Recurring,
    /// Load nobody could forecast (a one-off event, a new service): no worse than with
    /// prediction off.
    Unannounced,
    /// A pattern that moved (a holiday, an hour earlier): the floor's mistakes cost little.
    Shift,
}

/// The comparators the table shows, in order.
const COLUMNS: [&str; 6] = [
    "(prediction off)",
    "aws-target-tracking-20s",
    "aws-predictive",
    "aws-predictive-perfect-hourly",
    "reactive-limit",
    "oracle",
];

pub fn goals(families: &[(Paired, Goal)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "medians over the seeds: policy | prediction off | aws-20s | aws-predictive | aws-predictive-perfect-hourly | reactive limit | oracle"
    );
    let _ = writeln!(
        out,
        "{:16} {:>44} {:>60}  goals",
        "family", "SLO-violation s", "task-seconds"
    );
    for (p, goal) in families {
        let find = |name: &str| p.scalers.iter().position(|s| s.ends_with(name));
        let viol = |s: &Summary| s.slo_violation_seconds as f64;
        let cost = |s: &Summary| s.task_seconds;
        let med = |name: &str, f: fn(&Summary) -> f64| find(name).map(|k| p.median(k, f));
        let cells = |f: fn(&Summary) -> f64| {
            std::iter::once(Some(p.median(0, f)))
                .chain(COLUMNS.iter().map(|c| med(c, f)))
                .map(|v| v.map_or("-".into(), short))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let (pv, pc) = (p.median(0, viol), p.median(0, cost));
        let at_most = |mine: f64, theirs: f64, share: f64| mine <= share * theirs || mine == 0.0;
        let mut verdicts = Vec::new();
        let mut check = |ok: bool, text: String| verdicts.push(format!("{} {text}", if ok { "ok" } else { "MISS" }));
        match goal {
            Goal::Recurring => {
                if let Some(v) = med("reactive-limit", viol) {
                    check(
                        at_most(pv, v, 0.25),
                        format!("violations {pv:.0} vs the limit's {v:.0} (goal 0.25x)"),
                    );
                }
                if let (Some(v), Some(c)) = (med("aws-predictive", viol), med("aws-predictive", cost)) {
                    check(
                        at_most(pv, v, 0.5) && pc <= c,
                        format!(
                            "vs aws-predictive: violations {pv:.0} vs {v:.0}, cost {:.2}x",
                            pc / c.max(1.0)
                        ),
                    );
                }
                if let Some(v) = med("aws-predictive-perfect-hourly", viol) {
                    check(
                        pv < v || pv == 0.0,
                        format!("vs perfect-hourly: violations {pv:.0} vs {v:.0}"),
                    );
                }
                if let Some(c) = med("oracle", cost) {
                    check(
                        pc <= 1.15 * c,
                        format!("cost {:.2}x oracle (goal 1.15x)", pc / c.max(1.0)),
                    );
                }
            }
            Goal::Unannounced => {
                if let (Some(v), Some(c)) = (med("(prediction off)", viol), med("(prediction off)", cost)) {
                    check(pv <= v, format!("violations {pv:.0} vs {v:.0} with prediction off"));
                    check(
                        pc <= 1.05 * c,
                        format!("cost {:.3}x prediction off (goal 1.05x)", pc / c.max(1.0)),
                    );
                }
            }
            Goal::Shift => {
                if let (Some(v), Some(c)) = (med("(prediction off)", viol), med("(prediction off)", cost)) {
                    check(
                        pc <= 1.10 * c,
                        format!("cost {:.3}x prediction off (goal 1.10x)", pc / c.max(1.0)),
                    );
                    let _ = v;
                }
            }
        }
        let _ = writeln!(
            out,
            "{:16} {:>44} {:>60}  {}",
            p.name,
            cells(viol),
            cells(cost),
            verdicts.join("; ")
        );
    }
    out
}

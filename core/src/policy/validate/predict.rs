//! `[predict]`: predictive pre-scaling.

use crate::policy::checker::Checker;
use crate::policy::file::{Located, PredictFile};
use crate::policy::model::{Goal, Lead, Measure, Predict, PredictMode, Rule};

/// Measures whose per-task value × tasks is the service's load.
fn is_load(m: Measure) -> bool {
    matches!(
        m,
        Measure::Cpu | Measure::Memory | Measure::RequestsPerTarget | Measure::RequestRate
    )
}

pub fn predict(c: &mut Checker, raw: &Located<PredictFile>, rules: &[Rule]) -> Option<Predict> {
    let p = raw.get();
    let mode = p.mode.as_ref().map_or(PredictMode::ForecastOnly, |m| *m.get());
    let tracked = |r: &&Rule| is_load(r.measures) && matches!(r.goal, Goal::Track { .. });
    let rule = match &p.rule {
        Some(name) => {
            let wanted = name.get().trim();
            match rules.iter().find(|r| r.name == wanted) {
                Some(r) if tracked(&r) => Some(r.name.clone()),
                Some(_) => {
                    c.error(
                        name.span(),
                        format!("predict rule \"{wanted}\" does not measure load: use a request_rate, alb_requests_per_target, ecs_cpu or ecs_memory rule"),
                    );
                    None
                }
                None => {
                    c.error(
                        name.span(),
                        format!("predict rule \"{wanted}\" is not a rule of this policy"),
                    );
                    None
                }
            }
        }
        None => {
            let found = rules
                .iter()
                .filter(tracked)
                .find(|r| r.measures == Measure::RequestRate)
                .or_else(|| rules.iter().find(tracked))
                .map(|r| r.name.clone());
            if found.is_none() && mode != PredictMode::Off {
                c.error(
                    raw.span(),
                    "[predict] needs a rule that measures load (request_rate, alb_requests_per_target, ecs_cpu or ecs_memory); add one or set `rule`",
                );
            }
            found
        }
    };
    let history = match &p.history {
        Some(h) => {
            let d = c.duration_up_to(h, "predict history", Predict::MAX_HISTORY)?;
            if d < Predict::MIN_HISTORY {
                c.error(
                    h.span(),
                    "predict history must be at least \"1d\": a forecast needs a day of history",
                );
                return None;
            }
            d
        }
        None => Predict::DEFAULT_HISTORY,
    };
    let lead = match &p.lead {
        None => Lead::Auto,
        Some(l) if l.get().trim() == "auto" => Lead::Auto,
        Some(l) => {
            Lead::Fixed(c.duration_up_to(l, "predict lead (or \"auto\")", std::time::Duration::from_secs(3600))?)
        }
    };
    let max_error = match &p.max_error {
        Some(e) if !(*e.get() > 0.0 && *e.get() <= 1.0) => {
            c.error(e.span(), format!("max_error must be in (0, 1], found {}", e.get()));
            return None;
        }
        Some(e) => *e.get(),
        None => Predict::DEFAULT_MAX_ERROR,
    };
    let max_tasks_above = match &p.max_tasks_above {
        Some(n) => Some(c.count(n, "max_tasks_above", 1, super::limits::MAX_TASKS)?),
        None => None,
    };
    let max_share_above = match &p.max_share_above {
        Some(s) if !(*s.get() > 0.0 && s.get().is_finite()) => {
            c.error(
                s.span(),
                format!("max_share_above must be greater than 0, found {}", s.get()),
            );
            return None;
        }
        Some(s) => Some(*s.get()),
        None => None,
    };
    let confident_share = match &p.confident_share {
        Some(s) if !(*s.get() > 0.0 && *s.get() < 1.0) => {
            c.error(
                s.span(),
                format!("confident_share must be in (0, 1), found {}", s.get()),
            );
            return None;
        }
        s => s.as_ref().map(|s| *s.get()),
    };
    Some(Predict {
        mode,
        rule: rule?,
        history,
        lead,
        max_error,
        max_tasks_above,
        max_share_above,
        confident_share,
    })
}

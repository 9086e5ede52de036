//! `[scale_out]`, `[scale_in]` and `[missing_data]`: how fast and when a policy may move.

use super::limits::*;
use crate::policy::checker::Checker;
use crate::policy::file::{Located, MissingActionFile, MissingDataFile, ScaleInFile, ScaleOutFile, StepFile};
use crate::policy::model::{MissingAction, MissingData, ScaleIn, ScaleOut, StepLimit};

/// A task count of a policy: `least..=MAX_TASKS`.
pub fn tasks(c: &mut Checker, value: &Located<i64>, what: &str, least: i64) -> Option<u32> {
    c.count(value, what, least, MAX_TASKS)
}

pub fn scale_out(c: &mut Checker, raw: Option<&Located<ScaleOutFile>>) -> ScaleOut {
    let Some(so) = raw.map(Located::get) else {
        return ScaleOut {
            cooldown: DEFAULT_SCALE_OUT_COOLDOWN,
            max_step: None,
        };
    };
    ScaleOut {
        cooldown: c.optional_duration(&so.cooldown, "scale_out.cooldown", DEFAULT_SCALE_OUT_COOLDOWN),
        max_step: so.max_step.as_ref().and_then(|s| step(c, s, "scale_out.max_step")),
    }
}

pub fn scale_in(c: &mut Checker, raw: Option<&Located<ScaleInFile>>) -> ScaleIn {
    let Some(si) = raw.map(Located::get) else {
        return ScaleIn {
            enabled: true,
            cooldown: DEFAULT_SCALE_IN_COOLDOWN,
            stabilization: DEFAULT_STABILIZATION,
            patience: DEFAULT_STABILIZATION,
            max_step: None,
        };
    };
    let stabilization = c.optional_duration(&si.stabilization, "scale_in.stabilization", DEFAULT_STABILIZATION);
    let patience = c.optional_duration(&si.patience, "scale_in.patience", stabilization);
    if patience < stabilization
        && let Some(p) = &si.patience
    {
        c.error(
            p.span(),
            format!(
                "scale_in.patience is the longer window used after a reversal; make it at least the stabilization ({}s)",
                stabilization.as_secs()
            ),
        );
    }
    ScaleIn {
        enabled: si.enabled.unwrap_or(true),
        cooldown: c.optional_duration(&si.cooldown, "scale_in.cooldown", DEFAULT_SCALE_IN_COOLDOWN),
        stabilization,
        patience,
        max_step: si.max_step.as_ref().and_then(|s| {
            let step = step(c, s, "scale_in.max_step");
            if let Some(StepLimit::Percent(p)) = step
                && p > 100.0
            {
                c.error(
                    s.span(),
                    format!("scale_in.max_step \"{p}%\" removes more than every task; use at most \"100%\""),
                );
            }
            step
        }),
    }
}

fn step(c: &mut Checker, value: &Located<StepFile>, what: &str) -> Option<StepLimit> {
    match value.get() {
        StepFile::Count(n) if *n >= 1 => Some(StepLimit::Count(u32::try_from(*n).unwrap_or(MAX_TASKS))),
        StepFile::Count(n) => {
            c.error(value.span(), format!("{what} must be at least 1 task, found {n}"));
            None
        }
        StepFile::Percent(text) => {
            let number = text
                .trim()
                .strip_suffix('%')
                .map(str::trim)
                .and_then(|n| n.parse::<f64>().ok());
            match number {
                Some(p) if p > 0.0 && p <= 1000.0 => Some(StepLimit::Percent(p)),
                _ => {
                    c.error(
                        value.span(),
                        format!(
                            "{what} \"{text}\" must be a task count like 2 or a percentage like \"50%\" (0 < p <= 1000)"
                        ),
                    );
                    None
                }
            }
        }
    }
}

pub fn missing_data(
    c: &mut Checker,
    raw: Option<&Located<MissingDataFile>>,
    min: Option<u32>,
    max: Option<u32>,
) -> MissingData {
    let Some(raw) = raw else {
        return MissingData {
            action: MissingAction::Hold,
            after: DEFAULT_MISSING_AFTER,
        };
    };
    let m = raw.get();
    let after = c.optional_duration(&m.after, "missing_data.after", DEFAULT_MISSING_AFTER);
    let action = match m.action.as_ref().map(|a| *a.get()) {
        None | Some(MissingActionFile::Hold) => {
            if let Some(f) = &m.fallback_count {
                c.error(f.span(), "fallback_count needs action = \"fallback\"");
            }
            MissingAction::Hold
        }
        Some(MissingActionFile::Fallback) => match &m.fallback_count {
            None => {
                c.error(raw.span(), "action = \"fallback\" needs fallback_count");
                MissingAction::Hold
            }
            Some(f) => {
                let n = tasks(c, f, "fallback_count", 0).unwrap_or(0);
                if let (Some(lo), Some(hi)) = (min, max)
                    && (n < lo || n > hi)
                {
                    c.error(
                        f.span(),
                        format!("fallback_count ({n}) must lie within min..max ({lo}..{hi})"),
                    );
                }
                MissingAction::Fallback(n)
            }
        },
    };
    MissingData { action, after }
}

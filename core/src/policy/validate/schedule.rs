//! `[[schedule]]`s: cron windows that change min and max while they are open.

use std::collections::BTreeSet;
use std::ops::Range;

use super::limits::*;
use super::scaling::tasks;
use crate::policy::checker::Checker;
use crate::policy::cron;
use crate::policy::file::{Located, ScheduleFile};
use crate::policy::model::Schedule;

pub fn schedules(c: &mut Checker, raw: &[Located<ScheduleFile>], max: Option<u32>) -> Vec<Schedule> {
    if let Some(extra) = raw.get(MAX_SCHEDULES) {
        c.error(
            extra.get().name.span(),
            format!(
                "a policy may have at most {MAX_SCHEDULES} schedules; this one has {}",
                raw.len()
            ),
        );
    }
    let mut names = BTreeSet::new();
    let mut schedules = Vec::new();
    for s in raw.iter().take(MAX_SCHEDULES) {
        let name = s.get().name.get().trim().to_string();
        if !names.insert(name.clone()) {
            c.error(s.get().name.span(), format!("duplicate schedule name \"{name}\""));
        }
        if let Some(sched) = schedule(c, s.get(), s.span()) {
            // Without a max of its own, a schedule's min must fit under the policy's max.
            if let (Some(lo), None, Some(hi), Some(m)) = (sched.min, sched.max, max, &s.get().min)
                && lo > hi
            {
                c.error(
                    m.span(),
                    format!(
                        "schedule \"{}\" min ({lo}) is greater than the policy's max ({hi}); raise max or give the schedule a max of its own",
                        sched.name
                    ),
                );
            }
            schedules.push(sched);
        }
    }
    schedules
}

fn schedule(c: &mut Checker, s: &ScheduleFile, span: Range<usize>) -> Option<Schedule> {
    let name = c.name(&s.name, "schedule name");
    let parsed = match cron::parse(s.cron.get()) {
        Ok(p) => Some(p),
        Err(e) => {
            c.error(s.cron.span(), format!("bad cron expression \"{}\": {e}", s.cron.get()));
            None
        }
    };
    let duration = c.duration(&s.duration, "schedule duration");
    let min = s.min.as_ref().and_then(|m| tasks(c, m, "schedule min", 0));
    let max = s.max.as_ref().and_then(|m| tasks(c, m, "schedule max", 1));
    if s.min.is_none() && s.max.is_none() {
        c.error(span, format!("schedule \"{name}\" sets neither min nor max"));
    }
    if let (Some(lo), Some(hi), Some(m)) = (min, max, &s.min)
        && lo > hi
    {
        c.error(m.span(), format!("schedule min ({lo}) is greater than its max ({hi})"));
    }
    Some(Schedule {
        name,
        cron: s.cron.get().trim().to_string(),
        parsed: parsed?,
        duration: duration?,
        min,
        max,
    })
}

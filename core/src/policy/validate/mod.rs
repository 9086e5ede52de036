//! Turns a parsed [`PolicyFile`] into a [`Policy`], collecting every problem with its
//! location: the policy's own keys here; the target, the scaling sections, each rule kind
//! and the schedules in a file each.

mod limits;
mod predict;
mod rules;
mod scaling;
mod schedule;
mod target;

use std::path::Path;
use std::time::Duration;

use limits::{DEFAULT_INTERVAL, MAX_INTERVAL};
pub use limits::{MAX_RULES, MAX_SCHEDULES, MAX_TASKS};
use scaling::tasks;

use super::checker::Checker;
use super::diagnostic::FileErrors;
use super::file::PolicyFile;
use super::model::Policy;

pub fn validate(file: &Path, source: &str, raw: PolicyFile) -> Result<Policy, FileErrors> {
    let mut c = Checker::new(file, source);
    let name = match &raw.name {
        Some(n) => c.name(n, "policy name"),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let target = target::target(&mut c, &raw.target);
    let min = tasks(&mut c, &raw.min, "min", 0);
    let max = tasks(&mut c, &raw.max, "max", 1);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        c.error(raw.min.span(), format!("min ({lo}) is greater than max ({hi})"));
    }
    let interval = c.optional_duration(&raw.interval, "interval", DEFAULT_INTERVAL);
    if interval > MAX_INTERVAL
        && let Some(i) = &raw.interval
    {
        c.error(i.span(), "interval must be at most 1h");
    }
    if interval < Duration::from_secs(1)
        && let Some(i) = &raw.interval
    {
        c.error(i.span(), "interval must be at least 1s");
    }
    let spare = raw
        .spare
        .as_ref()
        .and_then(|s| tasks(&mut c, s, "spare", 0))
        .unwrap_or(0);
    if let (Some(s), Some(hi)) = (&raw.spare, max)
        && spare > hi
    {
        c.error(s.span(), format!("spare ({spare}) cannot exceed max ({hi})"));
    }
    let scale_out = scaling::scale_out(&mut c, raw.scale_out.as_ref());
    let scale_in = scaling::scale_in(&mut c, raw.scale_in.as_ref());
    let missing_data = scaling::missing_data(&mut c, raw.missing_data.as_ref(), min, max);
    let rules = rules::rules(&mut c, &raw.rules, &target);
    let schedules = schedule::schedules(&mut c, &raw.schedules, max);
    let predict = raw.predict.as_ref().and_then(|p| predict::predict(&mut c, p, &rules));
    let takeover = raw.takeover.as_ref().is_some_and(|t| {
        if *t.get() && target.backend() != super::model::Backend::Aws {
            c.error(
                t.span(),
                "takeover applies to aws targets only: it suspends Application Auto Scaling's scaling of an ECS service",
            );
        }
        *t.get()
    });
    let policy = Policy {
        name,
        target,
        min: min.unwrap_or(0),
        max: max.unwrap_or(1),
        interval,
        dry_run: raw.dry_run,
        takeover,
        spare,
        scale_out,
        scale_in,
        missing_data,
        rules,
        schedules,
        predict,
    };
    c.finish(policy)
}

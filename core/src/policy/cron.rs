//! The one cron dialect of policy files: five fields, or six with seconds first; when both
//! day-of-month and day-of-week are given, a day must match both. Validation and the
//! daemon's wake-ups at window edges read expressions through this parser alone.

use chrono::{DateTime, Utc};
pub use croner::Cron;
use croner::parser::{CronParser, Seconds};

pub fn parse(expression: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .dom_and_dow(true)
        .build()
        .parse(expression)
        .map_err(|e| e.to_string())
}

/// Whether a window of length `open_for` opened by the expression is open at `now`.
pub fn is_open(cron: &Cron, now: DateTime<Utc>, open_for: chrono::Duration) -> bool {
    cron.find_next_occurrence(&(now - open_for), true)
        .is_ok_and(|fired| fired <= now)
}

/// The next moment after `now` at which such a window may open or close: the next firing,
/// or the end of the window opened by the earliest firing still inside it. A later firing
/// may keep the window open past that end; waking then costs one evaluation, missing an
/// edge would cost the window.
pub fn next_edge(cron: &Cron, now: DateTime<Utc>, open_for: chrono::Duration) -> Option<DateTime<Utc>> {
    let opens = cron.find_next_occurrence(&now, false).ok();
    let closes = cron
        .find_next_occurrence(&(now - open_for), false)
        .ok()
        .filter(|fired| *fired <= now)
        .map(|fired| fired + open_for)
        .filter(|end| *end > now);
    match (opens, closes) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

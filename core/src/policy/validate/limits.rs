//! Defaults filled in where a policy file is silent, and the limits every policy is held to.

use std::time::Duration;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_SCALE_OUT_COOLDOWN: Duration = Duration::from_secs(60);
pub const DEFAULT_SCALE_IN_COOLDOWN: Duration = Duration::from_secs(300);
pub const DEFAULT_STABILIZATION: Duration = Duration::from_secs(300);
pub const DEFAULT_MISSING_AFTER: Duration = Duration::from_secs(300);
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(60);
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// A learned demand target aims at this share of the rate at which the SLO broke.
pub const DEFAULT_LEARNED_SHARE: f64 = 0.7;
pub const DEFAULT_HEADROOM: f64 = 0.7;
pub const DEFAULT_MAX_FACTOR: f64 = 2.0;
/// How long one published count covers (request_rate and error_rate rules).
pub const DEFAULT_COUNT_WINDOW: Duration = Duration::from_secs(10);

/// Upper limit on any task count; ECS allows far fewer tasks per service anyway.
pub const MAX_TASKS: u32 = 10_000;
/// The interval and a rule's max_age are held to an hour (max_age sets how far back the
/// round's shared metric query looks).
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Rules per policy at most: each is a metric query every round.
pub const MAX_RULES: usize = 20;
/// Schedules per policy at most.
pub const MAX_SCHEDULES: usize = 50;

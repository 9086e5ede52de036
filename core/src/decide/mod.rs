//! The decision core: a pure function of (policy, observation, history, now).
//!
//! No I/O, no clock, no async. Everything about why a decision was taken is in the
//! returned [`Decision`], so the status API, the journal, the simulator and the tests
//! all read the same explanation.

mod bounds;
mod combine;
mod controller;
mod decision;
mod gates;
mod history;
mod learn;
pub mod math;
mod predict;
mod rules;
mod steps;
mod types;
mod verdicts;

pub use bounds::{effective_bounds, next_schedule_edge};
pub use controller::{Controller, Outcome};
pub use decision::decide;
pub use gates::gates;
pub use history::{CLOCK_SKEW_ALLOWANCE, History, PATIENCE_MEMORY, REVERSAL_WINDOW, max_gap};
pub use learn::evidence::{Refusal, Window};
pub use learn::knee::{Basis, Knee, KneeModel, Slo};
pub use learn::{KneeVerdict, Learning};
pub use predict::forecast::{self, Backtest, Season, median};
pub use predict::series::{Minute, Series, minute_of};
pub use predict::{ForecastStatus, ForecastVerdict, PredictState, confident_share as predict_confident_share};
pub use types::*;

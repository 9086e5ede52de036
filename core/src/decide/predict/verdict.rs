//! What the forecast contributed to one decision, as journals and the API show it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastStatus {
    /// The floor is in force.
    Applied,
    /// The floor is computed and shown, not applied (`mode = "forecast_only"`).
    ForecastOnly,
    /// Not enough history for any season.
    NoHistory,
    /// The backtest error is above `max_error`.
    NotConfident,
    /// Load stayed well below the forecast: the floor is withdrawn.
    Retracted,
    /// The predicting rule has no reading this round.
    NoData,
    /// `mode = "off"`: the demand is still recorded, so turning prediction on again
    /// starts from the history.
    Off,
}

/// What the forecast contributed to one decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastVerdict {
    pub status: ForecastStatus,
    /// The count the forecast peak over the lead needs, after limits.
    pub floor: Option<u32>,
    /// The count the forecast needs within lead + scale-out cooldown: scale-in stops there.
    pub keep: Option<u32>,
    /// The forecast peak demand (the rule's unit × tasks) and when it comes.
    pub demand: Option<f64>,
    pub peak_at: Option<DateTime<Utc>>,
    /// The demand now, as the rule read it, and the time of that reading.
    pub actual: Option<f64>,
    pub actual_at: Option<DateTime<Utc>>,
    pub season: Option<String>,
    pub error_p90: Option<f64>,
    pub lead_s: f64,
    pub lead_measured: bool,
    /// The count the rules asked for before the forecast.
    pub reactive: u32,
    pub wasted_task_seconds: f64,
    pub reason: String,
}

impl ForecastVerdict {
    /// Whether the floor changes counts.
    pub fn in_force(&self) -> bool {
        self.status == ForecastStatus::Applied
    }
}

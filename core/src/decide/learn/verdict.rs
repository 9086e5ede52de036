//! What a round made of a learning rule's readings, as decisions carry it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::evidence::{Refusal, Window};
use super::knee::Knee;

/// What one round taught (or did not teach) a learning rule, and the knee it decides by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct KneeVerdict {
    /// The service's revision the knee belongs to.
    #[serde(default)]
    pub revision: u64,
    /// This round's window, if both readings were there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Why the window teaches nothing; None when it was taken as evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    /// The start of the run of steady windows this one continues, if it is steady.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_since: Option<DateTime<Utc>>,
    /// The knee with this round's evidence in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knee: Option<Knee>,
    /// The share of the knee aimed at when it is not the rule's `learned_share`: a
    /// confident forecast's `confident_share`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
}

impl KneeVerdict {
    pub fn accepted(&self) -> bool {
        self.window.is_some() && self.refused.is_none()
    }
}

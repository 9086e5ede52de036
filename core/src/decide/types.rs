//! What goes into a decision and what comes out of it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::learn::verdict::KneeVerdict;
use super::predict::verdict::{ForecastStatus, ForecastVerdict};

/// The service's task counts as the backend reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    /// A rollout is under way (ECS: more than one deployment, or the primary not yet complete).
    pub deployment_in_progress: bool,
    /// The service's revision (a hash of its task definition); 0 when unknown. A new one
    /// means what a task serves may have changed.
    #[serde(default)]
    pub revision: u64,
}

/// One metric datapoint as delivered by the metric source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub value: f64,
    /// Start of the datapoint's period (CloudWatch's timestamp).
    pub at: DateTime<Utc>,
    /// Tasks that produced the value, when the source knows it; otherwise the running count is used.
    pub base: Option<u32>,
}

/// A rule's input: a datapoint, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Sample {
    Value(Reading),
    Missing {
        #[serde(default)]
        cause: MissingCause,
        reason: String,
    },
}

/// Why a rule has no datapoint. Every backend sets it the same way, so "the read failed"
/// means one thing whichever world the metrics come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingCause {
    /// The read worked; no datapoint has been published for the period yet (or none exists).
    #[default]
    NotPublished,
    /// The read itself failed or was cut at its deadline: the source is unavailable. The
    /// daemon reports it as the policy's error.
    ReadFailed,
    /// This backend cannot produce the rule's metric at all.
    Unsupported,
}

impl Sample {
    pub fn missing(cause: MissingCause, reason: impl Into<String>) -> Self {
        Sample::Missing {
            cause,
            reason: reason.into(),
        }
    }

    /// The reason, when the read of this sample failed.
    pub fn read_failure(&self) -> Option<&str> {
        match self {
            Sample::Missing {
                cause: MissingCause::ReadFailed,
                reason,
            } => Some(reason),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub capacity: Capacity,
    /// Keyed by rule name. A rule without an entry is treated as missing.
    pub metrics: BTreeMap<String, Sample>,
    /// Another scaler changes this target's count, and why this policy may not: the
    /// decision is made and shown, and nothing is changed.
    pub withheld: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    /// Needs more tasks.
    Out,
    /// Would be content with fewer tasks.
    In,
    /// Wants the current count.
    Hold,
    /// Latency guard: not above the SLO, but too close to it to give tasks away.
    VetoIn,
    /// Latency guard: comfortably below the SLO; does not object to a scale-in.
    NoObjection,
    /// No usable data: may not block a scale-out, always blocks a scale-in.
    Missing,
}

/// One rule's part in a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleVerdict {
    pub rule: String,
    pub value: Option<f64>,
    pub target: f64,
    pub age_seconds: Option<f64>,
    /// The count this rule asks for, when it asks for one.
    pub proposal: Option<u32>,
    pub vote: Vote,
    /// The value was inside the tolerance band, so the rule asked for no change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub within_tolerance: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Tolerance,
    Spare,
    PendingCapacity,
    MissingData,
    Fallback,
    ScaleInDisabled,
    Deployment,
    Conservative,
    Cooldown,
    Stabilization,
    Step,
    Schedule,
    Bounds,
    DryRun,
    /// Another scaler (AWS Application Auto Scaling) changes the count: nothing is changed.
    OtherScaler,
    /// The predictive floor raised the count, or held tasks the forecast needs soon.
    Forecast,
}

/// Something that shaped the decision, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub kind: LimitKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Hold,
    ScaleOut,
    ScaleIn,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Hold, Action::ScaleOut, Action::ScaleIn];

    /// The name it is serialized and counted under: "hold", "scale_out", "scale_in".
    pub fn label(self) -> &'static str {
        match self {
            Action::Hold => "hold",
            Action::ScaleOut => "scale_out",
            Action::ScaleIn => "scale_in",
        }
    }
}

/// The bounds in force at decision time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
    /// Schedules whose windows were open and changed the bounds.
    pub schedules: Vec<String>,
}

/// The desired count differed from the one last set by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalChange {
    pub expected: u32,
    pub observed: u32,
}

/// A decision and everything about why it was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub policy: String,
    pub at: DateTime<Utc>,
    pub capacity: Capacity,
    /// The count the rules asked for, before cooldowns, stabilization, steps and bounds.
    pub recommendation: u32,
    /// The desired count this decision sets (equal to `capacity.desired` when holding).
    pub desired: u32,
    pub action: Action,
    pub dry_run: bool,
    pub bounds: Bounds,
    pub rules: Vec<RuleVerdict>,
    pub limits: Vec<Limit>,
    pub external_change: Option<ExternalChange>,
    /// Every rule had no usable data.
    pub blind: bool,
    /// When each direction could act, as of this decision.
    #[serde(default)]
    pub gates: Gates,
    /// What the policy's learning rules made of this round, and the knee each decides by.
    #[serde(default, alias = "learned", skip_serializing_if = "BTreeMap::is_empty")]
    pub knees: BTreeMap<String, KneeVerdict>,
    /// What the forecast made of this round, when the policy predicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastVerdict>,
}

impl Decision {
    /// Whether the backend should be told to change the desired count.
    pub fn should_apply(&self) -> bool {
        self.action != Action::Hold && !self.dry_run && !self.limited_by(LimitKind::OtherScaler)
    }

    pub fn limited_by(&self, kind: LimitKind) -> bool {
        self.limits.iter().any(|l| l.kind == kind)
    }

    /// One line for logs, terminals and journals.
    pub fn explain(&self) -> String {
        let head = match self.action {
            Action::Hold => format!("hold at {}", self.desired),
            Action::ScaleOut => format!("scale out {} -> {}", self.capacity.desired, self.desired),
            Action::ScaleIn => format!("scale in {} -> {}", self.capacity.desired, self.desired),
        };
        let rules: Vec<String> = self.rules.iter().map(|r| format!("{}: {}", r.rule, r.reason)).collect();
        let mut text = format!("{head}{}", if self.dry_run { " (dry run)" } else { "" });
        if !rules.is_empty() {
            text.push_str(&format!("; {}", rules.join("; ")));
        }
        for l in &self.limits {
            if l.kind != LimitKind::DryRun {
                text.push_str(&format!("; {}", l.detail));
            }
        }
        if let Some(f) = self
            .forecast
            .as_ref()
            .filter(|f| !self.limited_by(LimitKind::Forecast) && f.status != ForecastStatus::Off)
        {
            text.push_str(&format!("; forecast: {}", f.reason));
        }
        if let Some(x) = self.external_change {
            text.push_str(&format!(
                "; desired count was changed outside the autoscaler ({} expected, {} found), taken as the new baseline",
                x.expected, x.observed
            ));
        }
        text
    }
}

/// What keeps a direction closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub kind: LimitKind,
    /// When it opens by itself; `None` when only a change (of the policy, of the
    /// deployment) opens it.
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
}

/// Each direction: `None` when open now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gates {
    pub scale_out: Option<Block>,
    pub scale_in: Option<Block>,
}

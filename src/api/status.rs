//! What the status API and the page show, copied out of the registry: the lock is held
//! only while copying, never while a page renders or a response is written. Everything
//! about when a policy may next act comes from the decision core.

use autoscaler_core::decide::{Capacity, Gates, Vote};
use autoscaler_core::policy::{Measure, Target};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::daemon::Shared;
use crate::daemon::leadership::Role;
use crate::daemon::registry::{JournalEntry, Point, PolicyEntry};
use crate::daemon::state::SaveStatus;

#[derive(Serialize)]
pub struct Status {
    pub now: DateTime<Utc>,
    pub backend: String,
    pub ready: bool,
    pub state: String,
    /// This daemon's part: `single`, or `leader` / `follower` under the lease.
    pub leadership: Leadership,
    /// Where state is saved and how saving has gone (failures, bytes per save).
    pub state_store: StateStore,
    pub policies: Vec<PolicyStatus>,
    pub rejected_files: Vec<RejectedFile>,
    /// Valid policy files not loaded because their target is another backend's.
    pub skipped_files: Vec<RejectedFile>,
    /// Why the policy directory or S3 prefix cannot be read now; the policies in force stay.
    pub policy_source_error: Option<String>,
}

#[derive(Serialize)]
pub struct Leadership {
    #[serde(flatten)]
    pub role: Role,
    /// This daemon's name in the lease.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_ttl_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
}

impl Leadership {
    pub fn of(s: &Shared) -> Self {
        let l = s.leadership();
        Self {
            role: s.role(),
            me: l.map(|l| l.me().to_string()),
            lease_ttl_s: l.map(|l| l.ttl().as_secs_f64()),
            lease: l.map(|l| l.describe()),
        }
    }
}

#[derive(Serialize)]
pub struct StateStore {
    pub store: String,
    #[serde(flatten)]
    pub status: SaveStatus,
}

#[derive(Serialize)]
pub struct RejectedFile {
    pub file: String,
    pub error: String,
}

#[derive(Serialize)]
pub struct PolicyStatus {
    pub name: String,
    pub file: String,
    pub checksum: String,
    pub target: Target,
    pub min: u32,
    pub max: u32,
    pub dry_run: bool,
    pub paused: bool,
    pub load_error: Option<String>,
    pub last_error: Option<String>,
    pub capacity: Option<Capacity>,
    pub rules: Vec<RuleStatus>,
    /// When each direction may next act and why not now, from the decision core.
    pub gates: Gates,
    pub next_evaluation_in_s: i64,
    /// Ticks skipped because an evaluation was still running.
    pub skipped_ticks: u64,
    pub last_decision: Option<JournalEntry>,
    /// The last hour, for the page's charts.
    #[serde(skip)]
    pub series: Vec<Point>,
    /// The predicting rule's load against its forecast, when the policy predicts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastView>,
    /// AWS's own scaler of the service (aws targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_scaling: Option<AwsScalingView>,
}

/// What the daemon knows of AWS Application Auto Scaling on this policy's service.
#[derive(Serialize)]
pub struct AwsScalingView {
    /// The policy's `takeover`.
    pub takeover: bool,
    /// "taken over" (suspended by this daemon), "withheld" (AWS's scaling is active, this
    /// policy changes nothing), "not scaled by AWS", or "not read yet".
    pub state: &'static str,
    /// Since when AWS's scaling has been suspended by this daemon.
    pub suspended_since: Option<DateTime<Utc>>,
    /// Why the policy changes nothing, while withheld.
    pub withheld: Option<String>,
    /// The last failure to read, suspend or give back AWS's scaling.
    pub error: Option<String>,
}

/// Minutes of forecast the status shows after now.
pub const FORECAST_AHEAD: i64 = 60;

/// The last hour of a predicting policy's load, what was forecast for it, and the next
/// hour's forecast: from the decision core's state, per minute.
#[derive(Serialize)]
pub struct ForecastView {
    pub rule: String,
    /// What the last decision made of the forecast (`applied`, `not_confident`, ...).
    pub status: String,
    /// The forecast peak the last decision sized by.
    pub peak: Option<f64>,
    pub curve: Vec<CurvePoint>,
}

#[derive(Serialize)]
pub struct CurvePoint {
    pub at: DateTime<Utc>,
    pub actual: Option<f64>,
    pub forecast: Option<f64>,
}

#[derive(Serialize)]
pub struct RuleStatus {
    pub name: String,
    pub value: Option<f64>,
    pub target: f64,
    pub age_seconds: Option<f64>,
    pub vote: Option<Vote>,
    pub reason: Option<String>,
    /// What the rule measures, for showing its values with their unit.
    #[serde(skip)]
    pub measure: Measure,
}

pub fn status(s: &Shared) -> Status {
    let now = s.clock.now();
    // Before the registry is locked: it locks it too.
    let ready = s.is_ready();
    let reg = s.registry();
    let policies = reg
        .policies()
        .iter()
        .map(|(name, e)| policy_status(name, e, now))
        .collect();
    let files = |m: &std::collections::BTreeMap<std::path::PathBuf, String>| -> Vec<RejectedFile> {
        m.iter()
            .map(|(f, e)| RejectedFile {
                file: f.display().to_string(),
                error: e.clone(),
            })
            .collect()
    };
    let (rejected_files, skipped_files) = (files(reg.rejected()), files(reg.skipped()));
    drop(reg);
    Status {
        now,
        backend: s.settings.backend.to_string(),
        ready,
        state: s.state_status(),
        leadership: Leadership::of(s),
        state_store: {
            let (store, status) = s.state_store();
            StateStore { store, status }
        },
        policies,
        rejected_files,
        skipped_files,
        policy_source_error: s.source_error(),
    }
}

fn policy_status(name: &str, e: &PolicyEntry, now: DateTime<Utc>) -> PolicyStatus {
    let p = e.policy();
    let last = e.last();
    let rules = p
        .rules
        .iter()
        .map(|r| {
            let v = last.and_then(|l| l.decision.rules.iter().find(|v| v.rule == r.name));
            RuleStatus {
                name: r.name.clone(),
                value: v.and_then(|v| v.value),
                // The target the last decision applied (a learned one), else as written.
                target: v.map_or(r.goal.target(), |v| v.target),
                age_seconds: v.and_then(|v| v.age_seconds),
                vote: v.map(|v| v.vote),
                reason: v.map(|v| v.reason.clone()),
                measure: r.measures,
            }
        })
        .collect();
    PolicyStatus {
        name: name.to_string(),
        file: e.file().display().to_string(),
        checksum: e.checksum().to_string(),
        target: p.target.clone(),
        min: p.min,
        max: p.max,
        dry_run: p.dry_run,
        paused: e.paused(),
        load_error: e.load_error().map(str::to_string),
        last_error: e.last_error().map(str::to_string),
        capacity: last.map(|l| l.decision.capacity),
        rules,
        gates: autoscaler_core::decide::gates(
            p,
            e.history(),
            last.is_some_and(|l| l.decision.capacity.deployment_in_progress),
            now,
        ),
        next_evaluation_in_s: (e.next_due() - now).num_seconds().max(0),
        skipped_ticks: e.skipped_ticks(),
        last_decision: last.cloned(),
        series: e.series().iter().cloned().collect(),
        forecast: forecast_view(p, e.history(), last.and_then(|l| l.decision.forecast.as_ref()), now),
        aws_scaling: aws_scaling_view(p, e),
    }
}

fn aws_scaling_view(p: &autoscaler_core::policy::Policy, e: &PolicyEntry) -> Option<AwsScalingView> {
    if p.target.backend() != autoscaler_core::policy::Backend::Aws {
        return None;
    }
    let suspension = e.history().aws_suspension.as_ref();
    let state = match (e.aws_withheld(), suspension, e.aws_checked().is_none()) {
        (Some(_), _, _) => "withheld",
        (None, Some(_), _) => "taken over",
        (None, None, true) => "not read yet",
        (None, None, false) => "not scaled by AWS",
    };
    Some(AwsScalingView {
        takeover: p.takeover,
        state,
        suspended_since: suspension.map(|s| s.at),
        withheld: e.aws_withheld().map(String::from),
        error: e.aws_error().map(String::from),
    })
}

fn forecast_view(
    p: &autoscaler_core::policy::Policy,
    history: &autoscaler_core::decide::History,
    verdict: Option<&autoscaler_core::decide::ForecastVerdict>,
    now: DateTime<Utc>,
) -> Option<ForecastView> {
    let predict = p.predict.as_ref()?;
    let state = history.predict.as_ref()?;
    let status = verdict
        .and_then(|v| serde_json::to_value(v.status).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "no decision yet".into());
    Some(ForecastView {
        rule: predict.rule.clone(),
        status,
        peak: verdict.and_then(|v| v.demand),
        curve: state
            .curve(now, 60, FORECAST_AHEAD)
            .into_iter()
            .map(|(at, actual, forecast)| CurvePoint { at, actual, forecast })
            .collect(),
    })
}

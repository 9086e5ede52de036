//! Application Auto Scaling's configuration of one ECS service, as read from AWS: the
//! scalable target, its policies and its scheduled actions. `import` translates it, the
//! daemon decides from it whether it may act, and the simulator's AWS models are
//! parameterised by it. Written to `<policy>.aws.json` beside an imported policy.

use serde::{Deserialize, Serialize};

use crate::policy::{Measure, Statistic};

/// Everything Application Auto Scaling holds for one service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AwsScaling {
    /// `service/<cluster>/<service>`, AWS's resource id.
    pub resource_id: String,
    /// None: the service is not registered with Application Auto Scaling.
    pub target: Option<ScalableTarget>,
    #[serde(default)]
    pub policies: Vec<AwsPolicy>,
    #[serde(default)]
    pub scheduled: Vec<ScheduledAction>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalableTarget {
    pub min: u32,
    pub max: u32,
    #[serde(default)]
    pub suspended: Suspended,
}

/// `SuspendedState`: which of AWS's own scaling is switched off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspended {
    pub dynamic_in: bool,
    pub dynamic_out: bool,
    pub scheduled: bool,
}

impl Suspended {
    pub const ALL: Suspended = Suspended {
        dynamic_in: true,
        dynamic_out: true,
        scheduled: true,
    };
    pub const NONE: Suspended = Suspended {
        dynamic_in: false,
        dynamic_out: false,
        scheduled: false,
    };
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsPolicy {
    pub name: String,
    pub kind: PolicyKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PolicyKind {
    TargetTracking(TargetTracking),
    Step(StepScaling),
    Predictive(Predictive),
}

impl PolicyKind {
    pub fn label(&self) -> &'static str {
        match self {
            PolicyKind::TargetTracking(_) => "target tracking",
            PolicyKind::Step(_) => "step scaling",
            PolicyKind::Predictive(_) => "predictive scaling",
        }
    }
}

/// The metric a policy tracks: one of AWS's predefined ones, or a CloudWatch metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwsMetric {
    /// `ECSServiceAverageCPUUtilization`, `ECSServiceAverageMemoryUtilization`,
    /// `ALBRequestCountPerTarget` (with its resource label).
    Predefined {
        name: String,
        resource_label: Option<String>,
    },
    Custom {
        namespace: String,
        name: String,
        dimensions: Vec<(String, String)>,
        statistic: String,
    },
}

impl AwsMetric {
    /// What the metric measures in the policy model's terms, when it is one the
    /// simulator can produce ([`Measure::of_cloudwatch`]); None for any other.
    pub fn measure(&self) -> Option<Measure> {
        match self {
            AwsMetric::Predefined { name, .. } => match name.as_str() {
                "ECSServiceAverageCPUUtilization" | "ECSServiceAverageCPUUtilizationHighResolution" => {
                    Some(Measure::Cpu)
                }
                "ECSServiceAverageMemoryUtilization" | "ECSServiceAverageMemoryUtilizationHighResolution" => {
                    Some(Measure::Memory)
                }
                "ALBRequestCountPerTarget" => Some(Measure::RequestsPerTarget),
                _ => None,
            },
            AwsMetric::Custom {
                namespace,
                name,
                statistic,
                ..
            } => {
                let statistic = match statistic.as_str() {
                    "Sum" => Statistic::Sum,
                    "Maximum" => Statistic::Maximum,
                    "Minimum" => Statistic::Minimum,
                    "SampleCount" => Statistic::SampleCount,
                    p => match p.strip_prefix('p').and_then(|n| n.parse::<f64>().ok()) {
                        Some(n) if n > 0.0 && n < 100.0 => Statistic::Percentile(n),
                        _ => Statistic::Average,
                    },
                };
                match Measure::of_cloudwatch(namespace, name, statistic) {
                    Measure::Other => None,
                    m => Some(m),
                }
            }
        }
    }

    /// Whether AWS publishes it every 20 s (the `HighResolution` predefined metrics).
    pub fn high_resolution(&self) -> bool {
        matches!(self, AwsMetric::Predefined { name, .. } if name.ends_with("HighResolution"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetTracking {
    pub metric: AwsMetric,
    pub target: f64,
    /// Seconds; AWS's default for ECS is 300.
    pub scale_out_cooldown: Option<u32>,
    pub scale_in_cooldown: Option<u32>,
    #[serde(default)]
    pub disable_scale_in: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepScaling {
    /// `ChangeInCapacity`, `PercentChangeInCapacity` or `ExactCapacity`.
    pub adjustment_type: String,
    pub cooldown: Option<u32>,
    pub steps: Vec<Step>,
    /// The alarm that triggers it, when it could be read: metric, comparison, threshold.
    pub alarm: Option<Alarm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Bounds relative to the alarm's threshold.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub adjustment: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub name: String,
    pub metric: AwsMetric,
    /// `GreaterThanThreshold` and the like.
    pub comparison: String,
    pub threshold: f64,
    /// Seconds per datapoint and how many in a row must breach; CloudWatch's own defaults
    /// (60 s, 1) when the alarm did not say.
    #[serde(default = "Alarm::default_period")]
    pub period: u32,
    #[serde(default = "Alarm::default_evaluation_periods")]
    pub evaluation_periods: u32,
}

impl Alarm {
    fn default_period() -> u32 {
        60
    }

    fn default_evaluation_periods() -> u32 {
        1
    }

    /// Whether `value` is on the alarm side of the threshold; None for a comparison
    /// CloudWatch does not have (anomaly bands are not modelled).
    pub fn breached(&self, value: f64) -> Option<bool> {
        Some(match self.comparison.as_str() {
            "GreaterThanThreshold" => value > self.threshold,
            "GreaterThanOrEqualToThreshold" => value >= self.threshold,
            "LessThanThreshold" => value < self.threshold,
            "LessThanOrEqualToThreshold" => value <= self.threshold,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictive {
    /// `ForecastOnly` (AWS's default) or `ForecastAndScale`.
    pub mode: String,
    /// The predefined metric pair (`ECSServiceCPUUtilization`, `ALBRequestCount`, ...), or
    /// None for customized metrics.
    pub metric_pair: Option<String>,
    pub target: f64,
    /// Seconds capacity is raised before each forecast hour; AWS's default is 300.
    pub scheduling_buffer: Option<u32>,
    /// `HonorMaxCapacity` (the default), `IncreaseMaxCapacity`.
    pub max_capacity_behavior: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledAction {
    pub name: String,
    /// `cron(0 9 * * ? *)`, `rate(1 hour)` or `at(2026-12-24T09:00:00)`, as AWS holds it.
    pub schedule: String,
    pub timezone: Option<String>,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

impl AwsScaling {
    pub fn resource_id(cluster: &str, service: &str) -> String {
        format!("service/{cluster}/{service}")
    }

    /// AWS's scalers that would change the count now, in words: every policy while
    /// dynamic scaling is not suspended (predictive only when it scales), every scheduled
    /// action while scheduled scaling is not.
    pub fn active(&self) -> Vec<String> {
        let Some(target) = self.target else {
            return Vec::new();
        };
        let mut active = Vec::new();
        let dynamic = !(target.suspended.dynamic_in && target.suspended.dynamic_out);
        for p in &self.policies {
            let scales = match &p.kind {
                PolicyKind::Predictive(pr) => pr.mode == "ForecastAndScale",
                _ => true,
            };
            if dynamic && scales {
                active.push(format!("{} policy \"{}\"", p.kind.label(), p.name));
            }
        }
        if !target.suspended.scheduled {
            active.extend(
                self.scheduled
                    .iter()
                    .map(|s| format!("scheduled action \"{}\"", s.name)),
            );
        }
        active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaling(suspended: Suspended) -> AwsScaling {
        AwsScaling {
            resource_id: AwsScaling::resource_id("prod", "search"),
            target: Some(ScalableTarget {
                min: 2,
                max: 10,
                suspended,
            }),
            policies: vec![
                AwsPolicy {
                    name: "cpu70".into(),
                    kind: PolicyKind::TargetTracking(TargetTracking {
                        metric: AwsMetric::Predefined {
                            name: "ECSServiceAverageCPUUtilization".into(),
                            resource_label: None,
                        },
                        target: 70.0,
                        scale_out_cooldown: None,
                        scale_in_cooldown: None,
                        disable_scale_in: false,
                    }),
                },
                AwsPolicy {
                    name: "forecast".into(),
                    kind: PolicyKind::Predictive(Predictive {
                        mode: "ForecastOnly".into(),
                        metric_pair: Some("ECSServiceCPUUtilization".into()),
                        target: 70.0,
                        scheduling_buffer: None,
                        max_capacity_behavior: None,
                    }),
                },
            ],
            scheduled: vec![ScheduledAction {
                name: "morning".into(),
                schedule: "cron(0 8 * * ? *)".into(),
                timezone: None,
                min: Some(4),
                max: None,
            }],
        }
    }

    #[test]
    fn what_is_active_follows_the_suspended_state() {
        assert_eq!(
            scaling(Suspended::NONE).active(),
            ["target tracking policy \"cpu70\"", "scheduled action \"morning\""],
            "a forecast-only predictive policy changes nothing"
        );
        assert!(scaling(Suspended::ALL).active().is_empty());
        let scheduled_only = Suspended {
            scheduled: false,
            ..Suspended::ALL
        };
        assert_eq!(scaling(scheduled_only).active(), ["scheduled action \"morning\""]);
        let unregistered = AwsScaling {
            target: None,
            ..scaling(Suspended::NONE)
        };
        assert!(unregistered.active().is_empty(), "policies without a target do nothing");
    }
}

//! Application Auto Scaling, AWS's own scaler of a service: its configuration read into the
//! core's [`AwsScaling`] (for `import` and the takeover), and its dynamic and scheduled
//! scaling suspended or restored (`RegisterScalableTarget` with `SuspendedState`).

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::{
    PolicyType, ScalableDimension, ScalingPolicy, ServiceNamespace, SuspendedState,
};

use super::classify::classify;
use crate::backend::BackendError;
use autoscaler_core::migrate::scaling::{
    Alarm, AwsMetric, AwsPolicy, AwsScaling, PolicyKind, Predictive, ScalableTarget, ScheduledAction, Step,
    StepScaling, Suspended, TargetTracking,
};

/// Reads everything Application Auto Scaling holds for `cluster/service`. With
/// `cloudwatch`, the alarms that trigger step policies are read too (what `import`
/// translates); without, only whether each policy exists (what the takeover needs).
pub async fn read(
    client: &Client,
    cloudwatch: Option<&aws_sdk_cloudwatch::Client>,
    cluster: &str,
    service: &str,
) -> Result<AwsScaling, BackendError> {
    let resource_id = AwsScaling::resource_id(cluster, service);
    let targets = client
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_ids(&resource_id)
        .send()
        .await
        .map_err(|e| classify("DescribeScalableTargets", &e))?;
    let target = targets.scalable_targets().first().map(|t| ScalableTarget {
        min: count(t.min_capacity()),
        max: count(t.max_capacity()),
        suspended: t.suspended_state().map_or(Suspended::NONE, suspended),
    });
    if target.is_none() {
        // Not registered: AWS scales nothing here, whatever policies it may still hold.
        return Ok(AwsScaling {
            resource_id,
            ..AwsScaling::default()
        });
    }

    let mut raw = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(&resource_id)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("DescribeScalingPolicies", &e))?;
        raw.extend(page.scaling_policies().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let alarms = match cloudwatch {
        Some(cw) => alarms(cw, &raw).await?,
        None => Vec::new(),
    };
    let policies = raw.iter().filter_map(|p| policy(p, &alarms)).collect();

    let mut scheduled = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .describe_scheduled_actions()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(&resource_id)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("DescribeScheduledActions", &e))?;
        scheduled.extend(page.scheduled_actions().iter().map(|a| ScheduledAction {
            name: a.scheduled_action_name().to_string(),
            schedule: a.schedule().to_string(),
            timezone: a.timezone().map(String::from),
            min: a.scalable_target_action().and_then(|t| t.min_capacity()).map(count),
            max: a.scalable_target_action().and_then(|t| t.max_capacity()).map(count),
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(AwsScaling {
        resource_id,
        target,
        policies,
        scheduled,
    })
}

/// Sets the scalable target's `SuspendedState` (min and max stay as they are).
pub async fn set_suspended(client: &Client, cluster: &str, service: &str, to: Suspended) -> Result<(), BackendError> {
    let state = SuspendedState::builder()
        .dynamic_scaling_in_suspended(to.dynamic_in)
        .dynamic_scaling_out_suspended(to.dynamic_out)
        .scheduled_scaling_suspended(to.scheduled)
        .build();
    client
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(AwsScaling::resource_id(cluster, service))
        .suspended_state(state)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("RegisterScalableTarget", &e))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn suspended(s: &SuspendedState) -> Suspended {
    Suspended {
        dynamic_in: s.dynamic_scaling_in_suspended().unwrap_or(false),
        dynamic_out: s.dynamic_scaling_out_suspended().unwrap_or(false),
        scheduled: s.scheduled_scaling_suspended().unwrap_or(false),
    }
}

/// One policy in the core's terms; None for a type this version of the SDK does not know.
fn policy(p: &ScalingPolicy, alarms: &[(Vec<String>, Alarm)]) -> Option<AwsPolicy> {
    let kind = match p.policy_type() {
        PolicyType::TargetTrackingScaling => {
            let c = p.target_tracking_scaling_policy_configuration()?;
            let metric = if let Some(m) = c.predefined_metric_specification() {
                AwsMetric::Predefined {
                    name: m.predefined_metric_type().as_str().to_string(),
                    resource_label: m.resource_label().map(String::from),
                }
            } else {
                let m = c.customized_metric_specification()?;
                AwsMetric::Custom {
                    namespace: m.namespace().unwrap_or_default().to_string(),
                    name: m.metric_name().unwrap_or_default().to_string(),
                    dimensions: m
                        .dimensions()
                        .iter()
                        .map(|d| (d.name().to_string(), d.value().to_string()))
                        .collect(),
                    statistic: m.statistic().map_or("Average", |s| s.as_str()).to_string(),
                }
            };
            PolicyKind::TargetTracking(TargetTracking {
                metric,
                target: c.target_value(),
                scale_out_cooldown: c.scale_out_cooldown().map(count),
                scale_in_cooldown: c.scale_in_cooldown().map(count),
                disable_scale_in: c.disable_scale_in().unwrap_or(false),
            })
        }
        PolicyType::StepScaling => {
            let c = p.step_scaling_policy_configuration()?;
            PolicyKind::Step(StepScaling {
                adjustment_type: c
                    .adjustment_type()
                    .map_or("ChangeInCapacity", |a| a.as_str())
                    .to_string(),
                cooldown: c.cooldown().map(count),
                steps: c
                    .step_adjustments()
                    .iter()
                    .map(|s| Step {
                        lower: s.metric_interval_lower_bound(),
                        upper: s.metric_interval_upper_bound(),
                        adjustment: s.scaling_adjustment(),
                    })
                    .collect(),
                alarm: alarms
                    .iter()
                    .find(|(actions, _)| actions.iter().any(|a| a == p.policy_arn()))
                    .map(|(_, a)| a.clone()),
            })
        }
        PolicyType::PredictiveScaling => {
            let c = p.predictive_scaling_policy_configuration()?;
            let spec = c.metric_specifications().first();
            PolicyKind::Predictive(Predictive {
                mode: c.mode().map_or("ForecastOnly", |m| m.as_str()).to_string(),
                metric_pair: spec
                    .and_then(|s| s.predefined_metric_pair_specification())
                    .map(|m| m.predefined_metric_type().to_string()),
                target: spec.map_or(0.0, |s| s.target_value()),
                scheduling_buffer: c.scheduling_buffer_time().map(count),
                max_capacity_behavior: c.max_capacity_breach_behavior().map(|b| b.as_str().to_string()),
            })
        }
        _ => return None,
    };
    Some(AwsPolicy {
        name: p.policy_name().to_string(),
        kind,
    })
}

/// The CloudWatch alarms whose actions name one of the step policies, with those actions.
/// A step policy's own `Alarms` list is empty until an alarm is attached, and some
/// servers never fill it; the alarms' actions are the source of truth.
async fn alarms(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    policies: &[ScalingPolicy],
) -> Result<Vec<(Vec<String>, Alarm)>, BackendError> {
    if !policies.iter().any(|p| *p.policy_type() == PolicyType::StepScaling) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = cloudwatch
            .describe_alarms()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("DescribeAlarms", &e))?;
        for a in page.metric_alarms() {
            let actions: Vec<String> = a.alarm_actions().to_vec();
            if !policies.iter().any(|p| actions.iter().any(|x| x == p.policy_arn())) {
                continue;
            }
            out.push((
                actions,
                Alarm {
                    name: a.alarm_name().unwrap_or_default().to_string(),
                    metric: AwsMetric::Custom {
                        namespace: a.namespace().unwrap_or_default().to_string(),
                        name: a.metric_name().unwrap_or_default().to_string(),
                        dimensions: a
                            .dimensions()
                            .iter()
                            .map(|d| {
                                (
                                    d.name().unwrap_or_default().to_string(),
                                    d.value().unwrap_or_default().to_string(),
                                )
                            })
                            .collect(),
                        statistic: a.statistic().map_or("Average", |s| s.as_str()).to_string(),
                    },
                    comparison: a.comparison_operator().map_or("", |c| c.as_str()).to_string(),
                    threshold: a.threshold().unwrap_or(0.0),
                    period: a.period().and_then(|p| u32::try_from(p).ok()).unwrap_or(60),
                    evaluation_periods: a.evaluation_periods().and_then(|p| u32::try_from(p).ok()).unwrap_or(1),
                },
            ));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use aws_sdk_applicationautoscaling::primitives::DateTime;
    use aws_sdk_applicationautoscaling::types::{
        PredictiveScalingMaxCapacityBreachBehavior, PredictiveScalingMetricSpecification, PredictiveScalingMode,
        PredictiveScalingPolicyConfiguration, PredictiveScalingPredefinedMetricPairSpecification,
    };

    use super::*;

    /// moto has no predictive scaling, so the SDK's shape is built here as AWS returns it.
    fn predictive(configuration: PredictiveScalingPolicyConfiguration) -> ScalingPolicy {
        ScalingPolicy::builder()
            .policy_arn(
                "arn:aws:autoscaling:us-east-1:1:scalingPolicy:x:resource/ecs/service/prod/search:policyName/daily",
            )
            .policy_name("daily")
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id("service/prod/search")
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(PolicyType::PredictiveScaling)
            .predictive_scaling_policy_configuration(configuration)
            .creation_time(DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    fn pair(metric: &str, target: f64) -> PredictiveScalingMetricSpecification {
        PredictiveScalingMetricSpecification::builder()
            .target_value(target)
            .predefined_metric_pair_specification(
                PredictiveScalingPredefinedMetricPairSpecification::builder()
                    .predefined_metric_type(metric)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn a_predictive_policy_is_read_with_its_mode_metric_target_and_buffer() {
        let configuration = PredictiveScalingPolicyConfiguration::builder()
            .metric_specifications(pair("ECSServiceCPUUtilization", 40.0))
            .mode(PredictiveScalingMode::ForecastAndScale)
            .scheduling_buffer_time(600)
            .max_capacity_breach_behavior(PredictiveScalingMaxCapacityBreachBehavior::HonorMaxCapacity)
            .build()
            .unwrap();
        let read = policy(&predictive(configuration), &[]).unwrap();
        assert_eq!(read.name, "daily");
        assert_eq!(
            read.kind,
            PolicyKind::Predictive(Predictive {
                mode: "ForecastAndScale".into(),
                metric_pair: Some("ECSServiceCPUUtilization".into()),
                target: 40.0,
                scheduling_buffer: Some(600),
                max_capacity_behavior: Some("HonorMaxCapacity".into()),
            })
        );
    }

    #[test]
    fn a_predictive_policy_left_at_aws_defaults_forecasts_only() {
        let configuration = PredictiveScalingPolicyConfiguration::builder()
            .metric_specifications(pair("ALBRequestCount", 1_000.0))
            .build()
            .unwrap();
        let PolicyKind::Predictive(p) = policy(&predictive(configuration), &[]).unwrap().kind else {
            panic!("not read as predictive");
        };
        assert_eq!(p.mode, "ForecastOnly");
        assert_eq!((p.scheduling_buffer, p.max_capacity_behavior), (None, None));
        assert_eq!(p.target, 1_000.0);
    }
}

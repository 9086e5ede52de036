//! A predicting policy's demand history from CloudWatch: the `[predict]` rule's load per
//! minute over the history the policy keeps, read with `record`'s paginated GetMetricData,
//! in the unit the rule measures × tasks (what the forecaster keeps).

use chrono::{DateTime, Duration, Utc};

use super::record::{self, Recording, Requests};
use autoscaler_core::policy::{Measure, Metric, Policy, Target};

/// The `[predict]` rule's load per minute over the policy's history before `now`.
pub async fn demand(
    client: &aws_sdk_cloudwatch::Client,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, f64)>, String> {
    let Some(predict) = &policy.predict else {
        return Ok(Vec::new());
    };
    let rule = policy
        .rules
        .iter()
        .find(|r| r.name == predict.rule)
        .ok_or_else(|| format!("no rule \"{}\"", predict.rule))?;
    let Target::Aws {
        cluster,
        service,
        target_group,
        load_balancer,
        ..
    } = &policy.target
    else {
        return Ok(Vec::new());
    };
    // The request count CloudWatch keeps for the rule; CPU rules read it too, unused.
    let requests = match (&rule.metric, target_group, load_balancer) {
        (
            Metric::Custom {
                namespace,
                name,
                dimensions,
                ..
            },
            _,
            _,
        ) => Requests::Own {
            namespace: namespace.clone(),
            metric_name: name.clone(),
            dimensions: dimensions.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        },
        (_, Some(tg), Some(lb)) => Requests::Alb {
            target_group: tg.clone(),
            load_balancer: lb.clone(),
        },
        (Metric::AlbRequestsPerTarget, _, _) => {
            return Err("an alb_requests_per_target rule's history needs the target's load_balancer".into());
        }
        _ => Requests::Own {
            namespace: "AWS/ECS".into(),
            metric_name: "CPUUtilization".into(),
            dimensions: vec![
                ("ClusterName".into(), cluster.clone()),
                ("ServiceName".into(), service.clone()),
            ],
        },
    };
    let recording = Recording {
        cluster: cluster.clone(),
        service: service.clone(),
        requests,
        start: now - Duration::seconds(predict.history.as_secs() as i64),
        end: now,
        period: 60,
    };
    let (minutes, _) = record::record(client, &recording).await?;
    // A minute's load in the rule's unit × tasks, as the rounds record it.
    let load = |m: &autoscaler_core::load::Minute| match rule.measures {
        // Requests per second, all tasks together: the minute's sum of every task's counts.
        Measure::RequestRate => Some(m.requests / 60.0),
        // Requests per target per period, all targets together.
        Measure::RequestsPerTarget => Some(m.requests * rule.period.as_secs_f64() / 60.0),
        Measure::Cpu => Some(m.cpu? * f64::from(m.running?)),
        _ => None,
    };
    // CloudWatch reads a minute without a request datapoint as no requests; before the
    // first request the service may not have existed, and days of zeros are no pattern.
    Ok(minutes
        .iter()
        .filter_map(|m| Some((m.timestamp, load(m)?)))
        .skip_while(|(_, v)| *v <= 0.0)
        .collect())
}

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
        .filter(|m| !unseen(m))
        .filter_map(|m| Some((m.timestamp, load(m)?)))
        .skip_while(|(_, v)| *v <= 0.0)
        .collect())
}

/// A minute CloudWatch holds nothing for: no requests, and no CPU or count of any task.
/// Zero requests is then a gap (metrics not published, an outage of the pipeline) rather
/// than a quiet minute, and a gap read as zero would teach the forecast a dip that comes
/// back every day; the forecaster treats an unknown minute as unknown.
fn unseen(m: &autoscaler_core::load::Minute) -> bool {
    m.requests <= 0.0 && m.cpu.is_none() && m.running.is_none() && m.desired.is_none()
}

#[cfg(test)]
mod tests {
    use autoscaler_core::load::Minute;
    use chrono::TimeZone;

    use super::*;

    fn minute(requests: f64, cpu: Option<f64>, running: Option<u32>) -> Minute {
        Minute {
            timestamp: Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap(),
            requests,
            cpu,
            desired: running,
            running,
        }
    }

    #[test]
    fn a_minute_with_no_datapoint_at_all_is_a_gap_and_a_quiet_one_is_not() {
        assert!(unseen(&minute(0.0, None, None)), "nothing published: unknown");
        assert!(!unseen(&minute(0.0, Some(3.0), None)), "tasks ran and served nothing");
        assert!(!unseen(&minute(0.0, None, Some(2))), "two tasks ran, no requests");
        assert!(!unseen(&minute(120.0, None, None)), "requests were counted");
    }
}

//! `record`: a service's past load, one row per minute, from CloudWatch: the requests
//! (ALB RequestCount, or the service's own count), the average CPU, and the desired and
//! running counts (Container Insights), read with paginated GetMetricData calls.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, TimeZone, Utc};

use autoscaler_core::load::Minute;

/// Where the request count comes from.
#[derive(Debug, Clone)]
pub enum Requests {
    /// AWS/ApplicationELB RequestCount of one target group (CloudWatch's dimensions).
    Alb {
        target_group: String,
        load_balancer: String,
    },
    /// A per-task count the service publishes itself, summed over its tasks.
    Own {
        namespace: String,
        metric_name: String,
        dimensions: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone)]
pub struct Recording {
    pub cluster: String,
    pub service: String,
    pub requests: Requests,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Seconds per row: 60, or a multiple of it for a coarser, cheaper recording.
    pub period: i64,
}

/// What a recording took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    pub get_metric_data: u32,
    pub datapoints: u64,
}

fn stat(namespace: &str, name: &str, dims: &[(&str, &str)], statistic: &str, period: i64) -> MetricStat {
    let dimensions = dims
        .iter()
        .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
        .collect();
    MetricStat::builder()
        .metric(
            Metric::builder()
                .namespace(namespace)
                .metric_name(name)
                .set_dimensions(Some(dimensions))
                .build(),
        )
        .period(period as i32)
        .stat(statistic)
        .build()
}

fn queries(r: &Recording) -> Vec<MetricDataQuery> {
    let service = [("ClusterName", r.cluster.as_str()), ("ServiceName", r.service.as_str())];
    let requests = match &r.requests {
        Requests::Alb {
            target_group,
            load_balancer,
        } => stat(
            "AWS/ApplicationELB",
            "RequestCount",
            &[("TargetGroup", target_group), ("LoadBalancer", load_balancer)],
            "Sum",
            r.period,
        ),
        Requests::Own {
            namespace,
            metric_name,
            dimensions,
        } => {
            let dims: Vec<(&str, &str)> = dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            stat(namespace, metric_name, &dims, "Sum", r.period)
        }
    };
    [
        ("requests", requests),
        ("cpu", stat("AWS/ECS", "CPUUtilization", &service, "Average", r.period)),
        (
            "desired",
            stat(
                "ECS/ContainerInsights",
                "DesiredTaskCount",
                &service,
                "Average",
                r.period,
            ),
        ),
        (
            "running",
            stat(
                "ECS/ContainerInsights",
                "RunningTaskCount",
                &service,
                "Average",
                r.period,
            ),
        ),
    ]
    .into_iter()
    .map(|(id, s)| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(s)
            .return_data(true)
            .build()
    })
    .collect()
}

/// Reads the recording's rows, one per period, following every page. Requests are given
/// per minute (a coarser period's sum shared out), so every file replays the same way. A
/// period without a request datapoint had no requests (the ALB publishes none then);
/// counts and CPU stay empty where CloudWatch has nothing.
pub async fn record(client: &aws_sdk_cloudwatch::Client, r: &Recording) -> Result<(Vec<Minute>, Calls), String> {
    if r.period < 60 || r.period % 60 != 0 {
        return Err(format!(
            "the period must be a multiple of 60 seconds, found {}",
            r.period
        ));
    }
    let start = r.start.timestamp() / r.period * r.period;
    let end = r.end.timestamp() / r.period * r.period;
    if end <= start {
        return Err("nothing to record: the end is not after the start".into());
    }
    let per_minute = (r.period / 60) as f64;
    let mut series: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    let mut calls = Calls::default();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries(r)))
            .start_time(aws_smithy_types::DateTime::from_secs(start))
            .end_time(aws_smithy_types::DateTime::from_secs(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| format!("GetMetricData failed: {}", DisplayErrorContext(&e)))?;
        calls.get_metric_data += 1;
        for result in out.metric_data_results() {
            let Some(id) = result.id() else { continue };
            let points = series.entry(id.to_string()).or_default();
            for (t, v) in result.timestamps().iter().zip(result.values()) {
                points.insert(t.secs() / r.period * r.period, *v);
                calls.datapoints += 1;
            }
        }
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    let get = |id: &str, t: i64| series.get(id).and_then(|s| s.get(&t)).copied();
    let count = |v: Option<f64>| v.filter(|v| v.is_finite() && *v >= 0.0).map(|v| v.round() as u32);
    let minutes = (start..end)
        .step_by(r.period as usize)
        .filter_map(|t| {
            Some(Minute {
                timestamp: Utc.timestamp_opt(t, 0).single()?,
                requests: get("requests", t)
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map_or(0.0, |v| v / per_minute),
                cpu: get("cpu", t).filter(|v| v.is_finite()),
                desired: count(get("desired", t)),
                running: count(get("running", t)),
            })
        })
        .collect();
    Ok((minutes, calls))
}

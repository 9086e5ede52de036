//! GetMetricData queries for a round, and turning the answer back into samples. Pure:
//! no SDK calls here, so the data-quality gate is tested without AWS.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataQuery, MetricStat};
use chrono::{DateTime, TimeZone, Utc};

use autoscaler_core::decide::{MissingCause, Reading, Sample};
use autoscaler_core::policy::{Metric, Policy, Statistic, Target};

/// GetMetricData accepts at most this many queries per call.
pub const MAX_QUERIES_PER_CALL: usize = 500;

/// One rule's query and how to read its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub policy: usize,
    pub rule: String,
    pub id: String,
    pub period: i64,
    /// Multiplier into the rule's unit (custom latency metrics in milliseconds, say).
    pub scale: f64,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub queries: Vec<MetricDataQuery>,
    pub planned: Vec<Planned>,
    /// Rules that could not be queried at all, with the reason.
    pub unplannable: Vec<(usize, String, String)>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Datapoints of one query: (period start in epoch seconds, value).
pub type Series = Vec<(i64, f64)>;

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// The CloudWatch metric a rule reads on an ECS target.
fn cloudwatch_metric(metric: &Metric, target: &Target) -> Result<(CwMetric, f64), String> {
    let Target::Aws {
        cluster,
        service,
        target_group,
        load_balancer,
        ..
    } = target
    else {
        return Err(format!("{} is not an aws target", target.describe()));
    };
    let ecs = |name: &str| -> Result<(CwMetric, f64), String> {
        let m = CwMetric::builder()
            .namespace("AWS/ECS")
            .metric_name(name)
            .dimensions(dimension("ClusterName", cluster))
            .dimensions(dimension("ServiceName", service))
            .build();
        Ok((m, 1.0))
    };
    let need = |v: &Option<String>, key: &str| v.clone().ok_or_else(|| format!("the target has no {key}"));
    match metric {
        Metric::EcsCpu => ecs("CPUUtilization"),
        Metric::EcsMemory => ecs("MemoryUtilization"),
        Metric::AlbRequestsPerTarget => {
            let tg = need(target_group, "target_group")?;
            let m = CwMetric::builder()
                .namespace("AWS/ApplicationELB")
                .metric_name("RequestCountPerTarget")
                .dimensions(dimension("TargetGroup", &tg))
                .build();
            Ok((m, 1.0))
        }
        Metric::AlbResponseTime => {
            let tg = need(target_group, "target_group")?;
            let lb = need(load_balancer, "load_balancer")?;
            let m = CwMetric::builder()
                .namespace("AWS/ApplicationELB")
                .metric_name("TargetResponseTime")
                .dimensions(dimension("TargetGroup", &tg))
                .dimensions(dimension("LoadBalancer", &lb))
                .build();
            Ok((m, 1.0))
        }
        Metric::Custom {
            namespace,
            name,
            dimensions,
            scale,
        } => {
            let mut b = CwMetric::builder().namespace(namespace).metric_name(name);
            for (k, v) in dimensions {
                b = b.dimensions(dimension(k, v));
            }
            Ok((b.build(), *scale))
        }
    }
}

/// Plans one round: a query per rule of every policy, over a window long enough for each
/// rule's staleness limit, starting on a boundary of the longest period.
pub fn plan(policies: &[&Policy], now: DateTime<Utc>) -> Plan {
    let mut queries = Vec::new();
    let mut planned = Vec::new();
    let mut unplannable = Vec::new();
    let mut lookback = 60i64;
    let mut align = 60i64;
    for (pi, p) in policies.iter().enumerate() {
        for (rule, read) in p
            .rules
            .iter()
            .flat_map(|r| r.reads().into_iter().map(move |read| (r, read)))
        {
            let period = rule.period.as_secs().max(1) as i64;
            lookback = lookback.max(rule.max_age.as_secs() as i64 + 2 * period);
            align = align.max(period).min(3600);
            let built = cloudwatch_metric(read.metric, &p.target).map(|(metric, scale)| {
                let stat = MetricStat::builder()
                    .metric(metric)
                    .period(period as i32)
                    .stat(read.statistic.cloudwatch_name())
                    .build();
                let id = format!("q{}", queries.len());
                let query = MetricDataQuery::builder()
                    .id(&id)
                    .metric_stat(stat)
                    .return_data(true)
                    .build();
                (query, id, scale)
            });
            match built {
                Ok((query, id, scale)) => {
                    queries.push(query);
                    planned.push(Planned {
                        policy: pi,
                        rule: read.key.to_string(),
                        id,
                        period,
                        scale,
                    });
                }
                Err(e) => unplannable.push((pi, read.key.to_string(), e)),
            }
        }
    }
    let end = now;
    let start_secs = (now.timestamp() - lookback).div_euclid(align) * align;
    let start = Utc.timestamp_opt(start_secs, 0).single().unwrap_or(now);
    Plan {
        queries,
        planned,
        unplannable,
        start,
        end,
    }
}

/// The data-quality gate: the newest datapoint whose period is complete and aligned. Partial,
/// misaligned or non-finite datapoints are skipped; nothing usable is missing, never zero.
pub fn extract(
    plan: &Plan,
    policies: usize,
    series: &HashMap<String, Series>,
    errors: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Vec<BTreeMap<String, Sample>> {
    let mut out = vec![BTreeMap::new(); policies];
    for (pi, rule, why) in &plan.unplannable {
        out[*pi].insert(rule.clone(), Sample::missing(MissingCause::Unsupported, why.clone()));
    }
    let now_s = now.timestamp();
    for p in &plan.planned {
        let sample = if let Some(e) = errors.get(&p.id) {
            Sample::missing(MissingCause::ReadFailed, e.clone())
        } else {
            let points = series.get(&p.id).map(Vec::as_slice).unwrap_or_default();
            let usable = points
                .iter()
                .filter(|(t, v)| t.rem_euclid(p.period) == 0 && t + p.period <= now_s && v.is_finite())
                .max_by_key(|(t, _)| *t);
            match usable {
                Some((t, v)) => Sample::Value(Reading {
                    value: v * p.scale,
                    at: Utc.timestamp_opt(*t, 0).single().unwrap_or(now),
                    base: None,
                }),
                None if points.is_empty() => {
                    Sample::missing(MissingCause::NotPublished, "no datapoints in the query window")
                }
                None => Sample::missing(
                    MissingCause::NotPublished,
                    "only partial or misaligned datapoints so far",
                ),
            }
        };
        out[p.policy].insert(p.rule.clone(), sample);
    }
    out
}

/// The statistic name used in queries, exposed for documentation and tests.
pub fn statistic_name(s: Statistic) -> String {
    s.cloudwatch_name()
}

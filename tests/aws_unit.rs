//! The aws backend against the SDK's own mocks: query building, pagination, percentiles,
//! the data-quality gate, error classification and the circuit breaker. What moto cannot
//! serve (percentiles, pagination, per-query errors) is covered here.
#![cfg(feature = "aws")]

use std::path::Path;
use std::time::Duration;

use autoscaler_core::decide::{MissingCause, Sample};
use autoscaler_core::policy::{self, Policy};
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::{MessageData, MetricDataResult, StatusCode};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode as HttpStatus;
use aws_smithy_types::DateTime as AwsTime;
use aws_smithy_types::body::SdkBody;
use chrono::{TimeZone, Utc};
use ecs_autoscaler::backend::aws::queries;
use ecs_autoscaler::backend::aws::{AwsBackend, AwsSettings};
use ecs_autoscaler::backend::{BackendError, CapacityTarget, MetricSource};

const NOW: i64 = 1_767_603_600; // 2026-01-05T09:00:00Z, minute-aligned

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(NOW + 25, 0).unwrap()
}

fn policy(rules: &str) -> Policy {
    let src = format!(
        "min = 1\nmax = 10\n[target]\nbackend = \"aws\"\ncluster = \"prod\"\nservice = \"search\"\n\
         target_group = \"targetgroup/search/abc\"\nload_balancer = \"app/search/def\"\n{rules}"
    );
    policy::parse(Path::new("p.toml"), &src).unwrap_or_else(|e| panic!("{e}"))
}

const CPU: &str = "[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";
const ALB_P99: &str = "[[rule]]\nname = \"p99\"\nmetric = \"latency\"\ntarget = \"150ms\"\n";
const EMF_P99: &str = "[[rule]]\nname = \"emf\"\nmetric = \"latency\"\ntarget = \"150ms\"\nsource = \"custom\"\n\
    namespace = \"SearchService\"\nmetric_name = \"LatencyP99\"\ndimensions = { Service = \"search\" }\nperiod = \"10s\"\n";

fn backend(cloudwatch: aws_sdk_cloudwatch::Client, ecs: aws_sdk_ecs::Client) -> AwsBackend {
    let settings = AwsSettings {
        breaker_threshold: 2,
        breaker_open_for: Duration::from_secs(60),
        ..Default::default()
    };
    AwsBackend::from_clients(ecs, cloudwatch, None, &settings)
}

fn no_ecs() -> aws_sdk_ecs::Client {
    mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[])
}

fn result(id: &str, points: &[(i64, f64)]) -> MetricDataResult {
    MetricDataResult::builder()
        .id(id)
        .set_timestamps(Some(points.iter().map(|(t, _)| AwsTime::from_secs(*t)).collect()))
        .set_values(Some(points.iter().map(|(_, v)| *v).collect()))
        .status_code(StatusCode::Complete)
        .build()
}

fn value(s: &Sample) -> f64 {
    match s {
        Sample::Value(r) => r.value,
        Sample::Missing { reason, .. } => panic!("missing: {reason}"),
    }
}

#[test]
fn queries_name_the_right_metrics_dimensions_and_statistics() {
    let p = policy(&format!(
        "{CPU}{ALB_P99}{EMF_P99}[[rule]]\nname = \"rpt\"\nmetric = \"alb_requests_per_target\"\ntarget = 50\n"
    ));
    let plan = queries::plan(&[&p], now());
    assert_eq!(plan.queries.len(), 4);
    let show = |i: usize| {
        let stat = plan.queries[i].metric_stat().unwrap();
        let m = stat.metric().unwrap();
        let dims: Vec<String> = m
            .dimensions()
            .iter()
            .map(|d| format!("{}={}", d.name().unwrap(), d.value().unwrap()))
            .collect();
        format!(
            "{} {} [{}] {} {}",
            m.namespace().unwrap(),
            m.metric_name().unwrap(),
            dims.join(","),
            stat.stat().unwrap(),
            stat.period().unwrap()
        )
    };
    assert_eq!(
        show(0),
        "AWS/ECS CPUUtilization [ClusterName=prod,ServiceName=search] Average 60"
    );
    assert_eq!(
        show(1),
        "AWS/ApplicationELB TargetResponseTime [TargetGroup=targetgroup/search/abc,LoadBalancer=app/search/def] p99 60"
    );
    assert_eq!(show(2), "SearchService LatencyP99 [Service=search] Maximum 10");
    assert_eq!(
        show(3),
        "AWS/ApplicationELB RequestCountPerTarget [TargetGroup=targetgroup/search/abc] Sum 60"
    );
    let ids: std::collections::BTreeSet<_> = plan.queries.iter().map(|q| q.id().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 4, "ids are unique");
    assert_eq!(plan.start.timestamp() % 60, 0, "the window starts on a period boundary");
    assert!(
        plan.start.timestamp() <= now().timestamp() - 240 - 120,
        "the window covers max_age"
    );
}

#[tokio::test]
async fn pages_are_merged_and_the_newest_complete_datapoint_wins() {
    let p = policy(&format!("{CPU}{EMF_P99}"));
    let page1 = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            GetMetricDataOutput::builder()
                // partial: the minute that started at NOW is not over at NOW+25
                .metric_data_results(result("q0", &[(NOW, 99.0), (NOW - 60, 80.0)]))
                .next_token("page-2")
                .build()
        });
    let page2 = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(result("q0", &[(NOW - 120, 60.0)]))
                // 10 s periods: NOW+10 is complete at NOW+20; NOW+7 is misaligned
                .metric_data_results(result("q1", &[(NOW + 10, 180.0), (NOW + 7, 900.0), (NOW, 120.0)]))
                .build()
        });
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&page1, &page2]);
    let b = backend(cw, no_ecs());
    let samples = b.read(&[&p], now()).await;
    assert_eq!(value(&samples[0]["cpu"]), 80.0, "the partial minute is skipped");
    assert!(
        (value(&samples[0]["emf"]) - 0.180).abs() < 1e-9,
        "milliseconds become seconds: {:?}",
        samples[0]["emf"]
    );
    assert_eq!(page1.num_calls() + page2.num_calls(), 2);
    assert_eq!(b.metric_queries(), 2);
}

#[tokio::test]
async fn percentiles_are_requested_and_read() {
    let p = policy(ALB_P99);
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| r.metric_data_queries()[0].metric_stat().and_then(|s| s.stat()) == Some("p99"))
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(result("q0", &[(NOW - 60, 0.212)]))
                .build()
        });
    let b = backend(mock_client!(aws_sdk_cloudwatch, [&rule]), no_ecs());
    let samples = b.read(&[&p], now()).await;
    assert_eq!(value(&samples[0]["p99"]), 0.212);
}

#[tokio::test]
async fn no_data_and_per_query_errors_are_missing_never_zero() {
    let p = policy(&format!("{CPU}{ALB_P99}"));
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| {
        GetMetricDataOutput::builder()
            .metric_data_results(result("q0", &[]))
            .metric_data_results(
                MetricDataResult::builder()
                    .id("q1")
                    .status_code(StatusCode::Forbidden)
                    .messages(
                        MessageData::builder()
                            .code("Forbidden")
                            .value("not authorized for p99")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let b = backend(mock_client!(aws_sdk_cloudwatch, [&rule]), no_ecs());
    let samples = b.read(&[&p], now()).await;
    assert!(matches!(&samples[0]["cpu"], Sample::Missing { reason, .. } if reason.contains("no datapoints")));
    assert!(matches!(&samples[0]["p99"], Sample::Missing { reason, .. } if reason.contains("not authorized for p99")));
}

#[tokio::test]
async fn more_than_500_queries_are_split_into_several_calls() {
    let p = policy(&format!("{CPU}{EMF_P99}"));
    let policies: Vec<Policy> = (0..300).map(|_| p.clone()).collect();
    let refs: Vec<&Policy> = policies.iter().collect();
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| r.metric_data_queries().len() <= 500)
        .then_output(|| GetMetricDataOutput::builder().build());
    let b = backend(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule]), no_ecs());
    let samples = b.read(&refs, now()).await;
    assert_eq!(rule.num_calls(), 2, "600 queries in 500 + 100");
    assert_eq!(samples.len(), 300);
    assert_eq!(b.metric_queries(), 600);
}

fn http(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(HttpStatus::try_from(status).unwrap(), SdkBody::from(body))
}

#[tokio::test]
async fn a_failing_cloudwatch_opens_its_circuit() {
    let p = policy(CPU);
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_http_response(|| {
        http(
            500,
            "<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>",
        )
    });
    let b = backend(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule]), no_ecs());
    for _ in 0..2 {
        let s = b.read(&[&p], now()).await;
        assert!(
            matches!(&s[0]["cpu"], Sample::Missing { cause: MissingCause::ReadFailed, reason } if reason.contains("GetMetricData"))
        );
    }
    let calls = rule.num_calls();
    let s = b.read(&[&p], now()).await;
    assert!(
        matches!(&s[0]["cpu"], Sample::Missing { cause: MissingCause::ReadFailed, reason } if reason.contains("circuit open"))
    );
    assert_eq!(rule.num_calls(), calls, "an open circuit sends nothing");
}

#[tokio::test]
async fn describe_services_reads_counts_and_rollouts() {
    let rule = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|r| r.cluster() == Some("prod") && r.services() == ["search".to_string()])
        .then_output(|| {
            DescribeServicesOutput::builder()
                .services(
                    Service::builder()
                        .service_name("search")
                        .desired_count(4)
                        .running_count(3)
                        .pending_count(1)
                        .deployments(
                            Deployment::builder()
                                .status("PRIMARY")
                                .rollout_state(DeploymentRolloutState::InProgress)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let ecs = mock_client!(aws_sdk_ecs, [&rule]);
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, []);
    let b = backend(cw, ecs);
    let c = b.capacity(&policy(CPU).target).await.unwrap();
    assert_eq!(
        (c.desired, c.running, c.pending, c.deployment_in_progress),
        (4, 3, 1, true)
    );
}

#[tokio::test]
async fn errors_are_classified_by_whether_waiting_can_help() {
    let missing = mock!(aws_sdk_ecs::Client::describe_services).then_http_response(|| {
        http(
            400,
            r#"{"__type":"ClusterNotFoundException","message":"Cluster not found."}"#,
        )
    });
    let throttled = mock!(aws_sdk_ecs::Client::update_service)
        .then_http_response(|| http(400, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#));
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&missing, &throttled]);
    let b = backend(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, []), ecs);
    let target = policy(CPU).target;
    match b.capacity(&target).await {
        Err(BackendError::Rejected { call, reason }) => {
            assert_eq!(call, "DescribeServices");
            assert!(reason.contains("Cluster not found"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        b.set_desired(&target, 5).await,
        Err(BackendError::Unavailable {
            call: "UpdateService",
            ..
        })
    ));
}

#[tokio::test]
async fn a_policy_for_another_region_is_refused() {
    let p = policy(CPU);
    let mut target = p.target.clone();
    if let autoscaler_core::policy::Target::Aws { region, .. } = &mut target {
        *region = Some("eu-west-1".into());
    }
    let b = AwsBackend::from_clients(
        no_ecs(),
        mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, []),
        Some("us-east-1".into()),
        &AwsSettings::default(),
    );
    let err = b.capacity(&target).await.unwrap_err().to_string();
    assert!(err.contains("region eu-west-1") && err.contains("us-east-1"), "{err}");
}

#[tokio::test]
async fn a_converged_primary_is_not_a_rollout_but_two_deployments_are() {
    let converged = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("search")
                    .desired_count(3)
                    .running_count(3)
                    .deployments(
                        Deployment::builder()
                            .status("PRIMARY")
                            .rollout_state(DeploymentRolloutState::InProgress)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let replacing = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("search")
                    .desired_count(3)
                    .running_count(3)
                    .deployments(Deployment::builder().status("PRIMARY").build())
                    .deployments(Deployment::builder().status("ACTIVE").build())
                    .build(),
            )
            .build()
    });
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&converged, &replacing]);
    let b = backend(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, []), ecs);
    let target = policy(CPU).target;
    assert!(!b.capacity(&target).await.unwrap().deployment_in_progress);
    assert!(b.capacity(&target).await.unwrap().deployment_in_progress);
}

/// Twenty-three services over two clusters, asked for together, cost ceil(21/10) +
/// ceil(2/10) = 4 calls; each policy gets its own service's counts, and a service ECS
/// does not know is refused alone.
#[tokio::test]
async fn describe_services_batches_ten_services_per_call_and_cluster() {
    let answer = |services: &[String]| {
        let mut out = DescribeServicesOutput::builder();
        for s in services {
            if s == "gone" {
                out = out.failures(
                    aws_sdk_ecs::types::Failure::builder()
                        .arn(format!("arn:aws:ecs:us-east-1:1:service/a/{s}"))
                        .reason("MISSING")
                        .build(),
                );
                continue;
            }
            let n: i32 = s.trim_start_matches('s').parse().unwrap_or(0);
            out = out.services(
                Service::builder()
                    .service_name(s)
                    .service_arn(format!("arn:aws:ecs:us-east-1:1:service/x/{s}"))
                    .desired_count(n)
                    .running_count(n)
                    .build(),
            );
        }
        out.build()
    };
    let rule = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|r| r.services().len() <= 10)
        .then_compute_output(move |r| answer(r.services()));
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
    let b = backend(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, []), ecs);
    let target = |cluster: &str, service: &str| {
        let src = format!(
            "min = 1\nmax = 100\n[target]\nbackend = \"aws\"\ncluster = \"{cluster}\"\nservice = \"{service}\"\n{CPU}"
        );
        policy::parse(Path::new("p.toml"), &src).unwrap().target
    };
    let mut targets: Vec<_> = (1..=20).map(|i| target("a", &format!("s{i}"))).collect();
    targets.push(target("a", "gone"));
    targets.extend((21..=22).map(|i| target("b", &format!("s{i}"))));
    // As in a round: every policy asks at the same moment.
    let results = futures::future::join_all(targets.iter().map(|t| b.capacity(t))).await;
    assert_eq!(rule.num_calls(), 4);
    assert_eq!(b.api_calls(), 4);
    for (i, r) in results.iter().enumerate() {
        match i {
            20 => assert!(
                matches!(r, Err(BackendError::Rejected { reason, .. }) if reason.contains("MISSING")),
                "{r:?}"
            ),
            _ => {
                let n = if i < 20 { i + 1 } else { i };
                assert_eq!(r.as_ref().unwrap().desired, n as u32, "target {i}");
            }
        }
    }
}

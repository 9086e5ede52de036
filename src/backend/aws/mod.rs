//! The `aws` backend: CloudWatch `GetMetricData` in, ECS `UpdateService` out.
//!
//! Retries with exponential backoff and jitter (throttling, 5xx, timeouts) are the SDK's
//! standard retry strategy; on top of it each API has a circuit breaker, and every call a
//! timeout, so one failing API neither stalls a round nor hides behind endless retries.

pub mod app_scaling;
mod breaker;
mod classify;
mod coalesce;
pub mod events;
pub mod history;
pub mod queries;
pub mod record;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudwatch::types::ScanBy;
use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Utc};

use super::{BackendError, CapacityTarget, MetricSource};
use autoscaler_core::decide::{Capacity, Sample};
use autoscaler_core::migrate::scaling::{AwsScaling, Suspended};
use autoscaler_core::policy::{Policy, Target};
use breaker::{Breaker, Breakers};
use classify::classify;

pub use crate::settings::AwsSettings;

pub struct AwsBackend {
    ecs: aws_sdk_ecs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// AWS's own scaler, for the takeover; None where the backend was built without it
    /// (tests of the other calls), which then reads as no other scaler.
    app_scaling: Option<aws_sdk_applicationautoscaling::Client>,
    region: Option<String>,
    /// GetMetricData is one call for every policy: one breaker.
    metrics_breaker: Breaker,
    /// DescribeServices and UpdateService: one breaker per service.
    describe_breakers: Breakers,
    update_breakers: Breakers,
    /// Metric queries sent (what CloudWatch bills for GetMetricData).
    queries: AtomicU64,
    /// API calls sent, all APIs together.
    calls: AtomicU64,
    /// DescribeServices reads of one round, grouped by cluster.
    describes: coalesce::Coalescer<String, Result<Capacity, BackendError>>,
}

pub const METRIC_QUERIES: &str = "ecs_autoscaler_cloudwatch_metric_queries_total";
pub const API_CALLS: &str = "ecs_autoscaler_aws_api_calls_total";

/// The AWS APIs whose calls are counted.
const APIS: [&str; 5] = [
    "GetMetricData",
    "DescribeServices",
    "UpdateService",
    "DescribeScalingPolicies",
    "RegisterScalableTarget",
];

pub fn describe_metrics() {
    metrics::describe_counter!(
        METRIC_QUERIES,
        "CloudWatch metric queries sent (what GetMetricData bills for)."
    );
    metrics::describe_counter!(API_CALLS, "AWS API calls sent, by API.");
    metrics::counter!(METRIC_QUERIES).absolute(0);
    for api in APIS {
        metrics::counter!(API_CALLS, "api" => api).absolute(0);
    }
}

impl AwsBackend {
    /// Credentials and region from the standard AWS chain (the ECS task role in production).
    pub async fn connect(settings: &AwsSettings) -> Self {
        let config = sdk_config(settings).await;
        let region = config.region().map(|r| r.to_string());
        let mut backend = Self::from_clients(
            aws_sdk_ecs::Client::new(&config),
            aws_sdk_cloudwatch::Client::new(&config),
            region,
            settings,
        );
        backend.app_scaling = Some(aws_sdk_applicationautoscaling::Client::new(&config));
        backend
    }

    pub fn from_clients(
        ecs: aws_sdk_ecs::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        region: Option<String>,
        settings: &AwsSettings,
    ) -> Self {
        let (threshold, open_for) = (settings.breaker_threshold, settings.breaker_open_for);
        Self {
            ecs,
            cloudwatch,
            app_scaling: None,
            region,
            metrics_breaker: Breaker::new(threshold, open_for),
            describe_breakers: Breakers::new(threshold, open_for),
            update_breakers: Breakers::new(threshold, open_for),
            queries: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            describes: coalesce::Coalescer::default(),
        }
    }

    pub fn metric_queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    pub fn api_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn count_call(&self, api: &'static str) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(API_CALLS, "api" => api).increment(1);
    }

    fn service<'a>(&self, target: &'a Target, call: &'static str) -> Result<(&'a str, &'a str), BackendError> {
        match target {
            Target::Aws {
                cluster,
                service,
                region,
                ..
            } => {
                if let (Some(want), Some(have)) = (region, &self.region)
                    && want != have
                {
                    return Err(BackendError::Rejected {
                        call,
                        reason: format!("the policy is for region {want}, this daemon runs in {have}"),
                    });
                }
                Ok((cluster, service))
            }
            other => Err(BackendError::Rejected {
                call,
                reason: format!("{} is not an aws target", other.describe()),
            }),
        }
    }

    /// One GetMetricData call (and its pages) for up to 500 queries.
    async fn fetch(
        &self,
        plan: &queries::Plan,
        chunk: &[aws_sdk_cloudwatch::types::MetricDataQuery],
        series: &mut HashMap<String, queries::Series>,
        errors: &mut HashMap<String, String>,
    ) -> Result<(), FetchError> {
        let mut next: Option<String> = None;
        loop {
            self.count_call("GetMetricData");
            let out = self
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(chunk.to_vec()))
                .start_time(aws_smithy_types::DateTime::from_secs(plan.start.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(plan.end.timestamp()))
                .scan_by(ScanBy::TimestampDescending)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| FetchError {
                    unavailable: matches!(classify("GetMetricData", &e), BackendError::Unavailable { .. }),
                    reason: format!("{}", DisplayErrorContext(&e)),
                })?;
            for r in out.metric_data_results() {
                let Some(id) = r.id() else { continue };
                let points = series.entry(id.to_string()).or_default();
                points.extend(r.timestamps().iter().map(|t| t.secs()).zip(r.values().iter().copied()));
                if let Some(code) = r.status_code()
                    && matches!(
                        code,
                        aws_sdk_cloudwatch::types::StatusCode::InternalError
                            | aws_sdk_cloudwatch::types::StatusCode::Forbidden
                    )
                {
                    let messages: Vec<&str> = r.messages().iter().filter_map(|m| m.value()).collect();
                    errors.insert(
                        id.to_string(),
                        format!("CloudWatch answered {}: {}", code.as_str(), messages.join("; ")),
                    );
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(()),
            }
        }
    }
}

/// The SDK configuration every client of the daemon shares: credentials and region from
/// the standard AWS chain (the ECS task role in production), the endpoint override,
/// timeouts and retries.
pub async fn sdk_config(settings: &AwsSettings) -> aws_config::SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.call_timeout)
        .operation_attempt_timeout(settings.call_timeout)
        .operation_timeout(settings.call_timeout * settings.max_attempts.max(1) + Duration::from_secs(2))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
        .timeout_config(timeouts);
    if let Some(r) = &settings.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &settings.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

/// DescribeServices accepts at most this many services per call.
pub const MAX_SERVICES_PER_DESCRIBE: usize = 10;

/// One service's counts out of a DescribeServices answer for several.
fn service_capacity(
    out: &aws_sdk_ecs::operation::describe_services::DescribeServicesOutput,
    service: &str,
) -> Result<Capacity, BackendError> {
    // ECS answers with names; a policy may name the service by ARN.
    let matches = |name: Option<&str>, arn: Option<&str>| {
        name == Some(service) || arn == Some(service) || arn.is_some_and(|a| a.ends_with(&format!("/{service}")))
    };
    let Some(svc) = out
        .services()
        .iter()
        .find(|s| matches(s.service_name(), s.service_arn()))
    else {
        let why: Vec<String> = out
            .failures()
            .iter()
            .filter(|f| matches(None, f.arn()))
            .map(|f| format!("{} {}", f.arn().unwrap_or(service), f.reason().unwrap_or("failed")))
            .collect();
        let why = if why.is_empty() {
            "not in the answer".to_string()
        } else {
            why.join("; ")
        };
        return Err(BackendError::Rejected {
            call: "DescribeServices",
            reason: format!("service {service} not found: {why}"),
        });
    };
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    // A rollout: an old deployment still draining beside the new one, or the primary still
    // converging. A primary marked in progress whose tasks all run is not replacing anything.
    let deployments = svc.deployments();
    let converging = svc.running_count() < svc.desired_count()
        && deployments.iter().any(|d| {
            d.rollout_state()
                .is_some_and(|s| *s == aws_sdk_ecs::types::DeploymentRolloutState::InProgress)
        });
    let rolling = deployments.len() > 1 || converging;
    Ok(Capacity {
        desired: count(svc.desired_count()),
        running: count(svc.running_count()),
        pending: count(svc.pending_count()),
        deployment_in_progress: rolling,
        // A new task definition is a new build: what a task serves is learned afresh.
        revision: svc.task_definition().map_or(0, autoscaler_core::digest::revision),
    })
}

/// A failed GetMetricData call.
struct FetchError {
    reason: String,
    /// Throttling, a server error or no answer: the breaker counts it.
    unavailable: bool,
}

impl MetricSource for AwsBackend {
    async fn read(&self, policies: &[&Policy], now: DateTime<Utc>) -> Vec<BTreeMap<String, Sample>> {
        let plan = queries::plan(policies, now);
        let mut series = HashMap::new();
        let mut errors = HashMap::new();
        for chunk in plan.queries.chunks(queries::MAX_QUERIES_PER_CALL) {
            self.queries.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            metrics::counter!(METRIC_QUERIES).increment(chunk.len() as u64);
            let failure = match self.metrics_breaker.admit(Instant::now()) {
                Err(wait) => Some(format!(
                    "GetMetricData circuit open after repeated failures; next try in {}s",
                    wait.as_secs()
                )),
                Ok(call) => {
                    let result = self.fetch(&plan, chunk, &mut series, &mut errors).await;
                    let unavailable = matches!(&result, Err(e) if e.unavailable);
                    self.metrics_breaker.record(call, unavailable, Instant::now());
                    result.err().map(|e| format!("GetMetricData: {}", e.reason))
                }
            };
            if let Some(reason) = failure {
                tracing::warn!("{reason}");
                for q in chunk {
                    if let Some(id) = q.id() {
                        errors.insert(id.to_string(), reason.clone());
                    }
                }
            }
        }
        queries::extract(&plan, policies.len(), &series, &errors, now)
    }

    async fn demand_history(
        &self,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, f64)>, BackendError> {
        self.count_call("GetMetricData");
        history::demand(&self.cloudwatch, policy, now)
            .await
            .map_err(|reason| BackendError::Unavailable {
                call: "GetMetricData",
                reason,
            })
    }
}

impl AwsBackend {
    /// DescribeServices for `services` of `cluster`: up to 10 per call, the calls
    /// concurrently; one answer per service, in order.
    async fn describe(&self, cluster: &str, services: Vec<String>) -> Vec<Result<Capacity, BackendError>> {
        const CALL: &str = "DescribeServices";
        let answers = futures::future::join_all(services.chunks(MAX_SERVICES_PER_DESCRIBE).map(|chunk| async move {
            self.count_call(CALL);
            let result = self
                .ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await;
            chunk
                .iter()
                .map(|service| match &result {
                    Ok(out) => service_capacity(out, service),
                    Err(e) => Err(classify(CALL, e)),
                })
                .collect::<Vec<_>>()
        }))
        .await;
        answers.into_iter().flatten().collect()
    }
}

impl CapacityTarget for AwsBackend {
    /// The reads of a round's policies arrive together: those of one cluster are answered
    /// by one DescribeServices per 10 services (see `coalesce`). Each service keeps its
    /// own circuit breaker.
    async fn capacity(&self, target: &Target) -> Result<Capacity, BackendError> {
        const CALL: &str = "DescribeServices";
        let (cluster, service) = self.service(target, CALL)?;
        let breaker = self.describe_breakers.get(&format!("{cluster}/{service}"));
        let call = breaker
            .admit(Instant::now())
            .map_err(|wait| BackendError::Unavailable {
                call: CALL,
                reason: format!("circuit open for {cluster}/{service}, next try in {}s", wait.as_secs()),
            })?;
        let result = self
            .describes
            .ask(cluster, service.to_string(), |services| {
                self.describe(cluster, services)
            })
            .await
            .unwrap_or_else(|| {
                Err(BackendError::Unavailable {
                    call: CALL,
                    reason: "the batched call was abandoned".into(),
                })
            });
        breaker.record(
            call,
            matches!(result, Err(BackendError::Unavailable { .. })),
            Instant::now(),
        );
        result
    }

    async fn set_desired(&self, target: &Target, desired: u32) -> Result<(), BackendError> {
        const CALL: &str = "UpdateService";
        let (cluster, service) = self.service(target, CALL)?;
        let breaker = self.update_breakers.get(&format!("{cluster}/{service}"));
        let call = breaker
            .admit(Instant::now())
            .map_err(|wait| BackendError::Unavailable {
                call: CALL,
                reason: format!("circuit open for {cluster}/{service}, next try in {}s", wait.as_secs()),
            })?;
        self.count_call(CALL);
        let desired = i32::try_from(desired).unwrap_or(i32::MAX);
        let result = self
            .ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(desired)
            .send()
            .await;
        let unavailable = matches!(
            result.as_ref().err().map(|e| classify(CALL, e)),
            Some(BackendError::Unavailable { .. })
        );
        breaker.record(call, unavailable, Instant::now());
        result.map(|_| ()).map_err(|e| classify(CALL, &e))
    }

    /// DescribeScalableTargets, and for a registered service DescribeScalingPolicies and
    /// DescribeScheduledActions (counted as one).
    async fn other_scaler(&self, target: &Target) -> Result<Option<AwsScaling>, BackendError> {
        let (cluster, service) = self.service(target, "DescribeScalingPolicies")?;
        let Some(client) = &self.app_scaling else {
            return Ok(None);
        };
        self.count_call("DescribeScalingPolicies");
        app_scaling::read(client, None, cluster, service).await.map(Some)
    }

    async fn suspend_other(&self, target: &Target, to: Suspended) -> Result<(), BackendError> {
        let (cluster, service) = self.service(target, "RegisterScalableTarget")?;
        let Some(client) = &self.app_scaling else {
            return Ok(());
        };
        self.count_call("RegisterScalableTarget");
        app_scaling::set_suspended(client, cluster, service, to).await
    }
}

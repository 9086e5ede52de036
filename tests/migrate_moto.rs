//! Moving a service over from AWS's own scaler, end to end against moto: `import` reads
//! Application Auto Scaling and writes the closest policy; a policy with `takeover`
//! suspends AWS's scaling and gives it back as it was; one without it changes nothing
//! while AWS's scaling is active.
#![cfg(feature = "aws")]

mod moto;

use std::time::{Duration, Instant};

use aws_sdk_applicationautoscaling::types::{
    AdjustmentType, MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTargetAction,
    ServiceNamespace, StepAdjustment, StepScalingPolicyConfiguration, SuspendedState,
    TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use moto::*;

const RESOURCE: &str = "service/prod/search";

/// The scalable target of prod/search (min 2, max 10) with a target-tracking policy on CPU.
async fn aws_scaled(aws: &Aws) {
    aws.app_scaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE)
        .min_capacity(2)
        .max_capacity(10)
        .send()
        .await
        .unwrap();
    let predefined = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::EcsServiceAverageCpuUtilization)
        .build()
        .unwrap();
    aws.app_scaling
        .put_scaling_policy()
        .policy_name("cpu70")
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(60.0)
                .predefined_metric_specification(predefined)
                .scale_out_cooldown(90)
                .scale_in_cooldown(600)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn suspended(aws: &Aws) -> (bool, bool, bool) {
    let out = aws
        .app_scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(RESOURCE)
        .send()
        .await
        .unwrap();
    let s = out.scalable_targets()[0]
        .suspended_state()
        .cloned()
        .unwrap_or(SuspendedState::builder().build());
    (
        s.dynamic_scaling_in_suspended().unwrap_or(false),
        s.dynamic_scaling_out_suspended().unwrap_or(false),
        s.scheduled_scaling_suspended().unwrap_or(false),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_writes_the_closest_policy_for_a_service_aws_scales() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws_scaled(&aws).await;
    // A step policy, triggered by an alarm on the service's own p99.
    let step = aws
        .app_scaling
        .put_scaling_policy()
        .policy_name("p99-steps")
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE)
        .policy_type(PolicyType::StepScaling)
        .step_scaling_policy_configuration(
            StepScalingPolicyConfiguration::builder()
                .adjustment_type(AdjustmentType::ChangeInCapacity)
                .cooldown(120)
                .step_adjustments(
                    StepAdjustment::builder()
                        .metric_interval_lower_bound(0.0)
                        .scaling_adjustment(2)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    aws.cloudwatch
        .put_metric_alarm()
        .alarm_name("search-p99-high")
        .namespace("SearchService")
        .metric_name("LatencyP99")
        .dimensions(Dimension::builder().name("Service").value("search").build())
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(2)
        .threshold(150.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .alarm_actions(step.policy_arn())
        .send()
        .await
        .unwrap();
    for (name, cron, min) in [
        ("morning", "cron(0 8 ? * 2-6 *)", 6),
        ("evening", "cron(0 20 ? * 2-6 *)", 2),
    ] {
        aws.app_scaling
            .put_scheduled_action()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(RESOURCE)
            .scheduled_action_name(name)
            .schedule(cron)
            .scalable_target_action(ScalableTargetAction::builder().min_capacity(min).build())
            .send()
            .await
            .unwrap();
    }

    let dir = setup();
    let out_file = dir.path().join("policies").join("search.toml");
    let out = daemon(&moto.url, dir.path())
        .args(["import", "--cluster", "prod", "--service", "search", "--out"])
        .arg(&out_file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("2 AWS polic(ies), 2 scheduled action(s)"), "{err}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    println!("{text}");
    let policy = autoscaler_core::policy::parse(&out_file, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((policy.min, policy.max), (2, 10));
    assert!(policy.takeover);
    let rules: Vec<(&str, f64)> = policy
        .rules
        .iter()
        .map(|r| (r.name.as_str(), r.goal.target()))
        .collect();
    assert_eq!(rules, [("cpu70", 60.0), ("p99-steps", 150.0)], "{text}");
    assert_eq!(policy.scale_out.cooldown, Duration::from_secs(90));
    assert_eq!(policy.scale_in.cooldown, Duration::from_secs(600));
    let windows: Vec<(&str, Option<u32>, u64)> = policy
        .schedules
        .iter()
        .map(|s| (s.name.as_str(), s.min, s.duration.as_secs()))
        .collect();
    assert_eq!(
        windows,
        [("morning", Some(6), 12 * 3600), ("evening", Some(2), 12 * 3600)],
        "{text}"
    );
    let aws_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("policies/search.aws.json")).unwrap()).unwrap();
    assert_eq!(aws_json["resource_id"], RESOURCE);
    assert_eq!(
        aws_json["policies"][1]["kind"]["alarm"]["name"], "search-p99-high",
        "{aws_json}"
    );

    // A second import does not overwrite a file under review.
    let again = daemon(&moto.url, dir.path())
        .args(["import", "--cluster", "prod", "--service", "search", "--out"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("pass --force"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_suspends_aws_scaling_gives_it_back_and_without_it_nothing_changes() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws_scaled(&aws).await;
    aws.put_cpu("prod", "search", 140.0).await;
    let dir = setup();
    let policies = dir.path().join("policies");

    // Without takeover: the decision is made and shown, nothing is changed.
    write_policy(&policies, "search", "prod", "search", CPU_RULE, "");
    let d = &once(&moto.url, dir.path())[0];
    assert_eq!(d["decision"]["action"], "scale_out", "{d}");
    assert_eq!(d["applied"], false, "{d}");
    let explanation = d["explanation"].as_str().unwrap();
    assert!(
        explanation.contains(
            "not acting: AWS Application Auto Scaling also scales this service (target tracking policy \"cpu70\")"
        ),
        "{explanation}"
    );
    assert_eq!(aws.desired("prod", "search").await, 2, "the count is AWS's to change");
    assert_eq!(suspended(&aws).await, (false, false, false));

    // With takeover: AWS's scaling is suspended, then the policy acts.
    write_policy(&policies, "search", "prod", "search", CPU_RULE, "takeover = true");
    let d = &once(&moto.url, dir.path())[0];
    assert_eq!(d["applied"], true, "{d}");
    assert_eq!(aws.desired("prod", "search").await, 4);
    assert_eq!(
        suspended(&aws).await,
        (true, true, true),
        "dynamic and scheduled scaling suspended"
    );
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(
        state.contains("aws_suspension"),
        "the suspension is kept with the history: {state}"
    );

    // takeover = false again: AWS's scaling is given back as it was found.
    write_policy(&policies, "search", "prod", "search", CPU_RULE, "takeover = false");
    let d = &once(&moto.url, dir.path())[0];
    assert_eq!(d["applied"], false, "{d}");
    assert_eq!(suspended(&aws).await, (false, false, false));

    // Taken over again, then the policy file removed: the running daemon gives it back.
    write_policy(&policies, "search", "prod", "search", CPU_RULE, "takeover = true");
    once(&moto.url, dir.path());
    assert_eq!(suspended(&aws).await, (true, true, true));
    std::fs::remove_file(policies.join("search.toml")).unwrap();
    let mut run = daemon(&moto.url, dir.path())
        .args(["run"])
        .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{}", free_port()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while suspended(&aws).await != (false, false, false) {
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("AWS's scaling was not given back within 30 s of the policy's removal");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = run.kill();
    let _ = run.wait();
}

/// boto3 (installed with moto) against moto: the test's own view of EventBridge and SQS.
/// A policy that takes over acts only once AWS's scaling is suspended: while Application
/// Auto Scaling cannot be read (throttled here), it decides and changes nothing, and says
/// why; once the read succeeds it suspends, then acts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_changes_nothing_while_aws_scaling_cannot_be_read() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws_scaled(&aws).await;
    aws.put_cpu("prod", "search", 140.0).await;
    let proxy = Proxy::start(&moto.url);
    proxy.throttle.lock().unwrap().push("anyscalefrontendservice.");
    let dir = setup();
    let policies = dir.path().join("policies");
    write_policy(&policies, "search", "prod", "search", CPU_RULE, "takeover = true");

    let d = &once(&proxy.url, dir.path())[0];
    assert_eq!(d["decision"]["action"], "scale_out", "{d}");
    assert_eq!(d["applied"], false, "{d}");
    let explanation = d["explanation"].as_str().unwrap();
    assert!(explanation.contains("could not be read to suspend it"), "{explanation}");
    assert_eq!(
        aws.desired("prod", "search").await,
        2,
        "no write while AWS may still scale"
    );
    assert_eq!(suspended(&aws).await, (false, false, false));

    proxy.throttle.lock().unwrap().clear();
    let d = &once(&proxy.url, dir.path())[0];
    assert_eq!(d["applied"], true, "{d}");
    assert_eq!(suspended(&aws).await, (true, true, true));
    assert_eq!(aws.desired("prod", "search").await, 4);
}

/// EventBridge throttling every PutEvents costs the events, counted and logged, and
/// nothing else: the round acts as it would and is not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_event_bus_does_not_hold_up_scaling() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws.put_cpu("prod", "search", 140.0).await;
    let proxy = Proxy::start(&moto.url);
    proxy.throttle.lock().unwrap().push("awsevents.");
    let dir = setup();
    write_policy(&dir.path().join("policies"), "search", "prod", "search", CPU_RULE, "");
    let started = Instant::now();
    let out = succeeds(
        daemon(&proxy.url, dir.path())
            .env("ECS_AUTOSCALER_EVENTS__BUS", "default")
            .args(["run", "--once", "--json"]),
    );
    let took = started.elapsed();
    let d: serde_json::Value = serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(d["applied"], true, "{d}");
    assert_eq!(aws.desired("prod", "search").await, 4);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("scaling event(s) failed"), "{log}");
    assert!(took < Duration::from_secs(20), "one round took {took:?}");
}

fn boto(url: &str, script: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", script, url])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every scaling event goes to EventBridge: a rule on the default bus routes this
/// daemon's events to an SQS queue, read back as an operator's integration would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_events_are_published_to_eventbridge() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws_scaled(&aws).await;
    aws.put_cpu("prod", "search", 140.0).await;
    boto(
        &moto.url,
        r#"
import sys, json, boto3
url = sys.argv[1]
sqs = boto3.client("sqs", endpoint_url=url)
events = boto3.client("events", endpoint_url=url)
q = sqs.create_queue(QueueName="scaling")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
events.put_rule(Name="scaling", EventPattern=json.dumps({"source": ["ecs-autoscaler"]}))
events.put_targets(Rule="scaling", Targets=[{"Id": "q", "Arn": arn}])
"#,
    );
    let dir = setup();
    let policies = dir.path().join("policies");
    let once_with_events = || {
        let out = daemon(&moto.url, dir.path())
            .env("ECS_AUTOSCALER_EVENTS__BUS", "default")
            .args(["run", "--once", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    write_policy(&policies, "search", "prod", "search", CPU_RULE, "");
    once_with_events();
    write_policy(&policies, "search", "prod", "search", CPU_RULE, "takeover = true");
    once_with_events();

    let received = boto(
        &moto.url,
        r#"
import sys, json, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1])
q = sqs.get_queue_url(QueueName="scaling")["QueueUrl"]
seen = []
for _ in range(5):
    got = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10).get("Messages", [])
    seen += [json.loads(m["Body"]) for m in got]
    if not got:
        break
print(json.dumps(seen))
"#,
    );
    let events: Vec<serde_json::Value> = serde_json::from_str(received.trim()).unwrap();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["detail-type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["Scaling refused", "AWS scaling changed", "Scaling action"],
        "{events:#?}"
    );
    let action = &events[2];
    println!("{}", serde_json::to_string_pretty(action).unwrap());
    assert_eq!(action["source"], "ecs-autoscaler");
    let detail = &action["detail"];
    assert_eq!(detail["policy"], "search");
    assert_eq!(
        (detail["from"].as_u64(), detail["to"].as_u64()),
        (Some(2), Some(4)),
        "{detail}"
    );
    assert_eq!(detail["target"]["cluster"], "prod");
    assert!(
        events[0]["detail"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not acting: AWS Application Auto Scaling")),
        "{events:#?}"
    );
}

/// The whole move, in the four commands DEPLOY.md gives: `import` (the closest policy and
/// AWS's configuration), `record` (the service's past load), `simulate --aws` (AWS's
/// scaling and the policy on that load, per day) and the daemon with the policy in place
/// (`takeover = true`). The first three change nothing in AWS; the fourth suspends AWS's
/// scaling before its first change of the count, so at no moment do two scalers act.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_moves_over_from_aws_in_four_commands() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws_scaled(&aws).await;
    aws.app_scaling
        .put_scheduled_action()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE)
        .scheduled_action_name("business-hours")
        .schedule("cron(0 8 ? * * *)")
        .scalable_target_action(ScalableTargetAction::builder().min_capacity(3).build())
        .send()
        .await
        .unwrap();
    // Three days of a daily cycle, hour by hour (see aws_moto's record test for why hours).
    let hours: i64 = 3 * 24;
    let end = chrono::Utc::now().timestamp() / 3600 * 3600;
    let start = end - hours * 3600;
    let per_minute =
        |h: i64| (60.0 * (2000.0 + 1500.0 * (((h % 24) as f64 - 14.0) / 24.0 * std::f64::consts::TAU).cos())).round();
    let service = [("ClusterName", "prod"), ("ServiceName", "search")];
    let points = |f: &dyn Fn(i64) -> f64| {
        (0..hours)
            .map(|h| (start + h * 3600, f(h)))
            .collect::<Vec<_>>()
            .into_iter()
    };
    aws.put_points(
        "SearchService",
        "ArrivalCount",
        &[("Service", "search")],
        points(&|h| per_minute(h) * 60.0),
    )
    .await;
    aws.put_points(
        "AWS/ECS",
        "CPUUtilization",
        &service,
        points(&|h| per_minute(h) / 60.0 / 30.0),
    )
    .await;
    for name in ["DesiredTaskCount", "RunningTaskCount"] {
        aws.put_points("ECS/ContainerInsights", name, &service, points(&|_| 2.0))
            .await;
    }
    let dir = setup();
    let policies = dir.path().join("policies");
    let untouched = async || (aws.desired("prod", "search").await, suspended(&aws).await);

    // 1. import
    succeeds(
        daemon(&moto.url, dir.path())
            .args(["import", "--cluster", "prod", "--service", "search", "--out"])
            .arg(policies.join("search.toml")),
    );
    assert_eq!(untouched().await, (2, (false, false, false)));

    // 2. record
    let csv = dir.path().join("traffic.csv");
    let out = record_hourly(&moto.url, dir.path(), "3d", &csv);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(untouched().await, (2, (false, false, false)));

    // 3. simulate: AWS's scaling as imported beside the new policy, per day, into a report.
    let report = dir.path().join("report");
    let out = succeeds(
        daemon(&moto.url, dir.path())
            .args(["simulate", "--policy"])
            .arg(policies.join("search.toml"))
            .arg("--traffic")
            .arg(&csv)
            .arg("--aws")
            .arg(policies.join("search.aws.json"))
            .arg("--out")
            .arg(&report),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        text.contains("aws-imported") && text.contains("per day (UTC)"),
        "{text}"
    );
    let html = std::fs::read_to_string(report.join("migration.html")).unwrap();
    assert!(
        html.contains("Every policy and scheduled action AWS holds for the service is replayed"),
        "the CPU policy and the cron action are both replayed"
    );
    assert_eq!(untouched().await, (2, (false, false, false)));

    // 4. apply: the daemon with the imported policy, under a load above its target.
    aws.put_cpu("prod", "search", 140.0).await;
    let d = &once(&moto.url, dir.path())[0];
    assert_eq!(d["applied"], true, "{d}");
    assert!(aws.desired("prod", "search").await > 2);
    assert_eq!(suspended(&aws).await, (true, true, true), "AWS's scaling is suspended");
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(
        state.contains("aws_suspension"),
        "kept, to be given back as found: {state}"
    );
}

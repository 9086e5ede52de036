//! Rules that read more than one series, end to end against moto: the queue_backlog rule
//! (SQS's visible messages and the arrivals within the acceptable wait) and a custom
//! rule's metric math, both evaluated by the daemon from GetMetricData's datapoints.
#![cfg(feature = "aws")]

mod moto;

use moto::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_backlog_rule_sizes_the_workers_from_sqs_metrics() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "worker").await;
    let queue = [("QueueName", "orders")];
    // 2,400 messages waiting, 30 a second arriving (1,800 a minute).
    aws.put("AWS/SQS", "ApproximateNumberOfMessagesVisible", &queue, 2400.0, 6)
        .await;
    aws.put("AWS/SQS", "NumberOfMessagesSent", &queue, 1800.0, 6).await;
    let dir = setup();
    let rule = "[[rule]]\nname = \"backlog\"\nmetric = \"queue_backlog\"\nqueue = \"orders\"\n\
                acceptable_latency = \"1m\"\nprocessing_rate = 10\n";
    write_policy(&dir.path().join("policies"), "worker", "prod", "worker", rule, "");
    let d = &once(&moto.url, dir.path())[0];
    // (2,400 + 30/s × 60 s) messages to work within the minute, 600 a task: 7 tasks.
    assert_eq!(d["decision"]["desired"], 7, "{d}");
    assert_eq!(d["applied"], true, "{d}");
    let reason = d["decision"]["rules"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("vs target 600"), "{reason}");
    assert_eq!(aws.desired("prod", "worker").await, 7);

    // A queue CloudWatch has no metrics for: the rule is missing, and says which series.
    let dir = setup();
    write_policy(
        &dir.path().join("policies"),
        "worker",
        "prod",
        "worker",
        &rule.replace("orders", "other"),
        "",
    );
    let d = &once(&moto.url, dir.path())[0];
    let reason = d["decision"]["rules"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("visible: no datapoints"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_rule_s_expression_is_computed_from_its_metrics() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    let app = [("Service", "search")];
    aws.put("App", "Failed", &app, 12.0, 6).await;
    aws.put("App", "Requests", &app, 300.0, 6).await;
    let dir = setup();
    let rule = "[[rule]]\nname = \"error-share\"\nmetric = \"custom\"\ntarget = 1\nexpression = \"failed / total * 100\"\n\
                [rule.metrics.failed]\nnamespace = \"App\"\nmetric_name = \"Failed\"\ndimensions = { Service = \"search\" }\nstatistic = \"sum\"\n\
                [rule.metrics.total]\nnamespace = \"App\"\nmetric_name = \"Requests\"\ndimensions = { Service = \"search\" }\nstatistic = \"sum\"\n";
    write_policy(&dir.path().join("policies"), "search", "prod", "search", rule, "");
    let d = &once(&moto.url, dir.path())[0];
    let verdict = &d["decision"]["rules"][0];
    // 12 of 300 failed: 4 % against 1 % on 2 tasks asks for 8.
    assert_eq!(verdict["value"], 4.0, "{d}");
    assert_eq!(d["decision"]["desired"], 8, "{d}");
}

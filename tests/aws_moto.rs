//! The aws backend end to end: the real binary against a local moto server (started on a
//! free 127.0.0.1 port and stopped by PID), with a small proxy in front of it that injects
//! failures, throttling, 5xx and hangs.
#![cfg(feature = "aws")]

mod moto;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use moto::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_above_target_raises_the_desired_count() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws.put_cpu("prod", "search", 140.0).await;
    let dir = setup();
    write_policy(&dir.path().join("policies"), "search", "prod", "search", CPU_RULE, "");
    let decisions = once(&moto.url, dir.path());
    assert_eq!(decisions.len(), 1);
    let d = &decisions[0];
    assert_eq!(d["applied"], true, "{d}");
    assert_eq!(d["decision"]["desired"], 4, "ceil(2 x 140 / 70): {d}");
    assert_eq!(aws.desired("prod", "search").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_cpu_with_latency_missing_does_not_scale_in() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws.ecs
        .update_service()
        .cluster("prod")
        .service("search")
        .desired_count(6)
        .send()
        .await
        .unwrap();
    aws.put_cpu("prod", "search", 10.0).await;
    let dir = setup();
    write_policy(
        &dir.path().join("policies"),
        "search",
        "prod",
        "search",
        &format!("{EMF_RULE}{CPU_RULE}"),
        "",
    );
    let d = &once(&moto.url, dir.path())[0];
    assert_eq!(d["decision"]["action"], "hold", "{d}");
    assert!(d["explanation"].as_str().unwrap().contains("p99: no data"), "{d}");
    assert_eq!(aws.desired("prod", "search").await, 6);

    // Control: with the latency metric present and low, the same CPU does scale in, once
    // the daemon has observed a (here one-second) stabilization window.
    aws.put("SearchService", "LatencyP99", &[("Service", "search")], 20.0, 3)
        .await;
    write_policy(
        &dir.path().join("policies"),
        "search",
        "prod",
        "search",
        &format!("{EMF_RULE}{CPU_RULE}"),
        "[scale_in]\nstabilization = \"1s\"\n",
    );
    // The first run may still be inside the window (it depends on how long the runs
    // before took); once a second has passed since the first evaluation, it is not.
    let mut d = once(&moto.url, dir.path())[0].clone();
    if d["decision"]["action"] == "hold" {
        assert!(
            d["explanation"]
                .as_str()
                .unwrap()
                .contains("stabilization window observed"),
            "{d}"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        d = once(&moto.url, dir.path())[0].clone();
    }
    assert_eq!(d["decision"]["action"], "scale_in", "{d}");
    assert!(aws.desired("prod", "search").await < 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_update_starts_no_cooldown_and_the_next_round_tries_again() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url);
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws.put_cpu("prod", "search", 140.0).await;
    let dir = setup();
    write_policy(
        &dir.path().join("policies"),
        "search",
        "prod",
        "search",
        CPU_RULE,
        "[scale_out]\ncooldown = \"1h\"\n",
    );

    proxy.set(FAIL_UPDATE);
    let d = &once(&proxy.url, dir.path())[0];
    assert_eq!(d["applied"], false, "{d}");
    assert!(d["error"].as_str().unwrap().contains("UpdateService"), "{d}");
    assert_eq!(aws.desired("prod", "search").await, 2);

    proxy.set(PASS);
    let d = &once(&proxy.url, dir.path())[0];
    assert_eq!(d["applied"], true, "no cooldown was started by the failure: {d}");
    assert_eq!(aws.desired("prod", "search").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_errors_and_hangs_leave_the_daemon_up_and_holding() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url);
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws.put_cpu("prod", "search", 140.0).await;
    let dir = setup();
    write_policy(&dir.path().join("policies"), "search", "prod", "search", CPU_RULE, "");
    let port = free_port();
    proxy.set(THROTTLE);
    let mut child = daemon(&proxy.url, dir.path())
        .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{port}"))
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Kill(&mut child);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let status = || async {
        let r = http
            .get(format!("http://127.0.0.1:{port}/v1/status"))
            .send()
            .await
            .ok()?;
        r.json::<Value>().await.ok()
    };
    // Each mode must show its own error, not merely a different one.
    let expected: [(u8, &[&str]); 3] = [
        (THROTTLE, &["Throttl"]),
        (ERROR_500, &["500", "InternalFailure", "service error"]),
        (HANG, &["deadline", "timeout", "timed out"]),
    ];
    for (mode, words) in expected {
        proxy.set(mode);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = String::new();
        loop {
            assert!(
                Instant::now() < deadline,
                "mode {mode}: no error naming {words:?}; last error: {last}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            if let Some(s) = status().await
                && let Some(e) = s["policies"][0]["last_error"].as_str()
            {
                last = e.to_string();
                if words.iter().any(|w| e.contains(w)) {
                    break;
                }
            }
        }
        assert_eq!(aws.desired("prod", "search").await, 2, "holding in mode {mode}");
    }
    let healthz = http
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status().as_u16(), 200, "still up");

    proxy.set(PASS);
    let deadline = Instant::now() + Duration::from_secs(60);
    while aws.desired("prod", "search").await != 4 {
        assert!(Instant::now() < deadline, "did not recover once AWS answered again");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_policies_cost_one_get_metric_data_and_one_describe_services_call_per_round() {
    use ecs_autoscaler::backend::SystemClock;
    use ecs_autoscaler::backend::aws::{AwsBackend, AwsSettings};
    use ecs_autoscaler::daemon::Daemon;
    use ecs_autoscaler::settings::Settings;

    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    let dir = setup();
    for i in 0..10 {
        let service = format!("search-{i}");
        aws.service(&moto.url, "prod", &service).await;
        aws.put_cpu("prod", &service, 70.0).await;
        aws.put("SearchService", "LatencyP99", &[("Service", "search")], 20.0, 3)
            .await;
        write_policy(
            &dir.path().join("policies"),
            &service,
            "prod",
            &service,
            &format!("{EMF_RULE}{CPU_RULE}"),
            "",
        );
    }
    let env = std::collections::HashMap::from([
        (
            "ECS_AUTOSCALER_POLICIES_DIR".to_string(),
            dir.path().join("policies").display().to_string(),
        ),
        (
            "ECS_AUTOSCALER_STATE_FILE".to_string(),
            dir.path().join("state.json").display().to_string(),
        ),
    ]);
    let settings = Settings::load_with_env(None, Some(env)).unwrap();
    let backend = std::sync::Arc::new(AwsBackend::from_clients(
        aws.ecs.clone(),
        aws.cloudwatch.clone(),
        Some("us-east-1".into()),
        &AwsSettings::default(),
    ));
    let daemon = Daemon::new(
        settings,
        std::sync::Arc::clone(&backend),
        std::sync::Arc::new(SystemClock),
    );
    daemon.start().await.unwrap();
    let decisions = daemon.evaluate_all().await;
    assert_eq!(decisions.len(), 10);
    assert!(
        decisions
            .iter()
            .all(|d| d.decision.action == autoscaler_core::decide::Action::Hold),
        "CPU on target"
    );
    eprintln!(
        "one round, 10 policies x 2 rules: {} API calls ({} metric queries)",
        backend.api_calls(),
        backend.metric_queries(),
    );
    assert_eq!(backend.metric_queries(), 20);
    assert_eq!(
        backend.api_calls(),
        2,
        "1 GetMetricData + 1 DescribeServices for the 10 services of one cluster, no UpdateService"
    );
}

/// A policy whose cluster does not exist (a refusal waiting cannot fix) neither opens a
/// breaker for the others nor holds them up: the healthy policy scales on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_on_a_missing_cluster_does_not_starve_the_others() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws.put_cpu("prod", "search", 140.0).await;
    let dir = setup();
    let policies = dir.path().join("policies");
    write_policy(&policies, "search", "prod", "search", CPU_RULE, "");
    write_policy(&policies, "ghost", "no-such-cluster", "search", CPU_RULE, "");
    let port = free_port();
    let mut child = daemon(&moto.url, dir.path())
        .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{port}"))
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Kill(&mut child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while aws.desired("prod", "search").await != 4 {
        assert!(Instant::now() < deadline, "the healthy policy never scaled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    // The ghost's own evaluation may still be finishing when the healthy one has acted.
    let deadline = Instant::now() + Duration::from_secs(10);
    let ghost = loop {
        let status: Value = http
            .get(format!("http://127.0.0.1:{port}/v1/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ghost = status["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "ghost")
            .cloned()
            .unwrap();
        if ghost["last_error"].is_string() || Instant::now() > deadline {
            break ghost;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let err = ghost["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("rejected") && !err.contains("circuit"),
        "refused, not an outage: {err}"
    );
}

/// Policies from an S3 prefix: the daemon lists and fetches them, acts on them, and
/// locates a bad object's problems as s3://bucket/prefix/name.toml:line:col.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_are_read_from_an_s3_prefix() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws.put_cpu("prod", "search", 140.0).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .endpoint_url(&moto.url)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("policy-bucket").send().await.unwrap();
    let put = |key: &'static str, text: String| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket("policy-bucket")
                .key(key)
                .body(text.into_bytes().into())
                .send()
                .await
                .unwrap();
        }
    };
    let good = format!(
        "name = \"search\"\nmin = 1\nmax = 10\n[target]\nbackend = \"aws\"\ncluster = \"prod\"\nservice = \"search\"\n{CPU_RULE}"
    );
    put("policies/search.toml", good.clone()).await;
    put("policies/README.md", "not a policy".into()).await;
    put("elsewhere/other.toml", "min = \n".into()).await;
    let dir = setup();
    let once_from_s3 = || {
        daemon(&moto.url, dir.path())
            .env("ECS_AUTOSCALER_POLICIES_DIR", "s3://policy-bucket/policies/")
            .args(["run", "--once", "--json"])
            .output()
            .unwrap()
    };
    let out = once_from_s3();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(aws.desired("prod", "search").await, 4, "the S3 policy acted");

    put("policies/search.toml", good.replace("max = 10", "max = 0")).await;
    let out = once_from_s3();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s3://policy-bucket/policies/search.toml:3:7: max must be at least 1"),
        "{err}"
    );
}

/// A slow S3: ListObjectsV2 held 20 s behind the proxy while two policies from the prefix
/// decide every 2 s. The re-read runs off the loop with a deadline of its own, so their
/// decisions keep their schedule and the policies in force stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_policy_source_delays_no_decision() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .endpoint_url(&moto.url)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("policy-bucket").send().await.unwrap();
    for service in ["a", "b"] {
        aws.service(&moto.url, "prod", service).await;
        aws.put_cpu("prod", service, 70.0).await;
        let text = format!(
            "name = \"{service}\"\nmin = 1\nmax = 10\ninterval = \"2s\"\n[target]\nbackend = \"aws\"\ncluster = \"prod\"\nservice = \"{service}\"\n{CPU_RULE}"
        );
        s3.put_object()
            .bucket("policy-bucket")
            .key(format!("policies/{service}.toml"))
            .body(text.into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    let proxy = Proxy::start(&moto.url);
    let dir = setup();
    let port = free_port();
    let mut child = daemon(&proxy.url, dir.path())
        .env("ECS_AUTOSCALER_POLICIES_DIR", "s3://policy-bucket/policies/")
        .env("ECS_AUTOSCALER_RESCAN_INTERVAL", "1s")
        .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{port}"))
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _kill = Kill(&mut child);
    let http = reqwest::Client::new();
    let decisions = |name: &'static str| {
        let http = http.clone();
        async move {
            let url = format!("http://127.0.0.1:{port}/v1/policies/{name}/decisions?limit=100");
            let v: Value = http.get(url).send().await.ok()?.json().await.ok()?;
            let times: Vec<chrono::DateTime<chrono::Utc>> = v["decisions"]
                .as_array()?
                .iter()
                .filter_map(|d| d["decision"]["at"].as_str()?.parse().ok())
                .collect();
            Some(times)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while decisions("a").await.is_none_or(|t| t.is_empty()) {
        assert!(Instant::now() < deadline, "the S3 policies never decided");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    proxy.hold_s3_list.store(20, std::sync::atomic::Ordering::SeqCst);
    let held = chrono::Utc::now();
    tokio::time::sleep(Duration::from_secs(36)).await;
    for name in ["a", "b"] {
        let times: Vec<_> = decisions(name)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| *t >= held)
            .collect();
        let gap = times
            .windows(2)
            .map(|w| (w[0] - w[1]).num_milliseconds())
            .max()
            .unwrap_or(i64::MAX);
        eprintln!(
            "S3 held 20 s: policy {name} decided {} times in 36 s, longest gap {gap} ms",
            times.len()
        );
        assert!(
            times.len() >= 16,
            "policy {name} decided {} times in 36 s on a 2 s interval",
            times.len()
        );
        assert!(gap <= 3_000, "policy {name}: {gap} ms between two decisions");
    }
}

/// Fourteen days of hourly datapoints in moto (requests with a daily curve, CPU,
/// Container Insights counts; moto's GetMetricData is quadratic in the datapoints it holds,
/// so hours rather than minutes keep the test short): `record --period 1h` reads them all
/// back through GetMetricData, as requests per minute, and `simulate --traffic` replays the
/// file next to what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_reads_fourteen_days_and_simulate_replays_them() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    let hours: i64 = 14 * 24;
    let end = chrono::Utc::now().timestamp() / 3600 * 3600;
    let start = end - hours * 3600;
    // Requests per minute during hour h.
    let per_minute = |h: i64| {
        let hour = (h % 24) as f64;
        (60.0 * (2000.0 + 1500.0 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos())).round()
    };
    let tasks = move |h: i64| if per_minute(h) > 150_000.0 { 3.0 } else { 2.0 };
    let service = [("ClusterName", "prod"), ("ServiceName", "search")];
    /// Namespace, metric, dimensions, and its value in hour h.
    type Series<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], Box<dyn Fn(i64) -> f64>);
    let series: [Series; 4] = [
        (
            "SearchService",
            "ArrivalCount",
            &[("Service", "search")],
            Box::new(move |h| per_minute(h) * 60.0),
        ),
        (
            "AWS/ECS",
            "CPUUtilization",
            &service,
            Box::new(move |h| per_minute(h) / 60.0 / 30.0),
        ),
        ("ECS/ContainerInsights", "DesiredTaskCount", &service, Box::new(tasks)),
        ("ECS/ContainerInsights", "RunningTaskCount", &service, Box::new(tasks)),
    ];
    for (namespace, name, dims, value) in &series {
        aws.put_points(namespace, name, dims, (0..hours).map(|h| (start + h * 3600, value(h))))
            .await;
    }
    let dir = setup();
    let csv = dir.path().join("traffic.csv");
    let out = record_hourly(&moto.url, dir.path(), "14d", &csv);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("336 rows of 3600s") && err.contains("GetMetricData call(s)"),
        "{err}"
    );
    let recording = autoscaler_sim::replay::read(&csv).unwrap();
    assert_eq!(recording.minutes.len() as i64, hours, "{err}");
    for (i, m) in recording.minutes.iter().enumerate() {
        let h = (m.timestamp.timestamp() - start) / 3600;
        assert_eq!(m.requests, per_minute(h), "row {i}: requests per minute");
        let n = tasks(h) as u32;
        assert_eq!((m.desired, m.running), (Some(n), Some(n)), "row {i}");
        assert!(
            m.cpu.is_some_and(|c| (c - per_minute(h) / 60.0 / 30.0).abs() < 1e-6),
            "row {i}"
        );
    }

    let out = Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"))
        .args(["simulate", "--compare", "aws-target-tracking-20s", "--traffic"])
        .arg(&csv)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("scenario traffic (1209600s"), "{text}");
    assert!(
        text.contains("what actually happened (recorded): task-seconds"),
        "{text}"
    );
    println!("{text}");

    let out = daemon(&moto.url, dir.path())
        .args([
            "record",
            "--cluster",
            "prod",
            "--service",
            "search",
            "--target-group",
            "tg",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--target-group and --load-balancer go together"));
}

/// A predicting policy on a new daemon loads its demand history from CloudWatch
/// (paginated GetMetricData, `record`'s machinery) instead of waiting days: eight hours
/// of a 20-minute cycle of arrivals in moto, and within seconds of its start the status
/// shows the last hour of that load and a forecast from it; ten minutes with nothing
/// published stay unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_daemon_loads_the_demand_history_from_cloudwatch() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    aws.service(&moto.url, "prod", "search").await;
    aws.put_cpu("prod", "search", 40.0).await;
    let now = chrono::Utc::now().timestamp() / 60 * 60;
    // Arrivals per minute of the service: 60,000 (1,000/s), and 180,000 for 4 minutes in
    // 20. Each of its 2 tasks publishes its half once a minute (`count_window = "60s"`):
    // the minute's sum is the service's load, the average a task's.
    let arrivals = |m: i64| if m.rem_euclid(20) < 4 { 180_000.0 } else { 60_000.0 };
    // Minutes ago with nothing published (the metric pipeline down): a gap, not zero load.
    const GAP: std::ops::RangeInclusive<i64> = 21..=30;
    for _task in 0..2 {
        aws.put_points(
            "SearchService",
            "ArrivalCount",
            &[("Service", "search")],
            (1..=8 * 60)
                .filter(|k| !GAP.contains(k))
                .map(|k| (now - k * 60, arrivals((now - k * 60) / 60) / 2.0)),
        )
        .await;
    }
    let dir = setup();
    write_policy(
        &dir.path().join("policies"),
        "search",
        "prod",
        "search",
        "[[rule]]\nname = \"demand\"\nmetric = \"request_rate\"\ntarget = 1400\nnamespace = \"SearchService\"\n\
         metric_name = \"ArrivalCount\"\ndimensions = { Service = \"search\" }\nperiod = \"60s\"\ncount_window = \"60s\"\nmax_age = \"5m\"\n",
        "[predict]\nmode = \"forecast_only\"\nhistory = \"1d\"\n",
    );
    let port = free_port();
    let log = dir.path().join("daemon.log");
    let mut child = daemon(&moto.url, dir.path())
        .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{port}"))
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _kill = Kill(&mut child);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let forecast = loop {
        let status: Option<Value> = async {
            let url = format!("http://127.0.0.1:{port}/v1/status");
            http.get(url).send().await.ok()?.json().await.ok()
        }
        .await;
        let forecast = status.as_ref().and_then(|s| s["policies"][0].get("forecast").cloned());
        let seen = forecast
            .as_ref()
            .and_then(|f| f["curve"].as_array().cloned())
            .map_or(0, |c| c.iter().filter(|p| !p["actual"].is_null()).count());
        if seen >= 45 && forecast.as_ref().is_some_and(|f| f["status"] != "no_history") {
            break forecast.unwrap();
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "no loaded history within 60 s ({seen} minutes of the last hour known): {forecast:?}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("demand history loaded for the forecast"), "{text}");
    // The loaded minutes are requests per second of the whole service.
    let curve = forecast["curve"].as_array().unwrap();
    let peak = curve.iter().filter_map(|p| p["actual"].as_f64()).fold(0.0, f64::max);
    assert!((peak - 3000.0).abs() < 5.0, "peak {peak}: {forecast}");
    let in_gap = |p: &&Value| {
        let at = chrono::DateTime::parse_from_rfc3339(p["at"].as_str().unwrap())
            .unwrap()
            .timestamp();
        (now - GAP.end() * 60..=now - GAP.start() * 60).contains(&at)
    };
    let gap: Vec<&Value> = curve.iter().filter(in_gap).collect();
    assert!(gap.len() >= 9, "the gap's minutes are on the chart: {forecast}");
    assert!(
        gap.iter().all(|p| p["actual"].is_null()),
        "a minute CloudWatch holds nothing for is unknown, not zero: {gap:?}"
    );
    eprintln!("forecast after start: {}", forecast["status"]);
}

//! The aws backend end to end: the real binary against a local moto server (started on a
//! free 127.0.0.1 port and stopped by PID), with a small proxy in front of it that injects
//! failures, throttling, 5xx and hangs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use aws_sdk_ecs::config::{Credentials, Region};
use aws_sdk_ecs::types::{AwsVpcConfiguration, ContainerDefinition, LaunchType, NetworkConfiguration};
use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// moto_server on 127.0.0.1, killed by PID when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("moto_server could not start ({e}): pip install 'moto[server]'"));
        // A listening socket is not enough: on a busy machine moto accepts connections
        // before it answers them, so wait for a whole HTTP response.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !answers_http(port) {
            assert!(Instant::now() < deadline, "moto_server did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

fn answers_http(port: u16) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut conn = TcpStream::connect(("127.0.0.1", port))?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        conn.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut status = [0u8; 5];
        conn.read_exact(&mut status)?;
        Ok(&status == b"HTTP/")
    };
    probe().unwrap_or(false)
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PASS: u8 = 0;
const FAIL_UPDATE: u8 = 1;
const THROTTLE: u8 = 2;
const ERROR_500: u8 = 3;
const HANG: u8 = 4;

/// A one-request-per-connection HTTP proxy in front of moto that injects faults.
struct Proxy {
    url: String,
    mode: Arc<AtomicU8>,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let mode = Arc::new(AtomicU8::new(PASS));
        let m = Arc::clone(&mode);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let mode = m.load(Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = handle(conn, &upstream, mode);
                });
            }
        });
        Proxy { url, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

fn handle(mut client: TcpStream, upstream: &str, mode: u8) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut json = false;
    let mut target = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("content-type:") && lower.contains("json") {
            json = true;
        }
        if let Some(v) = lower.strip_prefix("x-amz-target:") {
            target = v.trim().to_string();
        }
        if !lower.starts_with("connection:") {
            head.push(line);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let reply = |client: &mut TcpStream, status: &str, body: &str, ctype: &str| {
        let r = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(r.as_bytes())
    };
    let throttled_json = r#"{"__type":"ThrottlingException","message":"Rate exceeded (injected)"}"#;
    let throttled_xml = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded (injected)</Message></Error></ErrorResponse>";
    match mode {
        FAIL_UPDATE if target.ends_with(".updateservice") => reply(
            &mut client,
            "500 Internal Server Error",
            r#"{"__type":"ServerException","message":"injected"}"#,
            "application/x-amz-json-1.1",
        )?,
        THROTTLE if json => reply(
            &mut client,
            "400 Bad Request",
            throttled_json,
            "application/x-amz-json-1.1",
        )?,
        THROTTLE => reply(&mut client, "400 Bad Request", throttled_xml, "text/xml")?,
        ERROR_500 => reply(
            &mut client,
            "503 Service Unavailable",
            "unavailable (injected)",
            "text/plain",
        )?,
        HANG => {
            std::thread::sleep(Duration::from_secs(8));
            return Ok(());
        }
        _ => {
            let mut up = TcpStream::connect(upstream)?;
            for line in &head {
                up.write_all(line.as_bytes())?;
            }
            up.write_all(b"Connection: close\r\n\r\n")?;
            up.write_all(&body)?;
            let mut response = Vec::new();
            up.read_to_end(&mut response)?;
            client.write_all(&response)?;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

/// SDK clients for setting up and inspecting moto (not the code under test).
struct Aws {
    ecs: aws_sdk_ecs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Aws {
    async fn new(url: &str) -> Aws {
        let creds = Credentials::new("test", "test", None, None, "test");
        let ecs = aws_sdk_ecs::Config::builder()
            .behavior_version_latest()
            .endpoint_url(url)
            .region(Region::new("us-east-1"))
            .credentials_provider(creds.clone())
            .build();
        let cw = aws_sdk_cloudwatch::Config::builder()
            .behavior_version_latest()
            .endpoint_url(url)
            .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .build();
        Aws {
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cw),
        }
    }

    /// An EC2 query to moto; only IDs are needed, so plain text search over the XML will do.
    async fn first_id(url: &str, action: &str, tag: &str) -> String {
        let body = reqwest::Client::new()
            .post(url)
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("Action={action}&Version=2016-11-15"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{action} to moto: {e:?}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("{action} to moto: {e:?}"));
        let open = format!("<{tag}>");
        let start = body
            .find(&open)
            .unwrap_or_else(|| panic!("{action}: no {tag} in {body}"))
            + open.len();
        body[start..].split('<').next().unwrap().to_string()
    }

    /// A Fargate service with two running tasks, as the original experiment had.
    async fn service(&self, url: &str, cluster: &str, service: &str) {
        let subnet = Self::first_id(url, "DescribeSubnets", "subnetId").await;
        let group = Self::first_id(url, "DescribeSecurityGroups", "groupId").await;
        self.ecs.create_cluster().cluster_name(cluster).send().await.unwrap();
        self.ecs
            .register_task_definition()
            .family(service)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("search")
                    .image("search-service:1")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .subnets(subnet)
                    .security_groups(group)
                    .build()
                    .unwrap(),
            )
            .build();
        self.ecs
            .create_service()
            .cluster(cluster)
            .service_name(service)
            .task_definition(service)
            .desired_count(2)
            .launch_type(LaunchType::Fargate)
            .network_configuration(network)
            .send()
            .await
            .unwrap();
        // moto reports running tasks only after an update.
        self.ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(2)
            .send()
            .await
            .unwrap();
    }

    async fn desired(&self, cluster: &str, service: &str) -> i32 {
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .unwrap();
        out.services()[0].desired_count()
    }

    /// Datapoints for the last `minutes` whole minutes (moto buckets periods from StartTime).
    async fn put(&self, namespace: &str, name: &str, dims: &[(&str, &str)], value: f64, minutes: i64) {
        let now = chrono::Utc::now().timestamp() / 60 * 60;
        self.put_points(namespace, name, dims, (1..=minutes).map(|m| (now - m * 60, value)))
            .await;
    }

    /// One PutMetricData call with the given (epoch seconds, value) datapoints.
    async fn put_points(
        &self,
        namespace: &str,
        name: &str,
        dims: &[(&str, &str)],
        points: impl Iterator<Item = (i64, f64)>,
    ) {
        let dimensions: Vec<Dimension> = dims
            .iter()
            .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
            .collect();
        let data: Vec<MetricDatum> = points
            .map(|(at, value)| {
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dimensions.clone()))
                    .timestamp(aws_smithy_types::DateTime::from_secs(at))
                    .value(value)
                    .build()
            })
            .collect();
        self.cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .unwrap();
    }

    async fn put_cpu(&self, cluster: &str, service: &str, value: f64) {
        self.put(
            "AWS/ECS",
            "CPUUtilization",
            &[("ClusterName", cluster), ("ServiceName", service)],
            value,
            3,
        )
        .await;
    }
}

fn write_policy(dir: &Path, name: &str, cluster: &str, service: &str, rules: &str, extra: &str) {
    let text = format!(
        "name = \"{name}\"\nmin = 1\nmax = 10\ninterval = \"1s\"\n{extra}\n[target]\nbackend = \"aws\"\ncluster = \"{cluster}\"\nservice = \"{service}\"\n{rules}"
    );
    std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
}

const CPU_RULE: &str = "[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";
const EMF_RULE: &str = "[[rule]]\nname = \"p99\"\nmetric = \"latency\"\ntarget = \"150ms\"\nsource = \"custom\"\n\
    namespace = \"SearchService\"\nmetric_name = \"LatencyP99\"\ndimensions = { Service = \"search\" }\nperiod = \"60s\"\n";

/// The daemon binary configured for the aws backend at `endpoint`.
fn daemon(endpoint: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("ECS_AUTOSCALER_BACKEND", "aws")
        .env("ECS_AUTOSCALER_AWS__ENDPOINT_URL", endpoint)
        .env("ECS_AUTOSCALER_AWS__MAX_ATTEMPTS", "1")
        .env("ECS_AUTOSCALER_AWS__CALL_TIMEOUT", "2s")
        .env("ECS_AUTOSCALER_POLICIES_DIR", dir.join("policies"))
        .env("ECS_AUTOSCALER_STATE_FILE", dir.join("state.json"))
        .env("ECS_AUTOSCALER_LOG_FORMAT", "json");
    cmd
}

/// Kills and reaps a daemon started by a test when the test ends, passing or not.
struct Kill<'a>(&'a mut Child);

impl Drop for Kill<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `run --once --json`: the decisions of one round.
fn once(endpoint: &str, dir: &Path) -> Vec<Value> {
    let out = daemon(endpoint, dir)
        .args(["run", "--once", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    dir
}

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
async fn ten_policies_cost_one_get_metric_data_call_per_round() {
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
            .all(|d| d.decision.action == ecs_autoscaler::decide::Action::Hold),
        "CPU on target"
    );
    eprintln!(
        "one round, 10 policies x 2 rules: {} API calls ({} GetMetricData with {} metric queries, {} DescribeServices)",
        backend.api_calls(),
        backend.api_calls() - 10,
        backend.metric_queries(),
        10
    );
    assert_eq!(backend.metric_queries(), 20);
    assert_eq!(
        backend.api_calls(),
        11,
        "1 GetMetricData + 10 DescribeServices, no UpdateService"
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
    let out = daemon(&moto.url, dir.path())
        .args([
            "record",
            "--cluster",
            "prod",
            "--service",
            "search",
            "--since",
            "14d",
            "--period",
            "1h",
            "--out",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("336 rows of 3600s") && err.contains("GetMetricData call(s)"),
        "{err}"
    );
    let recording = ecs_autoscaler::sim::replay::read(&csv).unwrap();
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

//! Shared by the tests that run the real binary against a local moto server: moto on a
//! free 127.0.0.1 port (stopped by PID), a fault-injecting proxy in front of it, SDK
//! clients to set up and inspect moto, and the daemon's command line.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use aws_sdk_ecs::config::{Credentials, Region};
use aws_sdk_ecs::types::{AwsVpcConfiguration, ContainerDefinition, LaunchType, NetworkConfiguration};
use serde_json::Value;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// moto_server on 127.0.0.1, killed by PID when dropped.
pub struct Moto {
    pub child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
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

pub fn answers_http(port: u16) -> bool {
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

pub const PASS: u8 = 0;
pub const FAIL_UPDATE: u8 = 1;
pub const THROTTLE: u8 = 2;
pub const ERROR_500: u8 = 3;
pub const HANG: u8 = 4;
/// DescribeServices answers 3 s late and UpdateService fails (other calls pass): a leader
/// that keeps trying to scale, slowly.
pub const SLOW_DESCRIBE: u8 = 5;

/// A one-request-per-connection HTTP proxy in front of moto that injects faults.
pub struct Proxy {
    pub url: String,
    pub mode: Arc<AtomicU8>,
    /// While set, every DynamoDB call gets a 503, as from an unreachable endpoint.
    pub block_dynamodb: Arc<AtomicBool>,
    /// UpdateService calls that reached the proxy (passed on or failed by it).
    pub updates: Arc<AtomicUsize>,
    /// DescribeServices calls that reached the proxy.
    pub describes: Arc<AtomicUsize>,
    /// While set, every DynamoDB call answers 2 to 4.8 s late (slow, not down).
    pub slow_dynamodb: Arc<AtomicBool>,
    /// While above zero, S3 ListObjectsV2 answers this many seconds late.
    pub hold_s3_list: Arc<AtomicUsize>,
    /// JSON-protocol calls whose X-Amz-Target starts with one of these are throttled
    /// (`anyscalefrontendservice.`: Application Auto Scaling; `awsevents.`: EventBridge).
    pub throttle: Arc<Mutex<Vec<&'static str>>>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let mode = Arc::new(AtomicU8::new(PASS));
        let block_dynamodb = Arc::new(AtomicBool::new(false));
        let updates = Arc::new(AtomicUsize::new(0));
        let describes = Arc::new(AtomicUsize::new(0));
        let slow_dynamodb = Arc::new(AtomicBool::new(false));
        let hold_s3_list = Arc::new(AtomicUsize::new(0));
        let throttle = Arc::new(Mutex::new(Vec::new()));
        let faults = Faults {
            block_dynamodb: Arc::clone(&block_dynamodb),
            updates: Arc::clone(&updates),
            describes: Arc::clone(&describes),
            slow_dynamodb: Arc::clone(&slow_dynamodb),
            hold_s3_list: Arc::clone(&hold_s3_list),
            throttle: Arc::clone(&throttle),
            calls: Arc::new(AtomicUsize::new(0)),
        };
        let m = Arc::clone(&mode);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let mode = m.load(Ordering::SeqCst);
                let faults = faults.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, &upstream, mode, &faults);
                });
            }
        });
        Proxy {
            url,
            mode,
            block_dynamodb,
            updates,
            describes,
            slow_dynamodb,
            hold_s3_list,
            throttle,
        }
    }

    pub fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// What the proxy injects and counts, shared by its connections.
#[derive(Clone)]
pub struct Faults {
    block_dynamodb: Arc<AtomicBool>,
    updates: Arc<AtomicUsize>,
    describes: Arc<AtomicUsize>,
    slow_dynamodb: Arc<AtomicBool>,
    hold_s3_list: Arc<AtomicUsize>,
    throttle: Arc<Mutex<Vec<&'static str>>>,
    /// Every call, for spreading the slow ones' delays.
    calls: Arc<AtomicUsize>,
}

pub fn handle(mut client: TcpStream, upstream: &str, mode: u8, faults: &Faults) -> std::io::Result<()> {
    let (block_dynamodb, updates, describes) = (&faults.block_dynamodb, &faults.updates, &faults.describes);
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
    let dynamodb = target.starts_with("dynamodb_");
    let call = faults.calls.fetch_add(1, Ordering::SeqCst);
    if dynamodb && faults.slow_dynamodb.load(Ordering::SeqCst) {
        // 2.0 to 4.8 s, spread over the calls.
        let ms = 2_000 + (call.wrapping_mul(7919) % 2_801) as u64;
        std::thread::sleep(Duration::from_millis(ms));
    }
    let hold = faults.hold_s3_list.load(Ordering::SeqCst);
    if hold > 0
        && head
            .first()
            .is_some_and(|l| l.starts_with("GET ") && l.contains("list-type=2"))
    {
        std::thread::sleep(Duration::from_secs(hold as u64));
    }
    let update = target.ends_with(".updateservice");
    if update {
        updates.fetch_add(1, Ordering::SeqCst);
    }
    let describe = target.ends_with(".describeservices");
    if describe {
        describes.fetch_add(1, Ordering::SeqCst);
        if mode == SLOW_DESCRIBE {
            std::thread::sleep(Duration::from_secs(3));
        }
    }
    let throttled = faults
        .throttle
        .lock()
        .unwrap()
        .iter()
        .any(|prefix| target.starts_with(prefix));
    match mode {
        _ if throttled => reply(
            &mut client,
            "400 Bad Request",
            throttled_json,
            "application/x-amz-json-1.1",
        )?,
        _ if dynamodb && block_dynamodb.load(Ordering::SeqCst) => reply(
            &mut client,
            "503 Service Unavailable",
            "unreachable (injected)",
            "text/plain",
        )?,
        FAIL_UPDATE | SLOW_DESCRIBE if update => reply(
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
pub struct Aws {
    pub ecs: aws_sdk_ecs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub app_scaling: aws_sdk_applicationautoscaling::Client,
}

impl Aws {
    pub async fn new(url: &str) -> Aws {
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
            .credentials_provider(creds.clone())
            .build();
        let aas = aws_sdk_applicationautoscaling::Config::builder()
            .behavior_version_latest()
            .endpoint_url(url)
            .region(aws_sdk_applicationautoscaling::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .build();
        Aws {
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cw),
            app_scaling: aws_sdk_applicationautoscaling::Client::from_conf(aas),
        }
    }

    /// An EC2 query to moto; only IDs are needed, so plain text search over the XML will do.
    pub async fn first_id(url: &str, action: &str, tag: &str) -> String {
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
    pub async fn service(&self, url: &str, cluster: &str, service: &str) {
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

    pub async fn desired(&self, cluster: &str, service: &str) -> i32 {
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
    pub async fn put(&self, namespace: &str, name: &str, dims: &[(&str, &str)], value: f64, minutes: i64) {
        let now = chrono::Utc::now().timestamp() / 60 * 60;
        self.put_points(namespace, name, dims, (1..=minutes).map(|m| (now - m * 60, value)))
            .await;
    }

    /// One PutMetricData call with the given (epoch seconds, value) datapoints.
    pub async fn put_points(
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

    pub async fn put_cpu(&self, cluster: &str, service: &str, value: f64) {
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

pub fn write_policy(dir: &Path, name: &str, cluster: &str, service: &str, rules: &str, extra: &str) {
    let text = format!(
        "name = \"{name}\"\nmin = 1\nmax = 10\ninterval = \"1s\"\n{extra}\n[target]\nbackend = \"aws\"\ncluster = \"{cluster}\"\nservice = \"{service}\"\n{rules}"
    );
    std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
}

pub const CPU_RULE: &str = "[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";
pub const EMF_RULE: &str = "[[rule]]\nname = \"p99\"\nmetric = \"latency\"\ntarget = \"150ms\"\nsource = \"custom\"\n\
    namespace = \"SearchService\"\nmetric_name = \"LatencyP99\"\ndimensions = { Service = \"search\" }\nperiod = \"60s\"\n";

/// The daemon binary configured for the aws backend at `endpoint`. ECS_AUTOSCALER_TEST_BIN
/// runs another build instead (an older commit's, for before-and-after figures).
pub fn daemon(endpoint: &str, dir: &Path) -> Command {
    let bin = std::env::var("ECS_AUTOSCALER_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ecs-autoscaler").into());
    let mut cmd = Command::new(bin);
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
pub struct Kill<'a>(pub &'a mut Child);

impl Drop for Kill<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `run --once --json`: the decisions of one round.
pub fn once(endpoint: &str, dir: &Path) -> Vec<Value> {
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

/// `record` of prod/search for the last `since`, one row per hour, into `out`: hours
/// rather than minutes, since moto's GetMetricData is quadratic in the datapoints it holds.
pub fn record_hourly(endpoint: &str, dir: &Path, since: &str, out: &Path) -> std::process::Output {
    daemon(endpoint, dir)
        .args([
            "record",
            "--cluster",
            "prod",
            "--service",
            "search",
            "--since",
            since,
            "--period",
            "1h",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap()
}

/// Runs `cmd`, failing the test with its stderr unless it succeeds.
pub fn succeeds(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

pub fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    dir
}

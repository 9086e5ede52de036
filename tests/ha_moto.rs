//! High availability against moto: several real daemons share a DynamoDB table for their
//! state and a lease; only the leader acts. Each daemon talks to moto through a proxy of
//! its own, which counts its UpdateService calls and can cut it off from DynamoDB.
#![cfg(feature = "aws")]

mod moto;

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use moto::*;
use serde_json::Value;

const TABLE: &str = "autoscaler-state";
const TTL: Duration = Duration::from_secs(3);
const INTERVAL: Duration = Duration::from_secs(1);

async fn dynamodb(url: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .endpoint_url(url)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

async fn create_table(client: &aws_sdk_dynamodb::Client) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
}

/// One daemon of the deployment, with its own proxy and status API.
struct Node {
    name: String,
    proxy: Proxy,
    port: u16,
    child: Child,
    log: std::path::PathBuf,
}

impl Node {
    fn start(name: &str, moto: &Moto, dir: &Path) -> Node {
        Self::start_with(name, moto, dir, &[])
    }

    fn start_with(name: &str, moto: &Moto, dir: &Path, env: &[(&str, &str)]) -> Node {
        let proxy = Proxy::start(&moto.url);
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let child = daemon(&proxy.url, dir)
            .env("ECS_AUTOSCALER_STATE_BACKEND", "dynamodb")
            .env("ECS_AUTOSCALER_DYNAMODB__TABLE", TABLE)
            .env("ECS_AUTOSCALER_DYNAMODB__LEASE_TTL", format!("{}s", TTL.as_secs()))
            .env("ECS_AUTOSCALER_DYNAMODB__INSTANCE_ID", name)
            .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{port}"))
            .env("ECS_AUTOSCALER_RESCAN_INTERVAL", "1s")
            .envs(env.iter().copied())
            .args(["run"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Node {
            name: name.into(),
            proxy,
            port,
            child,
            log,
        }
    }

    /// `/v1/status`, or None while the daemon is not answering.
    async fn status(&self) -> Option<Value> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .ok()?;
        let r = client
            .get(format!("http://127.0.0.1:{}/v1/status", self.port))
            .send()
            .await
            .ok()?;
        r.json().await.ok()
    }

    async fn role(&self) -> Option<String> {
        Some(self.status().await?["leadership"]["role"].as_str()?.to_string())
    }

    /// The end of this daemon's log, for a failure to show what it was doing.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "--- {} ---\n{}",
            self.name,
            lines[lines.len().saturating_sub(15)..].join("\n")
        )
    }

    fn updates(&self) -> usize {
        self.proxy.updates.load(Ordering::SeqCst)
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} {}", self.child.id());
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGKILL promptly everywhere.
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        self.kill();
    }
}

/// Polls until `f` holds or `limit` passes; returns how long it took.
async fn until<F: std::future::Future<Output = bool>>(limit: Duration, mut f: impl FnMut() -> F) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The one node that reports `leader`, once exactly one does and the others follow it.
/// Never two leaders at once while it watches.
async fn leader(nodes: &[&Node]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut roles = Vec::new();
        for n in nodes {
            roles.push(n.role().await);
        }
        let leaders: Vec<usize> = (0..roles.len())
            .filter(|i| roles[*i].as_deref() == Some("leader"))
            .collect();
        assert!(leaders.len() <= 1, "two leaders at once: {roles:?}");
        let others_follow = roles
            .iter()
            .enumerate()
            .all(|(i, r)| leaders.contains(&i) || r.as_deref() == Some("follower"));
        if leaders.len() == 1 && others_follow {
            return leaders[0];
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = nodes.iter().map(|n| n.log_tail()).collect();
            panic!("no single leader within 20 s: {roles:?}\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct World {
    moto: Moto,
    aws: Aws,
    dir: tempfile::TempDir,
}

async fn world(services: &[&str], extra: &str) -> World {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url).await;
    create_table(&dynamodb(&moto.url).await).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    for s in services {
        aws.service(&moto.url, "prod", s).await;
        write_policy(&dir.path().join("policies"), s, "prod", s, CPU_RULE, extra);
    }
    World { moto, aws, dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_started_at_once_give_exactly_one_leader() {
    let w = world(&["search"], "").await;
    let a = Node::start("a", &w.moto, w.dir.path());
    let b = Node::start("b", &w.moto, w.dir.path());
    let i = leader(&[&a, &b]).await;
    let (lead, follow) = if i == 0 { (&a, &b) } else { (&b, &a) };
    // For several lease periods: still one leader, the same one, and the follower names it
    // while it waits idle (its policies stay due, and it must not spin on them).
    let cpu_before = cpu_seconds(follow.child.id());
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(lead.role().await.as_deref(), Some("leader"));
        let s = follow.status().await.unwrap();
        assert_eq!(s["leadership"]["role"], "follower", "{s}");
        assert_eq!(s["leadership"]["leader"], lead.name.as_str(), "{s}");
    }
    let cpu = cpu_seconds(follow.child.id()) - cpu_before;
    eprintln!(
        "leader {}, follower {} names it; the follower used {cpu:.2} s of CPU in 5 s",
        lead.name, follow.name
    );
    // Idle it uses ~0.07 s here (answering this test's status requests); spinning on its
    // due policies, ~0.5 s.
    assert!(cpu < 0.25, "the follower used {cpu:.2} s of CPU in 5 s");
}

/// User and system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Failover, five times: SIGKILL the leader while a service needs scaling that it has not
/// seen; the follower takes the lease when it lapses, restores the state and acts.
/// Services the dead leader scaled are not scaled again (their cooldowns and baselines
/// come back from DynamoDB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_within_the_ttl_and_its_cooldowns_hold() {
    let services = ["s0", "s1", "s2", "s3", "s4", "s5"];
    let cooldown = "[scale_out]\ncooldown = \"10m\"\n";
    let w = world(&services, cooldown).await;
    let dir = w.dir.path();
    // s0 needs scaling from the start: the first leader scales it 2 -> 4.
    w.aws.put_cpu("prod", "s0", 140.0).await;
    let mut nodes = [Node::start("n0", &w.moto, dir), Node::start("n1", &w.moto, dir)];
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.aws.desired("prod", "s0").await != 4 {
        assert!(Instant::now() < deadline, "s0 never scaled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut failovers = Vec::new();
    for (round, service) in services[1..].iter().enumerate() {
        let refs: Vec<&Node> = nodes.iter().collect();
        let i = leader(&refs).await;
        let survivor = 1 - i;
        let before = nodes[survivor].updates();
        nodes[i].kill();
        let killed = Instant::now();
        w.aws.put_cpu("prod", service, 140.0).await;
        until(TTL + INTERVAL + Duration::from_secs(10), || async {
            w.aws.desired("prod", service).await == 4
        })
        .await
        .unwrap_or_else(|| panic!("round {round}: {service} not scaled after the kill"));
        failovers.push(killed.elapsed());
        // Give the new leader a few rounds: every service scaled before stays as it is.
        tokio::time::sleep(Duration::from_secs(3)).await;
        for done in &services[..=round + 1] {
            assert_eq!(w.aws.desired("prod", done).await, 4, "{done} after round {round}");
        }
        let acted = nodes[survivor].updates() - before;
        assert_eq!(
            acted, 1,
            "round {round}: the new leader scaled {service} and nothing else"
        );
        let status = nodes[survivor].status().await.unwrap();
        assert!(
            status["state"].as_str().unwrap().contains("restored"),
            "{}",
            status["state"]
        );
        let name = format!("n{}", round + 2);
        nodes[i] = Node::start(&name, &w.moto, dir);
    }
    let mut sorted = failovers.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    eprintln!(
        "failover (kill -> the follower's UpdateService seen in moto), 5 kills: {:?}; median {:.1} s (TTL {} s, interval {} s)",
        failovers
            .iter()
            .map(|d| format!("{:.1}s", d.as_secs_f64()))
            .collect::<Vec<_>>(),
        median.as_secs_f64(),
        TTL.as_secs(),
        INTERVAL.as_secs()
    );
    for (n, d) in failovers.iter().enumerate() {
        assert!(
            *d <= TTL + INTERVAL + Duration::from_secs(4),
            "kill {n}: {:.1} s is beyond the TTL plus one interval (and 4 s for moto)",
            d.as_secs_f64()
        );
    }
}

/// The fence: a leader frozen (SIGSTOP) in the middle of a round, between reading the
/// service and scaling it, wakes (SIGCONT) after the follower took over the lapsed lease
/// and finishes the round: it makes no UpdateService call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_past_its_lease_makes_no_update_when_it_wakes() {
    let w = world(&[], "").await;
    w.aws.service(&w.moto.url, "prod", "search").await;
    // A round long enough to be frozen inside: a 10 s interval (the round's deadline) and
    // a DescribeServices answered 3 s late.
    std::fs::write(
        w.dir.path().join("policies/search.toml"),
        format!(
            "name = \"search\"\nmin = 1\nmax = 10\ninterval = \"10s\"\n[target]\nbackend = \"aws\"\n\
             cluster = \"prod\"\nservice = \"search\"\n{CPU_RULE}"
        ),
    )
    .unwrap();
    w.aws.put_cpu("prod", "search", 140.0).await;
    let a = Node::start_with(
        "a",
        &w.moto,
        w.dir.path(),
        &[("ECS_AUTOSCALER_AWS__CALL_TIMEOUT", "30s")],
    );
    a.proxy.set(SLOW_DESCRIBE);
    assert_eq!(leader(&[&a]).await, 0);
    let b = Node::start("b", &w.moto, w.dir.path());
    // b must not scale either: what is measured is whether a does.
    b.proxy.set(FAIL_UPDATE);
    assert_eq!(leader(&[&a, &b]).await, 0);
    let seen = a.proxy.describes.load(Ordering::SeqCst);
    until(Duration::from_secs(15), || async {
        a.proxy.describes.load(Ordering::SeqCst) > seen
    })
    .await
    .expect("a reads the service");
    // Frozen with its DescribeServices in flight, before it could decide.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.signal("STOP");
    let stopped_at = a.updates();
    until(Duration::from_secs(15), || async {
        b.role().await.as_deref() == Some("leader")
    })
    .await
    .expect("b took over");
    a.signal("CONT");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = a.updates() - stopped_at;
    let status = a.status().await.unwrap();
    let fenced = status["policies"][0]["last_decision"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "fencing: the paused leader finished its round and made {after} UpdateService call(s); its decision: {fenced:?}; now {}",
        status["leadership"]
    );
    assert_eq!(after, 0);
    assert!(
        fenced.starts_with("not acting:"),
        "{}",
        status["policies"][0]["last_decision"]
    );
    assert_eq!(status["leadership"]["role"], "follower", "{status}");
    assert_eq!(status["leadership"]["leader"], "b", "{status}");
    assert_eq!(w.aws.desired("prod", "search").await, 2, "nobody got an update through");
}

/// DynamoDB unreachable: the leader stops acting within the TTL, and with no lease
/// nobody acts, though a service needs scaling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_dynamodb_the_leader_steps_down_within_the_ttl_and_nobody_acts() {
    let w = world(&["search"], "").await;
    let a = Node::start("a", &w.moto, w.dir.path());
    let b = Node::start("b", &w.moto, w.dir.path());
    let i = leader(&[&a, &b]).await;
    let nodes = [&a, &b];
    a.proxy.block_dynamodb.store(true, Ordering::SeqCst);
    b.proxy.block_dynamodb.store(true, Ordering::SeqCst);
    let cut = Instant::now();
    let stepped = until(TTL + Duration::from_secs(2), || async {
        nodes[i].role().await.as_deref() == Some("follower")
    })
    .await
    .expect("the leader did not step down");
    let before = a.updates() + b.updates();
    // The service now needs scaling; nobody may act on it.
    w.aws.put_cpu("prod", "search", 140.0).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let status = nodes[i].status().await.unwrap();
    eprintln!(
        "DynamoDB cut off: the leader stepped down after {:.1} s (TTL {} s); {} UpdateService calls in the next 6 s; {}",
        stepped.as_secs_f64(),
        TTL.as_secs(),
        a.updates() + b.updates() - before,
        status["leadership"]
    );
    assert!(cut.elapsed() > stepped);
    assert!(stepped <= TTL, "stepped down after {stepped:?}");
    assert_eq!(a.updates() + b.updates(), before);
    assert_eq!(w.aws.desired("prod", "search").await, 2);
    for n in nodes {
        assert_eq!(n.role().await.as_deref(), Some("follower"));
    }
    // Back: one of them leads again and acts.
    a.proxy.block_dynamodb.store(false, Ordering::SeqCst);
    b.proxy.block_dynamodb.store(false, Ordering::SeqCst);
    until(Duration::from_secs(20), || async {
        w.aws.desired("prod", "search").await == 4
    })
    .await
    .expect("nobody acted once DynamoDB was back");
}

/// A rolling deploy: a new daemon starts, then the old ones get SIGTERM one by one (they
/// release the lease after their last save). Every daemon's last decision, polled five
/// times per round, shows no gap between decisions longer than the TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_deploy_loses_no_interval_beyond_the_ttl() {
    let w = world(&["search"], "").await;
    w.aws.put_cpu("prod", "search", 70.0).await;
    let dir = w.dir.path();
    let ports = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u16>::new()));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::<String>::new()));
    let poller = {
        let (ports, seen) = (std::sync::Arc::clone(&ports), std::sync::Arc::clone(&seen));
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_millis(500))
                .build()
                .unwrap();
            loop {
                let list = ports.lock().unwrap().clone();
                for port in list {
                    let url = format!("http://127.0.0.1:{port}/v1/status");
                    let Ok(r) = client.get(url).send().await else { continue };
                    let Ok(v) = r.json::<Value>().await else { continue };
                    if let Some(at) = v["policies"][0]["last_decision"]["decision"]["at"].as_str() {
                        seen.lock().unwrap().insert(at.to_string());
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut old_a = Node::start("old-a", &w.moto, dir);
    let mut old_b = Node::start("old-b", &w.moto, dir);
    ports.lock().unwrap().extend([old_a.port, old_b.port]);
    leader(&[&old_a, &old_b]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = chrono::Utc::now();
    let new_a = Node::start("new-a", &w.moto, dir);
    ports.lock().unwrap().push(new_a.port);
    tokio::time::sleep(Duration::from_secs(3)).await;
    old_a.signal("TERM");
    let _ = old_a.child.wait();
    let new_b = Node::start("new-b", &w.moto, dir);
    ports.lock().unwrap().push(new_b.port);
    tokio::time::sleep(Duration::from_secs(3)).await;
    old_b.signal("TERM");
    let _ = old_b.child.wait();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ended = chrono::Utc::now();
    leader(&[&new_a, &new_b]).await;
    poller.abort();

    let mut times: Vec<chrono::DateTime<chrono::Utc>> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|t| t.parse().ok())
        .filter(|t| *t >= started && *t <= ended)
        .collect();
    times.sort();
    assert!(times.len() >= 5, "{} decisions seen", times.len());
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds() as f64 / 1000.0)
        .collect();
    let worst = gaps.iter().cloned().fold(0.0, f64::max);
    eprintln!(
        "rolling deploy: {} decisions in {:.0} s, longest gap between decisions {worst:.1} s (TTL {} s, interval {} s)",
        times.len(),
        (ended - started).num_seconds(),
        TTL.as_secs(),
        INTERVAL.as_secs()
    );
    assert!(worst <= TTL.as_secs_f64(), "a gap of {worst:.1} s: {gaps:?}");
}

/// DynamoDB slow, not down: every call answers 2 to 4.8 s late (the proxy), with a 15 s
/// lease and six policies at 5, 10 and 15 s intervals that each need one scale-out. The
/// fence, the write-ahead and the update each have a budget of their own, and renewals
/// and fences share claims instead of queueing behind each other: every scale-out is
/// sent, none twice, and the leader never steps down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dynamodb_loses_no_scale_out_and_unseats_no_leader() {
    let services = ["s5a", "s5b", "s10a", "s10b", "s15a", "s15b"];
    let w = world(&[], "").await;
    let pdir = w.dir.path().join("policies");
    for s in services {
        w.aws.service(&w.moto.url, "prod", s).await;
        let interval = s.trim_start_matches('s').trim_end_matches(['a', 'b']);
        std::fs::write(
            pdir.join(format!("{s}.toml")),
            format!(
                "min = 1\nmax = 10\ninterval = \"{interval}s\"\n[scale_out]\ncooldown = \"1h\"\n[target]\nbackend = \"aws\"\n\
                 cluster = \"prod\"\nservice = \"{s}\"\n{CPU_RULE}"
            ),
        )
        .unwrap();
        w.aws.put_cpu("prod", s, 140.0).await;
    }
    let node = Node::start_with(
        "slow",
        &w.moto,
        w.dir.path(),
        &[
            ("ECS_AUTOSCALER_DYNAMODB__LEASE_TTL", "15s"),
            ("ECS_AUTOSCALER_AWS__CALL_TIMEOUT", "6s"),
        ],
    );
    node.proxy.slow_dynamodb.store(true, Ordering::SeqCst);
    let mut roles = Vec::new();
    let mut scaled = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(75) {
        roles.push(node.role().await);
        scaled = 0;
        for s in services {
            if w.aws.desired("prod", s).await > 2 {
                scaled += 1;
            }
        }
        if scaled == services.len() && start.elapsed() > Duration::from_secs(40) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let status = node.status().await.unwrap_or_default();
    eprintln!(
        "slow DynamoDB: {scaled}/{} scaled out in {:.0} s, {} UpdateService call(s); epoch {}",
        services.len(),
        start.elapsed().as_secs_f64(),
        node.updates(),
        status["leadership"]["epoch"]
    );
    assert_eq!(
        scaled,
        services.len(),
        "scale-outs sent: {scaled} of {}",
        services.len()
    );
    assert_eq!(node.updates(), services.len(), "each scale-out sent once");
    let led = roles
        .iter()
        .position(|r| r.as_deref() == Some("leader"))
        .expect("it led");
    assert!(
        roles[led..].iter().all(|r| r.as_deref() == Some("leader")),
        "the leader stepped down under a slow (not down) DynamoDB: {roles:?}"
    );
    assert_eq!(status["leadership"]["epoch"], 1, "one leadership all along: {status}");
}

/// A history in DynamoDB whose times lie an hour ahead (a peer's clock, a bad write): the
/// daemon that takes the lease clamps them; the scale-out they would block for two hours
/// is open at once (it waits only for a datapoint measured after the clamp).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_from_the_future_in_dynamodb_are_not_trusted() {
    let w = world(&["search"], "[scale_out]\ncooldown = \"1h\"\n").await;
    w.aws.put_cpu("prod", "search", 140.0).await;
    let ahead = chrono::Utc::now() + chrono::Duration::hours(1);
    let history = serde_json::json!(["search", {
        "last_scale_out": ahead, "last_change": ahead, "last_desired": 2,
        "recommendations": [], "last_scale_in": null, "blind_since": null
    }]);
    use aws_sdk_dynamodb::types::AttributeValue;
    dynamodb(&w.moto.url)
        .await
        .put_item()
        .table_name(TABLE)
        .item("pk", AttributeValue::S("ecs-autoscaler#history".into()))
        .item("sk", AttributeValue::S("aws/-/prod/search".into()))
        .item("body", AttributeValue::S(history.to_string()))
        .item("epoch", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let node = Node::start("n", &w.moto, w.dir.path());
    // Once it has decided: scale-out is open (the stored one, from the future, blocks
    // nothing), and its readings wait only for a datapoint measured since now.
    let decided = until(Duration::from_secs(20), || async {
        node.status()
            .await
            .is_some_and(|s| !s["policies"][0]["last_decision"].is_null())
    })
    .await;
    let status = node.status().await.unwrap_or_default();
    assert!(decided.is_some(), "no decision: {status}");
    assert!(
        status["state"].as_str().unwrap_or_default().contains("clamped"),
        "{status}"
    );
    let policy = &status["policies"][0];
    assert!(
        policy["gates"]["scale_out"].is_null(),
        "a cooldown from the future: {policy}"
    );
}

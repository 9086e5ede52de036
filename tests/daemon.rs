//! The daemon end to end: the sim backend in accelerated virtual time, the status API on a
//! free 127.0.0.1 port, policy files edited under it, restarts and the token.

mod promtool;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use autoscaler_sim::scenario;
use chrono::{DateTime, Utc};
use ecs_autoscaler::api;
use ecs_autoscaler::backend::sim::SimBackend;
use ecs_autoscaler::backend::{Clock, ScaledClock};
use ecs_autoscaler::daemon::{Daemon, Shared};
use ecs_autoscaler::settings::Settings;
use serde_json::Value;

const TOKEN: &str = "test-token-0123456789";

/// Heavy constant load: two tasks run at 100 % CPU, so a CPU policy always wants more.
const HEAVY: &str = r#"
duration = "24h"
start = "2026-01-05T09:00:00Z"
[service]
initial_tasks = 2
capacity_rps = 2100
startup = "30s"
startup_jitter = "0s"
[cloudwatch]
standard_delay = "0s"
high_resolution_delay = "0s"
[traffic]
kind = "rate"
[[traffic.phase]]
at = "0s"
rate = 8000
"#;

fn cpu_policy(max: u32, cooldown: &str) -> String {
    format!(
        "min = 2\nmax = {max}\ninterval = \"10s\"\n[target]\nbackend = \"sim\"\nservice = \"search\"\n\
         [[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 50\nperiod = \"10s\"\n\
         [scale_out]\ncooldown = \"{cooldown}\"\nmax_step = 1\n"
    )
}

struct Running {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

struct Setup {
    dir: tempfile::TempDir,
    token: Option<&'static str>,
    speed: f64,
}

impl Setup {
    fn new(token: Option<&'static str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("policies")).unwrap();
        Self {
            dir,
            token,
            speed: 200.0,
        }
    }

    fn policy_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("policies").join(format!("{name}.toml"))
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    fn write_policy(&self, name: &str, text: &str) {
        // Write then rename, as editors and config management do.
        let tmp = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(tmp, self.policy_path(name)).unwrap();
    }

    async fn start(&self, origin: Option<DateTime<Utc>>) -> Running {
        let mut env = HashMap::from([
            (
                "ECS_AUTOSCALER_POLICIES_DIR".to_string(),
                self.dir.path().join("policies").display().to_string(),
            ),
            (
                "ECS_AUTOSCALER_STATE_FILE".to_string(),
                self.state_path().display().to_string(),
            ),
            ("ECS_AUTOSCALER_SIM__SPEED".to_string(), self.speed.to_string()),
            ("ECS_AUTOSCALER_RESCAN_INTERVAL".to_string(), "1s".to_string()),
        ]);
        if let Some(t) = self.token {
            env.insert("ECS_AUTOSCALER_API_TOKEN".into(), t.into());
        }
        let settings = Settings::load_with_env(None, Some(env)).unwrap();
        let scenario = scenario::parse(Path::new("heavy.toml"), HEAVY).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(origin.unwrap_or(scenario.start), self.speed));
        let backend = Arc::new(SimBackend::new(scenario, Arc::clone(&clock)));
        let daemon = Daemon::new(settings, backend, clock);
        daemon.start().await.unwrap();
        let shared = daemon.shared();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
        let api_shared = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let api = tokio::spawn(api::serve(listener, api_shared, async move {
                let _ = api_stopped.await;
            }));
            daemon
                .run(async move {
                    let _ = stopped.await;
                })
                .await;
            let _ = stop_api.send(());
            let _ = api.await;
        });
        Running {
            shared,
            addr,
            stop: Some(stop),
            task,
            http: reqwest::Client::new(),
        }
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    async fn text(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.post(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    async fn policy(&self, name: &str) -> Value {
        let (_, status) = self.get("/v1/status").await;
        status["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn journal_len(&self, name: &str) -> usize {
        self.shared.registry().policy(name).map_or(0, |e| e.journal().len())
    }

    fn scale_outs(&self, name: &str) -> usize {
        self.shared.registry().policy(name).map_or(0, |e| {
            e.journal()
                .iter()
                .filter(|j| j.applied && j.decision.desired > j.decision.capacity.desired)
                .count()
        })
    }

    /// Stops the daemon the way SIGTERM does and waits for it to save its state.
    /// Stops the daemon; the clock's time once it has stopped (and saved).
    async fn stop(mut self) -> DateTime<Utc> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("daemon stops")
            .unwrap();
        self.shared.clock.now()
    }
}

/// Polls `check` until it holds, for at most 10 s of real time.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_policy_takes_effect_and_a_corrupt_edit_is_rejected() {
    let setup = Setup::new(None);
    setup.write_policy("search", &cpu_policy(4, "30s"));
    let d = setup.start(None).await;
    eventually("the policy is evaluated", || async { d.journal_len("search") > 0 }).await;
    let first = d.policy("search").await;
    assert_eq!(first["max"], 4);

    setup.write_policy("search", &cpu_policy(6, "30s"));
    eventually("the edit is in force", || async {
        d.policy("search").await["max"] == 6
    })
    .await;
    let edited = d.policy("search").await;
    assert_ne!(edited["checksum"], first["checksum"]);

    setup.write_policy("search", &cpu_policy(6, "30s").replace("min = 2", "min = 9"));
    eventually("the bad edit is reported", || async {
        d.policy("search").await["load_error"].is_string()
    })
    .await;
    let p = d.policy("search").await;
    let error = p["load_error"].as_str().unwrap();
    assert!(
        error.contains("search.toml:1:7: min (9) is greater than max (6)"),
        "{error}"
    );
    assert_eq!(p["max"], 6, "the last good version stays in force");
    assert_eq!(p["checksum"], edited["checksum"]);
    let before = d.journal_len("search");
    eventually("decisions continue", || async { d.journal_len("search") > before + 2 }).await;

    assert!(d.text("/metrics").await.contains("policy=\"search\""));
    std::fs::remove_file(setup.policy_path("search")).unwrap();
    eventually("a deleted file stops its policy", || async {
        d.policy("search").await.is_null()
    })
    .await;
    let metrics = d.text("/metrics").await;
    assert!(
        !metrics.contains("policy=\"search\""),
        "a deleted policy's series leave /metrics:\n{metrics}"
    );
    d.stop().await;
}

/// The whole source unreadable (a directory gone, an S3 permission revoked): the policies in
/// force keep deciding, the status says why nothing is re-read, and it clears once it reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_policy_source_is_reported_and_the_policies_in_force_stay() {
    let setup = Setup::new(None);
    setup.write_policy("search", &cpu_policy(4, "30s"));
    let d = setup.start(None).await;
    eventually("the policy is evaluated", || async { d.journal_len("search") > 0 }).await;
    let (_, status) = d.get("/v1/status").await;
    assert!(status["policy_source_error"].is_null(), "{status}");

    let dir = setup.dir.path().join("policies");
    let aside = setup.dir.path().join("policies-aside");
    std::fs::rename(&dir, &aside).unwrap();
    eventually("the unreadable source is reported", || async {
        d.get("/v1/status").await.1["policy_source_error"].is_string()
    })
    .await;
    let (_, status) = d.get("/v1/status").await;
    let error = status["policy_source_error"].as_str().unwrap();
    assert!(error.contains("policies"), "names the source: {error}");
    assert_eq!(
        status["policies"].as_array().unwrap().len(),
        1,
        "the policy stays in force"
    );
    let before = d.journal_len("search");
    eventually("decisions continue", || async { d.journal_len("search") > before + 1 }).await;
    let metrics = d.text("/metrics").await;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("ecs_autoscaler_backend_errors_total{call=\"read_policies\"}") && !l.ends_with(" 0")
        ),
        "counted as a backend error"
    );

    std::fs::rename(&aside, &dir).unwrap();
    eventually("the error clears once the source reads again", || async {
        d.get("/v1/status").await.1["policy_source_error"].is_null()
    })
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_bad_file_is_listed_with_its_diagnostics() {
    let setup = Setup::new(None);
    setup.write_policy("good", &cpu_policy(4, "30s"));
    setup.write_policy("bad", "min = 1\nmax = 2\nbogus = true\n");
    let d = setup.start(None).await;
    let (code, status) = d.get("/v1/status").await;
    assert_eq!(code, 200);
    let rejected = status["rejected_files"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0]["error"]
            .as_str()
            .unwrap()
            .contains("bad.toml:3:1: unknown field `bogus`")
    );
    assert_eq!(status["policies"].as_array().unwrap().len(), 1);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_cooldown_causes_no_extra_scaling() {
    let setup = Setup::new(None);
    setup.write_policy("search", &cpu_policy(10, "1h"));
    let d = setup.start(None).await;
    eventually("the first scale-out", || async { d.scale_outs("search") == 1 }).await;
    let stopped_at = d.stop().await;

    // Same state file, clock continuing: the load still asks for more, the cooldown forbids it.
    let d = setup.start(Some(stopped_at)).await;
    eventually("evaluations after the restart", || async {
        d.journal_len("search") > 12
    })
    .await;
    assert_eq!(d.scale_outs("search"), 1, "no scale-out inside the restored cooldown");
    let p = d.policy("search").await;
    assert_eq!(p["gates"]["scale_out"]["kind"], "cooldown", "{p}");
    assert!(p["gates"]["scale_out"]["until"].is_string(), "the core says when: {p}");
    let last = &p["last_decision"]["explanation"];
    assert!(last.as_str().unwrap().contains("scale-out cooldown"), "{last}");
    let stopped_at = d.stop().await;

    // Control: without the state file, the same situation scales out at once.
    std::fs::remove_file(setup.state_path()).unwrap();
    let d = setup.start(Some(stopped_at)).await;
    eventually("a scale-out without the cooldown", || async {
        d.scale_outs("search") >= 1
    })
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_starts_conservatively() {
    let setup = Setup::new(None);
    std::fs::write(
        setup.state_path(),
        "{\"format\": \"ecs-autoscaler-state\", \"version\": 1, \"trunc",
    )
    .unwrap();
    setup.write_policy("search", &cpu_policy(4, "30s"));
    let d = setup.start(None).await;
    let (_, status) = d.get("/v1/status").await;
    assert!(status["state"].as_str().unwrap().starts_with("corrupt"), "{status}");
    let (_, status) = d.get("/v1/status").await;
    let gate = &status["policies"][0]["gates"]["scale_in"];
    assert_eq!(
        gate["kind"], "conservative",
        "no scale-in before a window is observed: {status}"
    );
    let kept = std::fs::read_dir(setup.dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".corrupt-"))
        .count();
    assert_eq!(kept, 1, "the bad file is kept for inspection");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_need_the_token() {
    let setup = Setup::new(Some(TOKEN));
    setup.write_policy("search", &cpu_policy(4, "30s"));
    let d = setup.start(None).await;
    assert_eq!(d.post("/v1/policies/search/pause", None).await.0, 401);
    assert_eq!(
        d.post("/v1/policies/search/pause", Some("wrong-token-0123456789"))
            .await
            .0,
        401
    );
    assert_eq!(d.post("/v1/policies/nope/pause", Some(TOKEN)).await.0, 404);
    let (code, body) = d.post("/v1/policies/search/pause", Some(TOKEN)).await;
    assert_eq!((code, &body["paused"]), (200, &Value::Bool(true)));
    assert_eq!(d.policy("search").await["paused"], true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let frozen = d.journal_len("search");
    tokio::time::sleep(Duration::from_millis(500)).await; // 100 virtual seconds
    assert_eq!(d.journal_len("search"), frozen, "a paused policy is not evaluated");
    assert_eq!(d.post("/v1/policies/search/resume", Some(TOKEN)).await.0, 200);
    eventually("evaluations resume", || async { d.journal_len("search") > frozen }).await;
    assert_eq!(d.post("/v1/reload", Some(TOKEN)).await.0, 202);
    d.stop().await;

    let open = Setup::new(None);
    open.write_policy("search", &cpu_policy(4, "30s"));
    let d = open.start(None).await;
    let (code, body) = d.post("/v1/policies/search/pause", Some(TOKEN)).await;
    assert_eq!(code, 403, "without a configured token mutating endpoints are disabled");
    assert_eq!(body["error"], "disabled");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_endpoints_answer_and_bad_requests_get_json_errors() {
    let setup = Setup::new(None);
    setup.write_policy("search", &cpu_policy(4, "30s"));
    let d = setup.start(None).await;
    eventually("a few decisions", || async { d.journal_len("search") >= 3 }).await;
    assert_eq!(d.get("/healthz").await.0, 200);
    assert_eq!(d.get("/readyz").await.0, 200);

    let p = d.policy("search").await;
    for key in [
        "target",
        "capacity",
        "rules",
        "gates",
        "last_decision",
        "checksum",
        "load_error",
    ] {
        assert!(p.get(key).is_some(), "status lacks {key}: {p}");
    }
    assert_eq!(p["rules"][0]["name"], "cpu");
    assert!(p["rules"][0]["age_seconds"].is_number());
    assert!(p["last_decision"]["explanation"].as_str().unwrap().contains("cpu:"));
    // `status` prints the same, as text, for a shell that reaches only this port.
    let url = format!("http://{}", d.addr);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"))
            .args(["status", "--url", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for want in ["backend sim", "search · ", "last decision", "next scale-out:", "cpu "] {
        assert!(text.contains(want), "status lacks {want:?}:\n{text}");
    }
    let down = std::process::Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"))
        .args(["status", "--url", "http://127.0.0.1:9", "--timeout", "1s"])
        .output()
        .unwrap();
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("GET http://127.0.0.1:9/v1/status"));

    let (code, body) = d.get("/v1/policies/search/decisions?limit=2").await;
    assert_eq!(code, 200);
    let list = body["decisions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list[0]["decision"]["at"].as_str() > list[1]["decision"]["at"].as_str(),
        "newest first"
    );
    for (path, code) in [
        ("/v1/policies/search/decisions?limit=0", 400),
        ("/v1/policies/search/decisions?limit=abc", 400),
        ("/v1/policies/search/decisions?since=1", 400),
        ("/v1/policies/nope/decisions", 404),
        ("/no/such/path", 404),
    ] {
        let (got, body) = d.get(path).await;
        assert_eq!(got, code, "{path}");
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{path}: {body}"
        );
    }
    let r = d.http.delete(d.url("/v1/status")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);

    let metrics = d.text("/metrics").await;
    for name in [
        "ecs_autoscaler_rounds_total",
        "ecs_autoscaler_desired_tasks{policy=\"search\"}",
        "ecs_autoscaler_metric_age_seconds{policy=\"search\",rule=\"cpu\"}",
        "ecs_autoscaler_decisions_total{policy=\"search\",action=\"scale_out\"}",
        "ecs_autoscaler_backend_errors_total{call=\"update_service\"} 0",
        "ecs_autoscaler_state_save_failures_total 0",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}:\n{metrics}");
    }
    for line in metrics.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(metrics.contains(&format!("# HELP {name} ")), "{name} has no HELP text");
    }
    promtool::lint(&metrics);
    let page = d.text("/").await;
    assert!(page.contains("<h2>search") && page.contains("<svg") && page.contains("last decision"));
    // Values carry their unit: the CPU target (50 in this policy) reads "50.0 %".
    assert!(page.contains("<td>50.0 %</td>"), "no unit on the CPU target:\n{page}");
    d.stop().await;
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// 300 clients that open a connection, send half a request head and stall: /healthz
/// keeps answering at once, decisions keep their schedule, and stopping waits for none
/// of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_slow_clients_starves_neither_the_api_nor_the_loop() {
    use tokio::io::AsyncWriteExt;
    let setup = Setup::new(None);
    setup.write_policy("search", &cpu_policy(4, "30s"));
    let d = setup.start(None).await;
    eventually("first decisions", || async { d.journal_len("search") > 2 }).await;
    let decided = || -> u64 { d.shared.registry().policies()["search"].decisions().values().sum() };
    let (before, rss_before, started) = (decided(), rss_kb(), std::time::Instant::now());
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut c = tokio::net::TcpStream::connect(d.addr).await.unwrap();
        c.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        slow.push(c);
    }
    for _ in 0..5 {
        let asked = std::time::Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(2), d.http.get(d.url("/healthz")).send())
            .await
            .expect("/healthz answers during the flood")
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(asked.elapsed() < Duration::from_secs(1), "{:?}", asked.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (after, elapsed) = (decided(), started.elapsed());
    // A 10 s interval at 200x is one decision every 50 ms of real time.
    let expected = elapsed.as_secs_f64() / 0.05;
    eprintln!(
        "flood of {} slow clients: {} decisions in {:.1}s (schedule: {expected:.0}), RSS {} -> {} KiB",
        slow.len(),
        after - before,
        elapsed.as_secs_f64(),
        rss_before,
        rss_kb()
    );
    assert!(
        (after - before) as f64 >= 0.6 * expected,
        "{} decisions where the schedule has {expected:.0}",
        after - before
    );
    let stopping = std::time::Instant::now();
    d.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "the stop waited {:?} for stalled clients",
        stopping.elapsed()
    );
    drop(slow);
}

/// Every series the Grafana dashboard queries is one the daemon or the search service
/// exports under that name: a metric renamed in the code and not on the dashboard would
/// leave a panel empty with no error anywhere.
#[test]
fn the_grafana_dashboard_queries_only_metrics_the_processes_export() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dashboard = std::fs::read_to_string(root.join("deploy/grafana/ecs-autoscaler.json")).unwrap();
    let mut source = String::new();
    let mut dirs = vec![root.join("src"), root.join("service/src"), root.join("telemetry/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                source += &std::fs::read_to_string(&path).unwrap();
            }
        }
    }
    let json: Value = serde_json::from_str(&dashboard).unwrap();
    let variables: Vec<&str> = json["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    let mut queried: Vec<String> = Vec::new();
    // Words of the queries, but for the dashboard's own variables (`$search_job`).
    for token in dashboard.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')) {
        if (token.starts_with("ecs_autoscaler_") || token.starts_with("search_")) && !variables.contains(&token) {
            let name = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| token.strip_suffix(s))
                .unwrap_or(token)
                .to_string();
            if !queried.contains(&name) {
                queried.push(name);
            }
        }
    }
    assert!(
        queried.len() >= 20,
        "the dashboard's queries were not found: {queried:?}"
    );
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| !source.contains(&format!("\"{name}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics nothing exports: {missing:?}"
    );
}

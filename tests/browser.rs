//! The status page and the HTML reports in a real browser (headless Chromium): each renders
//! as HTML with nothing logged to the console, every policy has its card with a chart per
//! rule and the task chart, values and axes carry their units, and a screenshot of each is
//! kept in `target/tmp/browser/` for a person to look at.

mod chromium;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The daemon as shipped, on the sim backend with the shipped policies, killed by PID.
struct Daemon {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// The end of the daemon's log, for a failure to show what it was doing.
    fn log_tail(&mut self) -> String {
        let exited = self.child.try_wait().ok().flatten();
        let log = std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("daemon exited: {exited:?}\n{}", tail.join("\n"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_daemon() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"))
        .arg("run")
        .current_dir(dir.path())
        .env("ECS_AUTOSCALER_BACKEND", "sim")
        .env(
            "ECS_AUTOSCALER_POLICIES_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/policies"),
        )
        .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ECS_AUTOSCALER_SIM__SPEED", "30")
        .env("ECS_AUTOSCALER_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    Daemon {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir,
    }
}

fn status(url: &str) -> Option<Value> {
    serde_json::from_str(&http_get(&format!("{url}/v1/status"))?).ok()
}

/// A GET with the standard library only: the page and its status are small.
fn http_get(url: &str) -> Option<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

#[test]
fn the_status_page_renders_every_policy_with_charts_and_units() {
    let mut daemon = start_daemon();
    // Until every shipped policy has decided at least once (the sim runs 30x).
    let deadline = Instant::now() + Duration::from_secs(60);
    let policies = loop {
        let last = status(&daemon.url);
        if let Some(s) = &last
            && let Some(p) = s["policies"].as_array()
            && !p.is_empty()
            && p.iter().all(|p| !p["last_decision"].is_null())
        {
            break p.clone();
        }
        let exited = daemon.child.try_wait().ok().flatten().is_some();
        if exited || Instant::now() >= deadline {
            let undecided: Vec<String> = last
                .as_ref()
                .and_then(|s| s["policies"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter(|p| p["last_decision"].is_null())
                .map(|p| format!("{} ({})", p["name"], p["last_error"]))
                .collect();
            panic!(
                "no decision from every policy {}; status {}; undecided: {undecided:?}\n{}",
                if exited {
                    "before the daemon exited"
                } else {
                    "within 60 s"
                },
                if last.is_some() { "answered" } else { "did not answer" },
                daemon.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let url = format!("{}/", daemon.url);
    let page = chromium::render(&url);
    chromium::assert_clean("status page", &page);
    let dom = &page.dom;
    assert_eq!(
        chromium::count(dom, "class=\"policy\""),
        policies.len(),
        "one card per policy:\n{dom}"
    );
    let rules: usize = policies.iter().map(|p| p["rules"].as_array().unwrap().len()).sum();
    let predicting = policies.iter().filter(|p| !p["forecast"].is_null()).count();
    assert!(predicting >= 1, "the shipped latency-slo policy predicts");
    assert_eq!(
        chromium::count(dom, "<svg"),
        policies.len() + rules + predicting,
        "a task chart per policy, a chart per rule and a forecast chart per predicting policy"
    );
    assert!(dom.contains("load (line), forecast (band)"), "{dom}");
    for p in &policies {
        assert!(dom.contains(p["name"].as_str().unwrap()), "card of {}", p["name"]);
    }
    // Units: on the values in the tables and on the charts' axes.
    for unit in [" ms</td>", " %</td>"] {
        assert!(dom.contains(unit), "unit {unit:?} missing from the tables");
    }
    let texts = chromium::svg_texts(dom);
    for unit in ["ms", "%", "tasks", "minutes ago"] {
        assert!(texts.iter().any(|t| t == unit), "axis unit {unit:?} missing: {texts:?}");
    }
    assert!(!dom.contains("NoObjection"), "votes are shown as the API names them");
    chromium::screenshot(&url, &chromium::output_dir().join("status-page.png"), 2000);
}

#[test]
fn the_simulation_report_renders_with_every_panel() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"))
        .args(["simulate", "--compare", "aws-target-tracking", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let url = format!("file://{}", out.path().join("chart.html").display());
    let page = chromium::render(&url);
    chromium::assert_clean("simulation report", &page);
    let dom = &page.dom;
    let texts = chromium::svg_texts(dom);
    for text in [
        "offered load",
        "requests/s",
        "tasks: desired (band) and in service (line)",
        "tasks",
        "latency-slo desired",
        "aws-target-tracking in service",
        "failed requests",
        "failed/s",
        "%",
        "p99 latency (log scale)",
        "ms",
        "SLO 150 ms",
        "minutes",
        "load 30 → 120 users",
    ] {
        assert!(
            texts.iter().any(|t| t == text),
            "{text:?} missing from the report: {texts:?}"
        );
    }
    assert_eq!(chromium::count(dom, "<svg"), 1, "one chart");
    chromium::screenshot(&url, &chromium::output_dir().join("simulation-report.png"), 1400);
}

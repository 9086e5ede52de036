//! The local backend end to end: the demo scales real replicas under load, scales in under
//! load without failing a request, and leaves no process behind, even when the daemon is
//! killed outright.

mod chromium;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn alive(pid: u32) -> bool {
    // A zombie waiting for its new parent to reap it is not running any more.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(") ").next().is_some_and(|rest| !rest.starts_with('Z')))
        .unwrap_or(false)
}

fn children_of(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit(") ")
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            pids.push(pid);
        }
    }
    pids
}

/// The demo's story on a short plan: bursts of load that keep CPU under its target but
/// queue on one replica beyond the SLO. The latency rule scales out, p99 comes back under
/// the SLO, the load drops and the pool scales in without failing a request; no replica
/// outlives the demo, and the report renders in a real browser.
#[test]
fn the_demo_scales_out_on_latency_before_cpu_and_leaves_nothing_behind() {
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let result = Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"))
        .args([
            "demo",
            "--json",
            // 5 ms of CPU a search: the debug-built replicas' own overhead stays small
            // beside it, so the story is the release demo's at a fifth of its rate.
            "--search-cost",
            "5ms",
            "--plan",
            "20 for 25s, 80 for 30s, 20 for 30s",
            "--out",
        ])
        .arg(out.path())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(result.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(140),
        "took {:?}",
        started.elapsed()
    );
    let report: Value = serde_json::from_slice(&result.stdout).unwrap();
    let s = &report["summary"];
    let slo = s["targets"]["latency_rule"][2].as_f64().unwrap();
    let cpu_target = s["targets"]["cpu_rule"][1].as_f64().unwrap();
    assert!(s["scale_outs"].as_u64().unwrap() >= 1, "scale-out under load: {s}");
    // The scale-out comes while the high load lasts (30 s), whatever else the machine does.
    assert!(s["first_scale_out_after_step_s"].as_f64().unwrap() < 30.0, "{s}");
    assert!(
        s["scale_out_driver"].as_str().unwrap().contains("p99"),
        "the latency rule scaled out: {s}"
    );
    assert!(
        s["policy_cpu_at_scale_out"].as_f64().unwrap() < cpu_target,
        "CPU was still under its target when p99 broke: {s}"
    );
    let p99 = &s["client_p99"];
    let (before, during, after) = (
        p99["before_ms"].as_f64().unwrap(),
        p99["during_ms"].as_f64().unwrap(),
        p99["after_ms"].as_f64().unwrap(),
    );
    assert!(before < slo && during > slo, "the step breaks the SLO: {p99}");
    assert!(after < during / 2.0, "the scale-out brings p99 down: {p99}");
    assert!(
        s["scale_ins"].as_u64().unwrap() >= 1,
        "scale-in once the load drops: {s}"
    );
    assert_eq!(
        s["failed_during_scale_in"], 0,
        "a scale-in under load fails no request: {s}"
    );
    assert_eq!(
        s["failed_requests"].as_u64().unwrap(),
        s["failed_during_kill"].as_u64().unwrap()
            + s["failed_during_scale_in"].as_u64().unwrap()
            + s["failed_otherwise"].as_u64().unwrap(),
        "every failure counted once: {s}"
    );
    assert!(s["requests"].as_u64().unwrap() > 3_000, "{s}");
    let pids: Vec<u32> = s["replica_pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u32)
        .collect();
    assert!(pids.len() >= 2, "{pids:?}");
    for pid in pids {
        assert!(!alive(pid), "replica {pid} outlived the demo");
    }
    assert!(out.path().join("summary.json").exists());

    let url = format!("file://{}", out.path().join("report.html").display());
    let page = chromium::render(&url);
    chromium::assert_clean("demo report", &page);
    let texts = chromium::svg_texts(&page.dom);
    for text in [
        "answered requests/s",
        "replicas: desired (band) and ready (line)",
        "replicas",
        "client p99",
        "policy p99",
        "ms",
        "SLO 50 ms",
        "%",
        "target 60 %",
        "failed/s",
        "load step",
        "1 → 2",
        "seconds",
    ] {
        assert!(
            texts.iter().any(|t| t == text),
            "{text:?} missing from the demo report: {texts:?}"
        );
    }
    assert!(
        page.dom.contains("rule that scaled out"),
        "the final table heads the report"
    );
    chromium::screenshot(&url, &chromium::output_dir().join("demo-report.png"), 1500);
}

#[test]
fn replicas_die_with_a_killed_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("local.toml"),
        include_str!("../policies/local-latency-cpu.toml"),
    )
    .unwrap();
    let service_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"))
        .arg("run")
        .env("ECS_AUTOSCALER_BACKEND", "local")
        .env("ECS_AUTOSCALER_POLICIES_DIR", &policies)
        .env("ECS_AUTOSCALER_STATE_FILE", dir.path().join("state.json"))
        .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{api_port}"))
        .env("ECS_AUTOSCALER_LOCAL__PORT", service_port.to_string())
        .env("ECS_AUTOSCALER_LOCAL__CATALOG_SIZE", "5000")
        .env("ECS_AUTOSCALER_LOCAL__INITIAL_REPLICAS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let replicas = loop {
        let kids = children_of(daemon.id());
        if kids.len() >= 2 {
            break kids;
        }
        assert!(Instant::now() < deadline, "no replicas started");
        std::thread::sleep(Duration::from_millis(100));
    };
    daemon.kill().unwrap(); // SIGKILL: no chance to clean up
    daemon.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while replicas.iter().any(|&p| alive(p)) {
        assert!(Instant::now() < deadline, "replicas {replicas:?} outlived the daemon");
        std::thread::sleep(Duration::from_millis(50));
    }
}

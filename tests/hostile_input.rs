//! Hostile and mistaken input to the binary: oversized policy files, limits, conflicting
//! policies, exit codes, a closed pipe, readiness without policies, the Bearer scheme.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ecs-autoscaler"))
}

fn policy(service: &str, extra: &str, rules: &str) -> String {
    format!(
        "min = 1\nmax = 10\n{extra}\n[target]\nbackend = \"aws\"\ncluster = \"search\"\nservice = \"{service}\"\n{rules}"
    )
}

const CPU: &str = "[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";

fn validate(dir: &Path, files: &[(&str, String)]) -> (i32, String) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let out = bin().arg("validate").arg(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_file_of_twenty_thousand_rules_is_refused_quickly_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let rules: String = (0..20_000)
        .map(|i| format!("[[rule]]\nname = \"r{i}\"\nmetric = \"ecs_cpu\"\ntarget = 70\n"))
        .collect();
    let started = Instant::now();
    let (code, err) = validate(dir.path(), &[("huge.toml", policy("s", "", &rules))]);
    let took = started.elapsed();
    eprintln!("20,000-rule file ({} bytes) refused in {took:?}", rules.len());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("huge.toml:1:1:") && err.contains("at most 65536"), "{err}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Just over the rule cap, within the size cap: located at the first rule too many.
    let rules: String = (0..21)
        .map(|i| format!("[[rule]]\nname = \"r{i}\"\nmetric = \"ecs_cpu\"\ntarget = 70\n"))
        .collect();
    let (code, err) = validate(dir.path(), &[("huge.toml", policy("s", "", &rules))]);
    assert_eq!(code, 1);
    assert!(err.contains("at most 20 rules") && err.contains("huge.toml:"), "{err}");
}

#[test]
fn schedules_and_steps_that_cannot_hold_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let over_max = policy(
        "a",
        "[[schedule]]\nname = \"peak\"\ncron = \"0 8 * * *\"\nduration = \"1h\"\nmin = 40\n",
        CPU,
    );
    let (code, err) = validate(dir.path(), &[("a.toml", over_max)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("schedule \"peak\" min (40) is greater than the policy's max (10)"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("a.toml")).unwrap();
    let step = policy("a", "[scale_in]\nmax_step = \"150%\"\n", CPU);
    let (code, err) = validate(dir.path(), &[("a.toml", step)]);
    assert_eq!(code, 1);
    assert!(err.contains("removes more than every task"), "{err}");
}

#[test]
fn validate_refuses_a_second_policy_on_one_service_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = validate(
        dir.path(),
        &[
            ("a.toml", policy("search-service", "", CPU)),
            ("b.toml", policy("search-service", "", CPU)),
            ("c.toml", policy("other", "", CPU)),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("b.toml:1:1:") && err.contains("a.toml"), "{err}");
    assert!(err.contains("1 file(s) rejected, 2 ok"), "{err}");
}

#[test]
fn the_shipped_policies_directory_validates_as_a_set() {
    let out = bin().args(["validate", "policies"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_path_that_does_not_exist_is_a_usage_error() {
    let out = bin().args(["validate", "no-such-policy.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-policy.toml:1:1: no such file"));
}

#[test]
fn run_once_with_nothing_to_evaluate_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("bad.toml"), "min = \n").unwrap();
    let out = bin()
        .args(["run", "--once"])
        .env("ECS_AUTOSCALER_POLICIES_DIR", &policies)
        .env("ECS_AUTOSCALER_STATE_FILE", dir.path().join("state.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.toml:1:") && err.contains("nothing evaluated"),
        "{err}"
    );

    let out = bin()
        .args(["run", "--once"])
        .env("ECS_AUTOSCALER_POLICIES_DIR", dir.path().join("missing"))
        .env("ECS_AUTOSCALER_STATE_FILE", dir.path().join("state.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let mut child = bin()
        .args(["simulate", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then close the pipe, as `| head -c1` does.
    {
        use std::io::Read;
        let mut stdout = child.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        stdout.read_exact(&mut byte).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// The status API of a running daemon: not ready without a policy in force, and the
/// Bearer scheme read in any case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_needs_a_policy_and_the_bearer_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = bin()
        .arg("run")
        .env("ECS_AUTOSCALER_POLICIES_DIR", &policies)
        .env("ECS_AUTOSCALER_STATE_FILE", dir.path().join("state.json"))
        .env("ECS_AUTOSCALER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ECS_AUTOSCALER_API_TOKEN", "a-token-of-sixteen-chars")
        .env("ECS_AUTOSCALER_RESCAN_INTERVAL", "1s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _ = &mut child;
    let _guard = Kill(child);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        if let Ok(r) = http.get(url("/readyz")).send().await {
            break r.status().as_u16();
        }
        assert!(Instant::now() < deadline, "the API never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ready, 503, "no policy in force: not ready");

    std::fs::write(
        policies.join("s.toml"),
        "min = 1\nmax = 3\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(url("/readyz")).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "a loaded policy makes it ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = http
            .post(url("/v1/reload"))
            .header("authorization", format!("{scheme} a-token-of-sixteen-chars"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "scheme {scheme}");
    }
    let r = http
        .post(url("/v1/reload"))
        .header("authorization", "Basic a-token-of-sixteen-chars")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn durations_are_bounded_so_no_arithmetic_can_overflow() {
    // What the bound is for: the longest duration a policy may hold, in every window at
    // once, goes through the core's arithmetic (windows reach back, cooldowns forward)
    // for forty days of hourly decisions, acted on, without overflowing. A bound raised
    // past what the clock's range allows fails here, not in production.
    use autoscaler_core::decide::{Capacity, Controller, Observation, Outcome, Reading, Sample};
    let longest = autoscaler_core::policy::duration::format(autoscaler_core::policy::checker::MAX_DURATION);
    let text = format!(
        "min = 1\nmax = 10\ninterval = \"1h\"\n[scale_out]\ncooldown = \"{l}\"\n\
         [scale_in]\ncooldown = \"{l}\"\nstabilization = \"{l}\"\npatience = \"{l}\"\n\
         [missing_data]\naction = \"fallback\"\nfallback_count = 2\nafter = \"{l}\"\n\
         [target]\nbackend = \"sim\"\nservice = \"s\"\n\
         [[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\nmax_age = \"1h\"\n\
         [[schedule]]\nname = \"w\"\ncron = \"0 0 * * *\"\nduration = \"{l}\"\nmin = 2\n",
        l = longest
    );
    let p =
        autoscaler_core::policy::parse(Path::new("longest.toml"), &text).expect("the limits themselves are accepted");
    let mut c = Controller::new(p);
    let t0 = chrono::Utc::now();
    let mut desired = 1;
    for hour in 0..24 * 40 {
        let now = t0 + chrono::Duration::hours(hour);
        let cpu = if (hour / 24) % 2 == 0 { 140.0 } else { 10.0 };
        let obs = Observation {
            capacity: Capacity {
                desired,
                running: desired,
                pending: 0,
                deployment_in_progress: false,
                revision: 0,
            },
            metrics: [(
                "cpu".to_string(),
                Sample::Value(Reading {
                    value: cpu,
                    at: now - chrono::Duration::minutes(1),
                    base: None,
                }),
            )]
            .into(),
            withheld: None,
        };
        let d = c.evaluate(&obs, now);
        assert!((d.bounds.min..=d.bounds.max).contains(&d.desired), "{}", d.explain());
        if d.should_apply() {
            c.settle(&d, Outcome::Applied, now);
            desired = d.desired;
        }
    }

    let dir = tempfile::tempdir().unwrap();
    for (extra, message) in [
        ("interval = \"300000y\"", "at most 7 days"),
        ("interval = \"2h\"", "interval must be at most 1h"),
        ("[scale_in]\nstabilization = \"100y\"", "at most 7 days"),
        ("[scale_out]\ncooldown = \"8d\"", "at most 7 days"),
    ] {
        let (code, err) = validate(dir.path(), &[("a.toml", policy("a", extra, CPU))]);
        assert_eq!(code, 1, "{extra}: {err}");
        assert!(err.contains(message), "{extra}: {err}");
    }
    let rule = "[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\nmax_age = \"30d\"\n";
    let (code, err) = validate(dir.path(), &[("a.toml", policy("a", "", rule))]);
    assert_eq!(code, 1);
    assert!(
        err.contains("max_age must be at most 1h") || err.contains("at most 7 days"),
        "{err}"
    );
}

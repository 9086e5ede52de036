//! `status`: what the status page shows, as text, for a shell inside the VPC where only
//! the daemon's port is reachable. It reads `GET /v1/status`; nothing is re-derived.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

pub fn run(url: &str, timeout: Duration) -> anyhow::Result<ExitCode> {
    let endpoint = format!("{}/v1/status", url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let body = runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        let response = client.get(&endpoint).send().await?.error_for_status()?;
        response.text().await
    });
    let body = body.with_context(|| format!("GET {endpoint}"))?;
    let status: Value = serde_json::from_str(&body).with_context(|| format!("{endpoint} did not answer JSON"))?;
    print!("{}", render(&status));
    Ok(ExitCode::SUCCESS)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |x| {
        if x.abs() >= 100.0 || x.fract() == 0.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.3}")
        }
    })
}

/// The status as lines: the daemon, then per policy its counts, last decision, when each
/// direction may act, its rules and its forecast.
pub fn render(s: &Value) -> String {
    let mut out = String::new();
    let role = match s["leadership"]["role"]
        .as_object()
        .and_then(|o| o.keys().next().cloned())
    {
        Some(r) => format!(" · {r}"),
        None => s["leadership"]["role"]
            .as_str()
            .map_or(String::new(), |r| format!(" · {r}")),
    };
    let _ = writeln!(
        out,
        "backend {}{role} · state {} · {}",
        text(&s["backend"]),
        text(&s["state"]),
        text(&s["now"])
    );
    if !s["policy_source_error"].is_null() {
        let _ = writeln!(
            out,
            "policies cannot be re-read: {}; the ones in force stay",
            text(&s["policy_source_error"])
        );
    }
    for f in s["rejected_files"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "rejected {}: {}", text(&f["file"]), text(&f["error"]));
    }
    for p in s["policies"].as_array().into_iter().flatten() {
        let flags = [("paused", " (paused)"), ("dry_run", " (dry run)")]
            .iter()
            .filter(|(k, _)| p[*k].as_bool() == Some(true))
            .map(|(_, t)| *t)
            .collect::<String>();
        let c = &p["capacity"];
        let counts = if c.is_null() {
            "no data yet".to_string()
        } else {
            format!(
                "desired {} · running {} · pending {}",
                text(&c["desired"]),
                text(&c["running"]),
                text(&c["pending"])
            )
        };
        let _ = writeln!(
            out,
            "\n{}{flags} · {} · bounds {}..{} · {counts}",
            text(&p["name"]),
            text(&p["file"]),
            text(&p["min"]),
            text(&p["max"])
        );
        let last = &p["last_decision"];
        if !last.is_null() {
            let applied = if last["applied"].as_bool() == Some(true) {
                " (applied)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  last decision {}{applied}: {}",
                text(&last["decision"]["at"]),
                text(&last["explanation"])
            );
        }
        let gate = |g: &Value| {
            if g.is_null() {
                "allowed now".to_string()
            } else {
                text(&g["reason"])
            }
        };
        let _ = writeln!(
            out,
            "  next scale-out: {} · next scale-in: {}",
            gate(&p["gates"]["scale_out"]),
            gate(&p["gates"]["scale_in"])
        );
        for e in [&p["load_error"], &p["last_error"]] {
            if !e.is_null() {
                let _ = writeln!(out, "  error: {}", text(e));
            }
        }
        let aws = &p["aws_scaling"];
        if !aws.is_null() {
            let since = aws["suspended_since"]
                .as_str()
                .map_or(String::new(), |t| format!(" since {t}"));
            let _ = writeln!(out, "  AWS Application Auto Scaling: {}{since}", text(&aws["state"]));
            for e in [&aws["withheld"], &aws["error"]] {
                if !e.is_null() {
                    let _ = writeln!(out, "  aws: {}", text(e));
                }
            }
        }
        let _ = writeln!(
            out,
            "  {:<16} {:>12} {:>12} {:>6}  vote",
            "rule", "value", "target", "age"
        );
        for r in p["rules"].as_array().into_iter().flatten() {
            let age = r["age_seconds"].as_f64().map_or("-".into(), |a| format!("{a:.0}s"));
            let _ = writeln!(
                out,
                "  {:<16} {:>12} {:>12} {:>6}  {}",
                text(&r["name"]),
                number(&r["value"]),
                number(&r["target"]),
                age,
                text(&r["vote"])
            );
        }
        let f = &p["forecast"];
        if !f.is_null() {
            let ahead = f["curve"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["actual"].is_null())
                .filter_map(|c| c["forecast"].as_f64())
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
            let _ = writeln!(
                out,
                "  forecast of {}: {} · peak sized by {} · next hour's highest {}",
                text(&f["rule"]),
                text(&f["status"]),
                number(&f["peak"]),
                ahead.map_or("-".into(), |x| format!("{x:.0}"))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_a_policy_is_shown() {
        let s = serde_json::json!({
            "backend": "sim", "state": "restored", "now": "2026-01-05T10:00:00Z",
            "leadership": {"role": {"leader": {"epoch": 3}}},
            "policy_source_error": "ListObjectsV2 timed out",
            "rejected_files": [{"file": "bad.toml", "error": "bad.toml:3:1: unknown field"}],
            "policies": [{
                "name": "web", "file": "policies/web.toml", "min": 2, "max": 10, "paused": true, "dry_run": false,
                "capacity": {"desired": 4, "running": 3, "pending": 1},
                "last_decision": {"decision": {"at": "2026-01-05T09:59:50Z"}, "explanation": "hold at 4; cpu: 50 vs target 70", "applied": false},
                "gates": {"scale_out": null, "scale_in": {"reason": "cooldown until 10:01:00"}},
                "last_error": "DescribeServices failed",
                "rules": [{"name": "cpu", "value": 50.25, "target": 70.0, "age_seconds": 12.0, "vote": "hold"}],
                "forecast": {"rule": "demand", "status": "applied", "peak": 5000.0,
                             "curve": [{"actual": 900.0, "forecast": 1000.0}, {"actual": null, "forecast": 6100.0}]}
            }]
        });
        let out = render(&s);
        for want in [
            "backend sim · leader · state restored",
            "policies cannot be re-read: ListObjectsV2 timed out",
            "rejected bad.toml: bad.toml:3:1: unknown field",
            "web (paused) · policies/web.toml · bounds 2..10 · desired 4 · running 3 · pending 1",
            "last decision 2026-01-05T09:59:50Z: hold at 4; cpu: 50 vs target 70",
            "next scale-out: allowed now · next scale-in: cooldown until 10:01:00",
            "error: DescribeServices failed",
            "50.250",
            "forecast of demand: applied · peak sized by 5000 · next hour's highest 6100",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
    }
}

//! The status page: for each policy, what it is doing and why, with small charts of the
//! task count and of each metric against its target over the last hour.

use autoscaler_charts::{Spark, escape, sparkline};

use super::status::Status;
use crate::daemon::leadership::Role;

/// The page of a status snapshot.
pub fn render(status: &Status) -> String {
    let now = status.now;
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">\
         <title>ecs-autoscaler</title><style>body{font-family:sans-serif;margin:20px;max-width:1400px}\
         .policy{border:1px solid #ccc;border-radius:6px;padding:12px;margin-bottom:16px}\
         .err{color:#b00;white-space:pre-wrap}.note{color:#666}.charts{display:flex;flex-wrap:wrap;gap:8px}\
         table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}</style></head><body>",
    );
    let role = match &status.leadership.role {
        Role::Single => String::new(),
        Role::Leader { epoch } => format!(" · <b>leader</b> (epoch {epoch})"),
        Role::Follower { leader, reason } => format!(
            " · <b>follower</b>: {}{}",
            leader
                .as_deref()
                .map_or("no leader now".to_string(), |l| format!("{} leads", escape(l))),
            reason.as_deref().map_or(String::new(), |r| format!(" ({})", escape(r)))
        ),
    };
    html.push_str(&format!(
        "<h1>ecs-autoscaler</h1><p>backend <b>{}</b>{role} · state {} · {}</p>",
        escape(&status.backend),
        escape(&status.state),
        now.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    if let Some(e) = &status.policy_source_error {
        html.push_str(&format!(
            "<p class=\"err\">policies cannot be re-read: {}; the ones in force stay</p>",
            escape(e)
        ));
    }
    for f in &status.rejected_files {
        html.push_str(&format!(
            "<p class=\"err\">rejected {}: {}</p>",
            escape(&f.file),
            escape(&f.error)
        ));
    }
    for f in &status.skipped_files {
        html.push_str(&format!(
            "<p class=\"note\">skipped {}: {}</p>",
            escape(&f.file),
            escape(&f.error)
        ));
    }
    for p in &status.policies {
        html.push_str("<div class=\"policy\">");
        // The counts as read before the last decision; when that decision changed the
        // desired count, the header shows what it set, not the count it replaced.
        let c = match (p.capacity, &p.last_decision) {
            (None, _) => "no data yet".to_string(),
            (Some(c), Some(d)) if d.applied && d.decision.desired != c.desired => format!(
                "desired {} (set {}, was {}) · running {} · pending {}",
                d.decision.desired,
                d.decision.at.format("%H:%M:%S"),
                c.desired,
                c.running,
                c.pending
            ),
            (Some(c), _) => format!("desired {} · running {} · pending {}", c.desired, c.running, c.pending),
        };
        html.push_str(&format!(
            "<h2>{}{}{}</h2><p>{} · bounds {}..{} · {}</p>",
            escape(&p.name),
            if p.paused { " (paused)" } else { "" },
            if p.dry_run { " (dry run)" } else { "" },
            escape(&p.target.describe()),
            p.min,
            p.max,
            c
        ));
        if let Some(d) = &p.last_decision {
            html.push_str(&format!("<p><b>last decision:</b> {}</p>", escape(&d.explanation)));
        }
        let gate = |g: &Option<autoscaler_core::decide::Block>| match g {
            None => "allowed now".to_string(),
            Some(b) => escape(&b.reason),
        };
        html.push_str(&format!(
            "<p><b>next scale-out:</b> {} · <b>next scale-in:</b> {}</p>",
            gate(&p.gates.scale_out),
            gate(&p.gates.scale_in)
        ));
        for e in [&p.load_error, &p.last_error].into_iter().flatten() {
            html.push_str(&format!("<p class=\"err\">{}</p>", escape(e)));
        }
        if let Some(a) = &p.aws_scaling {
            html.push_str(&format!(
                "<p><b>AWS Application Auto Scaling:</b> {}{}</p>",
                escape(a.state),
                a.suspended_since
                    .map_or(String::new(), |t| format!(" since {}", t.format("%Y-%m-%d %H:%M:%SZ")))
            ));
            for e in [&a.withheld, &a.error].into_iter().flatten() {
                html.push_str(&format!("<p class=\"err\">{}</p>", escape(e)));
            }
        }
        html.push_str("<table><tr><th>rule</th><th>value</th><th>target</th><th>age</th><th>vote</th></tr>");
        for r in &p.rules {
            let m = r.measure;
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.name),
                r.value.map_or("-".into(), |v| m.show(v)),
                m.show(r.target),
                r.age_seconds.map_or("-".into(), |a| format!("{a:.0}s")),
                r.vote
                    .and_then(|v| serde_json::to_value(v).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "-".into())
            ));
        }
        html.push_str("</table><div class=\"charts\">");
        charts(&mut html, p, now);
        html.push_str("</div></div>");
    }
    html.push_str("</body></html>");
    html
}

/// The task counts and each rule against its target over the last hour, and the load
/// against its forecast.
fn charts(html: &mut String, p: &super::status::PolicyStatus, now: chrono::DateTime<chrono::Utc>) {
    let ago = |t: chrono::DateTime<chrono::Utc>| (t - now).num_seconds() as f64 / 60.0;
    let desired: Vec<(f64, f64)> = p.series.iter().map(|pt| (ago(pt.at), f64::from(pt.desired))).collect();
    let running: Vec<(f64, f64)> = p.series.iter().map(|pt| (ago(pt.at), f64::from(pt.running))).collect();
    html.push_str(&sparkline(&Spark {
        title: "tasks: desired (band), running (line)".into(),
        unit: "tasks",
        points: &running,
        band: Some(&desired),
        target: None,
        count: true,
        ahead: 0.0,
    }));
    if let Some(f) = &p.forecast {
        let actual: Vec<(f64, f64)> = f.curve.iter().filter_map(|c| Some((ago(c.at), c.actual?))).collect();
        let forecast: Vec<(f64, f64)> = f.curve.iter().filter_map(|c| Some((ago(c.at), c.forecast?))).collect();
        html.push_str(&sparkline(&Spark {
            title: format!("{}: load (line), forecast (band), {}", f.rule, f.status),
            unit: "load",
            points: &actual,
            band: Some(&forecast),
            target: f.peak,
            count: false,
            ahead: super::status::FORECAST_AHEAD as f64,
        }));
    }
    for (i, rule) in p.rules.iter().enumerate() {
        let (unit, factor) = rule.measure.unit();
        // As the status says: the target the last decision applied.
        let values: Vec<(f64, f64)> = p
            .series
            .iter()
            .filter_map(|pt| pt.values.get(i).copied().flatten().map(|v| (ago(pt.at), v * factor)))
            .collect();
        html.push_str(&sparkline(&Spark {
            title: format!("{} ({unit}) vs {}", rule.name, rule.measure.show(rule.target)),
            unit,
            points: &values,
            band: None,
            target: Some(rule.target * factor),
            count: false,
            ahead: 0.0,
        }));
    }
}

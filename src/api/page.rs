//! The status page: for each policy, what it is doing and why, with small charts of the
//! task count and of each metric against its target over the last hour.

use plotters::prelude::*;

use crate::daemon::Shared;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small line chart; `target` draws a dashed reference line.
fn sparkline(title: &str, points: &[(f64, f64)], second: Option<&[(f64, f64)]>, target: Option<f64>) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (420, 130)).into_drawing_area();
        root.fill(&WHITE)?;
        let ymax = points
            .iter()
            .chain(second.unwrap_or_default())
            .map(|p| p.1)
            .chain(target)
            .fold(1.0, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 13))
            .margin(4)
            .x_label_area_size(18)
            .y_label_area_size(40)
            .build_cartesian_2d(-60f64..0f64, 0f64..ymax)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_labels(4)
            .y_labels(4)
            .x_desc("minutes ago")
            .draw()?;
        if let Some(t) = target {
            chart.draw_series(LineSeries::new(vec![(-60.0, t), (0.0, t)], BLACK.mix(0.4)))?;
        }
        if let Some(s) = second {
            chart.draw_series(LineSeries::new(s.iter().copied(), RGBColor(44, 160, 44)))?;
        }
        chart.draw_series(LineSeries::new(points.iter().copied(), RGBColor(31, 119, 180)))?;
        root.present()?;
        Ok(())
    })();
    if drawn.is_err() {
        return String::new();
    }
    svg
}

pub fn render(s: &Shared) -> String {
    let status = super::status(s);
    let now = s.clock.now();
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">\
         <title>ecs-autoscaler</title><style>body{font-family:sans-serif;margin:20px;max-width:1400px}\
         .policy{border:1px solid #ccc;border-radius:6px;padding:12px;margin-bottom:16px}\
         .err{color:#b00;white-space:pre-wrap}.charts{display:flex;flex-wrap:wrap;gap:8px}\
         table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}</style></head><body>",
    );
    use crate::daemon::leadership::Role;
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
    let reg = s.registry();
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
        let gate = |g: &Option<crate::decide::Block>| match g {
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
        html.push_str("<table><tr><th>rule</th><th>value</th><th>target</th><th>age</th><th>vote</th></tr>");
        let measure = |rule: &str| {
            reg.policies
                .get(&p.name)
                .and_then(|e| e.controller.policy.rules.iter().find(|r| r.name == rule))
                .map_or(crate::policy::Measure::Other, |r| r.measures)
        };
        for r in &p.rules {
            let m = measure(&r.name);
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
        if let Some(entry) = reg.policies.get(&p.name) {
            let ago = |t: chrono::DateTime<chrono::Utc>| (t - now).num_seconds() as f64 / 60.0;
            let desired: Vec<(f64, f64)> = entry
                .series
                .iter()
                .map(|pt| (ago(pt.at), f64::from(pt.desired)))
                .collect();
            let running: Vec<(f64, f64)> = entry
                .series
                .iter()
                .map(|pt| (ago(pt.at), f64::from(pt.running)))
                .collect();
            html.push_str(&sparkline(
                "tasks: desired (blue), running (green)",
                &desired,
                Some(&running),
                None,
            ));
            for (i, rule) in entry.controller.policy.rules.iter().enumerate() {
                let values: Vec<(f64, f64)> = entry
                    .series
                    .iter()
                    .filter_map(|pt| pt.values.get(i).copied().flatten().map(|v| (ago(pt.at), v)))
                    .collect();
                html.push_str(&sparkline(
                    &format!("{} vs target", rule.name),
                    &values,
                    None,
                    Some(rule.goal.target()),
                ));
            }
        }
        html.push_str("</div></div>");
    }
    html.push_str("</body></html>");
    html
}

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

/// A small chart of the last hour.
struct Spark<'a> {
    title: String,
    /// The y axis's unit.
    unit: &'a str,
    points: &'a [(f64, f64)],
    /// Drawn first, wide and faint, so that `points` equal to it stay visible on it.
    band: Option<&'a [(f64, f64)]>,
    /// A reference line (a target or an SLO), in the chart's unit.
    target: Option<f64>,
    /// Whole numbers: integer ticks.
    count: bool,
}

fn sparkline(spark: &Spark) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (420, 140)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = spark
            .points
            .iter()
            .chain(spark.band.unwrap_or_default())
            .map(|p| p.1)
            .chain(spark.target)
            .fold(0.0, f64::max);
        let ymax = if spark.count {
            (top.ceil() + 1.0).max(2.0)
        } else {
            (top * 1.15).max(1e-3)
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(&spark.title, ("sans-serif", 13))
            .margin(4)
            .x_label_area_size(18)
            .y_label_area_size(48)
            .build_cartesian_2d(-60f64..0f64, 0f64..ymax)?;
        let minutes = |v: &f64| format!("{v:.0}");
        let ticks = |v: &f64| {
            if spark.count || ymax >= 20.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        };
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_labels(4)
            .y_labels(if spark.count { (ymax as usize + 1).min(6) } else { 4 })
            .y_label_formatter(&ticks)
            .x_label_formatter(&minutes)
            .y_desc(spark.unit)
            .x_desc("minutes ago")
            .draw()?;
        if let Some(t) = spark.target {
            chart.draw_series(LineSeries::new(vec![(-60.0, t), (0.0, t)], BLACK.mix(0.5)))?;
        }
        if let Some(band) = spark.band {
            chart.draw_series(LineSeries::new(
                band.iter().copied(),
                RGBColor(31, 119, 180).mix(0.3).stroke_width(6),
            ))?;
        }
        chart.draw_series(LineSeries::new(
            spark.points.iter().copied(),
            RGBColor(31, 119, 180).stroke_width(2),
        ))?;
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
         .err{color:#b00;white-space:pre-wrap}.note{color:#666}.charts{display:flex;flex-wrap:wrap;gap:8px}\
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
    for f in &status.skipped_files {
        html.push_str(&format!(
            "<p class=\"note\">skipped {}: {}</p>",
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
            html.push_str(&sparkline(&Spark {
                title: "tasks: desired (band), running (line)".into(),
                unit: "tasks",
                points: &running,
                band: Some(&desired),
                target: None,
                count: true,
            }));
            for (i, rule) in entry.controller.policy.rules.iter().enumerate() {
                let (unit, factor) = rule.measures.unit();
                // As the status says: the target the last decision applied.
                let target = p.rules.get(i).map_or(rule.goal.target(), |r| r.target);
                let values: Vec<(f64, f64)> = entry
                    .series
                    .iter()
                    .filter_map(|pt| pt.values.get(i).copied().flatten().map(|v| (ago(pt.at), v * factor)))
                    .collect();
                html.push_str(&sparkline(&Spark {
                    title: format!("{} ({unit}) vs {}", rule.name, rule.measures.show(target)),
                    unit,
                    points: &values,
                    band: None,
                    target: Some(target * factor),
                    count: false,
                }));
            }
        }
        html.push_str("</div></div>");
    }
    html.push_str("</body></html>");
    html
}

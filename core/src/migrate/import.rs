//! The policy file closest to what Application Auto Scaling does for a service. What has
//! an exact equivalent is translated; what has not is said in a comment beside the nearest
//! setting, so an operator reviews a file, not a guess.

use std::fmt::Write;

use chrono::{DateTime, TimeZone, Utc};

use super::scaling::{
    Alarm, AwsMetric, AwsPolicy, AwsScaling, PolicyKind, Predictive, ScheduledAction, TargetTracking,
};
use crate::policy::cron;

/// AWS's default cooldown for ECS target tracking, both ways.
const AWS_DEFAULT_COOLDOWN: u32 = 300;

/// The policy file text for `cluster/service`, from AWS's configuration of it.
pub fn policy_text(cluster: &str, service: &str, region: Option<&str>, aws: &AwsScaling) -> String {
    let mut out = String::new();
    let mut notes: Vec<String> = Vec::new();
    let line = |out: &mut String, text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line(
        &mut out,
        &format!(
            "# Imported by `ecs-autoscaler import` from Application Auto Scaling's configuration of\n\
             # {}. Review the comments marked NOTE before applying it.\n#:schema ./policy.schema.json\n",
            aws.resource_id
        ),
    );
    let _ = writeln!(out, "name = {}", quote(service));
    let (min, max) = match aws.target {
        Some(t) => (t.min, t.max.max(1)),
        None => {
            notes.push("the service has no scalable target: min and max are placeholders".into());
            (1, 10)
        }
    };
    let _ = writeln!(out, "min = {min}\nmax = {max}\ninterval = \"15s\"");
    line(
        &mut out,
        "# While this policy is in force the daemon suspends AWS's scaling of the service\n\
         # (RegisterScalableTarget SuspendedState) so the two never fight; removing the policy,\n\
         # or setting takeover = false, gives it back as it was.\ntakeover = true\n",
    );
    let _ = writeln!(
        out,
        "[target]\nbackend = \"aws\"\ncluster = {}\nservice = {}",
        quote(cluster),
        quote(service)
    );
    if let Some(r) = region {
        let _ = writeln!(out, "region = {}", quote(r));
    }
    if let Some((lb, tg)) = aws.policies.iter().find_map(alb_label) {
        let _ = writeln!(out, "load_balancer = {}\ntarget_group = {}", quote(&lb), quote(&tg));
    }
    out.push('\n');

    let rules = rules_and_cooldowns(&mut out, aws, &mut notes);
    out.push_str("\n[missing_data]\naction = \"hold\"\n");

    schedules(&mut out, &aws.scheduled, &mut notes);
    if let Some((name, pr)) = aws.policies.iter().find_map(|p| match &p.kind {
        PolicyKind::Predictive(pr) => Some((p.name.as_str(), pr)),
        _ => None,
    }) {
        predict(&mut out, name, pr, &rules, &mut notes);
    }
    if !notes.is_empty() {
        out.push_str("\n# NOTE: what has no exact equivalent here:\n");
        for n in &notes {
            let _ = writeln!(out, "# - {n}");
        }
    }
    out
}

/// One rule per target-tracking or step policy, and the cooldowns and scale-in of all.
fn rules_and_cooldowns(out: &mut String, aws: &AwsScaling, notes: &mut Vec<String>) -> Vec<String> {
    let mut rules = Vec::new();
    let mut out_cooldowns = Vec::new();
    let mut in_cooldowns = Vec::new();
    let mut scale_in_disabled = Vec::new();
    for p in &aws.policies {
        match &p.kind {
            PolicyKind::TargetTracking(tt) => {
                rules.push(tracking_rule(p, tt, notes));
                out_cooldowns.push(tt.scale_out_cooldown.unwrap_or(AWS_DEFAULT_COOLDOWN));
                in_cooldowns.push(tt.scale_in_cooldown.unwrap_or(AWS_DEFAULT_COOLDOWN));
                scale_in_disabled.push(tt.disable_scale_in);
            }
            PolicyKind::Step(step) => {
                let rule = step.alarm.as_ref().and_then(|a| step_rule(p, a, notes));
                match rule {
                    Some(r) => rules.push(r),
                    None => notes.push(format!(
                        "step scaling policy \"{}\": its alarm could not be read, so it has no rule here",
                        p.name
                    )),
                }
                if let Some(c) = step.cooldown {
                    out_cooldowns.push(c);
                }
            }
            PolicyKind::Predictive(_) => {}
        }
    }
    if rules.is_empty() {
        notes.push("AWS has no target-tracking or step policy here: a CPU rule at 70 % stands in".into());
        rules.push("[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n".into());
    }
    for r in &rules {
        out.push_str(r);
        out.push('\n');
    }

    // AWS scales out when any policy asks and in only when all do, as the rules here.
    let out_cooldown = out_cooldowns.iter().copied().min().unwrap_or(AWS_DEFAULT_COOLDOWN);
    let in_cooldown = in_cooldowns.iter().copied().max().unwrap_or(AWS_DEFAULT_COOLDOWN);
    let _ = writeln!(out, "[scale_out]\ncooldown = \"{out_cooldown}s\"");
    if out_cooldowns.iter().any(|c| *c != out_cooldown) {
        let _ = writeln!(
            out,
            "# NOTE: AWS's policies had scale-out cooldowns of {out_cooldowns:?} s; one cooldown holds for every rule here (the shortest)."
        );
    }
    let _ = writeln!(out, "\n[scale_in]\ncooldown = \"{in_cooldown}s\"");
    let _ = writeln!(
        out,
        "# AWS target tracking scales in after 15 minutes below 90 % of target; this policy scales in\n\
         # to the highest count asked for in its stabilization window, which is shorter.\nstabilization = \"300s\""
    );
    if !scale_in_disabled.is_empty() && scale_in_disabled.iter().all(|d| *d) {
        let _ = writeln!(out, "enabled = false");
    } else if scale_in_disabled.iter().any(|d| *d) {
        let _ = writeln!(
            out,
            "# NOTE: some of AWS's policies had DisableScaleIn; here scale-in is one setting for all rules."
        );
    }
    rules
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The ALB and target group of a request-count policy: AWS's resource label is
/// `app/<lb>/<id>/targetgroup/<tg>/<id>`, CloudWatch's dimensions are its two halves.
fn alb_label(p: &AwsPolicy) -> Option<(String, String)> {
    let metric = match &p.kind {
        PolicyKind::TargetTracking(tt) => &tt.metric,
        _ => return None,
    };
    let AwsMetric::Predefined {
        resource_label: Some(label),
        ..
    } = metric
    else {
        return None;
    };
    let at = label.find("/targetgroup/")?;
    Some((label[..at].to_string(), label[at + 1..].to_string()))
}

fn rule_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() { "aws".into() } else { name }
}

fn tracking_rule(p: &AwsPolicy, tt: &TargetTracking, notes: &mut Vec<String>) -> String {
    let mut rule = format!(
        "# From target-tracking policy \"{}\".\n[[rule]]\nname = {}\n",
        p.name,
        quote(&rule_name(&p.name))
    );
    metric_fields(&mut rule, &tt.metric, &p.name, notes);
    let _ = writeln!(rule, "target = {}", number(tt.target));
    rule
}

/// A step policy becomes target tracking on its alarm's metric, at the alarm's threshold:
/// the count that keeps the metric at the threshold, not a fixed step.
fn step_rule(p: &AwsPolicy, alarm: &Alarm, notes: &mut Vec<String>) -> Option<String> {
    if !alarm.comparison.starts_with("GreaterThan") {
        notes.push(format!(
            "step scaling policy \"{}\" fires when {} is {} {}: a scale-in step; here scale-in \
             follows the other rules",
            p.name, alarm.name, alarm.comparison, alarm.threshold
        ));
        return None;
    }
    let mut rule = format!(
        "# From step scaling policy \"{}\" on alarm \"{}\" ({} {}).\n# NOTE: steps become target \
         tracking at the alarm's threshold: the count is sized to the metric, not stepped.\n[[rule]]\nname = {}\n",
        p.name,
        alarm.name,
        alarm.comparison,
        alarm.threshold,
        quote(&rule_name(&p.name))
    );
    metric_fields(&mut rule, &alarm.metric, &p.name, notes);
    let _ = writeln!(rule, "target = {}", number(alarm.threshold));
    Some(rule)
}

fn metric_fields(rule: &mut String, metric: &AwsMetric, policy: &str, notes: &mut Vec<String>) {
    match metric {
        AwsMetric::Predefined { name, .. } => {
            let kind = match name.as_str() {
                "ECSServiceAverageCPUUtilization" => "ecs_cpu",
                "ECSServiceAverageMemoryUtilization" => "ecs_memory",
                "ALBRequestCountPerTarget" => "alb_requests_per_target",
                other => {
                    notes.push(format!(
                        "policy \"{policy}\" tracks {other}, which has no rule kind here: CPU stands in"
                    ));
                    "ecs_cpu"
                }
            };
            let _ = writeln!(rule, "metric = \"{kind}\"");
        }
        // A step alarm on ECS's own utilization is the predefined metric by another name.
        AwsMetric::Custom { namespace, name, .. } if namespace == "AWS/ECS" && name == "CPUUtilization" => {
            let _ = writeln!(rule, "metric = \"ecs_cpu\"");
        }
        AwsMetric::Custom { namespace, name, .. } if namespace == "AWS/ECS" && name == "MemoryUtilization" => {
            let _ = writeln!(rule, "metric = \"ecs_memory\"");
        }
        AwsMetric::Custom {
            namespace,
            name,
            dimensions,
            statistic,
        } => {
            let _ = writeln!(
                rule,
                "metric = \"custom\"\nnamespace = {}\nmetric_name = {}",
                quote(namespace),
                quote(name)
            );
            if !dimensions.is_empty() {
                let dims: Vec<String> = dimensions
                    .iter()
                    .map(|(k, v)| format!("{} = {}", key(k), quote(v)))
                    .collect();
                let _ = writeln!(rule, "dimensions = {{ {} }}", dims.join(", "));
            }
            let stat = match statistic.as_str() {
                "Average" => "average".to_string(),
                "Sum" => "sum".into(),
                "Maximum" => "maximum".into(),
                "Minimum" => "minimum".into(),
                "SampleCount" => "sample_count".into(),
                other => other.to_ascii_lowercase(),
            };
            let _ = writeln!(rule, "statistic = {}", quote(&stat));
        }
    }
}

fn key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        quote(k)
    }
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// AWS's scheduled actions set min/max from when they fire until another fires; here a
/// schedule is a window with a length. Each action becomes a window that lasts until the
/// next action fires.
fn schedules(out: &mut String, actions: &[ScheduledAction], notes: &mut Vec<String>) {
    // A Monday at midnight: each action's first firing from here, and what fires next.
    let reference = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).single().unwrap_or_default();
    let crons: Vec<Option<croner::Cron>> = actions
        .iter()
        .map(|a| aws_cron(&a.schedule).and_then(|c| cron::parse(&c).ok()))
        .collect();
    for (i, a) in actions.iter().enumerate() {
        let Some(c) = &crons[i] else {
            notes.push(format!(
                "scheduled action \"{}\" ({}) is not a recurring cron: set it as a window by hand",
                a.name, a.schedule
            ));
            continue;
        };
        if a.timezone.as_deref().is_some_and(|tz| tz != "UTC" && tz != "Etc/UTC") {
            notes.push(format!(
                "scheduled action \"{}\" is in {}; windows here are in UTC: shift its hours",
                a.name,
                a.timezone.as_deref().unwrap_or_default()
            ));
        }
        // The window lasts until the next action fires; where that differs from one firing
        // to the next (a weekday evening until Monday morning), the shortest, so that no
        // window outlasts the action after it.
        let mut lengths = Vec::new();
        let mut fired = reference;
        while let Some(at) = next(c, fired).filter(|at| *at < reference + chrono::Duration::days(14)) {
            let until = crons
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, o)| o.as_ref().and_then(|o| next(o, at)))
                .chain(next(c, at))
                .min();
            lengths.extend(until.map(|u| (u - at).num_minutes().max(1)));
            fired = at;
        }
        let (Some(&minutes), Some(&longest)) = (lengths.iter().min(), lengths.iter().max()) else {
            continue;
        };
        if longest != minutes {
            notes.push(format!(
                "scheduled action \"{}\" holds for {minutes} to {longest} min until the next action; its window here lasts {minutes} min",
                a.name
            ));
        }
        let _ = writeln!(
            out,
            "\n# From scheduled action \"{}\" ({}), open until the next action fires.\n[[schedule]]\nname = {}\ncron = {}\nduration = \"{minutes}m\"",
            a.name,
            a.schedule,
            quote(&rule_name(&a.name)),
            quote(&aws_cron(&a.schedule).unwrap_or_default()),
        );
        if let Some(m) = a.min {
            let _ = writeln!(out, "min = {m}");
        }
        if let Some(m) = a.max {
            let _ = writeln!(out, "max = {}", m.max(1));
        }
        if a.min.is_none() && a.max.is_none() {
            notes.push(format!("scheduled action \"{}\" changes neither min nor max", a.name));
        }
    }
}

fn next(c: &croner::Cron, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    c.find_next_occurrence(&after, false).ok()
}

/// `cron(m h dom mon dow year)` in AWS's dialect as five fields here: `?` is `*`, the year
/// must be any, and AWS numbers days of the week 1–7 from Sunday where cron counts 0–6.
pub fn aws_cron(schedule: &str) -> Option<String> {
    let inner = schedule.trim().strip_prefix("cron(")?.strip_suffix(')')?;
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 || !matches!(fields[5], "*" | "?") {
        return None;
    }
    let any = |f: &str| if f == "?" { "*".to_string() } else { f.to_string() };
    let dow = days_from_zero(&any(fields[4]));
    Some(format!(
        "{} {} {} {} {dow}",
        fields[0],
        fields[1],
        any(fields[2]),
        any(fields[3])
    ))
}

/// Day numbers 1–7 as 0–6; the number after `#` (the nth weekday) or `/` (a step) stays.
fn days_from_zero(field: &str) -> String {
    let mut out = String::new();
    let mut number = String::new();
    let mut counts_days = true;
    let flush = |out: &mut String, number: &mut String, counts_days: bool| {
        match number.parse::<u8>() {
            Ok(n @ 1..=7) if counts_days => out.push_str(&(n - 1).to_string()),
            _ => out.push_str(number),
        }
        number.clear();
    };
    for c in field.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        flush(&mut out, &mut number, counts_days);
        counts_days = !matches!(c, '#' | '/');
        out.push(c);
    }
    flush(&mut out, &mut number, counts_days);
    out
}

fn predict(out: &mut String, name: &str, pr: &Predictive, rules: &[String], notes: &mut Vec<String>) {
    let mode = if pr.mode == "ForecastAndScale" {
        "scale"
    } else {
        "forecast_only"
    };
    let _ = writeln!(
        out,
        "\n# From predictive scaling policy \"{name}\" ({}). AWS forecasts hourly means and raises the\n\
         # count at each hour's start; this forecasts per minute, from the day, the week and shorter\n\
         # cycles, and raises the count by the start-up time it measures.\n[predict]\nmode = \"{mode}\"",
        pr.mode
    );
    if let Some(b) = pr.scheduling_buffer.filter(|b| *b > 0) {
        notes.push(format!(
            "predictive policy \"{name}\" had SchedulingBufferTime {b} s; `lead = \"auto\"` uses the measured start-up time instead"
        ));
    }
    if pr
        .max_capacity_behavior
        .as_deref()
        .is_some_and(|b| b != "HonorMaxCapacity")
    {
        notes.push(format!(
            "predictive policy \"{name}\" could exceed max capacity; here max holds always"
        ));
    }
    let forecastable = rules.iter().any(|r| {
        ["ecs_cpu", "ecs_memory", "alb_requests_per_target", "custom"]
            .iter()
            .any(|k| r.contains(&format!("metric = \"{k}\"")))
    });
    if !forecastable {
        notes.push(format!(
            "predictive policy \"{name}\" has no load rule here to forecast"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::scaling::{ScalableTarget, Step, StepScaling, Suspended};
    use std::path::Path;

    fn tracking(name: &str, metric: &str, target: f64, label: Option<&str>) -> AwsPolicy {
        AwsPolicy {
            name: name.into(),
            kind: PolicyKind::TargetTracking(TargetTracking {
                metric: AwsMetric::Predefined {
                    name: metric.into(),
                    resource_label: label.map(String::from),
                },
                target,
                scale_out_cooldown: Some(60),
                scale_in_cooldown: Some(600),
                disable_scale_in: false,
            }),
        }
    }

    fn everything() -> AwsScaling {
        AwsScaling {
            resource_id: "service/prod/search".into(),
            target: Some(ScalableTarget {
                min: 2,
                max: 20,
                suspended: Suspended::NONE,
            }),
            policies: vec![
                tracking("cpu 70", "ECSServiceAverageCPUUtilization", 70.0, None),
                tracking(
                    "requests",
                    "ALBRequestCountPerTarget",
                    1000.0,
                    Some("app/web/50dc6c495c0c9188/targetgroup/search/6d0ecf831eec9f09"),
                ),
                AwsPolicy {
                    name: "latency-steps".into(),
                    kind: PolicyKind::Step(StepScaling {
                        adjustment_type: "ChangeInCapacity".into(),
                        cooldown: Some(120),
                        steps: vec![Step {
                            lower: Some(0.0),
                            upper: None,
                            adjustment: 2,
                        }],
                        alarm: Some(Alarm {
                            name: "p99-high".into(),
                            metric: AwsMetric::Custom {
                                namespace: "SearchService".into(),
                                name: "LatencyP99".into(),
                                dimensions: vec![("Service".into(), "search".into())],
                                statistic: "Average".into(),
                            },
                            comparison: "GreaterThanThreshold".into(),
                            threshold: 150.0,
                            period: 60,
                            evaluation_periods: 3,
                        }),
                    }),
                },
                AwsPolicy {
                    name: "daily".into(),
                    kind: PolicyKind::Predictive(Predictive {
                        mode: "ForecastAndScale".into(),
                        metric_pair: Some("ECSServiceCPUUtilization".into()),
                        target: 70.0,
                        scheduling_buffer: Some(600),
                        max_capacity_behavior: None,
                    }),
                },
            ],
            scheduled: vec![
                ScheduledAction {
                    name: "morning".into(),
                    schedule: "cron(0 8 ? * 2-6 *)".into(),
                    timezone: None,
                    min: Some(6),
                    max: None,
                },
                ScheduledAction {
                    name: "evening".into(),
                    schedule: "cron(0 20 ? * 2-6 *)".into(),
                    timezone: None,
                    min: Some(2),
                    max: None,
                },
                ScheduledAction {
                    name: "launch".into(),
                    schedule: "at(2026-12-24T09:00:00)".into(),
                    timezone: None,
                    min: Some(10),
                    max: None,
                },
            ],
        }
    }

    #[test]
    fn everything_aws_holds_becomes_a_valid_policy_or_a_note() {
        let text = policy_text("prod", "search", Some("eu-west-1"), &everything());
        let policy = crate::policy::parse(Path::new("search.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!((policy.min, policy.max), (2, 20));
        assert!(policy.takeover, "an imported policy takes over, so the two never fight");
        let names: Vec<&str> = policy.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["cpu-70", "requests", "latency-steps"], "{text}");
        assert_eq!(
            policy.scale_out.cooldown.as_secs(),
            60,
            "the shortest scale-out cooldown"
        );
        assert_eq!(policy.scale_in.cooldown.as_secs(), 600, "the longest scale-in cooldown");
        let windows: Vec<(&str, u32)> = policy
            .schedules
            .iter()
            .map(|s| (s.name.as_str(), s.min.unwrap_or(0)))
            .collect();
        assert_eq!(windows, [("morning", 6), ("evening", 2)], "{text}");
        assert_eq!(policy.schedules[0].duration.as_secs(), 12 * 3600, "08:00 to 20:00");
        assert_eq!(
            policy.schedules[1].duration.as_secs(),
            12 * 3600,
            "20:00 to the next 08:00 on weekdays"
        );
        assert!(policy.predict.is_some(), "{text}");
        for note in [
            "at(2026-12-24T09:00:00)",
            "SchedulingBufferTime 600 s",
            "\"evening\" holds for 720 to 3600 min",
            "steps become target tracking",
        ] {
            assert!(text.contains(note), "missing note {note:?}:\n{text}");
        }
        assert!(
            text.contains("target_group = \"targetgroup/search/6d0ecf831eec9f09\""),
            "{text}"
        );
    }

    #[test]
    fn aws_days_of_the_week_count_from_sunday_as_one() {
        assert_eq!(aws_cron("cron(0 8 ? * 2-6 *)").as_deref(), Some("0 8 * * 1-5"));
        assert_eq!(aws_cron("cron(30 7 ? * 1,7 *)").as_deref(), Some("30 7 * * 0,6"));
        assert_eq!(aws_cron("cron(0 8 ? * MON-FRI *)").as_deref(), Some("0 8 * * MON-FRI"));
        assert_eq!(aws_cron("cron(0 8 1 * ? *)").as_deref(), Some("0 8 1 * *"));
        assert_eq!(aws_cron("cron(0 8 1 * ? 2027)"), None, "a year is no recurring window");
        assert_eq!(aws_cron("rate(1 hour)"), None);
        assert_eq!(
            aws_cron("cron(0 8 ? * 2#1 *)").as_deref(),
            Some("0 8 * * 1#1"),
            "the first Monday"
        );
        assert_eq!(aws_cron("cron(0 8 ? * 1/2 *)").as_deref(), Some("0 8 * * 0/2"));
    }

    #[test]
    fn a_service_aws_does_not_scale_still_gets_a_valid_file() {
        let text = policy_text("c", "s", None, &AwsScaling::default());
        crate::policy::parse(Path::new("s.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(text.contains("no scalable target"));
    }
}

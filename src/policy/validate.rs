//! Turns a parsed [`PolicyFile`] into a [`Policy`], collecting every problem with its location.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use croner::parser::{CronParser, Seconds};

use super::diagnostic::{Diagnostic, FileErrors};
use super::duration;
use super::file::*;
use super::model::*;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_SCALE_OUT_COOLDOWN: Duration = Duration::from_secs(60);
pub const DEFAULT_SCALE_IN_COOLDOWN: Duration = Duration::from_secs(300);
pub const DEFAULT_STABILIZATION: Duration = Duration::from_secs(300);
pub const DEFAULT_MISSING_AFTER: Duration = Duration::from_secs(300);
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(60);
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// A learned demand target aims at this share of the rate at which the SLO broke.
pub const DEFAULT_LEARNED_SHARE: f64 = 0.7;
pub const DEFAULT_HEADROOM: f64 = 0.7;
pub const DEFAULT_MAX_FACTOR: f64 = 2.0;

struct Checker<'a> {
    file: &'a Path,
    source: &'a str,
    errors: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::at(self.file, self.source, Some(span), message));
    }

    fn duration(&mut self, value: &Located<String>, what: &str) -> Option<Duration> {
        match duration::parse(value.get()) {
            Ok(d) if d.is_zero() => {
                self.error(value.span(), format!("{what} must be greater than zero"));
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.error(
                    value.span(),
                    format!("{what} must be at most 7 days, found \"{}\"", value.get().trim()),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(value.span(), format!("{what}: {e}"));
                None
            }
        }
    }

    fn optional_duration(&mut self, value: &Option<Located<String>>, what: &str, default: Duration) -> Duration {
        value.as_ref().and_then(|v| self.duration(v, what)).unwrap_or(default)
    }

    fn count(&mut self, value: &Located<i64>, what: &str, least: i64) -> Option<u32> {
        let n = *value.get();
        if n < least {
            self.error(value.span(), format!("{what} must be at least {least}, found {n}"));
            return None;
        }
        match u32::try_from(n) {
            Ok(n) if n <= MAX_TASKS => Some(n),
            _ => {
                self.error(value.span(), format!("{what} must be at most {MAX_TASKS}, found {n}"));
                None
            }
        }
    }

    fn name(&mut self, value: &Located<String>, what: &str) -> String {
        let name = value.get().trim();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            self.error(
                value.span(),
                format!("{what} \"{name}\" must be 1 to 64 characters of letters, digits, '-', '_' or '.'"),
            );
        }
        name.to_string()
    }

    fn step(&mut self, value: &Located<StepFile>, what: &str) -> Option<StepLimit> {
        match value.get() {
            StepFile::Count(n) if *n >= 1 => Some(StepLimit::Count(u32::try_from(*n).unwrap_or(MAX_TASKS))),
            StepFile::Count(n) => {
                self.error(value.span(), format!("{what} must be at least 1 task, found {n}"));
                None
            }
            StepFile::Percent(text) => {
                let number = text
                    .trim()
                    .strip_suffix('%')
                    .map(str::trim)
                    .and_then(|n| n.parse::<f64>().ok());
                match number {
                    Some(p) if p > 0.0 && p <= 1000.0 => Some(StepLimit::Percent(p)),
                    _ => {
                        self.error(
                            value.span(),
                            format!("{what} \"{text}\" must be a task count like 2 or a percentage like \"50%\" (0 < p <= 1000)"),
                        );
                        None
                    }
                }
            }
        }
    }
}

/// Upper limit on any task count; ECS allows far fewer tasks per service anyway.
pub const MAX_TASKS: u32 = 10_000;
/// No duration in a policy is longer than this (cooldowns, windows, schedules); the
/// interval and a rule's max_age are held to an hour.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Rules per policy at most: each is a metric query every round.
pub const MAX_RULES: usize = 20;
/// Schedules per policy at most.
pub const MAX_SCHEDULES: usize = 50;

pub fn validate(file: &Path, source: &str, raw: PolicyFile) -> Result<Policy, FileErrors> {
    let mut c = Checker {
        file,
        source,
        errors: Vec::new(),
    };

    let name = match &raw.name {
        Some(n) => c.name(n, "policy name"),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let target = target(&mut c, &raw.target);
    let min = c.count(&raw.min, "min", 0);
    let max = c.count(&raw.max, "max", 1);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        c.error(raw.min.span(), format!("min ({lo}) is greater than max ({hi})"));
    }
    let interval = c.optional_duration(&raw.interval, "interval", DEFAULT_INTERVAL);
    if interval > MAX_INTERVAL
        && let Some(i) = &raw.interval
    {
        c.error(i.span(), "interval must be at most 1h");
    }
    if interval < Duration::from_secs(1)
        && let Some(i) = &raw.interval
    {
        c.error(i.span(), "interval must be at least 1s");
    }
    let spare = raw.spare.as_ref().and_then(|s| c.count(s, "spare", 0)).unwrap_or(0);
    if let (Some(s), Some(hi)) = (&raw.spare, max)
        && spare > hi
    {
        c.error(s.span(), format!("spare ({spare}) cannot exceed max ({hi})"));
    }

    let scale_out = match &raw.scale_out {
        Some(so) => {
            let so = so.get();
            ScaleOut {
                cooldown: c.optional_duration(&so.cooldown, "scale_out.cooldown", DEFAULT_SCALE_OUT_COOLDOWN),
                max_step: so.max_step.as_ref().and_then(|s| c.step(s, "scale_out.max_step")),
            }
        }
        None => ScaleOut {
            cooldown: DEFAULT_SCALE_OUT_COOLDOWN,
            max_step: None,
        },
    };
    let scale_in = match &raw.scale_in {
        Some(si) => {
            let si = si.get();
            let stabilization = c.optional_duration(&si.stabilization, "scale_in.stabilization", DEFAULT_STABILIZATION);
            let patience = c.optional_duration(&si.patience, "scale_in.patience", stabilization);
            if patience < stabilization
                && let Some(p) = &si.patience
            {
                c.error(
                    p.span(),
                    format!(
                        "scale_in.patience is the longer window used after a reversal; make it at least the stabilization ({}s)",
                        stabilization.as_secs()
                    ),
                );
            }
            ScaleIn {
                enabled: si.enabled.unwrap_or(true),
                cooldown: c.optional_duration(&si.cooldown, "scale_in.cooldown", DEFAULT_SCALE_IN_COOLDOWN),
                stabilization,
                patience,
                max_step: si.max_step.as_ref().and_then(|s| {
                    let step = c.step(s, "scale_in.max_step");
                    if let Some(StepLimit::Percent(p)) = step
                        && p > 100.0
                    {
                        c.error(
                            s.span(),
                            format!("scale_in.max_step \"{p}%\" removes more than every task; use at most \"100%\""),
                        );
                    }
                    step
                }),
            }
        }
        None => ScaleIn {
            enabled: true,
            cooldown: DEFAULT_SCALE_IN_COOLDOWN,
            stabilization: DEFAULT_STABILIZATION,
            patience: DEFAULT_STABILIZATION,
            max_step: None,
        },
    };

    let missing_data = missing_data(&mut c, raw.missing_data.as_ref(), min, max);

    if raw.rules.is_empty() {
        c.error(0..0, "a policy needs at least one [[rule]]");
    }
    if let Some(extra) = raw.rules.get(MAX_RULES) {
        c.error(
            extra.get().name.span(),
            format!(
                "a policy may have at most {MAX_RULES} rules (each is a metric query every round); this one has {}",
                raw.rules.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    let mut rules = Vec::new();
    for r in raw.rules.iter().take(MAX_RULES) {
        let rule_name = r.get().name.get().trim().to_string();
        if !seen.insert(rule_name.clone()) {
            c.error(r.get().name.span(), format!("duplicate rule name \"{rule_name}\""));
        }
        if let Some(rule) = rule(&mut c, r.get()) {
            rules.push(rule);
        }
    }

    for r in raw.rules.iter().take(MAX_RULES) {
        let Some(from) = &r.get().learn_from else { continue };
        let wanted = from.get().trim();
        let latency: Vec<&str> = rules
            .iter()
            .filter(|x| matches!(x.goal, Goal::LatencyGuard { .. }))
            .map(|x| x.name.as_str())
            .collect();
        if !latency.contains(&wanted) {
            let hint = if latency.is_empty() {
                "add a latency rule and name it here".to_string()
            } else {
                format!("latency rules in this policy: {}", latency.join(", "))
            };
            c.error(
                from.span(),
                format!("learn_from names \"{wanted}\", which is not a latency rule of this policy; {hint}"),
            );
        }
    }

    if let Some(Target::Aws {
        target_group,
        load_balancer,
        ..
    }) = &target
    {
        for rule in &rules {
            let span = raw
                .rules
                .iter()
                .find(|r| r.get().name.get().trim() == rule.name)
                .map_or(0..0, |r| r.get().metric.span());
            let needs: &[(&str, bool)] = match rule.metric {
                Metric::AlbRequestsPerTarget => &[("target_group", target_group.is_none())],
                Metric::AlbResponseTime => &[
                    ("target_group", target_group.is_none()),
                    ("load_balancer", load_balancer.is_none()),
                ],
                _ => &[],
            };
            for (key, missing) in needs {
                if *missing {
                    c.error(
                        span.clone(),
                        format!("rule \"{}\" reads an ALB metric: [target] needs `{key}`", rule.name),
                    );
                }
            }
        }
    }

    if let Some(extra) = raw.schedules.get(MAX_SCHEDULES) {
        c.error(
            extra.get().name.span(),
            format!(
                "a policy may have at most {MAX_SCHEDULES} schedules; this one has {}",
                raw.schedules.len()
            ),
        );
    }
    let mut schedule_names = BTreeSet::new();
    let mut schedules = Vec::new();
    for s in raw.schedules.iter().take(MAX_SCHEDULES) {
        let s_name = s.get().name.get().trim().to_string();
        if !schedule_names.insert(s_name.clone()) {
            c.error(s.get().name.span(), format!("duplicate schedule name \"{s_name}\""));
        }
        if let Some(sched) = schedule(&mut c, s.get(), s.span()) {
            // Without a max of its own, a schedule's min must fit under the policy's max.
            if let (Some(lo), None, Some(hi), Some(m)) = (sched.min, sched.max, max, &s.get().min)
                && lo > hi
            {
                c.error(
                    m.span(),
                    format!(
                        "schedule \"{}\" min ({lo}) is greater than the policy's max ({hi}); raise max or give the schedule a max of its own",
                        sched.name
                    ),
                );
            }
            schedules.push(sched);
        }
    }

    if !c.errors.is_empty() {
        c.errors.sort_by_key(|d| (d.line, d.column));
        return Err(FileErrors(c.errors));
    }
    Ok(Policy {
        name,
        target: target.ok_or_else(|| FileErrors(vec![]))?,
        min: min.unwrap_or(0),
        max: max.unwrap_or(1),
        interval,
        dry_run: raw.dry_run,
        spare,
        scale_out,
        scale_in,
        missing_data,
        rules,
        schedules,
    })
}

fn target(c: &mut Checker, raw: &Located<TargetFile>) -> Option<Target> {
    let t = raw.get();
    let backend = *t.backend.get();
    let require = |c: &mut Checker, field: &Option<Located<String>>, key: &str| -> String {
        match field {
            Some(v) if !v.get().trim().is_empty() => v.get().trim().to_string(),
            Some(v) => {
                c.error(v.span(), format!("target.{key} must not be empty"));
                String::new()
            }
            None => {
                c.error(
                    raw.span(),
                    format!("target with backend \"{}\" needs `{key}`", backend_name(backend)),
                );
                String::new()
            }
        }
    };
    let forbid = |c: &mut Checker, field: &Option<Located<String>>, key: &str| {
        if let Some(v) = field {
            c.error(
                v.span(),
                format!("`{key}` does not apply to backend \"{}\"", backend_name(backend)),
            );
        }
    };
    let target = match backend {
        Backend::Aws => {
            forbid(c, &t.pool, "pool");
            let optional = |v: &Option<Located<String>>| v.as_ref().map(|r| r.get().trim().to_string());
            Target::Aws {
                cluster: require(c, &t.cluster, "cluster"),
                service: require(c, &t.service, "service"),
                region: optional(&t.region),
                target_group: optional(&t.target_group),
                load_balancer: optional(&t.load_balancer),
            }
        }
        Backend::Local => {
            forbid(c, &t.target_group, "target_group");
            forbid(c, &t.load_balancer, "load_balancer");
            forbid(c, &t.cluster, "cluster");
            forbid(c, &t.service, "service");
            forbid(c, &t.region, "region");
            Target::Local {
                pool: require(c, &t.pool, "pool"),
            }
        }
        Backend::Sim => {
            forbid(c, &t.target_group, "target_group");
            forbid(c, &t.load_balancer, "load_balancer");
            forbid(c, &t.cluster, "cluster");
            forbid(c, &t.pool, "pool");
            forbid(c, &t.region, "region");
            Target::Sim {
                service: require(c, &t.service, "service"),
            }
        }
    };
    Some(target)
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Aws => "aws",
        Backend::Local => "local",
        Backend::Sim => "sim",
    }
}

fn missing_data(
    c: &mut Checker,
    raw: Option<&Located<MissingDataFile>>,
    min: Option<u32>,
    max: Option<u32>,
) -> MissingData {
    let Some(raw) = raw else {
        return MissingData {
            action: MissingAction::Hold,
            after: DEFAULT_MISSING_AFTER,
        };
    };
    let m = raw.get();
    let after = c.optional_duration(&m.after, "missing_data.after", DEFAULT_MISSING_AFTER);
    let action = match m.action.as_ref().map(|a| *a.get()) {
        None | Some(MissingActionFile::Hold) => {
            if let Some(f) = &m.fallback_count {
                c.error(f.span(), "fallback_count needs action = \"fallback\"");
            }
            MissingAction::Hold
        }
        Some(MissingActionFile::Fallback) => match &m.fallback_count {
            None => {
                c.error(raw.span(), "action = \"fallback\" needs fallback_count");
                MissingAction::Hold
            }
            Some(f) => {
                let n = c.count(f, "fallback_count", 0).unwrap_or(0);
                if let (Some(lo), Some(hi)) = (min, max)
                    && (n < lo || n > hi)
                {
                    c.error(
                        f.span(),
                        format!("fallback_count ({n}) must lie within min..max ({lo}..{hi})"),
                    );
                }
                MissingAction::Fallback(n)
            }
        },
    };
    MissingData { action, after }
}

fn period(c: &mut Checker, raw: &Option<Located<String>>) -> Duration {
    let p = c.optional_duration(raw, "period", DEFAULT_PERIOD);
    let secs = p.as_secs();
    let valid = p.subsec_nanos() == 0
        && (matches!(secs, 1 | 5 | 10 | 30) || (secs >= 60 && secs.is_multiple_of(60)))
        && p <= MAX_INTERVAL;
    if !valid && let Some(r) = raw {
        c.error(
            r.span(),
            format!(
                "period {} is not a CloudWatch period: use 1s, 5s, 10s, 30s or a multiple of 60s up to 1h",
                r.get()
            ),
        );
    }
    p
}

fn statistic(c: &mut Checker, raw: &Located<String>) -> Option<Statistic> {
    let text = raw.get().trim().to_ascii_lowercase();
    let stat = match text.as_str() {
        "average" | "avg" => Statistic::Average,
        "sum" => Statistic::Sum,
        "maximum" | "max" => Statistic::Maximum,
        "minimum" | "min" => Statistic::Minimum,
        "sample_count" | "samplecount" => Statistic::SampleCount,
        other => match percentile(other) {
            Some(p) => Statistic::Percentile(p),
            None => {
                c.error(
                    raw.span(),
                    format!("unknown statistic \"{}\": use average, sum, maximum, minimum, sample_count or a percentile like p99", raw.get()),
                );
                return None;
            }
        },
    };
    Some(stat)
}

/// "p99" → 99.0, "p99.9" → 99.9.
fn percentile(text: &str) -> Option<f64> {
    let p: f64 = text.trim().strip_prefix(['p', 'P'])?.parse().ok()?;
    (p > 0.0 && p < 100.0).then_some(p)
}

fn rule(c: &mut Checker, r: &RuleFile) -> Option<Rule> {
    let name = c.name(&r.name, "rule name");
    let kind = *r.metric.get();
    let period = period(c, &r.period);
    let max_age = c.optional_duration(&r.max_age, "max_age", period * 3 + Duration::from_secs(60));
    if max_age > MAX_INTERVAL
        && let Some(m) = &r.max_age
    {
        // It sets how far back the round's shared metric query looks.
        c.error(m.span(), "max_age must be at most 1h");
    }
    let explicit_stat = r.statistic.as_ref().and_then(|s| statistic(c, s));

    let not_for = |c: &mut Checker, present: Option<Range<usize>>, key: &str, why: &str| {
        if let Some(span) = present {
            c.error(span, format!("`{key}` {why}"));
        }
    };

    if kind != MetricKind::Latency {
        let why = "applies only to latency rules";
        not_for(c, r.percentile.as_ref().map(Located::span), "percentile", why);
        not_for(
            c,
            r.scale_in_headroom.as_ref().map(Located::span),
            "scale_in_headroom",
            why,
        );
        not_for(
            c,
            r.max_scale_out_factor.as_ref().map(Located::span),
            "max_scale_out_factor",
            why,
        );
        not_for(c, r.source.as_ref().map(Located::span), "source", why);
        not_for(c, r.unit.as_ref().map(Located::span), "unit", why);
    }
    let counts = matches!(kind, MetricKind::RequestRate | MetricKind::ErrorRate);
    if !counts {
        not_for(
            c,
            r.count_window.as_ref().map(Located::span),
            "count_window",
            "applies only to request_rate and error_rate rules",
        );
    }
    // A count per task's record, averaged over the records of the period, divided by the
    // time one record covers: a per-task rate whatever the period. Sum would add tasks.
    let count_window = c.optional_duration(&r.count_window, "count_window", Duration::from_secs(10));
    if counts
        && let Some(s) = &r.statistic
        && explicit_stat != Some(Statistic::Average)
    {
        c.error(
            s.span(),
            "a request_rate or error_rate rule averages per-task counts over the tasks' records; statistic must be \"average\" (or left out)",
        );
    }
    if counts
        && count_window > period
        && let Some(w) = &r.count_window
    {
        c.error(
            w.span(),
            "count_window is longer than the period: a period would hold no whole record",
        );
    }
    if kind != MetricKind::RequestRate {
        let why = "applies only to request_rate rules";
        not_for(c, r.learn_from.as_ref().map(Located::span), "learn_from", why);
        not_for(c, r.learned_share.as_ref().map(Located::span), "learned_share", why);
    }
    if let Some(share) = &r.learned_share {
        if r.learn_from.is_none() {
            c.error(
                share.span(),
                "`learned_share` needs `learn_from`, the latency rule whose SLO the target is learned against",
            );
        }
        if !(*share.get() > 0.0 && *share.get() <= 1.0) {
            c.error(
                share.span(),
                format!("learned_share must be in (0, 1], found {}", share.get()),
            );
        }
    }
    let learn = r.learn_from.as_ref().map(|from| Learn {
        from: from.get().trim().to_string(),
        share: r.learned_share.as_ref().map_or(DEFAULT_LEARNED_SHARE, |s| *s.get()),
    });
    if kind == MetricKind::ErrorRate
        && let Some(t) = &r.tolerance
    {
        c.error(
            t.span(),
            "`tolerance` applies to tracking rules; an error_rate rule is a guard with no band",
        );
    }
    let custom_source = kind == MetricKind::Custom
        || kind == MetricKind::RequestRate
        || kind == MetricKind::ErrorRate
        || (kind == MetricKind::Latency && r.source.as_ref().map(|s| *s.get()) == Some(LatencySource::Custom));
    if !custom_source {
        let why = "applies only to custom metrics";
        not_for(c, r.namespace.as_ref().map(Located::span), "namespace", why);
        not_for(c, r.metric_name.as_ref().map(Located::span), "metric_name", why);
        if !r.dimensions.is_empty() {
            c.error(
                r.name.span(),
                format!("rule \"{name}\": `dimensions` applies only to custom metrics"),
            );
        }
    }

    let custom_metric = |c: &mut Checker, scale: f64| -> Option<Metric> {
        let mut field = |v: &Option<Located<String>>, key: &str| -> Option<String> {
            match v {
                Some(v) if !v.get().trim().is_empty() => Some(v.get().trim().to_string()),
                _ => {
                    c.error(
                        r.name.span(),
                        format!("rule \"{name}\" reads a custom metric and needs `{key}`"),
                    );
                    None
                }
            }
        };
        let namespace = field(&r.namespace, "namespace");
        let metric_name = field(&r.metric_name, "metric_name");
        Some(Metric::Custom {
            namespace: namespace?,
            name: metric_name?,
            dimensions: r.dimensions.clone(),
            scale,
        })
    };

    match kind {
        MetricKind::Latency => {
            if let Some(t) = &r.tolerance {
                c.error(
                    t.span(),
                    "`tolerance` applies to utilization rules; latency rules use scale_in_headroom",
                );
            }
            let target = match r.target.get() {
                TargetValue::Text(t) => match duration::parse(t) {
                    Ok(d) if !d.is_zero() => Some(d.as_secs_f64()),
                    Ok(_) => {
                        c.error(r.target.span(), "latency target must be greater than zero");
                        None
                    }
                    Err(e) => {
                        c.error(r.target.span(), format!("latency target: {e}"));
                        None
                    }
                },
                TargetValue::Number(n) => {
                    c.error(
                        r.target.span(),
                        format!("latency target must be a duration such as \"{n}ms\", not a bare number"),
                    );
                    None
                }
            };
            let headroom = r.scale_in_headroom.as_ref().map_or(DEFAULT_HEADROOM, |h| *h.get());
            if let Some(h) = &r.scale_in_headroom
                && !(*h.get() > 0.0 && *h.get() <= 1.0)
            {
                c.error(
                    h.span(),
                    format!("scale_in_headroom must be in (0, 1], found {}", h.get()),
                );
            }
            let max_factor = r.max_scale_out_factor.as_ref().map_or(DEFAULT_MAX_FACTOR, |f| *f.get());
            if let Some(f) = &r.max_scale_out_factor
                && !(*f.get() > 1.0 && *f.get() <= 100.0)
            {
                c.error(
                    f.span(),
                    format!("max_scale_out_factor must be in (1, 100], found {}", f.get()),
                );
            }
            let pct = match &r.percentile {
                Some(p) => match percentile(p.get()) {
                    Some(v) => v,
                    None => {
                        c.error(
                            p.span(),
                            format!("percentile \"{}\" must look like p50, p90 or p99", p.get()),
                        );
                        99.0
                    }
                },
                // A custom metric's percentile statistic says what it guards.
                None => match explicit_stat {
                    Some(Statistic::Percentile(p)) => p,
                    _ => 99.0,
                },
            };
            let source = r.source.as_ref().map_or(LatencySource::Alb, |s| *s.get());
            let (metric, statistic) = match source {
                LatencySource::Alb => {
                    if let Some(s) = &r.statistic {
                        c.error(
                            s.span(),
                            "an ALB latency rule's statistic is its `percentile`; remove `statistic`",
                        );
                    }
                    (Some(Metric::AlbResponseTime), Statistic::Percentile(pct))
                }
                LatencySource::Custom => {
                    if let (Some(p), Some(Statistic::Percentile(stat))) = (&r.percentile, explicit_stat)
                        && (stat - pct).abs() > f64::EPSILON
                    {
                        c.error(
                            p.span(),
                            format!(
                                "percentile \"{}\" disagrees with statistic p{stat}: a custom latency rule guards the percentile its statistic reads; keep one of the two",
                                p.get()
                            ),
                        );
                    }
                    let scale = match r.unit.as_ref().map_or(UnitFile::Milliseconds, |u| *u.get()) {
                        UnitFile::Seconds => 1.0,
                        UnitFile::Milliseconds => 1e-3,
                        UnitFile::Microseconds => 1e-6,
                    };
                    (custom_metric(c, scale), explicit_stat.unwrap_or(Statistic::Maximum))
                }
            };
            if source == LatencySource::Alb
                && let Some(u) = &r.unit
            {
                c.error(
                    u.span(),
                    "`unit` applies to custom latency metrics; ALB TargetResponseTime is in seconds",
                );
            }
            Some(Rule {
                name,
                metric: metric?,
                statistic,
                period,
                max_age,
                goal: Goal::LatencyGuard {
                    target: target?,
                    scale_in_headroom: headroom,
                    max_factor,
                },
                measures: Measure::Latency { quantile: pct / 100.0 },
                learn: None,
            })
        }
        _ => {
            let target = match r.target.get() {
                TargetValue::Number(n) if n.is_finite() && *n > 0.0 => Some(*n),
                TargetValue::Number(n) => {
                    c.error(r.target.span(), format!("target must be greater than zero, found {n}"));
                    None
                }
                TargetValue::Text(t) => {
                    c.error(r.target.span(), format!("target must be a number, found \"{t}\""));
                    None
                }
            };
            if matches!(kind, MetricKind::EcsCpu | MetricKind::EcsMemory)
                && let Some(t) = target
                && t > 100.0
            {
                c.error(
                    r.target.span(),
                    format!("a utilization target is a percentage, found {t}: write one of 1 to 100, e.g. target = 70"),
                );
            }
            let tolerance = r.tolerance.as_ref().map_or(DEFAULT_TOLERANCE, |t| *t.get());
            if let Some(t) = &r.tolerance
                && !(*t.get() >= 0.0 && *t.get() < 1.0)
            {
                c.error(t.span(), format!("tolerance must be in [0, 1), found {}", t.get()));
            }
            let (metric, default_stat, measures) = match kind {
                MetricKind::EcsCpu => (Some(Metric::EcsCpu), Statistic::Average, Measure::Cpu),
                MetricKind::EcsMemory => (Some(Metric::EcsMemory), Statistic::Average, Measure::Memory),
                MetricKind::AlbRequestsPerTarget => (
                    Some(Metric::AlbRequestsPerTarget),
                    Statistic::Sum,
                    Measure::RequestsPerTarget,
                ),
                // A count per period and task, read as a rate: the target is per second.
                MetricKind::RequestRate => (
                    custom_metric(c, 1.0 / count_window.as_secs_f64().max(1.0)),
                    Statistic::Average,
                    Measure::RequestRate,
                ),
                MetricKind::ErrorRate => (
                    custom_metric(c, 1.0 / count_window.as_secs_f64().max(1.0)),
                    Statistic::Average,
                    Measure::ErrorRate,
                ),
                _ => (custom_metric(c, 1.0), Statistic::Average, Measure::Other),
            };
            Some(Rule {
                name,
                metric: metric?,
                statistic: explicit_stat.unwrap_or(default_stat),
                period,
                max_age,
                goal: if kind == MetricKind::ErrorRate {
                    Goal::ErrorGuard { target: target? }
                } else {
                    Goal::Track {
                        target: target?,
                        tolerance,
                    }
                },
                measures,
                learn,
            })
        }
    }
}

fn schedule(c: &mut Checker, s: &ScheduleFile, span: Range<usize>) -> Option<Schedule> {
    let name = c.name(&s.name, "schedule name");
    let parsed = match cron_parser().parse(s.cron.get()) {
        Ok(p) => Some(p),
        Err(e) => {
            c.error(s.cron.span(), format!("bad cron expression \"{}\": {e}", s.cron.get()));
            None
        }
    };
    let duration = c.duration(&s.duration, "schedule duration");
    let min = s.min.as_ref().and_then(|m| c.count(m, "schedule min", 0));
    let max = s.max.as_ref().and_then(|m| c.count(m, "schedule max", 1));
    if s.min.is_none() && s.max.is_none() {
        c.error(span, format!("schedule \"{name}\" sets neither min nor max"));
    }
    if let (Some(lo), Some(hi), Some(m)) = (min, max, &s.min)
        && lo > hi
    {
        c.error(m.span(), format!("schedule min ({lo}) is greater than its max ({hi})"));
    }
    Some(Schedule {
        name,
        cron: s.cron.get().trim().to_string(),
        parsed: parsed?,
        duration: duration?,
        min,
        max,
    })
}

/// The cron dialect of policy files: seconds optional, and day-of-month AND day-of-week
/// when both are given, as tokio-cron-scheduler reads them too.
pub fn cron_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .dom_and_dow(true)
        .build()
}

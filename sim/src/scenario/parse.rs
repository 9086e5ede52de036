//! Checks a scenario file into the model, reporting every problem with its place.

use std::path::Path;
use std::time::Duration;

use autoscaler_core::policy::checker::Checker;
use autoscaler_core::policy::diagnostic::{FileErrors, from_toml_error};
use autoscaler_core::policy::file::Located;
use chrono::{DateTime, Utc};

use super::faults::{Fault, FaultWindow, Faults};
use super::file::*;
use super::model::{
    CloudWatchModel, Deploy, Diurnal, Failure, FailureKind, LoadKind, Phase, Scenario, ServiceModel, Traffic,
};

/// The longest scenario, and so the longest window anything in one lasts.
const MAX_RUN: Duration = Duration::from_secs(30 * 86_400);

pub fn parse(file: &Path, source: &str) -> Result<Scenario, FileErrors> {
    let raw: ScenarioFile = toml::from_str(source).map_err(|e| FileErrors(vec![from_toml_error(file, source, &e)]))?;
    let mut c = Checker::new(file, source);
    let duration = c.offset(&raw.duration, "duration").unwrap_or_default().as_secs();
    if duration == 0 || duration > MAX_RUN.as_secs() {
        c.error(raw.duration.span(), "duration must be between 1s and 30 days");
    }
    let start = match &raw.start {
        None => DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .ok(),
        Some(s) => match DateTime::parse_from_rfc3339(s.get()) {
            Ok(d) => Some(d.with_timezone(&Utc)),
            Err(e) => {
                c.error(
                    s.span(),
                    format!("start must be an RFC 3339 time such as 2026-01-05T09:00:00Z ({e})"),
                );
                None
            }
        },
    };
    let slo_p99 = length(&mut c, &raw.slo_p99, "slo_p99", Duration::from_millis(150)).as_secs_f64();
    let service = service(&mut c, &raw.service);
    let cloudwatch = CloudWatchModel {
        standard_delay: offset(
            &mut c,
            &raw.cloudwatch.standard_delay,
            "standard_delay",
            Duration::from_secs(10),
        )
        .as_secs(),
        high_resolution_delay: offset(
            &mut c,
            &raw.cloudwatch.high_resolution_delay,
            "high_resolution_delay",
            Duration::from_secs(5),
        )
        .as_secs(),
    };
    let traffic = traffic(&mut c, &raw.traffic);
    let failures = raw
        .failures
        .iter()
        .map(|f| Failure {
            at: secs(&mut c, &f.at, "failure at"),
            tasks: f.tasks,
            kind: match f.kind {
                FailureKindFile::Crash => FailureKind::Crash,
                FailureKindFile::Stop => FailureKind::Stop,
            },
        })
        .collect();
    let faults = faults(&mut c, &raw.faults);
    let deploys = deploys(&mut c, &raw.deploys);
    let load_step_at = match &raw.load_step_at {
        Some(v) => Some(secs(&mut c, v, "load_step_at")),
        None => traffic.first_step(),
    };
    let score_from = raw.score_from.as_ref().map_or(0, |v| secs(&mut c, v, "score_from"));
    if let Some(v) = &raw.score_from
        && score_from >= duration
    {
        c.error(
            v.span(),
            "score_from must be before the end of the scenario (`duration`)",
        );
    }
    let scenario = Scenario {
        name: raw.name.unwrap_or_else(|| {
            file.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
        description: raw.description,
        duration,
        seed: raw.seed,
        start: start.unwrap_or_default(),
        slo_p99,
        load_step_at,
        score_from,
        service,
        cloudwatch,
        traffic,
        failures,
        faults,
        deploys,
    };
    c.finish(scenario)
}

/// A length of time that must not be zero (a timeout, an SLO, a period).
fn length(c: &mut Checker, v: &Option<Located<String>>, what: &str, default: Duration) -> Duration {
    v.as_ref()
        .and_then(|v| c.duration_up_to(v, what, MAX_RUN))
        .unwrap_or(default)
}

/// A moment or a delay, which may be zero.
fn offset(c: &mut Checker, v: &Option<Located<String>>, what: &str, default: Duration) -> Duration {
    c.optional_offset(v, what, default)
}

fn secs(c: &mut Checker, v: &Located<String>, what: &str) -> u64 {
    c.offset(v, what).unwrap_or_default().as_secs()
}

fn service(c: &mut Checker, s: &ServiceFile) -> ServiceModel {
    if *s.capacity_rps.get() <= 0.0 {
        c.error(s.capacity_rps.span(), "capacity_rps must be greater than zero");
    }
    if *s.initial_tasks.get() == 0 {
        c.error(s.initial_tasks.span(), "initial_tasks must be at least 1");
    }
    ServiceModel {
        initial_tasks: *s.initial_tasks.get(),
        capacity_rps: *s.capacity_rps.get(),
        idle_cpu: s.idle_cpu.clamp(0.0, 90.0),
        memory_percent: s.memory_percent.clamp(0.0, 100.0),
        base_latency: offset(c, &s.base_latency, "base_latency", Duration::from_millis(2)).as_secs_f64(),
        startup: offset(c, &s.startup, "startup", Duration::from_secs(75)).as_secs_f64(),
        startup_jitter: offset(c, &s.startup_jitter, "startup_jitter", Duration::from_secs(15)).as_secs_f64(),
        failure_detection: offset(c, &s.failure_detection, "failure_detection", Duration::from_secs(10)).as_secs_f64(),
        replacement_delay: offset(c, &s.replacement_delay, "replacement_delay", Duration::from_secs(5)).as_secs_f64(),
        request_timeout: length(c, &s.request_timeout, "request_timeout", Duration::from_secs(10)).as_secs_f64(),
        capacity_spread: match &s.capacity_spread {
            None => 0.0,
            Some(v) if (0.0..0.9).contains(v.get()) => *v.get(),
            Some(v) => {
                c.error(v.span(), "capacity_spread must be at least 0 and below 0.9");
                0.0
            }
        },
        queue: s.queue,
    }
}

fn traffic(c: &mut Checker, raw: &Located<TrafficFile>) -> Traffic {
    let t = raw.get();
    let kind = match t.kind {
        LoadKindFile::Users => LoadKind::Users,
        LoadKindFile::Rate => LoadKind::Rate,
    };
    let phases = phases(c, &t.phases, kind);
    let diurnal = t.diurnal.as_ref().map(|d| Diurnal {
        min: d.min,
        max: d.max,
        peak_at: secs(c, &d.peak_at, "peak_at"),
        period: length(c, &d.period, "period", Duration::from_secs(86_400))
            .as_secs()
            .max(1),
        weekend: d.weekend.unwrap_or(1.0).clamp(0.0, 10.0),
    });
    if phases.is_empty() == diurnal.is_none() {
        c.error(
            raw.span(),
            "traffic needs either [[traffic.phase]] entries or a [traffic.diurnal] curve",
        );
    }
    if !(0.0..=0.5).contains(&t.noise) {
        c.error(raw.span(), "traffic noise must be between 0 and 0.5");
    }
    Traffic {
        kind,
        rtt: offset(c, &t.rtt, "rtt", Duration::from_millis(40)).as_secs_f64(),
        think_time: offset(c, &t.think_time, "think_time", Duration::ZERO).as_secs_f64(),
        noise: t.noise,
        phases,
        diurnal,
    }
}

fn phases(c: &mut Checker, raw: &[Located<PhaseFile>], kind: LoadKind) -> Vec<Phase> {
    let mut phases: Vec<Phase> = Vec::new();
    for p in raw {
        let ph = p.get();
        let level = match (kind, ph.users, ph.rate) {
            (LoadKind::Users, Some(u), None) => u,
            (LoadKind::Rate, None, Some(q)) => q,
            _ => {
                let want = if kind == LoadKind::Users { "users" } else { "rate" };
                c.error(
                    p.span(),
                    format!("each phase of this traffic needs `{want}` (and only that)"),
                );
                0.0
            }
        };
        if !(level.is_finite() && level >= 0.0) {
            c.error(p.span(), "a phase's level must be a non-negative number");
        }
        let at = secs(c, &ph.at, "at");
        if phases.last().is_some_and(|last| last.at >= at) {
            c.error(ph.at.span(), "phases must be in increasing order of `at`");
        }
        let ramp = offset(c, &ph.ramp, "ramp", Duration::ZERO).as_secs();
        if let Some(last) = phases.last()
            && last.at + last.ramp > at
            && let Some(ramp_text) = &raw[phases.len() - 1].get().ramp
        {
            c.error(
                ramp_text.span(),
                "this ramp lasts past the next phase's start; shorten it or move the next phase",
            );
        }
        phases.push(Phase { at, level, ramp });
    }
    phases
}

fn faults(c: &mut Checker, raw: &[Located<FaultFile>]) -> Faults {
    let mut faults = Faults::default();
    for located in raw {
        let f = located.get();
        let span = located.span();
        let at = secs(c, &f.at, "at");
        let probability = |c: &mut Checker| match &f.probability {
            Some(p) if (0.0..=1.0).contains(p.get()) => *p.get(),
            Some(p) => {
                c.error(p.span(), "probability must be between 0 and 1");
                0.0
            }
            None => {
                c.error(span.clone(), "this fault needs `probability` (0 to 1)");
                0.0
            }
        };
        let fault = match f.kind {
            FaultKindFile::OtherWriter => {
                match f.desired {
                    Some(d) => faults.writes.push((at, d)),
                    None => c.error(span.clone(), "an other_writer fault needs `desired`, the count it sets"),
                }
                continue;
            }
            FaultKindFile::CloudwatchOutage => Fault::CloudWatchOutage,
            FaultKindFile::Deployment => Fault::Deployment,
            FaultKindFile::LateDatapoints => match &f.delay {
                Some(d) => Fault::LateDatapoints(length(c, &Some(d.clone()), "delay", Duration::ZERO).as_secs()),
                None => {
                    c.error(span.clone(), "a late_datapoints fault needs `delay`, such as \"2m\"");
                    continue;
                }
            },
            FaultKindFile::MissingDatapoints => Fault::MissingDatapoints(probability(c)),
            FaultKindFile::FailedStarts => Fault::FailedStarts(probability(c)),
            FaultKindFile::UpdateServiceFails => Fault::UpdateServiceFails(
                f.error
                    .clone()
                    .unwrap_or_else(|| "ThrottlingException: Rate exceeded".into()),
            ),
        };
        let Some(duration) = &f.duration else {
            c.error(span.clone(), "this fault needs `duration`, how long it lasts");
            continue;
        };
        let until = at + length(c, &Some(duration.clone()), "fault duration", Duration::ZERO).as_secs();
        faults.windows.push(FaultWindow { fault, from: at, until });
    }
    faults.writes.sort_by_key(|w| w.0);
    faults
}

fn deploys(c: &mut Checker, raw: &[Located<DeployFile>]) -> Vec<Deploy> {
    let mut out: Vec<Deploy> = Vec::new();
    for d in raw {
        let f = d.get();
        let at = secs(c, &f.at, "deploy at");
        if out.last().is_some_and(|last| last.at >= at) {
            c.error(f.at.span(), "deploys must be in increasing order of `at`");
        }
        let capacity = *f.capacity.get();
        if !(capacity.is_finite() && capacity > 0.05 && capacity <= 20.0) {
            c.error(
                f.capacity.span(),
                "a deploy's capacity is a share of the old, above 0.05 and at most 20",
            );
        }
        let rollout = offset(c, &f.rollout, "rollout", Duration::from_secs(120)).as_secs();
        out.push(Deploy { at, capacity, rollout });
    }
    out
}

//! Scenario files: the service, its traffic, CloudWatch's delivery and injected failures.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::policy::diagnostic::{Diagnostic, FileErrors, from_toml_error};
use crate::policy::duration;
use crate::policy::file::Located;

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub duration: u64,
    pub seed: u64,
    pub start: DateTime<Utc>,
    /// p99 above this counts as an SLO-violation second (seconds).
    pub slo_p99: f64,
    /// When the first load step happens, for "time to first scale-out".
    pub load_step_at: Option<u64>,
    pub service: ServiceModel,
    pub cloudwatch: CloudWatchModel,
    pub traffic: Traffic,
    pub failures: Vec<Failure>,
    pub faults: Faults,
}

#[derive(Debug, Clone)]
pub struct ServiceModel {
    pub initial_tasks: u32,
    /// Requests per second one task serves at 100 % CPU.
    pub capacity_rps: f64,
    /// CPU % of an idle task (runtime, health checks, logging).
    pub idle_cpu: f64,
    pub memory_percent: f64,
    /// Latency floor of a request (seconds).
    pub base_latency: f64,
    /// Launch to healthy in the target group (seconds), and its +/- spread.
    pub startup: f64,
    pub startup_jitter: f64,
    /// How long a dead task still receives requests before it leaves the target group.
    pub failure_detection: f64,
    /// How long ECS takes to launch a replacement for a task that died.
    pub replacement_delay: f64,
    /// Requests queued longer than this fail.
    pub request_timeout: f64,
    /// Each task's capacity is `capacity_rps` times 1 ± up to this (uniform), drawn at launch.
    pub capacity_spread: f64,
}

#[derive(Debug, Clone)]
pub struct CloudWatchModel {
    /// Publication delay of 1-minute metrics (ECS, ALB) after their minute ends.
    pub standard_delay: u64,
    /// Publication delay of high-resolution (sub-minute) metrics.
    pub high_resolution_delay: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadKind {
    /// Closed loop: users that wait for each answer, then think.
    Users,
    /// Open loop: requests per second regardless of how the service copes.
    Rate,
}

#[derive(Debug, Clone)]
pub struct Traffic {
    pub kind: LoadKind,
    /// Client-side round trip added to every request of a closed-loop user.
    pub rtt: f64,
    pub think_time: f64,
    /// Relative standard deviation of per-second noise.
    pub noise: f64,
    pub phases: Vec<Phase>,
    pub diurnal: Option<Diurnal>,
}

#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub at: u64,
    /// Users or requests per second, depending on the kind.
    pub level: f64,
    /// Linear ramp from the previous level.
    pub ramp: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Diurnal {
    pub min: f64,
    pub max: f64,
    pub peak_at: u64,
    pub period: u64,
    /// Load on days 6 and 7 of every week of the run (a run starting on a Monday has its
    /// weekend there), as a share of the weekday curve.
    pub weekend: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub at: u64,
    pub tasks: u32,
    pub kind: FailureKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The process dies: the load balancer keeps sending it requests, which fail, until
    /// its health checks notice (`failure_detection`).
    Crash,
    /// ECS stops the task (a deploy, a scale-in elsewhere, Fargate maintenance): it is
    /// deregistered at once and drains what it holds, so no request fails.
    Stop,
}

/// Faults of the world around the service, each in a window of the run.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub windows: Vec<FaultWindow>,
    /// Someone else sets the desired count (a person, a pipeline, another autoscaler).
    pub writes: Vec<(u64, u32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// GetMetricData fails: no rule has data, alarms have none.
    CloudWatchOutage,
    /// Datapoints appear this many seconds later than usual.
    LateDatapoints(u64),
    /// Each datapoint of a period starting in the window is missing with this probability.
    MissingDatapoints(f64),
    /// UpdateService answers with this error (throttling, a 5xx, access denied).
    UpdateServiceFails(String),
    /// An ECS deployment is in progress.
    Deployment,
    /// Each task launched in the window fails to start with this probability.
    FailedStarts(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    pub fault: Fault,
    pub from: u64,
    pub until: u64,
}

impl Faults {
    fn active(&self, t: u64) -> impl Iterator<Item = &Fault> {
        self.windows
            .iter()
            .filter(move |w| w.from <= t && t < w.until)
            .map(|w| &w.fault)
    }

    pub fn cloudwatch_down(&self, t: u64) -> bool {
        self.active(t).any(|f| *f == Fault::CloudWatchOutage)
    }

    /// Extra publication delay of datapoints read at `t`.
    pub fn extra_delay(&self, t: u64) -> u64 {
        self.active(t)
            .filter_map(|f| match f {
                Fault::LateDatapoints(d) => Some(*d),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether the datapoint of the period starting at `start` is missing for the series
    /// `series`: decided by a hash, so every scaler reading it sees the same gap.
    pub fn datapoint_missing(&self, seed: u64, series: u64, start: u64) -> bool {
        let p = self
            .active(start)
            .filter_map(|f| match f {
                Fault::MissingDatapoints(p) => Some(*p),
                _ => None,
            })
            .fold(0.0, f64::max);
        p > 0.0 && unit_hash(seed, series, start) < p
    }

    pub fn update_error(&self, t: u64) -> Option<&str> {
        self.active(t).find_map(|f| match f {
            Fault::UpdateServiceFails(e) => Some(e.as_str()),
            _ => None,
        })
    }

    pub fn deployment(&self, t: u64) -> bool {
        self.active(t).any(|f| *f == Fault::Deployment)
    }

    /// Probability that a task launched at `t` fails to start.
    pub fn start_failure(&self, t: u64) -> f64 {
        self.active(t)
            .filter_map(|f| match f {
                Fault::FailedStarts(p) => Some(*p),
                _ => None,
            })
            .fold(0.0, f64::max)
    }
}

/// A uniform number in [0, 1) from three integers (splitmix64): the same inputs give the
/// same draw in every run, whatever else the run did.
pub fn unit_hash(a: u64, b: u64, c: u64) -> f64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(c.wrapping_mul(0x94D0_49BB_1331_11EB));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl Traffic {
    /// The noiseless load level (users or requests/s) at second `t`.
    pub fn level(&self, t: u64) -> f64 {
        if let Some(d) = self.diurnal {
            let phase = (t as f64 - d.peak_at as f64) / d.period as f64 * std::f64::consts::TAU;
            let day = (t / 86_400) % 7;
            let share = if day >= 5 { d.weekend } else { 1.0 };
            return (d.min + (d.max - d.min) * (1.0 + phase.cos()) / 2.0) * share;
        }
        // Phases are sorted and each ramp ends before the next phase (the parser checks), so
        // the phase in force and the one before it decide; a binary search keeps a replay of
        // weeks of per-minute phases fast.
        let i = self.phases.partition_point(|p| p.at <= t);
        let Some(p) = i.checked_sub(1).map(|i| &self.phases[i]) else {
            return 0.0;
        };
        let from = i.checked_sub(2).map_or(0.0, |j| self.phases[j].level);
        let into = t - p.at;
        if p.ramp > 0 && into < p.ramp {
            from + (p.level - from) * into as f64 / p.ramp as f64
        } else {
            p.level
        }
    }

    /// Requests per second the load would send to a service answering in `latency` seconds.
    pub fn offered_rate(&self, level: f64, latency: f64) -> f64 {
        match self.kind {
            LoadKind::Rate => level,
            LoadKind::Users => level / (self.rtt + self.think_time + latency).max(1e-3),
        }
    }

    /// The first time the load rises after the start.
    pub fn first_step(&self) -> Option<u64> {
        let mut previous = None;
        for p in &self.phases {
            if let Some(prev) = previous
                && p.level > prev
                && p.at > 0
            {
                return Some(p.at);
            }
            previous = Some(p.level);
        }
        None
    }
}

impl Scenario {
    /// What happens to the world and when, for markers on charts: load steps (when the
    /// load is a handful of phases, not a replayed recording), task failures and faults.
    pub fn steps(&self) -> Vec<(f64, String)> {
        let unit = match self.traffic.kind {
            LoadKind::Users => "users",
            LoadKind::Rate => "req/s",
        };
        let mut out = Vec::new();
        if self.traffic.diurnal.is_none() && self.traffic.phases.len() <= 12 {
            for pair in self.traffic.phases.windows(2) {
                out.push((
                    pair[1].at as f64,
                    format!("load {:.0} → {:.0} {unit}", pair[0].level, pair[1].level),
                ));
            }
        }
        for f in &self.failures {
            let what = match f.kind {
                FailureKind::Crash => "crash",
                FailureKind::Stop => "stop",
            };
            out.push((f.at as f64, format!("{what} of {} task(s)", f.tasks)));
        }
        for w in &self.faults.windows {
            let what = match &w.fault {
                Fault::CloudWatchOutage => "CloudWatch outage".to_string(),
                Fault::LateDatapoints(s) => format!("datapoints {s} s late"),
                Fault::MissingDatapoints(p) => format!("{:.0} % of datapoints missing", p * 100.0),
                Fault::UpdateServiceFails(e) => format!("UpdateService fails: {e}"),
                Fault::Deployment => "deployment".to_string(),
                Fault::FailedStarts(p) => format!("{:.0} % of starts fail", p * 100.0),
            };
            out.push((w.from as f64, what));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

// ---- the file format ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    #[serde(default)]
    description: String,
    duration: Located<String>,
    #[serde(default)]
    seed: u64,
    start: Option<Located<String>>,
    slo_p99: Option<Located<String>>,
    load_step_at: Option<Located<String>>,
    service: ServiceFile,
    #[serde(default)]
    cloudwatch: CloudWatchFile,
    traffic: Located<TrafficFile>,
    #[serde(default, rename = "failure")]
    failures: Vec<FailureFile>,
    #[serde(default, rename = "fault")]
    faults: Vec<Located<FaultFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    initial_tasks: Located<u32>,
    capacity_rps: Located<f64>,
    #[serde(default = "default_idle_cpu")]
    idle_cpu: f64,
    #[serde(default = "default_memory")]
    memory_percent: f64,
    base_latency: Option<Located<String>>,
    startup: Option<Located<String>>,
    startup_jitter: Option<Located<String>>,
    failure_detection: Option<Located<String>>,
    replacement_delay: Option<Located<String>>,
    request_timeout: Option<Located<String>>,
    #[serde(default)]
    capacity_spread: Option<Located<f64>>,
}

fn default_idle_cpu() -> f64 {
    15.0
}
fn default_memory() -> f64 {
    30.0
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CloudWatchFile {
    standard_delay: Option<Located<String>>,
    high_resolution_delay: Option<Located<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum LoadKindFile {
    Users,
    Rate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficFile {
    kind: LoadKindFile,
    rtt: Option<Located<String>>,
    think_time: Option<Located<String>>,
    #[serde(default)]
    noise: f64,
    #[serde(default, rename = "phase")]
    phases: Vec<Located<PhaseFile>>,
    diurnal: Option<DiurnalFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseFile {
    at: Located<String>,
    users: Option<f64>,
    rate: Option<f64>,
    ramp: Option<Located<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiurnalFile {
    min: f64,
    max: f64,
    peak_at: Located<String>,
    period: Option<Located<String>>,
    weekend: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureFile {
    at: Located<String>,
    #[serde(default = "one")]
    tasks: u32,
    #[serde(default)]
    kind: FailureKindFile,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum FailureKindFile {
    #[default]
    Crash,
    Stop,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    kind: FaultKindFile,
    at: Located<String>,
    duration: Option<Located<String>>,
    delay: Option<Located<String>>,
    probability: Option<Located<f64>>,
    error: Option<String>,
    desired: Option<u32>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum FaultKindFile {
    CloudwatchOutage,
    LateDatapoints,
    MissingDatapoints,
    UpdateServiceFails,
    Deployment,
    FailedStarts,
    OtherWriter,
}

fn one() -> u32 {
    1
}

struct Reader<'a> {
    file: &'a Path,
    source: &'a str,
    errors: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn error(&mut self, span: std::ops::Range<usize>, msg: impl Into<String>) {
        self.errors
            .push(Diagnostic::at(self.file, self.source, Some(span), msg));
    }

    fn dur(&mut self, v: &Option<Located<String>>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(v) => match duration::parse(v.get()) {
                Ok(d) => d,
                Err(e) => {
                    self.error(v.span(), e);
                    default
                }
            },
        }
    }

    fn secs(&mut self, v: &Located<String>) -> u64 {
        self.dur(&Some(v.clone()), Duration::ZERO).as_secs()
    }
}

pub fn parse(file: &Path, source: &str) -> Result<Scenario, FileErrors> {
    let raw: ScenarioFile = toml::from_str(source).map_err(|e| FileErrors(vec![from_toml_error(file, source, &e)]))?;
    let mut r = Reader {
        file,
        source,
        errors: Vec::new(),
    };

    let duration = r.secs(&raw.duration);
    if duration == 0 || duration > 30 * 86_400 {
        r.error(raw.duration.span(), "duration must be between 1s and 30 days");
    }
    let start = match &raw.start {
        None => DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .ok(),
        Some(s) => match DateTime::parse_from_rfc3339(s.get()) {
            Ok(d) => Some(d.with_timezone(&Utc)),
            Err(e) => {
                r.error(
                    s.span(),
                    format!("start must be an RFC 3339 time such as 2026-01-05T09:00:00Z ({e})"),
                );
                None
            }
        },
    };
    let slo_p99 = r.dur(&raw.slo_p99, Duration::from_millis(150)).as_secs_f64();

    let s = &raw.service;
    if *s.capacity_rps.get() <= 0.0 {
        r.error(s.capacity_rps.span(), "capacity_rps must be greater than zero");
    }
    if *s.initial_tasks.get() == 0 {
        r.error(s.initial_tasks.span(), "initial_tasks must be at least 1");
    }
    let service = ServiceModel {
        initial_tasks: *s.initial_tasks.get(),
        capacity_rps: *s.capacity_rps.get(),
        idle_cpu: s.idle_cpu.clamp(0.0, 90.0),
        memory_percent: s.memory_percent.clamp(0.0, 100.0),
        base_latency: r.dur(&s.base_latency, Duration::from_millis(2)).as_secs_f64(),
        startup: r.dur(&s.startup, Duration::from_secs(75)).as_secs_f64(),
        startup_jitter: r.dur(&s.startup_jitter, Duration::from_secs(15)).as_secs_f64(),
        failure_detection: r.dur(&s.failure_detection, Duration::from_secs(10)).as_secs_f64(),
        replacement_delay: r.dur(&s.replacement_delay, Duration::from_secs(5)).as_secs_f64(),
        request_timeout: r.dur(&s.request_timeout, Duration::from_secs(10)).as_secs_f64(),
        capacity_spread: match &s.capacity_spread {
            None => 0.0,
            Some(v) if (0.0..0.9).contains(v.get()) => *v.get(),
            Some(v) => {
                r.error(v.span(), "capacity_spread must be at least 0 and below 0.9");
                0.0
            }
        },
    };
    let cloudwatch = CloudWatchModel {
        standard_delay: r.dur(&raw.cloudwatch.standard_delay, Duration::from_secs(10)).as_secs(),
        high_resolution_delay: r
            .dur(&raw.cloudwatch.high_resolution_delay, Duration::from_secs(5))
            .as_secs(),
    };

    let t = raw.traffic.get();
    let kind = match t.kind {
        LoadKindFile::Users => LoadKind::Users,
        LoadKindFile::Rate => LoadKind::Rate,
    };
    let mut phases = Vec::new();
    for p in &t.phases {
        let ph = p.get();
        let level = match (kind, ph.users, ph.rate) {
            (LoadKind::Users, Some(u), None) => u,
            (LoadKind::Rate, None, Some(q)) => q,
            _ => {
                let want = if kind == LoadKind::Users { "users" } else { "rate" };
                r.error(
                    p.span(),
                    format!("each phase of this traffic needs `{want}` (and only that)"),
                );
                0.0
            }
        };
        if !(level.is_finite() && level >= 0.0) {
            r.error(p.span(), "a phase's level must be a non-negative number");
        }
        let at = r.secs(&ph.at);
        if phases.last().is_some_and(|last: &Phase| last.at >= at) {
            r.error(ph.at.span(), "phases must be in increasing order of `at`");
        }
        let ramp = r.dur(&ph.ramp, Duration::ZERO).as_secs();
        if let Some(last) = phases.last()
            && last.at + last.ramp > at
            && let Some(ramp_text) = &t.phases[phases.len() - 1].get().ramp
        {
            r.error(
                ramp_text.span(),
                "this ramp lasts past the next phase's start; shorten it or move the next phase",
            );
        }
        phases.push(Phase { at, level, ramp });
    }
    let diurnal = t.diurnal.as_ref().map(|d| Diurnal {
        min: d.min,
        max: d.max,
        peak_at: r.secs(&d.peak_at),
        period: r.dur(&d.period, Duration::from_secs(86_400)).as_secs().max(1),
        weekend: d.weekend.unwrap_or(1.0).clamp(0.0, 10.0),
    });
    if phases.is_empty() == diurnal.is_none() {
        r.error(
            raw.traffic.span(),
            "traffic needs either [[traffic.phase]] entries or a [traffic.diurnal] curve",
        );
    }
    if !(0.0..=0.5).contains(&t.noise) {
        r.error(raw.traffic.span(), "traffic noise must be between 0 and 0.5");
    }
    let traffic = Traffic {
        kind,
        rtt: r.dur(&t.rtt, Duration::from_millis(40)).as_secs_f64(),
        think_time: r.dur(&t.think_time, Duration::ZERO).as_secs_f64(),
        noise: t.noise,
        phases,
        diurnal,
    };
    let failures = raw
        .failures
        .iter()
        .map(|f| Failure {
            at: r.secs(&f.at),
            tasks: f.tasks,
            kind: match f.kind {
                FailureKindFile::Crash => FailureKind::Crash,
                FailureKindFile::Stop => FailureKind::Stop,
            },
        })
        .collect();
    let faults = read_faults(&mut r, &raw.faults);
    let load_step_at = match &raw.load_step_at {
        Some(v) => Some(r.secs(v)),
        None => traffic.first_step(),
    };

    if !r.errors.is_empty() {
        return Err(FileErrors(r.errors));
    }
    Ok(Scenario {
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
        service,
        cloudwatch,
        traffic,
        failures,
        faults,
    })
}

fn read_faults(r: &mut Reader, raw: &[Located<FaultFile>]) -> Faults {
    let mut faults = Faults::default();
    for located in raw {
        let f = located.get();
        let span = located.span();
        let at = r.secs(&f.at);
        let probability = |r: &mut Reader| match &f.probability {
            Some(p) if (0.0..=1.0).contains(p.get()) => *p.get(),
            Some(p) => {
                r.error(p.span(), "probability must be between 0 and 1");
                0.0
            }
            None => {
                r.error(span.clone(), "this fault needs `probability` (0 to 1)");
                0.0
            }
        };
        let fault = match f.kind {
            FaultKindFile::OtherWriter => {
                match f.desired {
                    Some(d) => faults.writes.push((at, d)),
                    None => r.error(span.clone(), "an other_writer fault needs `desired`, the count it sets"),
                }
                continue;
            }
            FaultKindFile::CloudwatchOutage => Fault::CloudWatchOutage,
            FaultKindFile::Deployment => Fault::Deployment,
            FaultKindFile::LateDatapoints => match &f.delay {
                Some(d) => Fault::LateDatapoints(r.secs(d)),
                None => {
                    r.error(span.clone(), "a late_datapoints fault needs `delay`, such as \"2m\"");
                    continue;
                }
            },
            FaultKindFile::MissingDatapoints => Fault::MissingDatapoints(probability(r)),
            FaultKindFile::FailedStarts => Fault::FailedStarts(probability(r)),
            FaultKindFile::UpdateServiceFails => Fault::UpdateServiceFails(
                f.error
                    .clone()
                    .unwrap_or_else(|| "ThrottlingException: Rate exceeded".into()),
            ),
        };
        let Some(duration) = &f.duration else {
            r.error(span.clone(), "this fault needs `duration`, how long it lasts");
            continue;
        };
        let until = at + r.secs(duration);
        faults.windows.push(FaultWindow { fault, from: at, until });
    }
    faults.writes.sort_by_key(|w| w.0);
    faults
}

pub fn load(path: &Path) -> Result<Scenario, FileErrors> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| FileErrors(vec![Diagnostic::at(path, "", None, format!("cannot read file: {e}"))]))?;
    parse(path, &source)
}

/// The scenario `simulate` and the daemon's `sim` backend use when none is given.
pub const DEFAULT: (&str, &str) = (
    "scenarios/original-experiment.toml",
    include_str!("../../scenarios/original-experiment.toml"),
);

pub fn default_scenario() -> Scenario {
    // The embedded file is covered by tests; failing here is a build defect, not bad input.
    parse(Path::new(DEFAULT.0), DEFAULT.1).unwrap_or_else(|e| panic!("embedded scenario is invalid: {e}"))
}

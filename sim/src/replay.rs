//! Recorded traffic: the CSV `record` writes (one row per minute, or per coarser period:
//! requests per minute, CPU, desired and running counts, as CloudWatch had them) and what `simulate --traffic` replays. The
//! requests become the scenario's load, per second with the scenario's noise; the counts
//! are what actually happened, shown next to what each scaler would have done.

use std::path::Path;

use serde::Serialize;

use super::scenario::{LoadKind, Phase, Scenario};
use autoscaler_core::policy::diagnostic::{Diagnostic, FileErrors};

pub use autoscaler_core::load::Minute;

#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub name: String,
    pub minutes: Vec<Minute>,
}

/// What the recorded service did, in the simulator's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Actual {
    pub task_seconds: f64,
    pub scale_outs: u32,
    pub scale_ins: u32,
    pub max_tasks: u32,
    pub mean_cpu: Option<f64>,
}

/// Longest recording `simulate --traffic` replays (the scenario limit).
const MAX_MINUTES: usize = 30 * 24 * 60;

pub fn read(path: &Path) -> Result<Recording, FileErrors> {
    let fail = |line: Option<u64>, msg: String| {
        let at = line.map_or(String::new(), |l| format!(":{l}"));
        FileErrors(vec![Diagnostic::at(
            Path::new(&format!("{}{at}", path.display())),
            "",
            None,
            msg,
        )])
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| fail(None, format!("cannot read file: {e}")))?;
    let mut minutes: Vec<Minute> = Vec::new();
    for row in reader.deserialize::<Minute>() {
        let minute = row.map_err(|e| {
            let line = e.position().map(|p| p.line());
            fail(
                line,
                format!("{e}; a row is timestamp,requests,cpu,desired,running (the last three may be empty)"),
            )
        })?;
        let line = Some(minutes.len() as u64 + 2);
        if !(minute.requests.is_finite() && minute.requests >= 0.0) {
            return Err(fail(
                line,
                format!("requests {} must be a count, 0 or more", minute.requests),
            ));
        }
        if let Some(prev) = minutes.last()
            && minute.timestamp <= prev.timestamp
        {
            return Err(fail(line, "timestamps must increase from row to row".into()));
        }
        if minutes.len() == MAX_MINUTES
            || minutes
                .first()
                .is_some_and(|f: &Minute| (minute.timestamp - f.timestamp).num_seconds() >= MAX_MINUTES as i64 * 60)
        {
            return Err(fail(line, "the recording spans more than 30 days".into()));
        }
        if minute.desired.max(minute.running).unwrap_or(0) > autoscaler_core::policy::MAX_TASKS {
            return Err(fail(
                line,
                format!(
                    "a count above {} tasks is not a recording of one service",
                    autoscaler_core::policy::MAX_TASKS
                ),
            ));
        }
        minutes.push(minute);
    }
    if minutes.is_empty() {
        return Err(fail(None, "no rows: nothing to replay".into()));
    }
    Ok(Recording {
        name: path
            .file_stem()
            .map_or("traffic".into(), |s| s.to_string_lossy().into_owned()),
        minutes,
    })
}

pub fn write(out: impl std::io::Write, minutes: &[Minute]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    for m in minutes {
        w.serialize(m)?;
    }
    w.flush()?;
    Ok(())
}

impl Recording {
    fn offset(&self, m: &Minute) -> u64 {
        (m.timestamp - self.minutes[0].timestamp).num_seconds().max(0) as u64
    }

    /// `base` (its service model, CloudWatch and noise) with the recorded load: each
    /// minute's requests as a rate reached by a one-minute ramp. A minute without a row
    /// keeps the rate before it. The run starts with the recorded running (or desired) count.
    pub fn scenario(&self, base: &Scenario) -> Scenario {
        let phases = self
            .minutes
            .iter()
            .map(|m| Phase {
                at: self.offset(m),
                level: m.requests / 60.0,
                ramp: if m == &self.minutes[0] { 0 } else { 60 },
            })
            .collect();
        let last = self.minutes.last().map_or(0, |m| self.offset(m)) + self.last_span();
        let mut s = base.clone();
        s.name = self.name.clone();
        s.description = format!("replay of {} minutes of recorded traffic", self.minutes.len());
        s.start = self.minutes[0].timestamp;
        s.duration = last;
        s.load_step_at = None;
        s.failures.clear();
        s.traffic.kind = LoadKind::Rate;
        s.traffic.phases = phases;
        s.traffic.diurnal = None;
        if let Some(n) = self.minutes[0].running.or(self.minutes[0].desired).filter(|&n| n > 0) {
            s.service.initial_tasks = n;
        }
        s
    }

    /// How long the last row stands: as long as the one before it (a minute for one row).
    fn last_span(&self) -> u64 {
        match self.minutes.as_slice() {
            [.., a, b] => (b.timestamp - a.timestamp).num_seconds().max(1) as u64,
            _ => 60,
        }
    }

    /// Seconds each row stands: until the next one, the last for as long as the one before it.
    pub fn spans(&self) -> Vec<f64> {
        self.minutes
            .windows(2)
            .map(|w| (w[1].timestamp - w[0].timestamp).num_seconds() as f64)
            .chain(std::iter::once(self.last_span() as f64))
            .collect()
    }

    /// What happened: task-seconds from the running counts, actions from desired-count changes.
    pub fn actual(&self) -> Actual {
        let running: Vec<u32> = self.minutes.iter().filter_map(|m| m.running).collect();
        let desired: Vec<u32> = self.minutes.iter().filter_map(|m| m.desired).collect();
        let cpu: Vec<f64> = self.minutes.iter().filter_map(|m| m.cpu).collect();
        let changes = |up: bool| {
            desired
                .windows(2)
                .filter(|w| if up { w[1] > w[0] } else { w[1] < w[0] })
                .count() as u32
        };
        let task_seconds = self
            .minutes
            .iter()
            .zip(self.spans())
            .filter_map(|(m, span)| m.running.map(|n| f64::from(n) * span))
            .sum();
        Actual {
            task_seconds,
            scale_outs: changes(true),
            scale_ins: changes(false),
            max_tasks: running.iter().copied().max().unwrap_or(0),
            mean_cpu: (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traffic.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_recording_replays_its_rates_and_reports_what_happened() {
        let (_dir, path) = file(
            "timestamp,requests,cpu,desired,running\n\
             2026-03-02T10:00:00Z,60000,40,2,2\n\
             2026-03-02T10:01:00Z,120000,75,2,2\n\
             2026-03-02T10:02:00Z,120000,,3,3\n\
             2026-03-02T10:05:00Z,60000,45,2,2\n",
        );
        let rec = read(&path).unwrap();
        let s = rec.scenario(&super::super::scenario::default_scenario());
        assert_eq!(s.duration, 480, "the last row stands as long as the gap before it");
        assert_eq!(s.service.initial_tasks, 2);
        assert_eq!(s.traffic.level(0), 1000.0);
        assert_eq!(s.traffic.level(90), 1500.0, "half way up the one-minute ramp");
        assert_eq!(s.traffic.level(250), 2000.0, "a missing minute keeps the rate");
        assert_eq!(s.traffic.level(330), 1500.0, "and ramps to the next recorded minute");
        let a = rec.actual();
        assert_eq!((a.scale_outs, a.scale_ins, a.max_tasks), (1, 1, 3));
        // 2 + 2 + 3 tasks for a minute each, 3 more minutes of 3 until the last row, then 2.
        assert_eq!(a.task_seconds, (2.0 + 2.0 + 3.0 * 3.0 + 2.0 * 3.0) * 60.0);
    }

    #[test]
    fn a_bad_row_is_located_and_says_what_a_row_is() {
        let (_dir, path) = file("timestamp,requests,cpu,desired,running\n2026-03-02T10:00:00Z,many,,,\n");
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("traffic.csv:2") && e.contains("timestamp,requests"), "{e}");
        let (_dir, path) =
            file("timestamp,requests,cpu,desired,running\n2026-03-02T10:01:00Z,1,,,\n2026-03-02T10:00:00Z,1,,,\n");
        assert!(read(&path).unwrap_err().to_string().contains("increase"));
        let (_dir, path) = file("timestamp,requests,cpu,desired,running\n");
        assert!(read(&path).unwrap_err().to_string().contains("no rows"));
    }

    #[test]
    fn what_record_writes_replay_reads() {
        let minutes = vec![
            Minute {
                timestamp: "2026-03-02T10:00:00Z".parse().unwrap(),
                requests: 6000.0,
                cpu: Some(41.5),
                desired: Some(2),
                running: None,
            },
            Minute {
                timestamp: "2026-03-02T10:01:00Z".parse().unwrap(),
                requests: 0.0,
                cpu: None,
                desired: None,
                running: Some(2),
            },
        ];
        let (_dir, path) = file("");
        write(std::fs::File::create(&path).unwrap(), &minutes).unwrap();
        assert_eq!(read(&path).unwrap().minutes, minutes);
    }
}

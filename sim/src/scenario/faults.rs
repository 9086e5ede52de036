//! Faults of the world around the service, each in a window of the run, and the
//! questions the world, the reader of metrics and the comparators ask of them.

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

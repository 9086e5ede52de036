//! The simulated seconds of a run, by their time since its start. A backtest keeps every
//! second (its report charts them); the daemon's `sim` backend, which runs for as long as
//! the daemon does, keeps a window long enough for every metric read and alarm.

/// One simulated second, as recorded for metrics, the timeline and the summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Second {
    pub offered: f64,
    pub served: f64,
    pub failed: f64,
    /// Failed by a task in service (timed out in its queue): what the service counts
    /// itself. Requests sent to a crashed task or to no task at all fail at the load
    /// balancer, where only the ALB's 5xx count sees them.
    pub failed_in_service: f64,
    pub desired: u32,
    pub healthy: u32,
    pub provisioning: u32,
    /// Targets the load balancer sent requests to: the healthy tasks and crashed ones it
    /// has not noticed yet.
    pub targets: u32,
    /// Tasks launched in this second.
    pub launched: u32,
    /// Average CPU % of healthy tasks; None without any.
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    /// Response time distribution of the second's slow tail: shift + Exp(mean). With
    /// uneven tasks it is the distribution of the task at the 99th percentile.
    pub latency_shift: f64,
    pub latency_mean: f64,
    /// Messages waiting in the shared queue at the end of the second (a queue-fed service).
    pub backlog: f64,
}

impl Second {
    /// The q-quantile (0..1) of this second's response time.
    pub fn latency_quantile(&self, q: f64) -> f64 {
        self.latency_shift + self.latency_mean * -(1.0 - q).ln()
    }

    pub fn p99(&self) -> f64 {
        self.latency_quantile(0.99)
    }

    /// Tasks Fargate bills for in this second: those launched or running.
    pub fn billed(&self) -> u32 {
        self.healthy + self.provisioning
    }
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The time of `seconds[0]`.
    first: u64,
    seconds: Vec<Second>,
    /// Seconds kept at least, when bounded.
    keep: Option<u64>,
}

impl Timeline {
    /// Every second of a run of `duration` seconds.
    pub fn whole(duration: u64) -> Self {
        Self {
            first: 0,
            seconds: Vec::with_capacity(duration as usize),
            keep: None,
        }
    }

    /// The last `keep` seconds, at least.
    pub fn window(keep: u64) -> Self {
        Self {
            first: 0,
            seconds: Vec::new(),
            keep: Some(keep.max(1)),
        }
    }

    /// Seconds recorded so far: the time of the next one.
    pub fn end(&self) -> u64 {
        self.first + self.seconds.len() as u64
    }

    pub fn push(&mut self, s: Second) {
        self.seconds.push(s);
        // Dropped in batches of one window: each second is moved once on average.
        if let Some(keep) = self.keep
            && self.seconds.len() as u64 >= 2 * keep
        {
            let drop = self.seconds.len() - keep as usize;
            self.seconds.drain(..drop);
            self.first += drop as u64;
        }
    }

    /// The seconds in `start..end` that are still kept, if any.
    pub fn range(&self, start: u64, end: u64) -> Option<&[Second]> {
        let from = start.checked_sub(self.first)? as usize;
        let to = (end.saturating_sub(self.first) as usize).min(self.seconds.len());
        self.seconds.get(from..to)
    }

    /// The second at `t`, if kept.
    pub fn at(&self, t: u64) -> Option<&Second> {
        self.seconds.get(t.checked_sub(self.first)? as usize)
    }

    /// Every second kept, oldest first.
    pub fn kept(&self) -> &[Second] {
        &self.seconds
    }

    pub fn into_seconds(self) -> Vec<Second> {
        self.seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(offered: f64) -> Second {
        Second {
            offered,
            ..Second::default()
        }
    }

    #[test]
    fn a_window_keeps_at_least_its_length_and_at_most_twice_it() {
        let mut t = Timeline::window(100);
        for i in 0..1_000 {
            t.push(second(i as f64));
            let kept = t.kept().len() as u64;
            assert!(kept <= 200 && kept >= (i + 1).min(100), "{kept} kept after {}", i + 1);
        }
        assert_eq!(t.end(), 1_000);
        assert_eq!(t.at(999).map(|s| s.offered), Some(999.0));
        assert_eq!(t.range(950, 960).map(|s| s[0].offered), Some(950.0));
        assert!(t.at(10).is_none(), "long dropped");
    }

    #[test]
    fn a_whole_run_keeps_everything() {
        let mut t = Timeline::whole(10);
        (0..10).for_each(|i| t.push(second(i as f64)));
        assert_eq!(t.range(0, 10).map(<[Second]>::len), Some(10));
        assert_eq!(t.range(8, 20).map(<[Second]>::len), Some(2));
    }
}

//! A circuit breaker per AWS API, so a failing CloudWatch does not stall every round with
//! retries and timeouts: after a run of failures calls fail fast for a while, then one
//! trial call decides whether to close again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a call may go out now; when open, how long until a trial is allowed.
    pub fn admit(&self, now: Instant) -> Result<(), Duration> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state.open_until {
            Some(until) if now < until => Err(until - now),
            _ => Ok(()),
        }
    }

    pub fn record(&self, ok: bool, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            *state = State::default();
        } else {
            state.failures += 1;
            if state.failures >= self.threshold {
                state.open_until = Some(now + self.open_for);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_a_run_of_failures_and_closes_after_a_good_trial() {
        let b = Breaker::new(3, Duration::from_secs(30));
        let t = Instant::now();
        for _ in 0..2 {
            b.record(false, t);
        }
        assert!(b.admit(t).is_ok(), "two failures are not a run yet");
        b.record(false, t);
        assert_eq!(b.admit(t + Duration::from_secs(10)), Err(Duration::from_secs(20)));
        assert!(b.admit(t + Duration::from_secs(31)).is_ok(), "half-open: one trial");
        b.record(false, t + Duration::from_secs(31));
        assert!(
            b.admit(t + Duration::from_secs(32)).is_err(),
            "a failed trial opens it again"
        );
        b.record(true, t + Duration::from_secs(62));
        assert!(b.admit(t + Duration::from_secs(62)).is_ok());
        b.record(false, t + Duration::from_secs(63));
        assert!(b.admit(t + Duration::from_secs(63)).is_ok(), "a success resets the run");
    }
}

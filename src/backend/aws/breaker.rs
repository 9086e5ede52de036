//! Circuit breakers, so a failing API does not stall every round with retries and
//! timeouts: after a run of failures calls fail fast for a while, then exactly one trial
//! call decides whether to close again.
//!
//! Only unavailability counts (throttling, server errors, timeouts): a request AWS
//! refuses (unknown cluster, access denied) will not pass by waiting, and says nothing
//! about whether the API is up. Breakers are kept per API and, for per-service calls,
//! per service ([`Breakers`]), so one target's failures never open another's.

use std::collections::HashMap;
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
    /// Half-open: when the one trial call went out; everyone else waits for its outcome,
    /// or for `open_for` if the trial never reports (its caller gave up on it).
    trial_out: Option<Instant>,
}

/// A call the breaker let through; report how it went with [`Breaker::record`].
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted {
    trial: bool,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a call may go out now; when not, how long until a trial may.
    pub fn admit(&self, now: Instant) -> Result<Admitted, Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state.open_until {
            None => Ok(Admitted { trial: false }),
            Some(until) if now < until => Err(until - now),
            // Half-open: let exactly one trial through.
            Some(_) if state.trial_out.is_some_and(|t| now < t + self.open_for) => Err(Duration::ZERO),
            Some(_) => {
                state.trial_out = Some(now);
                Ok(Admitted { trial: true })
            }
        }
    }

    /// Records the outcome of an admitted call. `unavailable` is true for throttling,
    /// server errors and timeouts only; any answer at all (even a refusal) is a sign of life.
    pub fn record(&self, call: Admitted, unavailable: bool, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if call.trial {
            state.trial_out = None;
        }
        if !unavailable {
            *state = State::default();
            return;
        }
        state.failures += 1;
        if call.trial || state.failures >= self.threshold {
            state.open_until = Some(now + self.open_for);
        }
    }
}

/// One breaker per key (a service), created on first use.
#[derive(Debug)]
pub struct Breakers {
    threshold: u32,
    open_for: Duration,
    by_key: Mutex<HashMap<String, std::sync::Arc<Breaker>>>,
}

impl Breakers {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold,
            open_for,
            by_key: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> std::sync::Arc<Breaker> {
        let mut map = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        std::sync::Arc::clone(
            map.entry(key.to_string())
                .or_insert_with(|| std::sync::Arc::new(Breaker::new(self.threshold, self.open_for))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_a_run_of_unavailability_and_closes_after_a_good_trial() {
        let b = Breaker::new(3, Duration::from_secs(30));
        let t = Instant::now();
        for _ in 0..2 {
            let call = b.admit(t).unwrap();
            b.record(call, true, t);
        }
        assert!(b.admit(t).is_ok(), "two failures are not a run yet");
        let call = b.admit(t).unwrap();
        b.record(call, true, t);
        assert_eq!(b.admit(t + Duration::from_secs(10)), Err(Duration::from_secs(20)));

        let trial = b.admit(t + Duration::from_secs(31)).expect("half-open: one trial");
        assert!(
            b.admit(t + Duration::from_secs(31)).is_err(),
            "only one trial while half-open"
        );
        b.record(trial, true, t + Duration::from_secs(31));
        assert!(
            b.admit(t + Duration::from_secs(32)).is_err(),
            "a failed trial opens it again at once"
        );
        let trial = b.admit(t + Duration::from_secs(62)).unwrap();
        b.record(trial, false, t + Duration::from_secs(62));
        let call = b.admit(t + Duration::from_secs(62)).expect("closed after a good trial");
        b.record(call, true, t + Duration::from_secs(63));
        assert!(b.admit(t + Duration::from_secs(63)).is_ok(), "a success resets the run");
    }

    #[test]
    fn a_trial_whose_caller_gave_up_does_not_hold_the_breaker_half_open() {
        let b = Breaker::new(1, Duration::from_secs(30));
        let t = Instant::now();
        let call = b.admit(t).unwrap();
        b.record(call, true, t);
        // The trial goes out; its caller is cancelled by a deadline and never records it.
        let _abandoned = b.admit(t + Duration::from_secs(31)).expect("trial");
        assert!(b.admit(t + Duration::from_secs(40)).is_err(), "still waiting for it");
        assert!(
            b.admit(t + Duration::from_secs(62)).is_ok(),
            "after another open period a new trial goes out"
        );
    }

    #[test]
    fn refusals_are_a_sign_of_life_not_an_outage() {
        let b = Breaker::new(2, Duration::from_secs(30));
        let t = Instant::now();
        for _ in 0..10 {
            let call = b.admit(t).unwrap();
            b.record(call, false, t);
        }
        assert!(b.admit(t).is_ok());
    }

    #[test]
    fn one_key_failing_leaves_the_others_closed() {
        let breakers = Breakers::new(1, Duration::from_secs(30));
        let t = Instant::now();
        let bad = breakers.get("missing/cluster");
        let call = bad.admit(t).unwrap();
        bad.record(call, true, t);
        assert!(breakers.get("missing/cluster").admit(t).is_err());
        assert!(breakers.get("search/search-service").admit(t).is_ok());
    }
}

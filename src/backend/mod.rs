//! The edge between the decision core and the world: two small traits every backend
//! implements, and the clocks the daemon runs on.

#[cfg(feature = "aws")]
pub mod aws;
pub mod events;
pub mod local;
pub mod scripted;
pub mod sim;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use autoscaler_core::decide::{Capacity, Sample};
use autoscaler_core::migrate::scaling::{AwsScaling, Suspended};
use autoscaler_core::policy::{Policy, Target};

/// Why a backend call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The call failed or timed out; trying again later may work.
    #[error("{call} failed: {reason}")]
    Unavailable { call: &'static str, reason: String },
    /// The backend refused the request (unknown service, bad parameters).
    #[error("{call} was rejected: {reason}")]
    Rejected { call: &'static str, reason: String },
}

/// Reads metrics. One call per evaluation round covers every policy that is due, so a
/// backend can batch its queries. A rule without data gets a [`Sample::Missing`] with its
/// cause ([`autoscaler_core::decide::MissingCause::ReadFailed`] when the read itself
/// failed, set alike by every backend) and the reason; reading never fails as a whole.
pub trait MetricSource: Send + Sync + 'static {
    fn read(
        &self,
        policies: &[&Policy],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Vec<BTreeMap<String, Sample>>> + Send;

    /// The load of a predicting policy's `[predict]` rule, per minute, over the history the
    /// policy keeps before `now`: what the backend remembers, loaded once at start so a new
    /// daemon need not wait days to forecast. Backends that remember nothing (`sim`,
    /// `local`) have none: there the history is the rounds'.
    fn demand_history(
        &self,
        _policy: &Policy,
        _now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<(DateTime<Utc>, f64)>, BackendError>> + Send {
        async { Ok(Vec::new()) }
    }
}

/// Reads and sets a service's task counts. Reads of one round arrive together, so a
/// backend may answer several with one call.
pub trait CapacityTarget: Send + Sync + 'static {
    fn capacity(&self, target: &Target) -> impl Future<Output = Result<Capacity, BackendError>> + Send;
    fn set_desired(&self, target: &Target, desired: u32) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// AWS's own scaler of the target (Application Auto Scaling), as configured now.
    /// Backends of worlds without one (`local`, `sim`) have none.
    fn other_scaler(&self, _target: &Target) -> impl Future<Output = Result<Option<AwsScaling>, BackendError>> + Send {
        async { Ok(None) }
    }

    /// Suspends or restores AWS's own scaling of the target.
    fn suspend_other(&self, _target: &Target, _to: Suspended) -> impl Future<Output = Result<(), BackendError>> + Send {
        async { Ok(()) }
    }
}

/// Time as the daemon sees it. Real for production, accelerated for the `sim` backend.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// How long to wait in real time (tokio's) until the clock shows `t`.
    fn real_until(&self, t: DateTime<Utc>) -> Duration;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn real_until(&self, t: DateTime<Utc>) -> Duration {
        autoscaler_core::time::to_std(t - Utc::now())
    }
}

/// Tokio's clock from `origin`: in a test with the clock paused, time moves only when
/// every task waits, so a loop test runs in no time and no real-time window can fail it.
pub struct TokioClock {
    origin: DateTime<Utc>,
    started: tokio::time::Instant,
}

impl TokioClock {
    pub fn new(origin: DateTime<Utc>) -> Self {
        Self {
            origin,
            started: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.origin + autoscaler_core::time::to_chrono(self.started.elapsed())
    }
    fn real_until(&self, t: DateTime<Utc>) -> Duration {
        autoscaler_core::time::to_std(t - self.now())
    }
}

/// Virtual time that starts at `origin` and runs `speed` times faster than real time.
pub struct ScaledClock {
    origin: DateTime<Utc>,
    started: Instant,
    speed: f64,
}

impl ScaledClock {
    pub fn new(origin: DateTime<Utc>, speed: f64) -> Self {
        Self {
            origin,
            started: Instant::now(),
            speed: speed.max(1e-3),
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let virtual_elapsed = self.started.elapsed().as_secs_f64() * self.speed;
        self.origin + chrono::Duration::milliseconds((virtual_elapsed * 1000.0) as i64)
    }
    fn real_until(&self, t: DateTime<Utc>) -> Duration {
        let ahead = (t - self.now()).num_milliseconds().max(0) as f64 / 1000.0;
        Duration::from_secs_f64(ahead / self.speed)
    }
}

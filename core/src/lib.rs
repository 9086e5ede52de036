//! The pure core of ecs-autoscaler: what a policy says and what it decides.
//!
//! - [`policy`]: policy files, their validation with `file:line:col` diagnostics, and the
//!   checked [`policy::Policy`] the rest of the system reads.
//! - [`decide`]: the decision core, a pure function of (policy, observation, history, now).
//! - [`load`]: a service's load minute by minute, as recorded.
//! - [`migrate`]: AWS's own scaler of a service, the policy closest to it, and whether the
//!   daemon may act beside it.
//! - [`time`], [`digest`]: the conversions every layer shares, written once.
//!
//! Nothing here reads a clock, a file descriptor or the network; CI checks that the crate's
//! dependency tree has no async runtime, AWS SDK or HTTP crate in it.

pub mod decide;
pub mod digest;
pub mod load;
pub mod migrate;
pub mod policy;
pub mod time;

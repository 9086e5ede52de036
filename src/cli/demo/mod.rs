//! `ecs-autoscaler demo`: the whole system on this machine. The daemon with the local
//! backend scales real search-service replicas under a load plan like the original
//! experiment's, shows what it does as it does it, and ends with a report.
//!
//! `args.rs` is what the command line asks for, `calibrate.rs` measures one replica's
//! knee directly, `run.rs` drives the run (replicas, daemon, load, the kill, the live line),
//! `summary.rs` computes the final table from what was recorded (pure), `report.rs`
//! draws it.

mod args;
mod calibrate;
mod report;
mod run;
mod summary;

pub use args::{Args, Load};
pub use run::run;

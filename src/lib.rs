//! ecs-autoscaler: keeps an ECS service at the right size.
//!
//! See ARCHITECTURE.md for the map. In short: [`policy`] parses and validates policy
//! files, [`decide`] is the pure decision core, [`sim`] drives that core in virtual time.

pub mod api;
pub mod backend;
pub mod chart;
pub mod daemon;
pub mod decide;
pub mod loadgen;
pub mod policy;
pub mod settings;
pub mod sim;

//! ecs-autoscaler's imperative shell: everything that touches the world around the pure
//! core (`autoscaler-core`) and the simulator (`autoscaler-sim`).
//!
//! See ARCHITECTURE.md for the map. The layers, each importing only those below it:
//! [`api`] (the status API and page) over [`daemon`] (the control loop) over [`backend`]
//! (metrics in, counts out: aws, local, sim) over [`settings`]. [`loadgen`] is the demo's
//! load generator.

pub mod api;
pub mod backend;
pub mod daemon;
pub mod loadgen;
pub mod settings;

//! How metrics leave a process, shared by the search service and the autoscaler:
//! - [`prometheus`]: the recorder behind `/metrics`, with its upkeep running, so memory
//!   stays flat whether or not anything scrapes;
//! - [`emf`]: CloudWatch Embedded Metric Format records, which the awslogs driver turns
//!   into metrics with no AWS call from the process.

pub mod emf;
pub mod prometheus;

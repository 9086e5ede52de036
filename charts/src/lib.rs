//! Self-contained pictures for people: SVG charts of stacked panels over time, and the
//! HTML around them. The simulator's report, the demo's report and the daemon's status
//! page all draw with this; nothing here does I/O.

mod html;
mod panels;
mod spark;

pub use html::{escape, html};
pub use panels::*;
pub use spark::{Spark, sparkline};

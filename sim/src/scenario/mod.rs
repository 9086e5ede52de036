//! A scenario: the service, its traffic, CloudWatch's delivery and injected failures.
//! The model is here; `faults.rs` answers what is broken when, `file.rs` is the file as
//! written and `parse.rs` checks it into this model.

mod faults;
mod file;
mod model;
mod parse;

use std::path::Path;

use autoscaler_core::policy::diagnostic::{Diagnostic, FileErrors};

pub use faults::{Fault, FaultWindow, Faults, unit_hash};
pub use model::*;
pub use parse::parse;

pub fn load(path: &Path) -> Result<Scenario, FileErrors> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| FileErrors(vec![Diagnostic::at(path, "", None, format!("cannot read file: {e}"))]))?;
    parse(path, &source)
}

/// The scenario `simulate` and the daemon's `sim` backend use when none is given.
pub const DEFAULT: (&str, &str) = (
    "scenarios/original-experiment.toml",
    include_str!("../../../scenarios/original-experiment.toml"),
);

pub fn default_scenario() -> Scenario {
    // The embedded file is covered by tests; failing here is a build defect, not bad input.
    parse(Path::new(DEFAULT.0), DEFAULT.1).unwrap_or_else(|e| panic!("embedded scenario is invalid: {e}"))
}

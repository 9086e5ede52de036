//! How the command line's values are read.

/// A duration as policies write them ("90s", "5m"), for any flag that takes one.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    autoscaler_core::policy::duration::parse(s)
}

//! The process's Prometheus recorder.
//!
//! A histogram's samples are held in the recorder until its upkeep folds them into
//! buckets, which a scrape also does. On ECS nothing may scrape, so without upkeep every
//! sample ever recorded is kept: memory grows with every request or round. Installing
//! through here starts the upkeep on a thread of its own.

use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// How often recorded samples are folded into their buckets.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process's recorder with these bucket bounds per histogram name, and
/// starts its upkeep. Fails if a recorder is already installed.
pub fn install(buckets: &[(&str, &[f64])]) -> Result<PrometheusHandle, BuildError> {
    let mut builder = PrometheusBuilder::new();
    for (name, bounds) in buckets {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_string()), bounds)?;
    }
    let handle = builder.install_recorder()?;
    let upkeep = handle.clone();
    // Without the thread the recorder still works; it only keeps samples until a scrape.
    let _ = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    Ok(handle)
}

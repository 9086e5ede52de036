//! A CloudWatch EMF record per round on stdout: on ECS the awslogs driver turns it into
//! metrics, so an alarm fires when the daemon stops deciding (a frozen service size) or
//! keeps failing against AWS, with no AWS call from the daemon.

use ops_telemetry::emf::{self, Metric};
use serde_json::Value;

pub const NAMESPACE: &str = "ECSAutoscaler";

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Policies that reached a decision.
    pub decisions: u64,
    /// Failed backend calls (metric reads, capacity reads, updates).
    pub backend_errors: u64,
}

pub fn record(name: &str, round: Round, timestamp_ms: i64) -> Value {
    let count = |name, value: u64| Metric {
        name,
        unit: "Count",
        value: value as f64,
        storage_resolution: None,
    };
    emf::record(
        NAMESPACE,
        &[("Autoscaler", name)],
        &[
            count("Rounds", 1),
            count("Decisions", round.decisions),
            count("BackendErrors", round.backend_errors),
        ],
        timestamp_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_declares_every_metric_it_carries_under_one_dimension() {
        let r = record(
            "search",
            Round {
                decisions: 3,
                backend_errors: 1,
            },
            1_700_000_000_000,
        );
        let def = &r["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(def["Namespace"], NAMESPACE);
        assert_eq!(def["Dimensions"], json!([["Autoscaler"]]));
        for m in def["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(r[name].is_number(), "{name} declared but absent");
        }
        assert_eq!(r["Autoscaler"], "search");
        assert_eq!((r["Rounds"].as_u64(), r["Decisions"].as_u64()), (Some(1), Some(3)));
    }
}

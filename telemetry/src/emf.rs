//! CloudWatch Embedded Metric Format: one JSON record per line on stdout.

use serde_json::{Map, Value, json};

/// One metric of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric<'a> {
    pub name: &'a str,
    /// CloudWatch's unit name: "Count", "Milliseconds", ...
    pub unit: &'a str,
    pub value: f64,
    /// 1 for high-resolution (per-second) storage; None for CloudWatch's default (60 s).
    pub storage_resolution: Option<u8>,
}

/// A record stamped `timestamp_ms`, in `namespace`, with one dimension set made of every
/// `dimensions` key. Each metric is declared and carried, so none is declared and absent.
pub fn record(namespace: &str, dimensions: &[(&str, &str)], metrics: &[Metric], timestamp_ms: i64) -> Value {
    let declared: Vec<Value> = metrics
        .iter()
        .map(|m| {
            let mut d = json!({"Name": m.name, "Unit": m.unit});
            if let Some(r) = m.storage_resolution {
                d["StorageResolution"] = json!(r);
            }
            d
        })
        .collect();
    let keys: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let mut out = Map::new();
    out.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [keys], "Metrics": declared}]
        }),
    );
    for (k, v) in dimensions {
        out.insert((*k).to_string(), json!(v));
    }
    for m in metrics {
        out.insert(m.name.to_string(), number(m.value));
    }
    Value::Object(out)
}

/// Whole numbers as integers (counts read as counts), others as they are.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_metric_is_carried_under_its_dimensions() {
        let r = record(
            "Ns",
            &[("Service", "search")],
            &[
                Metric {
                    name: "Requests",
                    unit: "Count",
                    value: 3.0,
                    storage_resolution: Some(1),
                },
                Metric {
                    name: "LatencyP99",
                    unit: "Milliseconds",
                    value: 2.5,
                    storage_resolution: None,
                },
            ],
            1_700_000_000_000,
        );
        let def = &r["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(def["Namespace"], "Ns");
        assert_eq!(def["Dimensions"], json!([["Service"]]));
        assert_eq!(def["Metrics"][0]["StorageResolution"], 1);
        assert!(def["Metrics"][1].get("StorageResolution").is_none());
        assert_eq!(r["Requests"], 3);
        assert_eq!(r["LatencyP99"], 2.5);
        assert_eq!(r["Service"], "search");
        assert_eq!(r["_aws"]["Timestamp"], 1_700_000_000_000_i64);
    }
}

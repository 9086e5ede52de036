//! Bytes the state store writes per round, with 20 policies whose journals are full
//! (200 decisions each): the file store (histories rewritten, the round's decisions
//! appended) against rewriting every journal in one file each round, as the state file
//! did before.
//!
//! `cargo bench --bench state_writes`

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use autoscaler_core::decide::{Controller, Observation, Sample};
use chrono::{Duration, TimeZone, Utc};
use ecs_autoscaler::daemon::registry::{JournalEntry, Retained};
use ecs_autoscaler::daemon::state::{FileStore, Snapshot, StateStore};

const POLICIES: usize = 20;
const JOURNAL: usize = 200;
const ROUNDS: usize = 20;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = FileStore::new(dir.path().join("state.json"), JOURNAL);
    let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
    let policy = autoscaler_core::policy::load(Path::new("policies/latency-slo.toml")).expect("policy");
    let mut controllers: Vec<(String, Controller, VecDeque<JournalEntry>)> = (0..POLICIES)
        .map(|i| {
            (
                format!("aws/-/search/svc-{i}"),
                Controller::new(policy.clone()),
                VecDeque::new(),
            )
        })
        .collect();
    let round = |controllers: &mut Vec<(String, Controller, VecDeque<JournalEntry>)>,
                 r: usize|
     -> BTreeMap<String, Vec<JournalEntry>> {
        let now = t0 + Duration::seconds(10 * r as i64);
        let mut appended = BTreeMap::new();
        for (key, c, journal) in controllers.iter_mut() {
            let obs = Observation {
                capacity: autoscaler_core::decide::Capacity {
                    desired: 4,
                    running: 4,
                    pending: 0,
                    deployment_in_progress: false,
                    revision: 0,
                },
                metrics: [("p99", 0.04 + (r % 7) as f64 * 0.001), ("cpu", 55.0 + (r % 5) as f64)]
                    .into_iter()
                    .map(|(n, v)| {
                        let reading = autoscaler_core::decide::Reading {
                            value: v,
                            at: now - Duration::seconds(20),
                            base: None,
                        };
                        (n.to_string(), Sample::Value(reading))
                    })
                    .collect(),
                withheld: None,
            };
            let decision = c.evaluate(&obs, now);
            let entry = JournalEntry {
                explanation: decision.explain(),
                decision,
                applied: false,
                error: None,
            };
            journal.push_back(entry.clone());
            while journal.len() > JOURNAL {
                journal.pop_front();
            }
            appended.insert(key.clone(), vec![entry]);
        }
        appended
    };
    // Fill every journal first.
    for r in 0..JOURNAL {
        round(&mut controllers, r);
    }
    let mut new_bytes = Vec::new();
    let mut old_bytes = Vec::new();
    for r in JOURNAL..JOURNAL + ROUNDS {
        let appended = round(&mut controllers, r);
        let histories: BTreeMap<String, Retained> = controllers
            .iter()
            .map(|(key, c, _)| {
                let retained = Retained {
                    name: key.clone(),
                    history: c.history.clone(),
                    journal: VecDeque::new(),
                };
                (key.clone(), retained)
            })
            .collect();
        let snapshot = Snapshot {
            saved_at: Utc::now(),
            epoch: None,
            histories,
            appended,
        };
        new_bytes.push(store.save(&snapshot).expect("saved"));
        // The former format: every policy's history and whole journal, every round.
        let whole: BTreeMap<&String, serde_json::Value> = controllers
            .iter()
            .map(|(key, c, journal)| (key, serde_json::json!({"history": c.history, "journal": journal})))
            .collect();
        old_bytes.push(serde_json::to_vec(&whole).expect("serializes").len() as u64);
    }
    let median = |mut v: Vec<u64>| {
        v.sort();
        v[v.len() / 2]
    };
    let (new, old) = (median(new_bytes), median(old_bytes));
    println!("state written per round, {POLICIES} policies with {JOURNAL}-entry journals (median of {ROUNDS} rounds):");
    println!("  whole file every round (before): {old} bytes");
    println!(
        "  histories + appended decisions (now): {new} bytes ({:.1}x less)",
        old as f64 / new as f64
    );
}

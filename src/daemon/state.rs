//! State that survives restarts: cooldown times, the stabilization window, the baseline
//! and the decision journal of every policy, written atomically with a checksum.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::registry::JournalEntry;
use crate::decide::History;

const FORMAT: &str = "ecs-autoscaler-state";
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    pub history: History,
    pub journal: Vec<JournalEntry>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    saved_at: DateTime<Utc>,
    /// SHA-256 of the `policies` text exactly as written: catches torn writes and edits by hand.
    checksum: String,
    policies: Box<RawValue>,
}

/// What was found at start.
#[derive(Debug)]
pub enum Loaded {
    /// No state file: a first start.
    Missing,
    Restored(BTreeMap<String, PolicyState>),
    /// Present but unusable; the reason says why. The daemon starts conservatively.
    Corrupt(String),
}

fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn load(path: &Path) -> Loaded {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
        Err(e) => return Loaded::Corrupt(format!("cannot read {}: {e}", path.display())),
    };
    let file: StateFile = match serde_json::from_slice(&text) {
        Ok(f) => f,
        Err(e) => return Loaded::Corrupt(format!("{} is not a state file ({e})", path.display())),
    };
    if file.format != FORMAT || file.version != VERSION {
        return Loaded::Corrupt(format!(
            "{}: unknown format {} version {}",
            path.display(),
            file.format,
            file.version
        ));
    }
    if digest(file.policies.get()) != file.checksum {
        return Loaded::Corrupt(format!(
            "{}: checksum mismatch, the file was torn or edited",
            path.display()
        ));
    }
    match serde_json::from_str(file.policies.get()) {
        Ok(p) => Loaded::Restored(p),
        Err(e) => Loaded::Corrupt(format!("{}: {e}", path.display())),
    }
}

/// Writes the state atomically: a temporary file beside it, flushed, then renamed over it.
pub fn save(path: &Path, policies: &BTreeMap<String, PolicyState>, now: DateTime<Utc>) -> std::io::Result<()> {
    let text = serde_json::to_string(policies).map_err(std::io::Error::other)?;
    let file = StateFile {
        format: FORMAT.into(),
        version: VERSION,
        saved_at: now,
        checksum: digest(&text),
        policies: RawValue::from_string(text).map_err(std::io::Error::other)?,
    };
    let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        // Persist the rename itself; not every filesystem supports syncing a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<String, PolicyState> {
        let history = History {
            last_scale_out: Some(Utc::now()),
            last_desired: Some(3),
            ..History::default()
        };
        let mut states = BTreeMap::from([(
            "a".to_string(),
            PolicyState {
                history,
                journal: vec![],
            },
        )]);
        // Floats whose shortest form a fast parser may not read back exactly.
        let policy = crate::policy::parse(
            std::path::Path::new("p.toml"),
            "min = 1\nmax = 3\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70\n",
        )
        .unwrap();
        let now = Utc::now();
        let mut journal = Vec::new();
        for v in [0.006231118827471365, 59.24536158302438, 1.0 / 3.0, 77.48123456789012] {
            let obs = crate::decide::Observation {
                capacity: crate::decide::Capacity {
                    desired: 2,
                    running: 2,
                    pending: 0,
                    deployment_in_progress: false,
                },
                metrics: BTreeMap::from([(
                    "c".to_string(),
                    crate::decide::Sample::Value(crate::decide::Reading {
                        value: v,
                        at: now,
                        base: None,
                    }),
                )]),
            };
            let decision = crate::decide::decide(&policy, &obs, &History::default(), now);
            journal.push(JournalEntry {
                explanation: decision.explain(),
                decision,
                applied: false,
                error: None,
            });
        }
        states.get_mut("a").unwrap().journal = journal;
        states
    }

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/s.json");
        let saved = sample();
        save(&path, &saved, Utc::now()).unwrap();
        match load(&path) {
            Loaded::Restored(p) => assert_eq!(p, saved, "bit-exact, floats included"),
            other => panic!("{other:?}"),
        }
        assert!(!path.with_extension("tmp").exists());
    }

    #[test]
    fn missing_torn_and_tampered_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        assert!(matches!(load(&path), Loaded::Missing));
        save(&path, &sample(), Utc::now()).unwrap();
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        assert!(matches!(load(&path), Loaded::Corrupt(e) if e.contains("not a state file")));
        let tampered = String::from_utf8(full)
            .unwrap()
            .replacen("\"last_desired\":3", "\"last_desired\":9", 1);
        std::fs::write(&path, tampered).unwrap();
        assert!(matches!(load(&path), Loaded::Corrupt(e) if e.contains("checksum mismatch")));
    }
}

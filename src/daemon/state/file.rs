//! The file store: one checksummed file of every target's history, replaced atomically
//! each round (histories are small and change every round), and a journal file per target
//! appended one line per decision, never rewritten whole (trimmed only at twice the
//! journal size).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use autoscaler_core::decide::History;
use autoscaler_core::digest::sha256_hex;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::store::{Loaded, Snapshot, StateStore};
use crate::daemon::registry::{JournalEntry, Retained};

const FORMAT: &str = "ecs-autoscaler-state";
const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    saved_at: DateTime<Utc>,
    /// The clock the histories' times were taken on ("real time", or a simulated
    /// scenario's): state is never restored under another clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clock: Option<String>,
    /// SHA-256 of the `targets` text exactly as written: catches torn writes and edits by hand.
    checksum: String,
    /// Version 2: target key -> {name, history}. Version 1: policy name -> {history, journal}.
    #[serde(alias = "policies")]
    targets: Box<RawValue>,
}

#[derive(Deserialize)]
struct V1Policy {
    history: History,
    #[serde(default)]
    journal: Vec<JournalEntry>,
}

fn digest(text: &str) -> String {
    sha256_hex(text.as_bytes())
}

/// The file store: `path` holds the histories, `path.journal/` one JSON-lines file per target.
pub struct FileStore {
    path: PathBuf,
    journal_size: usize,
    /// Lines in each journal file, so trimming needs no read.
    lines: Mutex<HashMap<String, usize>>,
    /// See [`StateFile::clock`]; None accepts a file of any clock.
    clock: Option<(String, Arc<dyn crate::backend::Clock>)>,
}

impl FileStore {
    pub fn new(path: PathBuf, journal_size: usize) -> Self {
        Self {
            path,
            journal_size: journal_size.max(1),
            lines: Mutex::new(HashMap::new()),
            clock: None,
        }
    }

    /// The clock this daemon's times are on: a file written under another is set aside,
    /// not restored (a simulated scenario's 2026-01-05 09:04 means nothing in real time).
    /// A file saved after this clock's now is set aside too: a simulated clock starts
    /// at the same instant every run, and state from a later point of an earlier run
    /// would hold cooldowns that end in the future.
    pub fn with_clock(mut self, name: impl Into<String>, clock: Arc<dyn crate::backend::Clock>) -> Self {
        self.clock = Some((name.into(), clock));
        self
    }

    fn journal_dir(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".journal");
        self.path.with_file_name(name)
    }

    /// A file name for a target key: readable, and unique through a short hash.
    fn journal_file(&self, key: &str) -> PathBuf {
        let readable: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .take(80)
            .collect();
        self.journal_dir()
            .join(format!("{readable}-{}.jsonl", &digest(key)[..8]))
    }

    fn read_journal(&self, key: &str) -> VecDeque<JournalEntry> {
        let Ok(text) = std::fs::read_to_string(self.journal_file(key)) else {
            return VecDeque::new();
        };
        let lines = text.lines().count();
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), lines);
        // A line torn by a crash mid-append is skipped, not fatal.
        let mut journal: VecDeque<JournalEntry> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        while journal.len() > self.journal_size {
            journal.pop_front();
        }
        journal
    }

    /// Moves an unusable file aside under a name no later one overwrites.
    fn set_aside(&self, why: &str) -> PathBuf {
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = (0..)
            .map(|n| {
                let mut name = self.path.file_name().unwrap_or_default().to_os_string();
                name.push(if n == 0 {
                    format!(".{why}-{stamp}")
                } else {
                    format!(".{why}-{stamp}-{n}")
                });
                self.path.with_file_name(name)
            })
            .find(|p| !p.exists())
            .unwrap_or_else(|| self.path.with_extension(why));
        let _ = std::fs::rename(&self.path, &aside);
        aside
    }

    fn append(&self, key: &str, entries: &[JournalEntry]) -> std::io::Result<u64> {
        let file = self.journal_file(key);
        std::fs::create_dir_all(self.journal_dir())?;
        let mut text = String::new();
        for e in entries {
            text.push_str(&serde_json::to_string(e).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&file)?;
        f.write_all(text.as_bytes())?;
        let mut written = text.len() as u64;
        let total = {
            let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
            let n = lines.entry(key.to_string()).or_insert(0);
            *n += entries.len();
            *n
        };
        if total > 2 * self.journal_size {
            written += self.trim(key, &file)?;
        }
        Ok(written)
    }

    /// Keeps the newest `journal_size` lines of a journal file.
    fn trim(&self, key: &str, file: &Path) -> std::io::Result<u64> {
        let text = std::fs::read_to_string(file)?;
        let lines: Vec<&str> = text.lines().collect();
        let keep = &lines[lines.len().saturating_sub(self.journal_size)..];
        let mut kept = keep.join("\n");
        kept.push('\n');
        replace(file, |out| out.write_all(kept.as_bytes()))?;
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), keep.len());
        Ok(kept.len() as u64)
    }
}

/// A temporary file beside `path`, written by `write`, flushed to disk, then renamed
/// over it: a crash leaves the old file or the new one, never a mix.
fn replace(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut out)?;
        out.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Persist the rename itself; not every filesystem supports syncing a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

/// The state file, streamed: the histories' text is checksummed as it is written, so a
/// fleet's histories are never held in memory as text (twice) on top of the histories.
/// The checksum comes last; fields are read in any order.
fn write_state(out: &mut dyn Write, snapshot: &Snapshot, clock: Option<&str>) -> std::io::Result<u64> {
    let mut head = serde_json::json!({"format": FORMAT, "version": VERSION, "saved_at": snapshot.saved_at});
    if let Some(c) = clock {
        head["clock"] = serde_json::json!(c);
    }
    let head = serde_json::to_string(&head).map_err(std::io::Error::other)?;
    // The object without its closing brace, then the targets and the checksum.
    out.write_all(&head.as_bytes()[..head.len() - 1])?;
    out.write_all(b",\"targets\":")?;
    let mut hashing = autoscaler_core::digest::Hashing::new(&mut *out);
    serde_json::to_writer(&mut hashing, &snapshot.histories).map_err(std::io::Error::other)?;
    let (checksum, targets) = hashing.finish();
    let tail = format!(",\"checksum\":\"{checksum}\"}}");
    out.write_all(tail.as_bytes())?;
    Ok(head.len() as u64 + 11 + targets + tail.len() as u64)
}

impl StateStore for FileStore {
    fn load(&self) -> Loaded {
        let path = &self.path;
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
            Err(e) => return Loaded::Corrupt(format!("cannot read {}: {e}", path.display())),
        };
        let corrupt = |why: String| {
            let aside = self.set_aside("corrupt");
            Loaded::Corrupt(format!("{why}; kept at {}", aside.display()))
        };
        let file: StateFile = match serde_json::from_slice(&text) {
            Ok(f) => f,
            Err(e) => return corrupt(format!("{} is not a state file ({e})", path.display())),
        };
        if file.format != FORMAT || !(1..=VERSION).contains(&file.version) {
            return corrupt(format!(
                "{}: unknown format {} version {}",
                path.display(),
                file.format,
                file.version
            ));
        }
        if let (Some((mine, _)), Some(theirs)) = (&self.clock, &file.clock)
            && mine != theirs
        {
            let aside = self.set_aside("other-clock");
            return Loaded::Corrupt(format!(
                "{} was written on another clock ({theirs}; this daemon runs on {mine}), so its cooldowns and windows mean nothing here; kept at {}",
                path.display(),
                aside.display()
            ));
        }
        if let Some((mine, clock)) = &self.clock
            && file.saved_at > clock.now()
        {
            let aside = self.set_aside("from-the-future");
            return Loaded::Corrupt(format!(
                "{} was saved at {}, after now on {mine} ({}): an earlier run of a clock that restarted, or a clock set back; kept at {}",
                path.display(),
                file.saved_at,
                clock.now(),
                aside.display()
            ));
        }
        if digest(file.targets.get()) != file.checksum {
            return corrupt(format!(
                "{}: checksum mismatch, the file was torn or edited",
                path.display()
            ));
        }
        if file.version == 1 {
            return match serde_json::from_str::<BTreeMap<String, V1Policy>>(file.targets.get()) {
                Ok(by_name) => Loaded::Restored(
                    by_name
                        .into_iter()
                        .map(|(name, p)| {
                            let retained = Retained {
                                name: name.clone(),
                                history: p.history,
                                journal: p.journal.into(),
                            };
                            (name, retained)
                        })
                        .collect(),
                ),
                Err(e) => corrupt(format!("{}: {e}", path.display())),
            };
        }
        match serde_json::from_str::<BTreeMap<String, Retained>>(file.targets.get()) {
            Ok(mut targets) => {
                for (key, r) in targets.iter_mut() {
                    r.journal = self.read_journal(key);
                }
                Loaded::Restored(targets)
            }
            Err(e) => corrupt(format!("{}: {e}", path.display())),
        }
    }

    fn save(&self, snapshot: &Snapshot) -> Result<u64, String> {
        let clock = self.clock.as_ref().map(|(name, _)| name.as_str());
        let mut written = 0;
        replace(&self.path, |out| {
            written = write_state(out, snapshot, clock)?;
            Ok(())
        })
        .map_err(|e| format!("{}: {e}", self.path.display()))?;
        for (key, entries) in &snapshot.appended {
            written += self
                .append(key, entries)
                .map_err(|e| format!("{}: {e}", self.journal_file(key).display()))?;
        }
        Ok(written)
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn journal(&self, key: &str) -> Result<VecDeque<JournalEntry>, String> {
        Ok(self.read_journal(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: f64, now: DateTime<Utc>) -> JournalEntry {
        // Floats whose shortest form a fast parser may not read back exactly.
        let policy = autoscaler_core::policy::parse(
            Path::new("p.toml"),
            "min = 1\nmax = 3\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70\n",
        )
        .unwrap();
        let obs = autoscaler_core::decide::Observation {
            capacity: autoscaler_core::decide::Capacity {
                desired: 2,
                running: 2,
                pending: 0,
                deployment_in_progress: false,
                revision: 0,
            },
            metrics: BTreeMap::from([(
                "c".to_string(),
                autoscaler_core::decide::Sample::Value(autoscaler_core::decide::Reading {
                    value: v,
                    at: now,
                    base: None,
                }),
            )]),
            withheld: None,
        };
        let decision = autoscaler_core::decide::decide(&policy, &obs, &History::default(), now);
        JournalEntry {
            explanation: decision.explain(),
            decision,
            applied: false,
            error: None,
        }
    }

    fn snapshot(now: DateTime<Utc>) -> Snapshot {
        let history = History {
            last_scale_out: Some(now),
            last_desired: Some(3),
            ..History::default()
        };
        let key = "sim/s".to_string();
        Snapshot {
            saved_at: now,
            epoch: None,
            histories: BTreeMap::from([(
                key.clone(),
                Retained {
                    name: "a".into(),
                    history,
                    journal: VecDeque::new(),
                },
            )]),
            appended: BTreeMap::from([(
                key,
                [0.006231118827471365, 59.24536158302438, 1.0 / 3.0, 77.48123456789012]
                    .into_iter()
                    .map(|v| entry(v, now))
                    .collect(),
            )]),
        }
    }

    #[test]
    fn round_trips_bit_exact_with_journals_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/s.json");
        let store = FileStore::new(path.clone(), 200);
        let now = Utc::now();
        let snap = snapshot(now);
        store.save(&snap).unwrap();
        let again = Snapshot {
            appended: BTreeMap::new(),
            ..snap.clone()
        };
        store.save(&again).unwrap();
        match FileStore::new(path.clone(), 200).load() {
            Loaded::Restored(t) => {
                let r = &t["sim/s"];
                assert_eq!(r.history, snap.histories["sim/s"].history);
                assert_eq!(
                    r.journal.iter().cloned().collect::<Vec<_>>(),
                    snap.appended["sim/s"],
                    "bit-exact, floats included; written once"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(!dir.path().join("state/s.json.tmp").exists());
    }

    #[test]
    fn journals_are_appended_not_rewritten_and_trimmed_at_twice_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("s.json"), 3);
        let now = Utc::now();
        let mut snap = snapshot(now);
        let one = snap.appended["sim/s"][..1].to_vec();
        snap.appended.insert("sim/s".into(), one.clone());
        let first = store.save(&snap).unwrap();
        let second = store.save(&snap).unwrap();
        assert_eq!(
            first, second,
            "each save writes the histories and one line, whatever the journal's length"
        );
        for _ in 0..5 {
            store.save(&snap).unwrap();
        }
        let file = store.journal_file("sim/s");
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        assert!(lines <= 6, "trimmed: {lines} lines");
        match store.load() {
            Loaded::Restored(t) => assert_eq!(t["sim/s"].journal.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_torn_and_tampered_files_are_told_apart_and_each_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = FileStore::new(path.clone(), 200);
        assert!(matches!(store.load(), Loaded::Missing));
        store.save(&snapshot(Utc::now())).unwrap();
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        assert!(matches!(store.load(), Loaded::Corrupt(e) if e.contains("not a state file")));
        let tampered = String::from_utf8(full)
            .unwrap()
            .replacen("\"last_desired\":3", "\"last_desired\":9", 1);
        std::fs::write(&path, tampered).unwrap();
        assert!(matches!(store.load(), Loaded::Corrupt(e) if e.contains("checksum mismatch")));
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".corrupt-"))
            .count();
        assert_eq!(aside, 2, "the second corrupt file does not overwrite the first");
    }

    #[test]
    fn state_written_on_another_clock_is_set_aside_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let now: Arc<dyn crate::backend::Clock> = Arc::new(crate::backend::SystemClock);
        let sim = FileStore::new(path.clone(), 200).with_clock("sim", Arc::clone(&now));
        let mut snapshot = Snapshot::default();
        snapshot.histories.insert(
            "t".into(),
            Retained {
                name: "p".into(),
                history: History::default(),
                journal: VecDeque::new(),
            },
        );
        sim.save(&snapshot).unwrap();
        assert!(matches!(sim.load(), Loaded::Restored(t) if t.len() == 1));
        let real = FileStore::new(path.clone(), 200).with_clock("real time", now);
        match real.load() {
            Loaded::Corrupt(e) => assert!(e.contains("written on another clock (sim"), "{e}"),
            other => panic!("restored across clocks: {other:?}"),
        }
        // Nothing is lost: the file is kept beside, and the path is free for this clock.
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_version_1_file_is_restored_by_policy_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let policies = r#"{"a":{"history":{"last_scale_out":null,"last_scale_in":null,"recommendations":[],"last_desired":4,"blind_since":null,"no_scale_in_before":null},"journal":[]}}"#;
        let file = serde_json::json!({
            "format": FORMAT, "version": 1, "saved_at": Utc::now(),
            "checksum": digest(policies),
            "policies": serde_json::from_str::<serde_json::Value>(policies).unwrap(),
        });
        // The checksum covers the text exactly as written: write it by hand.
        let text = file
            .to_string()
            .replace(&serde_json::to_string(&file["policies"]).unwrap(), policies);
        std::fs::write(&path, text).unwrap();
        match FileStore::new(path, 200).load() {
            Loaded::Restored(t) => assert_eq!(t["a"].history.last_desired, Some(4)),
            other => panic!("{other:?}"),
        }
    }
}

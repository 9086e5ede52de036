//! The policies in force, and how a re-read of the policies directory changes them.
//! A bad edit is rejected and the last good version stays in force.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decide::{Controller, Decision, History};
use crate::policy::{self, Policy};

/// A decision as recorded: whether the backend took it, and why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub decision: Decision,
    pub explanation: String,
    pub applied: bool,
    pub error: Option<String>,
}

/// One point of the last hour, for the status page's charts.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub desired: u32,
    pub running: u32,
    /// Rule values in policy order.
    pub values: Vec<Option<f64>>,
}

#[derive(Debug)]
pub struct PolicyEntry {
    pub file: PathBuf,
    pub checksum: String,
    pub controller: Controller,
    /// A rejected edit of this policy's file; the policy above stays in force.
    pub load_error: Option<String>,
    pub paused: bool,
    pub next_due: DateTime<Utc>,
    pub journal: VecDeque<JournalEntry>,
    /// The last backend error (reading capacity or applying a decision).
    pub last_error: Option<String>,
    pub series: VecDeque<Point>,
}

impl PolicyEntry {
    pub fn last(&self) -> Option<&JournalEntry> {
        self.journal.back()
    }
}

#[derive(Debug, Default)]
pub struct Registry {
    pub policies: BTreeMap<String, PolicyEntry>,
    /// Files that never yielded a valid policy, with their diagnostics.
    pub rejected: BTreeMap<PathBuf, String>,
}

/// A file of the policies directory as read from disk.
pub struct PolicySource {
    pub path: PathBuf,
    pub content: Result<String, String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    /// (file, diagnostics) of files rejected in this reload.
    pub rejected: Vec<(PathBuf, String)>,
}

pub fn checksum(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl Registry {
    /// Brings the registry in line with `sources` (the whole directory). `history` gives
    /// the starting history of a policy that is new to this registry.
    pub fn apply(
        &mut self,
        sources: Vec<PolicySource>,
        force_dry_run: bool,
        now: DateTime<Utc>,
        history: &mut dyn FnMut(&Policy) -> History,
    ) -> ReloadReport {
        let mut report = ReloadReport::default();
        let present: Vec<PathBuf> = sources.iter().map(|s| s.path.clone()).collect();
        self.rejected.retain(|path, _| present.contains(path));

        for source in sources {
            let sum = source.content.as_ref().map(|c| checksum(c)).unwrap_or_default();
            let current = self
                .policies
                .iter()
                .find(|(_, e)| e.file == source.path)
                .map(|(n, _)| n.clone());
            if let Some(name) = &current
                && self.policies[name].checksum == sum
            {
                continue;
            }
            let parsed = source
                .content
                .map_err(|e| format!("{}:1:1: cannot read file: {e}", source.path.display()))
                .and_then(|text| policy::parse(&source.path, &text).map_err(|e| e.to_string()))
                .and_then(|p| match self.policies.get(&p.name) {
                    Some(other) if other.file != source.path => Err(format!(
                        "{}:1:1: policy name \"{}\" is already used by {}",
                        source.path.display(),
                        p.name,
                        other.file.display()
                    )),
                    _ => Ok(p),
                });
            match (parsed, current) {
                (Err(error), Some(name)) => {
                    let entry = self.policies.get_mut(&name).expect("found above");
                    if entry.load_error.as_deref() != Some(error.as_str()) {
                        report.rejected.push((source.path.clone(), error.clone()));
                    }
                    entry.load_error = Some(error);
                }
                (Err(error), None) => {
                    if self.rejected.get(&source.path) != Some(&error) {
                        report.rejected.push((source.path.clone(), error.clone()));
                    }
                    self.rejected.insert(source.path.clone(), error);
                }
                (Ok(mut p), current) => {
                    p.dry_run |= force_dry_run;
                    self.rejected.remove(&source.path);
                    match current {
                        Some(name) if name == p.name => {
                            let entry = self.policies.get_mut(&name).expect("found above");
                            entry.controller.policy = p;
                            entry.checksum = sum;
                            entry.load_error = None;
                            report.updated.push(name);
                        }
                        other => {
                            if let Some(old) = other {
                                self.policies.remove(&old);
                                report.removed.push(old);
                            }
                            let name = p.name.clone();
                            let h = history(&p);
                            self.policies.insert(
                                name.clone(),
                                PolicyEntry {
                                    file: source.path.clone(),
                                    checksum: sum,
                                    controller: Controller { policy: p, history: h },
                                    load_error: None,
                                    paused: false,
                                    next_due: now,
                                    journal: VecDeque::new(),
                                    last_error: None,
                                    series: VecDeque::new(),
                                },
                            );
                            report.added.push(name);
                        }
                    }
                }
            }
        }

        let gone: Vec<String> = self
            .policies
            .iter()
            .filter(|(_, e)| !present.contains(&e.file))
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            self.policies.remove(&name);
            report.removed.push(name);
        }
        report
    }
}

/// Reads every `*.toml` file of `dir`.
pub fn read_dir(dir: &Path) -> Result<Vec<PolicySource>, String> {
    let files = policy::files_in(dir).map_err(|e| format!("cannot read policies directory {}: {e}", dir.display()))?;
    Ok(files
        .into_iter()
        .map(|path| {
            let content = std::fs::read_to_string(&path).map_err(|e| e.to_string());
            PolicySource { path, content }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "min = 1\nmax = 4\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";

    fn src(path: &str, content: &str) -> PolicySource {
        PolicySource {
            path: PathBuf::from(path),
            content: Ok(content.to_string()),
        }
    }

    fn apply(r: &mut Registry, sources: Vec<PolicySource>) -> ReloadReport {
        r.apply(sources, false, Utc::now(), &mut |_| History::default())
    }

    #[test]
    fn a_bad_edit_keeps_the_last_good_policy() {
        let mut r = Registry::default();
        assert_eq!(apply(&mut r, vec![src("p/a.toml", GOOD)]).added, vec!["a"]);
        let bad = GOOD.replace("max = 4", "max = 0");
        let report = apply(&mut r, vec![src("p/a.toml", &bad)]);
        assert_eq!(report.rejected.len(), 1);
        assert!(
            report.rejected[0].1.contains("p/a.toml:2:7: max must be at least 1"),
            "{report:?}"
        );
        let entry = &r.policies["a"];
        assert_eq!(entry.controller.policy.max, 4, "still the good version");
        assert!(entry.load_error.is_some());
        // fixing it clears the error
        let fixed = GOOD.replace("max = 4", "max = 6");
        assert_eq!(apply(&mut r, vec![src("p/a.toml", &fixed)]).updated, vec!["a"]);
        assert_eq!(r.policies["a"].controller.policy.max, 6);
        assert!(r.policies["a"].load_error.is_none());
    }

    #[test]
    fn updates_keep_history_and_deletes_stop_the_policy() {
        let mut r = Registry::default();
        apply(&mut r, vec![src("p/a.toml", GOOD), src("p/b.toml", GOOD)]);
        let at = Utc::now();
        r.policies.get_mut("a").unwrap().controller.history.last_scale_out = Some(at);
        apply(
            &mut r,
            vec![
                src("p/a.toml", &GOOD.replace("max = 4", "max = 5")),
                src("p/b.toml", GOOD),
            ],
        );
        assert_eq!(
            r.policies["a"].controller.history.last_scale_out,
            Some(at),
            "cooldowns survive edits"
        );
        let report = apply(&mut r, vec![src("p/b.toml", GOOD)]);
        assert_eq!(report.removed, vec!["a"]);
        assert!(!r.policies.contains_key("a"));
    }

    #[test]
    fn unchanged_files_are_not_reparsed_and_new_bad_files_are_reported_once() {
        let mut r = Registry::default();
        apply(&mut r, vec![src("p/a.toml", GOOD)]);
        assert_eq!(apply(&mut r, vec![src("p/a.toml", GOOD)]), ReloadReport::default());
        let report = apply(&mut r, vec![src("p/a.toml", GOOD), src("p/x.toml", "min = ")]);
        assert_eq!(report.rejected.len(), 1);
        assert!(r.rejected.contains_key(Path::new("p/x.toml")));
        assert!(
            apply(&mut r, vec![src("p/a.toml", GOOD), src("p/x.toml", "min = ")])
                .rejected
                .is_empty()
        );
        apply(&mut r, vec![src("p/a.toml", GOOD)]);
        assert!(r.rejected.is_empty(), "a deleted bad file is forgotten");
    }

    #[test]
    fn two_files_cannot_claim_one_name() {
        let mut r = Registry::default();
        let named = format!("name = \"shared\"\n{GOOD}");
        apply(&mut r, vec![src("p/a.toml", &named), src("p/b.toml", &named)]);
        assert_eq!(r.policies.len(), 1);
        assert!(r.rejected[Path::new("p/b.toml")].contains("already used by p/a.toml"));
    }

    #[test]
    fn global_dry_run_is_forced_on_every_policy() {
        let mut r = Registry::default();
        r.apply(vec![src("p/a.toml", GOOD)], true, Utc::now(), &mut |_| {
            History::default()
        });
        assert!(r.policies["a"].controller.policy.dry_run);
    }
}

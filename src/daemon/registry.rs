//! The policies in force, and how a re-read of the policy source changes them.
//!
//! - A bad edit is rejected and the last good version stays in force; restoring the
//!   good content clears the error.
//! - One policy per scaled target: a second file on a target already scaled is refused,
//!   naming both files, and the one in force keeps running.
//! - History (cooldowns, the stabilization window, the journal) belongs to the target:
//!   it survives renaming the file or the policy, deleting and recreating it, and restarts.
//! - The metric queries of all policies together are capped per round.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decide::{Controller, Decision, History};
use crate::policy::{self, Policy};

/// Metric queries per round, all policies together, at most. Each rule is one query;
/// GetMetricData bills per query (about $0.01 per 1,000), so at 4,000 queries every
/// 15 s this cap is about $7,000 a month.
pub const MAX_QUERIES_PER_ROUND: usize = 4_000;

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
    /// An evaluation of this policy is still running; the next tick waits for it.
    pub in_flight: bool,
    /// Ticks skipped because the previous evaluation was still running.
    pub skipped: u64,
    /// Per rule: the period start of the newest datapoint seen, so its age keeps growing
    /// while reads fail.
    pub last_datapoint: BTreeMap<String, DateTime<Utc>>,
    /// Decisions counted by action since this policy was loaded.
    pub decisions: BTreeMap<&'static str, u64>,
    /// Journal entries at the back not yet handed to the state store.
    pub journal_unsaved: usize,
}

impl PolicyEntry {
    pub fn last(&self) -> Option<&JournalEntry> {
        self.journal.back()
    }

    fn new(file: PathBuf, checksum: String, policy: Policy, kept: Option<Retained>, now: DateTime<Utc>) -> Self {
        let (history, journal) = kept.map_or_else(Default::default, |k| (k.history, k.journal));
        Self {
            file,
            checksum,
            controller: Controller { policy, history },
            load_error: None,
            paused: false,
            next_due: now,
            journal,
            last_error: None,
            series: VecDeque::new(),
            in_flight: false,
            skipped: 0,
            last_datapoint: BTreeMap::new(),
            decisions: BTreeMap::new(),
            journal_unsaved: 0,
        }
    }
}

/// The history of a target no policy in force scales (its file was deleted or renamed,
/// or it was restored from state and its policy has not loaded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Retained {
    /// The name of the policy that last scaled the target.
    pub name: String,
    pub history: History,
    #[serde(skip)]
    pub journal: VecDeque<JournalEntry>,
}

#[derive(Debug, Default)]
pub struct Registry {
    pub policies: BTreeMap<String, PolicyEntry>,
    /// Files that never yielded a valid policy, with their diagnostics.
    pub rejected: BTreeMap<PathBuf, String>,
    /// Histories by target key (see [`crate::policy::Target::key`]).
    pub retained: BTreeMap<String, Retained>,
    /// The backend this daemon scales with; a valid policy for a target it cannot scale
    /// is skipped, not loaded (None: every policy is loaded).
    pub backend: Option<crate::settings::BackendKind>,
    /// Files of valid policies skipped because their target is another backend's, with why.
    pub skipped: BTreeMap<PathBuf, String>,
}

/// A file (or object) of the policy source as read.
pub struct PolicySource {
    pub path: PathBuf,
    pub content: Result<String, String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    /// Policies whose rejected edit was undone: the error is gone.
    pub restored: Vec<String>,
    /// (file, diagnostics) of files rejected in this reload.
    pub rejected: Vec<(PathBuf, String)>,
    /// (file, why) of valid files newly skipped: their target is another backend's.
    pub skipped: Vec<(PathBuf, String)>,
}

pub fn checksum(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl Registry {
    /// Brings the registry in line with `sources` (the whole policy source).
    pub fn apply(&mut self, sources: Vec<PolicySource>, force_dry_run: bool, now: DateTime<Utc>) -> ReloadReport {
        let mut report = ReloadReport::default();
        let present: Vec<PathBuf> = sources.iter().map(|s| s.path.clone()).collect();
        self.rejected.retain(|path, _| present.contains(path));
        self.skipped.retain(|path, _| present.contains(path));

        // Files that are gone first, so a rename finds its name and target free.
        let gone: Vec<String> = self
            .policies
            .iter()
            .filter(|(_, e)| !present.contains(&e.file))
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            self.retire(&name);
            report.removed.push(name);
        }

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
                // Unchanged from the version in force; if an edit had been rejected, it
                // has been undone.
                let entry = self.policies.get_mut(name).expect("found above");
                if entry.load_error.take().is_some() {
                    report.restored.push(name.clone());
                }
                continue;
            }
            let parsed = source
                .content
                .map_err(|e| format!("{}:1:1: cannot read: {e}", source.path.display()))
                .and_then(|text| policy::parse(&source.path, &text).map_err(|e| e.to_string()));
            // Another backend's policy is skipped before it can clash with this one's.
            if let Ok(p) = &parsed
                && let Some(backend) = self.backend
                && !backend.serves(&p.target)
            {
                let why = format!(
                    "{} is for the {} backend; this daemon runs the {} backend",
                    p.target.describe(),
                    p.target.backend(),
                    backend.name()
                );
                if let Some(name) = current {
                    self.retire(&name);
                    report.removed.push(name);
                }
                self.rejected.remove(&source.path);
                if self.skipped.get(&source.path) != Some(&why) {
                    report.skipped.push((source.path.clone(), why.clone()));
                }
                self.skipped.insert(source.path.clone(), why);
                continue;
            }
            self.skipped.remove(&source.path);
            let parsed = parsed.and_then(|p| self.admissible(&source.path, current.as_deref(), p));
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
                    let same = current.as_ref().is_some_and(|name| {
                        *name == p.name && self.policies[name].controller.policy.target.key() == p.target.key()
                    });
                    if same {
                        let name = p.name.clone();
                        let entry = self.policies.get_mut(&name).expect("found above");
                        entry.controller.policy = p;
                        entry.checksum = sum;
                        entry.load_error = None;
                        report.updated.push(name);
                        continue;
                    }
                    if let Some(old) = current {
                        self.retire(&old);
                        report.removed.push(old);
                    }
                    let kept = self.retained.remove(&p.target.key()).or_else(|| {
                        // State written before histories were kept by target: by name.
                        let key = self
                            .retained
                            .iter()
                            .find(|(k, r)| r.name == p.name && !k.contains('/'))
                            .map(|(k, _)| k.clone())?;
                        self.retained.remove(&key)
                    });
                    let name = p.name.clone();
                    self.policies
                        .insert(name.clone(), PolicyEntry::new(source.path.clone(), sum, p, kept, now));
                    report.added.push(name);
                }
            }
        }
        report
    }

    /// Why `p` (read from `file`, which now holds the policy `current`, if any) may not
    /// be put in force: a name or a target already taken, or the query cap.
    fn admissible(&self, file: &Path, current: Option<&str>, p: Policy) -> Result<Policy, String> {
        let others = || {
            self.policies
                .iter()
                .filter(move |(n, e)| Some(n.as_str()) != current && e.file != file)
        };
        if let Some((_, other)) = others().find(|(n, _)| **n == p.name) {
            return Err(format!(
                "{}:1:1: policy name \"{}\" is already used by {}",
                file.display(),
                p.name,
                other.file.display()
            ));
        }
        if let Some((name, other)) = others().find(|(_, e)| e.controller.policy.target.overlaps(&p.target)) {
            return Err(format!(
                "{}:1:1: {} is already scaled by policy \"{name}\" ({}); one policy per service, so they cannot fight: merge the rules into one file",
                file.display(),
                p.target.describe(),
                other.file.display()
            ));
        }
        let queries: usize = others().map(|(_, e)| e.controller.policy.rules.len()).sum::<usize>() + p.rules.len();
        if queries > MAX_QUERIES_PER_ROUND {
            return Err(format!(
                "{}:1:1: this policy would raise the metric queries per round to {queries}, above the limit of {MAX_QUERIES_PER_ROUND}",
                file.display()
            ));
        }
        Ok(p)
    }

    /// Continues from histories another daemon saved (this one has just taken the lease):
    /// policies in force take their target's history and journal; the rest are retained.
    /// Not having watched the last stabilization window, each scales in only after
    /// observing one.
    pub fn adopt(&mut self, targets: BTreeMap<String, Retained>) {
        let mut targets = targets;
        for entry in self.policies.values_mut() {
            if let Some(r) = targets.remove(&entry.controller.policy.target.key()) {
                entry.controller.history = r.history;
                entry.controller.history.observed_since = None;
                entry.journal = r.journal;
                entry.journal_unsaved = 0;
            }
        }
        for (key, mut r) in targets {
            r.history.observed_since = None;
            self.retained.insert(key, r);
        }
    }

    /// Takes a policy out of force, keeping its target's history.
    fn retire(&mut self, name: &str) {
        if let Some(e) = self.policies.remove(name) {
            self.retained.insert(
                e.controller.policy.target.key(),
                Retained {
                    name: name.to_string(),
                    history: e.controller.history,
                    journal: e.journal,
                },
            );
        }
    }
}

/// Reads a policy file, at most one byte past the size limit (the parser refuses it).
pub fn read_capped(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(policy::MAX_FILE_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

/// Reads every `*.toml` file of `dir`.
pub fn read_dir(dir: &Path) -> Result<Vec<PolicySource>, String> {
    // A directory that vanished (an unmounted volume, a checkout in progress) is an outage
    // of the source, not an order to drop every policy: deleting the files does that.
    if !dir.exists() {
        return Err(format!(
            "cannot read policies directory {}: it does not exist",
            dir.display()
        ));
    }
    let files = policy::files_in(dir).map_err(|e| format!("cannot read policies directory {}: {e}", dir.display()))?;
    Ok(files
        .into_iter()
        .map(|path| {
            let content = read_capped(&path);
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
        r.apply(sources, false, Utc::now())
    }

    fn on(service: &str) -> String {
        GOOD.replace("service = \"s\"", &format!("service = \"{service}\""))
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
    fn restoring_the_content_in_force_clears_the_rejected_edit() {
        let mut r = Registry::default();
        apply(&mut r, vec![src("p/a.toml", GOOD)]);
        apply(&mut r, vec![src("p/a.toml", &GOOD.replace("max = 4", "max = 0"))]);
        assert!(r.policies["a"].load_error.is_some());
        let report = apply(&mut r, vec![src("p/a.toml", GOOD)]);
        assert_eq!(report.restored, vec!["a"]);
        assert!(r.policies["a"].load_error.is_none(), "the old error is gone");
    }

    #[test]
    fn updates_keep_history_and_deletes_stop_the_policy() {
        let mut r = Registry::default();
        apply(&mut r, vec![src("p/a.toml", GOOD), src("p/b.toml", &on("t"))]);
        let at = Utc::now();
        r.policies.get_mut("a").unwrap().controller.history.last_scale_out = Some(at);
        apply(
            &mut r,
            vec![
                src("p/a.toml", &GOOD.replace("max = 4", "max = 5")),
                src("p/b.toml", &on("t")),
            ],
        );
        assert_eq!(
            r.policies["a"].controller.history.last_scale_out,
            Some(at),
            "cooldowns survive edits"
        );
        let report = apply(&mut r, vec![src("p/b.toml", &on("t"))]);
        assert_eq!(report.removed, vec!["a"]);
        assert!(!r.policies.contains_key("a"));
    }

    #[test]
    fn history_belongs_to_the_target_across_renames_and_recreation() {
        let mut r = Registry::default();
        apply(&mut r, vec![src("p/a.toml", GOOD)]);
        let at = Utc::now();
        r.policies.get_mut("a").unwrap().controller.history.last_scale_out = Some(at);

        // Renamed file (the policy's name follows the file): found at once, history kept.
        let report = apply(&mut r, vec![src("p/b.toml", GOOD)]);
        assert_eq!(
            (report.removed.clone(), report.added.clone()),
            (vec!["a".into()], vec!["b".into()])
        );
        assert!(report.rejected.is_empty(), "{report:?}");
        assert_eq!(r.policies["b"].controller.history.last_scale_out, Some(at));

        // Renamed policy inside the same file.
        apply(&mut r, vec![src("p/b.toml", &format!("name = \"c\"\n{GOOD}"))]);
        assert_eq!(r.policies["c"].controller.history.last_scale_out, Some(at));

        // Deleted, then recreated.
        apply(&mut r, vec![]);
        assert!(r.policies.is_empty());
        apply(&mut r, vec![src("p/z.toml", GOOD)]);
        assert_eq!(r.policies["z"].controller.history.last_scale_out, Some(at));

        // Another target starts fresh.
        apply(&mut r, vec![src("p/z.toml", GOOD), src("p/y.toml", &on("other"))]);
        assert_eq!(r.policies["y"].controller.history.last_scale_out, None);
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
        apply(
            &mut r,
            vec![
                src("p/a.toml", &named),
                src("p/b.toml", &named.replace("\"s\"", "\"t\"")),
            ],
        );
        assert_eq!(r.policies.len(), 1);
        assert!(r.rejected[Path::new("p/b.toml")].contains("already used by p/a.toml"));
    }

    #[test]
    fn a_second_policy_on_a_scaled_target_is_refused_naming_both_files() {
        let mut r = Registry::default();
        let aws = |cluster: &str, region: Option<&str>| {
            let region = region.map_or(String::new(), |r| format!("region = \"{r}\"\n"));
            format!(
                "min = 1\nmax = 4\n[target]\nbackend = \"aws\"\ncluster = \"{cluster}\"\nservice = \"web\"\n{region}[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n"
            )
        };
        apply(&mut r, vec![src("p/a.toml", &aws("c1", None))]);
        let report = apply(
            &mut r,
            vec![
                src("p/a.toml", &aws("c1", None)),
                src("p/b.toml", &aws("c1", Some("eu-west-1"))),
                src("p/c.toml", &aws("c2", None)),
            ],
        );
        assert_eq!(report.added, vec!["c"], "another cluster is another service");
        let why = &r.rejected[Path::new("p/b.toml")];
        assert!(why.starts_with("p/b.toml:1:1:"), "{why}");
        assert!(
            why.contains("p/a.toml") && why.contains("\"a\""),
            "names the file in force: {why}"
        );
        assert_eq!(
            r.policies["a"].controller.policy.max, 4,
            "the one in force keeps running"
        );
        // Once the first is gone, the second may take over. Its history starts fresh: a
        // region written out makes another target key.
        apply(&mut r, vec![src("p/b.toml", &aws("c1", Some("eu-west-1")))]);
        assert!(r.policies.contains_key("b"));
    }

    #[test]
    fn the_metric_queries_of_all_policies_together_are_capped() {
        let mut r = Registry::default();
        let rules: String = (0..crate::policy::MAX_RULES)
            .map(|i| format!("[[rule]]\nname = \"r{i}\"\nmetric = \"ecs_cpu\"\ntarget = 70\n"))
            .collect();
        let per = crate::policy::MAX_RULES;
        let n = MAX_QUERIES_PER_ROUND / per;
        let sources: Vec<PolicySource> = (0..=n)
            .map(|i| {
                src(
                    &format!("p/{i:04}.toml"),
                    &format!("min = 1\nmax = 4\n[target]\nbackend = \"sim\"\nservice = \"s{i}\"\n{rules}"),
                )
            })
            .collect();
        let report = apply(&mut r, sources);
        assert_eq!(r.policies.len(), n);
        assert_eq!(report.rejected.len(), 1);
        assert!(report.rejected[0].1.contains("metric queries per round"), "{report:?}");
    }

    #[test]
    fn global_dry_run_is_forced_on_every_policy() {
        let mut r = Registry::default();
        r.apply(vec![src("p/a.toml", GOOD)], true, Utc::now());
        assert!(r.policies["a"].controller.policy.dry_run);
    }
}

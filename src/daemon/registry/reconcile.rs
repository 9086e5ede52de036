//! How a re-read of the policy source changes the policies in force.
//!
//! - A bad edit is rejected and the last good version stays in force; restoring the
//!   good content clears the error.
//! - One policy per scaled target: a second file on a target already scaled is refused,
//!   naming both files, and the one in force keeps running.
//! - History (cooldowns, the stabilization window, the journal) belongs to the target:
//!   it survives renaming the file or the policy, deleting and recreating it, and restarts.
//! - The metric queries of all policies together are capped per round.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use autoscaler_core::policy::{self, Policy, Target};
use chrono::{DateTime, Utc};

use super::entry::{PolicyEntry, Retained};
use super::table::Registry;
use crate::daemon::source::{PolicySource, SourceRead};

/// What one re-read changed.
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

/// The first 32 hex digits of the SHA-256 of a policy file's text.
pub fn checksum(content: &str) -> String {
    autoscaler_core::digest::sha256_hex(content.as_bytes())[..32].to_string()
}

/// Where to find a policy by file and by target while a re-read is applied: looking them
/// up by scanning every policy for every file would make a reload of 10,000 policies take
/// seconds.
struct Index {
    by_file: HashMap<PathBuf, String>,
    /// By [`overlap_key`]: the policies whose targets could be the same service.
    by_target: HashMap<String, Vec<String>>,
    /// Metric queries per round of every policy in force.
    queries: usize,
}

/// Targets that may overlap share this key (a region written out or not is one service).
fn overlap_key(t: &Target) -> String {
    match t {
        Target::Aws { cluster, service, .. } => format!("aws/{cluster}/{service}"),
        Target::Local { pool } => format!("local/{pool}"),
        Target::Sim { service } => format!("sim/{service}"),
    }
}

impl Index {
    fn of(policies: &BTreeMap<String, PolicyEntry>) -> Self {
        let mut index = Index {
            by_file: HashMap::with_capacity(policies.len()),
            by_target: HashMap::with_capacity(policies.len()),
            queries: 0,
        };
        for (name, e) in policies {
            index.add(name, e);
        }
        index
    }

    fn add(&mut self, name: &str, e: &PolicyEntry) {
        self.by_file.insert(e.file.clone(), name.to_string());
        self.by_target
            .entry(overlap_key(&e.controller.policy.target))
            .or_default()
            .push(name.to_string());
        self.queries += e.controller.policy.rules.len();
    }

    fn remove(&mut self, name: &str, e: &PolicyEntry) {
        self.by_file.remove(&e.file);
        if let Some(names) = self.by_target.get_mut(&overlap_key(&e.controller.policy.target)) {
            names.retain(|n| n != name);
        }
        self.queries -= e.controller.policy.rules.len();
    }
}

impl Registry {
    /// Brings the registry in line with `read` (the whole policy source). A file still
    /// settling keeps whatever it had: the version in force, its rejection, its skip.
    pub fn apply(&mut self, read: impl Into<SourceRead>, force_dry_run: bool, now: DateTime<Utc>) -> ReloadReport {
        let read = read.into();
        let mut report = ReloadReport::default();
        let present: HashSet<&PathBuf> = read.files.iter().map(|s| &s.path).chain(&read.settling).collect();
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
        let mut index = Index::of(&self.policies);
        for source in read.files {
            self.apply_one(source, force_dry_run, now, &mut index, &mut report);
        }
        report
    }

    fn apply_one(
        &mut self,
        source: PolicySource,
        force_dry_run: bool,
        now: DateTime<Utc>,
        index: &mut Index,
        report: &mut ReloadReport,
    ) {
        let sum = source.content.as_ref().map(|c| checksum(c)).unwrap_or_default();
        let current = index.by_file.get(&source.path).cloned();
        if let Some(name) = &current
            && let Some(entry) = self.policies.get_mut(name)
            && entry.checksum == sum
        {
            // Unchanged from the version in force; if an edit had been rejected, it
            // has been undone.
            if entry.load_error.take().is_some() {
                report.restored.push(name.clone());
            }
            return;
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
                self.retire_indexed(&name, index);
                report.removed.push(name);
            }
            self.rejected.remove(&source.path);
            if self.skipped.get(&source.path) != Some(&why) {
                report.skipped.push((source.path.clone(), why.clone()));
            }
            self.skipped.insert(source.path, why);
            return;
        }
        self.skipped.remove(&source.path);
        let parsed = parsed.and_then(|p| self.admissible(&source.path, current.as_deref(), p, index));
        match (parsed, current) {
            (Err(error), Some(name)) => {
                if let Some(entry) = self.policies.get_mut(&name) {
                    if entry.load_error.as_deref() != Some(error.as_str()) {
                        report.rejected.push((source.path.clone(), error.clone()));
                    }
                    entry.load_error = Some(error);
                }
            }
            (Err(error), None) => {
                if self.rejected.get(&source.path) != Some(&error) {
                    report.rejected.push((source.path.clone(), error.clone()));
                }
                self.rejected.insert(source.path, error);
            }
            (Ok(mut p), current) => {
                p.dry_run |= force_dry_run;
                self.rejected.remove(&source.path);
                let same = current
                    .as_ref()
                    .and_then(|name| self.policies.get(name))
                    .is_some_and(|e| {
                        e.controller.policy.name == p.name && e.controller.policy.target.key() == p.target.key()
                    });
                if same && let Some(entry) = self.policies.get_mut(&p.name) {
                    index.remove(&p.name, entry);
                    let name = p.name.clone();
                    entry.controller.policy = p.into();
                    entry.checksum = sum;
                    entry.load_error = None;
                    index.add(&name, entry);
                    report.updated.push(name);
                    return;
                }
                if let Some(old) = current {
                    self.retire_indexed(&old, index);
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
                let entry = PolicyEntry::new(source.path, sum, p, kept, now);
                index.add(&name, &entry);
                self.policies.insert(name.clone(), entry);
                report.added.push(name);
            }
        }
    }

    /// Why `p` (read from `file`, which now holds the policy `current`, if any) may not
    /// be put in force: a name or a target already taken, or the query cap.
    fn admissible(&self, file: &Path, current: Option<&str>, p: Policy, index: &Index) -> Result<Policy, String> {
        let other = |name: &str| {
            self.policies
                .get(name)
                .filter(|e| Some(name) != current && e.file != file)
        };
        if let Some(taken) = other(&p.name) {
            return Err(format!(
                "{}:1:1: policy name \"{}\" is already used by {}",
                file.display(),
                p.name,
                taken.file.display()
            ));
        }
        let candidates = index
            .by_target
            .get(&overlap_key(&p.target))
            .map_or(&[][..], Vec::as_slice);
        if let Some((name, taken)) = candidates
            .iter()
            .filter_map(|n| other(n).map(|e| (n, e)))
            .find(|(_, e)| e.controller.policy.target.overlaps(&p.target))
        {
            return Err(format!(
                "{}:1:1: {} is already scaled by policy \"{name}\" ({}); one policy per service, so they cannot fight: merge the rules into one file",
                file.display(),
                p.target.describe(),
                taken.file.display()
            ));
        }
        let current_queries = current
            .and_then(|n| self.policies.get(n))
            .map_or(0, |e| e.controller.policy.rules.len());
        let queries = index.queries - current_queries + p.rules.len();
        if queries > self.query_cap {
            return Err(format!(
                "{}:1:1: this policy would raise the metric queries per round to {queries}, above the limit of {}",
                file.display(),
                self.query_cap
            ));
        }
        Ok(p)
    }

    fn retire_indexed(&mut self, name: &str, index: &mut Index) {
        if let Some(e) = self.policies.get(name) {
            index.remove(name, e);
        }
        self.retire(name);
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

#[cfg(test)]
mod tests {
    use super::super::table::MAX_QUERIES_PER_ROUND;
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
        let rules: String = (0..autoscaler_core::policy::MAX_RULES)
            .map(|i| format!("[[rule]]\nname = \"r{i}\"\nmetric = \"ecs_cpu\"\ntarget = 70\n"))
            .collect();
        let per = autoscaler_core::policy::MAX_RULES;
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

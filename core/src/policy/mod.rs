//! Policy files: the TOML format, its validation with file:line:column diagnostics,
//! and the JSON Schema shipped for editors.

pub mod checker;
pub mod cron;
pub mod diagnostic;
pub mod duration;
pub mod expression;
pub mod file;
mod model;
mod recover;
mod validate;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, FileErrors};
pub use model::*;
pub use validate::{MAX_RULES, MAX_SCHEDULES, MAX_TASKS};

/// Policy files larger than this are refused before they are parsed.
pub const MAX_FILE_BYTES: usize = 64 * 1024;

/// Parses and validates one policy file's text.
pub fn parse(path: &Path, source: &str) -> Result<Policy, FileErrors> {
    if source.len() > MAX_FILE_BYTES {
        return Err(FileErrors(vec![Diagnostic::at(
            path,
            source,
            Some(0..0),
            format!(
                "the file has {} bytes; policy files may have at most {MAX_FILE_BYTES} (one file per service, at most {MAX_RULES} rules)",
                source.len()
            ),
        )]));
    }
    let read = recover::read(path, source);
    let Some(raw) = read.file else {
        return Err(FileErrors(read.problems));
    };
    match (validate::validate(path, &read.text, raw), read.problems.is_empty()) {
        (result, true) => result,
        // The rest of the file is checked too; what a set-aside line leaves behind is not news.
        (result, false) => {
            let mut problems = read.problems;
            let consequence = |d: &Diagnostic| {
                let file_level = d.line == 1 && d.column == 1;
                let judges_placeholder = d
                    .message
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|word| read.placeholders.iter().any(|p| p == word));
                (read.set_aside.contains(&d.line) && !file_level) || judges_placeholder
            };
            if let Err(FileErrors(more)) = result {
                problems.extend(more.into_iter().filter(|d| !consequence(d)));
            }
            problems.sort_by_key(|d| (d.line, d.column));
            Err(FileErrors(problems))
        }
    }
}

/// Reads, parses and validates one policy file.
pub fn load(path: &Path) -> Result<Policy, FileErrors> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| FileErrors(vec![Diagnostic::at(path, "", None, format!("cannot read file: {e}"))]))?;
    parse(path, &source)
}

/// The policy files of a directory (`*.toml`, sorted), or the given file itself.
pub fn files_in(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

impl Policy {
    /// A one-line summary, as printed by `validate`.
    pub fn summary(&self) -> String {
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|r| match r.goal {
                Goal::Track { target, .. } => format!("{} {}", r.name, trim(target)),
                Goal::LatencyGuard { target, .. } => format!("{} <= {}ms", r.name, trim(target * 1000.0)),
                Goal::ErrorGuard { target } => format!("{} <= {}/s", r.name, trim(target)),
            })
            .collect();
        format!(
            "{}: {} min {} max {} every {}, rules [{}]{}{}{}",
            self.name,
            self.target.describe(),
            self.min,
            self.max,
            duration::format(self.interval),
            rules.join(", "),
            if self.spare > 0 {
                format!(", spare {}", self.spare)
            } else {
                String::new()
            },
            if self.schedules.is_empty() {
                String::new()
            } else {
                format!(", {} schedule(s)", self.schedules.len())
            },
            if self.dry_run { ", dry run" } else { "" },
        )
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

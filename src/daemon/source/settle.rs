//! Only whole files become policies. A file written in place (truncated, then written in
//! pieces) can be read half written, and a first half can itself be a valid policy. A
//! file is read once it has been quiet for the settle time; one that arrived by a rename
//! (how editors and `mv` replace a file) is whole at once and is read at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

pub struct Settle {
    quiet: Duration,
    /// Files that arrived by a rename, with their modification time then.
    renamed: Mutex<HashMap<PathBuf, SystemTime>>,
}

impl Settle {
    pub fn new(quiet: Duration) -> Self {
        Self {
            quiet,
            renamed: Mutex::new(HashMap::new()),
        }
    }

    pub fn quiet(&self) -> Duration {
        self.quiet
    }

    /// `path` was just renamed into place, whole.
    pub fn arrived_whole(&self, path: &Path) {
        if let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) {
            self.map().insert(path.to_path_buf(), modified);
        }
    }

    /// Whether `path`, last modified at `modified`, may be read at `now`.
    pub fn is_settled(&self, path: &Path, modified: SystemTime, now: SystemTime) -> bool {
        if self.map().get(path) == Some(&modified) {
            return true;
        }
        match now.duration_since(modified) {
            Ok(age) => age >= self.quiet,
            // A modification time ahead of this clock says nothing about when writing ended.
            Err(_) => true,
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, SystemTime>> {
        self.renamed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_written_in_place_waits_and_one_renamed_into_place_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let settle = Settle::new(Duration::from_secs(2));
        let written = dir.path().join("a.toml");
        std::fs::write(&written, "min = 1\n").unwrap();
        let now = SystemTime::now();
        let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        assert!(!settle.is_settled(&written, modified(&written), now));
        assert!(settle.is_settled(&written, modified(&written), now + Duration::from_secs(3)));

        let tmp = dir.path().join(".b.toml.swp");
        let renamed = dir.path().join("b.toml");
        std::fs::write(&tmp, "min = 1\n").unwrap();
        std::fs::rename(&tmp, &renamed).unwrap();
        settle.arrived_whole(&renamed);
        assert!(settle.is_settled(&renamed, modified(&renamed), now));
        // Written in place after the rename: waits again.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&renamed, "min = 2\n").unwrap();
        assert!(!settle.is_settled(&renamed, modified(&renamed), SystemTime::now()));
    }
}

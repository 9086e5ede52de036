//! Policies in a directory: every `*.toml` file, read whole, at most one byte past the
//! size limit (the parser refuses it).

use std::path::Path;
use std::time::SystemTime;

use autoscaler_core::policy;

use super::read::{PolicySource, SourceRead};
use super::settle::Settle;

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

/// Reads every `*.toml` file of `dir`, whatever state it is in (`validate`).
pub fn read_dir(dir: &Path) -> Result<Vec<PolicySource>, String> {
    Ok(list(dir)?
        .into_iter()
        .map(|path| {
            let content = read_capped(&path);
            PolicySource { path, content }
        })
        .collect())
}

/// Reads every `*.toml` file of `dir` that has settled; names the ones still being written.
pub fn read_settled(dir: &Path, settle: &Settle) -> Result<SourceRead, String> {
    let mut read = SourceRead::default();
    let now = SystemTime::now();
    for path in list(dir)? {
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if modified.is_some_and(|m| !settle.is_settled(&path, m, now)) {
            read.settling.push(path);
            continue;
        }
        let content = read_capped(&path);
        read.files.push(PolicySource { path, content });
    }
    Ok(read)
}

fn list(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    // A directory that vanished (an unmounted volume, a checkout in progress) is an outage
    // of the source, not an order to drop every policy: deleting the files does that.
    if !dir.exists() {
        return Err(format!(
            "cannot read policies directory {}: it does not exist",
            dir.display()
        ));
    }
    policy::files_in(dir).map_err(|e| format!("cannot read policies directory {}: {e}", dir.display()))
}

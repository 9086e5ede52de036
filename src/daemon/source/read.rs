//! What one read of the policy source found.

use std::path::PathBuf;

/// A file (or object) of the policy source as read.
pub struct PolicySource {
    pub path: PathBuf,
    pub content: Result<String, String>,
}

/// One read of the whole source.
#[derive(Default)]
pub struct SourceRead {
    pub files: Vec<PolicySource>,
    /// Files present but still being written: neither loaded nor dropped this time.
    pub settling: Vec<PathBuf>,
}

impl From<Vec<PolicySource>> for SourceRead {
    fn from(files: Vec<PolicySource>) -> Self {
        Self {
            files,
            settling: Vec::new(),
        }
    }
}

//! Where policies come from: a directory of `*.toml` files, or an S3 prefix
//! (`s3://bucket/prefix/`). Parsed once, here; the policy source reads what this names.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyLocation {
    Dir(PathBuf),
    S3 {
        bucket: String,
        /// Ends in `/` unless empty.
        prefix: String,
    },
}

impl PolicyLocation {
    /// `s3://bucket/prefix/` or a directory; None for an `s3://` without a bucket.
    pub fn parse(spec: &Path) -> Option<Self> {
        let text = spec.to_string_lossy();
        let Some(rest) = text.strip_prefix("s3://") else {
            return Some(PolicyLocation::Dir(spec.to_path_buf()));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        let mut prefix = prefix.to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Some(PolicyLocation::S3 {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// The directory, if the policies are in one (it is watched for changes).
    pub fn dir(&self) -> Option<&Path> {
        match self {
            PolicyLocation::Dir(d) => Some(d),
            PolicyLocation::S3 { .. } => None,
        }
    }
}

impl fmt::Display for PolicyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyLocation::Dir(d) => write!(f, "{}", d.display()),
            PolicyLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(spec: &str) -> Option<(String, String)> {
        match PolicyLocation::parse(Path::new(spec))? {
            PolicyLocation::S3 { bucket, prefix } => Some((bucket, prefix)),
            PolicyLocation::Dir(_) => None,
        }
    }

    #[test]
    fn s3_urls_name_a_bucket_and_a_prefix() {
        assert_eq!(s3("s3://b/policies/"), Some(("b".into(), "policies/".into())));
        assert_eq!(s3("s3://b/p"), Some(("b".into(), "p/".into())));
        assert_eq!(s3("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(PolicyLocation::parse(Path::new("s3:///p")), None);
        assert_eq!(
            PolicyLocation::parse(Path::new("policies")),
            Some(PolicyLocation::Dir("policies".into()))
        );
    }
}

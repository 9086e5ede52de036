//! Where policies come from: a directory of `*.toml` files (`dir.rs`), or an S3 prefix of
//! `*.toml` objects (`s3.rs`). Either way the daemon gets the same [`PolicySource`]s, so
//! validation, last-good and conflict rules are the same. A file still being written is
//! not read until it has been quiet for a while (`settle.rs`).

mod dir;
mod read;
#[cfg(feature = "aws")]
mod s3;
pub mod settle;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use dir::{read_capped, read_dir};
pub use read::{PolicySource, SourceRead};
pub use settle::Settle;

use crate::settings::{AwsSettings, PolicyLocation};

pub enum Source {
    Dir {
        dir: PathBuf,
        settle: Arc<Settle>,
    },
    #[cfg(feature = "aws")]
    S3(s3::S3Source),
}

impl Source {
    /// The source `location` names; an S3 source connects with the aws settings
    /// (region, endpoint override, timeouts). Settings refuse an S3 location in a build
    /// without the aws feature.
    pub async fn open(location: &PolicyLocation, aws: &AwsSettings, settle: Arc<Settle>) -> Self {
        #[cfg(not(feature = "aws"))]
        let _ = aws;
        match location {
            #[cfg(feature = "aws")]
            PolicyLocation::S3 { bucket, prefix } => Source::S3(s3::S3Source::open(bucket, prefix, aws).await),
            PolicyLocation::Dir(dir) => Source::Dir {
                dir: dir.clone(),
                settle,
            },
            #[cfg(not(feature = "aws"))]
            PolicyLocation::S3 { .. } => Source::Dir {
                dir: location.to_string().into(),
                settle,
            },
        }
    }

    /// The directory to watch for changes, if this source is one.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Source::Dir { dir, .. } => Some(dir),
            #[cfg(feature = "aws")]
            Source::S3(_) => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Dir { dir, .. } => dir.display().to_string(),
            #[cfg(feature = "aws")]
            Source::S3(s) => s.describe(),
        }
    }

    /// Every policy of the source. Fails only when the source cannot be listed at all;
    /// a file that cannot be read is a source with an error.
    pub async fn read(&self) -> Result<SourceRead, String> {
        match self {
            Source::Dir { dir, settle } => {
                let (dir, settle) = (dir.clone(), Arc::clone(settle));
                tokio::task::spawn_blocking(move || dir::read_settled(&dir, &settle))
                    .await
                    .map_err(|e| format!("reading the policies directory failed: {e}"))?
            }
            #[cfg(feature = "aws")]
            Source::S3(s) => s.read().await.map(SourceRead::from),
        }
    }
}

//! Where policies come from: a directory of `*.toml` files, or an S3 prefix
//! (`s3://bucket/prefix/`) of `*.toml` objects. Either way the daemon gets the same
//! [`PolicySource`]s, so validation, last-good and conflict rules are the same; an S3
//! object's diagnostics read `s3://bucket/prefix/name.toml:line:col`.

#[cfg(feature = "aws")]
use std::collections::HashMap;
use std::path::{Path, PathBuf};
#[cfg(feature = "aws")]
use std::sync::Mutex;

#[cfg(feature = "aws")]
use aws_smithy_types::error::display::DisplayErrorContext;

use super::registry::{PolicySource, read_dir};
#[cfg(feature = "aws")]
use crate::policy::MAX_FILE_BYTES;
use crate::settings::AwsSettings;

pub enum Source {
    Dir(PathBuf),
    #[cfg(feature = "aws")]
    S3(S3Source),
}

/// Objects directly under a prefix. Listing gives each object's ETag, so an unchanged
/// object is not fetched again.
#[cfg(feature = "aws")]
pub struct S3Source {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    /// Key -> (ETag, content) of what was fetched.
    cache: Mutex<HashMap<String, (String, String)>>,
}

/// Splits `s3://bucket/prefix/` into the bucket and the prefix (ending in `/` unless empty).
pub fn parse_s3(spec: &str) -> Option<(String, String)> {
    let rest = spec.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    let mut prefix = prefix.to_string();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    Some((bucket.to_string(), prefix))
}

impl Source {
    /// The source `policies_dir` names; an S3 source connects with the aws settings
    /// (region, endpoint override, timeouts).
    /// (Settings refuse an S3 source in a build without the aws feature.)
    pub async fn open(policies_dir: &Path, aws: &AwsSettings) -> Self {
        let spec = policies_dir.to_string_lossy();
        #[cfg(not(feature = "aws"))]
        let _ = aws;
        match parse_s3(&spec) {
            #[cfg(feature = "aws")]
            Some((bucket, prefix)) => {
                let config = crate::backend::aws::sdk_config(aws).await;
                let s3 = aws_sdk_s3::config::Builder::from(&config)
                    // Local endpoints (moto, MinIO) do not resolve bucket host names.
                    .force_path_style(aws.endpoint_url.is_some())
                    .build();
                Source::S3(S3Source {
                    client: aws_sdk_s3::Client::from_conf(s3),
                    bucket,
                    prefix,
                    cache: Mutex::new(HashMap::new()),
                })
            }
            _ => Source::Dir(policies_dir.to_path_buf()),
        }
    }

    /// The directory to watch for changes, if this source is one.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Source::Dir(d) => Some(d),
            #[cfg(feature = "aws")]
            Source::S3(_) => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Dir(d) => d.display().to_string(),
            #[cfg(feature = "aws")]
            Source::S3(s) => format!("s3://{}/{}", s.bucket, s.prefix),
        }
    }

    /// Every policy of the source. Fails only when the source cannot be listed at all;
    /// an object that cannot be read is a source with an error.
    pub async fn read(&self) -> Result<Vec<PolicySource>, String> {
        match self {
            Source::Dir(d) => read_dir(d),
            #[cfg(feature = "aws")]
            Source::S3(s) => s.read().await,
        }
    }
}

#[cfg(feature = "aws")]
impl S3Source {
    async fn read(&self) -> Result<Vec<PolicySource>, String> {
        let mut objects: Vec<(String, String, i64)> = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                format!(
                    "cannot list s3://{}/{}: {}",
                    self.bucket,
                    self.prefix,
                    DisplayErrorContext(&e)
                )
            })?;
            for o in page.contents() {
                if let Some(key) = o.key().filter(|k| k.ends_with(".toml")) {
                    let etag = o.e_tag().unwrap_or_default().to_string();
                    objects.push((key.to_string(), etag, o.size().unwrap_or(0)));
                }
            }
        }
        objects.sort();
        let mut sources = Vec::with_capacity(objects.len());
        let mut fresh = HashMap::new();
        for (key, etag, size) in objects {
            let path = PathBuf::from(format!("s3://{}/{key}", self.bucket));
            let cached = self
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
                .filter(|(e, _)| !etag.is_empty() && *e == etag)
                .map(|(_, text)| text.clone());
            let content = match cached {
                Some(text) => Ok(text),
                None if size > MAX_FILE_BYTES as i64 => Err(format!(
                    "the object has {size} bytes; policy files may have at most {MAX_FILE_BYTES}"
                )),
                None => self.fetch(&key).await,
            };
            if let Ok(text) = &content {
                fresh.insert(key.clone(), (etag, text.clone()));
            }
            sources.push(PolicySource { path, content });
        }
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(sources)
    }

    async fn fetch(&self, key: &str) -> Result<String, String> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("GetObject failed: {}", DisplayErrorContext(&e)))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| format!("reading the object failed: {e}"))?
            .into_bytes();
        if bytes.len() > MAX_FILE_BYTES {
            return Err(format!(
                "the object has {} bytes; policy files may have at most {MAX_FILE_BYTES}",
                bytes.len()
            ));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| "the object is not UTF-8 text".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse_s3("s3://b/policies/"), Some(("b".into(), "policies/".into())));
        assert_eq!(parse_s3("s3://b/p"), Some(("b".into(), "p/".into())));
        assert_eq!(parse_s3("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(parse_s3("s3:///p"), None);
        assert_eq!(parse_s3("policies"), None);
    }
}

//! Policies in an S3 prefix: objects directly under it, fetched again only when their
//! ETag changes. An object's diagnostics read `s3://bucket/prefix/name.toml:line:col`.
//! Uploads are atomic, so an object is always whole.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use autoscaler_core::policy::MAX_FILE_BYTES;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::read::PolicySource;

/// Objects directly under a prefix. Listing gives each object's ETag, so an unchanged
/// object is not fetched again.
pub struct S3Source {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    /// Key -> (ETag, content) of what was fetched.
    cache: Mutex<HashMap<String, (String, String)>>,
}

impl S3Source {
    pub(super) async fn open(bucket: &str, prefix: &str, aws: &crate::settings::AwsSettings) -> Self {
        let config = crate::backend::aws::sdk_config(aws).await;
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            // Local endpoints (moto, MinIO) do not resolve bucket host names.
            .force_path_style(aws.endpoint_url.is_some())
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    pub(super) async fn read(&self) -> Result<Vec<PolicySource>, String> {
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

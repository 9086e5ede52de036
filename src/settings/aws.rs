//! `[aws]`: how the aws backend, the DynamoDB store and S3 policies reach AWS.

use std::time::Duration;

use autoscaler_core::policy::duration;

use super::error::SettingsError;
use super::file::RawAws;

#[derive(Debug, Clone)]
/// Connection settings of the `aws` backend.
pub struct AwsSettings {
    /// Region; default: the standard AWS configuration chain (AWS_REGION, profile, IMDS/ECS).
    pub region: Option<String>,
    /// Endpoint override for VPC endpoints, proxies or a local test server.
    pub endpoint_url: Option<String>,
    /// Limit on one attempt of one call.
    pub call_timeout: Duration,
    /// Attempts per call, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Consecutive failures that open an API's circuit, and how long it stays open.
    pub breaker_threshold: u32,
    pub breaker_open_for: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            call_timeout: Duration::from_secs(5),
            max_attempts: 3,
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(30),
        }
    }
}

impl AwsSettings {
    pub(super) fn from_raw(raw: RawAws) -> Result<Self, SettingsError> {
        let mut aws = AwsSettings {
            region: raw.region.filter(|r| !r.trim().is_empty()),
            endpoint_url: raw.endpoint_url.filter(|e| !e.trim().is_empty()),
            ..Default::default()
        };
        if let Some(t) = &raw.call_timeout {
            aws.call_timeout = duration::parse(t).map_err(|e| SettingsError(format!("aws.call_timeout: {e}")))?;
        }
        if let Some(n) = raw.max_attempts {
            if !(1..=10).contains(&n) {
                return Err(SettingsError(format!("aws.max_attempts must be 1..=10, found {n}")));
            }
            aws.max_attempts = n;
        }
        if let Some(e) = &aws.endpoint_url
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(SettingsError(format!(
                "aws.endpoint_url \"{e}\" must start with http:// or https://"
            )));
        }
        Ok(aws)
    }

    /// The longest one call may take, every retry included.
    pub fn call_budget(&self) -> Duration {
        self.call_timeout * self.max_attempts
    }
}

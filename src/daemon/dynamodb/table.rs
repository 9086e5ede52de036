//! The table's items and keys, and DynamoDB's errors in one line.

use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Where in the table, and for how long journal entries stay.
#[derive(Debug, Clone)]
pub struct Table {
    pub table: String,
    /// The deployment's name: the prefix of every partition key.
    pub name: String,
    pub journal_ttl: Duration,
}

impl Table {
    pub(super) fn lease_pk(&self) -> String {
        format!("{}#lease", self.name)
    }
    pub(super) fn history_pk(&self) -> String {
        format!("{}#history", self.name)
    }
    pub(super) fn journal_pk(&self, key: &str) -> String {
        format!("{}#journal#{key}", self.name)
    }
}

/// A DynamoDB error as one line, and whether a condition refused the write.
pub(super) fn describe<E>(call: &str, err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> (String, bool)
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    let refused = err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException");
    let reason = match err {
        SdkError::ServiceError(e) => {
            let what = match (e.err().code(), e.err().message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => "an answer that is not DynamoDB's".to_string(),
            };
            format!("HTTP {} ({what})", e.raw().status().as_u16())
        }
        SdkError::TimeoutError(_) => "no answer within the call timeout".to_string(),
        other => {
            let text = DisplayErrorContext(other).to_string();
            text.chars().take(300).collect()
        }
    };
    (format!("DynamoDB {call}: {reason}"), refused)
}

//! State and leadership in one DynamoDB table (`pk` string hash key, `sk` string range
//! key, TTL on `expires`), so that a replaced, redeployed or paused daemon task hands over
//! to another with every cooldown and stabilization window intact.
//!
//! Items, all under the deployment's `name` (several deployments may share a table):
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `{name}#lease` | `lease` | the leader's lease: `holder`, `epoch`, `expires_at_ms` |
//! | `{name}#history` | target key | one target's history (`body`, JSON) and the `epoch` that wrote it |
//! | `{name}#journal#{target key}` | decision time `#` sequence | one journal entry (`body`), gone after `expires` |

mod lease;
mod store;

use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub use lease::DynamoLease;
pub use store::DynamoStore;

/// Where in the table, and for how long journal entries stay.
#[derive(Debug, Clone)]
pub struct Table {
    pub table: String,
    /// The deployment's name: the prefix of every partition key.
    pub name: String,
    pub journal_ttl: Duration,
}

impl Table {
    fn lease_pk(&self) -> String {
        format!("{}#lease", self.name)
    }
    fn history_pk(&self) -> String {
        format!("{}#history", self.name)
    }
    fn journal_pk(&self, key: &str) -> String {
        format!("{}#journal#{key}", self.name)
    }
}

/// A DynamoDB error as one line, and whether a condition refused the write.
fn describe<E>(call: &str, err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> (String, bool)
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

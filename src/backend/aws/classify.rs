//! What a failed AWS call means for the caller: worth trying again later, or not.

use aws_smithy_types::error::display::DisplayErrorContext;

use crate::backend::BackendError;

/// Throttling, server errors and anything that never got an answer may pass; other client
/// errors (unknown cluster, access denied, bad parameters) will not by waiting.
pub fn classify<E>(
    call: &'static str,
    err: &aws_sdk_ecs::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> BackendError
where
    E: std::error::Error + aws_sdk_ecs::error::ProvideErrorMetadata + 'static,
{
    use aws_sdk_ecs::error::ProvideErrorMetadata;
    let reason = format!("{}", DisplayErrorContext(err));
    let status = err.raw_response().map(|r| r.status().as_u16());
    let throttled = err
        .code()
        .is_some_and(|c| c.contains("Throttl") || c == "RequestLimitExceeded");
    match status {
        Some(s) if (400..500).contains(&s) && !throttled => BackendError::Rejected { call, reason },
        _ => BackendError::Unavailable { call, reason },
    }
}

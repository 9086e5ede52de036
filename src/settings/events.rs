//! `[events]`: where scaling events go (Amazon EventBridge), if anywhere.

use super::error::SettingsError;
use super::file::RawEvents;

/// Scaling events to an EventBridge bus; from there rules route them to SNS, chat or
/// paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsSettings {
    /// The bus's name or ARN ("default" is the account's default bus).
    pub bus: String,
    /// The events' `source`, what rules match on. Default "ecs-autoscaler".
    pub source: String,
}

pub(super) fn events_settings(raw: RawEvents) -> Result<Option<EventsSettings>, SettingsError> {
    let Some(bus) = raw.bus.filter(|b| !b.trim().is_empty()) else {
        if raw.source.is_some() {
            return Err(SettingsError(
                "events.source is set but events.bus is not: set events.bus (ECS_AUTOSCALER_EVENTS__BUS) to send events".into(),
            ));
        }
        return Ok(None);
    };
    let source = raw.source.unwrap_or_else(|| "ecs-autoscaler".into());
    // EventBridge: 1-256 characters; "aws." sources are AWS's own.
    if source.trim().is_empty() || source.len() > 256 || source.starts_with("aws.") {
        return Err(SettingsError(format!(
            "events.source \"{source}\" must be 1 to 256 characters and may not start with \"aws.\""
        )));
    }
    Ok(Some(EventsSettings { bus, source }))
}

//! Why the settings cannot be used.

#[derive(Debug, thiserror::Error)]
#[error("settings: {0}")]
pub struct SettingsError(pub(super) String);

//! Moving a service over from AWS's own scaler: its configuration as read
//! ([`scaling`]), the closest policy file ([`import`]), and whether the daemon may act
//! beside it ([`handover`]).

pub mod handover;
pub mod import;
pub mod scaling;

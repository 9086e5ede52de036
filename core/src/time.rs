//! Durations between `std` (what policies and settings hold) and `chrono` (what times are
//! compared in). One conversion for the whole system, and it saturates: a duration too long
//! for chrono is as long as chrono allows, never zero.

use std::time::Duration;

/// `d` as a chrono duration, saturating at chrono's maximum.
pub fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `d` as a std duration: negative durations are zero.
pub fn to_std(d: chrono::Duration) -> Duration {
    d.to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate_instead_of_wrapping_or_zeroing() {
        assert_eq!(to_chrono(Duration::MAX), chrono::Duration::MAX);
        assert_eq!(
            to_chrono(Duration::from_millis(1500)),
            chrono::Duration::milliseconds(1500)
        );
        assert_eq!(to_std(chrono::Duration::seconds(-5)), Duration::ZERO);
        assert_eq!(to_std(chrono::Duration::seconds(5)), Duration::from_secs(5));
    }
}

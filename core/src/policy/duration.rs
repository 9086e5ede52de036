//! Human durations ("90s", "5m", "150ms") as they appear in policy and scenario files.

use std::time::Duration;

/// Parses a human duration. Bare numbers are refused: "60" could mean seconds or
/// milliseconds, and a policy must not be ambiguous about time.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("expected a duration such as \"90s\" or \"5m\", found an empty string".into());
    }
    if text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "\"{text}\" has no unit: write it like \"{text}s\" or \"{text}ms\""
        ));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("\"{text}\" is not a duration ({e}); write it like \"90s\", \"5m\" or \"150ms\""))
}

/// Formats a duration the way it is written in files, e.g. "5m" or "1m 30s".
pub fn format(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    humantime::format_duration(d).to_string()
}

/// Serializes a duration as the human string it is written as (serde's `serialize_with`).
pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn refuses_bare_numbers_and_garbage() {
        assert!(parse("60").unwrap_err().contains("no unit"));
        assert!(parse("").is_err());
        assert!(parse("soon").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["5m", "90ms", "1h 30m"] {
            assert_eq!(parse(&format(parse(s).unwrap())), parse(s));
        }
    }
}

//! The one collector of a file's problems: every check reports where (a span of the file)
//! and why, and reading goes on, so one run shows every problem. Policy validation and the
//! simulator's scenario and family files all read through it.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use super::diagnostic::{Diagnostic, FileErrors};
use super::duration;
use super::file::Located;

/// No duration in a policy or scenario is longer than this (cooldowns, windows, schedules).
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Checker<'a> {
    file: &'a Path,
    source: &'a str,
    errors: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Self {
            file,
            source,
            errors: Vec::new(),
        }
    }

    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::at(self.file, self.source, Some(span), message));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The problems found, in file order; `Ok(value)` if there were none.
    pub fn finish<T>(mut self, value: T) -> Result<T, FileErrors> {
        if self.errors.is_empty() {
            return Ok(value);
        }
        self.errors.sort_by_key(|d| (d.line, d.column));
        Err(FileErrors(self.errors))
    }

    /// A length of time (a cooldown, a window, a period): greater than zero, at most `at_most`.
    pub fn duration_up_to(&mut self, value: &Located<String>, what: &str, at_most: Duration) -> Option<Duration> {
        match duration::parse(value.get()) {
            Ok(d) if d.is_zero() => {
                self.error(value.span(), format!("{what} must be greater than zero"));
                None
            }
            Ok(d) if d > at_most => {
                self.error(
                    value.span(),
                    format!(
                        "{what} must be at most {}, found \"{}\"",
                        phrase(at_most),
                        value.get().trim()
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(value.span(), format!("{what}: {e}"));
                None
            }
        }
    }

    /// A length of time, at most [`MAX_DURATION`].
    pub fn duration(&mut self, value: &Located<String>, what: &str) -> Option<Duration> {
        self.duration_up_to(value, what, MAX_DURATION)
    }

    pub fn optional_duration(&mut self, value: &Option<Located<String>>, what: &str, default: Duration) -> Duration {
        value.as_ref().and_then(|v| self.duration(v, what)).unwrap_or(default)
    }

    /// A point in time or an offset from one ("at", a jitter, a ramp): zero is allowed.
    pub fn offset(&mut self, value: &Located<String>, what: &str) -> Option<Duration> {
        match duration::parse(value.get()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(value.span(), format!("{what}: {e}"));
                None
            }
        }
    }

    pub fn optional_offset(&mut self, value: &Option<Located<String>>, what: &str, default: Duration) -> Duration {
        value.as_ref().and_then(|v| self.offset(v, what)).unwrap_or(default)
    }

    /// A whole number in `least..=most`.
    pub fn count(&mut self, value: &Located<i64>, what: &str, least: i64, most: u32) -> Option<u32> {
        let n = *value.get();
        if n < least {
            self.error(value.span(), format!("{what} must be at least {least}, found {n}"));
            return None;
        }
        match u32::try_from(n) {
            Ok(n) if n <= most => Some(n),
            _ => {
                self.error(value.span(), format!("{what} must be at most {most}, found {n}"));
                None
            }
        }
    }

    /// A name: 1 to 64 characters of letters, digits, '-', '_' or '.'.
    pub fn name(&mut self, value: &Located<String>, what: &str) -> String {
        let name = value.get().trim();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            self.error(
                value.span(),
                format!("{what} \"{name}\" must be 1 to 64 characters of letters, digits, '-', '_' or '.'"),
            );
        }
        name.to_string()
    }
}

/// A limit as people say it: "7 days", "1h".
fn phrase(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        format!("{} days", secs / 86_400)
    } else {
        duration::format(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(source: &str) -> Located<String> {
        #[derive(serde::Deserialize)]
        struct One {
            v: Located<String>,
        }
        toml::from_str::<One>(source).unwrap().v
    }

    #[test]
    fn a_length_of_time_is_never_zero_but_an_offset_may_be() {
        let src = "v = \"0s\"";
        let mut c = Checker::new(Path::new("f.toml"), src);
        assert_eq!(c.duration(&located(src), "cooldown"), None);
        assert_eq!(c.offset(&located(src), "at"), Some(Duration::ZERO));
        let errors = c.finish(()).unwrap_err().to_string();
        assert_eq!(errors, "f.toml:1:5: cooldown must be greater than zero");
    }

    #[test]
    fn problems_come_out_in_file_order() {
        let src = "v = \"soon\"";
        let mut c = Checker::new(Path::new("f.toml"), src);
        c.error(5..6, "second");
        c.error(0..1, "first");
        let text = c.finish(()).unwrap_err().to_string();
        assert!(text.starts_with("f.toml:1:1: first\nf.toml:1:6: second"), "{text}");
    }
}

//! Reading a policy file with more than one problem. The TOML layer stops at its first
//! error; here each error is reported with the fix it suggests, its line is set aside
//! (or, for a required key, given a placeholder value) and the file read again, so one
//! `validate` run lists every problem in the file.

use std::collections::BTreeSet;
use std::path::Path;

use super::diagnostic::{Diagnostic, from_toml_error};
use super::file::PolicyFile;

/// Errors reported per file before giving up: beyond this the file is mostly wrong.
const MAX_ERRORS: usize = 25;

/// Keys whose values are durations, written as strings with a unit.
const DURATION_KEYS: &[&str] = &[
    "interval",
    "cooldown",
    "stabilization",
    "patience",
    "after",
    "period",
    "max_age",
    "count_window",
    "duration",
    "history",
];

/// Keys whose values are numbers (a latency rule's `target` may also be "150ms").
const NUMBER_KEYS: &[&str] = &[
    "min",
    "max",
    "spare",
    "target",
    "tolerance",
    "scale_in_headroom",
    "max_scale_out_factor",
    "learned_share",
    "fallback_count",
    "max_step",
    "max_error",
    "max_tasks_above",
    "max_share_above",
    "confident_share",
];

/// What was read: the file (when every required key could be read), the problems found,
/// and the lines set aside (1-based), whose later diagnostics are consequences, not news.
pub(super) struct Read {
    pub file: Option<PolicyFile>,
    /// The text `file` was read from: the source with set-aside lines emptied and
    /// placeholders in, line for line the same, so its spans give the source's lines.
    pub text: String,
    pub problems: Vec<Diagnostic>,
    pub set_aside: BTreeSet<usize>,
    /// Required keys read with a placeholder value: later checks that mention them
    /// judge the placeholder, not the file.
    pub placeholders: Vec<String>,
}

/// The file's lines as first read, and as patched so far.
struct Lines<'a> {
    original: Vec<&'a str>,
    current: Vec<Option<String>>,
}

impl<'a> Lines<'a> {
    fn new(source: &'a str) -> Self {
        let original: Vec<&str> = source.split('\n').collect();
        let current = vec![None; original.len()];
        Self { original, current }
    }

    fn line(&self, i: usize) -> &str {
        self.current[i].as_deref().unwrap_or(self.original[i])
    }

    fn text(&self) -> String {
        (0..self.original.len())
            .map(|i| self.line(i))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The line (0-based) of an offset of the current text, and the column in bytes.
    fn locate(&self, offset: usize) -> (usize, usize) {
        let mut start = 0;
        for i in 0..self.original.len() {
            let len = self.line(i).len();
            if offset <= start + len {
                return (i, offset - start);
            }
            start += len + 1;
        }
        (self.original.len().saturating_sub(1), 0)
    }

    /// An offset of the current text, in the original: a patched line maps to its start.
    fn to_original(&self, offset: usize) -> usize {
        let (line, column) = self.locate(offset);
        let start: usize = self.original[..line].iter().map(|l| l.len() + 1).sum();
        if self.current[line].is_some() {
            start
        } else {
            start + column.min(self.original[line].len())
        }
    }

    /// The key a line assigns, if it assigns one: the last part of a dotted key.
    fn key(&self, i: usize) -> Option<String> {
        let text = self.original[i].trim_start();
        if text.starts_with('[') || text.starts_with('#') {
            return None;
        }
        let key = text.split('=').next()?.trim();
        let key = key.rsplit('.').next().unwrap_or(key).trim().trim_matches('"');
        (!key.is_empty() && text.contains('=')).then(|| key.to_string())
    }

    /// The value a line assigns, as written.
    fn value(&self, i: usize) -> Option<&str> {
        Some(self.original[i].split_once('=')?.1.trim())
    }

    fn is_header(&self, i: usize) -> bool {
        self.original[i].trim_start().starts_with('[')
    }

    /// The offset in the current text where line `i` starts.
    fn start_of(&self, i: usize) -> usize {
        (0..i).map(|j| self.line(j).len() + 1).sum()
    }
}

/// A value that satisfies the type of a required key, for reading on past its bad line.
fn placeholder(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" => "\"placeholder\"",
        "min" | "max" | "target" => "1",
        "metric" => "\"ecs_cpu\"",
        "backend" => "\"sim\"",
        "cron" => "\"0 0 * * * *\"",
        "duration" => "\"1h\"",
        _ => return None,
    })
}

/// What a read has found and changed so far.
struct Reading<'a> {
    path: &'a Path,
    source: &'a str,
    lines: Lines<'a>,
    problems: Vec<Diagnostic>,
    set_aside: BTreeSet<usize>,
    placeholders: Vec<String>,
}

/// What to do after one TOML error.
enum Next {
    ReadAgain,
    Stop,
}

pub(super) fn read(path: &Path, source: &str) -> Read {
    let mut r = Reading {
        path,
        source,
        lines: Lines::new(source),
        problems: Vec::new(),
        set_aside: BTreeSet::new(),
        placeholders: Vec::new(),
    };
    let mut truncated = false;
    loop {
        if r.problems.len() >= MAX_ERRORS {
            truncated = true;
            break;
        }
        let text = r.lines.text();
        let error = match toml::from_str::<PolicyFile>(&text) {
            Ok(file) => {
                r.problems.sort_by_key(|d: &Diagnostic| (d.line, d.column));
                return Read {
                    file: Some(file),
                    text,
                    problems: r.problems,
                    set_aside: r.set_aside,
                    placeholders: r.placeholders,
                };
            }
            Err(e) => e,
        };
        if let Next::Stop = r.take(&error) {
            break;
        }
    }
    r.problems.sort_by_key(|d| (d.line, d.column));
    if truncated {
        let last_line = r.problems.last().map_or(1, |d| d.line);
        let mut more = Diagnostic::at(
            path,
            source,
            None,
            format!("more problems may follow: fix these {MAX_ERRORS} and run validate again"),
        );
        more.line = last_line;
        r.problems.push(more);
    }
    Read {
        file: None,
        text: r.lines.text(),
        problems: r.problems,
        set_aside: r.set_aside,
        placeholders: r.placeholders,
    }
}

impl Reading<'_> {
    /// Reports one TOML error with its fix, and sets its line aside (or mends it) so that
    /// the next read gets past it.
    fn take(&mut self, error: &toml::de::Error) -> Next {
        let message = error
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim()
            .to_string();
        if let Some(key) = quoted(&message, "missing field `") {
            return self.missing(error, &message, key);
        }
        let Some(s) = error.span() else {
            self.problems.push(from_toml_error(self.path, self.source, error));
            return Next::Stop;
        };
        let lines = &self.lines;
        let located = lines.locate(s.start).0;
        let end = lines.locate(s.end.saturating_sub(1).max(s.start)).0;
        let first = self.offending_line(located);
        let last = end.max(first);
        if self.set_aside.contains(&(first + 1)) {
            // Setting lines aside did not clear this error: it was reported already.
            return Next::Stop;
        }
        let lines = &self.lines;
        let span = if first == located {
            Some(lines.to_original(s.start)..lines.to_original(s.end.max(s.start)))
        } else {
            let o = lines.to_original(lines.start_of(first));
            Some(o..o)
        };
        let key = lines.key(first);
        let line_text = lines.original[first];
        let mut diagnostic = Diagnostic::at(self.path, self.source, span, message.clone());
        if let Some(h) = hint(&message, key.as_deref(), line_text) {
            diagnostic.message = format!("{}; {h}", diagnostic.message);
        }
        self.problems.push(diagnostic);
        let indent: String = line_text.chars().take_while(|c| c.is_whitespace()).collect();
        if let Some(header) = mended_header(line_text) {
            // A table header missing its closing brackets: mended, so the keys under it
            // stay in their table.
            self.lines.current[first] = Some(header);
            self.set_aside.insert(first + 1);
        } else if let (Some(k), Some(v)) = (&key, bare_word(&message, line_text)) {
            // A bare word where TOML wants a string: read on with the fix the hint gives.
            self.lines.current[first] = Some(format!("{indent}{k} = \"{v}\""));
            self.set_aside.insert(first + 1);
        } else {
            for i in first..=last {
                self.lines.current[i] = Some(String::new());
                self.set_aside.insert(i + 1);
            }
        }
        Next::ReadAgain
    }

    /// The line to fix for an error located on `located`.
    fn offending_line(&self, located: usize) -> usize {
        let lines = &self.lines;
        let mut first = located;
        // An error at the end of the file (an unterminated string, array or table)
        // belongs to the last line written.
        while first > 0 && lines.line(first).trim().is_empty() {
            first -= 1;
        }
        // A continuation line of a multi-line array or inline table: the line that
        // opened it is the one to fix.
        if lines.key(first).is_none()
            && !lines.is_header(first)
            && let Some(opener) = (0..first).rev().find(|&j| lines.key(j).is_some() || lines.is_header(j))
            && lines.key(opener).is_some()
            && lines
                .value(opener)
                .is_some_and(|v| v.starts_with('[') || v.starts_with('{'))
        {
            first = opener;
        }
        first
    }

    /// A required key is missing: one whose line was set aside gets a placeholder and the
    /// read goes on; one never written is said once, where its table starts.
    fn missing(&mut self, error: &toml::de::Error, message: &str, key: String) -> Next {
        let lines = &self.lines;
        let patched = self
            .set_aside
            .iter()
            .rev()
            .map(|l: &usize| l - 1)
            .find(|&i| lines.key(i).as_deref() == Some(key.as_str()) && lines.current[i].as_deref() == Some(""));
        if let (Some(i), Some(value)) = (patched, placeholder(&key)) {
            let indent: String = lines.original[i].chars().take_while(|c| c.is_whitespace()).collect();
            self.lines.current[i] = Some(format!("{indent}{key} = {value}"));
            self.placeholders.push(key);
            return Next::ReadAgain;
        }
        let at = error.span().map(|s| lines.locate(s.start).0);
        let table = at
            .map(|i| lines.line(i).trim().to_string())
            .filter(|l| l.starts_with('['));
        let span = error.span().map(|s| {
            let o = lines.to_original(s.start);
            o..o
        });
        let hint = missing_hint(&key, table.as_deref());
        self.problems.push(Diagnostic::at(
            self.path,
            self.source,
            span,
            format!("{message}; {hint}"),
        ));
        Next::Stop
    }
}

/// A table header without its closing brackets, closed.
fn mended_header(line: &str) -> Option<String> {
    let text = line.trim();
    let closing = if text.starts_with("[[") { "]]" } else { "]" };
    (text.starts_with('[') && !text.ends_with(closing)).then(|| format!("{}{closing}", text.trim_end_matches(']')))
}

/// The unquoted word of a `key = word` line where TOML wanted a string (not a number
/// key, not an array or inline table).
fn bare_word(message: &str, line: &str) -> Option<String> {
    let unquoted = message.contains("must be quoted")
        || message.contains("expected literal")
        || message.contains("invalid boolean");
    let value = line.split_once('=')?.1.trim();
    let key = line.split_once('=')?.0.trim();
    let key = key.rsplit('.').next().unwrap_or(key).trim().trim_matches('"');
    (unquoted
        && !value.is_empty()
        && !NUMBER_KEYS.contains(&key)
        && value.chars().all(|c| c.is_alphanumeric() || "-_./:".contains(c)))
    .then(|| value.to_string())
}

/// What to add for a required key the file never wrote, by the table it belongs in.
fn missing_hint(key: &str, table: Option<&str>) -> String {
    match (key, table) {
        ("target", None) => {
            "add a [target] table, e.g. [target] with backend = \"aws\", cluster = \"...\", service = \"...\"".into()
        }
        ("rule", None) => {
            "add at least one [[rule]] table, e.g. name = \"cpu\", metric = \"ecs_cpu\", target = 70".into()
        }
        ("backend", _) => "add backend = \"aws\" (or \"local\", \"sim\") to the [target] table".into(),
        (k, Some(t)) => format!("add it to this {t} table, e.g. {k} = {}", example(k)),
        (k, None) => format!("add it, e.g. {k} = {}", example(k)),
    }
}

/// The text between `prefix` and the next backtick.
fn quoted(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// Words in backticks after "expected".
fn expected(message: &str) -> Vec<String> {
    let Some(at) = message.find("expected") else {
        return Vec::new();
    };
    message[at..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The fix for a TOML-level error, in the words of the file.
fn hint(message: &str, key: Option<&str>, line: &str) -> Option<String> {
    let value = line.split_once('=').map(|(_, v)| v.trim()).unwrap_or("");
    let value = value.split(" #").next().unwrap_or(value).trim();
    let key_name = key.unwrap_or("the key");
    if (value.starts_with('{') || value.starts_with('['))
        && (message.contains("must be quoted") || message.contains("invalid boolean"))
    {
        return Some("text is quoted in TOML, inside [ ] and { } too: e.g. { Service = \"search\" }".into());
    }
    if message.contains("must be quoted")
        || message.contains("invalid string")
        || message.contains("expected literal")
        || message.contains("invalid boolean")
    {
        return Some(if value.is_empty() {
            format!(
                "`{key_name}` has no value: write one after `=`, e.g. {key_name} = {}",
                example(key_name)
            )
        } else if NUMBER_KEYS.contains(&key_name) {
            format!("`{key_name}` takes a number, e.g. {key_name} = {}", example(key_name))
        } else {
            format!("text is quoted in TOML: write {key_name} = \"{value}\"")
        });
    }
    if let Some(number) =
        quoted(message, "invalid type: integer `").or_else(|| quoted(message, "invalid type: floating point `"))
        && message.contains("expected a string")
    {
        return Some(if DURATION_KEYS.contains(&key_name) {
            format!(
                "`{key_name}` is a duration with its unit: write {key_name} = \"{number}s\" (or \"{number}ms\", \"{number}m\")"
            )
        } else {
            format!("quote it: {key_name} = \"{number}\"")
        });
    }
    if let Some(text) = quoted(message, "invalid type: string \"").or_else(|| {
        let at = message.find("invalid type: string \"")? + "invalid type: string \"".len();
        Some(message[at..].split('"').next()?.to_string())
    }) && text.trim().parse::<f64>().is_ok()
    {
        return Some(format!("write the number without quotes: {key_name} = {}", text.trim()));
    }
    if let Some(word) = quoted(message, "unknown field `").or_else(|| quoted(message, "unknown variant `")) {
        // A misspelling: a letter or two off, or two swapped.
        let best = expected(message)
            .into_iter()
            .map(|c| (strsim::osa_distance(&word, &c), c))
            .min_by_key(|(d, _)| *d)
            .filter(|(d, c)| *d <= (c.chars().count() / 4).max(1));
        return Some(match best {
            Some((_, c)) => format!("did you mean `{c}`?"),
            None => "see policies/policy.schema.json or the README for what is allowed here".to_string(),
        });
    }
    if message.starts_with("missing field") {
        let key = quoted(message, "missing field `")?;
        return Some(format!("add it, e.g. {key} = {}", example(&key)));
    }
    if message.contains("duplicate key") {
        return Some("a key may appear once per table: remove one of them".to_string());
    }
    None
}

fn example(key: &str) -> &'static str {
    match key {
        k if DURATION_KEYS.contains(&k) => "\"60s\"",
        "min" | "max" | "spare" | "fallback_count" => "2",
        "max_step" => "2 (or a share in quotes, \"50%\")",
        "tolerance" => "0.1",
        "scale_in_headroom" | "learned_share" => "0.7",
        "max_error" => "0.25",
        "max_tasks_above" => "10",
        "max_share_above" => "0.5",
        "confident_share" => "0.85",
        "max_scale_out_factor" => "2.0",
        "target" => "70 (or \"150ms\" for a latency rule)",
        "name" => "\"my-service\"",
        "metric" => "\"ecs_cpu\"",
        "backend" => "\"aws\"",
        _ => "...",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(source: &str) -> Vec<String> {
        read(Path::new("p.toml"), source)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn offsets_survive_patched_lines() {
        let mut l = Lines::new("a = 1\nb =\nc = 3");
        l.current[1] = Some("b = \"placeholder\"".into());
        let text = l.text();
        let c = text.find("c =").unwrap();
        assert_eq!(l.to_original(c), "a = 1\nb =\n".len());
        assert_eq!(l.to_original(text.find("place").unwrap()), "a = 1\n".len());
    }

    #[test]
    fn every_toml_error_is_reported_with_its_fix() {
        let p = problems(
            "name = \"x\"\nmin = 1\nmax =\ninterval = 60\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = seventy\nperid = \"60s\"\n",
        );
        assert_eq!(p.len(), 4, "{p:#?}");
        assert!(
            p[0].starts_with("p.toml:3:") && p[0].contains("`max` has no value"),
            "{p:#?}"
        );
        assert!(
            p[1].starts_with("p.toml:4:") && p[1].contains("interval = \"60s\""),
            "{p:#?}"
        );
        assert!(
            p[2].starts_with("p.toml:11:") && p[2].contains("`target` takes a number, e.g. target = 70"),
            "{p:#?}"
        );
        assert!(
            p[3].starts_with("p.toml:12:") && p[3].contains("did you mean `period`?"),
            "{p:#?}"
        );
    }

    const GOOD: &str = "name = \"x\"\nmin = 1\nmax = 2\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";

    #[test]
    fn an_unterminated_string_at_the_end_is_reported_once_on_its_line_and_hides_nothing() {
        for quotes in ["\'\'\'", "\"\"\""] {
            let p = problems(&format!(
                "{}period = {quotes}10s",
                GOOD.replace("min = 1", "interval = 60\nmin = 1")
            ));
            assert_eq!(p.len(), 2, "{p:#?}");
            assert!(p[0].starts_with("p.toml:2:"), "{p:#?}");
            assert!(p[1].starts_with("p.toml:12:"), "{p:#?}");
        }
    }

    #[test]
    fn a_broken_table_header_is_mended_so_its_keys_stay_in_their_table() {
        for (broken, mended) in [("[target]", "[target"), ("[[rule]]", "[[rule]")] {
            let p = problems(&GOOD.replace(broken, mended));
            assert_eq!(p.len(), 1, "{p:#?}");
        }
    }

    #[test]
    fn a_bare_word_is_read_on_as_the_string_the_hint_suggests() {
        // Read on as "latency": no follow-on errors about latency-only options.
        let p = problems(&GOOD.replace(
            "metric = \"ecs_cpu\"\ntarget = 70",
            "metric = latency\ntarget = \"50ms\"\npercentile = \"p99\"",
        ));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(p[0].contains("write metric = \"latency\""), "{p:#?}");
    }

    #[test]
    fn an_unclosed_inline_table_is_one_problem_on_its_own_line() {
        let p = problems(&format!("{GOOD}dimensions = {{ Service = \"s\"\nperiod = \"10s\"\n"));
        assert!(!p.is_empty() && p.iter().all(|d| !d.contains("p.toml:13:")), "{p:#?}");
    }

    #[test]
    fn a_never_written_target_table_is_asked_for_as_a_table() {
        let p = problems("min = 1\nmax = 2\n");
        assert!(p[0].contains("add a [target] table"), "{p:#?}");
    }

    #[test]
    fn a_quoted_number_is_unquoted() {
        let p = problems("name = \"x\"\nmin = \"1\"\nmax = 2\n[target]\nbackend = \"sim\"\nservice = \"s\"\n");
        assert!(p[0].contains("write the number without quotes: min = 1"), "{p:#?}");
    }
}

//! The search request's parameters, parsed strictly from the raw query string: a value
//! that does not decode to UTF-8 or a number with a sign is refused, not guessed at.

use std::borrow::Cow;

pub const MAX_QUERY_CHARS: usize = 100;
pub const MAX_LIMIT: usize = 100;
pub const MAX_OFFSET: usize = 100_000;
pub const DEFAULT_LIMIT: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchParams {
    pub q: String,
    pub limit: usize,
    pub offset: usize,
}

/// A refused parameter: an error code and a message that says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParameter {
    pub code: &'static str,
    pub message: String,
}

fn bad(code: &'static str, message: impl Into<String>) -> BadParameter {
    BadParameter {
        code,
        message: message.into(),
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a
/// byte, and the bytes must be UTF-8.
fn decode(raw: &str) -> Result<Cow<'_, str>, std::str::Utf8Error> {
    if !raw.contains(['+', '%']) {
        return Ok(Cow::Borrowed(raw));
    }
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| Cow::Owned(s.into_owned()))
}

/// A whole number written with digits only: no sign, no spaces.
pub fn whole_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub fn search(raw_query: &str) -> Result<SearchParams, BadParameter> {
    let (mut q, mut limit, mut offset) = (None, None, None);
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "q" => &mut q,
            "limit" => &mut limit,
            "offset" => &mut offset,
            _ => continue,
        };
        let value = decode(value).map_err(|_| {
            bad(
                "bad_encoding",
                format!("{key} is not valid UTF-8 once percent-decoded; encode text as UTF-8 (e.g. %C3%A9 for é)"),
            )
        })?;
        *slot = Some(value.into_owned());
    }
    let q = match q.as_deref().map(str::trim) {
        None | Some("") => return Err(bad("missing_query", "q is required, e.g. /products/search?q=alpha")),
        Some(s) if s.chars().count() > MAX_QUERY_CHARS => {
            return Err(bad(
                "query_too_long",
                format!("q may have at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        Some(s) => s.to_string(),
    };
    let limit = match limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(v) => match whole_number(v) {
            Some(n @ 1..) if n <= MAX_LIMIT as u64 => n as usize,
            _ => {
                return Err(bad(
                    "bad_limit",
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    let offset = match offset.as_deref() {
        None => 0,
        Some(v) => match whole_number(v) {
            Some(n) if n <= MAX_OFFSET as u64 => n as usize,
            _ => {
                return Err(bad(
                    "bad_offset",
                    format!("offset must be a whole number from 0 to {MAX_OFFSET}"),
                ));
            }
        },
    };
    Ok(SearchParams { q, limit, offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_encoding() {
        let p = search("q=alpha+speaker&limit=5&offset=10").unwrap();
        assert_eq!(
            p,
            SearchParams {
                q: "alpha speaker".into(),
                limit: 5,
                offset: 10
            }
        );
        assert_eq!(search("q=caf%C3%A9").unwrap().q, "café");
        assert_eq!(search("q=%20beta%20").unwrap().q, "beta");
    }

    #[test]
    fn refuses_what_it_cannot_read_exactly() {
        let code = |raw: &str| search(raw).unwrap_err().code;
        assert_eq!(code("q=%FF"), "bad_encoding");
        assert_eq!(code("q=a&limit=%FF"), "bad_encoding");
        assert_eq!(code(""), "missing_query");
        assert_eq!(code("q=+++"), "missing_query");
        assert_eq!(code(&format!("q={}", "a".repeat(101))), "query_too_long");
        for limit in ["0", "101", "+5", "-1", "1e2", " 5", "abc", "99999999999999999999999"] {
            assert_eq!(code(&format!("q=a&limit={limit}")), "bad_limit", "limit={limit}");
        }
        assert_eq!(code("q=a&offset=100001"), "bad_offset");
        assert_eq!(code("q=a&offset=+1"), "bad_offset");
    }

    #[test]
    fn the_limit_message_names_the_range_it_accepts() {
        let e = search("q=a&limit=0").unwrap_err();
        assert!(e.message.contains("from 1 to 100"), "{}", e.message);
        assert_eq!(search("q=a&limit=1").unwrap().limit, 1);
        assert_eq!(search("q=a&limit=100").unwrap().limit, 100);
    }

    #[test]
    fn whole_numbers_have_digits_only() {
        assert_eq!(whole_number("5"), Some(5));
        assert_eq!(whole_number("+5"), None);
        assert_eq!(whole_number(""), None);
        assert_eq!(whole_number("5 "), None);
    }
}

//! Conditional requests (RFC 9110 §13): preconditions evaluated in the order
//! of §13.2.2, against a representation's validators.

use std::time::SystemTime;

/// An HTTP date; `None` when malformed, which makes the condition be
/// ignored as §13.1.3 asks.
pub use crate::util::time::parse_http_date as parse_date;
// HTTP dates have one-second resolution: validators compare at that resolution.
use crate::util::time::unix_seconds;

/// A representation's validators.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The entity-tag with its quotes, e.g. `"0a1b-10-5f"`.
    pub etag: &'a str,
    pub last_modified: SystemTime,
}

/// What the preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go on with the request (maybe a Range).
    Proceed,
    /// 304 Not Modified (GET and HEAD only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Request header values relevant to preconditions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
}

/// Evaluates the preconditions of a GET or HEAD.
pub fn evaluate(c: &Conditions<'_>, v: &Validators<'_>) -> Outcome {
    if let Some(list) = c.if_match {
        if !list_matches(list, v.etag, Comparison::Strong) {
            return Outcome::Failed;
        }
    } else if let Some(date) = c.if_unmodified_since.and_then(parse_date) {
        if unix_seconds(v.last_modified) > unix_seconds(date) {
            return Outcome::Failed;
        }
    }
    if let Some(list) = c.if_none_match {
        if list_matches(list, v.etag, Comparison::Weak) {
            return Outcome::NotModified;
        }
    } else if let Some(date) = c.if_modified_since.and_then(parse_date) {
        if unix_seconds(v.last_modified) <= unix_seconds(date) {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// Whether an `If-Range` value still names this representation (§13.1.5):
/// a strong entity-tag match, or exactly the Last-Modified date.
pub fn if_range_holds(value: &[u8], v: &Validators<'_>) -> bool {
    let value = trim(value);
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return !value.starts_with(b"W/") && value == v.etag.as_bytes();
    }
    parse_date(value).is_some_and(|d| unix_seconds(d) == unix_seconds(v.last_modified))
}

#[derive(Clone, Copy)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether `*` or any entity-tag of a comma-separated list matches `etag`.
fn list_matches(list: &[u8], etag: &str, cmp: Comparison) -> bool {
    let ours = etag.as_bytes();
    let ours_weak = ours.starts_with(b"W/");
    let ours_opaque = ours.strip_prefix(b"W/").unwrap_or(ours);
    if trim(list) == b"*" {
        return true;
    }
    entity_tags(list).any(|tag| {
        let weak = tag.starts_with(b"W/");
        let opaque = tag.strip_prefix(b"W/").unwrap_or(tag);
        match cmp {
            Comparison::Weak => opaque == ours_opaque,
            Comparison::Strong => !weak && !ours_weak && opaque == ours_opaque,
        }
    })
}

/// Splits a list of entity-tags; commas inside quotes do not split.
fn entity_tags(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = list;
    std::iter::from_fn(move || loop {
        rest = trim_start(rest);
        while let Some(r) = rest.strip_prefix(b",") {
            rest = trim_start(r);
        }
        if rest.is_empty() {
            return None;
        }
        let start = rest;
        let mut len = 0;
        if rest.starts_with(b"W/") {
            len = 2;
        }
        if start.get(len) == Some(&b'"') {
            len += 1;
            while let Some(&b) = start.get(len) {
                len += 1;
                if b == b'"' {
                    break;
                }
            }
        } else {
            while start.get(len).is_some_and(|&b| b != b',') {
                len += 1;
            }
        }
        let (tag, tail) = start.split_at(len.min(start.len()));
        rest = tail;
        let tag = trim(tag);
        if !tag.is_empty() {
            return Some(tag);
        }
    })
}

fn trim_start(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !first.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    b
}

fn trim(b: &[u8]) -> &[u8] {
    let b = trim_start(b);
    let mut end = b.len();
    while end > 0 && b.get(end - 1).is_some_and(u8::is_ascii_whitespace) {
        end -= 1;
    }
    b.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const TAG: &str = "\"abc-10-5\"";

    fn v() -> Validators<'static> {
        Validators {
            etag: TAG,
            last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn inm(list: &str) -> Outcome {
        evaluate(
            &Conditions {
                if_none_match: Some(list.as_bytes()),
                ..Default::default()
            },
            &v(),
        )
    }

    #[test]
    fn if_none_match_lists() {
        assert_eq!(inm(TAG), Outcome::NotModified);
        assert_eq!(inm("W/\"abc-10-5\""), Outcome::NotModified);
        assert_eq!(inm("\"x\", \"abc-10-5\""), Outcome::NotModified);
        assert_eq!(inm("\"a,b\" ,W/\"abc-10-5\""), Outcome::NotModified);
        assert_eq!(inm("*"), Outcome::NotModified);
        assert_eq!(inm("\"abc-10-6\""), Outcome::Proceed);
        assert_eq!(inm("abc-10-5"), Outcome::Proceed);
        assert_eq!(inm(""), Outcome::Proceed);
        assert_eq!(inm(",,,"), Outcome::Proceed);
    }

    #[test]
    fn if_none_match_beats_if_modified_since() {
        let c = Conditions {
            if_none_match: Some(b"\"other\""),
            if_modified_since: Some(b"Tue, 14 Nov 2023 22:13:20 GMT"),
            ..Default::default()
        };
        assert_eq!(evaluate(&c, &v()), Outcome::Proceed);
    }

    #[test]
    fn if_modified_since() {
        let ims = |d: &str| {
            evaluate(
                &Conditions {
                    if_modified_since: Some(d.as_bytes()),
                    ..Default::default()
                },
                &v(),
            )
        };
        assert_eq!(ims("Tue, 14 Nov 2023 22:13:20 GMT"), Outcome::NotModified);
        assert_eq!(ims("Wed, 15 Nov 2023 00:00:00 GMT"), Outcome::NotModified);
        assert_eq!(ims("Tue, 14 Nov 2023 22:13:19 GMT"), Outcome::Proceed);
        assert_eq!(ims("yesterday"), Outcome::Proceed);
    }

    #[test]
    fn if_match_and_if_unmodified_since() {
        let c = |m: Option<&'static str>, ius: Option<&'static str>| Conditions {
            if_match: m.map(str::as_bytes),
            if_unmodified_since: ius.map(str::as_bytes),
            ..Default::default()
        };
        assert_eq!(evaluate(&c(Some(TAG), None), &v()), Outcome::Proceed);
        assert_eq!(evaluate(&c(Some("*"), None), &v()), Outcome::Proceed);
        assert_eq!(evaluate(&c(Some("\"nope\""), None), &v()), Outcome::Failed);
        // If-Match uses the strong comparison.
        assert_eq!(
            evaluate(&c(Some("W/\"abc-10-5\""), None), &v()),
            Outcome::Failed
        );
        let old = "Mon, 13 Nov 2023 00:00:00 GMT";
        assert_eq!(evaluate(&c(None, Some(old)), &v()), Outcome::Failed);
        let later = "Thu, 16 Nov 2023 00:00:00 GMT";
        assert_eq!(evaluate(&c(None, Some(later)), &v()), Outcome::Proceed);
        // If-Match present: If-Unmodified-Since is not looked at.
        assert_eq!(evaluate(&c(Some(TAG), Some(old)), &v()), Outcome::Proceed);
    }

    #[test]
    fn if_range() {
        assert!(if_range_holds(TAG.as_bytes(), &v()));
        assert!(!if_range_holds(b"W/\"abc-10-5\"", &v()));
        assert!(!if_range_holds(b"\"zzz\"", &v()));
        assert!(if_range_holds(b"Tue, 14 Nov 2023 22:13:20 GMT", &v()));
        assert!(!if_range_holds(b"Wed, 15 Nov 2023 00:00:00 GMT", &v()));
        assert!(!if_range_holds(b"garbage", &v()));
    }
}

//! The query string, parsed once per request into what wwz reads from it.
//!
//! `application/x-www-form-urlencoded` pairs split on `&`, keys compared as
//! sent, values percent-decoded once ([`crate::util::percent`]); keys wwz
//! does not know are ignored. A request without a query parses nothing.

use std::borrow::Cow;

use crate::util::percent::{self, Decode};

/// The order a listing asks for (`sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Name,
    Size,
    Time,
}

/// The lines a log view lists (`level=error`, `level=warning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewLevel {
    Error,
    /// Warnings and errors.
    Warning,
}

/// What a query string asks of wwz.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `view`: the log view of a member.
    pub view: bool,
    /// `download`: a member as an attachment (`Content-Disposition`).
    pub download: bool,
    /// `zip`: a directory as one zip of its members.
    pub zip: bool,
    /// `all`: the whole log, not its tail.
    pub all: bool,
    /// `from=N`: a log view from line N, a search from member N (`0` when N
    /// is not a number).
    pub from: Option<u64>,
    /// `skip=N`: a continued search skips N lines of its first member.
    pub skip: u64,
    /// `q=TEXT`: a search.
    pub search: Option<String>,
    /// `case=1`: the search is case-sensitive.
    pub case: bool,
    /// `tests`: the test reports under a directory, summed.
    pub tests: bool,
    /// `re=1`: the search text is a regular expression.
    pub regex: bool,
    /// `format=json` (or the status page's `json`).
    pub json: bool,
    /// `openmetrics`: the status page in OpenMetrics text.
    pub openmetrics: bool,
    /// `sort=name|size|time`.
    pub sort: Sort,
    /// `order=desc`.
    pub descending: bool,
    /// `level=error|warning`: a log view lists only those lines.
    pub level: Option<ViewLevel>,
    /// `time=relative`: a log view's times start relative to its first line.
    pub relative_time: bool,
}

impl Query {
    /// Parses a query string (without its `?`).
    pub fn parse(query: &[u8]) -> Query {
        let mut q = Query::default();
        for (key, value) in pairs(query) {
            let number = || {
                std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            match key {
                b"view" => q.view = true,
                b"download" => q.download = true,
                b"zip" => q.zip = true,
                b"all" => q.all = true,
                b"tests" => q.tests = true,
                b"from" => q.from = Some(number()),
                b"skip" => q.skip = number(),
                b"q" => q.search = Some(String::from_utf8_lossy(&value).into_owned()),
                b"case" => q.case = *value == *b"1",
                b"re" => q.regex = *value == *b"1",
                b"format" => q.json = *value == *b"json",
                b"json" => q.json = true,
                b"openmetrics" => q.openmetrics = true,
                b"sort" => match &*value {
                    b"name" => q.sort = Sort::Name,
                    b"size" => q.sort = Sort::Size,
                    b"time" => q.sort = Sort::Time,
                    _ => {}
                },
                b"order" => q.descending = *value == *b"desc",
                b"level" => match &*value {
                    b"error" => q.level = Some(ViewLevel::Error),
                    b"warning" => q.level = Some(ViewLevel::Warning),
                    _ => {}
                },
                b"time" => q.relative_time = *value == *b"relative",
                _ => {}
            }
        }
        q
    }
}

/// The `key=value` pairs of a query string, values decoded (`+` a space).
fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], Cow<'_, [u8]>)> {
    query
        .split(|&b| b == b'&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (key, value) = match kv.iter().position(|&b| b == b'=') {
                Some(i) => (
                    kv.get(..i).unwrap_or_default(),
                    kv.get(i + 1..).unwrap_or_default(),
                ),
                None => (kv, &b""[..]),
            };
            let value = percent::decode(value, Decode::Query).unwrap_or(Cow::Borrowed(value));
            (key, value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_parameters() {
        let q = Query::parse(b"q=error%5BE0308%5D+x&case=1&re=1&format=json&from=7&skip=12");
        assert_eq!(q.search.as_deref(), Some("error[E0308] x"));
        assert!(q.case && q.regex && q.json);
        assert_eq!((q.from, q.skip), (Some(7), 12));
    }

    #[test]
    fn views_and_listings() {
        let q = Query::parse(b"view&from=x&sort=size&order=desc");
        assert!(q.view && !q.all);
        assert_eq!(q.from, Some(0));
        assert_eq!((q.sort, q.descending), (Sort::Size, true));
        assert!(Query::parse(b"view=&all").all);
        assert!(!Query::parse(b"format=html").json);
        assert!(Query::parse(b"json").json);
        assert!(Query::parse(b"tests&format=json").tests);
        let q = Query::parse(b"download&zip=");
        assert!(q.download && q.zip && !q.view);
        let q = Query::parse(b"view&level=error&time=relative");
        assert_eq!((q.level, q.relative_time), (Some(ViewLevel::Error), true));
        assert_eq!(Query::parse(b"view&level=x").level, None);
        assert_eq!(Query::parse(b""), Query::default());
    }
}

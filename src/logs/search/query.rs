//! What a search asks for: the text, its flags and where it resumes, read
//! from the request's query string, and the regular expression it compiles
//! to. Kept apart from the searcher and the printers because both read it:
//! the searcher matches with [`SearchQuery::regex`], the printers echo the text and
//! write [`SearchQuery::continued`] into the continue link.

use std::fmt::Write;

use regex::bytes::{Regex, RegexBuilder};

use crate::http;
use crate::http::request::Format;
use crate::util::percent;

/// The parameters of a search, from the query string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub text: String,
    pub case: bool,
    pub re: bool,
    pub json: bool,
    /// Resume at this member (its position among the members searched) …
    pub from: usize,
    /// … after this line of it.
    pub skip: u64,
}

impl SearchQuery {
    /// The search a request asks for.
    pub fn of(query: &http::Query, format: Format) -> SearchQuery {
        SearchQuery {
            text: query.search.clone().unwrap_or_default(),
            case: query.case,
            re: query.regex,
            json: format == Format::Json,
            from: query
                .from
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            skip: query.skip,
        }
    }

    /// The query string for the same search from `from`, `skip`.
    pub(crate) fn continued(&self, from: usize, skip: u64) -> String {
        let mut s = format!("?q={}", encode(&self.text));
        if self.case {
            s.push_str("&case=1");
        }
        if self.re {
            s.push_str("&re=1");
        }
        if self.json {
            s.push_str("&format=json");
        }
        let _ = write!(s, "&from={from}&skip={skip}");
        s
    }

    /// The text as a regular expression (escaped unless `re`), within the
    /// `regex` crate's compile size limits.
    pub(crate) fn regex(&self) -> Result<Regex, regex::Error> {
        let pattern = if self.re {
            self.text.clone()
        } else {
            regex::escape(&self.text)
        };
        RegexBuilder::new(&pattern)
            .case_insensitive(!self.case)
            .size_limit(1 << 20)
            .dfa_size_limit(4 << 20)
            .nest_limit(64)
            .build()
    }
}

fn encode(v: &str) -> String {
    percent::encode(v, percent::Keep::QueryValue)
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn query_parsing_and_continuation() {
        let parse = |q: &[u8]| {
            let q = http::Query::parse(q);
            let format = if q.json { Format::Json } else { Format::Html };
            SearchQuery::of(&q, format)
        };
        let q = parse(b"q=error%5BE0308%5D+x&case=1&re=1&format=json&from=7&skip=12");
        assert_eq!(q.text, "error[E0308] x");
        assert!(q.case && q.re && q.json);
        assert_eq!((q.from, q.skip), (7, 12));
        assert_eq!(
            parse(q.continued(9, 3).trim_start_matches('?').as_bytes()),
            SearchQuery {
                from: 9,
                skip: 3,
                ..q
            }
        );
        assert_eq!(parse(b"q=%zz%4").text, "%zz%4");
    }

    #[test]
    fn regex_limits_hold() {
        let q = SearchQuery {
            text: "(a{1000}){1000}".into(),
            re: true,
            ..SearchQuery::default()
        };
        assert!(q.regex().is_err());
        let q = SearchQuery {
            text: "a.b(".into(),
            ..SearchQuery::default()
        };
        assert!(q.regex().unwrap().is_match(b"xA.B(y"));
    }
}

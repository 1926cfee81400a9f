//! How a search's results look, one printer per output format, kept apart
//! from the searcher as ripgrep keeps its printers apart from its searcher:
//! the searcher ([`super::scan`]) says what it found (a member whose name
//! matched, a matching line, where it stopped) and a [`Print`] writes it as
//! HTML ([`Html`]) or JSON ([`Json`]). Another format is another printer; the
//! searcher does not change.
//!
//! ```text
//! head ( member line* member_end )* foot        the calls, in this order
//! ```

use regex::bytes::Regex;

use super::query::SearchQuery;
use crate::logs::format::System;

mod html;
mod json;

pub(crate) use html::Html;
pub(crate) use json::Json;

/// Writes a search's page as the searcher finds its results.
pub(crate) trait Print: Send {
    /// The start of the page, before any result.
    fn head(&mut self, out: &mut String);

    /// The first result of member `rel` (its path below the searched
    /// directory): its name matched (`by_name`), or lines of it follow.
    fn member(&mut self, out: &mut String, rel: &str, by_name: bool);

    /// Line `n` (1-based) of member `rel`, a log `system` wrote, matched:
    /// `text` is the line as read, without its newline; `regex` finds the
    /// parts to highlight.
    fn line(
        &mut self,
        out: &mut String,
        regex: &Regex,
        rel: &str,
        system: System,
        n: u64,
        text: &[u8],
    );

    /// After the last result of a member that had one.
    fn member_end(&mut self, out: &mut String);

    /// The end of the page: the counts, and where the search stopped.
    fn foot(&mut self, out: &mut String, summary: &SearchSummary);
}

/// What the foot of a page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchSummary {
    /// Matching lines and names.
    pub(crate) matches: usize,
    /// Members under the directory.
    pub(crate) members: usize,
    /// Content bytes read.
    pub(crate) read: u64,
    /// False when there was nothing to search for.
    pub(crate) searched: bool,
    /// Where a budget stopped the search before its end.
    pub(crate) stopped: Option<Stopped>,
}

/// A search stopped by a budget, and how to continue it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stopped {
    pub(crate) why: Stop,
    /// The position of the member it stopped in.
    pub(crate) at: usize,
    /// The query string of the same search from there ([`SearchQuery::continued`]).
    pub(crate) link: String,
}

/// The printer for the format `query` asks for; `title` names what is searched.
pub(crate) fn printer(query: &SearchQuery, title: &str) -> Box<dyn Print> {
    if query.json {
        Box::new(Json::new(query))
    } else {
        Box::new(Html::new(query, title))
    }
}

/// The budget that stopped a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Matches,
    Bytes,
    Time,
}

impl Stop {
    /// Its name on the page and in JSON's `stopped`.
    pub(crate) fn budget(self) -> &'static str {
        match self {
            Stop::Matches => "matches",
            Stop::Bytes => "bytes",
            Stop::Time => "time",
        }
    }
}

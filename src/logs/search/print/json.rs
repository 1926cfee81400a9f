//! The JSON printer, for scripts: one object, its `results` an array of
//! `{"member","kind":"name"}` and `{"member","kind":"line","line","text"}`
//! items (the text as a terminal shows it, escapes and rewrites applied, a
//! CI system's markers and timestamps taken out; `level`, `time` and
//! `location` when the line has them),
//! then the counts and, when a budget stopped the search, why and the query
//! string that continues it.

use std::fmt::Write;

use regex::bytes::Regex;

use super::{Print, SearchSummary};
use crate::logs::format::{Formatter, System};
use crate::logs::search::query::SearchQuery;
use crate::logs::view;
use crate::util::json::json_str;

pub(crate) struct Json {
    text: String,
    /// No item written yet (no comma before the next).
    first: bool,
}

impl Json {
    pub(crate) fn new(query: &SearchQuery) -> Json {
        Json {
            text: query.text.clone(),
            first: true,
        }
    }

    /// Opens an item of `results`: the comma after the previous one.
    fn item(&mut self, out: &mut String, rel: &str) {
        if !self.first {
            out.push(',');
        }
        self.first = false;
        out.push_str("{\"member\":");
        json_str(out, rel);
    }
}

impl Print for Json {
    fn head(&mut self, out: &mut String) {
        out.push_str("{\"query\":");
        json_str(out, &self.text);
        out.push_str(",\"results\":[");
    }

    fn member(&mut self, out: &mut String, rel: &str, by_name: bool) {
        if by_name {
            self.item(out, rel);
            out.push_str(",\"kind\":\"name\"}");
        }
    }

    fn line(
        &mut self,
        out: &mut String,
        _: &Regex,
        rel: &str,
        system: System,
        n: u64,
        text: &[u8],
    ) {
        let mut f = Formatter::new(system);
        let line = f.line(text);
        self.item(out, rel);
        let _ = write!(out, ",\"kind\":\"line\",\"line\":{n},\"text\":");
        json_str(out, f.text());
        view::json_line_fields(&line, out);
        out.push('}');
    }

    fn member_end(&mut self, _: &mut String) {}

    fn foot(&mut self, out: &mut String, summary: &SearchSummary) {
        let _ = write!(
            out,
            "],\"matches\":{},\"members\":{},\"bytes_read\":{}",
            summary.matches, summary.members, summary.read
        );
        match &summary.stopped {
            Some(stopped) => {
                let _ = write!(
                    out,
                    ",\"stopped\":\"{}\",\"continue\":",
                    stopped.why.budget()
                );
                json_str(out, &stopped.link);
            }
            None => out.push_str(",\"stopped\":null"),
        }
        out.push_str("}\n");
    }
}

//! The HTML printer: a page with the search form, a `<section>` per member
//! with results (its name linking to its log view), each matching line
//! rendered as in the log view ([`view::search_line`]) with the matches in
//! `<mark>` and its number linking to `MEMBER?view#L123`, and a foot with the
//! counts and the continue link.

use std::fmt::Write;

use regex::bytes::Regex;

use super::{Print, SearchSummary};
use crate::logs::format::{Formatter, System};
use crate::logs::search::query::SearchQuery;
use crate::logs::terminal;
use crate::logs::view;
use crate::pages::html::{self, escape};
use crate::util::percent;

/// Matches highlighted per line; more are left plain.
const MAX_MARKS: usize = 64;

pub(crate) struct Html {
    title: String,
    text: String,
    case: bool,
    re: bool,
}

impl Html {
    pub(crate) fn new(query: &SearchQuery, title: &str) -> Html {
        Html {
            title: title.to_string(),
            text: query.text.clone(),
            case: query.case,
            re: query.re,
        }
    }
}

impl Print for Html {
    fn head(&mut self, out: &mut String) {
        let title = escape(&self.title);
        let text = escape(&self.text);
        html::open_page(
            out,
            &format!("Search {text} in {title}"),
            &[view::STYLE, terminal::STYLE, STYLE, html::FORM_STYLE],
        );
        let _ = write!(
            out,
            "<header><h1>Search in <a href=\"./\">{title}</a></h1>\n{form}</header>\n<main>\n",
            form = html::search_form(&self.text, self.case, self.re),
        );
    }

    fn member(&mut self, out: &mut String, rel: &str, by_name: bool) {
        let href = rel_href(rel);
        let _ = writeln!(
            out,
            "<section><h2><a href=\"{href}?view\">{name}</a> <small><a href=\"{href}\">raw</a>{by}</small></h2>",
            name = escape(rel),
            by = if by_name { " · name matches" } else { "" },
        );
    }

    fn line(
        &mut self,
        out: &mut String,
        regex: &Regex,
        rel: &str,
        system: System,
        n: u64,
        text: &[u8],
    ) {
        // The line as its log's view shows it: markers and times out of
        // the text, the matches marked in what is left.
        let mut f = Formatter::new(system);
        let line = f.line(text);
        let marks: Vec<(usize, usize)> = regex
            .find_iter(f.text().as_bytes())
            .filter(|m| m.end() > m.start())
            .take(MAX_MARKS)
            .map(|m| (m.start(), m.end()))
            .collect();
        let href = format!("{}?view", rel_href(rel));
        view::search_line(&mut f, &line, n, &marks, &href, out);
    }

    fn member_end(&mut self, out: &mut String) {
        out.push_str("</section>\n");
    }

    fn foot(&mut self, out: &mut String, summary: &SearchSummary) {
        let _ = write!(
            out,
            "</main>\n<footer>{} matching lines and names in {} members; {} bytes read. ",
            summary.matches, summary.members, summary.read
        );
        if let Some(stopped) = &summary.stopped {
            let _ = write!(
                out,
                "<strong class=\"stop\">Stopped at the {} budget</strong> at member {} — <a class=\"cont\" href=\"{}\">continue</a>",
                stopped.why.budget(),
                stopped.at,
                escape(&stopped.link)
            );
        } else if summary.searched {
            out.push_str("Search complete.");
        }
        out.push_str("</footer>\n");
        out.push_str(html::CLOSE_PAGE);
    }
}

/// A relative link from the searched directory to member path `rel` (`a/b c.log` → `./a/b%20c.log`).
fn rel_href(rel: &str) -> String {
    let mut out = String::from(".");
    for seg in rel.split('/') {
        out.push('/');
        let enc = percent::segment(seg, percent::Context::HtmlAttribute);
        out.push_str(enc.strip_prefix("./").unwrap_or(&enc));
    }
    out
}

const STYLE: &str = "section{margin:.5em 0 1em}h2{font:600 1em system-ui,sans-serif;margin:.25em 1em}h2 small{font-weight:normal}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_relative_and_escaped() {
        assert_eq!(rel_href("job 1/build?.log"), "./job%201/build%3F.log");
    }
}

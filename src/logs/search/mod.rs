//! `DIR/?q=TEXT`: which members under a directory match, by name and by content.
//!
//! Each matching line is rendered as in the log view, the match highlighted,
//! and links to `MEMBER?view#L123`. `&case=1` is case-sensitive, `&re=1` a
//! regular expression (the `regex` crate, with its compile size limits),
//! `&format=json` for scripts. Content is read with `pread` (stored) or
//! inflated by streaming (deflated), never from the mapping; binary members
//! (a known binary type, or a NUL in the first bytes) are matched by name only.
//!
//! Bounded: a search stops at [`MAX_MATCHES`] lines, [`BYTE_BUDGET`] bytes
//! read and [`TIME_BUDGET`], says where and links to continue
//! (`&from=MEMBER&skip=LINE`); the time is checked between batches of lines
//! inside a step too. Each step reads at most one chunk (1 MiB) of content.
//! At most [`MAX_SEARCHES`] scans run at once in the process, each on a
//! thread of its own, so member requests are never starved; over the limit
//! a search is answered 503. The scan runs to its end whatever its client
//! does: its page is held (bounded, [`held`]) and sent as a [`Body::Stream`]
//! as the client reads, so a slow reader holds bytes, not a slot.
//!
//! As ripgrep keeps its searcher apart from its printers, a search goes top
//! to bottom through three parts:
//!
//! ```text
//! page()     query::SearchQuery from the request ─▶ its regex (400 if it does not
//!            compile) ─▶ a scan::Slot (503 if none) ─▶ a thread: scan::Scan
//!            of the members under DIR, print::printer for the format ─▶ a
//!            Stream of the held page
//! Search     each step:  Head ─▶ Members ─▶ … ─▶ Members ─▶ Done
//!   Head       Print::head
//!   Members    a budget spent? foot : Scan::step (a name, or a chunk of a
//!              member) ─▶ Print::member / line / member_end as it finds them
//!   foot       Print::member_end if a member is open, Print::foot(SearchSummary)
//! ```

use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use crate::archive::Archive;
use crate::http;
use crate::http::body::{Body, Produce, Stream};
use crate::http::request::Format;
use crate::http::response::Response;
use crate::http::Status;
use crate::log;

mod held;
mod print;
mod query;
mod scan;
#[cfg(test)]
pub(crate) mod tests;

use print::Print;
use print::Stop;
pub use query::SearchQuery;
use scan::{Scan, Slot};
pub use scan::{BYTE_BUDGET, MAX_MATCHES, MAX_SEARCHES, TIME_BUDGET};

/// The search page for `dir` (empty for the root, else ending in `/`).
pub fn page(
    archive: &Arc<Archive>,
    title: &str,
    dir: &str,
    query: &http::Query,
    format: Format,
    cache_control: &'static str,
    head: bool,
) -> Response {
    let q = SearchQuery::of(query, format);
    let content_type = if q.json {
        "application/json; charset=utf-8"
    } else {
        "text/html; charset=utf-8"
    };
    let regex = match q.regex() {
        Ok(r) => Some(r),
        Err(_) if q.text.is_empty() => None,
        Err(e) => {
            // A pattern that does not compile (or is too big) is the client's error.
            let msg = format!("bad pattern: {e}\n");
            return Response {
                content_type: Some(Cow::Borrowed("text/plain; charset=utf-8")),
                content_length: Some(msg.len() as u64),
                body: Body::Owned(msg.into_bytes()),
                ..Response::new(Status::BadRequest)
            };
        }
    };
    let base = Response {
        content_type: Some(Cow::Borrowed(content_type)),
        cache_control: Some(cache_control),
        vary: Some("Accept"),
        ..Response::new(Status::Ok)
    };
    if head {
        return base;
    }
    if held::full() {
        return Response::error(Status::ServiceUnavailable);
    }
    let Some(slot) = Slot::take() else {
        return Response::error(Status::ServiceUnavailable);
    };
    let printer = print::printer(&q, title);
    let archive = Arc::clone(archive);
    let dir = dir.to_string();
    let held = held::Held::start(move || Search {
        printer,
        scan: Scan::new(slot, &archive, &dir, regex, q),
        phase: SearchPhase::Head,
    });
    match held {
        Ok(held) => Response {
            body: Body::Stream(Stream::new(held)),
            ..base
        },
        Err(e) => {
            log::warn!("cannot start a search thread: {e}");
            Response::error(Status::ServiceUnavailable)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchPhase {
    Head,
    Members,
    Done,
}

/// A search page being made: the searcher, and the printer it reports to.
struct Search {
    scan: Scan,
    printer: Box<dyn Print>,
    phase: SearchPhase,
}

impl Produce for Search {
    fn step(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut s = String::new();
        match self.phase {
            SearchPhase::Head => {
                self.printer.head(&mut s);
                self.phase = if self.scan.searching() {
                    SearchPhase::Members
                } else {
                    self.foot(&mut s, None);
                    SearchPhase::Done
                };
            }
            SearchPhase::Members => {
                if let Some(stop) = self.scan.budget_stop() {
                    self.foot(&mut s, Some(stop));
                    self.phase = SearchPhase::Done;
                } else if !self.scan.step(self.printer.as_mut(), &mut s) {
                    self.foot(&mut s, None);
                    self.phase = SearchPhase::Done;
                }
            }
            SearchPhase::Done => {}
        }
        out.extend_from_slice(s.as_bytes());
        Ok(self.phase != SearchPhase::Done)
    }
}

impl Search {
    /// The end of the page: the open member's end, then the counts and,
    /// after a `stop`, where to continue.
    fn foot(&mut self, s: &mut String, stop: Option<Stop>) {
        if self.scan.in_shown_member() {
            self.printer.member_end(s);
        }
        self.printer.foot(s, &self.scan.summary(stop));
    }
}

//! Test reports: `MEMBER?view` on a JUnit/xUnit XML report shows its totals,
//! its failures and errors first (message and body, a body with terminal
//! colours rendered as in a log), its suites (collapsible `<details>`, no
//! script) and its slowest cases; `DIR/?tests` sums every report under a
//! directory, a CI run's whole test result on one page. `&format=json`
//! gives either as JSON.
//!
//! Which members are reports ([`is_report`]): `.xml` members named as CI
//! tools name them (`TEST-*.xml`: Surefire, Gradle, Ant, TestNG's JUnit
//! reports; any name holding `junit`: pytest, jest-junit, nextest and
//! go-junit-report setups), or whose root element is `<testsuites>` or
//! `<testsuite>` (the first [`SNIFF`] bytes read). Names alone are not
//! enough for `*report*.xml`: a coverage report is named so too.
//!
//! Read by streaming ([`parse`]), in bounded memory and time: stored members
//! with `pread`, deflated ones through the inflater, never from the mapping;
//! at most [`MAX_AT_ONCE`] reports are read at once in the process (over
//! that a request is answered 503), each within [`TIME_BUDGET`], and a run
//! reads at most [`MAX_RUN_REPORTS`] reports and [`RUN_BYTES`] bytes. A
//! page says where a budget or a bound stopped it and what it counted
//! before; malformed XML gets its reason, its byte offset and a link to the
//! raw member.
//!
//! ```text
//! page()       slot ─▶ MemberReader ─▶ parse::parse ─▶ Report ─▶ html::report | json::report
//! tests_page() slot ─▶ the .xml members under DIR, by name ─▶ parse each (budgets)
//!              ─▶ run::Run ─▶ html::run | json::run
//! ```

use std::borrow::Cow;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::archive::reader::MemberReader;
use crate::archive::Archive;
use crate::http::body::Body;
use crate::http::request::Format;
use crate::http::response::Response;
use crate::http::Status;
use crate::zip::Entry;

mod html;
mod json;
mod model;
mod parse;
mod run;
mod source;
#[cfg(test)]
mod tests;

use model::{Limits, Report};
use parse::Budget;

/// Reports read at once in the process, pages and runs together.
pub const MAX_AT_ONCE: usize = 4;
/// Wall time one page may spend reading.
pub const TIME_BUDGET: Duration = Duration::from_secs(10);
/// Reports a run reads at most.
pub const MAX_RUN_REPORTS: usize = 1000;
/// Bytes a run reads at most, all reports together.
pub const RUN_BYTES: u64 = 1 << 30;
/// Bytes read to find a member's root element.
pub const SNIFF: usize = 4096;

/// What a report's own page keeps.
pub(crate) const PAGE_LIMITS: Limits = Limits {
    failures: 200,
    body: 32 << 10,
    output: 8 << 10,
    suites: 2000,
    rows: 5000,
    slowest: 20,
};

/// What a run keeps of each report (its failures link to the report's page).
const RUN_LIMITS: Limits = Limits {
    failures: 50,
    body: 2 << 10,
    output: 0,
    suites: 0,
    rows: 0,
    slowest: 20,
};

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// One of the [`MAX_AT_ONCE`] reading slots, held while a page is made.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        ACTIVE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_AT_ONCE).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether `name` ends in `.xml` (any case): the members that may be reports.
pub fn is_xml(name: &str) -> bool {
    let n = name.len();
    n >= 4
        && name
            .get(n - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".xml"))
}

/// Whether an `.xml` member is named as CI tools name their reports.
pub fn named_like_report(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    is_xml(base) && (base.starts_with("TEST-") || base.to_ascii_lowercase().contains("junit"))
}

/// The name of the root element in the first bytes of an XML document
/// (after a byte-order mark, the declaration, comments, processing
/// instructions and a DOCTYPE), if they hold its start.
pub fn root_element(head: &[u8]) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(head);
    let mut buf = Vec::new();
    for _ in 0..64 {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    None
}

/// Whether a member is a test report: an `.xml` member named like one, or
/// whose root element is `<testsuites>` or `<testsuite>`.
pub fn is_report(archive: &Arc<Archive>, name: &str, entry: &Entry) -> bool {
    if !is_xml(name) {
        return false;
    }
    if named_like_report(name) {
        return true;
    }
    archive
        .read_member(entry, SNIFF)
        .ok()
        .and_then(|head| root_element(&head))
        .is_some_and(|root| root == "testsuites" || root == "testsuite")
}

/// A member's bytes as [`io::Read`], for the parser.
struct Member(MemberReader);

impl io::Read for Member {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// Reads member `entry` as a report, within `limits` and `budget`.
fn read(
    archive: &Arc<Archive>,
    entry: &Entry,
    limits: &Limits,
    budget: Budget,
    label: &str,
) -> Report {
    match MemberReader::open(archive, entry, 0) {
        Ok((reader, _, _)) => parse::parse(Member(reader), limits, budget, label),
        Err(e) => Report {
            problem: Some(model::Problem::Unreadable {
                what: e.to_string(),
            }),
            ..Report::default()
        },
    }
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Json => "application/json; charset=utf-8",
        Format::Html => "text/html; charset=utf-8",
    }
}

fn respond(body: String, format: Format, cache_control: &'static str) -> Response {
    Response {
        content_type: Some(Cow::Borrowed(content_type(format))),
        content_length: Some(body.len() as u64),
        cache_control: Some(cache_control),
        vary: Some("Accept"),
        body: Body::Owned(body.into_bytes()),
        ..Response::new(Status::Ok)
    }
}

fn head_only(format: Format, cache_control: &'static str) -> Response {
    Response {
        content_type: Some(Cow::Borrowed(content_type(format))),
        cache_control: Some(cache_control),
        vary: Some("Accept"),
        body: Body::Empty,
        ..Response::new(Status::Ok)
    }
}

/// The page of report `name`: work that grows with the report, for the
/// caller to run off the event loop.
pub fn page(
    archive: &Arc<Archive>,
    name: &str,
    entry: &Entry,
    format: Format,
    cache_control: &'static str,
    head: bool,
) -> Response {
    if head {
        return head_only(format, cache_control);
    }
    let Some(_slot) = Slot::take() else {
        return Response::error(Status::ServiceUnavailable);
    };
    let budget = Budget {
        deadline: Instant::now() + TIME_BUDGET,
        bytes: u64::MAX,
    };
    let report = read(archive, entry, &PAGE_LIMITS, budget, name);
    let body = match format {
        Format::Json => json::report(name, entry.size(), &report),
        Format::Html => html::report(name, entry.size(), &report),
    };
    respond(body, format, cache_control)
}

/// The HTML and JSON pages of a report held in memory, as [`page`] makes
/// them from a member: what the fuzz target feeds.
pub fn render(name: &str, xml: &[u8]) -> (String, String) {
    let budget = Budget {
        deadline: Instant::now() + TIME_BUDGET,
        bytes: u64::MAX,
    };
    let report = parse::parse(xml, &PAGE_LIMITS, budget, name);
    let size = xml.len() as u64;
    (
        html::report(name, size, &report),
        json::report(name, size, &report),
    )
}

/// `DIR/?tests`: every report under `dir` (empty for the root, else ending
/// in `/`) summed; `title` names the directory. For the caller to run off
/// the event loop.
pub fn tests_page(
    archive: &Arc<Archive>,
    title: &str,
    dir: &str,
    format: Format,
    cache_control: &'static str,
    head: bool,
) -> Response {
    if head {
        return head_only(format, cache_control);
    }
    let Some(_slot) = Slot::take() else {
        return Response::error(Status::ServiceUnavailable);
    };
    let run = run::Run::read(archive, dir, Instant::now() + TIME_BUDGET);
    let body = match format {
        Format::Json => json::run(title, &run),
        Format::Html => html::run(title, &run),
    };
    respond(body, format, cache_control)
}

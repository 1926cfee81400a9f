//! The streaming parser: a JUnit/xUnit XML report read once, front to back,
//! into a [`Report`] of bounded size whatever the report's.
//!
//! quick-xml reads the markup (tags, declarations, the DOCTYPE); this module
//! reads the text, CDATA sections and comments itself, a buffer at a time,
//! keeping only the first bytes of the ones it shows (a failure's body, a
//! case's output), so a 100 MB `system-out` costs a 64 KiB buffer. Bounds:
//! a tag or declaration of at most [`MAX_MARKUP`] bytes (quick-xml buffers
//! one whole), element names of at most [`MAX_NAME`] bytes, at most
//! [`MAX_DEPTH`] open elements (quick-xml keeps their names to check end
//! tags), and what [`Limits`] keeps. Entities: the five predefined ones and
//! character references are decoded; any other (`&lol9;` of a "billion
//! laughs" DTD) stays as written: neither quick-xml nor this module expands
//! a DTD's entities, so no input grows in memory.
//!
//! ```text
//! <testsuites>                   Root (its attributes: the declared totals)
//!   <testsuite>                  Suite (nested ones too), a row list each
//!     <testcase>                 Case: counted when it ends
//!       <failure|error|skipped>  its outcome (failure > error > skipped)
//!       <system-out|system-err>  its output, kept if it fails
//!       <flakyFailure|flakyError> passed after a failed try (Surefire)
//! ```

use std::io::Read;
use std::time::Instant;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::model::{
    Capture, Declared, Failure, Limits, Outcome, Problem, Report, Row, Slow, Slowest, Stop, Suite,
    MAX_ATTR,
};
use super::source::Source;

/// The longest tag or declaration read (quick-xml holds one whole).
pub(crate) const MAX_MARKUP: usize = 1 << 20;
/// The longest element name.
pub(crate) const MAX_NAME: usize = 256;
/// The deepest nesting of elements.
pub(crate) const MAX_DEPTH: usize = 256;
/// Events between two looks at the clock.
const CLOCK_EVERY: u32 = 1024;

/// What a report is read against: the time and the bytes it may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub(crate) deadline: Instant,
    pub(crate) bytes: u64,
}

/// An open element, as far as a report cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Root,
    /// A suite: its position in `Report::suites`, if listed.
    Suite(Option<usize>),
    Case,
    /// A case's `<failure>` (true) or `<error>` (false), whose text is its body.
    Result(bool),
    /// A case's `<system-out>` or `<system-err>`.
    Output,
    Other,
}

/// A failure's or an error's attributes and text.
#[derive(Debug, Default)]
struct Said {
    seen: bool,
    kind: String,
    message: String,
    body: Capture,
}

/// The case being read.
#[derive(Debug, Default)]
struct Case {
    name: String,
    class: String,
    file: String,
    time: f64,
    failure: Said,
    error: Said,
    skipped: bool,
    flaky: bool,
    output: Capture,
}

struct Parser<'a> {
    limits: &'a Limits,
    report: Report,
    stack: Vec<Node>,
    /// Names of the open suites, innermost last.
    suite_names: Vec<String>,
    /// Rows listed so far, all suites together.
    rows: usize,
    case: Option<Case>,
    root_declared: Declared,
    top_declared: Declared,
    seq: u64,
    /// The raw bytes of a text run kept for decoding.
    run: Vec<u8>,
    report_name: &'a str,
}

/// Reads a report from `input` as far as it, `budget` and the bounds allow.
/// `report_name` labels its slowest cases (for a run's page).
pub(crate) fn parse<R: Read>(
    input: R,
    limits: &Limits,
    budget: Budget,
    report_name: &str,
) -> Report {
    let mut p = Parser {
        limits,
        report: Report {
            slowest: Slowest::new(limits.slowest),
            ..Report::default()
        },
        stack: Vec::new(),
        suite_names: Vec::new(),
        rows: 0,
        case: None,
        root_declared: Declared::default(),
        top_declared: Declared::default(),
        seq: 0,
        run: Vec::new(),
        report_name,
    };
    let mut source = Source::new(input);
    source.budget(budget.deadline, budget.bytes);
    let mut reader = Reader::from_reader(source);
    let result = p.run(&mut reader, budget);
    // A report cut short often ends in the case that broke the run: the
    // case being read is counted with what it had.
    if p.case.is_some() {
        p.finish_case();
    }
    let src = reader.get_ref();
    p.report.read = src.pos();
    match (src.spent, result) {
        // A read failed because a budget ran out: a stop, not a problem.
        (Some(stop), Err(_)) => p.report.stopped = Some(stop),
        (_, Err(problem)) => p.report.problem = Some(problem),
        (_, Ok(())) => {}
    }
    p.report.declared = p.root_declared.or(&p.top_declared);
    p.report
}

impl Parser<'_> {
    fn run<R: Read>(
        &mut self,
        reader: &mut Reader<Source<R>>,
        budget: Budget,
    ) -> Result<(), Problem> {
        let unreadable = |e: std::io::Error| Problem::Unreadable {
            what: e.to_string(),
        };
        // A byte-order mark is not text before the root.
        let head = reader.get_mut().peek(3).map_err(unreadable)?;
        if head.starts_with(b"\xff\xfe") || head.starts_with(b"\xfe\xff") {
            return Err(Problem::Unreadable {
                what: "a UTF-16 report (wwz reads UTF-8 reports)".into(),
            });
        }
        if head.starts_with(b"\xef\xbb\xbf") {
            reader.get_mut().skip(3);
        }
        let mut buf = Vec::new();
        let mut events = 0u32;
        loop {
            events = events.wrapping_add(1);
            if events % CLOCK_EVERY == 0 && Instant::now() >= budget.deadline {
                self.report.stopped = Some(Stop::Time);
                return Ok(());
            }
            let src = reader.get_mut();
            if src.pos() >= budget.bytes {
                self.report.stopped = Some(Stop::Bytes);
                return Ok(());
            }
            let at = src.pos();
            let head = src.peek(9).map_err(unreadable)?;
            if head.is_empty() {
                return self.at_end(at);
            }
            if !head.starts_with(b"<") {
                self.text(src).map_err(unreadable)?;
                continue;
            }
            if head.starts_with(b"<![CDATA[") {
                src.skip(9);
                let mut sink = self.sink();
                let done = src
                    .until(b"]]>", |piece| sink.raw(piece))
                    .map_err(unreadable)?;
                if !done {
                    return Err(malformed(at, "a CDATA section that never ends"));
                }
                continue;
            }
            if head.starts_with(b"<!--") {
                src.skip(4);
                if !src.until(b"-->", |_| {}).map_err(unreadable)? {
                    return Err(malformed(at, "a comment that never ends"));
                }
                continue;
            }
            src.allow(MAX_MARKUP);
            buf.clear();
            let event = match reader.read_event_into(&mut buf) {
                Ok(event) => event,
                Err(e) => {
                    let src = reader.get_ref();
                    if src.overlong {
                        return Err(Problem::Bound {
                            at,
                            what: format!(
                                "a tag or declaration longer than {} MiB",
                                MAX_MARKUP >> 20
                            ),
                        });
                    }
                    return Err(match e {
                        quick_xml::Error::Io(e) => Problem::Unreadable {
                            what: e.to_string(),
                        },
                        e => malformed(at, &e.to_string()),
                    });
                }
            };
            match event {
                Event::Start(e) => self.open(&e, at)?,
                Event::Empty(e) => {
                    self.open(&e, at)?;
                    self.close();
                }
                Event::End(_) => self.close(),
                Event::Eof => return self.at_end(at),
                // Text, references, CDATA and comments are read above; the
                // rest (declarations, DOCTYPE, processing instructions) say
                // nothing about tests.
                _ => {}
            }
            if self.stack.is_empty() && !self.report.root.is_empty() {
                // The root closed: what follows is not the report's.
                return Ok(());
            }
        }
    }

    fn at_end(&self, at: u64) -> Result<(), Problem> {
        match self.stack.last() {
            None if self.report.root.is_empty() => Err(Problem::NotAReport {
                root: String::new(),
            }),
            None => Ok(()),
            Some(_) => Err(malformed(
                at,
                "the report ends before its elements do (cut short?)",
            )),
        }
    }

    /// Where the text of the innermost element goes, if anywhere.
    fn sink(&mut self) -> Sink<'_> {
        let cap_body = self.limits.body;
        let cap_output = self.limits.output;
        let room = self.report.failures.len() < self.limits.failures;
        let target = match (self.stack.last(), self.case.as_mut()) {
            (Some(Node::Result(true)), Some(c)) if room => Some((&mut c.failure.body, cap_body)),
            (Some(Node::Result(false)), Some(c)) if room => Some((&mut c.error.body, cap_body)),
            (Some(Node::Output), Some(c)) if room => Some((&mut c.output, cap_output)),
            _ => None,
        };
        Sink {
            target,
            run: &mut self.run,
        }
    }

    /// A run of text up to the next `<`: entities decoded in what is kept.
    fn text<R: Read>(&mut self, src: &mut Source<R>) -> std::io::Result<()> {
        let sink = self.sink();
        sink.run.clear();
        let keep = sink.target.as_ref().map_or(0, |(c, cap)| {
            // Decoding shrinks text at most fivefold (`&amp;`), and an entity
            // cut at the end must still decode: enough raw bytes to fill the cap.
            cap.saturating_sub(c.bytes.len()).saturating_mul(5) + 16
        });
        let mut more = false;
        src.text(|piece| {
            let room = keep.saturating_sub(sink.run.len());
            more |= piece.len() > room;
            sink.run
                .extend_from_slice(piece.get(..room.min(piece.len())).unwrap_or_default());
        })?;
        if let Some((capture, cap)) = sink.target {
            let mut decoded = Vec::with_capacity(sink.run.len());
            unescape(sink.run, &mut decoded);
            capture.push(&decoded, cap);
            if more {
                capture.cut = true;
            }
        }
        Ok(())
    }

    fn open(&mut self, e: &BytesStart<'_>, at: u64) -> Result<(), Problem> {
        let qname = e.name();
        if qname.as_ref().len() > MAX_NAME {
            return Err(Problem::Bound {
                at,
                what: format!("an element name longer than {MAX_NAME} bytes"),
            });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Problem::Bound {
                at,
                what: format!("elements nested deeper than {MAX_DEPTH}"),
            });
        }
        let local = e.local_name();
        let name = local.as_ref();
        let top = self.stack.last().copied();
        let node = match (top, name) {
            (None, b"testsuites") => {
                self.report.root = "testsuites".into();
                self.root_declared = declared(e, at)?;
                Node::Root
            }
            (None, b"testsuite") => {
                self.report.root = "testsuite".into();
                self.open_suite(e, at, true)?
            }
            (None, other) => {
                let root = String::from_utf8_lossy(other).replace(char::is_control, "?");
                return Err(Problem::NotAReport {
                    root: cut(&root, MAX_NAME),
                });
            }
            (Some(Node::Root), b"testsuite") => self.open_suite(e, at, true)?,
            (Some(Node::Suite(_)), b"testsuite") => self.open_suite(e, at, false)?,
            (Some(Node::Root | Node::Suite(_)), b"testcase") => {
                self.open_case(e, at)?;
                Node::Case
            }
            (Some(Node::Case), b"failure" | b"error") => {
                let failure = name == b"failure";
                if let Some(case) = self.case.as_mut() {
                    let said = if failure {
                        &mut case.failure
                    } else {
                        &mut case.error
                    };
                    if said.seen {
                        // A second one: counted once, its text not kept.
                        Node::Other
                    } else {
                        said.seen = true;
                        attributes(e, at, |key, value| match key {
                            b"message" => said.message = value(),
                            b"type" => said.kind = value(),
                            _ => {}
                        })?;
                        Node::Result(failure)
                    }
                } else {
                    Node::Other
                }
            }
            (Some(Node::Case), b"skipped") => {
                if let Some(case) = self.case.as_mut() {
                    case.skipped = true;
                }
                Node::Other
            }
            (Some(Node::Case), b"flakyFailure" | b"flakyError") => {
                if let Some(case) = self.case.as_mut() {
                    case.flaky = true;
                }
                Node::Other
            }
            (Some(Node::Case), b"system-out" | b"system-err") => Node::Output,
            _ => Node::Other,
        };
        self.stack.push(node);
        Ok(())
    }

    fn open_suite(
        &mut self,
        e: &BytesStart<'_>,
        at: u64,
        top_level: bool,
    ) -> Result<Node, Problem> {
        let mut name = String::new();
        attributes(e, at, |key, value| {
            if key == b"name" {
                name = value();
            }
        })?;
        let declared = declared(e, at)?;
        if top_level {
            self.top_declared.add(&declared);
        }
        let depth = self.suite_names.len();
        self.suite_names.push(name.clone());
        let index = if self.report.suites.len() < self.limits.suites {
            self.report.suites.push(Suite {
                name,
                depth,
                declared,
                ..Suite::default()
            });
            Some(self.report.suites.len() - 1)
        } else {
            self.report.suites_unlisted += 1;
            None
        };
        Ok(Node::Suite(index))
    }

    fn open_case(&mut self, e: &BytesStart<'_>, at: u64) -> Result<(), Problem> {
        let mut case = Case::default();
        attributes(e, at, |key, value| match key {
            b"name" => case.name = value(),
            b"classname" => case.class = value(),
            b"file" => case.file = value(),
            b"time" => case.time = parse_time(value().as_bytes()).unwrap_or(0.0),
            _ => {}
        })?;
        self.case = Some(case);
        Ok(())
    }

    fn close(&mut self) {
        let node = self.stack.pop();
        match node {
            Some(Node::Case) => self.finish_case(),
            Some(Node::Suite(_)) => {
                self.suite_names.pop();
            }
            _ => {}
        }
    }

    /// The innermost open suite's position in the list, if listed.
    fn suite(&self) -> Option<usize> {
        self.stack.iter().rev().find_map(|n| match n {
            Node::Suite(i) => Some(*i),
            _ => None,
        })?
    }

    fn finish_case(&mut self) {
        let Some(case) = self.case.take() else {
            return;
        };
        let outcome = if case.failure.seen {
            Outcome::Failed
        } else if case.error.seen {
            Outcome::Error
        } else if case.skipped {
            Outcome::Skipped
        } else {
            Outcome::Passed
        };
        self.report.counts.add_case(outcome, case.flaky, case.time);
        let suite_name = self.suite_names.last().cloned().unwrap_or_default();
        self.seq += 1;
        if self.report.slowest.wants(case.time) {
            self.report.slowest.offer(Slow {
                time: case.time,
                seq: self.seq,
                report: self.report_name.to_string(),
                suite: suite_name.clone(),
                class: case.class.clone(),
                name: case.name.clone(),
            });
        }
        let mut failure_at = None;
        if matches!(outcome, Outcome::Failed | Outcome::Error) {
            if self.report.failures.len() < self.limits.failures {
                let said = if outcome == Outcome::Failed {
                    case.failure
                } else {
                    case.error
                };
                failure_at = Some(self.report.failures.len());
                self.report.failures.push(Failure {
                    outcome,
                    suite: suite_name,
                    class: case.class.clone(),
                    name: case.name.clone(),
                    file: case.file,
                    time: case.time,
                    kind: said.kind,
                    message: said.message,
                    body: said.body,
                    output: case.output,
                });
            } else {
                self.report.failures_unlisted += 1;
            }
        }
        if let Some(suite) = self.suite().and_then(|i| self.report.suites.get_mut(i)) {
            suite.counts.add_case(outcome, case.flaky, case.time);
            if self.rows < self.limits.rows {
                self.rows += 1;
                suite.rows.push(Row {
                    name: case.name,
                    class: case.class,
                    time: case.time,
                    outcome,
                    failure: failure_at,
                });
            } else {
                suite.unlisted += 1;
            }
        }
    }
}

/// Where a piece of text goes: a capture (with its cap), or nowhere.
struct Sink<'a> {
    target: Option<(&'a mut Capture, usize)>,
    run: &'a mut Vec<u8>,
}

impl Sink<'_> {
    /// CDATA: kept as it is.
    fn raw(&mut self, piece: &[u8]) {
        if let Some((capture, cap)) = self.target.as_mut() {
            capture.push(piece, *cap);
        }
    }
}

fn malformed(at: u64, what: &str) -> Problem {
    Problem::Malformed {
        at,
        what: cut(what, 512),
    }
}

/// `tests`, `failures`, `errors`, `skipped` (or `skip`) and `time` of a
/// `<testsuites>` or `<testsuite>`.
fn declared(e: &BytesStart<'_>, at: u64) -> Result<Declared, Problem> {
    let mut d = Declared::default();
    let mut skip = None;
    attributes(e, at, |key, value| {
        let count = || parse_count(value().as_bytes());
        match key {
            b"tests" => d.tests = count(),
            b"failures" => d.failures = count(),
            b"errors" => d.errors = count(),
            b"skipped" => d.skipped = count(),
            b"skip" => skip = count(),
            b"time" => d.time = parse_time(value().as_bytes()),
            _ => {}
        }
    })?;
    d.skipped = d.skipped.or(skip);
    Ok(d)
}

/// Calls `f` with each attribute's local name and a way to get its value
/// (decoded, cut to [`MAX_ATTR`] bytes), made only when asked for.
fn attributes(
    e: &BytesStart<'_>,
    at: u64,
    mut f: impl FnMut(&[u8], &dyn Fn() -> String),
) -> Result<(), Problem> {
    for attr in e.attributes() {
        let attr = attr.map_err(|err| malformed(at, &err.to_string()))?;
        let raw = attr.value;
        let value = || {
            let raw = raw.get(..raw.len().min(MAX_ATTR + 16)).unwrap_or_default();
            let mut out = Vec::with_capacity(raw.len());
            unescape(raw, &mut out);
            cut(&String::from_utf8_lossy(&out), MAX_ATTR)
        };
        f(attr.key.local_name().as_ref(), &value);
    }
    Ok(())
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

/// A count attribute: a whole number.
pub(crate) fn parse_count(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// A time attribute in seconds; thousands separators (`1,234.5`, as some
/// locales make Surefire write) are dropped. Negative or not finite: none.
pub(crate) fn parse_time(v: &[u8]) -> Option<f64> {
    let s: String = std::str::from_utf8(v).ok()?.trim().replace(',', "");
    let t: f64 = s.parse().ok()?;
    (t.is_finite() && t >= 0.0).then_some(t)
}

/// Decodes the predefined entities (`&lt;` `&gt;` `&amp;` `&quot;`
/// `&apos;`) and character references; anything else (an entity a DTD
/// declares, a lone `&`) stays as written: nothing is expanded.
pub(crate) fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    let mut rest = raw;
    while let Some(amp) = memchr::memchr(b'&', rest) {
        out.extend_from_slice(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let semi = after.iter().take(12).position(|&b| b == b';');
        let decoded = semi.and_then(|s| entity(after.get(..s).unwrap_or_default()).map(|c| (c, s)));
        match decoded {
            Some((c, s)) => {
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                rest = after.get(s + 1..).unwrap_or_default();
            }
            None => {
                out.push(b'&');
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest);
}

fn entity(name: &[u8]) -> Option<char> {
    match name {
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"amp" => Some('&'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        [b'#', b'x' | b'X', hex @ ..] => {
            char::from_u32(u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?)
        }
        [b'#', dec @ ..] => char::from_u32(std::str::from_utf8(dec).ok()?.parse().ok()?),
        _ => None,
    }
}

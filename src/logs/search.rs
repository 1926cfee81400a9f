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
//! (`&from=MEMBER&skip=LINE`). The page is a [`Body::Stream`]: each step
//! reads at most [`CHUNK`] bytes on the blocking pool. At most
//! [`MAX_SEARCHES`] run at once in the process (a connection answers its
//! requests one at a time, so one per connection), so member requests are
//! never starved; over the limit a search is answered 503.

use std::fmt::Write;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::bytes::{Regex, RegexBuilder};

use crate::archive::reader::MemberReader;
use crate::archive::Archive;
use crate::logs::terminal::Renderer;

use super::view::line_html_marked;
use crate::content::mime;
use crate::http;
use crate::http::body::{Body, Produce, Stream};
use crate::http::request::Format;
use crate::http::response::Response;
use crate::http::Status;
use crate::logs::terminal;
use crate::pages::html::{self, escape};
use crate::util::json::json_str;
use crate::util::percent;

pub const MAX_MATCHES: usize = 1000;
pub const BYTE_BUDGET: u64 = 1 << 30;
pub const TIME_BUDGET: Duration = Duration::from_secs(10);
pub const MAX_SEARCHES: usize = 2;
/// Content bytes read per step.
const CHUNK: usize = 1 << 20;
/// A line longer than this is matched in pieces.
const MAX_CARRY: usize = 1 << 20;
/// Bytes looked at to tell text from binary.
const SNIFF: usize = 8192;

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Holds one of the [`MAX_SEARCHES`] slots while a search runs.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        ACTIVE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_SEARCHES).then_some(n + 1)
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

/// The parameters of a search, from the query string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    pub text: String,
    pub case: bool,
    pub re: bool,
    pub json: bool,
    /// Resume at this member (its position among the members searched) …
    pub from: usize,
    /// … after this line of it.
    pub skip: u64,
}

impl Query {
    /// The search a request asks for.
    pub fn of(query: &http::Query, format: Format) -> Query {
        Query {
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
    fn continued(&self, from: usize, skip: u64) -> String {
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

    fn regex(&self) -> Result<Regex, regex::Error> {
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
    let q = Query::of(query, format);
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
                content_type: Some(std::borrow::Cow::Borrowed("text/plain; charset=utf-8")),
                content_length: Some(msg.len() as u64),
                body: Body::Owned(msg.into_bytes()),
                ..Response::new(Status::BadRequest)
            };
        }
    };
    let base = Response {
        content_type: Some(std::borrow::Cow::Borrowed(content_type)),
        cache_control: Some(cache_control),
        vary: Some("Accept"),
        ..Response::new(Status::Ok)
    };
    if head {
        return base;
    }
    let Some(slot) = Slot::take() else {
        return Response::error(Status::ServiceUnavailable);
    };
    let index = archive.index();
    let mut members: Vec<(String, usize)> = index
        .entries()
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let name = index.name_of(e);
            (name.starts_with(dir.as_bytes()) && !name.ends_with(b"/"))
                .then(|| (String::from_utf8_lossy(name).into_owned(), i))
        })
        .collect();
    members.sort_unstable();
    members.dedup_by(|a, b| a.0 == b.0);
    let search = Search {
        _slot: slot,
        archive: Arc::clone(archive),
        title: title.to_string(),
        dir_len: dir.len(),
        members,
        regex,
        at: q.from,
        skip: q.skip,
        q,
        current: None,
        started: Instant::now(),
        read: 0,
        matches: 0,
        first_item: true,
        phase: Phase::Head,
        buf: Vec::new(),
    };
    Response {
        body: Body::Stream(Stream::new(search)),
        ..base
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Members,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Matches,
    Bytes,
    Time,
}

/// The member being read.
struct Current {
    reader: MemberReader,
    /// Bytes of a line not yet ended by a newline.
    carry: Vec<u8>,
    /// Number of the first line in `carry`.
    line: u64,
    /// Whether its header (HTML) was written.
    shown: bool,
    sniffed: bool,
}

struct Search {
    _slot: Slot,
    archive: Arc<Archive>,
    title: String,
    dir_len: usize,
    members: Vec<(String, usize)>,
    regex: Option<Regex>,
    q: Query,
    /// Position in `members` of the member being searched.
    at: usize,
    /// Lines of it already reported (from a continue link).
    skip: u64,
    current: Option<Current>,
    started: Instant,
    read: u64,
    matches: usize,
    first_item: bool,
    phase: Phase,
    /// Read buffer, [`CHUNK`] bytes once the first member is read.
    buf: Vec<u8>,
}

impl Produce for Search {
    fn step(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut s = String::new();
        match self.phase {
            Phase::Head => {
                self.head(&mut s);
                self.phase = if self.regex.is_some() {
                    Phase::Members
                } else {
                    self.foot(&mut s, None);
                    Phase::Done
                };
            }
            Phase::Members => {
                if let Some(stop) = self.budget_stop() {
                    self.foot(&mut s, Some(stop));
                    self.phase = Phase::Done;
                } else if !self.member_step(&mut s) {
                    self.foot(&mut s, None);
                    self.phase = Phase::Done;
                }
            }
            Phase::Done => {}
        }
        out.extend_from_slice(s.as_bytes());
        Ok(self.phase != Phase::Done)
    }
}

impl Search {
    fn budget_stop(&self) -> Option<Stop> {
        if self.matches >= MAX_MATCHES {
            Some(Stop::Matches)
        } else if self.read >= BYTE_BUDGET {
            Some(Stop::Bytes)
        } else if self.started.elapsed() >= TIME_BUDGET {
            Some(Stop::Time)
        } else {
            None
        }
    }

    fn rel(&self, name: &str) -> String {
        name.get(self.dir_len..).unwrap_or(name).to_string()
    }

    /// One bounded piece of work: a member's name, or a chunk of its content.
    /// False when every member has been searched.
    fn member_step(&mut self, s: &mut String) -> bool {
        let Some((name, id)) = self.members.get(self.at).cloned() else {
            return false;
        };
        let Some(regex) = self.regex.clone() else {
            return false;
        };
        let rel = self.rel(&name);
        let Some(cur) = self.current.as_mut() else {
            // A new member: its name, then open its content.
            let shown = self.skip == 0 && regex.is_match(rel.as_bytes());
            if shown {
                self.matches += 1;
                self.member_header(s, &rel, true);
            }
            let entry = self.archive.index().entries().get(id);
            let binary_type = mime::media_type(&name).is_some_and(|(_, text)| !text);
            match entry
                .filter(|_| !binary_type)
                .map(|e| MemberReader::open(&self.archive, e, 0))
            {
                Some(Ok((reader, _, _))) => {
                    self.current = Some(Current {
                        reader,
                        carry: Vec::new(),
                        line: 1,
                        shown,
                        sniffed: false,
                    })
                }
                _ => self.next_member(s, shown),
            }
            return true;
        };
        if self.buf.is_empty() {
            self.buf = vec![0; CHUNK];
        }
        let got = cur.reader.read(&mut self.buf).unwrap_or(0); // a broken member ends its search; the others go on
        cur.carry
            .extend_from_slice(self.buf.get(..got).unwrap_or_default());
        self.read += got as u64;
        if !cur.sniffed {
            cur.sniffed = true;
            let head = cur
                .carry
                .get(..SNIFF.min(cur.carry.len()))
                .unwrap_or_default();
            if head.contains(&0) {
                let shown = cur.shown;
                self.next_member(s, shown);
                return true;
            }
        }
        let ended = got == 0;
        // Whole lines only, unless the member ended or a line is too long to wait for.
        let upto = if ended || cur.carry.len() > MAX_CARRY {
            cur.carry.len()
        } else {
            match memchr::memrchr(b'\n', &cur.carry) {
                Some(i) => i + 1,
                None => 0,
            }
        };
        let mut found: Vec<(u64, Vec<u8>)> = Vec::new();
        let block = cur.carry.get(..upto).unwrap_or_default();
        let mut counted = 0; // bytes of `block` whose newlines are in `line`
        let mut line = cur.line;
        let mut next_from = 0;
        let room = MAX_MATCHES.saturating_sub(self.matches);
        while found.len() < room {
            let Some(m) = regex.find_at(block, next_from) else {
                break;
            };
            let begin = memchr::memrchr(b'\n', block.get(..m.start()).unwrap_or_default())
                .map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', block.get(m.start()..).unwrap_or_default())
                .map_or(block.len(), |i| m.start() + i);
            line += memchr::memchr_iter(b'\n', block.get(counted..begin).unwrap_or_default())
                .count() as u64;
            counted = begin;
            if line > self.skip {
                found.push((line, block.get(begin..end).unwrap_or_default().to_vec()));
            }
            next_from = end + 1;
            if next_from > block.len() {
                break;
            }
        }
        let stopped_early = found.len() >= room && room > 0;
        let consumed = if stopped_early {
            // Resume after the last reported line.
            next_from.min(block.len())
        } else {
            block.len()
        };
        line += memchr::memchr_iter(b'\n', block.get(counted..consumed).unwrap_or_default()).count()
            as u64;
        cur.carry.drain(..consumed);
        cur.line = line;
        let shown = cur.shown;
        if !found.is_empty() && !shown {
            self.member_header(s, &rel, false);
            if let Some(cur) = self.current.as_mut() {
                cur.shown = true;
            }
        }
        let href = format!("{}?view", rel_href(&rel));
        for (n, text) in &found {
            self.matches += 1;
            self.line_item(s, &regex, &rel, &href, *n, text);
        }
        if stopped_early {
            // Continue from the next line of this member.
            self.skip = found.last().map_or(self.skip, |f| f.0);
            if let Some(cur) = self.current.as_mut() {
                cur.line = self.skip + 1;
            }
            return true;
        }
        if ended {
            let shown = self.current.as_ref().is_some_and(|c| c.shown);
            self.next_member(s, shown);
        }
        true
    }

    fn next_member(&mut self, s: &mut String, shown: bool) {
        if shown && !self.q.json {
            s.push_str("</section>\n");
        }
        self.current = None;
        self.skip = 0;
        self.at += 1;
    }

    fn member_header(&mut self, s: &mut String, rel: &str, by_name: bool) {
        if self.q.json {
            if by_name {
                self.item_sep(s);
                s.push_str("{\"member\":");
                json_str(s, rel);
                s.push_str(",\"kind\":\"name\"}");
            }
            return;
        }
        let href = rel_href(rel);
        let _ = writeln!(
            s,
            "<section><h2><a href=\"{href}?view\">{name}</a> <small><a href=\"{href}\">raw</a>{by}</small></h2>",
            name = escape(rel),
            by = if by_name { " · name matches" } else { "" },
        );
    }

    fn item_sep(&mut self, s: &mut String) {
        if !self.first_item {
            s.push(',');
        }
        self.first_item = false;
    }

    fn line_item(
        &mut self,
        s: &mut String,
        regex: &Regex,
        rel: &str,
        href: &str,
        n: u64,
        text: &[u8],
    ) {
        let mut renderer = Renderer::new();
        let plain = renderer.clone().plain(text);
        if self.q.json {
            self.item_sep(s);
            s.push_str("{\"member\":");
            json_str(s, rel);
            let _ = write!(s, ",\"kind\":\"line\",\"line\":{n},\"text\":");
            json_str(s, &plain);
            s.push('}');
            return;
        }
        let marks: Vec<(usize, usize)> = regex
            .find_iter(plain.as_bytes())
            .filter(|m| m.end() > m.start())
            .take(64)
            .map(|m| (m.start(), m.end()))
            .collect();
        line_html_marked(&mut renderer, n, text, &marks, href, s);
    }

    fn head(&mut self, s: &mut String) {
        if self.q.json {
            s.push_str("{\"query\":");
            json_str(s, &self.q.text);
            s.push_str(",\"results\":[");
            return;
        }
        let title = escape(&self.title);
        let text = escape(&self.q.text);
        html::open_page(
            s,
            &format!("Search {text} in {title}"),
            &[super::view::STYLE, terminal::STYLE, STYLE, html::FORM_STYLE],
        );
        let _ = write!(
            s,
            "<header><h1>Search in <a href=\"./\">{title}</a></h1>\n{form}</header>\n<main>\n",
            form = html::search_form(&self.q.text, self.q.case, self.q.re),
        );
    }

    fn foot(&mut self, s: &mut String, stop: Option<Stop>) {
        let cont = stop.map(|_| self.q.continued(self.at, self.skip));
        let why = match stop {
            None => "",
            Some(Stop::Matches) => "matches",
            Some(Stop::Bytes) => "bytes",
            Some(Stop::Time) => "time",
        };
        if self.current.as_ref().is_some_and(|c| c.shown) && !self.q.json {
            s.push_str("</section>\n");
        }
        if self.q.json {
            s.push_str("],\"matches\":");
            let _ = write!(s, "{}", self.matches);
            let _ = write!(
                s,
                ",\"members\":{},\"bytes_read\":{}",
                self.members.len(),
                self.read
            );
            match (&cont, stop) {
                (Some(c), Some(_)) => {
                    let _ = write!(s, ",\"stopped\":\"{why}\",\"continue\":");
                    json_str(s, c);
                }
                _ => s.push_str(",\"stopped\":null"),
            }
            s.push_str("}\n");
            return;
        }
        let _ = write!(
            s,
            "</main>\n<footer>{} matching lines and names in {} members; {} bytes read. ",
            self.matches,
            self.members.len(),
            self.read
        );
        if let Some(c) = cont {
            let _ = write!(
                s,
                "<strong class=\"stop\">Stopped at the {why} budget</strong> at member {} — <a class=\"cont\" href=\"{}\">continue</a>",
                self.at,
                escape(&c)
            );
        } else if self.regex.is_some() {
            s.push_str("Search complete.");
        }
        s.push_str("</footer>\n");
        s.push_str(html::CLOSE_PAGE);
    }
}

const STYLE: &str = "section{margin:.5em 0 1em}h2{font:600 1em system-ui,sans-serif;margin:.25em 1em}h2 small{font-weight:normal}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_and_continuation() {
        let parse = |q: &[u8]| {
            let q = http::Query::parse(q);
            let format = if q.json { Format::Json } else { Format::Html };
            Query::of(&q, format)
        };
        let q = parse(b"q=error%5BE0308%5D+x&case=1&re=1&format=json&from=7&skip=12");
        assert_eq!(q.text, "error[E0308] x");
        assert!(q.case && q.re && q.json);
        assert_eq!((q.from, q.skip), (7, 12));
        assert_eq!(
            parse(q.continued(9, 3).trim_start_matches('?').as_bytes()),
            Query {
                from: 9,
                skip: 3,
                ..q
            }
        );
        assert_eq!(parse(b"q=%zz%4").text, "%zz%4");
    }

    #[test]
    fn regex_limits_hold() {
        let q = Query {
            text: "(a{1000}){1000}".into(),
            re: true,
            ..Query::default()
        };
        assert!(q.regex().is_err());
        let q = Query {
            text: "a.b(".into(),
            ..Query::default()
        };
        assert!(q.regex().unwrap().is_match(b"xA.B(y"));
    }

    #[test]
    fn links_stay_relative_and_escaped() {
        assert_eq!(rel_href("job 1/build?.log"), "./job%201/build%3F.log");
    }

    /// The pinned output of small searches, both formats, byte for byte: a
    /// name match, coloured and escaped lines with marks, a NUL-sniffed binary
    /// member, a member outside the directory, a last line with no newline,
    /// the foot; then a search stopped by the match budget and its
    /// continuation. Written before the search was split into a searcher and
    /// printers, to prove the split changed no byte.
    mod pinned {
        use std::io::Write as _;

        use crate::archive::Archive;
        use crate::http;
        use crate::http::body::{self, Sink};
        use crate::http::request::Format;
        use crate::logs::{terminal, view};
        use crate::pages::html;

        /// Collects a body's bytes; the stream runs inline.
        struct Collect(Vec<u8>);

        impl Sink for Collect {
            const MAY_BLOCK: bool = true;
            fn bytes(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
            fn mapped(&mut self, _: &std::sync::Arc<Archive>, _: u64, _: u64) {}
            fn flush(&mut self) -> impl std::future::Future<Output = std::io::Result<()>> {
                std::future::ready(Ok(()))
            }
        }

        fn archive(members: &[(&str, &[u8])]) -> (tempfile::TempDir, std::sync::Arc<Archive>) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("a.wwz");
            let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            for (name, data) in members {
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap();
            let archive = std::sync::Arc::new(Archive::open(&path).unwrap());
            (dir, archive)
        }

        /// The status, content type and body of a search of `dir` for `query`.
        fn search(
            archive: &std::sync::Arc<Archive>,
            dir: &str,
            query: &str,
        ) -> (u16, String, String) {
            let q = http::Query::parse(query.as_bytes());
            let format = if q.json { Format::Json } else { Format::Html };
            let r = super::page(archive, "a.wwz", dir, &q, format, "no-cache", false);
            let mut sink = Collect(Vec::new());
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(body::send(&r.body, &mut sink))
                .unwrap();
            let content_type = r.content_type.as_deref().unwrap_or_default().to_string();
            (
                r.status.code(),
                content_type,
                String::from_utf8(sink.0).unwrap(),
            )
        }

        /// The page with its stylesheet checked and cut out.
        fn without_style(page: &str) -> String {
            let (head, rest) = page.split_once("<style>").unwrap();
            let (style, tail) = rest.split_once("</style>").unwrap();
            let search = "section{margin:.5em 0 1em}h2{font:600 1em system-ui,sans-serif;margin:.25em 1em}h2 small{font-weight:normal}";
            assert_eq!(
                style,
                [view::STYLE, terminal::STYLE, search, html::FORM_STYLE].concat()
            );
            format!("{head}<style>…</style>{tail}")
        }

        fn members() -> Vec<(&'static str, &'static [u8])> {
            vec![
                (
                    "ci/job 1/build.log",
                    b"\x1b[1m\x1b[32m   Compiling\x1b[0m wwz\n\x1b[31mError\x1b[0m: <b> & \"error\" again\nok\n##[error]ERROR here\n",
                ),
                ("ci/error-names.txt", b"nothing to see\n"),
                ("ci/data.dat", b"error\x00error\n"),
                ("ci/tail.log", b"first\nlast error"),
                ("other/error.log", b"error\n"),
            ]
        }

        #[test]
        fn html_result() {
            let (_dir, a) = archive(&members());
            let (status, ct, page) = search(&a, "ci/", "q=error");
            assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
            assert_eq!(
                without_style(&page),
                "<!doctype html>\n\
                <html lang=\"en\">\n\
                <head>\n\
                <meta charset=\"utf-8\">\n\
                <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
                <meta name=\"color-scheme\" content=\"light dark\">\n\
                <title>Search error in a.wwz</title>\n\
                <style>…</style>\n\
                </head>\n\
                <body>\n\
                <header><h1>Search in <a href=\"./\">a.wwz</a></h1>\n\
                <form class=\"search\" method=\"get\" action=\"./\" role=\"search\"><input type=\"search\" name=\"q\" value=\"error\" placeholder=\"Search names and contents\" aria-label=\"Search\"><label><input type=\"checkbox\" name=\"case\" value=\"1\"> case</label><label><input type=\"checkbox\" name=\"re\" value=\"1\"> regex</label><button>Search</button></form></header>\n\
                <main>\n\
                <section><h2><a href=\"./error-names.txt?view\">error-names.txt</a> <small><a href=\"./error-names.txt\">raw</a> · name matches</small></h2>\n\
                </section>\n\
                <section><h2><a href=\"./job%201/build.log?view\">job 1/build.log</a> <small><a href=\"./job%201/build.log\">raw</a></small></h2>\n\
                <div class=\"l\"><a href=\"./job%201/build.log?view#L2\" data-n=\"2\"></a><span><span class=\"f1\"><mark>Error</mark></span>: &lt;b&gt; &amp; &quot;<mark>error</mark>&quot; again</span></div>\n\
                <div class=\"l er\"><a href=\"./job%201/build.log?view#L4\" data-n=\"4\"></a><span><mark>ERROR</mark> here</span></div>\n\
                </section>\n\
                <section><h2><a href=\"./tail.log?view\">tail.log</a> <small><a href=\"./tail.log\">raw</a></small></h2>\n\
                <div class=\"l\"><a href=\"./tail.log?view#L2\" data-n=\"2\"></a><span>last <mark>error</mark></span></div>\n\
                </section>\n\
                </main>\n\
                <footer>4 matching lines and names in 4 members; 120 bytes read. Search complete.</footer>\n\
                </body>\n\
                </html>\n"
            );
        }

        #[test]
        fn json_result() {
            let (_dir, a) = archive(&members());
            let (status, ct, page) = search(&a, "ci/", "q=E%5BR%5D%2BOR&re=1&case=1&format=json");
            assert_eq!(
                (status, ct.as_str()),
                (200, "application/json; charset=utf-8")
            );
            assert_eq!(
                page,
                "{\"query\":\"E[R]+OR\",\"results\":[{\"member\":\"job 1/build.log\",\"kind\":\"line\",\"line\":4,\"text\":\"##[error]ERROR here\"}],\"matches\":1,\"members\":4,\"bytes_read\":120,\"stopped\":null}\n"
            );
            let (_, _, page) = search(&a, "ci/", "q=error&format=json");
            assert_eq!(
                page,
                "{\"query\":\"error\",\"results\":[{\"member\":\"error-names.txt\",\"kind\":\"name\"},{\"member\":\"job 1/build.log\",\"kind\":\"line\",\"line\":2,\"text\":\"Error: <b> & \\\"error\\\" again\"},{\"member\":\"job 1/build.log\",\"kind\":\"line\",\"line\":4,\"text\":\"##[error]ERROR here\"},{\"member\":\"tail.log\",\"kind\":\"line\",\"line\":2,\"text\":\"last error\"}],\"matches\":4,\"members\":4,\"bytes_read\":120,\"stopped\":null}\n"
            );
        }

        /// An empty text matches every line; as it stands, the empty line
        /// after the last newline is listed twice.
        #[test]
        fn empty_text_and_bad_pattern() {
            let (_dir, a) = archive(&[("ci/a.log", b"x\n")]);
            let (_, _, page) = search(&a, "ci/", "format=json");
            assert_eq!(
                page,
                "{\"query\":\"\",\"results\":[{\"member\":\"a.log\",\"kind\":\"name\"},{\"member\":\"a.log\",\"kind\":\"line\",\"line\":1,\"text\":\"x\"},{\"member\":\"a.log\",\"kind\":\"line\",\"line\":2,\"text\":\"\"},{\"member\":\"a.log\",\"kind\":\"line\",\"line\":2,\"text\":\"\"}],\"matches\":4,\"members\":1,\"bytes_read\":2,\"stopped\":null}\n"
            );
            let (status, ct, page) = search(&a, "", "q=(&re=1");
            assert_eq!((status, ct.as_str()), (400, "text/plain; charset=utf-8"));
            assert_eq!(
                page,
                "bad pattern: regex parse error:\n    (\n    ^\n\
            error: unclosed group\n"
            );
        }

        #[test]
        fn stopped_by_matches_and_continued() {
            let mut log = Vec::new();
            for i in 1..=1003 {
                log.extend_from_slice(format!("line {i} error\n").as_bytes());
            }
            let (_dir, a) = archive(&[("ci/big.log", &log), ("ci/z.log", b"error z\n")]);
            let last = |page: &str, item: &str| page[page.rfind(item).unwrap()..].to_string();
            let (_, _, page) = search(&a, "ci/", "q=error");
            let html_foot = last(&page, "<div");
            let (_, _, page) = search(&a, "ci/", "q=error&format=json");
            let json_foot = last(&page, "{\"member\"");
            let (_, _, json_more) = search(&a, "ci/", "q=error&format=json&from=0&skip=1000");
            let (_, _, page) = search(&a, "ci/", "q=error&from=0&skip=1000");
            let html_more = without_style(&page);
            assert_eq!(
                html_foot,
                "<div class=\"l\"><a href=\"./big.log?view#L1000\" data-n=\"1000\"></a><span>line 1000 <mark>error</mark></span></div>\n\
                </section>\n\
                </main>\n\
                <footer>1000 matching lines and names in 2 members; 14941 bytes read. <strong class=\"stop\">Stopped at the matches budget</strong> at member 0 — <a class=\"cont\" href=\"?q=error&amp;from=0&amp;skip=1000\">continue</a></footer>\n\
                </body>\n\
                </html>\n"
            );
            assert_eq!(
                json_foot,
                "{\"member\":\"big.log\",\"kind\":\"line\",\"line\":1000,\"text\":\"line 1000 error\"}],\"matches\":1000,\"members\":2,\"bytes_read\":14941,\"stopped\":\"matches\",\"continue\":\"?q=error&format=json&from=0&skip=1000\"}\n"
            );
            assert_eq!(
                json_more,
                "{\"query\":\"error\",\"results\":[{\"member\":\"big.log\",\"kind\":\"line\",\"line\":1001,\"text\":\"line 1001 error\"},{\"member\":\"big.log\",\"kind\":\"line\",\"line\":1002,\"text\":\"line 1002 error\"},{\"member\":\"big.log\",\"kind\":\"line\",\"line\":1003,\"text\":\"line 1003 error\"},{\"member\":\"z.log\",\"kind\":\"line\",\"line\":1,\"text\":\"error z\"}],\"matches\":4,\"members\":2,\"bytes_read\":14949,\"stopped\":null}\n"
            );
            assert_eq!(
                html_more,
                "<!doctype html>\n\
                <html lang=\"en\">\n\
                <head>\n\
                <meta charset=\"utf-8\">\n\
                <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
                <meta name=\"color-scheme\" content=\"light dark\">\n\
                <title>Search error in a.wwz</title>\n\
                <style>…</style>\n\
                </head>\n\
                <body>\n\
                <header><h1>Search in <a href=\"./\">a.wwz</a></h1>\n\
                <form class=\"search\" method=\"get\" action=\"./\" role=\"search\"><input type=\"search\" name=\"q\" value=\"error\" placeholder=\"Search names and contents\" aria-label=\"Search\"><label><input type=\"checkbox\" name=\"case\" value=\"1\"> case</label><label><input type=\"checkbox\" name=\"re\" value=\"1\"> regex</label><button>Search</button></form></header>\n\
                <main>\n\
                <section><h2><a href=\"./big.log?view\">big.log</a> <small><a href=\"./big.log\">raw</a></small></h2>\n\
                <div class=\"l\"><a href=\"./big.log?view#L1001\" data-n=\"1001\"></a><span>line 1001 <mark>error</mark></span></div>\n\
                <div class=\"l\"><a href=\"./big.log?view#L1002\" data-n=\"1002\"></a><span>line 1002 <mark>error</mark></span></div>\n\
                <div class=\"l\"><a href=\"./big.log?view#L1003\" data-n=\"1003\"></a><span>line 1003 <mark>error</mark></span></div>\n\
                </section>\n\
                <section><h2><a href=\"./z.log?view\">z.log</a> <small><a href=\"./z.log\">raw</a></small></h2>\n\
                <div class=\"l\"><a href=\"./z.log?view#L1\" data-n=\"1\"></a><span><mark>error</mark> z</span></div>\n\
                </section>\n\
                </main>\n\
                <footer>4 matching lines and names in 2 members; 14949 bytes read. Search complete.</footer>\n\
                </body>\n\
                </html>\n"
            );
        }
    }
}

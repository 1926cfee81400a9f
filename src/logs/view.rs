//! `MEMBER?view`: a text member as a numbered, coloured log page.
//!
//! Lines are numbered with anchors (`#L123`; `#L120-L140` highlights a
//! range), terminal escapes rendered by [`crate::logs::terminal`], a CI
//! system's markers read by [`crate::logs::format`]: runner timestamps go
//! to a gutter (absolute, or relative to the log's first line by a toggle
//! that needs no script), groups become `<details>` (nested, open or closed
//! as the format says, open when they hold an error, with their duration),
//! errors are counted in the header and each links the next. A big log shows
//! its last [`TAIL_LINES`] lines (or [`TAIL_BYTES`]) by default, with links
//! to earlier parts (`?view&from=N`) and to the whole log (`?view&all`);
//! `?view&level=error` (or `warning`) lists only those lines of the whole
//! log, under their group headings, within a time budget.
//!
//! The page is a [`Body::Stream`]: made step by step on the blocking pool
//! from bytes read with `pread` or inflated by streaming (from the nearest
//! checkpoint), in bounded memory whatever the log's size. A group's header
//! is written before its lines, so what it needs (open or not, duration) is
//! learnt first: the lines a default view shows (at most [`TAIL_BYTES`]) are
//! read into memory and outlined, then written; a whole-log view outlines
//! from a second reader, within [`OUTLINE_BYTES`] and [`OUTLINE_TIME`]
//! (groups past that show open, without a duration). The header's counts
//! are of the lines shown; the whole log's errors are `?view&level=error`.
//!
//! ```text
//! Sniff (first 64 KiB: the system, the first time) ─▶ Count (up to the first line shown;
//! the shown lines into memory) ─▶ Outline ─▶ Head ─▶ Lines ─▶ Foot
//! Sniff ─▶ Head ─▶ Filter (?view&level=) ─▶ Foot
//! ```

use std::fmt::Write;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::archive::reader::MemberReader;
use crate::archive::Archive;
use crate::http::body::{Body, Produce, Stream};
use crate::http::query::ViewLevel;
use crate::http::response::Response;
use crate::http::Query;
use crate::http::Status;
use crate::logs::format::{self, stamp, Formatter, Groups, Level, Line, Outline, Stamp};
use crate::logs::terminal;
use crate::pages::html;
use crate::util::percent;
use crate::zip::Entry;

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;

/// Lines a view shows by default, from the end or from `from=`.
pub const TAIL_LINES: u64 = 2000;
/// Input bytes a default view shows at most.
pub const TAIL_BYTES: u64 = 1 << 20;
/// What the outline of a whole-log view reads at most before the page starts.
pub const OUTLINE_BYTES: u64 = 64 << 20;
pub const OUTLINE_TIME: Duration = Duration::from_secs(2);
/// Lines `?view&level=` lists at most, and how long it reads for them.
pub const FILTER_LINES: u64 = 2000;
pub const FILTER_TIME: Duration = Duration::from_secs(10);
/// Bytes read per step.
const READ: usize = 256 * 1024;
/// HTML made per step before handing it to the front.
const STEP_HTML: usize = 256 * 1024;
/// Characters of a group's title kept for the headings of `?view&level=`.
const MAX_TITLE: usize = 200;

/// Which lines a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinesShown {
    /// The last lines (the default).
    Tail,
    /// [`TAIL_LINES`] lines from line N (1-based).
    From(u64),
    /// All of it.
    All,
}

impl LinesShown {
    /// From the query: `view`, `view&from=N`, `view&all`.
    pub fn of(query: &Query) -> LinesShown {
        match (query.all, query.from) {
            (true, _) => LinesShown::All,
            (false, Some(n)) => LinesShown::From(n.max(1)),
            (false, None) => LinesShown::Tail,
        }
    }
}

/// The log view of member `name`.
pub fn page(
    archive: &Arc<Archive>,
    name: &str,
    entry: &Entry,
    query: &Query,
    cache_control: &'static str,
    head: bool,
) -> Response {
    let part = LinesShown::of(query);
    let level = query.level.map(|l| match l {
        ViewLevel::Error => Level::Error,
        ViewLevel::Warning => Level::Warning,
    });
    let size = entry.size();
    let target = match (level, part) {
        (None, LinesShown::Tail) => size.saturating_sub(TAIL_BYTES),
        _ => 0,
    };
    let opened = MemberReader::open(archive, entry, target)
        .and_then(|main| Ok((main, MemberReader::open(archive, entry, 0)?.0)));
    let ((reader, pos, lines), start_reader) = match opened {
        Ok(r) => r,
        Err(_) => return Response::error(Status::NotImplemented),
    };
    let base = name.rsplit('/').next().unwrap_or(name).to_string();
    let view = LogView {
        reader,
        start_reader: Some(start_reader),
        name: name.to_string(),
        base,
        size,
        part,
        level,
        relative: query.relative_time,
        pos,
        newlines: lines,
        last_byte: if pos == 0 { b'\n' } else { 0 },
        phase: ViewPhase::Sniff,
        pending: Vec::new(),
        shown: None,
        start_bytes: Vec::new(),
        start_read: 0,
        start_line: 1,
        outline_started: None,
        outline_fmt: Formatter::default(),
        fmt: Formatter::default(),
        groups: Groups::new(),
        outline: Outline::new(),
        t0: None,
        open_html: 0,
        filter: Filter::default(),
        first: 0,
        line: 0,
        lines_left: u64::MAX,
        bytes_left: u64::MAX,
        reached_end: false,
        buf: vec![0; READ],
    };
    Response {
        content_type: Some(std::borrow::Cow::Borrowed("text/html; charset=utf-8")),
        cache_control: Some(cache_control),
        body: if head {
            Body::Empty
        } else {
            Body::Stream(Stream::new(view))
        },
        ..Response::new(Status::Ok)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ViewPhase {
    Sniff,
    Count,
    Outline,
    Head,
    Lines,
    Filter,
    Foot,
    Done,
}

/// Where `?view&level=` stands.
#[derive(Default)]
struct Filter {
    /// The titles of the groups open, and whether their heading was written.
    titles: Vec<(String, bool)>,
    listed: u64,
    errors: u64,
    warnings: u64,
    started: Option<Instant>,
    /// The last line read when a budget stopped the listing.
    stopped: Option<u64>,
}

struct LogView {
    reader: MemberReader,
    /// A reader from the log's start: the sniff, then a whole-log outline.
    start_reader: Option<MemberReader>,
    name: String,
    base: String,
    size: u64,
    part: LinesShown,
    /// `?view&level=`: only lines of this level or above.
    level: Option<Level>,
    /// `time=relative`: the gutter starts relative.
    relative: bool,
    /// Output offset of the next byte the reader gives.
    pos: u64,
    /// Newlines before `pos`.
    newlines: u64,
    /// The byte before `pos` (a newline at the start).
    last_byte: u8,
    phase: ViewPhase,
    /// Bytes read but not yet rendered (a whole-log view, a filter).
    pending: Vec<u8>,
    /// The lines shown, read whole (a tail or `from=` view), and where the next starts.
    shown: Option<(Vec<u8>, usize)>,
    /// The start reader's bytes not yet outlined, the bytes it read, and
    /// the number of the next line it gives.
    start_bytes: Vec<u8>,
    start_read: u64,
    start_line: u64,
    outline_started: Option<Instant>,
    /// The formatter of the whole-log outline (it carries state as the page's does).
    outline_fmt: Formatter,
    fmt: Formatter,
    groups: Groups,
    outline: Outline,
    /// The first time the log gives (relative times count from it).
    t0: Option<Stamp>,
    /// `<details>` open in the page.
    open_html: usize,
    filter: Filter,
    /// Number of the first line shown, and of the next line to render.
    first: u64,
    line: u64,
    lines_left: u64,
    bytes_left: u64,
    reached_end: bool,
    buf: Vec<u8>,
}

impl Produce for LogView {
    fn step(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        match self.phase {
            ViewPhase::Sniff => {
                self.sniff()?;
                self.phase = if self.level.is_some() {
                    ViewPhase::Head
                } else {
                    ViewPhase::Count
                };
            }
            ViewPhase::Count => self.count()?,
            ViewPhase::Outline => self.outline_step()?,
            ViewPhase::Head => {
                self.head(out);
                self.phase = if self.level.is_some() {
                    ViewPhase::Filter
                } else {
                    ViewPhase::Lines
                };
            }
            ViewPhase::Lines => self.lines(out)?,
            ViewPhase::Filter => self.filter(out)?,
            ViewPhase::Foot => {
                self.foot(out);
                self.phase = ViewPhase::Done;
            }
            ViewPhase::Done => {}
        }
        Ok(self.phase != ViewPhase::Done)
    }
}

impl LogView {
    /// Reads the log's first bytes: which system wrote it, its first time.
    fn sniff(&mut self) -> io::Result<()> {
        let Some(reader) = self.start_reader.as_mut() else {
            return Ok(());
        };
        let mut head = Vec::with_capacity(format::SNIFF_BYTES);
        while head.len() < format::SNIFF_BYTES {
            let want = (format::SNIFF_BYTES - head.len()).min(READ);
            let got = reader.read(self.buf.get_mut(..want).unwrap_or_default())?;
            if got == 0 {
                break;
            }
            head.extend_from_slice(self.buf.get(..got).unwrap_or_default());
        }
        let system = format::detect(&head);
        let mut f = Formatter::new(system);
        for line in head.split(|&b| b == b'\n').take(TAIL_LINES as usize) {
            if let Some(t) = f.line(line).time {
                self.t0 = Some(t);
                break;
            }
        }
        self.fmt = Formatter::new(system);
        self.outline_fmt = Formatter::new(system);
        if self.part == LinesShown::All && self.level.is_none() {
            // A whole-log outline goes on from here.
            self.start_read = head.len() as u64;
            self.start_bytes = head;
        } else {
            self.start_reader = None;
        }
        Ok(())
    }

    /// Reads up to the first line shown, counting newlines, a bounded slice
    /// per step; then the lines shown, into memory.
    fn count(&mut self) -> io::Result<()> {
        match self.part {
            LinesShown::All => {
                self.start_lines(u64::MAX, u64::MAX);
                self.phase = ViewPhase::Outline;
                return Ok(());
            }
            LinesShown::From(n) => {
                if self.newlines + 1 >= n {
                    self.read_shown()?;
                    return Ok(());
                }
                let got = self.read_chunk(u64::MAX)?;
                let Some(chunk) = self.buf.get(..got) else {
                    return Ok(());
                };
                if got == 0 {
                    self.read_shown()?;
                    return Ok(());
                }
                let want = n - 1 - self.newlines;
                match memchr::memchr_iter(b'\n', chunk).nth((want - 1) as usize) {
                    Some(at) => {
                        self.newlines = n - 1;
                        self.pending = chunk.get(at + 1..).unwrap_or_default().to_vec();
                        self.read_shown()?;
                    }
                    None => self.newlines += memchr::memchr_iter(b'\n', chunk).count() as u64,
                }
            }
            LinesShown::Tail => {
                let start = self.size.saturating_sub(TAIL_BYTES);
                if self.pos < start {
                    let got = self.read_chunk(start - self.pos)?;
                    let chunk = self.buf.get(..got).unwrap_or_default();
                    self.newlines += memchr::memchr_iter(b'\n', chunk).count() as u64;
                    if got == 0 {
                        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                    }
                    return Ok(());
                }
                // The rest is at most TAIL_BYTES: read it whole, then pick the
                // lines. Whether the tail starts a line is known only now:
                // reading it moves `last_byte`.
                let starts_line = self.last_byte == b'\n';
                let mut tail = Vec::new();
                loop {
                    let got = self.read_chunk(u64::MAX)?;
                    if got == 0 {
                        break;
                    }
                    tail.extend_from_slice(self.buf.get(..got).unwrap_or_default());
                }
                let mut from = 0;
                if !starts_line {
                    // A line cut by the start of the tail: begin with the next whole one.
                    match memchr::memchr(b'\n', &tail) {
                        Some(at) => {
                            from = at + 1;
                            self.newlines += 1;
                        }
                        None => from = tail.len(),
                    }
                }
                let rest = tail.get(from..).unwrap_or_default();
                let mut count = memchr::memchr_iter(b'\n', rest).count() as u64;
                if rest.last().is_some_and(|&b| b != b'\n') {
                    count += 1;
                }
                if count > TAIL_LINES {
                    let drop = count - TAIL_LINES;
                    if let Some(at) = memchr::memchr_iter(b'\n', rest).nth((drop - 1) as usize) {
                        from += at + 1;
                        self.newlines += drop;
                    }
                }
                tail.drain(..from);
                self.reached_end = true;
                self.start_lines(u64::MAX, u64::MAX);
                self.shown = Some((tail, 0));
                self.phase = ViewPhase::Outline;
            }
        }
        Ok(())
    }

    /// A `from=` view: its [`TAIL_LINES`] lines (or [`TAIL_BYTES`]) into
    /// memory, each line kept to what the renderer reads of it.
    fn read_shown(&mut self) -> io::Result<()> {
        let mut shown = Vec::new();
        let mut data = std::mem::take(&mut self.pending);
        let (mut lines, mut bytes, mut line_len) = (0u64, 0u64, 0usize);
        let mut at = 0;
        'read: loop {
            while let Some(&b) = data.get(at) {
                at += 1;
                bytes += 1;
                if b == b'\n' {
                    shown.push(b'\n');
                    lines += 1;
                    line_len = 0;
                    if lines >= TAIL_LINES || bytes >= TAIL_BYTES {
                        break 'read;
                    }
                } else {
                    line_len += 1;
                    if line_len <= terminal::MAX_LINE + 1 {
                        shown.push(b);
                    }
                }
            }
            data.clear();
            at = 0;
            let got = self.read_chunk(u64::MAX)?;
            if got == 0 {
                self.reached_end = true;
                break;
            }
            data.extend_from_slice(self.buf.get(..got).unwrap_or_default());
        }
        // What was read past the last line shown says there is more.
        self.pending = data.get(at..).unwrap_or_default().to_vec();
        self.start_lines(u64::MAX, u64::MAX);
        self.shown = Some((shown, 0));
        self.phase = ViewPhase::Outline;
        Ok(())
    }

    fn start_lines(&mut self, lines: u64, bytes: u64) {
        self.first = self.newlines + 1;
        self.line = self.first;
        self.lines_left = lines;
        self.bytes_left = bytes;
    }

    /// Reads at most `limit` bytes into `self.buf`, keeping `pos` and `last_byte`.
    fn read_chunk(&mut self, limit: u64) -> io::Result<usize> {
        let n = usize::try_from(limit).unwrap_or(READ).min(READ);
        let got = self
            .reader
            .read(self.buf.get_mut(..n).unwrap_or_default())?;
        self.pos += got as u64;
        if let Some(&b) = got.checked_sub(1).and_then(|i| self.buf.get(i)) {
            self.last_byte = b;
        }
        Ok(got)
    }

    /// The outline of the lines shown: at once for lines in memory, a
    /// chunk a step from the start reader for a whole log, within budgets.
    fn outline_step(&mut self) -> io::Result<()> {
        let system = self.fmt.system();
        if let Some((shown, _)) = &self.shown {
            let mut f = Formatter::new(system);
            f.at_line_start();
            for (i, raw) in lines_of(shown).enumerate() {
                let line = f.line(raw);
                self.outline.feed(self.first + i as u64, &line);
            }
            self.outline.finish();
            self.phase = ViewPhase::Head;
            return Ok(());
        }
        let started = *self.outline_started.get_or_insert_with(Instant::now);
        let Some(reader) = self.start_reader.as_mut() else {
            self.outline.stop();
            self.phase = ViewPhase::Head;
            return Ok(());
        };
        if self.start_read >= OUTLINE_BYTES || started.elapsed() >= OUTLINE_TIME {
            self.outline.stop();
            self.start_reader = None;
            self.phase = ViewPhase::Head;
            return Ok(());
        }
        let got = reader.read(&mut self.buf)?;
        self.start_read += got as u64;
        self.start_bytes
            .extend_from_slice(self.buf.get(..got).unwrap_or_default());
        let upto = if got == 0 {
            self.start_bytes.len()
        } else {
            memchr::memrchr(b'\n', &self.start_bytes).map_or(0, |i| i + 1)
        };
        for raw in lines_of(self.start_bytes.get(..upto).unwrap_or_default()) {
            let raw = raw.get(..terminal::MAX_LINE + 1).unwrap_or(raw);
            let line = self.outline_fmt.line(raw);
            self.outline.feed(self.start_line, &line);
            self.start_line += 1;
        }
        self.start_bytes.drain(..upto);
        if self.start_bytes.len() > terminal::MAX_LINE + READ {
            // A huge line: what the renderer reads of it is enough.
            self.start_bytes.truncate(terminal::MAX_LINE + 1);
        }
        if got == 0 {
            self.outline.finish();
            self.start_reader = None;
            self.phase = ViewPhase::Head;
        }
        Ok(())
    }

    fn head(&mut self, out: &mut Vec<u8>) {
        let mut h = String::with_capacity(4096);
        let name = html::escape(&self.name);
        let raw = percent::segment(&self.base, percent::Context::HtmlAttribute);
        let title = match self.level {
            Some(Level::Error) => format!("Errors in {name}"),
            Some(_) => format!("Errors and warnings in {name}"),
            None => name.clone(),
        };
        html::open_page(&mut h, &title, &[STYLE, terminal::STYLE]);
        self.t0 = self.t0.or(self.outline.first_time);
        let timed = self.t0.is_some() || !self.outline.timers.is_empty();
        let _ = write!(
            h,
            "<input type=\"checkbox\" id=\"trel\" hidden{}>\n<header><h1>{title}</h1>\
             <nav><a href=\"{raw}\">raw</a> · <a href=\"{raw}?view\">tail</a> · <a href=\"{raw}?view&amp;all\">whole log</a> · \
             <a href=\"{raw}?view&amp;level=error\">errors</a> · <a href=\"{raw}?view&amp;level=warning\">errors and warnings</a> · {size} bytes · {system}</nav>",
            if self.relative { " checked" } else { "" },
            size = self.size,
            system = self.fmt.system().name(),
        );
        if self.level.is_none() {
            h.push_str("<p class=\"sum\">");
            let o = &self.outline;
            let errors = plural(o.errors, "error", "errors");
            match o.error_lines.first() {
                Some(first) => {
                    let _ = write!(h, "<a class=\"ec\" href=\"#L{first}\">{errors}</a>");
                }
                None => h.push_str(&errors),
            }
            let warnings = plural(o.warnings, "warning", "warnings");
            match o.first_warning {
                Some(first) => {
                    let _ = write!(h, " · <a class=\"wc\" href=\"#L{first}\">{warnings}</a>");
                }
                None => {
                    let _ = write!(h, " · {warnings}");
                }
            }
            if o.lines > 0 {
                let last = self.first + o.lines - 1;
                let _ = write!(h, " in lines {}–{last}", self.first);
                if !o.complete {
                    h.push_str(" (counted before the page began; later lines are not)");
                }
            }
            if timed {
                h.push_str(" · <label for=\"trel\" class=\"tt\">relative times</label>");
            }
            h.push_str("</p>");
        }
        h.push_str("</header>\n<main id=\"log\">\n");
        out.extend_from_slice(h.as_bytes());
        self.filter.started = Some(Instant::now());
    }

    /// The next line to render from memory or from the reader: its number
    /// is `self.line`; `None` at the end.
    fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        if let Some((shown, at)) = &mut self.shown {
            let rest = shown.get(*at..).unwrap_or_default();
            if rest.is_empty() {
                return Ok(None);
            }
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = rest.get(..end).unwrap_or_default().to_vec();
            *at += (end + 1).min(rest.len());
            return Ok(Some(line));
        }
        if self.lines_left == 0 || self.bytes_left == 0 {
            return Ok(None);
        }
        loop {
            match memchr::memchr(b'\n', &self.pending) {
                Some(at) => {
                    let line = self.pending.get(..at).unwrap_or_default().to_vec();
                    self.pending.drain(..at + 1);
                    self.lines_left -= 1;
                    self.bytes_left = self.bytes_left.saturating_sub(at as u64 + 1);
                    return Ok(Some(line));
                }
                None if self.pending.len() > terminal::MAX_LINE + READ => {
                    // A huge line: render its head, drop the rest as it comes.
                    let line = std::mem::take(&mut self.pending);
                    self.lines_left -= 1;
                    return Ok(Some(line));
                }
                None => {
                    let got = self.read_chunk(u64::MAX)?;
                    if got > 0 {
                        let chunk = self.buf.get(..got).unwrap_or_default();
                        self.pending.extend_from_slice(chunk);
                        continue;
                    }
                    self.reached_end = true;
                    if self.pending.is_empty() {
                        return Ok(None);
                    }
                    let line = std::mem::take(&mut self.pending);
                    return Ok(Some(line));
                }
            }
        }
    }

    /// Renders whole lines, a bounded amount of HTML per step.
    fn lines(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut html = String::with_capacity(STEP_HTML + 4096);
        let raw_href = percent::segment(&self.base, percent::Context::HtmlAttribute);
        while html.len() < STEP_HTML {
            let Some(text) = self.next_line()? else {
                self.phase = ViewPhase::Foot;
                break;
            };
            let n = self.line;
            let line = self.fmt.line(&text);
            let step = self.groups.step(&line);
            for _ in &step.close_before {
                self.close_group(&mut html);
            }
            let timed = self.t0.is_some() || !self.outline.timers.is_empty();
            let gutter = Gutter {
                on: timed,
                t0: self.t0,
                timer: self.outline.timer(n),
            };
            let next = (line.level == Level::Error).then(|| match self.outline.next_error(n) {
                Some(next) => format!("#L{next}"),
                None => format!("{raw_href}?view&amp;level=error"),
            });
            match step.opens.split_last() {
                Some((last, outer)) => {
                    for o in outer {
                        let title = o.name.clone().unwrap_or_default();
                        self.open_group(o.id, &title, timed, &mut html);
                    }
                    self.open_group_line(last.id, n, &line, &gutter, &mut html);
                }
                None => {
                    let mut l = LineHtml::new(n, &line, &gutter);
                    l.next = next.as_deref();
                    l.depth = self.open_html;
                    l.write(&mut self.fmt, &mut html);
                }
            }
            for _ in &step.close_after {
                self.close_group(&mut html);
            }
            self.line += 1;
        }
        out.extend_from_slice(html.as_bytes());
        Ok(())
    }

    /// `<details>` for group `id` opened on a line that opens another
    /// inside it: its `<summary>` is its name.
    fn open_group(&mut self, id: usize, title: &str, timed: bool, html: &mut String) {
        let info = self.outline.group(id).copied();
        let open = info.is_none_or(|g| g.open());
        let _ = write!(
            html,
            "<details class=\"g\"{}><summary class=\"l gr\"><a></a>{}",
            if open { " open" } else { "" },
            if timed {
                "<span class=\"tg\"></span>"
            } else {
                ""
            }
        );
        indent(self.open_html, html);
        html.push_str("<i class=\"tw\"></i><span class=\"x\">");
        html::escape_into(title, html);
        html.push_str("</span>");
        if let Some(ms) = info.and_then(|g| g.duration()) {
            let _ = write!(html, "<span class=\"du\">{}</span>", stamp::duration(ms));
        }
        html.push_str("</summary>\n");
        self.open_html += 1;
    }

    /// `<details>` for group `id`, line `n` its header.
    fn open_group_line(
        &mut self,
        id: usize,
        n: u64,
        line: &Line,
        gutter: &Gutter,
        html: &mut String,
    ) {
        let info = self.outline.group(id).copied();
        let open = info.is_none_or(|g| g.open());
        let _ = write!(
            html,
            "<details class=\"g\"{}>",
            if open { " open" } else { "" }
        );
        self.open_html += 1;
        let mut l = LineHtml::new(n, line, gutter);
        l.tag = "summary";
        l.extra = " gr";
        l.depth = self.open_html - 1;
        l.duration = info.and_then(|g| g.duration());
        if self.fmt.text().trim().is_empty() {
            l.fallback = line.events.iter().find_map(|e| match e {
                format::Event::Open { name, .. } => name.clone(),
                _ => None,
            });
        }
        l.write(&mut self.fmt, html);
    }

    fn close_group(&mut self, html: &mut String) {
        if self.open_html > 0 {
            html.push_str("</details>\n");
            self.open_html -= 1;
        }
    }

    /// `?view&level=`: the lines of that level or above, under the headings
    /// of the groups they are in, a bounded amount per step.
    fn filter(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut html = String::with_capacity(STEP_HTML + 4096);
        let want = self.level.unwrap_or(Level::Error);
        let from = self.part_from();
        let raw = percent::segment(&self.base, percent::Context::HtmlAttribute);
        let started = self.filter.started.unwrap_or_else(Instant::now);
        if self.line == 0 {
            self.start_lines(u64::MAX, u64::MAX);
        }
        while html.len() < STEP_HTML {
            if self.filter.listed >= FILTER_LINES || started.elapsed() >= FILTER_TIME {
                self.filter.stopped = Some(self.line.saturating_sub(1));
                self.phase = ViewPhase::Foot;
                break;
            }
            let Some(text) = self.next_line()? else {
                self.phase = ViewPhase::Foot;
                break;
            };
            let n = self.line;
            self.line += 1;
            if n < from {
                continue;
            }
            let line = self.fmt.line(&text);
            let step = self.groups.step(&line);
            for _ in &step.close_before {
                self.filter.titles.pop();
            }
            let header = !step.opens.is_empty();
            let outer = step.opens.len().saturating_sub(1);
            for (i, o) in step.opens.iter().enumerate() {
                let title = if i < outer {
                    o.name.clone().unwrap_or_default()
                } else {
                    let t = self.fmt.text().trim();
                    if t.is_empty() {
                        o.name.clone().unwrap_or_default()
                    } else {
                        t.chars().take(MAX_TITLE).collect()
                    }
                };
                self.filter.titles.push((title, false));
            }
            match line.level {
                Level::Error => self.filter.errors += 1,
                Level::Warning => self.filter.warnings += 1,
                _ => {}
            }
            if line.level >= want {
                // The headings of its groups not yet written (its own, if it is one, is the line).
                let own = usize::from(header);
                let upto = self.filter.titles.len().saturating_sub(own);
                for (depth, (title, written)) in
                    self.filter.titles.iter_mut().enumerate().take(upto)
                {
                    if !*written {
                        *written = true;
                        html.push_str("<div class=\"l gr fh\"><a></a>");
                        if self.t0.is_some() {
                            html.push_str("<span class=\"tg\"></span>");
                        }
                        indent(depth, &mut html);
                        html.push_str("<span class=\"x\">");
                        html::escape_into(title, &mut html);
                        html.push_str("</span></div>\n");
                    }
                }
                if let Some(last) = self.filter.titles.last_mut() {
                    if header {
                        last.1 = true;
                    }
                }
                let gutter = Gutter {
                    on: self.t0.is_some(),
                    t0: self.t0,
                    timer: None,
                };
                let href = format!("{raw}?view&amp;from={}", n.saturating_sub(20).max(1));
                let mut l = LineHtml::new(n, &line, &gutter);
                l.link = &href;
                l.depth = upto;
                l.write(&mut self.fmt, &mut html);
                self.filter.listed += 1;
            }
            for _ in &step.close_after {
                self.filter.titles.pop();
            }
        }
        out.extend_from_slice(html.as_bytes());
        Ok(())
    }

    /// The first line `?view&level=&from=N` lists.
    fn part_from(&self) -> u64 {
        match self.part {
            LinesShown::From(n) => n,
            _ => 1,
        }
    }
}

/// What the gutter of a line shows.
struct Gutter {
    /// The log gives times: every line has a gutter, so they align.
    on: bool,
    t0: Option<Stamp>,
    /// A Travis timer started on the line ran this long.
    timer: Option<i64>,
}

/// One line as HTML.
struct LineHtml<'a> {
    n: u64,
    line: &'a Line,
    gutter: &'a Gutter,
    /// `div`, or `summary` for a group's header.
    tag: &'static str,
    extra: &'static str,
    /// What its number links to, before `#Ln`.
    link: &'a str,
    /// A header's group lasted this long.
    duration: Option<i64>,
    /// The next error, for an error line.
    next: Option<&'a str>,
    /// A header with no text shows its group's name.
    fallback: Option<String>,
    /// Groups around it (its text is indented so).
    depth: usize,
}

impl<'a> LineHtml<'a> {
    fn new(n: u64, line: &'a Line, gutter: &'a Gutter) -> LineHtml<'a> {
        LineHtml {
            n,
            line,
            gutter,
            tag: "div",
            extra: "",
            link: "",
            duration: None,
            next: None,
            fallback: None,
            depth: 0,
        }
    }

    fn write(&self, f: &mut Formatter, html: &mut String) {
        let line = self.line;
        let n = self.n;
        let mut class = String::from("l");
        class.push_str(self.extra);
        match line.level {
            Level::Error => class.push_str(" er"),
            Level::Warning => class.push_str(" wa"),
            Level::Notice => class.push_str(" no"),
            Level::Plain => {}
        }
        if let Some(c) = line.role.class() {
            class.push(' ');
            class.push_str(c);
        }
        if line.hidden && self.tag == "div" {
            class.push_str(" hd");
        }
        if line.continues {
            class.push_str(" ct");
        }
        let id = format!(" id=\"L{n}\"");
        let _ = write!(
            html,
            "<{tag} class=\"{class}\"{id}><a href=\"{link}#L{n}\" data-n=\"{n}\"></a>",
            tag = self.tag,
            link = self.link,
        );
        if self.gutter.on {
            html.push_str("<span class=\"tg\">");
            if let Some(t) = line.time {
                let rel = self.gutter.t0.map_or(0, |t0| t.since(t0));
                let _ = write!(
                    html,
                    "<time datetime=\"{}\"><span class=\"ta\">{}</span><span class=\"tr\">{}</span></time>",
                    t.machine(),
                    t.clock(),
                    stamp::relative(rel)
                );
            } else if let Some(ms) = self.gutter.timer {
                let _ = write!(html, "<span class=\"du\">{}</span>", stamp::duration(ms));
            }
            html.push_str("</span>");
        }
        indent(self.depth, html);
        if self.tag == "summary" {
            html.push_str("<i class=\"tw\"></i>");
        }
        html.push_str("<span class=\"x\">");
        if let Some(label) = &line.label {
            html.push_str("<span class=\"lb\">");
            html::escape_into(label, html);
            html.push_str("</span> ");
        }
        match &self.fallback {
            Some(name) => {
                html::escape_into(name, html);
                // The line's own text (empty) is consumed all the same.
                f.html(&mut String::new(), &[]);
            }
            None => f.html(html, &[]),
        }
        html.push_str("</span>");
        if let Some(ms) = self.duration {
            let _ = write!(html, "<span class=\"du\">{}</span>", stamp::duration(ms));
        }
        if let Some(next) = self.next {
            let _ = write!(
                html,
                "<a class=\"nx\" href=\"{next}\" title=\"next error\">next error ↓</a>"
            );
        }
        let _ = writeln!(html, "</{}>", self.tag);
    }
}

/// One matching line of a search, as the view shows it, numbered and linked
/// to `link#Ln`; `marks` are ranges of the formatter's text.
pub fn search_line(
    f: &mut Formatter,
    line: &Line,
    n: u64,
    marks: &[(usize, usize)],
    link: &str,
    html: &mut String,
) {
    let mut class = String::from("l");
    match line.level {
        Level::Error => class.push_str(" er"),
        Level::Warning => class.push_str(" wa"),
        Level::Notice => class.push_str(" no"),
        Level::Plain => {}
    }
    if let Some(c) = line.role.class() {
        class.push(' ');
        class.push_str(c);
    }
    let _ = write!(
        html,
        "<div class=\"{class}\"><a href=\"{link}#L{n}\" data-n=\"{n}\"></a>"
    );
    if let Some(t) = line.time {
        let _ = write!(
            html,
            "<span class=\"tg\"><time datetime=\"{}\"><span class=\"ta\">{}</span></time></span>",
            t.machine(),
            t.clock()
        );
    }
    html.push_str("<span class=\"x\">");
    if let Some(label) = &line.label {
        html.push_str("<span class=\"lb\">");
        html::escape_into(label, html);
        html.push_str("</span> ");
    }
    f.html(html, marks);
    html.push_str("</span></div>\n");
}

/// The fields a line adds to a JSON item: `level`, `time`, `location`.
pub fn json_line_fields(line: &Line, out: &mut String) {
    if line.level != Level::Plain {
        let _ = write!(out, ",\"level\":\"{}\"", line.level.name());
    }
    if let Some(t) = line.time {
        let _ = write!(out, ",\"time\":\"{}\"", t.machine());
    }
    if let Some(label) = &line.label {
        out.push_str(",\"location\":");
        crate::util::json::json_str(out, label);
    }
}

/// The indentation of text inside `depth` groups.
fn indent(depth: usize, html: &mut String) {
    if depth > 0 {
        let _ = write!(
            html,
            "<i class=\"in i{}\"></i>",
            depth.min(format::groups::MAX_DEPTH)
        );
    }
}

/// `n error` / `n errors`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The lines of `bytes` (a last line without its newline included).
fn lines_of(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

impl LogView {
    fn foot(&mut self, out: &mut Vec<u8>) {
        let mut f = String::new();
        while self.open_html > 0 {
            self.close_group(&mut f);
        }
        f.push_str("</main>\n<footer>");
        let raw = percent::segment(&self.base, percent::Context::HtmlAttribute);
        let last = self.line.saturating_sub(1);
        if let Some(level) = self.level {
            let what = if level == Level::Error {
                "error"
            } else {
                "warning"
            };
            let _ = write!(
                f,
                "{} listed; {} and {} in lines {}–{last}",
                self.filter.listed,
                plural(self.filter.errors, "error", "errors"),
                plural(self.filter.warnings, "warning", "warnings"),
                self.part_from(),
            );
            if let Some(at) = self.filter.stopped {
                let _ = write!(
                    f,
                    " · <strong class=\"stop\">stopped at line {at}</strong> — <a class=\"cont\" href=\"{raw}?view&amp;level={what}&amp;from={}\">continue</a>",
                    at + 1
                );
            }
        } else {
            if self.first > 1 {
                let earlier = self.first.saturating_sub(TAIL_LINES).max(1);
                let _ = write!(
                    f,
                    "<a href=\"{raw}?view&amp;from={earlier}\">earlier lines</a> · "
                );
            }
            let _ = write!(f, "lines {}–{last}", self.first);
            let at_end = self.reached_end
                || self.part == LinesShown::Tail
                || self.pending.is_empty() && self.pos >= self.size;
            if !at_end {
                let _ = write!(
                    f,
                    " · <a href=\"{raw}?view&amp;from={}\">later lines</a>",
                    last + 1
                );
            }
        }
        let _ = write!(
            f,
            " · <a href=\"{raw}\">raw</a></footer>\n<script>{SCRIPT}</script>\n"
        );
        f.push_str(html::CLOSE_PAGE);
        out.extend_from_slice(f.as_bytes());
    }
}

/// Opens the groups around `#L123` (a closed `<details>` hides its lines)
/// and highlights `#L120-L140` (a single `#L123` needs no script:
/// `:target`). Reading never needs it.
const SCRIPT: &str = "function op(e){for(let d=e&&e.closest('details');d;d=d.parentElement.closest('details'))d.open=true}\
function hl(){for(const e of document.querySelectorAll('.hl'))e.classList.remove('hl');\
const m=location.hash.match(/^#L(\\d+)(?:-L?(\\d+))?$/);if(!m)return;let a=+m[1],b=m[2]?+m[2]:a;if(a>b)[a,b]=[b,a];\
const f=document.getElementById('L'+a);op(f);if(!m[2]){if(f)f.scrollIntoView();return}\
for(let i=a;i<=b&&i<a+100000;i++){const e=document.getElementById('L'+i);if(e){op(e);e.classList.add('hl')}}\
if(f)f.scrollIntoView()}addEventListener('hashchange',hl);hl();";

pub(crate) const STYLE: &str = "\
body{margin:0;font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:Canvas;color:CanvasText}\
header,footer{font-family:system-ui,sans-serif;padding:.5em 1em;background:#8881;position:sticky;z-index:1}\
header{top:0}footer{bottom:0}h1{font-size:1.05em;margin:0;overflow-wrap:anywhere}nav,.sum{font-size:.9em;margin:0}\
main{padding:.25em 0}.l{display:flex;white-space:pre-wrap;overflow-wrap:anywhere;padding-right:1em}\
.l>a:first-child{flex:none;width:4.5em;padding-right:1em;text-align:right;color:#888;text-decoration:none;user-select:none}\
.l>a:first-child::before{content:attr(data-n)}.l>.x{flex:1;min-width:0}\
.l:target,.l.hl{background:#fff3a0}.gr{font-weight:bold}.er{background:#ffd8d3}.wa{background:#fff3c4}.no{background:#ddf4ff}\
.cm{color:#0550ae}.db{color:#8250df}.sc{font-weight:bold;border-top:1px solid #8884}.qu{opacity:.7}.qu.gr{font-weight:normal}.hd{display:none}\
.ct>a:first-child{visibility:hidden}.lb{font-weight:bold;text-decoration:underline dotted}\
.tg{flex:none;width:5.5em;color:#888;user-select:none}.tg time{color:inherit}.du{color:#888;font-weight:normal;margin-left:1em;white-space:nowrap}\
.tg .du{margin:0}#trel:checked~main .ta,#trel:not(:checked)~main .tr{display:none}\
.tt{cursor:pointer;text-decoration:underline dotted}#trel:checked~header .tt::after{content:\" ✓\"}\
.nx{flex:none;margin-left:1em;font:.8em system-ui,sans-serif;color:inherit;white-space:nowrap}\
summary{list-style:none;cursor:pointer}summary::-webkit-details-marker{display:none}\
.tw{flex:none;width:1.2em;font-style:normal}.tw::before{content:\"▸\"}details[open]>summary>.tw::before{content:\"▾\"}\
.in{flex:none}.i1{width:1.2em}.i2{width:2.4em}.i3{width:3.6em}.i4{width:4.8em}.i5{width:6em}.i6{width:7.2em}.i7{width:8.4em}.i8{width:9.6em}.fh{color:#888}\
mark{background:#ffd33d;color:#000}\
@media (prefers-color-scheme:dark){.l:target,.l.hl{background:#4d4000}.er{background:#5d1a1a}.wa{background:#3d2e00}.no{background:#0c2d6b}.cm{color:#79c0ff}.db{color:#d2a8ff}}\
@media (max-width:600px){body{font-size:12px}.l>a:first-child{width:3em;padding-right:.5em}.tg{width:4.5em}}";

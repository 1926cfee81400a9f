//! `MEMBER?view`: a text member as a numbered, coloured log page.
//!
//! Lines are numbered with anchors (`#L123`; `#L120-L140` highlights a
//! range), terminal escapes rendered by [`crate::logs::terminal`], everything escaped.
//! A big log shows its last [`TAIL_LINES`] lines (or [`TAIL_BYTES`]) by
//! default, with links to earlier parts (`?view&from=N`) and to the whole log
//! (`?view&all`). The page is a [`Body::Stream`]: made step by step on the
//! blocking pool from bytes read with `pread` or inflated by streaming (from
//! the nearest checkpoint), in bounded memory whatever the log's size.
//!
//! ```text
//! Head ─▶ Count (newlines up to the first line shown) ─▶ Lines ─▶ Foot
//! ```

use std::fmt::Write;
use std::io;
use std::sync::Arc;

use crate::archive::reader::MemberReader;
use crate::archive::Archive;
use crate::logs::terminal::{self, Renderer};
use crate::zip::Entry;

use crate::http::body::{Body, Produce, Stream};
use crate::http::response::Response;
use crate::http::Query;
use crate::http::Status;
use crate::pages::html;
use crate::util::percent;

/// Lines a view shows by default, from the end or from `from=`.
pub const TAIL_LINES: u64 = 2000;
/// Input bytes a default view shows at most.
pub const TAIL_BYTES: u64 = 1 << 20;
/// Bytes read per step.
const READ: usize = 256 * 1024;
/// HTML made per step before handing it to the front.
const STEP_HTML: usize = 256 * 1024;

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
    let size = entry.size();
    let target = match part {
        LinesShown::Tail => size.saturating_sub(TAIL_BYTES),
        LinesShown::From(_) | LinesShown::All => 0,
    };
    let (reader, pos, lines) = match MemberReader::open(archive, entry, target) {
        Ok(r) => r,
        Err(_) => return Response::error(Status::NotImplemented),
    };
    let base = name.rsplit('/').next().unwrap_or(name).to_string();
    let view = LogView {
        reader,
        name: name.to_string(),
        base,
        size,
        part,
        pos,
        newlines: lines,
        last_byte: if pos == 0 { b'\n' } else { 0 },
        phase: ViewPhase::Head,
        pending: Vec::new(),
        renderer: Renderer::new(),
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
    Head,
    Count,
    Lines,
    Foot,
    Done,
}

struct LogView {
    reader: MemberReader,
    name: String,
    base: String,
    size: u64,
    part: LinesShown,
    /// Output offset of the next byte the reader gives.
    pos: u64,
    /// Newlines before `pos`.
    newlines: u64,
    /// The byte before `pos` (a newline at the start).
    last_byte: u8,
    phase: ViewPhase,
    /// Bytes read but not yet rendered.
    pending: Vec<u8>,
    renderer: Renderer,
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
            ViewPhase::Head => {
                self.head(out);
                self.phase = ViewPhase::Count;
            }
            ViewPhase::Count => self.count()?,
            ViewPhase::Lines => self.lines(out)?,
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
    fn head(&self, out: &mut Vec<u8>) {
        let mut h = String::with_capacity(4096);
        let title = html::escape(&self.name);
        let raw = percent::segment(&self.base, percent::Context::HtmlAttribute);
        html::open_page(&mut h, &title, &[STYLE, terminal::STYLE]);
        let _ = write!(
            h,
            "<header><h1>{title}</h1>\
             <nav><a href=\"{raw}\">raw</a> · <a href=\"{raw}?view\">tail</a> · <a href=\"{raw}?view&amp;all\">whole log</a> · {size} bytes</nav></header>\n<main id=\"log\">\n",
            size = self.size,
        );
        out.extend_from_slice(h.as_bytes());
    }

    /// Reads up to the first line shown, counting newlines, a bounded slice per step.
    fn count(&mut self) -> io::Result<()> {
        match self.part {
            LinesShown::All => {
                self.start_lines(u64::MAX, u64::MAX);
                return Ok(());
            }
            LinesShown::From(n) => {
                if self.newlines + 1 >= n {
                    self.start_lines(TAIL_LINES, TAIL_BYTES);
                    return Ok(());
                }
                let got = self.read_chunk(u64::MAX)?;
                let Some(chunk) = self.buf.get(..got) else {
                    return Ok(());
                };
                if got == 0 {
                    self.start_lines(TAIL_LINES, TAIL_BYTES);
                    return Ok(());
                }
                let want = n - 1 - self.newlines;
                match memchr::memchr_iter(b'\n', chunk).nth((want - 1) as usize) {
                    Some(at) => {
                        self.newlines = n - 1;
                        self.pending = chunk.get(at + 1..).unwrap_or_default().to_vec();
                        self.start_lines(TAIL_LINES, TAIL_BYTES);
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
                // The rest is at most TAIL_BYTES: read it whole, then pick the lines.
                let mut tail = Vec::new();
                loop {
                    let got = self.read_chunk(u64::MAX)?;
                    if got == 0 {
                        break;
                    }
                    tail.extend_from_slice(self.buf.get(..got).unwrap_or_default());
                }
                let mut from = 0;
                if self.last_byte != b'\n' {
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
                self.pending = tail.get(from..).unwrap_or_default().to_vec();
                self.start_lines(u64::MAX, u64::MAX);
            }
        }
        Ok(())
    }

    fn start_lines(&mut self, lines: u64, bytes: u64) {
        self.first = self.newlines + 1;
        self.line = self.first;
        self.lines_left = lines;
        self.bytes_left = bytes;
        self.phase = ViewPhase::Lines;
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

    /// Renders whole lines from `pending`, reading more as needed, a bounded amount per step.
    fn lines(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut html = String::with_capacity(STEP_HTML + 4096);
        while html.len() < STEP_HTML {
            if self.lines_left == 0 || self.bytes_left == 0 {
                self.phase = ViewPhase::Foot;
                break;
            }
            let line_end = memchr::memchr(b'\n', &self.pending);
            let (line_len, advance) = match line_end {
                Some(at) => (at, at + 1),
                None if self.pending.len() > terminal::MAX_LINE + READ => {
                    // A huge line: render its head, drop the rest as it comes.
                    (self.pending.len(), self.pending.len())
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
                        self.phase = ViewPhase::Foot;
                        break;
                    }
                    (self.pending.len(), self.pending.len())
                }
            };
            let text = self.pending.get(..line_len).unwrap_or_default();
            line_html(&mut self.renderer, self.line, text, &mut html);
            self.pending.drain(..advance);
            self.line += 1;
            self.lines_left -= 1;
            self.bytes_left = self.bytes_left.saturating_sub(advance as u64);
        }
        out.extend_from_slice(html.as_bytes());
        Ok(())
    }
}

/// One numbered line: `<div id="L{n}">` with its anchor and rendered text;
/// `marks` as for [`Renderer::line`].
pub fn line_html(renderer: &mut Renderer, n: u64, text: &[u8], html: &mut String) {
    line_html_marked(renderer, n, text, &[], "", html);
}

/// [`line_html`] with highlighted ranges and the anchor's link target prefix.
pub fn line_html_marked(
    renderer: &mut Renderer,
    n: u64,
    text: &[u8],
    marks: &[(usize, usize)],
    link: &str,
    html: &mut String,
) {
    let mut inner = String::with_capacity(text.len() + 16);
    let kind = renderer.line(text, &mut inner, marks);
    let class = kind.class().map_or(String::new(), |c| format!(" {c}"));
    // Anchors only in the view itself; a search lists lines of many members.
    let id = if link.is_empty() {
        format!(" id=\"L{n}\"")
    } else {
        String::new()
    };
    let _ = writeln!(
        html,
        "<div class=\"l{class}\"{id}><a href=\"{link}#L{n}\" data-n=\"{n}\"></a><span>{inner}</span></div>"
    );
}

impl LogView {
    fn foot(&self, out: &mut Vec<u8>) {
        let mut f = String::from("</main>\n<footer>");
        let raw = percent::segment(&self.base, percent::Context::HtmlAttribute);
        let last = self.line.saturating_sub(1);
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
        let _ = write!(
            f,
            " · <a href=\"{raw}\">raw</a></footer>\n<script>{SCRIPT}</script>\n"
        );
        f.push_str(html::CLOSE_PAGE);
        out.extend_from_slice(f.as_bytes());
    }
}

/// Highlights `#L120-L140` (a single `#L123` needs no script: `:target`).
/// Reading never needs it.
const SCRIPT: &str = "function hl(){for(const e of document.querySelectorAll('.hl'))e.classList.remove('hl');\
const m=location.hash.match(/^#L(\\d+)-L?(\\d+)$/);if(!m)return;let a=+m[1],b=+m[2];if(a>b)[a,b]=[b,a];\
for(let i=a;i<=b&&i<a+100000;i++){const e=document.getElementById('L'+i);if(e)e.classList.add('hl')}\
const f=document.getElementById('L'+a);if(f)f.scrollIntoView()}addEventListener('hashchange',hl);hl();";

pub(crate) const STYLE: &str = "\
body{margin:0;font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:Canvas;color:CanvasText}\
header,footer{font-family:system-ui,sans-serif;padding:.5em 1em;background:#8881;position:sticky;z-index:1}\
header{top:0}footer{bottom:0}h1{font-size:1.05em;margin:0;overflow-wrap:anywhere}nav{font-size:.9em}\
main{padding:.25em 0}.l{display:flex;white-space:pre-wrap;overflow-wrap:anywhere;padding-right:1em}\
.l>a{flex:none;width:4.5em;padding-right:1em;text-align:right;color:#888;text-decoration:none;user-select:none}\
.l>a::before{content:attr(data-n)}.l>span{flex:1;min-width:0}\
.l:target,.l.hl{background:#fff3a0}.gr{font-weight:bold;border-top:1px solid #8884}.er{background:#ffd8d3}.wa{background:#fff3c4}\
mark{background:#ffd33d;color:#000}\
@media (prefers-color-scheme:dark){.l:target,.l.hl{background:#4d4000}.er{background:#5d1a1a}.wa{background:#3d2e00}}\
@media (max-width:600px){body{font-size:12px}.l>a{width:3em;padding-right:.5em}}";

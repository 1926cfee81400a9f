//! Terminal output as HTML: the renderer behind log views and search results.
//!
//! A CI log is untrusted bytes written for a terminal. This module turns one
//! line at a time into escaped HTML: SGR sequences (`ESC[…m`: the 8/16
//! colours, 256-colour and 24-bit colours, bold, dim, italic, underline,
//! conceal, reset) become `<span>`s with CSS classes (or a computed `color:`
//! for the 256 and 24-bit palettes); OSC 8 hyperlinks (and Buildkite's OSC
//! 1339 links) to `http:` and `https:` targets become links, as do bare
//! `https://` URLs in the text ([`link`]); Buildkite's `ESC _ bk;t=… BEL`
//! timestamps are read ([`Renderer::time`]); every other escape sequence
//! (cursor movement, erase, OSC titles, private modes, charset switches) is
//! dropped; a line rewritten with `\r`, `ESC[2K` or `ESC[G` keeps only its
//! last state, as a terminal would show it. Text is HTML-escaped and invalid
//! UTF-8 becomes U+FFFD, so no byte of a log can become markup. Concealed
//! text (SGR 8: Jenkins' `ESC[8mha:…ESC[0m` console notes) is not shown.
//!
//! ```text
//! ESC [ params ; … intermediates final      CSI: `m` is SGR, the rest dropped
//! ESC ] text (BEL | ESC \)                  OSC: 8 and 1339 are links, the rest dropped
//! ESC _ text (BEL | ESC \)                  APC: `bk;t=MS` / `bk;dt=MS` read, dropped
//! ESC P|X|^ text ESC \                      DCS, SOS, PM: dropped
//! ESC intermediates final                   other escapes: dropped
//! ```
//!
//! The style and an open OSC 8 link are carried from line to line (a colour
//! set on one line and reset several lines later colours them all), so a
//! renderer is kept for a whole view; [`Renderer::at_line_start`] lets a view
//! that starts mid-log begin plain.
//!
//! Here is the parser: it splits a line into text and escape sequences and
//! keeps the runs a terminal would show ([`Renderer::parse`]), then writes
//! them ([`Renderer::html`]). What an SGR sequence's parameters mean, and the
//! `<span>`s and stylesheet that show them, are in `sgr`; which markers of CI
//! systems a line's text holds is `logs::format`'s business, over
//! [`Renderer::text`].

use sgr::Style;
pub use sgr::STYLE;

pub mod link;
mod sgr;
#[cfg(test)]
mod tests;

/// Input bytes of one line that are rendered; the rest is cut with a marker,
/// so one huge line (a minified bundle, a binary blob) costs bounded work.
pub const MAX_LINE: usize = 64 * 1024;
/// Parameters kept per CSI sequence; more are ignored.
const MAX_PARAMS: usize = 32;
/// Distinct link targets kept per line; text past them is not linked.
const MAX_LINKS: usize = 256;

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// A styled piece of a line's visible text.
#[derive(Debug, Clone)]
struct Run {
    style: Style,
    /// Index into `Renderer::links` of the OSC 8 target it links to.
    link: Option<u16>,
    /// The text, unescaped.
    text: String,
}

/// Renders lines of terminal output as HTML, carrying the style across lines.
#[derive(Debug, Default, Clone)]
pub struct Renderer {
    style: Style,
    /// The OSC 8 target in force (carried across lines, as a terminal does).
    link: Option<String>,
    /// The current line since its last rewrite, as styled runs.
    runs: Vec<Run>,
    /// Link targets the runs of this line refer to.
    links: Vec<String>,
    /// Plain text of the line since its last rewrite (for markers and for
    /// finding matches), unescaped.
    text: String,
    params: Vec<u16>,
    /// The first Buildkite timestamp of this line, in Unix milliseconds.
    time: Option<i64>,
    /// The last Buildkite timestamp seen (`bk;dt=` counts from it).
    bk_last: Option<i64>,
}

impl Renderer {
    pub fn new() -> Renderer {
        Renderer::default()
    }

    /// Forgets the style and link carried from earlier lines.
    pub fn at_line_start(&mut self) {
        self.style = Style::default();
        self.link = None;
    }

    /// The visible text of `line` (no trailing newline) after escapes and
    /// rewrites: what a search matches against and what a terminal shows.
    /// Advances the carried state as [`Renderer::parse`] would.
    pub fn plain(&mut self, line: &[u8]) -> String {
        self.parse(line);
        self.runs.clear();
        std::mem::take(&mut self.text)
    }

    /// Parses `line` (no trailing newline): its visible text is then
    /// [`Renderer::text`], its Buildkite time [`Renderer::time`], and
    /// [`Renderer::html`] writes it.
    pub fn parse(&mut self, line: &[u8]) {
        self.runs.clear();
        self.links.clear();
        self.text.clear();
        self.time = None;
        let (line, cut) = match line.get(..MAX_LINE) {
            Some(head) if line.len() > MAX_LINE => (head, true),
            _ => (line, false),
        };
        // A line ending in \r (CRLF files) is not a rewrite.
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut i = 0;
        let mut text_start = 0;
        while let Some(&b) = line.get(i) {
            if b != 0x1b && b != b'\r' && (b >= 0x20 || b == b'\t') && b != 0x7f {
                i += 1;
                continue;
            }
            self.push_text(line.get(text_start..i).unwrap_or_default());
            match b {
                b'\r' => {
                    i += 1;
                    // `\r` then more text rewrites the line; at the very end it changes nothing.
                    if i < line.len() {
                        self.rewrite();
                    }
                }
                0x1b => i = self.escape(line, i),
                _ => i += 1, // other C0 controls and DEL: dropped
            }
            text_start = i;
        }
        self.push_text(line.get(text_start..).unwrap_or_default());
        if cut {
            self.push_text("…".as_bytes());
        }
    }

    /// The visible text of the line last parsed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first Buildkite timestamp (`ESC _ bk;t=MS BEL`, or `bk;dt=MS`
    /// after the last one) of the line last parsed, in Unix milliseconds.
    pub fn time(&self) -> Option<i64> {
        self.time
    }

    /// Writes the line last parsed into `out` as escaped HTML, from byte
    /// `from` of its [`Renderer::text`] (what comes before is a marker
    /// shown otherwise); the ranges of `marks` (byte offsets into the text)
    /// are wrapped in `<mark>`, OSC 8 links and bare URLs in `<a>`.
    pub fn html(&mut self, out: &mut String, from: usize, marks: &[(usize, usize)]) {
        let runs = std::mem::take(&mut self.runs);
        let bare = link::bare_urls(&self.text);
        let mut bare_at = 0;
        let in_mark = |at: usize| marks.iter().any(|&(s, e)| s <= at && at < e);
        // What is open, outermost first: a link (an OSC 8 index, or a bare
        // URL's start), a styled span, a mark.
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Target {
            Osc(u16),
            Bare(usize),
        }
        let mut open_link: Option<Target> = None;
        let mut open_style: Option<Style> = None;
        let mut marked = false;
        let close = |out: &mut String,
                     what: u8,
                     marked: &mut bool,
                     style: &mut Option<Style>,
                     link: &mut Option<Target>| {
            // what: 0 mark, 1 mark+span, 2 mark+span+link
            if *marked {
                out.push_str("</mark>");
                *marked = false;
            }
            if what >= 1 && style.take().is_some() {
                out.push_str("</span>");
            }
            if what >= 2 && link.take().is_some() {
                out.push_str("</a>");
            }
        };
        let mut pos = 0; // byte offset in the plain text
        for run in &runs {
            for (i, ch) in run.text.char_indices() {
                let at = pos + i;
                if at < from {
                    continue;
                }
                while bare.get(bare_at).is_some_and(|&(_, e)| e <= at) {
                    bare_at += 1;
                }
                let want_link = match run.link {
                    Some(l) => Some(Target::Osc(l)),
                    None => bare
                        .get(bare_at)
                        .filter(|&&(s, e)| s <= at && at < e)
                        .map(|&(s, _)| Target::Bare(s)),
                };
                if want_link != open_link {
                    close(out, 2, &mut marked, &mut open_style, &mut open_link);
                    match want_link {
                        Some(Target::Osc(l)) => {
                            if let Some(url) = self.links.get(usize::from(l)) {
                                link::open(url, out);
                                open_link = want_link;
                            }
                        }
                        Some(Target::Bare(s)) => {
                            let end = bare.get(bare_at).map_or(s, |&(_, e)| e);
                            if let Some(url) = self.text.get(s..end) {
                                link::open(url, out);
                                open_link = want_link;
                            }
                        }
                        None => {}
                    }
                }
                let want_style = (!run.style.is_plain()).then_some(run.style);
                if want_style != open_style {
                    close(out, 1, &mut marked, &mut open_style, &mut open_link);
                    if let Some(style) = want_style {
                        style.open(out);
                        open_style = Some(style);
                    }
                }
                let m = in_mark(at);
                if m != marked {
                    out.push_str(if m { "<mark>" } else { "</mark>" });
                    marked = m;
                }
                crate::pages::html::escape_char(ch, out);
            }
            pos += run.text.len();
        }
        close(out, 2, &mut marked, &mut open_style, &mut open_link);
        self.runs = runs;
        self.runs.clear();
        self.text.clear();
    }

    /// The line is drawn anew from its start (the style stays).
    fn rewrite(&mut self) {
        self.runs.clear();
        self.text.clear();
    }

    fn push_text(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.style.is_concealed() {
            return;
        }
        let mut text = String::from_utf8_lossy(bytes);
        // C1 controls (U+0080–U+009F) are controls to a terminal too: dropped.
        if memchr::memchr(0xc2, bytes).is_some() && text.chars().any(is_c1) {
            text = std::borrow::Cow::Owned(text.chars().filter(|&c| !is_c1(c)).collect());
        }
        let link = self.link_index();
        self.push_run(&text, link);
    }

    fn push_run(&mut self, text: &str, link: Option<u16>) {
        self.text.push_str(text);
        match self.runs.last_mut() {
            Some(run) if run.style == self.style && run.link == link => run.text.push_str(text),
            _ => self.runs.push(Run {
                style: self.style,
                link,
                text: text.to_string(),
            }),
        }
    }

    /// The index in `links` of the OSC 8 target in force, added if new.
    fn link_index(&mut self) -> Option<u16> {
        let url = self.link.as_deref()?;
        if let Some(i) = self.links.iter().rposition(|l| l == url) {
            return u16::try_from(i).ok();
        }
        if self.links.len() >= MAX_LINKS {
            return None;
        }
        self.links.push(url.to_string());
        u16::try_from(self.links.len() - 1).ok()
    }

    /// Handles the escape sequence at `line[at]` (ESC); returns where the text resumes.
    fn escape(&mut self, line: &[u8], at: usize) -> usize {
        let mut i = at + 1;
        match line.get(i) {
            Some(b'[') => {
                i += 1;
                self.params.clear();
                let mut current: Option<u16> = None;
                let mut private = false;
                loop {
                    match line.get(i) {
                        None => return i, // unterminated: dropped
                        Some(&c @ b'0'..=b'9') => {
                            let v = current.unwrap_or(0);
                            current =
                                Some(v.saturating_mul(10).saturating_add(u16::from(c - b'0')));
                        }
                        Some(b';') | Some(b':') => {
                            if self.params.len() < MAX_PARAMS {
                                self.params.push(current.unwrap_or(0));
                            }
                            current = None;
                        }
                        Some(0x3c..=0x3f) => private = true, // < = > ?
                        Some(0x20..=0x2f) => {}              // intermediates
                        Some(&f @ 0x40..=0x7e) => {
                            if let Some(v) = current {
                                if self.params.len() < MAX_PARAMS {
                                    self.params.push(v);
                                }
                            }
                            if !private {
                                self.csi(f);
                            }
                            return i + 1;
                        }
                        // Anything else cancels the sequence; the byte is text again.
                        Some(_) => return i,
                    }
                    i += 1;
                }
            }
            Some(&kind @ (b']' | b'_')) => {
                // OSC and APC: up to BEL or ST (ESC \). An APC ends at BEL
                // too: Buildkite's agent ends its timestamps so.
                i += 1;
                let body_start = i;
                while let Some(&c) = line.get(i) {
                    if c == 0x07 || c == 0x1b {
                        let body = line.get(body_start..i).unwrap_or_default();
                        if kind == b']' {
                            self.osc(body);
                        } else {
                            self.apc(body);
                        }
                        return match (c, line.get(i + 1)) {
                            (0x07, _) => i + 1,
                            (_, Some(b'\\')) => i + 2,
                            // An ESC that starts something else ends it too.
                            _ => i,
                        };
                    }
                    i += 1;
                }
                i // unterminated: dropped to the end of the line
            }
            Some(b'P') | Some(b'X') | Some(b'^') => {
                // DCS, SOS, PM: up to ST.
                i += 1;
                while let Some(&c) = line.get(i) {
                    if c == 0x1b {
                        return if line.get(i + 1) == Some(&b'\\') {
                            i + 2
                        } else {
                            i
                        };
                    }
                    i += 1;
                }
                i
            }
            _ => {
                // ESC intermediates* final: charset switches, keypad modes, …
                while let Some(0x20..=0x2f) = line.get(i) {
                    i += 1;
                }
                match line.get(i) {
                    Some(0x30..=0x7e) => i + 1,
                    _ => i,
                }
            }
        }
    }

    /// An OSC's body: `8;params;URI` opens (or, empty, closes) a hyperlink;
    /// `1339;url=URI[;content=TEXT]` is Buildkite's inline link; the rest
    /// (titles, colours, images) is dropped.
    fn osc(&mut self, body: &[u8]) {
        if let Some(rest) = body.strip_prefix(b"8;") {
            let uri = rest
                .iter()
                .position(|&b| b == b';')
                .and_then(|at| rest.get(at + 1..))
                .unwrap_or_default();
            let uri = String::from_utf8_lossy(uri);
            // A target we do not link still ends the one before: its text shows unlinked.
            self.link = link::allowed(&uri).then(|| uri.into_owned());
        } else if let Some(rest) = body.strip_prefix(b"1339;") {
            let rest = String::from_utf8_lossy(rest);
            let mut url = None;
            let mut content = None;
            for part in rest.split(';') {
                if let Some(v) = part.strip_prefix("url=") {
                    url = Some(v);
                } else if let Some(v) = part.strip_prefix("content=") {
                    content = Some(v);
                }
            }
            let Some(url) = url else {
                return;
            };
            let shown: String = content
                .unwrap_or(url)
                .chars()
                .filter(|c| !c.is_control())
                .collect();
            if self.style.is_concealed() || shown.is_empty() {
                return;
            }
            let carried = self.link.take();
            if link::allowed(url) {
                self.link = Some(url.to_string());
            }
            let index = self.link_index();
            self.push_run(&shown, index);
            self.link = carried;
        }
    }

    /// An APC's body: Buildkite's `bk;t=MS` (Unix milliseconds) or
    /// `bk;dt=MS` (after the last one); other keys and other APCs are dropped.
    fn apc(&mut self, body: &[u8]) {
        let Some(rest) = body.strip_prefix(b"bk;") else {
            return;
        };
        for token in rest.split(|&b| b == b';') {
            let number =
                |v: &[u8]| -> Option<i64> { std::str::from_utf8(v).ok()?.parse::<i64>().ok() };
            let t = if let Some(v) = token.strip_prefix(b"t=") {
                number(v)
            } else if let Some(v) = token.strip_prefix(b"dt=") {
                number(v).and_then(|dt| self.bk_last?.checked_add(dt))
            } else {
                None
            };
            if let Some(t) = t {
                self.bk_last = Some(t);
                self.time.get_or_insert(t);
            }
        }
    }

    /// A complete CSI sequence with final byte `f` and the parameters in `self.params`.
    fn csi(&mut self, f: u8) {
        let first = self.params.first().copied().unwrap_or(0);
        match f {
            b'm' => {
                let params = std::mem::take(&mut self.params);
                self.style.apply(&params);
                self.params = params;
            }
            // Erase the whole line, or go to its first column: what follows redraws it.
            b'K' if first == 2 => self.rewrite(),
            b'G' if first <= 1 => self.rewrite(),
            _ => {}
        }
    }
}

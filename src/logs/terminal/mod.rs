//! Terminal output as HTML: the renderer behind log views and search results.
//!
//! A CI log is untrusted bytes written for a terminal. This module turns one
//! line at a time into escaped HTML: SGR sequences (`ESC[…m`: the 8/16
//! colours, 256-colour and 24-bit colours, bold, dim, italic, underline,
//! reset) become `<span>`s with CSS classes (or a computed `color:` for the
//! 256 and 24-bit palettes); every other escape sequence (cursor movement,
//! erase, OSC titles and OSC 8 hyperlinks, private modes, charset switches)
//! is dropped; a line rewritten with `\r`, `ESC[2K` or `ESC[G` keeps only its
//! last state, as a terminal would show it. Text is HTML-escaped and invalid
//! UTF-8 becomes U+FFFD, so no byte of a log can become markup.
//!
//! ```text
//! ESC [ params ; … intermediates final      CSI: `m` is SGR, the rest dropped
//! ESC ] text (BEL | ESC \)                  OSC: dropped (titles, hyperlinks)
//! ESC intermediates final                   other escapes: dropped
//! ```
//!
//! The style is carried from line to line (a colour set on one line and reset
//! several lines later colours them all), so a renderer is kept for a whole
//! view; [`Renderer::at_line_start`] lets a view that starts mid-log begin plain.
//!
//! Here is the parser: it splits a line into text and escape sequences and
//! keeps the runs a terminal would show. What an SGR sequence's parameters
//! mean, and the `<span>`s and stylesheet that show them, are in `sgr`.

use sgr::Style;
pub use sgr::STYLE;

mod sgr;
#[cfg(test)]
mod tests;

/// Input bytes of one line that are rendered; the rest is cut with a marker,
/// so one huge line (a minified bundle, a binary blob) costs bounded work.
pub const MAX_LINE: usize = 64 * 1024;
/// Parameters kept per CSI sequence; more are ignored.
const MAX_PARAMS: usize = 32;

/// What a rendered line is, beyond its text (GitHub Actions workflow commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    /// `##[group]Title`: the marker is dropped, the title kept.
    Group,
    /// `##[endgroup]`
    EndGroup,
    /// `##[error]…`
    Error,
    /// `##[warning]…`
    Warning,
}

impl Kind {
    /// The CSS class a view gives the line, if any.
    pub fn class(self) -> Option<&'static str> {
        match self {
            Kind::Plain => None,
            Kind::Group => Some("gr"),
            Kind::EndGroup => Some("eg"),
            Kind::Error => Some("er"),
            Kind::Warning => Some("wa"),
        }
    }
}

/// Renders lines of terminal output as HTML, carrying the style across lines.
#[derive(Debug, Default, Clone)]
pub struct Renderer {
    style: Style,
    /// The rendered text of the current line since its last rewrite, as
    /// (style, escaped text) runs.
    runs: Vec<(Style, String)>,
    /// Plain text of the line since its last rewrite (for workflow commands
    /// and for finding matches), unescaped.
    text: String,
    params: Vec<u16>,
}

impl Renderer {
    pub fn new() -> Renderer {
        Renderer::default()
    }

    /// Forgets the style carried from earlier lines.
    pub fn at_line_start(&mut self) {
        self.style = Style::default();
    }

    /// The visible text of `line` (no trailing newline) after escapes and
    /// rewrites: what a search matches against and what a terminal shows.
    /// Advances the carried style as [`Renderer::line`] would.
    pub fn plain(&mut self, line: &[u8]) -> String {
        self.parse(line);
        self.runs.clear();
        std::mem::take(&mut self.text)
    }

    /// Renders `line` (no trailing newline) into `out` as escaped HTML; the
    /// ranges of `marks` (byte offsets into [`Renderer::plain`]'s text of the
    /// same line) are wrapped in `<mark>`.
    pub fn line(&mut self, line: &[u8], out: &mut String, marks: &[(usize, usize)]) -> Kind {
        self.parse(line);
        let kind = workflow_kind(&self.text);
        let skip = match kind {
            Kind::Group => "##[group]".len(),
            Kind::EndGroup => "##[endgroup]".len(),
            Kind::Error => "##[error]".len(),
            Kind::Warning => "##[warning]".len(),
            Kind::Plain => 0,
        };
        let runs = std::mem::take(&mut self.runs);
        let in_mark = |at: usize| marks.iter().any(|&(s, e)| s <= at && at < e);
        let mut pos = 0; // byte offset in the plain text
        for (style, text) in &runs {
            let styled = !style.is_plain();
            let mut marked = false;
            let mut open = false;
            for (i, ch) in text.char_indices() {
                let at = pos + i;
                if at < skip {
                    continue;
                }
                if !open {
                    if styled {
                        style.open(out);
                    }
                    open = true;
                }
                let m = in_mark(at);
                if m != marked {
                    out.push_str(if m { "<mark>" } else { "</mark>" });
                    marked = m;
                }
                crate::pages::html::escape_char(ch, out);
            }
            if marked {
                out.push_str("</mark>");
            }
            if open && styled {
                out.push_str("</span>");
            }
            pos += text.len();
        }
        self.runs = runs;
        self.runs.clear();
        self.text.clear();
        kind
    }

    /// Splits `line` into styled runs of visible text in `self.runs` / `self.text`.
    fn parse(&mut self, line: &[u8]) {
        self.runs.clear();
        self.text.clear();
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

    /// The line is drawn anew from its start (the style stays).
    fn rewrite(&mut self) {
        self.runs.clear();
        self.text.clear();
    }

    fn push_text(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        self.text.push_str(&text);
        match self.runs.last_mut() {
            Some((style, run)) if *style == self.style => run.push_str(&text),
            _ => self.runs.push((self.style, text.into_owned())),
        }
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
            Some(b']') => {
                // OSC: up to BEL or ST (ESC \); dropped, text and all.
                i += 1;
                while let Some(&c) = line.get(i) {
                    if c == 0x07 {
                        return i + 1;
                    }
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
            Some(b'P') | Some(b'X') | Some(b'^') | Some(b'_') => {
                // DCS, SOS, PM, APC: up to ST.
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

fn workflow_kind(text: &str) -> Kind {
    if !text.starts_with("##[") {
        return Kind::Plain;
    }
    if text.starts_with("##[group]") {
        Kind::Group
    } else if text.starts_with("##[endgroup]") {
        Kind::EndGroup
    } else if text.starts_with("##[error]") {
        Kind::Error
    } else if text.starts_with("##[warning]") {
        Kind::Warning
    } else {
        Kind::Plain
    }
}

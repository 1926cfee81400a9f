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

use std::fmt::Write;

/// Input bytes of one line that are rendered; the rest is cut with a marker,
/// so one huge line (a minified bundle, a binary blob) costs bounded work.
pub const MAX_LINE: usize = 64 * 1024;
/// Parameters kept per CSI sequence; more are ignored.
const MAX_PARAMS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Color {
    #[default]
    Default,
    /// 0–255: 0–15 as classes, 16–255 as computed colours.
    Indexed(u8),
    Rgb(u8, u8, u8),
}

/// The SGR attributes that matter for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Style {
    fg: Color,
    bg: Color,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    inverse: bool,
}

impl Style {
    fn is_plain(&self) -> bool {
        *self == Style::default()
    }

    /// Applies one SGR sequence's parameters (empty = reset).
    fn apply(&mut self, params: &[u16]) {
        if params.is_empty() {
            *self = Style::default();
            return;
        }
        let mut i = 0;
        while let Some(&p) = params.get(i) {
            i += 1;
            match p {
                0 => *self = Style::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                7 => self.inverse = true,
                21 | 22 => {
                    self.bold = false;
                    self.dim = false;
                }
                23 => self.italic = false,
                24 => self.underline = false,
                27 => self.inverse = false,
                30..=37 => self.fg = Color::Indexed((p - 30) as u8),
                39 => self.fg = Color::Default,
                40..=47 => self.bg = Color::Indexed((p - 40) as u8),
                49 => self.bg = Color::Default,
                90..=97 => self.fg = Color::Indexed((p - 90 + 8) as u8),
                100..=107 => self.bg = Color::Indexed((p - 100 + 8) as u8),
                38 | 48 => {
                    let (color, used) = extended(params.get(i..).unwrap_or_default());
                    i += used;
                    if let Some(c) = color {
                        if p == 38 {
                            self.fg = c;
                        } else {
                            self.bg = c;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Writes the opening tag for this style (the caller knows it is not plain).
    fn open(&self, out: &mut String) {
        let (fg, bg) = if self.inverse {
            (self.bg, self.fg)
        } else {
            (self.fg, self.bg)
        };
        out.push_str("<span");
        let mut classes = Vec::with_capacity(6);
        if let Color::Indexed(n @ 0..=15) = fg {
            classes.push(format!("f{n}"));
        }
        if let Color::Indexed(n @ 0..=15) = bg {
            classes.push(format!("b{n}"));
        }
        if self.inverse && fg == Color::Default {
            classes.push("fi".into());
        }
        if self.inverse && bg == Color::Default {
            classes.push("bi".into());
        }
        for (on, class) in [
            (self.bold, "bo"),
            (self.dim, "di"),
            (self.italic, "it"),
            (self.underline, "un"),
        ] {
            if on {
                classes.push(class.into());
            }
        }
        if !classes.is_empty() {
            out.push_str(" class=\"");
            out.push_str(&classes.join(" "));
            out.push('"');
        }
        let fg_rgb = rgb_of(fg);
        let bg_rgb = rgb_of(bg);
        if fg_rgb.is_some() || bg_rgb.is_some() {
            out.push_str(" style=\"");
            if let Some((r, g, b)) = fg_rgb {
                let _ = write!(out, "color:#{r:02x}{g:02x}{b:02x};");
            }
            if let Some((r, g, b)) = bg_rgb {
                let _ = write!(out, "background:#{r:02x}{g:02x}{b:02x};");
            }
            out.push('"');
        }
        out.push('>');
    }
}

/// `5;N` or `2;R;G;B` after a 38/48: the colour and how many parameters it used.
fn extended(rest: &[u16]) -> (Option<Color>, usize) {
    let byte = |i: usize| rest.get(i).map(|&v| v.min(255) as u8);
    match rest.first() {
        Some(5) => (byte(1).map(Color::Indexed), 2.min(rest.len())),
        Some(2) => match (byte(1), byte(2), byte(3)) {
            (Some(r), Some(g), Some(b)) => (Some(Color::Rgb(r, g, b)), 4),
            _ => (None, rest.len()),
        },
        _ => (None, rest.len()),
    }
}

/// The computed colour for palette entries 16–255 and 24-bit colours;
/// `None` where a CSS class (or the default) does the job.
fn rgb_of(c: Color) -> Option<(u8, u8, u8)> {
    match c {
        Color::Default | Color::Indexed(0..=15) => None,
        Color::Rgb(r, g, b) => Some((r, g, b)),
        Color::Indexed(n @ 16..=231) => {
            let n = n - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            Some((level(n / 36), level((n / 6) % 6), level(n % 6)))
        }
        Color::Indexed(n) => {
            let v = 8 + (n - 232) * 10;
            Some((v, v, v))
        }
    }
}

/// The CSS for the classes [`Renderer`] writes, light and dark.
pub const STYLE: &str = "\
.f0{color:#000}.f1{color:#b31d28}.f2{color:#22863a}.f3{color:#8a6d00}.f4{color:#0550ae}.f5{color:#8250df}.f6{color:#1b7c83}.f7{color:#6e7781}\
.f8{color:#57606a}.f9{color:#d73a49}.f10{color:#2da44e}.f11{color:#bf8700}.f12{color:#218bff}.f13{color:#a475f9}.f14{color:#3192aa}.f15{color:#8c959f}\
.b0{background:#000;color:#fff}.b1{background:#ffd8d3}.b2{background:#d3f5dc}.b3{background:#fff3c4}.b4{background:#d6e8ff}.b5{background:#eadcff}.b6{background:#d0f0f3}.b7{background:#eaeef2}\
.b8{background:#6e7781;color:#fff}.b9{background:#ffb8b0}.b10{background:#acf2bd}.b11{background:#ffe58f}.b12{background:#b6d7ff}.b13{background:#d8c4ff}.b14{background:#b1ecf2}.b15{background:#f6f8fa}\
.fi{color:Canvas}.bi{background:CanvasText}.bo{font-weight:bold}.di{opacity:.65}.it{font-style:italic}.un{text-decoration:underline}\
@media (prefers-color-scheme:dark){.f0{color:#8b949e}.f1{color:#ff7b72}.f2{color:#7ee787}.f3{color:#e3b341}.f4{color:#79c0ff}.f5{color:#d2a8ff}.f6{color:#76e3ea}.f7{color:#c9d1d9}\
.f8{color:#8b949e}.f9{color:#ffa198}.f10{color:#56d364}.f11{color:#f2cc60}.f12{color:#a5d6ff}.f13{color:#e2c5ff}.f14{color:#b3f0ff}.f15{color:#f0f6fc}\
.b0{background:#000;color:#fff}.b1{background:#5d1a1a}.b2{background:#12361f}.b3{background:#3d2e00}.b4{background:#0c2d6b}.b5{background:#3c1e70}.b6{background:#0b3b40}.b7{background:#30363d}\
.b8{background:#484f58;color:#fff}.b9{background:#8e1519}.b10{background:#1a7f37}.b11{background:#6c4a00}.b12{background:#1158c7}.b13{background:#6e40c9}.b14{background:#1b7c83}.b15{background:#6e7681}}";

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

#[cfg(test)]
mod tests {
    use super::*;

    fn render(lines: &[&[u8]]) -> Vec<String> {
        let mut r = Renderer::new();
        lines
            .iter()
            .map(|l| {
                let mut out = String::new();
                r.line(l, &mut out, &[]);
                out
            })
            .collect()
    }

    fn strip_tags(html: &str) -> String {
        let mut out = String::new();
        let mut inside = false;
        for c in html.chars() {
            match c {
                '<' => inside = true,
                '>' => inside = false,
                c if !inside => out.push(c),
                _ => {}
            }
        }
        out
    }

    fn one(line: &[u8]) -> String {
        render(&[line]).remove(0)
    }

    /// Real-world lines, as the tools print them to a terminal, and what a reader should see.
    #[test]
    fn real_world_sequences() {
        let table: &[(&str, &[u8], &str)] = &[
            (
                "cargo error",
                b"\x1b[0m\x1b[1m\x1b[38;5;9merror[E0308]\x1b[0m\x1b[0m\x1b[1m: mismatched types\x1b[0m",
                "<span class=\"f9 bo\">error[E0308]</span><span class=\"bo\">: mismatched types</span>",
            ),
            (
                "cargo compiling",
                b"\x1b[1m\x1b[32m   Compiling\x1b[0m wwz v0.1.0",
                "<span class=\"f2 bo\">   Compiling</span> wwz v0.1.0",
            ),
            (
                "npm warn",
                b"npm \x1b[33mWARN\x1b[39m \x1b[35mdeprecated\x1b[39m inflight@1.0.6",
                "npm <span class=\"f3\">WARN</span> <span class=\"f5\">deprecated</span> inflight@1.0.6",
            ),
            (
                "pytest summary",
                b"\x1b[31m\x1b[1m=== 1 failed, 2 passed in 0.12s ===\x1b[0m",
                "<span class=\"f1 bo\">=== 1 failed, 2 passed in 0.12s ===</span>",
            ),
            (
                "gcc diagnostic",
                b"\x1b[01m\x1b[Kmain.c:3:5:\x1b[m\x1b[K \x1b[01;31m\x1b[Kerror: \x1b[m\x1b[K'x' undeclared",
                "<span class=\"bo\">main.c:3:5:</span> <span class=\"f1 bo\">error: </span>&#39;x&#39; undeclared",
            ),
            (
                "24-bit",
                b"\x1b[38;2;255;128;0mamber\x1b[0m",
                "<span style=\"color:#ff8000;\">amber</span>",
            ),
            (
                "256 grey background",
                b"\x1b[48;5;240mx\x1b[49m",
                "<span style=\"background:#585858;\">x</span>",
            ),
            (
                "bright, dim, italic, underline",
                b"\x1b[92;2;3;4mok\x1b[m",
                "<span class=\"f10 di it un\">ok</span>",
            ),
            (
                "progress bar rewritten with \\r",
                b"Downloading  10%\rDownloading  50%\rDownloading 100%",
                "Downloading 100%",
            ),
            (
                "erase line and column 1",
                b"spinner |\x1b[2K\x1b[1Gspinner done",
                "spinner done",
            ),
            (
                "OSC title and OSC 8 hyperlink",
                b"\x1b]0;title\x07see \x1b]8;;https://e.x/\x1b\\docs\x1b]8;;\x1b\\ here",
                "see docs here",
            ),
            (
                "private modes and cursor moves",
                b"\x1b[?25l\x1b[3Aup\x1b[?25h\x1b(B",
                "up",
            ),
            ("CRLF", b"windows line\r", "windows line"),
        ];
        for (what, input, want) in table {
            assert_eq!(one(input), *want, "{what}");
        }
    }

    #[test]
    fn github_group_markers() {
        let mut r = Renderer::new();
        let mut out = String::new();
        assert_eq!(
            r.line(b"##[group]Run cargo test", &mut out, &[]),
            Kind::Group
        );
        assert_eq!(out, "Run cargo test");
        out.clear();
        assert_eq!(r.line(b"##[endgroup]", &mut out, &[]), Kind::EndGroup);
        assert_eq!(out, "");
        out.clear();
        assert_eq!(r.line(b"##[error]boom <b>", &mut out, &[]), Kind::Error);
        assert_eq!(out, "boom &lt;b&gt;");
    }

    #[test]
    fn style_carries_across_lines() {
        let lines = render(&[b"\x1b[31mred", b"still red", b"\x1b[0mplain"]);
        assert_eq!(
            lines,
            [
                "<span class=\"f1\">red</span>",
                "<span class=\"f1\">still red</span>",
                "plain"
            ]
        );
    }

    #[test]
    fn marks_nest_inside_spans() {
        let mut r = Renderer::new();
        let line = b"ab\x1b[31mcd\x1b[0mef";
        let text = r.clone().plain(line);
        assert_eq!(text, "abcdef");
        let mut out = String::new();
        r.line(line, &mut out, &[(1, 5)]);
        assert_eq!(
            out,
            "a<mark>b</mark><span class=\"f1\"><mark>cd</mark></span><mark>e</mark>f"
        );
    }

    #[test]
    fn script_in_a_log_line_stays_text() {
        let out = one(b"<script>alert('x')</script> & \"q\"");
        assert_eq!(
            out,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        // An OSC hyperlink cannot smuggle a link or markup in either.
        let out = one(b"\x1b]8;;javascript:alert(1)\x1b\\<img src=x>\x1b]8;;\x1b\\");
        assert_eq!(out, "&lt;img src=x&gt;");
    }

    #[test]
    fn hostile_input() {
        // Unterminated sequences at the end of a line vanish.
        assert_eq!(one(b"text\x1b["), "text");
        assert_eq!(one(b"text\x1b[38;5"), "text");
        assert_eq!(one(b"text\x1b]0;never ends"), "text");
        assert_eq!(one(b"text\x1b"), "text");
        // A sequence cut by a byte that cannot belong to it leaves that byte as text.
        assert_eq!(one(b"a\x1b[12\xc3\xa9b"), "a\u{e9}b");
        // Invalid UTF-8 becomes U+FFFD; controls vanish; tabs stay.
        assert_eq!(one(b"x\xff\xfey\x07\x08\tz"), "x\u{fffd}\u{fffd}y\tz");
        // Huge parameters saturate; 38;2 without enough values is ignored.
        assert_eq!(one(b"\x1b[99999999999;38;2;1mq\x1b[0m"), "q");
        // 1 MB of escapes: bounded work, nothing shown, no panic.
        let mut big = Vec::new();
        while big.len() < 1 << 20 {
            big.extend_from_slice(b"\x1b[31;1;4;38;5;200;48;2;1;2;3m\x1b[2K\r\x1b]0;t\x07");
        }
        // (The line is longer than MAX_LINE: only the cut marker is visible.)
        let out = one(&big);
        assert_eq!(strip_tags(&out), "…", "{out}");
        let many: Vec<&[u8]> = vec![&big[..MAX_LINE / 2]; 2];
        assert_eq!(strip_tags(&render(&many).concat()), "");
        // A line longer than MAX_LINE is cut, with a marker.
        let long = vec![b'a'; MAX_LINE * 3];
        let out = one(&long);
        assert_eq!(out.len(), MAX_LINE + "…".len());
        assert!(out.ends_with('…'));
        // Every byte value, alone and after ESC and CSI: never markup, never a panic.
        for b in 0..=255u8 {
            for prefix in [&b""[..], b"\x1b", b"\x1b[", b"\x1b]"] {
                let mut line = prefix.to_vec();
                line.push(b);
                line.extend_from_slice(b"<");
                let out = one(&line);
                assert!(
                    !out.contains('<') || out.starts_with("<span") || out.contains("&lt;"),
                    "{out}"
                );
            }
        }
    }
}

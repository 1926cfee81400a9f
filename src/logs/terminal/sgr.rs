//! SGR (`ESC[…m`): the colours and attributes a terminal keeps between
//! escapes, how one sequence's parameters change them, and the `<span>` and
//! stylesheet that show them. Apart from the parser in `mod.rs` because it is
//! the one part that knows colours: the parser only finds the sequences.

use std::fmt::Write;

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
pub(super) struct Style {
    fg: Color,
    bg: Color,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    inverse: bool,
    /// SGR 8: the text is not shown (Jenkins hides its console notes so).
    conceal: bool,
}

impl Style {
    pub(super) fn is_plain(&self) -> bool {
        *self == Style::default()
    }

    pub(super) fn is_concealed(&self) -> bool {
        self.conceal
    }

    /// Applies one SGR sequence's parameters (empty = reset).
    pub(super) fn apply(&mut self, params: &[u16]) {
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
                8 => self.conceal = true,
                21 | 22 => {
                    self.bold = false;
                    self.dim = false;
                }
                23 => self.italic = false,
                24 => self.underline = false,
                27 => self.inverse = false,
                28 => self.conceal = false,
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
    pub(super) fn open(&self, out: &mut String) {
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

/// The CSS for the classes [`super::Renderer`] writes, light and dark.
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

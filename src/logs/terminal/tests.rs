//! The renderer's tests, apart from it so `mod.rs` reads as the parser it
//! is: real-world lines from compilers and test runners, workflow markers,
//! the style carried across lines, marks, and hostile input.

use super::*;

fn render(lines: &[&[u8]]) -> Vec<String> {
    let mut r = Renderer::new();
    lines
        .iter()
        .map(|l| {
            let mut out = String::new();
            r.parse(l);
            r.html(&mut out, 0, &[]);
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
            "see <a href=\"https://e.x/\" rel=\"nofollow noopener\">docs</a> here",
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
    r.parse(line);
    r.html(&mut out, 0, &[(1, 5)]);
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
    // Invalid UTF-8 becomes U+FFFD; controls vanish (C1 ones too); tabs stay.
    assert_eq!(one(b"x\xff\xfey\x07\x08\tz"), "x\u{fffd}\u{fffd}y\tz");
    assert_eq!(one("a\u{9d}b\u{85}c\u{a0}".as_bytes()), "abc\u{a0}");
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

/// Buildkite's timestamps end at BEL or at ST; the text after them stays.
#[test]
fn apc_ends_at_bel_or_st() {
    let mut r = Renderer::new();
    r.parse(b"\x1b_bk;t=1700000000000\x07hello world");
    assert_eq!(
        (r.text(), r.time()),
        ("hello world", Some(1_700_000_000_000))
    );
    r.parse(b"\x1b_bk;dt=250\x1b\\next");
    assert_eq!((r.text(), r.time()), ("next", Some(1_700_000_000_250)));
    // The first time of a line is its time; other APCs are dropped, text kept.
    r.parse(b"a\x1b_bk;t=5\x07b\x1b_bk;t=9\x07c\x1b_other\x07d");
    assert_eq!((r.text(), r.time()), ("abcd", Some(5)));
    r.parse(b"\x1b_bk;t=notanumber\x07x\x1b_unterminated");
    assert_eq!((r.text(), r.time()), ("x", None));
}

#[test]
fn links_only_to_http_and_https() {
    let table: &[(&[u8], &str)] = &[
        (
            b"\x1b]8;;https://e.x/a?b=1&c=<2>\x1b\\docs\x1b]8;;\x1b\\",
            "docs",
        ),
        (
            b"\x1b]8;;https://e.x/a?b=1&c=2\x1b\\docs\x1b]8;;\x1b\\",
            "<a href=\"https://e.x/a?b=1&amp;c=2\" rel=\"nofollow noopener\">docs</a>",
        ),
        (
            b"\x1b]8;id=1;HTTP://E.X/\x07up\x1b]8;;\x07",
            "<a href=\"HTTP://E.X/\" rel=\"nofollow noopener\">up</a>",
        ),
        (b"\x1b]8;;javascript:alert(1)\x1b\\click\x1b]8;;\x1b\\", "click"),
        (b"\x1b]8;;file:///etc/passwd\x07f\x1b]8;;\x07", "f"),
        (
            b"see https://example.com/a_(b)), and http://x.y.",
            "see <a href=\"https://example.com/a_(b)\" rel=\"nofollow noopener\">https://example.com/a_(b)</a>), and <a href=\"http://x.y\" rel=\"nofollow noopener\">http://x.y</a>.",
        ),
        (b"xhttps://no.pe https:// alone", "xhttps://no.pe https:// alone"),
        (
            b"\x1b]1339;url=https://b.k/art;content=the artifact\x07!",
            "<a href=\"https://b.k/art\" rel=\"nofollow noopener\">the artifact</a>!",
        ),
        (
            b"\x1b[31mhttps://r.ed/\x1b[0m",
            "<a href=\"https://r.ed/\" rel=\"nofollow noopener\"><span class=\"f1\">https://r.ed/</span></a>",
        ),
    ];
    for (input, want) in table {
        assert_eq!(one(input), *want, "{}", String::from_utf8_lossy(input));
    }
    // The URL in an OSC 8 target with a quote is cut at it by `allowed`: no link at all.
    assert!(!one(b"\x1b]8;;https://a\"b\x07t\x1b]8;;\x07").contains("<a"));
}

#[test]
fn an_osc8_link_is_carried_to_the_next_line() {
    let lines = render(&[
        b"\x1b]8;;https://g.co/\x1b\\Goo",
        b"gle\x1b]8;;\x1b\\ after",
    ]);
    assert_eq!(
        lines[1],
        "<a href=\"https://g.co/\" rel=\"nofollow noopener\">gle</a> after"
    );
}

#[test]
fn concealed_text_is_not_shown() {
    // Jenkins' console notes.
    assert_eq!(
        one(b"Started by \x1b[8mha:////4AbC=\x1b[0muser"),
        "Started by user"
    );
    assert_eq!(one(b"a\x1b[8mb\x1b[28mc"), "ac");
}

#[test]
fn marks_links_and_styles_nest() {
    let mut r = Renderer::new();
    r.parse(b"go https://a.b/\x1b[1mcd\x1b[0m end");
    let mut out = String::new();
    r.html(&mut out, 3, &[(10, 17)]);
    assert_eq!(
        out,
        "<a href=\"https://a.b/cd\" rel=\"nofollow noopener\">https:/<mark>/a.b/</mark><span class=\"bo\"><mark>cd</mark></span></a> end"
    );
}

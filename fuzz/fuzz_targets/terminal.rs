//! Terminal output (a CI log: untrusted bytes) formatted and rendered line
//! by line as the log view and search do, as each CI system's log, with
//! matches marked. The HTML can only hold our own tags, balanced, around the
//! escaped visible text (links only to `http:`/`https:` targets); no escape
//! or control byte survives in the text; a runner's timestamp prefix is read
//! as the line's time, never left in its text; groups stay within their
//! depth; the output grows at most by a constant factor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::logs::format::{groups, stamp, Formatter, Groups, Outline, System};

/// Output bytes per input byte, at most: a one-character run after a
/// four-byte SGR sequence costs a `<span …>` of under 100 bytes, its
/// `</span>`, the character escaped (6) and a `<mark>` around it (13); a
/// link's tag repeats its target, at most once per run.
const GROWTH: usize = 64;

const SYSTEMS: [System; 7] = [
    System::Plain,
    System::GitHub,
    System::Azure,
    System::GitLab,
    System::Buildkite,
    System::Travis,
    System::Jenkins,
];

fuzz_target!(|data: &[u8]| {
    // The first byte is what a search looks for (as `?q=` would mark it),
    // the second which system wrote the log.
    let Some((&needle, rest)) = data.split_first() else {
        return;
    };
    let Some((&which, log)) = rest.split_first() else {
        return;
    };
    let needle = char::from(needle & 0x7f);
    let system = SYSTEMS[usize::from(which) % SYSTEMS.len()];
    let mut f = Formatter::new(system);
    let mut g = Groups::new();
    let mut outline = Outline::new();
    for (i, raw) in log.split(|&b| b == b'\n').enumerate() {
        if i % 7 == 6 {
            // A view that starts mid-log.
            f.at_line_start();
        }
        let line = f.line(raw);
        let text = f.text().to_string();
        for c in text.chars() {
            assert!(!c.is_control() || c == '\t', "control {c:?} in {text:?}");
        }
        match system {
            System::GitHub | System::Azure if stamp::github(raw).is_some() => {
                assert!(line.time.is_some(), "{raw:?}")
            }
            System::GitLab if stamp::gitlab(raw).is_some() => assert!(line.time.is_some()),
            System::Jenkins if stamp::jenkins(raw).is_some() => assert!(line.time.is_some()),
            _ => {}
        }
        // At most 64 marks a line, as the search's HTML printer takes
        // (`MAX_MARKS`): the renderer's cost grows with marks × characters.
        let marks: Vec<(usize, usize)> = text
            .match_indices(needle)
            .map(|(at, m)| (at, at + m.len()))
            .take(64)
            .collect();
        let mut out = String::new();
        f.html(&mut out, &marks);
        assert!(
            out.len() <= GROWTH * raw.len() + 256,
            "{} bytes from {}",
            out.len(),
            raw.len()
        );
        assert_eq!(strip_tags(&out), text, "{out:?}");
        let step = g.step(&line);
        assert!(g.depth() <= groups::MAX_DEPTH);
        assert!(step.opens.iter().all(|o| o.depth < groups::MAX_DEPTH));
        outline.feed(i as u64 + 1, &line);
    }
    outline.finish();
    assert!(outline.error_lines.windows(2).all(|w| w[0] < w[1]));
});

/// The visible text of one rendered line, asserting on the way that every
/// tag is one of ours and that they nest.
fn strip_tags(html: &str) -> String {
    for b in html.bytes() {
        assert!(
            (b >= 0x20 || b == b'\t') && b != 0x7f,
            "control byte {b:#x} in {html:?}"
        );
    }
    let mut open: Vec<&str> = Vec::new();
    let mut text = String::new();
    let mut rest = html;
    while let Some(lt) = rest.find(['<', '>', '&', '"', '\'']) {
        text.push_str(&rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix('&') {
            let (entity, ch) = [
                ("amp;", '&'),
                ("lt;", '<'),
                ("gt;", '>'),
                ("quot;", '"'),
                ("#39;", '\''),
            ]
            .into_iter()
            .find(|(e, _)| after.starts_with(e))
            .unwrap_or_else(|| panic!("bare & in {html:?}"));
            text.push(ch);
            rest = &after[entity.len()..];
            continue;
        }
        assert!(rest.starts_with('<'), "raw > or quote in text: {html:?}");
        let end = rest
            .find('>')
            .unwrap_or_else(|| panic!("unclosed tag in {html:?}"));
        let tag = &rest[..=end];
        rest = &rest[end + 1..];
        match tag {
            "</a>" => assert_eq!(open.pop(), Some("a"), "{html:?}"),
            t if t.starts_with("<a href=\"") => {
                // A link: an http(s) target, escaped, and our rel.
                let target = t
                    .strip_prefix("<a href=\"")
                    .and_then(|r| r.strip_suffix("\" rel=\"nofollow noopener\">"))
                    .unwrap_or_else(|| panic!("foreign link {t:?}"));
                let lower = target.to_ascii_lowercase();
                assert!(
                    (lower.starts_with("http://") || lower.starts_with("https://"))
                        && !target.contains(['"', '<', '>', '\'']),
                    "{t:?}"
                );
                assert!(!open.contains(&"a"), "nested links in {html:?}");
                open.push("a");
            }
            "<mark>" => open.push("mark"),
            "</mark>" => assert_eq!(open.pop(), Some("mark"), "{html:?}"),
            "</span>" => assert_eq!(open.pop(), Some("span"), "{html:?}"),
            t if t.starts_with("<span") => {
                // Classes and computed colours only: nothing from the log.
                let attrs = &t["<span".len()..t.len() - 1];
                assert!(
                    t.len() < 100
                        && (attrs.is_empty() || attrs.starts_with(' '))
                        && attrs
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b" =\"#:;".contains(&b)),
                    "{t:?}"
                );
                open.push("span");
            }
            t => panic!("foreign tag {t:?} in {html:?}"),
        }
    }
    text.push_str(rest);
    assert!(open.is_empty(), "unclosed {open:?} in {html:?}");
    text
}

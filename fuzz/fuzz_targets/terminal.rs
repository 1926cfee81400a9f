//! Terminal output (a CI log: untrusted bytes) rendered line by line as the
//! log view and search do, with matches marked. The HTML can only hold our
//! own tags, balanced, around the escaped visible text; no escape or control
//! byte survives; the output grows at most by a constant factor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wwz::logs::terminal::{Kind, Renderer};

/// Output bytes per input byte, at most: a one-character run after a
/// four-byte SGR sequence costs a `<span …>` of under 100 bytes, its
/// `</span>`, the character escaped (6) and a `<mark>` around it (13).
const GROWTH: usize = 64;

fuzz_target!(|data: &[u8]| {
    // The first byte is what a search looks for (as `?q=` would mark it).
    let Some((&needle, log)) = data.split_first() else {
        return;
    };
    let needle = char::from(needle & 0x7f);
    let mut r = Renderer::new();
    for (i, line) in log.split(|&b| b == b'\n').enumerate() {
        if i % 7 == 6 {
            // A view that starts mid-log.
            r.at_line_start();
        }
        // What a search matches against, from the same carried style.
        let plain = r.clone().plain(line);
        // At most 64 marks a line, as the search's HTML printer takes
        // (`MAX_MARKS`): the renderer's cost grows with marks × characters.
        let marks: Vec<(usize, usize)> = plain
            .match_indices(needle)
            .map(|(at, m)| (at, at + m.len()))
            .take(64)
            .collect();
        let mut out = String::new();
        let kind = r.line(line, &mut out, &marks);
        assert!(
            out.len() <= GROWTH * line.len() + 256,
            "{} bytes from {}",
            out.len(),
            line.len()
        );
        let skip = match kind {
            Kind::Plain => 0,
            Kind::Group => "##[group]".len(),
            Kind::EndGroup => "##[endgroup]".len(),
            Kind::Error => "##[error]".len(),
            Kind::Warning => "##[warning]".len(),
        };
        let text = strip_tags(&out);
        assert_eq!(Some(text.as_str()), plain.get(skip..), "{out:?}");
    }
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

//! The one HTML module for every page wwz writes (listings, log views,
//! searches): escaping, the page shell, and the search box shared by
//! listings and search pages.

use std::fmt::Write;

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(s, &mut out);
    out
}

/// Appends `text` escaped for HTML text and attribute values.
pub fn escape_into(text: &str, out: &mut String) {
    for ch in text.chars() {
        escape_char(ch, out);
    }
}

/// Appends one character, escaped.
pub fn escape_char(ch: char, out: &mut String) {
    match ch {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// Writes the start of a page, up to and including `<body>`: a phone-sized,
/// light-and-dark page titled `title` (already escaped), with `styles`.
pub fn open_page(out: &mut String, title: &str, styles: &[&str]) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>{title}</title>\n<style>"
    );
    for s in styles {
        out.push_str(s);
    }
    out.push_str("</style>\n</head>\n<body>\n");
}

/// The end of every page.
pub const CLOSE_PAGE: &str = "</body>\n</html>\n";

/// The search box, on search pages and every listing: `text` searched for,
/// case-sensitive or not, regular expression or not.
pub fn search_form(text: &str, case: bool, regex: bool) -> String {
    format!(
        "<form class=\"search\" method=\"get\" action=\"./\" role=\"search\">\
         <input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"Search names and contents\" aria-label=\"Search\">\
         <label><input type=\"checkbox\" name=\"case\" value=\"1\"{}> case</label>\
         <label><input type=\"checkbox\" name=\"re\" value=\"1\"{}> regex</label>\
         <button>Search</button></form>",
        escape(text),
        if case { " checked" } else { "" },
        if regex { " checked" } else { "" },
    )
}

/// The search box's style, for every page that has one.
pub const FORM_STYLE: &str = ".search{display:flex;gap:.5em;flex-wrap:wrap;align-items:center;margin:.4em 0}\
.search input[type=search]{flex:1;min-width:12em;font:inherit;padding:.25em}.v{font-size:.85em;margin-left:.6em}.sum{margin:.2em 0}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn shell() {
        let mut out = String::new();
        open_page(&mut out, "T &amp; U", &["a{}", "b{}"]);
        out.push_str(CLOSE_PAGE);
        assert!(out.starts_with("<!doctype html>"));
        assert!(out.contains("<title>T &amp; U</title>\n<style>a{}b{}</style>"));
        assert!(out.ends_with("</body>\n</html>\n"));
    }
}

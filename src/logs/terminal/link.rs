//! Links in terminal output: OSC 8 hyperlinks a program wrote, and bare
//! `http://` / `https://` URLs in the text. Only those two schemes become
//! links (a `javascript:` or `file:` target in a log is the log's author
//! speaking, not the reader's choice); every link carries
//! `rel="nofollow noopener"` and its target is escaped like any attribute.

/// A target longer than this is not linked (the text stays).
pub const MAX_URL: usize = 2048;

/// Whether `url` may be a link's target: `http:` or `https:` (any case),
/// short enough, with no byte that could end an attribute or a URL.
pub fn allowed(url: &str) -> bool {
    let scheme_ok = url
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        || url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    scheme_ok
        && url.len() <= MAX_URL
        && !url
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>'))
}

/// The byte ranges of bare `http://` and `https://` URLs in `text`, in order.
/// A URL ends at whitespace, a quote or angle bracket; trailing punctuation
/// (`.`, `,`, `;`, `:`, `!`, `?`, and a closing bracket with no opening one
/// inside the URL) is left out, as a sentence around a URL reads.
pub fn bare_urls(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(rel) = memchr::memmem::find(bytes.get(from..).unwrap_or_default(), b"http") {
        let start = from + rel;
        from = start + 4;
        let rest = text.get(start..).unwrap_or_default();
        let scheme = if rest.starts_with("https://") {
            8
        } else if rest.starts_with("http://") {
            7
        } else {
            continue;
        };
        // `xhttp://` is not a URL's start.
        if start > 0
            && bytes
                .get(start - 1)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            continue;
        }
        let mut end = start + scheme;
        for c in text.get(end..).unwrap_or_default().chars() {
            if c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '`') {
                break;
            }
            end += c.len_utf8();
        }
        // Trailing punctuation belongs to the sentence, unbalanced brackets too.
        loop {
            let url = text.get(start..end).unwrap_or_default();
            let Some(last) = url.chars().last() else {
                break;
            };
            let drop = match last {
                '.' | ',' | ';' | ':' | '!' | '?' => true,
                ')' => url.matches('(').count() < url.matches(')').count(),
                ']' => url.matches('[').count() < url.matches(']').count(),
                _ => false,
            };
            if !drop {
                break;
            }
            end -= last.len_utf8();
        }
        if end > start + scheme && end - start <= MAX_URL {
            found.push((start, end));
        }
        from = from.max(end);
    }
    found
}

/// Writes the opening tag of a link to `url` (already [`allowed`]).
pub fn open(url: &str, out: &mut String) {
    out.push_str("<a href=\"");
    crate::pages::html::escape_into(url, out);
    out.push_str("\" rel=\"nofollow noopener\">");
}

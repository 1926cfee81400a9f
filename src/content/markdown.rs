//! A page's Markdown twin: `NAME.md` beside `NAME.html` (`dir/index.md`
//! beside `dir/index.html`), the same page for agents that ask for Markdown
//! (`Accept: text/markdown`). One definition for the index, which marks the
//! pages that have a twin, and the service, which negotiates between them.

/// The suffix of a page that may have a twin.
pub const PAGE: &[u8] = b".html";
/// The suffix of a twin.
pub const TWIN: &[u8] = b".md";

/// `NAME` for a twin `NAME.md` (not a directory's, not a bare `.md`).
pub fn stem_of_twin(name: &[u8]) -> Option<&[u8]> {
    name.strip_suffix(TWIN)
        .filter(|stem| !stem.is_empty() && !stem.ends_with(b"/"))
}

/// The twin's name of page `name` (`NAME.html` → `NAME.md`); `None` if
/// `name` is not a page.
pub fn twin_of(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".html")?;
    Some(format!("{stem}.md"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(stem_of_twin(b"dir/index.md"), Some(&b"dir/index"[..]));
        assert_eq!(stem_of_twin(b"dir/.md"), None);
        assert_eq!(stem_of_twin(b"page.mdx"), None);
        assert_eq!(twin_of("page.html").as_deref(), Some("page.md"));
        assert_eq!(twin_of("page.htm"), None);
        assert_eq!(std::str::from_utf8(PAGE).ok(), Some(".html"));
    }
}

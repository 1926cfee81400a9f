//! Content-Type for a member name.

use std::borrow::Cow;

/// The Content-Type for `name`, with `; charset=utf-8` on text types.
/// `None` when the name has no extension, so the caller may look at the bytes.
pub fn for_name(name: &str) -> Option<Cow<'static, str>> {
    if let Some(ct) = extension(name).and_then(common_content_type) {
        return Some(Cow::Borrowed(ct));
    }
    let (mime, text) = media_type(name)?;
    Some(with_charset(mime, text))
}

/// What follows the last `.` of the last segment, unless that `.` starts it.
fn extension(name: &str) -> Option<&str> {
    let base = name
        .rfind('/')
        .map_or(name, |i| name.get(i + 1..).unwrap_or_default());
    match base.rfind('.') {
        Some(dot) if dot > 0 => base.get(dot + 1..),
        _ => None,
    }
}

/// The Content-Type of the extensions of most requests, ready to send: the
/// answer [`media_type`] and [`with_charset`] give, without their searches
/// (this runs for every member served).
fn common_content_type(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "jpg" => "image/jpeg",
        "woff2" => "font/woff2",
        "txt" | "log" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// Adds the charset to text types; the common ones need no allocation.
pub fn with_charset(mime: &'static str, text: bool) -> Cow<'static, str> {
    if !text {
        return Cow::Borrowed(mime);
    }
    Cow::Borrowed(match mime {
        "text/html" => "text/html; charset=utf-8",
        "text/plain" => "text/plain; charset=utf-8",
        "text/css" => "text/css; charset=utf-8",
        "text/javascript" => "text/javascript; charset=utf-8",
        "application/json" => "application/json; charset=utf-8",
        "image/svg+xml" => "image/svg+xml; charset=utf-8",
        "text/markdown" => "text/markdown; charset=utf-8",
        "text/x-diff" => "text/x-diff; charset=utf-8",
        "text/csv" => "text/csv; charset=utf-8",
        "application/xml" => "application/xml; charset=utf-8",
        "text/xml" => "text/xml; charset=utf-8",
        other => return Cow::Owned(format!("{other}; charset=utf-8")),
    })
}

/// Whether the first bytes of an extension-less member look like text:
/// no NUL and valid UTF-8 (a character cut at the end is allowed).
pub fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
    }
}

/// The media type for `name` and whether it takes `; charset=utf-8`; `None` without an extension.
pub fn media_type(name: &str) -> Option<(&'static str, bool)> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ext = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext,
        _ => return None,
    };
    let mime = extra_type(ext)
        .or_else(|| mime_guess::from_ext(ext).first_raw())
        .unwrap_or("application/octet-stream");
    Some((mime, is_text(mime)))
}

/// Types CI artifacts need that the general table lacks or gets wrong for serving.
fn extra_type(ext: &str) -> Option<&'static str> {
    // The common web types first, so most lookups never reach the big table;
    // then the types CI artifacts need that it lacks or gets wrong for serving.
    const TABLE: &[(&str, &str)] = &[
        ("html", "text/html"),
        ("css", "text/css"),
        ("png", "image/png"),
        ("svg", "image/svg+xml"),
        ("json", "application/json"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("webp", "image/webp"),
        ("ico", "image/x-icon"),
        ("woff2", "font/woff2"),
        ("woff", "font/woff"),
        ("htm", "text/html"),
        ("xml", "text/xml"),
        ("pdf", "application/pdf"),
        ("bin", "application/octet-stream"),
        ("log", "text/plain"),
        ("out", "text/plain"),
        ("txt", "text/plain"),
        ("text", "text/plain"),
        ("csv", "text/csv"),
        ("diff", "text/x-diff"),
        ("patch", "text/x-diff"),
        ("md", "text/markdown"),
        ("markdown", "text/markdown"),
        ("wasm", "application/wasm"),
        ("js", "text/javascript"),
        ("mjs", "text/javascript"),
    ];
    TABLE
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, mime)| *mime)
}

fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "image/svg+xml"
                | "application/xhtml+xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "application/manifest+json"
        )
}

/// Whether a browser may run scripts in a document of this Content-Type:
/// HTML, and XML of any kind (XHTML, SVG, or any XML naming an XSLT
/// stylesheet, which may write HTML).
pub fn is_active(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let is = |t: &str| essence.eq_ignore_ascii_case(t);
    is("text/html")
        || is("text/xml")
        || is("application/xml")
        || is("text/xsl")
        || essence
            .get(essence.len().saturating_sub(4)..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case("+xml"))
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn active_types_run_scripts() {
        for t in [
            "text/html; charset=utf-8",
            "application/xhtml+xml",
            "image/svg+xml",
            "application/xml",
            "text/xml; charset=utf-8",
            "application/rss+xml",
        ] {
            assert!(is_active(t), "{t}");
        }
        for t in [
            "text/plain; charset=utf-8",
            "application/json",
            "image/png",
            "text/css",
        ] {
            assert!(!is_active(t), "{t}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_tables() {
        for ext in [
            "html", "css", "js", "png", "svg", "json", "jpg", "woff2", "txt", "log",
        ] {
            let name = format!("a/b.{ext}");
            let (mime, text) = media_type(&name).unwrap();
            assert_eq!(
                common_content_type(ext),
                Some(&*with_charset(mime, text)),
                "{ext}"
            );
            assert_eq!(extension(&name), Some(ext));
        }
        assert_eq!(extension(".hidden"), None);
        assert_eq!(extension("dir.d/Makefile"), None);
        assert_eq!(extension("a/.x"), None);
        assert_eq!(extension("a."), Some(""));
    }

    #[test]
    fn common_types() {
        let ct = |n: &str| for_name(n).map(|c| c.into_owned());
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(ct("index.html"), some("text/html; charset=utf-8"));
        assert_eq!(ct("a/b/site.css"), some("text/css; charset=utf-8"));
        assert_eq!(ct("app.js"), some("text/javascript; charset=utf-8"));
        assert_eq!(ct("logs/build.log"), some("text/plain; charset=utf-8"));
        assert_eq!(ct("test.out"), some("text/plain; charset=utf-8"));
        assert_eq!(ct("fix.patch"), some("text/x-diff; charset=utf-8"));
        assert_eq!(ct("a.diff"), some("text/x-diff; charset=utf-8"));
        assert_eq!(ct("README.md"), some("text/markdown; charset=utf-8"));
        assert_eq!(ct("t.csv"), some("text/csv; charset=utf-8"));
        assert_eq!(ct("x.PNG"), some("image/png"));
        assert_eq!(ct("data.json"), some("application/json; charset=utf-8"));
        assert_eq!(ct("logo.svg"), some("image/svg+xml; charset=utf-8"));
        assert_eq!(ct("feed.xml"), some("text/xml; charset=utf-8"));
        assert_eq!(ct("mod.wasm"), some("application/wasm"));
        assert_eq!(ct("a.unknownext"), some("application/octet-stream"));
        assert_eq!(ct(".hidden"), None);
        assert_eq!(ct("Makefile"), None);
    }

    #[test]
    fn fast_table_agrees_with_mime_guess() {
        // `woff` is left out on purpose: font/woff (RFC 8081) replaces application/font-woff.
        for ext in [
            "html", "css", "png", "svg", "json", "jpg", "jpeg", "gif", "webp", "ico", "woff2",
            "htm", "xml", "pdf",
        ] {
            assert_eq!(
                extra_type(ext),
                mime_guess::from_ext(ext).first_raw(),
                "{ext}"
            );
        }
        assert_eq!(extra_type("woff"), Some("font/woff"));
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_text(b"plain log line\n"));
        assert!(looks_like_text("caf\u{e9}".as_bytes()));
        assert!(looks_like_text(&"\u{e9}".as_bytes()[..1]));
        assert!(!looks_like_text(b"\x7fELF\x02\x01\x01\0"));
        assert!(!looks_like_text(b"\xff\xfe\xfd garbage"));
        assert!(looks_like_text(b""));
    }
}

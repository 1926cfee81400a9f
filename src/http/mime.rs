//! Content-Type for a member name.

/// The media type for `name` and whether it takes `; charset=utf-8`.
pub fn content_type(name: &str) -> (&'static str, bool) {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ext = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext,
        _ => return ("application/octet-stream", false),
    };
    let mime = extra_type(ext)
        .or_else(|| mime_guess::from_ext(ext).first_raw())
        .unwrap_or("application/octet-stream");
    (mime, is_text(mime))
}

/// Types CI artifacts need that the general table lacks or gets wrong for serving.
fn extra_type(ext: &str) -> Option<&'static str> {
    let lower = ext.to_ascii_lowercase();
    Some(match lower.as_str() {
        "log" | "out" | "txt" | "text" => "text/plain",
        "diff" | "patch" => "text/x-diff",
        "md" | "markdown" => "text/markdown",
        "wasm" => "application/wasm",
        "js" | "mjs" => "text/javascript",
        _ => return None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types() {
        assert_eq!(content_type("index.html"), ("text/html", true));
        assert_eq!(content_type("a/b/site.css"), ("text/css", true));
        assert_eq!(content_type("app.js"), ("text/javascript", true));
        assert_eq!(content_type("logs/build.log"), ("text/plain", true));
        assert_eq!(content_type("x.PNG"), ("image/png", false));
        assert_eq!(content_type("data.json"), ("application/json", true));
        assert_eq!(content_type("logo.svg"), ("image/svg+xml", true));
        assert_eq!(content_type("mod.wasm"), ("application/wasm", false));
        assert_eq!(content_type(".hidden"), ("application/octet-stream", false));
        assert_eq!(content_type("noext"), ("application/octet-stream", false));
    }
}

//! Directory listings: HTML for people (escaped, breadcrumbs, phone-sized,
//! light and dark) and JSON for scripts. Rendered in one pass over the
//! directory's children.

use std::fmt::Write;

use crate::time::{iso8601, to_minute};
use crate::zip::format::METHOD_STORED;
use crate::zip::Child;

use super::url;

/// Where the listing is: the URL path segments of the archive (relative to
/// the docroot) and the directory inside it (empty or ending in `/`).
pub struct Place<'a> {
    pub archive: &'a str,
    pub dir: &'a str,
}

impl Place<'_> {
    /// The URL path of the listed directory, for titles.
    fn path(&self) -> String {
        format!("/{}/{}", self.archive, self.dir)
    }

    /// Path segments from the docroot down to the listed directory.
    fn segments(&self) -> Vec<&str> {
        self.archive
            .split('/')
            .chain(self.dir.split('/'))
            .filter(|s| !s.is_empty())
            .collect()
    }
}

pub fn html(place: &Place<'_>, children: &[Child<'_>], mtime_of: impl Fn(i64) -> i64) -> String {
    let mut out = String::with_capacity(1024 + children.len() * 160);
    let title = escape(&place.path());
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>Index of {title}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1 class=\"crumbs\">"
    );
    let segments = place.segments();
    let depth = segments.len();
    let _ = write!(out, "<a href=\"{}\">/</a>", up(depth));
    for (k, seg) in segments.iter().enumerate() {
        let last = k + 1 == depth;
        if last {
            let _ = write!(out, "<span>{}</span>/", escape(seg));
        } else {
            let _ = write!(
                out,
                "<a href=\"{}\">{}</a>/",
                up(depth - 1 - k),
                escape(seg)
            );
        }
    }
    out.push_str("</h1>\n<table>\n<thead><tr><th>Name</th><th class=\"n\">Size</th><th>Modified (UTC)</th></tr></thead>\n<tbody>\n");
    if depth > 1 {
        out.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for child in children {
        match child {
            Child::Dir(name) => {
                let name = String::from_utf8_lossy(name);
                let _ = writeln!(
                    out,
                    "<tr class=\"d\"><td><a href=\"{}/\">{}/</a></td><td class=\"n\">—</td><td></td></tr>",
                    href(&name),
                    escape(&name)
                );
            }
            Child::File(name, entry) => {
                let name = String::from_utf8_lossy(name);
                let _ = writeln!(
                    out,
                    "<tr><td><a href=\"{}\">{}</a></td><td class=\"n\" title=\"{} bytes\">{}</td><td>{}</td></tr>",
                    href(&name),
                    escape(&name),
                    entry.size(),
                    human_size(entry.size()),
                    to_minute(mtime_of(entry.mtime()))
                );
            }
        }
    }
    let n = children.len();
    let noun = if n == 1 { "entry" } else { "entries" };
    let _ = write!(
        out,
        "</tbody>\n</table>\n<footer>{n} {noun}</footer>\n</body>\n</html>\n"
    );
    out
}

pub fn json(place: &Place<'_>, children: &[Child<'_>], mtime_of: impl Fn(i64) -> i64) -> String {
    let mut out = String::with_capacity(64 + children.len() * 120);
    out.push_str("{\"path\":");
    json_str(&mut out, &place.path());
    out.push_str(",\"entries\":[");
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match child {
            Child::Dir(name) => {
                out.push_str("{\"name\":");
                json_str(&mut out, &String::from_utf8_lossy(name));
                out.push_str(",\"type\":\"directory\"}");
            }
            Child::File(name, entry) => {
                out.push_str("{\"name\":");
                json_str(&mut out, &String::from_utf8_lossy(name));
                let method = if entry.method() == METHOD_STORED {
                    "stored"
                } else {
                    "deflated"
                };
                let t = mtime_of(entry.mtime());
                let _ = write!(
                    out,
                    ",\"type\":\"file\",\"size\":{},\"compressed_size\":{},\"method\":\"{method}\",\"mtime\":{t},\"modified\":\"{}\"}}",
                    entry.size(),
                    entry.compressed_size(),
                    iso8601(t)
                );
            }
        }
    }
    out.push_str("]}\n");
    out
}

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fff;--dim:#666;--line:#e5e5e5;--link:#0b57d0}\
@media (prefers-color-scheme:dark){:root{--fg:#e4e4e4;--bg:#141414;--dim:#999;--line:#2c2c2c;--link:#8ab4f8}}\
body{font:15px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:60em;padding:1em}\
h1{font-size:1.15em;font-weight:600;word-break:break-all}a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid var(--line)}\
th{color:var(--dim);font-weight:500}td:first-child{word-break:break-all}.n{text-align:right;white-space:nowrap}\
td:last-child{white-space:nowrap;color:var(--dim)}tr.d a{font-weight:600}footer{color:var(--dim);margin-top:1em;font-size:.9em}\
@media (max-width:40em){td:last-child,th:last-child{display:none}}";

/// `../` repeated `n` times, or `./` for zero.
fn up(n: usize) -> String {
    if n == 0 {
        "./".into()
    } else {
        "../".repeat(n)
    }
}

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    crate::ansi::escape_into(s, &mut out);
    out
}

/// A link to one path segment, for an `href` attribute.
fn href(name: &str) -> String {
    url::segment(name, url::Context::HtmlAttribute)
}

pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(crate) fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = n as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_links() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(href("a b?#%.txt"), "./a%20b%3F%23%25.txt");
        assert_eq!(href("c:d"), "./c:d");
        assert_eq!(href("<x>\"'"), "./%3Cx%3E%22%27");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
    }

    #[test]
    fn breadcrumbs_are_relative() {
        let place = Place {
            archive: "jobs/1234.wwz",
            dir: "logs/a/",
        };
        let page = html(&place, &[], |t| t);
        assert!(page.contains("<a href=\"../../../../\">/</a>"), "{page}");
        assert!(page.contains("<a href=\"../../../\">jobs</a>/"));
        assert!(page.contains("<a href=\"../../\">1234.wwz</a>/"));
        assert!(page.contains("<a href=\"../\">logs</a>/"));
        assert!(page.contains("<span>a</span>/"));
    }

    #[test]
    fn json_escapes() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\n");
        assert_eq!(s, "\"a\\\"b\\\\c\\u000a\"");
    }
}

//! Directory listings: HTML for people (escaped, breadcrumbs, phone-sized,
//! light and dark) and JSON for scripts. Rendered in one pass over the
//! directory's children.

use std::fmt::Write;

use crate::http::query::Sort;
use crate::http::Query;
use crate::util::time::{iso8601, to_minute};
use crate::zip::format::METHOD_STORED;
use crate::zip::Child;

use super::html::{self, escape};
use crate::util::json::json_str;
use crate::util::percent;

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

/// What a listing shows beyond the directory's own children: each
/// subdirectory's entry count and total size, the archive's totals, the
/// order asked for (`?sort=name|size|time`, `&order=desc`), and which
/// members are test reports.
#[derive(Debug, Default)]
pub struct Extras {
    /// Per subdirectory name (no slash): members below it and their total size.
    dirs: hashbrown::HashMap<Vec<u8>, (u64, u64)>,
    members: u64,
    bytes: u64,
    sort: Sort,
    desc: bool,
    /// Names of the children that are test reports (a "report" badge).
    reports: hashbrown::HashSet<Vec<u8>>,
}

/// Children a listing asks [`Extras::with_reports`] about at most: asking
/// may read a member's first bytes.
const MAX_ASKED: usize = 1000;

impl Extras {
    /// One pass over the index's entries.
    pub fn new(index: &crate::zip::Index, dir: &str, query: &Query) -> Extras {
        let mut x = Extras::default();
        for e in index.entries() {
            let name = index.name_of(e);
            if name.ends_with(b"/") {
                continue;
            }
            x.members += 1;
            x.bytes = x.bytes.saturating_add(e.size());
            let Some(rest) = name.strip_prefix(dir.as_bytes()) else {
                continue;
            };
            if let Some(slash) = rest.iter().position(|&b| b == b'/') {
                let sub = rest.get(..slash).unwrap_or_default();
                let t = x.dirs.entry(sub.to_vec()).or_insert((0, 0));
                t.0 += 1;
                t.1 = t.1.saturating_add(e.size());
            }
        }
        x.sort = query.sort;
        x.desc = query.descending;
        x
    }

    /// Marks the files among `children` that `is_report` says are test
    /// reports (asked for at most [`MAX_ASKED`] `.xml` files).
    pub fn with_reports(
        mut self,
        children: &[Child<'_>],
        is_report: impl Fn(&str, &crate::zip::Entry) -> bool,
    ) -> Extras {
        let xml = children.iter().filter_map(|c| match c {
            Child::File(name, entry) if name.to_ascii_lowercase().ends_with(b".xml") => {
                Some((name, entry))
            }
            _ => None,
        });
        for (name, entry) in xml.take(MAX_ASKED) {
            if is_report(&String::from_utf8_lossy(name), entry) {
                self.reports.insert(name.to_vec());
            }
        }
        self
    }

    fn dir(&self, name: &[u8]) -> (u64, u64) {
        self.dirs.get(name).copied().unwrap_or((0, 0))
    }

    /// Orders `children` as asked: directories first, then files.
    fn order<'a>(&self, children: &[Child<'a>]) -> Vec<Child<'a>> {
        let mut v = children.to_vec();
        let key = |c: &Child<'_>| -> (u8, u64) {
            match (c, self.sort) {
                (Child::Dir(n), Sort::Size) => (0, self.dir(n).1),
                (Child::Dir(_), _) => (0, 0),
                (Child::File(_, e), Sort::Size) => (1, e.size()),
                (Child::File(_, e), Sort::Time) => (1, u64::try_from(e.mtime()).unwrap_or(0)),
                (Child::File(..), Sort::Name) => (1, 0),
            }
        };
        let name = |c: &Child<'a>| match c {
            Child::Dir(n) | Child::File(n, _) => *n,
        };
        v.sort_by(|a, b| {
            let (ka, kb) = (key(a), key(b));
            let within = ka.1.cmp(&kb.1).then_with(|| name(a).cmp(name(b)));
            ka.0.cmp(&kb.0)
                .then(if self.desc { within.reverse() } else { within })
        });
        v
    }

    /// A column heading that sorts by `sort`, toggling the order when already sorted by it.
    fn heading(&self, label: &str, sort: Sort, key: &str) -> String {
        let desc = self.sort == sort && !self.desc;
        let arrow = match (self.sort == sort, self.desc) {
            (true, false) => " ↑",
            (true, true) => " ↓",
            _ => "",
        };
        format!(
            "<a href=\"?sort={key}{}\">{label}{arrow}</a>",
            if desc { "&amp;order=desc" } else { "" }
        )
    }
}

/// Whether a member reads as text in a browser: a text type, or no extension
/// (CI logs often have none); such members get a log-view link.
fn text_like(name: &str) -> bool {
    match crate::content::mime::media_type(name) {
        Some((_, text)) => text,
        None => true,
    }
}

pub fn html(place: &Place<'_>, children: &[Child<'_>], mtime_of: impl Fn(i64) -> i64) -> String {
    html_with(place, children, mtime_of, &Extras::default())
}

pub fn html_with(
    place: &Place<'_>,
    children: &[Child<'_>],
    mtime_of: impl Fn(i64) -> i64,
    extras: &Extras,
) -> String {
    let children = extras.order(children);
    let mut out = String::with_capacity(1024 + children.len() * 160);
    let title = escape(&place.path());
    html::open_page(
        &mut out,
        &format!("Index of {title}"),
        &[STYLE, html::FORM_STYLE],
    );
    out.push_str("<h1 class=\"crumbs\">");
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
    out.push_str("</h1>\n");
    if extras.members > 0 {
        let _ = writeln!(
            out,
            "<p class=\"sum\">The archive holds {} members, {} ({} bytes).</p>",
            extras.members,
            human_size(extras.bytes),
            extras.bytes
        );
    }
    // The whole directory (subdirectories too) as one zip: `DIR/?zip`.
    out.push_str("<p class=\"sum\"><a href=\"./?zip\">Download as zip</a></p>\n");
    out.push_str(&html::search_form("", false, false));
    if !extras.reports.is_empty() {
        out.push_str("\n<p class=\"sum\"><a href=\"?tests\">The test reports here, summed</a></p>");
    }
    let _ = write!(
        out,
        "\n<table>\n<thead><tr><th>{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        extras.heading("Name", Sort::Name, "name"),
        extras.heading("Size", Sort::Size, "size"),
        extras.heading("Modified (UTC)", Sort::Time, "time"),
    );
    if depth > 1 {
        out.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for child in &children {
        match child {
            Child::Dir(raw) => {
                let name = String::from_utf8_lossy(raw);
                let (n, bytes) = extras.dir(raw);
                let stats = if n == 0 {
                    "—".to_string()
                } else {
                    format!(
                        "<span title=\"{bytes} bytes\">{n} {} · {}</span>",
                        if n == 1 { "entry" } else { "entries" },
                        human_size(bytes)
                    )
                };
                let _ = writeln!(
                    out,
                    "<tr class=\"d\"><td><a href=\"{}/\">{}/</a></td><td class=\"n\">{stats}</td><td></td></tr>",
                    href(&name),
                    escape(&name)
                );
            }
            Child::File(raw, entry) => {
                let name = String::from_utf8_lossy(raw);
                let link = href(&name);
                let view = if extras.reports.contains(*raw) {
                    format!(" <a class=\"v rep\" href=\"{link}?view\">report</a>")
                } else if text_like(&name) {
                    format!(" <a class=\"v\" href=\"{link}?view\">view</a>")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "<tr><td><a href=\"{link}\">{}</a>{view}</td><td class=\"n\" title=\"{} bytes\">{}</td><td>{}</td></tr>",
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
    let _ = write!(out, "</tbody>\n</table>\n<footer>{n} {noun}</footer>\n");
    out.push_str(html::CLOSE_PAGE);
    out
}

pub fn json(place: &Place<'_>, children: &[Child<'_>], mtime_of: impl Fn(i64) -> i64) -> String {
    let mut out = String::with_capacity(64 + children.len() * 120);
    out.push_str("{\"path\":");
    json_str(&mut out, &place.path());
    // Relative to the listing's URL, like every link wwz makes.
    out.push_str(",\"zip\":\"./?zip\",\"entries\":[");
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
td:last-child{white-space:nowrap;color:var(--dim)}tr.d a{font-weight:600}.rep{font-weight:600;color:#fff;background:#1a7f37;padding:0 .35em;border-radius:.3em}footer{color:var(--dim);margin-top:1em;font-size:.9em}\
@media (max-width:40em){td:last-child,th:last-child{display:none}}";

/// `../` repeated `n` times, or `./` for zero.
fn up(n: usize) -> String {
    if n == 0 {
        "./".into()
    } else {
        "../".repeat(n)
    }
}

/// A link to one path segment, for an `href` attribute.
fn href(name: &str) -> String {
    percent::segment(name, percent::Context::HtmlAttribute)
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
        format!("{size:.1} {}", UNITS.get(unit).unwrap_or(&"B"))
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
        assert!(page.contains("<a href=\"./?zip\">Download as zip</a>"));
        assert!(json(&place, &[], |t| t).contains("\"zip\":\"./?zip\""));
    }
}

//! From request parameters to (docroot, archive, member).
//!
//! Web servers disagree on SCRIPT_NAME, SCRIPT_FILENAME and PATH_INFO, so the
//! router derives everything from one decoded URL path:
//!
//! 1. SCRIPT_FILENAME + PATH_INFO, when the server already split at a `.wwz`
//!    file inside the docroot (mod_fcgid, lighttpd, nginx with
//!    `fastcgi_split_path_info`, HAProxy `path-info`, Caddy `split`); both
//!    are decoded already.
//! 2. Else REQUEST_URI without its query, percent-decoded exactly once (nginx
//!    without a split, mod_proxy_fcgi, Caddy without `split`, CGI).
//! 3. Else DOCUMENT_URI, then SCRIPT_NAME + PATH_INFO (decoded already).
//!
//! The path is then checked (UTF-8, no NUL, backslash or control bytes, no
//! `..` segment), `//` and `/./` are folded, and it is split after the first
//! segment ending in `.wwz`. The cache confines the archive to the docroot
//! again after resolving symlinks.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::Params;
use crate::zip::name::{self, Segment};

/// Why a request has no archive to go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// The path is malformed or hostile (400).
    BadPath(&'static str),
    /// The path names no `.wwz` archive (404).
    NoArchive,
    /// Neither `--docroot` nor DOCUMENT_ROOT gives a docroot (500: a configuration fault).
    NoDocroot,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    pub docroot: &'a Path,
    /// The normalised path: `/` + archive path [+ `/` + member path].
    path: Cow<'a, str>,
    /// End of the archive part of `path`.
    archive_end: usize,
}

impl<'a> Route<'a> {
    /// The archive, relative to the docroot: `jobs/1234.wwz`.
    pub fn archive(&self) -> &str {
        self.path.get(1..self.archive_end).unwrap_or_default()
    }

    /// The member path inside the archive, `""` for the archive root; a
    /// directory request keeps its trailing `/`.
    pub fn member(&self) -> &str {
        let rest = self.path.get(self.archive_end..).unwrap_or_default();
        rest.strip_prefix('/').unwrap_or(rest)
    }

    /// Whether the URL named the archive itself without a trailing slash.
    pub fn is_bare_archive(&self) -> bool {
        self.path.len() == self.archive_end
    }

    /// The last segment of the archive path (for relative redirects).
    pub fn archive_name(&self) -> &str {
        let a = self.archive();
        a.rsplit('/').next().unwrap_or(a)
    }
}

const ARCHIVE_SUFFIX: &str = ".wwz";

/// Routes a request; `docroot` is `--docroot` when given.
pub fn route<'a, P: Params + ?Sized>(
    params: &'a P,
    docroot: Option<&'a Path>,
) -> Result<Route<'a>, RouteError> {
    let docroot = match docroot {
        Some(d) => d,
        None => params
            .param("DOCUMENT_ROOT")
            .filter(|d| d.first() == Some(&b'/'))
            .map(|d| Path::new(OsStr::from_bytes(d)))
            .ok_or(RouteError::NoDocroot)?,
    };
    let raw = url_path(params, docroot)?;
    let (path, archive_end) = normalise(raw)?;
    Ok(Route {
        docroot,
        path,
        archive_end,
    })
}

/// The decoded URL path below the docroot, from whichever parameters the server sent.
fn url_path<'a, P: Params + ?Sized>(
    params: &'a P,
    docroot: &Path,
) -> Result<Cow<'a, [u8]>, RouteError> {
    let path_info = params.param("PATH_INFO").unwrap_or_default();
    if let Some(script) = params.param("SCRIPT_FILENAME") {
        let root = trim_trailing_slashes(docroot.as_os_str().as_bytes());
        if let Some(rest) = script.strip_prefix(root) {
            if rest.starts_with(b"/") && rest.ends_with(ARCHIVE_SUFFIX.as_bytes()) {
                return Ok(concat(rest, path_info));
            }
        }
    }
    if let Some(uri) = params.param("REQUEST_URI") {
        let end = uri
            .iter()
            .position(|&b| b == b'?' || b == b'#')
            .unwrap_or(uri.len());
        return percent_decode(uri.get(..end).unwrap_or_default());
    }
    if let Some(uri) = params.param("DOCUMENT_URI") {
        return Ok(Cow::Borrowed(uri));
    }
    let script_name = params.param("SCRIPT_NAME").unwrap_or_default();
    if script_name.is_empty() && path_info.is_empty() {
        return Err(RouteError::BadPath("no request path"));
    }
    Ok(concat(script_name, path_info))
}

fn trim_trailing_slashes(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b'/'] = b {
        b = rest;
    }
    b
}

fn concat<'a>(a: &'a [u8], b: &'a [u8]) -> Cow<'a, [u8]> {
    if b.is_empty() {
        Cow::Borrowed(a)
    } else {
        Cow::Owned([a, b].concat())
    }
}

/// Decodes `%XX` escapes once; a malformed escape is a bad request.
pub fn percent_decode(s: &[u8]) -> Result<Cow<'_, [u8]>, RouteError> {
    if !s.contains(&b'%') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let (hex, tail) = tail
                .split_first_chunk::<2>()
                .ok_or(RouteError::BadPath("truncated percent escape"))?;
            let hi = hex_val(hex[0]).ok_or(RouteError::BadPath("bad percent escape"))?;
            let lo = hex_val(hex[1]).ok_or(RouteError::BadPath("bad percent escape"))?;
            out.push(hi << 4 | lo);
            rest = tail;
        } else {
            out.push(b);
            rest = tail;
        }
    }
    Ok(Cow::Owned(out))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Checks a decoded path and folds `//` and `/./`; returns it and the end of
/// the archive part.
fn normalise(raw: Cow<'_, [u8]>) -> Result<(Cow<'_, str>, usize), RouteError> {
    let path: Cow<'_, str> = match raw {
        Cow::Borrowed(b) => {
            Cow::Borrowed(std::str::from_utf8(b).map_err(|_| RouteError::BadPath("not UTF-8"))?)
        }
        Cow::Owned(v) => {
            Cow::Owned(String::from_utf8(v).map_err(|_| RouteError::BadPath("not UTF-8"))?)
        }
    };
    if !path.starts_with('/') {
        return Err(RouteError::BadPath("path does not start with /"));
    }
    let bytes = path.as_bytes();
    if let Some(why) = name::byte_problem(bytes) {
        return Err(RouteError::BadPath(why));
    }
    // One pass over the segments: refuse `..`, note what needs folding (`.`,
    // and empty segments other than a trailing slash), find the archive.
    let mut clean = true;
    let mut archive_end = None;
    let mut end = 0;
    let last = bytes.len().saturating_sub(1);
    for seg in bytes.split(|&b| b == b'/').skip(1) {
        end += 1 + seg.len();
        match Segment::of(seg) {
            Segment::Parent => return Err(RouteError::BadPath("'..' segment")),
            Segment::Current => clean = false,
            Segment::Empty if end <= last => clean = false,
            _ => {}
        }
        if archive_end.is_none() && seg.ends_with(ARCHIVE_SUFFIX.as_bytes()) {
            archive_end = Some(end);
        }
    }
    if clean {
        return match archive_end {
            Some(end) => Ok((path, end)),
            None => Err(RouteError::NoArchive),
        };
    }
    let mut out = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty() && *s != ".") {
        out.push('/');
        out.push_str(seg);
    }
    if path.ends_with('/') || path.ends_with("/.") || out.is_empty() {
        out.push('/');
    }
    let path: Cow<'_, str> = Cow::Owned(out);
    let mut end = 0;
    for seg in path.split('/').skip(1) {
        end += 1 + seg.len();
        if seg.ends_with(ARCHIVE_SUFFIX) {
            return Ok((path, end));
        }
    }
    Err(RouteError::NoArchive)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/srv/www";

    fn uri(u: &str) -> Result<(String, String), RouteError> {
        let params = [("DOCUMENT_ROOT", ROOT), ("REQUEST_URI", u)];
        route(&params, None).map(|r| (r.archive().to_owned(), r.member().to_owned()))
    }

    fn ok(a: &str, m: &str) -> Result<(String, String), RouteError> {
        Ok((a.to_owned(), m.to_owned()))
    }

    #[test]
    fn plain_paths() {
        assert_eq!(
            uri("/jobs/1234.wwz/logs/build.txt"),
            ok("jobs/1234.wwz", "logs/build.txt")
        );
        assert_eq!(uri("/site.wwz/"), ok("site.wwz", ""));
        assert_eq!(uri("/site.wwz/docs/"), ok("site.wwz", "docs/"));
        assert_eq!(uri("/site.wwz/a.html?x=1#f"), ok("site.wwz", "a.html"));
        assert_eq!(uri("/a%20b.wwz/c%20d.txt"), ok("a b.wwz", "c d.txt"));
        assert_eq!(uri("/x.wwz/inner.wwz/y"), ok("x.wwz", "inner.wwz/y"));
        assert_eq!(uri("/%E2%9C%93.wwz/%C3%A9"), ok("✓.wwz", "é"));
        let params = [("DOCUMENT_ROOT", ROOT), ("REQUEST_URI", "/site.wwz")];
        let r = route(&params, None).unwrap();
        assert!(r.is_bare_archive());
        assert_eq!(r.archive_name(), "site.wwz");
    }

    #[test]
    fn hostile_paths() {
        let bad = [
            "/../etc/passwd.wwz/x",
            "/x.wwz/../../etc/passwd",
            "/x.wwz/a/../../b",
            "/%2e%2e/etc.wwz/x",
            "/%2E%2E/%2E%2E/etc.wwz/a",
            "/x.wwz/%2e%2e/%2e%2e/y",
            "/a/..%2f..%2fsecret.wwz/x",
            "/x.wwz/..%5c..%5cwin.ini",
            "/x.wwz/a%5cb",
            "/x.wwz\\..\\y",
            "/x.wwz/a%00.txt",
            "/x%00.wwz/a",
            "/x.wwz/%",
            "/x.wwz/%4",
            "/x.wwz/%zz",
            "/x.wwz/%c0%ae%c0%ae/etc",
            "/x.wwz/%ff",
            "/x.wwz/%0a",
            "/x.wwz/%1b[31m",
            "/x.wwz/%7f",
            "x.wwz/relative",
            "*",
            "/..",
            "/x.wwz/..",
            "/x.wwz/%2e%2e",
            "/x.wwz/.%2e/y",
            "/x.wwz/%252e%252e/%00",
            "/x.wwz/a/b/../../../../etc/passwd",
            "/x.wwz/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "/x.wwz/..%2f",
            "/x.wwz/%c2%85next-line",
            "/x.wwz/tab%09name",
            "/x.wwz/%e2%80",
            "/x.wwz/\\server\\share",
            "/.wwz/../x",
        ];
        for p in bad {
            assert!(
                matches!(
                    uri(p),
                    Err(RouteError::BadPath(_)) | Err(RouteError::NoArchive)
                ),
                "{p:?} gave {:?}",
                uri(p)
            );
        }
        // Double encoding is decoded once: what remains is a literal name, not a traversal.
        assert_eq!(uri("/x.wwz/%252e%252e/y"), ok("x.wwz", "%2e%2e/y"));
    }

    #[test]
    fn folding_and_non_archives() {
        assert_eq!(uri("//x.wwz//a///b"), ok("x.wwz", "a/b"));
        assert_eq!(uri("/./x.wwz/./a/./b/."), ok("x.wwz", "a/b/"));
        assert_eq!(uri("/x.wwz/."), ok("x.wwz", ""));
        assert_eq!(uri("/"), Err(RouteError::NoArchive));
        assert_eq!(uri("/x.wwz.bak/a"), Err(RouteError::NoArchive));
        assert_eq!(uri("/x.wwz./a"), Err(RouteError::NoArchive));
        assert_eq!(uri("/x.WWZ/a"), Err(RouteError::NoArchive));
        assert_eq!(uri("/index.html"), Err(RouteError::NoArchive));
        assert_eq!(
            uri(&format!("/{}.wwz/a", "d/".repeat(2000))).unwrap().1,
            "a"
        );
    }

    #[test]
    fn server_shapes() {
        // nginx with fastcgi_split_path_info, mod_fcgid, lighttpd: decoded, split at the archive.
        let split = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", "/srv/www/jobs/1 2.wwz"),
            ("PATH_INFO", "/logs/a b.txt"),
            ("REQUEST_URI", "/jobs/1%202.wwz/logs/a%20b.txt"),
        ];
        let r = route(&split, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("jobs/1 2.wwz", "logs/a b.txt"));

        // mod_proxy_fcgi: SCRIPT_FILENAME is a proxy URL; REQUEST_URI is what counts.
        let proxy = [
            ("DOCUMENT_ROOT", ROOT),
            (
                "SCRIPT_FILENAME",
                "proxy:fcgi://127.0.0.1:9000/srv/www/x.wwz/a%20b",
            ),
            ("REQUEST_URI", "/x.wwz/a%20b"),
        ];
        let r = route(&proxy, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("x.wwz", "a b"));

        // Caddy without split: SCRIPT_FILENAME is the docroot, PATH_INFO everything.
        let caddy = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", ROOT),
            ("SCRIPT_NAME", ""),
            ("PATH_INFO", "/x.wwz/p.html"),
        ];
        let r = route(&caddy, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("x.wwz", "p.html"));

        // CGI through Apache Action: SCRIPT_FILENAME is the program itself.
        let cgi = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", "/usr/lib/cgi-bin/wwz"),
            ("PATH_INFO", "/x.wwz/p.html"),
            ("REQUEST_URI", "/x.wwz/p.html"),
        ];
        let r = route(&cgi, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("x.wwz", "p.html"));

        // nginx without split and no REQUEST_URI: DOCUMENT_URI is decoded already.
        let doc_uri = [("DOCUMENT_ROOT", ROOT), ("DOCUMENT_URI", "/x.wwz/100%.txt")];
        let r = route(&doc_uri, None).unwrap();
        assert_eq!(r.member(), "100%.txt");

        // SCRIPT_FILENAME outside the docroot is not trusted for the split.
        let outside = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", "/etc/x.wwz"),
            ("PATH_INFO", "/passwd"),
            ("REQUEST_URI", "/y.wwz/z"),
        ];
        let r = route(&outside, None).unwrap();
        assert_eq!((r.archive(), r.member()), ("y.wwz", "z"));

        // A split whose PATH_INFO smuggles a traversal is still refused.
        let smuggle = [
            ("DOCUMENT_ROOT", ROOT),
            ("SCRIPT_FILENAME", "/srv/www/x.wwz"),
            ("PATH_INFO", "/../../etc/passwd"),
        ];
        assert!(matches!(route(&smuggle, None), Err(RouteError::BadPath(_))));
    }

    #[test]
    fn docroot_sources() {
        let none = [("REQUEST_URI", "/x.wwz/a")];
        assert_eq!(route(&none, None), Err(RouteError::NoDocroot));
        let relative = [("DOCUMENT_ROOT", "www"), ("REQUEST_URI", "/x.wwz/a")];
        assert_eq!(route(&relative, None), Err(RouteError::NoDocroot));
        let fixed = Path::new("/data");
        let r = route(&relative, Some(fixed)).unwrap();
        assert_eq!(r.docroot, fixed);
        // A fixed docroot wins over what the server says.
        let other = [("DOCUMENT_ROOT", "/elsewhere"), ("REQUEST_URI", "/x.wwz/a")];
        assert_eq!(route(&other, Some(fixed)).unwrap().docroot, fixed);
    }
}

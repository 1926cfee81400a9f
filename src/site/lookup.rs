//! Which member answers a path, as static-site hosts (GitLab Pages,
//! Netlify, GitHub Pages, Cloudflare Pages) decide it: the member itself;
//! for a directory its `index.html` or `index.htm`; with clean URLs
//! `PATH.html`; and the redirects of the URL policy ([`super::policy`]:
//! a directory named without its slash, a page's other URLs). And which
//! error page answers a 404 or 403: the nearest `404.html` (`403.html`)
//! going up from the requested directory to the archive root.

use std::borrow::Cow;

use super::policy::{self, Answer, Direct, Names, Policy};
use crate::zip::{Entry, Index};

/// Largest error page served; a bigger one gives the short built-in page.
pub const MAX_ERROR_PAGE: u64 = 1 << 20;

/// What a path leads to.
#[derive(Debug)]
pub enum Found<'a> {
    /// A member to serve, under this name (the path, or the index or page it led to).
    Member(Cow<'a, str>, &'a Entry),
    /// A 301 to this reference, relative to the request (the query not yet added).
    Redirect(String),
    /// A directory to list (`dir` ends in `/` or is empty).
    Listing(Cow<'a, str>),
    Nothing,
}

/// The member `path` names exactly (never a directory, never the site's
/// configuration files, never a page the policy may redirect): the hot
/// path of every lookup, one hash probe.
pub fn exact<'a>(index: &'a Index, path: &'a str, policy: Policy) -> Option<Found<'a>> {
    if path.is_empty() || path.ends_with('/') || super::is_config(path.as_bytes()) {
        return None;
    }
    if policy.may_redirect_html() && path.ends_with(".html") {
        return None;
    }
    let entry = index.get(path.as_bytes())?;
    Some(Found::Member(Cow::Borrowed(path), entry))
}

/// The archive's names, as the policy asks for them.
struct IndexNames<'i>(&'i Index);

impl Names for IndexNames<'_> {
    fn member(&self, name: &str) -> bool {
        !super::is_config(name.as_bytes()) && self.0.get(name.as_bytes()).is_some()
    }
    fn dir(&self, dir: &str) -> bool {
        self.0.is_dir(dir.as_bytes())
    }
}

/// Resolves `path` (a member path, no leading `/`) under `policy`.
/// `may_redirect` is false for the target of a rewrite, which must not be
/// answered by a redirect: what the redirect would lead to is served.
pub fn find<'a>(index: &'a Index, path: &'a str, policy: Policy, may_redirect: bool) -> Found<'a> {
    if super::is_config(path.as_bytes()) {
        return Found::Nothing;
    }
    let direct = match policy::resolve(policy, path, &IndexNames(index)) {
        Answer::Direct(d) => d,
        Answer::Redirect { location, .. } if may_redirect => return Found::Redirect(location),
        Answer::Redirect { then, .. } => then,
        Answer::Nothing => return Found::Nothing,
    };
    match direct {
        Direct::Member(name) => match index.get(name.as_bytes()) {
            Some(entry) => Found::Member(name, entry),
            None => Found::Nothing,
        },
        Direct::Listing(dir) => Found::Listing(dir),
    }
}

/// The nearest `STATUS.html` for a request of `path`, going up from its
/// directory to the root, and its name.
pub fn error_page<'i>(index: &'i Index, path: &str, status: u16) -> Option<(String, &'i Entry)> {
    error_page_probed(index, path, status).0
}

/// [`error_page`], and how many index lookups it made.
///
/// The path comes from the URL and may be 60 KB of `a/a/a/…`: probing
/// `STATUS.html` at every level would hash every prefix (quadratic in depth).
/// A page can only be in a directory the archive has, so the walk first goes
/// *down* from the root while the directory exists (each question bounded by
/// the archive's own names, whatever the URL's length), then up from the
/// deepest one, the candidate made by truncating one buffer, stopping at the
/// first hit. Work is one pass over the path plus at most two lookups per
/// level of the archive's own depth.
fn error_page_probed<'i>(
    index: &'i Index,
    path: &str,
    status: u16,
) -> (Option<(String, &'i Entry)>, usize) {
    let page = format!("{status}.html");
    // The directory the request is in: all of a `dir/` path, else up to its last `/`.
    let dir = match path.rfind('/') {
        Some(at) => path.get(..=at).unwrap_or_default(),
        None => "",
    };
    let mut probes = 0;
    // Ends (just past each `/`) of the directories that exist, root first.
    let mut levels = vec![0];
    for at in memchr::memchr_iter(b'/', dir.as_bytes()) {
        probes += 1;
        if !index.is_dir(dir.as_bytes().get(..=at).unwrap_or_default()) {
            break;
        }
        levels.push(at + 1);
    }
    let deepest = levels.last().copied().unwrap_or(0);
    let mut name = String::with_capacity(deepest + page.len());
    name.push_str(dir.get(..deepest).unwrap_or_default());
    for &end in levels.iter().rev() {
        name.truncate(end);
        name.push_str(&page);
        probes += 1;
        if let Some(entry) = index.get(name.as_bytes()) {
            return (Some((name, entry)), probes);
        }
    }
    (None, probes)
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    // unwrap here acts on archives the tests build themselves.
    use std::io::Write;

    use super::*;

    /// An index of empty-ish stored members.
    fn index_of(members: &[(&str, &[u8])]) -> Index {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, data) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        Index::build(&bytes[..]).unwrap()
    }

    #[test]
    fn nearest_error_page() {
        let index = index_of(&[
            ("404.html", b"root"),
            ("docs/404.html", b"docs"),
            ("docs/api/x.html", b"x"),
        ]);
        let near = |path: &str| error_page(&index, path, 404).map(|(n, _)| n);
        assert_eq!(near("docs/api/missing").as_deref(), Some("docs/404.html"));
        assert_eq!(near("docs/api/").as_deref(), Some("docs/404.html"));
        assert_eq!(near("docs/nope/deeper/x").as_deref(), Some("docs/404.html"));
        assert_eq!(near("docs").as_deref(), Some("404.html"));
        assert_eq!(near("other/x").as_deref(), Some("404.html"));
        assert_eq!(near("").as_deref(), Some("404.html"));
        assert!(error_page(&index, "docs/x", 403).is_none());
    }

    /// A 60 KB URL of 30,000 levels costs lookups for the levels the
    /// archive has, not one per level of the URL (each hashing its prefix:
    /// quadratic).
    #[test]
    fn error_page_walk_of_a_60_kb_path_is_bounded_by_the_archive() {
        let index = index_of(&[("404.html", b"root"), ("a/a/404.html", b"deep")]);
        let deep = "a/".repeat(30_000) + "x";
        let (found, probes) = error_page_probed(&index, &deep, 404);
        assert_eq!(found.map(|(n, _)| n).as_deref(), Some("a/a/404.html"));
        // Down: "a/", "a/a/", "a/a/a/" (missing); up: one hit.
        assert!(probes <= 4, "{probes} lookups");
        let (found, probes) = error_page_probed(&index, &"b/".repeat(30_000), 404);
        assert_eq!(found.map(|(n, _)| n).as_deref(), Some("404.html"));
        assert!(probes <= 2, "{probes} lookups");
        let (found, probes) = error_page_probed(&index, &deep, 403);
        assert!(found.is_none());
        assert!(probes <= 3 + 3, "{probes} lookups");
    }
}

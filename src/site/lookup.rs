//! Which member answers a path, as static-site hosts (GitLab Pages,
//! Netlify, GitHub Pages) decide it: the member itself; for a directory its
//! `index.html` or `index.htm`; with clean URLs `PATH.html`; a directory
//! named without its slash is redirected to it. And which error page answers
//! a 404 or 403: the nearest `404.html` (`403.html`) going up from the
//! requested directory to the archive root.

use std::borrow::Cow;

use crate::zip::{Entry, Index};

/// Largest error page served; a bigger one gives the short built-in page.
pub const MAX_ERROR_PAGE: u64 = 1 << 20;

/// What a path leads to.
#[derive(Debug)]
pub enum Found<'a> {
    /// A member to serve, under this name (the path, or the index or page it led to).
    Member(Cow<'a, str>, &'a Entry),
    /// A directory named without its slash: redirect to `./last/`.
    AddSlash,
    /// A directory without an index page: list it (`dir` ends in `/` or is empty).
    Listing,
    Nothing,
}

/// Resolves `path` (a member path, no leading `/`). `clean_urls` tries
/// `PATH.html`; `may_redirect` is false for the target of a rewrite, which
/// must not be answered by a redirect, so a directory is served directly.
pub fn find<'a>(
    index: &'a Index,
    path: &'a str,
    clean_urls: bool,
    may_redirect: bool,
) -> Found<'a> {
    let is_dir = path.is_empty() || path.ends_with('/');
    if !is_dir {
        if let Some(entry) = index.get(path.as_bytes()) {
            return Found::Member(Cow::Borrowed(path), entry);
        }
        if clean_urls {
            let page = format!("{path}.html");
            if let Some(entry) = index.get(page.as_bytes()) {
                return Found::Member(Cow::Owned(page), entry);
            }
        }
    }
    let dir = if is_dir {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("{path}/"))
    };
    if !dir.is_empty() && !index.is_dir(dir.as_bytes()) {
        return Found::Nothing;
    }
    if !is_dir && may_redirect {
        return Found::AddSlash;
    }
    for page in ["index.html", "index.htm"] {
        let name = format!("{dir}{page}");
        if let Some(entry) = index.get(name.as_bytes()) {
            return Found::Member(Cow::Owned(name), entry);
        }
    }
    Found::Listing
}

/// The nearest `STATUS.html` for a request of `path`, going up from its
/// directory to the root, and its name.
pub fn error_page<'i>(index: &'i Index, path: &str, status: u16) -> Option<(String, &'i Entry)> {
    let page = format!("{status}.html");
    // The directory the request is in: all of a `dir/` path, else up to its last `/`.
    let mut dir = match path.rfind('/') {
        Some(at) => path.get(..=at).unwrap_or_default(),
        None => "",
    };
    loop {
        let name = format!("{dir}{page}");
        if let Some(entry) = index.get(name.as_bytes()) {
            return Some((name, entry));
        }
        if dir.is_empty() {
            return None;
        }
        let parent = dir.trim_end_matches('/');
        dir = match parent.rfind('/') {
            Some(at) => parent.get(..=at).unwrap_or_default(),
            None => "",
        };
    }
}

//! The path rules every request path passes, whichever parameters it came
//! from: decoded once, UTF-8, no NUL, backslash or control bytes, no `..`
//! segment; `//` and `/./` folded; the first segment ending in `.wwz` found.

use std::borrow::Cow;

use super::{RouteError, ARCHIVE_SUFFIX};
use crate::util::percent::{self, Decode};
use crate::zip::name::{self, Segment};

pub(super) fn concat<'a>(a: &'a [u8], b: &'a [u8]) -> Cow<'a, [u8]> {
    if b.is_empty() {
        Cow::Borrowed(a)
    } else {
        Cow::Owned([a, b].concat())
    }
}

pub(super) fn trim_trailing_slashes(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b'/'] = b {
        b = rest;
    }
    b
}

/// Decodes `%XX` escapes once; a malformed escape is a bad request.
pub(super) fn percent_decode(s: &[u8]) -> Result<Cow<'_, [u8]>, RouteError> {
    percent::decode(s, Decode::Path).map_err(|_| RouteError::BadPath("bad percent escape"))
}

/// Checks a decoded path and folds `//` and `/./`; returns it and the end of
/// the archive part.
pub(super) fn normalise(raw: Cow<'_, [u8]>) -> Result<(Cow<'_, str>, usize), RouteError> {
    let (path, archive_end) = fold_noting_archive(raw)?;
    match archive_end {
        Some(end) => Ok((path, end)),
        None => Err(RouteError::NoArchive),
    }
}

/// The end of the first segment naming an archive (`….wwz`), if any.
fn archive_end(path: &[u8]) -> Option<usize> {
    let mut end = 0;
    for seg in path.split(|&b| b == b'/').skip(1) {
        end += 1 + seg.len();
        if seg.ends_with(ARCHIVE_SUFFIX.as_bytes()) {
            return Some(end);
        }
    }
    None
}

/// Checks a decoded path (UTF-8, starts with `/`, no hostile bytes, no `..`
/// segment) and folds `//` and `/./`, keeping a trailing slash.
pub(super) fn fold(raw: Cow<'_, [u8]>) -> Result<Cow<'_, str>, RouteError> {
    fold_noting_archive(raw).map(|(path, _)| path)
}

/// [`fold`], and where the first archive segment ends, found in the same
/// pass over the segments (this runs for every request).
fn fold_noting_archive(raw: Cow<'_, [u8]>) -> Result<(Cow<'_, str>, Option<usize>), RouteError> {
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
    // and empty segments other than a trailing slash).
    let mut clean = true;
    let mut end = 0;
    let mut archive = None;
    let last = bytes.len().saturating_sub(1);
    for seg in bytes.split(|&b| b == b'/').skip(1) {
        end += 1 + seg.len();
        match Segment::of(seg) {
            Segment::Parent => return Err(RouteError::BadPath("'..' segment")),
            Segment::Current => clean = false,
            Segment::Empty if end <= last => clean = false,
            _ if archive.is_none() && seg.ends_with(ARCHIVE_SUFFIX.as_bytes()) => {
                archive = Some(end)
            }
            _ => {}
        }
    }
    if clean {
        return Ok((path, archive));
    }
    let mut out = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty() && *s != ".") {
        out.push('/');
        out.push_str(seg);
    }
    if path.ends_with('/') || path.ends_with("/.") || out.is_empty() {
        out.push('/');
    }
    let archive = archive_end(out.as_bytes());
    Ok((Cow::Owned(out), archive))
}

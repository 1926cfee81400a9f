//! Downloads: `MEMBER?download`, the member as an attachment, and
//! `DIR/?zip`, a directory as one zip whose members' data is sent as it is
//! stored in the archive (stored stays stored, deflated stays deflated),
//! from the mapping, by the kernel. [`crate::zip::stream`] lays the zip out;
//! this is where its members are chosen and its response made.
//!
//! A directory's zip holds what its listings show, all the way down: every
//! member under it, named relative to it (as GitHub's artifact zips are),
//! in name order. Left out: the site's configuration files at the root
//! (`_headers`, `_redirects`: never served, never listed); precompressed
//! siblings (`NAME.br`, `NAME.zst`, `NAME.gz` beside `NAME`: other
//! representations of a member, hidden from listings); directory entries
//! (a zip needs none, so an empty directory is not kept); encrypted members
//! (not served either, and their data alone cannot be decrypted); members
//! whose names the router would refuse (`..`, control characters: they
//! could lead an unzip out of its directory); members whose local header
//! disagrees with the central directory (answered 500 alone; logged here).
//! A symbolic link stored by `zip -y` is, as when served, a file holding
//! its target's path.
//!
//! The zip is the same bytes for the same archive contents: fixed order,
//! the members' own times, no clock, no randomness. Its ETag is strong:
//! the digest of what its headers say (names, methods, CRC-32s, sizes,
//! times), its length and the newest time, so an unchanged directory keeps
//! its tag across deploys, as a member does (DESIGN.md invariant 5; like
//! gzip passthrough, it takes the stored data to be what the CRC-32 and
//! sizes say). Memory is one header per step, whatever the member count;
//! the work is one pass over the members to lay the zip out (Content-Length
//! and ETag, before anything is sent), one more per response sent, and
//! [`MAX_MEMBERS`] bounds both.

use std::borrow::Cow;
use std::cell::Cell;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Ctx, Service};
use crate::archive::Archive;
use crate::http::body::{Assemble, Assembler, Batch, Body};
use crate::http::conditional::{self, Outcome, Validators};
use crate::http::disposition;
use crate::http::range::{self, Ranges};
use crate::http::response::{ContentRange, ETag, TEXT_PLAIN};
use crate::http::{Response, Status};
use crate::log;
use crate::zip::name::member_name_problem;
use crate::zip::stream::{Layout, LayoutError, Member, Members, Piece, Walk};
use crate::zip::Entry;

/// The most members one zip holds: laying out and walking a directory costs
/// a pass over its members per request (about 100 ns each), so a bigger
/// directory is refused with a message that says to take a subdirectory.
pub const MAX_MEMBERS: u64 = 1 << 20;
/// Bytes per step of a zip's body: headers of ours and references to
/// mapped data, queued and flushed before the next step is made.
const STEP_BYTES: u64 = 4 << 20;

const ZIP_TYPE: &str = "application/zip";

/// Makes `resp` (a member, or a directory's zip) an attachment saved as
/// `file_name`, in place of any `Content-Disposition` the site's `_headers`
/// set: the query asked for a download. Only on a body (200, 206).
pub(super) fn attach(resp: &mut Response, file_name: &str) {
    if !matches!(resp.status, Status::Ok | Status::PartialContent) {
        return;
    }
    resp.extra
        .retain(|(n, _)| !n.eq_ignore_ascii_case("Content-Disposition"));
    resp.add_header(
        Cow::Borrowed("Content-Disposition"),
        Cow::Owned(disposition::attachment(file_name)),
    );
}

/// The last segment of a member's name: what a download is saved as.
pub(super) fn file_name(member: &str) -> &str {
    member.rsplit('/').next().unwrap_or(member)
}

impl Service {
    /// `DIR/?zip` (`dir` empty for the archive's root, else ending in `/`):
    /// 404 where it is not a directory, 403 where listings are off (a zip
    /// shows what a listing would).
    pub(super) fn zip(&self, ctx: &Ctx<'_>, dir: &str) -> Response {
        let index = ctx.archive.index();
        if !index.is_dir(dir.as_bytes()) {
            return self.error_page(ctx, Status::NotFound);
        }
        if !self.listing {
            return self.error_page(ctx, Status::Forbidden);
        }
        // A zip is sent as pieces of a local mapping; an archive read from
        // object storage has none until the disk cache holds it.
        if ctx.archive.object().is_some() {
            return Response::error(Status::NotImplemented);
        }
        let under = Under::new(ctx.archive, dir);
        let layout = match Layout::of(&under, MAX_MEMBERS) {
            Ok(layout) => layout,
            Err(LayoutError::TooManyMembers { limit }) => return too_many(limit),
            Err(e @ LayoutError::TooLarge) => {
                log::error!("{}: zip of /{dir}: {e}", ctx.route.archive());
                return Response::error(Status::InternalServerError);
            }
        };
        if under.unreadable.get() > 0 {
            log::warn!(
                "{}: zip of /{dir}: {} members left out: their local headers disagree \
                 with the central directory",
                ctx.route.archive(),
                under.unreadable.get()
            );
        }
        let mut resp = self.zip_response(ctx, dir, under.first, layout);
        self.add_site_headers(ctx, &mut resp);
        attach(&mut resp, &zip_name(ctx, dir));
        resp
    }

    /// The zip `layout` describes, under the request's preconditions and Range.
    fn zip_response(&self, ctx: &Ctx<'_>, dir: &str, first: usize, layout: Layout) -> Response {
        let req = ctx.req;
        let etag = ETag {
            crc32: layout.digest,
            size: layout.len,
            mtime: layout.newest,
            coding: None,
            zip: true,
        };
        let etag_text = etag.to_string();
        let newest = SystemTime::UNIX_EPOCH + Duration::from_secs(layout.newest.unsigned_abs());
        let validators = Validators {
            etag: &etag_text,
            last_modified: newest.min(ctx.archive.mtime()),
        };
        let base = Response {
            last_modified: Some(validators.last_modified),
            etag: Some(etag),
            cache_control: Some(ctx.cache_control),
            ..Response::new(Status::Ok)
        };
        match conditional::evaluate(&req.conditions, &validators) {
            Outcome::Proceed => {}
            Outcome::NotModified => {
                return Response {
                    status: Status::NotModified,
                    ..base
                }
            }
            Outcome::Failed => {
                return Response {
                    cache_control: None,
                    ..Response::error(Status::PreconditionFailed)
                }
            }
        }
        let ranges = match req.range {
            Some(h)
                if req
                    .if_range
                    .is_none_or(|v| conditional::if_range_holds(v, &validators)) =>
            {
                range::resolve(h, layout.len)
            }
            _ => Ranges::Whole,
        };
        let (status, range, content_range) = match ranges {
            Ranges::Unsatisfiable => {
                return Response {
                    content_range: Some(ContentRange::Unsatisfied { total: layout.len }),
                    ..Response::error(Status::RangeNotSatisfiable)
                }
            }
            Ranges::Some(list) if list.len() == 1 => match list.first() {
                Some(r) => (
                    Status::PartialContent,
                    r.clone(),
                    Some(ContentRange::Bytes {
                        first: r.start,
                        last: r.end - 1,
                        total: layout.len,
                    }),
                ),
                None => (Status::Ok, 0..layout.len, None),
            },
            // Several ranges of a file made as it is sent: the whole of it
            // with 200, which RFC 9110 §14.2 allows.
            Ranges::Some(_) | Ranges::Whole => (Status::Ok, 0..layout.len, None),
        };
        let len = range.end - range.start;
        let body = if ctx.head {
            Body::Empty
        } else {
            Body::Assembled {
                archive: Arc::clone(ctx.archive),
                len,
                assembler: Assembler::new(ZipBody {
                    archive: Arc::clone(ctx.archive),
                    dir: dir.to_owned(),
                    first,
                    walk: Walk::new(layout, range),
                }),
            }
        };
        Response {
            status,
            content_type: Some(Cow::Borrowed(ZIP_TYPE)),
            content_length: Some(len),
            content_range,
            accept_ranges: true,
            body,
            ..base
        }
    }
}

/// What a directory's zip is saved as: the directory's name, or for the
/// archive's root the archive's, with `.zip`.
fn zip_name(ctx: &Ctx<'_>, dir: &str) -> String {
    let base = match dir.trim_end_matches('/').rsplit('/').next() {
        Some(last) if !last.is_empty() => last,
        _ => {
            let archive = ctx.route.archive_name();
            archive.strip_suffix(".wwz").unwrap_or(archive)
        }
    };
    format!("{base}.zip")
}

/// 403 for a directory with more members than one zip may hold, saying so.
fn too_many(limit: u64) -> Response {
    let text = format!(
        "This directory has more than {limit} members, more than one zip holds here: \
         download its subdirectories one by one.\n"
    );
    Response {
        content_type: Some(Cow::Borrowed(TEXT_PLAIN)),
        content_length: Some(text.len() as u64),
        body: Body::Owned(text.into_bytes()),
        ..Response::new(Status::Forbidden)
    }
}

/// The members of a directory's zip (module docs), from the index in name
/// order; each member's data at its offset in the mapping.
struct Under<'a> {
    archive: &'a Archive,
    dir: &'a str,
    /// Where the directory's names start in the index's name order.
    first: usize,
    /// Members left out because their data cannot be found (counted for
    /// the log while the zip is laid out).
    unreadable: Cell<u64>,
}

impl<'a> Under<'a> {
    fn new(archive: &'a Archive, dir: &'a str) -> Under<'a> {
        Under {
            archive,
            dir,
            first: archive.index().first_under(dir.as_bytes()),
            unreadable: Cell::new(0),
        }
    }
}

/// Whether member `name` (`rel` below the directory `dir`) goes in the zip,
/// data aside (module docs).
fn included(dir: &str, name: &[u8], rel: &[u8], entry: &Entry) -> bool {
    !(rel.is_empty()
        || name.ends_with(b"/")
        || entry.is_sibling()
        || entry.is_encrypted()
        || (dir.is_empty() && crate::site::is_config(name))
        || member_name_problem(name).is_some())
}

impl Members for Under<'_> {
    type Data = u64;

    fn member_from(&self, at: usize) -> Option<(usize, Member<'_>, u64)> {
        let index = self.archive.index();
        let mut at = at;
        loop {
            let (name, entry) = index.in_order(self.first.checked_add(at)?)?;
            let rel = name.strip_prefix(self.dir.as_bytes())?;
            if included(self.dir, name, rel, entry) {
                // A local header read on first use (then remembered), checked.
                match self.archive.raw_data(entry) {
                    Ok((offset, _)) => {
                        let member = Member {
                            name: rel,
                            method: entry.method(),
                            crc32: entry.crc32(),
                            compressed_size: entry.compressed_size(),
                            size: entry.size(),
                            mtime: entry.mtime(),
                        };
                        return Some((at, member, offset));
                    }
                    Err(_) => self.unreadable.set(self.unreadable.get() + 1),
                }
            }
            at = at.checked_add(1)?;
        }
    }
}

/// A directory's zip as a body: the walk of its range, a step at a time.
struct ZipBody {
    archive: Arc<Archive>,
    dir: String,
    first: usize,
    walk: Walk,
}

impl Assemble for ZipBody {
    fn step(&mut self, out: &mut Batch) -> io::Result<bool> {
        let under = Under {
            archive: &self.archive,
            dir: &self.dir,
            first: self.first,
            unreadable: Cell::new(0),
        };
        self.walk
            .step(&under, STEP_BYTES, |piece| match piece {
                Piece::Bytes(b) => out.bytes(b),
                Piece::Data { at, skip, len } => out.mapped(at.saturating_add(skip), len),
            })
            .map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(file_name("logs/job 1/build.log"), "build.log");
        assert_eq!(file_name("top.txt"), "top.txt");
    }
}

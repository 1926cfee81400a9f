//! Step 8: which representation of a member goes out, and where its bytes
//! are. The identity (stored bytes, or decoded on the way out), a stored
//! sibling `NAME.br` / `NAME.zst` / `NAME.gz`, the member's own deflate
//! stream framed as gzip, or a method-93 member's zstd frame as it is, as
//! [`crate::http::negotiate`] chooses; and the ETag of what is chosen.

use super::Ctx;
use crate::archive::inflate;
use crate::archive::Archive;
use crate::content::coding::Coding;
use crate::http::response::ETag;
use crate::http::Status;
use crate::log;
use crate::zip::format::{METHOD_DEFLATED, METHOD_STORED, METHOD_ZSTD};
use crate::zip::{Entry, Index};

/// How the chosen representation's bytes go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repr {
    /// Stored: the mapped bytes are the body.
    Stored,
    /// Deflated, sent as gzip without recompression.
    Gzip,
    /// Deflated (or zstd, method 93), decoded on the way out.
    Decoded,
    /// Mapped bytes sent as they are in this coding: a stored sibling's, or
    /// a method-93 member's zstd frame.
    Coded(Coding),
}

/// Whose bytes are sent: the member's own, or a precompressed sibling's.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Own,
    Sibling(&'a Entry),
}

/// A member about to be answered: where its bytes are and how they go out.
pub(super) struct Chosen<'a> {
    /// The member asked for (NAME): type, Last-Modified and identity come from it.
    pub entry: &'a Entry,
    pub repr: Repr,
    /// The raw data in the mapping of what is sent: NAME's (possibly
    /// compressed) data, or the sibling's.
    pub offset: u64,
    pub raw_len: u64,
    /// The entity tag of the representation.
    pub tag: ETag,
    /// Whether another `Accept-Encoding` could get another representation.
    pub varies: bool,
}

/// The largest zstd window passed through as `Content-Encoding: zstd`: 8 MiB,
/// what RFC 9659 requires every client to accept.
const ZSTD_PASS_WINDOW: u64 = 8 << 20;

/// Chooses how `entry` goes out and finds its data; the error status if it
/// cannot (406: no representation the client takes; 501: a method or
/// encryption wwz does not serve; 500: a broken archive).
pub(super) fn choose<'a>(
    ctx: &Ctx<'_>,
    name: &str,
    entry: &'a Entry,
    ranged: bool,
) -> Result<Chosen<'a>, Status> {
    if entry.is_encrypted() {
        log::warn!(
            "{}: member {name:?} is encrypted; not served",
            ctx.route.archive()
        );
        return Err(Status::NotImplemented);
    }
    let accept = &ctx.req.accept_encoding;
    let deflated = entry.method() == METHOD_DEFLATED;
    // A zstd member: passed through when its window is one every client
    // must accept (RFC 9659), decoded when the window is one we decode.
    let zstd_window = match entry.method() {
        METHOD_ZSTD => zstd_window(ctx.archive, entry),
        _ => None,
    };
    let zstd_member = zstd_window.is_some();
    // Decoded only within the window and the output-per-byte ratio wwz allows.
    let refusal =
        zstd_window.and_then(|w| inflate::zstd_refusal(w, entry.size(), entry.compressed_size()));
    let decodable = zstd_member && refusal.is_none();
    if entry.method() != METHOD_STORED && !deflated && !zstd_member {
        log::warn!(
            "{}: member {name:?} uses compression method {}, which wwz does not serve",
            ctx.route.archive(),
            entry.method()
        );
        return Err(Status::NotImplemented);
    }
    let has = |c: Coding| match c {
        Coding::Br => entry.has_sibling(c),
        Coding::Zstd => entry.has_sibling(c) || zstd_window.is_some_and(|w| w <= ZSTD_PASS_WINDOW),
        Coding::Gzip => entry.has_sibling(c) || deflated,
    };
    // A Range names bytes of the identity: codings only for whole bodies
    // (or when the client refuses the identity).
    let choice = if ranged && accept.identity_ok() {
        None
    } else {
        accept.choose(has)
    };
    let varies = entry.siblings() != 0 || deflated || zstd_member;
    let (repr, source) = match choice {
        None if !accept.identity_ok() => return Err(Status::NotAcceptable),
        None if deflated || decodable => (Repr::Decoded, Source::Own),
        None if zstd_member => {
            let why = refusal.unwrap_or(inflate::ZstdRefusal::Window);
            log::warn!("{}: member {name:?}: {why}", ctx.route.archive());
            return Err(Status::NotImplemented);
        }
        None => (Repr::Stored, Source::Own),
        Some(Coding::Gzip) if !entry.has_sibling(Coding::Gzip) => (Repr::Gzip, Source::Own),
        Some(Coding::Zstd) if !entry.has_sibling(Coding::Zstd) => {
            (Repr::Coded(Coding::Zstd), Source::Own)
        }
        Some(c) => match sibling(ctx.archive.index(), name, c) {
            Some(s) => (Repr::Coded(c), Source::Sibling(s)),
            None => return Err(Status::InternalServerError),
        },
    };
    let identity = ETag {
        crc32: entry.crc32(),
        size: entry.size(),
        mtime: entry.mtime(),
        coding: None,
        zip: false,
    };
    let (tag, data_of) = match (repr, source) {
        (Repr::Stored | Repr::Decoded, _) => (identity, entry),
        (Repr::Gzip, _) => (
            ETag {
                coding: Some(Coding::Gzip),
                ..identity
            },
            entry,
        ),
        // The member's own zstd frame.
        (Repr::Coded(c), Source::Own) => (
            ETag {
                coding: Some(c),
                ..identity
            },
            entry,
        ),
        // The sibling's own content, NAME's time, the coding.
        (Repr::Coded(c), Source::Sibling(s)) => (
            ETag {
                crc32: s.crc32(),
                size: s.size(),
                mtime: entry.mtime(),
                coding: Some(c),
                zip: false,
            },
            s,
        ),
    };
    match ctx.archive.raw_data(data_of) {
        Ok((offset, raw_len)) => Ok(Chosen {
            entry,
            repr,
            offset,
            raw_len,
            tag,
            varies,
        }),
        Err(e) => {
            log::error!("{}: member {name:?}: {e}", ctx.route.archive());
            let storage = match &e {
                crate::zip::DataError::Io(io) => crate::archive::s3::StorageError::of(io),
                _ => None,
            };
            Err(storage.map_or(Status::InternalServerError, super::storage_status))
        }
    }
}

/// The window a method-93 member's (first) zstd frame asks for, read with
/// `pread` from its frame header (RFC 8878 §3.1.1.1); `None` if the data
/// does not start with a zstd frame header.
fn zstd_window(archive: &Archive, entry: &Entry) -> Option<u64> {
    let (offset, raw_len) = archive.raw_data(entry).ok()?;
    let mut head = [0u8; 18];
    let n = usize::try_from(raw_len)
        .unwrap_or(head.len())
        .min(head.len());
    let head = head.get_mut(..n)?;
    archive.read_exact_at(head, offset).ok()?;
    crate::zip::format::zstd_frame_window(head)
}

/// The stored sibling of `name` in `coding` (`NAME.br`, …), looked up
/// without allocating for names of usual length.
fn sibling<'a>(index: &'a Index, name: &str, coding: Coding) -> Option<&'a Entry> {
    let (name, suffix) = (name.as_bytes(), coding.suffix());
    let len = name.len() + suffix.len();
    let mut buf = [0u8; 512];
    let found = match buf.get_mut(..len) {
        Some(key) => {
            let (head, tail) = key.split_at_mut(name.len());
            head.copy_from_slice(name);
            tail.copy_from_slice(suffix);
            index.get(key)
        }
        None => index.get(&[name, suffix].concat()),
    };
    found.filter(|e| e.is_sibling() && e.method() == METHOD_STORED)
}

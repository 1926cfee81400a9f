//! Steps 9 to 11 for a member: its validators and the preconditions
//! (304/412), then Range (206/416, several ranges as multipart, always of
//! the identity), then the body the front sends.

use std::borrow::Cow;
use std::sync::Arc;

use super::representation::{self, Chosen, Repr};
use super::Ctx;
use crate::archive::inflate::{Compressed, ZstdMemory};
use crate::archive::Archive;
use crate::content::gzip::gzip_trailer;
use crate::content::mime;
use crate::http::body::Body;
use crate::http::conditional::{self, Outcome, Validators};
use crate::http::multipart;
use crate::http::range::{self, Ranges};
use crate::http::response::{ContentRange, TEXT_PLAIN};
use crate::http::{Response, Status};
use crate::log;
use crate::zip::format::METHOD_ZSTD;
use crate::zip::Entry;

/// Bytes read to decide whether an extension-less member is text.
const SNIFF_LEN: usize = 512;

/// The answer for member `name`.
pub(super) fn respond(ctx: &Ctx<'_>, name: &str, entry: &Entry) -> Response {
    let req = ctx.req;
    let member = match representation::choose(ctx, name, entry, req.range.is_some()) {
        Ok(m) => m,
        // The identity refused and no coding the client takes: another
        // Accept-Encoding would get an answer.
        Err(Status::NotAcceptable) => {
            return Response {
                vary: Some("Accept-Encoding"),
                ..Response::error(Status::NotAcceptable)
            }
        }
        Err(status) => return Response::error(status),
    };
    let etag = member.tag;
    let conditions = &req.conditions;
    // Formatted only when a precondition compares it: the common request needs no allocation.
    let compares_tags = conditions.if_match.is_some()
        || conditions.if_none_match.is_some()
        || req.if_range.is_some();
    let etag_text = if compares_tags {
        etag.to_string()
    } else {
        String::new()
    };
    let validators = Validators {
        etag: &etag_text,
        last_modified: ctx.archive.member_mtime(entry),
    };
    let base = Response {
        last_modified: Some(validators.last_modified),
        etag: Some(etag),
        cache_control: Some(ctx.cache_control),
        vary: member.varies.then_some("Accept-Encoding"),
        ..Response::new(Status::Ok)
    };
    match conditional::evaluate(conditions, &validators) {
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
                vary: None,
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
            range::resolve(h, entry.size())
        }
        _ => Ranges::Whole,
    };
    let content_type = match mime::for_name(name) {
        Some(ct) => ct,
        None => super::off_loop::run(|| sniff(ctx.archive, &member)),
    };
    with_body(
        ctx.archive,
        &member,
        ranges,
        Response {
            content_type: Some(content_type),
            accept_ranges: true,
            ..base
        },
    )
}

/// Completes `resp` (validators and type set) with the body `ranges` ask for.
pub(super) fn with_body(
    archive: &Arc<Archive>,
    m: &Chosen<'_>,
    ranges: Ranges,
    resp: Response,
) -> Response {
    let size = m.entry.size();
    // A decoded zstd member holds its decoder's window while it is sent:
    // reserved now, so that past the process-wide budget the answer is a
    // 503 before any header, never a body cut for want of memory.
    let memory = match (m.repr, m.entry.method(), &ranges) {
        (Repr::Decoded, METHOD_ZSTD, Ranges::Whole | Ranges::Some(_)) => {
            match ZstdMemory::for_frame(archive, m.offset, m.raw_len) {
                Ok(memory) => Some(Arc::new(memory)),
                Err(e) => {
                    log::info!("{e}: 503");
                    return Response::error(Status::ServiceUnavailable);
                }
            }
        }
        _ => None,
    };
    match (m.repr, ranges) {
        // A sibling (or a zstd member) goes out whole, zero-copy, as it is stored.
        (Repr::Coded(c), _) => Response {
            content_length: Some(m.raw_len),
            content_encoding: Some(c.token()),
            body: Body::Mapped {
                archive: Arc::clone(archive),
                offset: m.offset,
                len: m.raw_len,
            },
            ..resp
        },
        (Repr::Gzip, _) => {
            let body = Body::Gzip {
                archive: Arc::clone(archive),
                offset: m.offset,
                len: m.raw_len,
                trailer: gzip_trailer(m.entry.crc32(), size),
            };
            Response {
                content_length: body.len(),
                content_encoding: Some("gzip"),
                body,
                ..resp
            }
        }
        (_, Ranges::Unsatisfiable) => Response {
            content_range: Some(ContentRange::Unsatisfied { total: size }),
            ..Response::error(Status::RangeNotSatisfiable)
        },
        (_, Ranges::Some(list)) if list.len() == 1 => {
            let r = list.first().cloned().unwrap_or(0..size);
            Response {
                status: Status::PartialContent,
                content_length: Some(r.end - r.start),
                content_range: Some(ContentRange::Bytes {
                    first: r.start,
                    last: r.end - 1,
                    total: size,
                }),
                body: identity_body(archive, m, memory, r.start, r.end - r.start),
                ..resp
            }
        }
        (Repr::Stored, Ranges::Some(list)) => {
            let part_type = resp.content_type.as_deref().unwrap_or(TEXT_PLAIN);
            let (body, content_type) =
                multipart::byteranges(archive, m.offset, size, &list, part_type);
            Response {
                status: Status::PartialContent,
                content_type: Some(Cow::Owned(content_type)),
                content_length: body.len(),
                body,
                ..resp
            }
        }
        // Several ranges of a deflated member would mean inflating it once per
        // range; the whole body with 200 is the allowed alternative.
        (_, Ranges::Whole | Ranges::Some(_)) => Response {
            content_length: Some(size),
            body: identity_body(archive, m, memory, 0, size),
            ..resp
        },
    }
}

/// The body for `len` bytes of the identity representation starting at
/// `start` (decoded with `memory`, a zstd member's reserved window).
fn identity_body(
    archive: &Arc<Archive>,
    m: &Chosen<'_>,
    memory: Option<Arc<ZstdMemory>>,
    start: u64,
    len: u64,
) -> Body {
    match m.repr {
        Repr::Stored => Body::Mapped {
            archive: Arc::clone(archive),
            offset: m.offset + start,
            len,
        },
        // (A coded representation is always sent whole: never here.)
        Repr::Gzip | Repr::Decoded | Repr::Coded(_) => Body::Inflate {
            archive: Arc::clone(archive),
            member: Compressed {
                method: m.entry.method(),
                offset: m.offset,
                len: m.raw_len,
                size: m.entry.size(),
                crc32: m.entry.crc32(),
            },
            memory,
            skip: start,
            take: len,
        },
    }
}

/// Content-Type of an extension-less member from its first bytes, read with
/// `pread` (or inflated) rather than from the mapping.
fn sniff(archive: &Arc<Archive>, m: &Chosen<'_>) -> Cow<'static, str> {
    match archive.read_member(m.entry, SNIFF_LEN) {
        Ok(head) if mime::looks_like_text(&head) => Cow::Borrowed(TEXT_PLAIN),
        _ => Cow::Borrowed("application/octet-stream"),
    }
}

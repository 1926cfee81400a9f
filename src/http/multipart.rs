//! `multipart/byteranges` (RFC 9110 §14.6): several ranges of a stored
//! member in one 206, each part a head of ours and a range of the mapping.

use std::ops::Range;
use std::sync::Arc;

use super::body::{Body, Part};
use crate::archive::Archive;

/// The body and Content-Type for `ranges` of a stored member of `size` bytes
/// whose data starts at `offset` in the mapping. The boundary comes from the
/// member's CRC-32 and size: stable for a member, and a member's bytes that
/// happened to contain it would have to contain their own checksum.
pub fn byteranges(
    archive: &Arc<Archive>,
    offset: u64,
    size: u64,
    crc32: u32,
    ranges: &[Range<u64>],
    part_type: &str,
) -> (Body, String) {
    let boundary = format!("wwz{crc32:08x}{size:x}");
    let parts = ranges
        .iter()
        .map(|r| Part {
            head: format!(
                "\r\n--{boundary}\r\nContent-Type: {part_type}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
                r.start,
                r.end - 1
            ),
            offset: offset + r.start,
            len: r.end - r.start,
        })
        .collect();
    let body = Body::Multipart {
        archive: Arc::clone(archive),
        parts,
        tail: format!("\r\n--{boundary}--\r\n"),
    };
    (body, format!("multipart/byteranges; boundary={boundary}"))
}

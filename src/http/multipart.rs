//! `multipart/byteranges` (RFC 9110 §14.6): several ranges of a stored
//! member in one 206, each part a head of ours and a range of the mapping.

use std::ops::Range;
use std::sync::Arc;

use super::body::{Body, Part};
use crate::archive::Archive;

/// The body and Content-Type for `ranges` of a stored member of `size` bytes
/// whose data starts at `offset` in the mapping.
pub fn byteranges(
    archive: &Arc<Archive>,
    offset: u64,
    size: u64,
    ranges: &[Range<u64>],
    part_type: &str,
) -> (Body, String) {
    let boundary = boundary();
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

/// Characters in a boundary: `wwz` and 32 hex digits, always the same
/// length, so `Content-Length` is known before anything is sent.
const BOUNDARY_LEN: usize = 3 + 32;

/// A boundary no one can predict, new for each response: one derived from
/// the member (as before) could be written into the member's own bytes by
/// whoever made the archive, ending a part early for the client. 128 bits
/// from getrandom(2); should that fail (an old kernel, entropy not ready at
/// boot), from std's hasher keys, which are seeded from the OS's randomness
/// once per thread and are as unknown to a client.
fn boundary() -> String {
    use std::fmt::Write as _;
    let mut random = [0u8; 16];
    let filled = rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::NONBLOCK);
    if filled != Ok(random.len()) {
        use std::hash::BuildHasher as _;
        let state = std::collections::hash_map::RandomState::new();
        let (a, b) = (state.hash_one(0u8), state.hash_one(1u8));
        random = (u128::from(a) << 64 | u128::from(b)).to_le_bytes();
    }
    let mut out = String::with_capacity(BOUNDARY_LEN);
    out.push_str("wwz");
    for b in random {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_differ_and_have_one_length() {
        let (a, b) = (boundary(), boundary());
        assert_ne!(a, b);
        assert_eq!((a.len(), b.len()), (BOUNDARY_LEN, BOUNDARY_LEN));
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
    }
}

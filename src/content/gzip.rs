//! The gzip framing (RFC 1952) around a deflated member's raw bytes: a zip
//! member's deflate stream becomes a gzip body with a fixed header before it
//! and its CRC-32 and size after, so it is sent without recompression.

/// The gzip member header (RFC 1952) put before a deflated member's raw bytes:
/// magic, CM=8, no flags, no mtime, no extra flags, OS=3 (Unix).
pub const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// The gzip trailer: CRC-32 and size mod 2^32, both little-endian.
pub fn gzip_trailer(crc32: u32, size: u64) -> [u8; 8] {
    let mut t = [0; 8];
    t[..4].copy_from_slice(&crc32.to_le_bytes());
    t[4..].copy_from_slice(&(size as u32).to_le_bytes());
    t
}

//! One member of the serving index, in 36 bytes: the type both ways of
//! making an index produce (from the central directory, `directory`;
//! from the block `wwz pack` writes, [`super::packed`]) and every reader
//! consumes. It lives apart from both so that neither has to import the other.
//!
//! Offsets and sizes are 40-bit (up to 1 TiB; a larger one makes the archive
//! [`IndexError::TooLarge`]), split into a low `u32` and a high byte so that
//! the struct needs no 8-byte alignment:
//!
//! ```text
//! 0       4       8       12      16      20      24   26   28   30 31 32 33 34 35
//! |off_lo |csz_lo |size_lo|crc32  |mtime  |name_st|nlen|meth|lext|oh|ch|sh|bits|
//!
//! bits: 1 NAME.br exists | 2 NAME.zst exists | 4 NAME.gz exists | 8 is a sibling | 16 encrypted
//!       | 32 a Markdown twin exists (NAME.html with NAME.md beside it)
//! ```
//!
//! The bits up to 16 are stored as they are in packed indexes: their values
//! are part of that format and never change. The twin bit is not stored:
//! every index marks twins when it is made ([`super::index::Index`]). The sibling suffixes are not written
//! here but in [`Coding::suffix`], the one definition the tool, the index and
//! negotiation share.

use std::sync::atomic::AtomicU16;

use super::error::IndexError;
use super::format::{self, CentralHeader};
use crate::content::coding::Coding;

/// One member, as the central directory describes it (module docs).
#[derive(Debug)]
pub struct Entry {
    pub(super) offset_lo: u32,
    pub(super) compressed_lo: u32,
    pub(super) size_lo: u32,
    pub(super) crc32: u32,
    /// Unix seconds, clamped to `0..=u32::MAX` (1970 to 2106).
    pub(super) mtime: u32,
    pub(super) name_start: u32,
    pub(super) name_len: u16,
    pub(super) method: u16,
    /// The local header's extra length, read on first use; [`LOCAL_UNKNOWN`]
    /// until then (an extra field of exactly 65,535 bytes is just never cached).
    pub(super) local_extra: AtomicU16,
    pub(super) offset_hi: u8,
    pub(super) compressed_hi: u8,
    pub(super) size_hi: u8,
    /// [`sibling_bit`]s: the precompressed siblings this member has;
    /// [`IS_SIBLING`]: this member is one; [`ENCRYPTED`]: general purpose
    /// flag bit 0.
    pub(super) bits: u8,
}

/// [`Entry::local_extra`] before the local header has been read.
pub(super) const LOCAL_UNKNOWN: u16 = u16::MAX;
/// The largest offset or size an [`Entry`] holds: 40 bits.
pub const MAX_40: u64 = (1 << 40) - 1;

/// The bit that says a stored sibling in coding `c` (`NAME` + [`Coding::suffix`])
/// exists beside this member.
pub const fn sibling_bit(c: Coding) -> u8 {
    match c {
        Coding::Br => 1,
        Coding::Zstd => 2,
        Coding::Gzip => 4,
    }
}

/// `NAME.br`, a stored member, exists beside `NAME`.
pub const SIBLING_BR: u8 = sibling_bit(Coding::Br);
/// `NAME.zst`, a stored member, exists beside `NAME`.
pub const SIBLING_ZSTD: u8 = sibling_bit(Coding::Zstd);
/// `NAME.gz`, a stored member, exists beside `NAME`.
pub const SIBLING_GZ: u8 = sibling_bit(Coding::Gzip);
/// Every sibling bit.
pub(super) const SIBLINGS: u8 = SIBLING_BR | SIBLING_ZSTD | SIBLING_GZ;
/// This member is the stored sibling of another member.
pub const IS_SIBLING: u8 = 8;
/// General purpose flag bit 0: the member is encrypted.
pub(super) const ENCRYPTED: u8 = 16;
/// This page (`NAME.html`) has a Markdown twin, `NAME.md`
/// ([`crate::content::markdown`]).
pub(super) const MARKDOWN_TWIN: u8 = 32;

/// A 40-bit value as (low 32 bits, high 8 bits).
fn split40(v: u64) -> Result<(u32, u8), IndexError> {
    if v > MAX_40 {
        return Err(IndexError::TooLarge);
    }
    Ok((v as u32, (v >> 32) as u8))
}

fn join40(lo: u32, hi: u8) -> u64 {
    u64::from(lo) | u64::from(hi) << 32
}

impl Entry {
    /// The entry for central header `h`, its name at `name_start` of the names.
    pub(super) fn from_central(
        h: &CentralHeader<'_>,
        name_start: u32,
    ) -> Result<Entry, IndexError> {
        let (offset_lo, offset_hi) = split40(h.local_offset)?;
        let (compressed_lo, compressed_hi) = split40(h.compressed_size)?;
        let (size_lo, size_hi) = split40(h.size)?;
        let encrypted = if h.flags & format::FLAG_ENCRYPTED != 0 {
            ENCRYPTED
        } else {
            0
        };
        Ok(Entry {
            offset_lo,
            compressed_lo,
            size_lo,
            crc32: h.crc32,
            mtime: h.mtime().clamp(0, i64::from(u32::MAX)) as u32,
            name_start,
            // The name came from a 16-bit length field.
            name_len: h.name.len() as u16,
            method: h.method,
            local_extra: AtomicU16::new(LOCAL_UNKNOWN),
            offset_hi,
            compressed_hi,
            size_hi,
            bits: encrypted,
        })
    }

    pub fn method(&self) -> u16 {
        self.method
    }
    pub fn is_encrypted(&self) -> bool {
        self.bits & ENCRYPTED != 0
    }
    pub fn crc32(&self) -> u32 {
        self.crc32
    }
    /// Uncompressed size.
    pub fn size(&self) -> u64 {
        join40(self.size_lo, self.size_hi)
    }
    pub fn compressed_size(&self) -> u64 {
        join40(self.compressed_lo, self.compressed_hi)
    }
    /// Modification time, Unix seconds.
    pub fn mtime(&self) -> i64 {
        i64::from(self.mtime)
    }
    /// Whether the member's data offset is known without reading its local
    /// header (it was read once already).
    pub fn data_offset_known(&self) -> bool {
        self.local_extra.load(std::sync::atomic::Ordering::Relaxed) != LOCAL_UNKNOWN
    }

    pub fn local_offset(&self) -> u64 {
        join40(self.offset_lo, self.offset_hi)
    }
    /// The precompressed siblings of this member ([`sibling_bit`]s).
    pub fn siblings(&self) -> u8 {
        self.bits & SIBLINGS
    }
    /// Whether this member has a stored sibling in coding `c`.
    pub fn has_sibling(&self, c: Coding) -> bool {
        self.bits & sibling_bit(c) != 0
    }
    /// Whether this member is a precompressed sibling of another (listings hide it).
    pub fn is_sibling(&self) -> bool {
        self.bits & IS_SIBLING != 0
    }
    /// Whether this page has a Markdown twin (`NAME.md` beside `NAME.html`):
    /// known without a lookup, so a page without one costs nothing more.
    pub fn has_markdown_twin(&self) -> bool {
        self.bits & MARKDOWN_TWIN != 0
    }

    /// This entry's name in `names` (the index's shared buffer); empty if it
    /// lies outside them (never for an index we made or checked).
    pub(super) fn name_in<'a>(&self, names: &'a [u8]) -> &'a [u8] {
        names
            .get(self.name_start as usize..)
            .and_then(|n| n.get(..usize::from(self.name_len)))
            .unwrap_or_default()
    }
}

/// Refuses archives whose members share bytes. Each member occupies at least
/// its local header's fixed part, its name and its data; the local extra
/// field is only known later, so this is the part that can be checked when
/// opening. Linear when the directory is in file order (every writer's
/// habit), else one sort of the entry ids.
pub(super) fn check_overlaps(entries: &[Entry]) -> Result<(), IndexError> {
    let start = |e: &Entry| e.local_offset();
    let min_end = |e: &Entry| {
        e.local_offset()
            .saturating_add((format::LOCAL_LEN + usize::from(e.name_len)) as u64)
            .saturating_add(e.compressed_size())
    };
    let check = |a: &Entry, b: &Entry| {
        if start(b) < min_end(a) {
            Err(IndexError::OverlappingMembers {
                first: start(a),
                second: start(b),
            })
        } else {
            Ok(())
        }
    };
    if entries.windows(2).all(|w| match w {
        [a, b] => start(a) <= start(b),
        _ => true,
    }) {
        for w in entries.windows(2) {
            if let [a, b] = w {
                check(a, b)?;
            }
        }
        return Ok(());
    }
    let mut order: Vec<&Entry> = entries.iter().collect();
    order.sort_unstable_by_key(|e| start(e));
    for w in order.windows(2) {
        if let [a, b] = w {
            check(a, b)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_small() {
        assert!(std::mem::size_of::<Entry>() <= 36);
    }

    /// Packed indexes store these bits: archives packed before must still load.
    #[test]
    fn bits_keep_their_stored_values() {
        assert_eq!((SIBLING_BR, SIBLING_ZSTD, SIBLING_GZ), (1, 2, 4));
        assert_eq!((IS_SIBLING, ENCRYPTED), (8, 16));
        let all = Coding::ALL.map(sibling_bit);
        assert_eq!(all.iter().fold(0, |acc, b| acc | b), SIBLINGS);
        assert_eq!(SIBLINGS & (IS_SIBLING | ENCRYPTED), 0);
    }
}

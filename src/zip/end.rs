//! The end of central directory records (APPNOTE 4.3.14 to 4.3.16): finding
//! them near the end of the file, folding in the ZIP64 values, and the checks
//! every reader of the directory makes before trusting them. The serving
//! index and the tools (`wwz check`, `ls`, `align`) both start here.
//!
//! ```text
//! ... central directory | [ZIP64 EOCD 56+] [ZIP64 locator 20] | EOCD 22 | comment ≤ 65535
//! ```

use super::error::IndexError;
use super::format::{
    u16_at, u32_at, u64_at, CentralHeader, CENTRAL_LEN, EOCD_LEN, EOCD_SIG, ZIP64_EOCD_LEN,
    ZIP64_EOCD_SIG, ZIP64_LOCATOR_LEN, ZIP64_LOCATOR_SIG,
};
use super::read::ReadAt;

/// The end of central directory record, with ZIP64 values folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndOfCentralDirectory {
    pub entries: u64,
    pub cd_size: u64,
    pub cd_offset: u64,
    /// Whether the counts came from a ZIP64 record (then they are exact, not mod 2^16).
    pub zip64: bool,
    /// Where the classic record starts; the archive comment follows it.
    pub eocd_offset: u64,
    /// The comment length the classic record claims.
    pub comment_len: u16,
}

/// The most the search reads: the record plus the longest comment.
const TAIL_MAX: u64 = (EOCD_LEN + u16::MAX as usize) as u64;

impl EndOfCentralDirectory {
    /// Finds the end records of `src` and checks that the directory they
    /// describe lies inside the file and can hold the entries they claim.
    pub fn read<R: ReadAt + ?Sized>(src: &R) -> Result<EndOfCentralDirectory, IndexError> {
        let file_len = src.size();
        let end = find(src, file_len)?;
        if end
            .cd_offset
            .checked_add(end.cd_size)
            .is_none_or(|e| e > file_len)
        {
            return Err(IndexError::DirectoryOutOfBounds {
                offset: end.cd_offset,
                size: end.cd_size,
                file_len,
            });
        }
        if end.entries > end.cd_size / CENTRAL_LEN as u64 {
            return Err(IndexError::ImpossibleEntryCount {
                claimed: end.entries,
                cd_size: end.cd_size,
            });
        }
        Ok(end)
    }

    /// Whether `found` headers are what the record claims. Writers without
    /// ZIP64 let the 16-bit count wrap past 65,535 entries.
    pub(crate) fn check_count(&self, found: u64) -> Result<(), IndexError> {
        let ok = if self.zip64 {
            found == self.entries
        } else {
            found % 65_536 == self.entries
        };
        if ok {
            Ok(())
        } else {
            Err(IndexError::EntryCountMismatch {
                claimed: self.entries,
                found,
            })
        }
    }

    /// The archive comment, empty if it does not fit in the file.
    pub fn comment<R: ReadAt + ?Sized>(&self, src: &R) -> Vec<u8> {
        let mut comment = vec![0; usize::from(self.comment_len)];
        let read = self
            .eocd_offset
            .checked_add(EOCD_LEN as u64)
            .is_some_and(|at| src.read_exact_at(&mut comment, at).is_ok());
        if !read {
            comment.clear();
        }
        comment
    }
}

/// APPNOTE 4.3.16: the classic record at the start of `b`.
struct Eocd {
    disk: u16,
    cd_disk: u16,
    entries: u16,
    cd_size: u32,
    cd_offset: u32,
    comment_len: u16,
}

impl Eocd {
    fn parse(b: &[u8]) -> Option<Eocd> {
        if u32_at(b, 0)? != EOCD_SIG {
            return None;
        }
        Some(Eocd {
            disk: u16_at(b, 4)?,
            cd_disk: u16_at(b, 6)?,
            entries: u16_at(b, 10)?,
            cd_size: u32_at(b, 12)?,
            cd_offset: u32_at(b, 16)?,
            comment_len: u16_at(b, 20)?,
        })
    }
}

/// APPNOTE 4.3.14: the ZIP64 record's counts, at the start of `b`.
fn zip64_eocd(b: &[u8]) -> Option<(u64, u64, u64)> {
    if u32_at(b, 0)? != ZIP64_EOCD_SIG {
        return None;
    }
    Some((u64_at(b, 32)?, u64_at(b, 40)?, u64_at(b, 48)?))
}

/// APPNOTE 4.3.15: offset of the ZIP64 end record, from the locator at `b`.
fn zip64_locator(b: &[u8]) -> Option<u64> {
    if u32_at(b, 0)? != ZIP64_LOCATOR_SIG {
        return None;
    }
    u64_at(b, 8)
}

/// Finds the end of central directory record (and its ZIP64 twin) near the
/// end of the file.
fn find<R: ReadAt + ?Sized>(src: &R, file_len: u64) -> Result<EndOfCentralDirectory, IndexError> {
    let tail_len = file_len.min(TAIL_MAX);
    let tail_start = file_len - tail_len;
    // At most 64 KiB + 22 bytes.
    let mut tail = vec![0; tail_len as usize];
    src.read_exact_at(&mut tail, tail_start)?;
    // The last signature whose comment reaches exactly to the end wins; a
    // signature inside a comment would claim a different length.
    let mut fallback = None;
    let mut pos = tail.len().checked_sub(EOCD_LEN).ok_or(IndexError::NotZip)?;
    let found = loop {
        if let Some(e) = tail.get(pos..).and_then(Eocd::parse) {
            if pos + EOCD_LEN + usize::from(e.comment_len) == tail.len() {
                break Some((pos, e));
            }
            fallback.get_or_insert((pos, e));
        }
        if pos == 0 {
            break fallback;
        }
        pos -= 1;
    };
    let (pos, eocd) = found.ok_or(IndexError::NotZip)?;
    if eocd.disk != 0 || eocd.cd_disk != 0 {
        return Err(IndexError::MultiDisk);
    }
    let eocd_offset = tail_start + pos as u64;
    // A ZIP64 locator sits right before the classic record.
    let locator = eocd_offset
        .checked_sub(ZIP64_LOCATOR_LEN as u64)
        .and_then(|at| {
            let mut buf = [0; ZIP64_LOCATOR_LEN];
            src.read_exact_at(&mut buf, at).ok()?;
            zip64_locator(&buf)
        });
    let mut end = EndOfCentralDirectory {
        entries: u64::from(eocd.entries),
        cd_size: u64::from(eocd.cd_size),
        cd_offset: u64::from(eocd.cd_offset),
        zip64: false,
        eocd_offset,
        comment_len: eocd.comment_len,
    };
    if let Some(z64_offset) = locator {
        let mut buf = [0; ZIP64_EOCD_LEN];
        src.read_exact_at(&mut buf, z64_offset)?;
        (end.entries, end.cd_size, end.cd_offset) = zip64_eocd(&buf).ok_or(IndexError::NotZip)?;
        end.zip64 = true;
    } else if eocd.entries == u16::MAX && eocd.cd_offset == u32::MAX {
        // Saturated fields with no ZIP64 record to say what they stand for.
        return Err(IndexError::NotZip);
    }
    Ok(end)
}

/// Hands each header of the central directory that `end` describes to
/// `each`, in directory order, then checks the count against the end record.
///
/// The headers are parsed through one reused buffer rather than by reading
/// the whole directory into memory first: for 100,000 members that was 7 MB
/// of fresh heap to fault in. `end` comes from [`EndOfCentralDirectory::read`],
/// which checked that the directory lies inside the file.
pub(crate) fn central_directory<R: ReadAt + ?Sized>(
    src: &R,
    end: &EndOfCentralDirectory,
    mut each: impl FnMut(&CentralHeader<'_>) -> Result<(), IndexError>,
) -> Result<(), IndexError> {
    // Holds the largest possible header: 46 bytes and three 16-bit lengths.
    const BUF: usize = 256 * 1024;
    let mut pos = end.cd_offset;
    let stop = end.cd_offset.saturating_add(end.cd_size);
    let mut buf = vec![0u8; usize::try_from(end.cd_size).map_or(BUF, |n| n.min(BUF))];
    let (mut start, mut have) = (0usize, 0usize);
    let mut found: u64 = 0;
    loop {
        let pending = buf.get(start..have).unwrap_or_default();
        if let Some((h, len)) = CentralHeader::parse(pending) {
            each(&h)?;
            found += 1;
            start = start.saturating_add(len);
            continue;
        }
        if pending.is_empty() && pos == stop {
            return end.check_count(found);
        }
        // A header cut by the buffer's end: move it to the front and read on.
        let cut = IndexError::BadCentralHeader { index: found };
        let kept = pending.len();
        buf.copy_within(start..have, 0);
        (start, have) = (0, kept);
        let room = buf.len().saturating_sub(have);
        if pos == stop || room == 0 {
            return Err(cut);
        }
        let n = usize::try_from(stop.saturating_sub(pos)).map_or(room, |left| left.min(room));
        let dest = buf
            .get_mut(have..)
            .and_then(|b| b.get_mut(..n))
            .ok_or(cut)?;
        src.read_exact_at(dest, pos)?;
        have += n;
        pos += n as u64;
    }
}

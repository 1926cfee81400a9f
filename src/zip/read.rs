//! Positional reads of an archive: the [`ReadAt`] source (a file through
//! `pread`, or bytes in tests), a stream over a byte range of it, and the
//! walk over the central directory through one reused buffer.
//!
//! Nothing here computes `offset + len` unchecked: a hostile archive can
//! claim any offset, and a claim past the end is an error, never a panic.

use std::io;

use super::end::EndOfCentralDirectory;
use super::format::CentralHeader;
use super::IndexError;

/// Where the archive is read from: a file through `pread`, or bytes in tests.
pub trait ReadAt {
    /// Size of the archive in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; `UnexpectedEof` if the source ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn size(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        // `get(o..)?.get(..len)`, never `o + len`, as gimli's `read_bytes_at`.
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| self.get(o..)?.get(..buf.len()))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// The bytes `pos..end` of a [`ReadAt`] as a stream (for inflating or
/// checksumming a member without reading it into memory).
pub(crate) struct RangeReader<'a, R: ReadAt + ?Sized> {
    pub src: &'a R,
    pub pos: u64,
    pub end: u64,
}

impl<R: ReadAt + ?Sized> io::Read for RangeReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        let dst = buf.get_mut(..n).unwrap_or_default();
        self.src.read_exact_at(dst, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
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

//! Positional reads of an archive: the [`ReadAt`] source (a file through
//! `pread`, or bytes in tests), a stream over a byte range of it, and the
//! walk over the central directory through one reused buffer.
//!
//! Nothing here computes `offset + len` unchecked: a hostile archive can
//! claim any offset, and a claim past the end is an error, never a panic.

use std::io;

use crate::util::bounds;

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
        let dst = bounds::get_mut(buf, 0..n)?;
        self.src.read_exact_at(dst, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

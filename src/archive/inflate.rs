//! Streaming inflate of a deflated member, for clients that do not take gzip.
//!
//! Compressed bytes are read with `pread` into a small buffer, never from the
//! mapping (a truncated file must cost an error, not a SIGBUS). Output stops
//! at the size the central directory declares, so a deflate bomb costs no
//! more than that, and memory stays at the two buffers plus the 32 KiB window.

use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use flate2::{Decompress, FlushDecompress, Status};

use super::Archive;

const INPUT_BUF: usize = 32 * 1024;

pub struct Inflater {
    archive: Arc<Archive>,
    /// Next compressed byte to read, and where the compressed data ends.
    pos: u64,
    end: u64,
    input: Vec<u8>,
    in_start: usize,
    in_end: usize,
    dec: Decompress,
    /// Bytes produced so far, and the declared uncompressed size.
    produced: u64,
    size: u64,
    /// How many more bytes [`Inflater::read`] may return (a Range's length).
    left: u64,
}

impl Inflater {
    /// Inflates `compressed_len` bytes at `offset`, expecting `size` bytes out.
    pub fn new(archive: Arc<Archive>, offset: u64, compressed_len: u64, size: u64) -> Inflater {
        Inflater {
            archive,
            pos: offset,
            end: offset.saturating_add(compressed_len),
            input: vec![0; INPUT_BUF],
            in_start: 0,
            in_end: 0,
            dec: Decompress::new(false),
            produced: 0,
            size,
            left: size,
        }
    }

    /// After the bytes skipped so far, return at most `take` more.
    pub fn limit(mut self, take: u64) -> Inflater {
        self.left = take;
        self
    }

    /// Fills `out` as far as it can; 0 only when the limit (at most the
    /// declared size) is reached. A stream that ends early or is corrupt is an error.
    pub fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inflate(out, self.left)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn inflate(&mut self, out: &mut [u8], limit: u64) -> io::Result<usize> {
        let want = usize::try_from((self.size - self.produced).min(limit))
            .unwrap_or(usize::MAX)
            .min(out.len());
        let Some(out) = out.get_mut(..want) else {
            return Ok(0);
        };
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_start == self.in_end && self.pos < self.end {
                let n = usize::try_from(self.end - self.pos)
                    .unwrap_or(INPUT_BUF)
                    .min(INPUT_BUF);
                let buf = self.input.get_mut(..n).unwrap_or_default();
                self.archive.file().read_exact_at(buf, self.pos)?;
                self.pos += n as u64;
                self.in_start = 0;
                self.in_end = n;
            }
            let input = self
                .input
                .get(self.in_start..self.in_end)
                .unwrap_or_default();
            let (before_in, before_out) = (self.dec.total_in(), self.dec.total_out());
            let status = self
                .dec
                .decompress(input, out, FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = (self.dec.total_in() - before_in) as usize;
            let made = (self.dec.total_out() - before_out) as usize;
            self.in_start += consumed;
            self.produced += made as u64;
            if made > 0 {
                return Ok(made);
            }
            let exhausted = self.in_start == self.in_end && self.pos >= self.end;
            if status == Status::StreamEnd || (consumed == 0 && exhausted) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "deflated member ends before its declared size",
                ));
            }
        }
    }

    /// Inflates and drops `n` bytes (for a Range that starts inside the member).
    pub fn skip(&mut self, mut n: u64) -> io::Result<()> {
        let mut scratch = vec![0; 16 * 1024];
        while n > 0 {
            let take = usize::try_from(n).unwrap_or(usize::MAX).min(scratch.len());
            let got = self.inflate(scratch.get_mut(..take).unwrap_or_default(), u64::MAX)?;
            if got == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            n -= got as u64;
        }
        Ok(())
    }
}

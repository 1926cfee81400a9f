//! Streaming decode of a compressed member (deflate, or zstd for method 93),
//! for clients that do not take the member's coding.
//!
//! Compressed bytes are read with `pread` into a small buffer, never from the
//! mapping (a truncated file must cost an error, not a SIGBUS). Output stops
//! at the size the central directory declares, so a bomb costs no more than
//! that, and memory stays at the two buffers plus the window: 32 KiB for
//! deflate, at most [`ZSTD_DECODE_WINDOW_LOG_MAX`] for zstd.

use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use flate2::{Decompress, FlushDecompress, Status};
use zstd::stream::raw::Operation;

use super::Archive;
use crate::zip::format::{METHOD_DEFLATED, METHOD_ZSTD};

/// The largest zstd window (log2) decoded for a request: 2^25 = 32 MiB, the
/// memory one decoding response may hold. Larger frames are refused (501).
pub const ZSTD_DECODE_WINDOW_LOG_MAX: u32 = 25;

/// The decoder of one member's method.
enum Decoder {
    Deflate(Decompress),
    Zstd(Box<zstd::stream::raw::Decoder<'static>>),
    /// A method that cannot be decoded, or a decoder that could not be made.
    Unusable(&'static str),
}

impl Decoder {
    fn new(method: u16) -> Decoder {
        match method {
            METHOD_DEFLATED => Decoder::Deflate(Decompress::new(false)),
            METHOD_ZSTD => {
                let limit = zstd::stream::raw::DParameter::WindowLogMax(ZSTD_DECODE_WINDOW_LOG_MAX);
                match zstd::stream::raw::Decoder::new() {
                    Ok(mut d) => match d.set_parameter(limit) {
                        Ok(()) => Decoder::Zstd(Box::new(d)),
                        Err(_) => Decoder::Unusable("cannot limit the zstd window"),
                    },
                    Err(_) => Decoder::Unusable("cannot make a zstd decoder"),
                }
            }
            _ => Decoder::Unusable("compression method not decodable"),
        }
    }

    /// Decodes from `input` into `out`: (bytes consumed, bytes made, whether the stream ended).
    fn run(&mut self, input: &[u8], out: &mut [u8]) -> io::Result<(usize, usize, bool)> {
        match self {
            Decoder::Deflate(dec) => {
                let (before_in, before_out) = (dec.total_in(), dec.total_out());
                let status = dec
                    .decompress(input, out, FlushDecompress::None)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                Ok((
                    (dec.total_in() - before_in) as usize,
                    (dec.total_out() - before_out) as usize,
                    status == Status::StreamEnd,
                ))
            }
            Decoder::Zstd(dec) => {
                let st = dec
                    .run_on_buffers(input, out)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                // `remaining == 0`: a frame is complete (another may follow).
                Ok((st.bytes_read, st.bytes_written, false))
            }
            Decoder::Unusable(why) => Err(io::Error::new(io::ErrorKind::Unsupported, *why)),
        }
    }
}

const INPUT_BUF: usize = 32 * 1024;

pub struct Inflater {
    archive: Arc<Archive>,
    /// Next compressed byte to read, and where the compressed data ends.
    pos: u64,
    end: u64,
    input: Vec<u8>,
    in_start: usize,
    in_end: usize,
    dec: Decoder,
    /// Bytes produced so far, and the declared uncompressed size.
    produced: u64,
    size: u64,
    /// How many more bytes [`Inflater::read`] may return (a Range's length).
    left: u64,
}

impl Inflater {
    /// Decodes `compressed_len` bytes at `offset` compressed with `method`
    /// (deflate or zstd), expecting `size` bytes out.
    pub fn new(
        archive: Arc<Archive>,
        method: u16,
        offset: u64,
        compressed_len: u64,
        size: u64,
    ) -> Inflater {
        Inflater {
            archive,
            pos: offset,
            end: offset.saturating_add(compressed_len),
            input: vec![0; INPUT_BUF],
            in_start: 0,
            in_end: 0,
            dec: Decoder::new(method),
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
            let (consumed, made, ended) = self.dec.run(input, out)?;
            self.in_start += consumed;
            self.produced += made as u64;
            if made > 0 {
                return Ok(made);
            }
            let exhausted = self.in_start == self.in_end && self.pos >= self.end;
            if ended || (consumed == 0 && exhausted) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "compressed member ends before its declared size",
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

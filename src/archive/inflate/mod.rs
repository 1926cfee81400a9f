//! Streaming decode of a compressed member (deflate, or zstd, method 93), for
//! clients that do not take the member's coding as it is.
//!
//! Compressed bytes are read with `pread` into a small buffer, never from the
//! mapping (a truncated file must cost an error, not a SIGBUS). Output stops
//! at the size the central directory declares, so a bomb costs no more than
//! that, and memory stays at the two buffers plus the window: 32 KiB for
//! deflate, at most [`ZSTD_DECODE_WINDOW_LOG_MAX`] for zstd.
//!
//! Deflate bounds its own ratio (about [`DEFLATE_MAX_RATIO`] bytes out per
//! byte in); zstd does not (an RLE block makes 128 KiB from 4 bytes), so a
//! zstd member is decoded only within that same ratio ([`zstd_refusal`]).
//! A zstd decoder holds its window, so live decoders reserve their windows
//! from one process-wide budget, [`ZSTD_DECODE_MEMORY`] ([`ZstdMemory`]):
//! past it a request is refused before its headers (503), not queued.
//!
//! Every body that reaches the member's end is checked against the member's
//! CRC-32 before its last bytes are handed out: a mismatch is an error in
//! place of those bytes, so the exchange is cut instead of completed.
//!
//! Inflating a deflated member over [`checkpoints::MIN_MEMBER`] records checkpoints
//! as it goes, and [`Inflater::at`] starts from the nearest one, so a Range
//! or a log view's tail deep in a big member costs at most one spacing of
//! inflating once the member has been read through once. A zstd member has
//! no checkpoints: a Range into it decodes (and checks) from its first byte.

use std::io;
use std::sync::Arc;

use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};
use zstd::stream::raw::Operation;

use super::checkpoints::{self, Checkpoint, CheckpointKey};
use super::Archive;
use crate::stats::STATS;
use crate::util::bounds;
use crate::zip::format::{METHOD_DEFLATED, METHOD_ZSTD};

mod zstd_memory;

pub use zstd_memory::{
    zstd_refusal, zstd_reserved, DecoderMemoryBusy, ZstdMemory, ZstdRefusal, DEFLATE_MAX_RATIO,
    ZSTD_DECODE_MEMORY, ZSTD_DECODE_WINDOW_LOG_MAX, ZSTD_RATIO_FREE,
};

/// A compressed member's data, as the index and its local header place it.
#[derive(Debug, Clone, Copy)]
pub struct Compressed {
    pub method: u16,
    /// Archive offset of the compressed data, and its length.
    pub offset: u64,
    pub len: u64,
    /// The declared uncompressed size and CRC-32.
    pub size: u64,
    pub crc32: u32,
}

/// The decoded bytes of a member do not match its CRC-32: the member is
/// corrupt. (Logged once per archive version, by [`Archive::crc_mismatch`].)
#[derive(Debug)]
pub struct CrcMismatch {
    pub expected: u32,
    pub actual: u32,
}

impl std::fmt::Display for CrcMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "decoded bytes have CRC-32 {:08x}, the central directory says {:08x}",
            self.actual, self.expected
        )
    }
}

impl std::error::Error for CrcMismatch {}

impl CrcMismatch {
    /// Whether `e` is a CRC mismatch (already logged where it was found).
    pub fn is(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|e| e.is::<CrcMismatch>())
    }
}

/// The decoder of one member's method.
enum Decoder {
    /// miniz_oxide's state is `Clone`: a clone is a checkpoint.
    Deflate(Box<InflateState>),
    /// With the window it reserved, held (never read) as long as the decoder.
    Zstd {
        dec: Box<zstd::stream::raw::Decoder<'static>>,
        _memory: Arc<ZstdMemory>,
    },
    /// A method that cannot be decoded, or a decoder that could not be made.
    Unusable(io::Error),
}

impl Decoder {
    fn new(method: u16, zstd_memory: impl FnOnce() -> io::Result<Arc<ZstdMemory>>) -> Decoder {
        let unusable = |why: &str| Decoder::Unusable(io::Error::other(why));
        match method {
            METHOD_DEFLATED => Decoder::Deflate(InflateState::new_boxed(DataFormat::Raw)),
            METHOD_ZSTD => {
                let memory = match zstd_memory() {
                    Ok(m) => m,
                    Err(e) => return Decoder::Unusable(e),
                };
                // The decoder may use the window reserved for it, not more.
                let limit = zstd::stream::raw::DParameter::WindowLogMax(memory.window_log);
                match zstd::stream::raw::Decoder::new() {
                    Ok(mut d) => match d.set_parameter(limit) {
                        Ok(()) => Decoder::Zstd {
                            dec: Box::new(d),
                            _memory: memory,
                        },
                        Err(_) => unusable("cannot limit the zstd window"),
                    },
                    Err(_) => unusable("cannot make a zstd decoder"),
                }
            }
            _ => Decoder::Unusable(io::Error::new(
                io::ErrorKind::Unsupported,
                "compression method not decodable",
            )),
        }
    }

    /// Decodes from `input` into `out`: (bytes consumed, bytes made, whether the stream ended).
    fn run(&mut self, input: &[u8], out: &mut [u8]) -> io::Result<(usize, usize, bool)> {
        match self {
            Decoder::Deflate(state) => {
                let res = inflate(state, input, out, MZFlush::None);
                let ended = match res.status {
                    Ok(status) => status == MZStatus::StreamEnd,
                    // No progress possible: more input needed (or none left).
                    Err(MZError::Buf) => false,
                    Err(e) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("corrupt deflate stream ({e:?})"),
                        ))
                    }
                };
                Ok((res.bytes_consumed, res.bytes_written, ended))
            }
            Decoder::Zstd { dec, .. } => {
                let st = dec
                    .run_on_buffers(input, out)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                // `remaining == 0`: a frame is complete (another may follow).
                Ok((st.bytes_read, st.bytes_written, false))
            }
            Decoder::Unusable(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }
}

const INPUT_BUF: usize = 32 * 1024;

pub struct Inflater {
    archive: Arc<Archive>,
    /// Archive offset of the member's compressed data (names it in the log).
    data: u64,
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
    /// CRC-32 of the bytes produced so far, and the one the member declares.
    crc: crc32fast::Hasher,
    expected_crc: u32,
    /// How many more bytes [`Inflater::read`] may return (a Range's length).
    left: u64,
    /// Recording checkpoints (deflate only): which member, and newlines produced so far.
    record: Option<(CheckpointKey, u64)>,
}

impl Inflater {
    /// Decodes `member` (deflate or zstd). A zstd decoder uses `memory` when
    /// given (reserved by whoever answers the request, so that it could
    /// answer 503), else reserves its own; without room, reads fail.
    pub fn new(
        archive: Arc<Archive>,
        member: Compressed,
        memory: Option<Arc<ZstdMemory>>,
    ) -> Inflater {
        let key = CheckpointKey {
            archive: archive.identity(),
            data: member.offset,
        };
        let dec = Decoder::new(member.method, || match memory {
            Some(m) => Ok(m),
            None => ZstdMemory::for_frame(&archive, member.offset, member.len).map(Arc::new),
        });
        Inflater {
            archive,
            data: member.offset,
            pos: member.offset,
            end: member.offset.saturating_add(member.len),
            input: vec![0; INPUT_BUF],
            in_start: 0,
            in_end: 0,
            dec,
            produced: 0,
            size: member.size,
            crc: crc32fast::Hasher::new(),
            expected_crc: member.crc32,
            left: member.size,
            record: (member.method == METHOD_DEFLATED && member.size > checkpoints::MIN_MEMBER)
                .then_some((key, 0)),
        }
    }

    /// Like [`Inflater::new`], but started from the checkpoint nearest below
    /// output offset `target`, if the member has one: [`Inflater::position`]
    /// says where it stands.
    pub fn at(
        archive: Arc<Archive>,
        member: Compressed,
        memory: Option<Arc<ZstdMemory>>,
        target: u64,
    ) -> Inflater {
        let size = member.size;
        let mut inflater = Inflater::new(archive, member, memory);
        let Some((key, _)) = inflater.record else {
            return inflater;
        };
        let Some(cp) = checkpoints::nearest(key, target.min(size)) else {
            return inflater;
        };
        if cp.input > inflater.end || cp.out > size {
            return inflater;
        }
        inflater.pos = cp.input;
        inflater.dec = Decoder::Deflate(cp.state);
        inflater.produced = cp.out;
        inflater.crc = crc32fast::Hasher::new_with_initial_len(cp.crc, cp.out);
        inflater.record = Some((key, cp.lines));
        inflater
    }

    /// Output bytes before the next one this inflater makes, and the
    /// newlines among them when known (started from the member's start or a checkpoint).
    pub fn position(&self) -> (u64, Option<u64>) {
        (self.produced, self.record.map(|(_, lines)| lines))
    }

    /// After the bytes skipped so far, return at most `take` more.
    pub fn limit(mut self, take: u64) -> Inflater {
        self.left = take;
        self
    }

    /// Fills `out` as far as it can; 0 only when the limit (at most the
    /// declared size) is reached. A stream that ends early or is corrupt is
    /// an error, and so are the last bytes of a member whose CRC-32 does not match.
    pub fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inflate(out, self.left)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn inflate(&mut self, out: &mut [u8], limit: u64) -> io::Result<usize> {
        let mut want = usize::try_from((self.size - self.produced).min(limit))
            .unwrap_or(usize::MAX)
            .min(out.len());
        if self.record.is_some() {
            // Stop exactly at the next checkpoint's offset.
            let to_next = checkpoints::SPACING - self.produced % checkpoints::SPACING;
            want = want.min(usize::try_from(to_next).unwrap_or(usize::MAX));
        }
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
                let buf = bounds::get_mut(&mut self.input, 0..n)?;
                self.archive.read_exact_at(buf, self.pos)?;
                self.pos += n as u64;
                self.in_start = 0;
                self.in_end = n;
            }
            let input = bounds::get(&self.input, self.in_start..self.in_end)?;
            let (consumed, made, ended) = self.dec.run(input, out)?;
            self.in_start += consumed;
            self.produced += made as u64;
            if made > 0 {
                STATS.bytes_inflated.add(made as u64);
                let made_bytes = out.get(..made).unwrap_or_default();
                self.crc.update(made_bytes);
                if self.produced == self.size {
                    self.check_crc()?;
                }
                self.recorded(made_bytes);
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

    /// At the member's end: its CRC-32 against the declared one. On a
    /// mismatch the last bytes are withheld (an error instead), so no
    /// response with wrong bytes can complete.
    fn check_crc(&self) -> io::Result<()> {
        let actual = self.crc.clone().finalize();
        if actual == self.expected_crc {
            return Ok(());
        }
        let mismatch = CrcMismatch {
            expected: self.expected_crc,
            actual,
        };
        self.archive.crc_mismatch(self.data, &mismatch);
        Err(io::Error::new(io::ErrorKind::InvalidData, mismatch))
    }

    /// Counts newlines in `made` and takes a checkpoint at each spacing.
    fn recorded(&mut self, made: &[u8]) {
        let Some((key, lines)) = &mut self.record else {
            return;
        };
        *lines += memchr::memchr_iter(b'\n', made).count() as u64;
        let (key, lines) = (*key, *lines);
        let out = self.produced;
        if out % checkpoints::SPACING != 0 || out >= self.size || !checkpoints::wants(key, out) {
            return;
        }
        let Decoder::Deflate(state) = &self.dec else {
            return;
        };
        let unread = (self.in_end - self.in_start) as u64;
        checkpoints::insert(
            key,
            Checkpoint {
                out,
                input: self.pos - unread,
                lines,
                crc: self.crc.clone().finalize(),
                state: Box::new((**state).clone()),
            },
        );
    }

    /// Inflates and drops `n` bytes (for a Range that starts inside the member).
    pub fn skip(&mut self, mut n: u64) -> io::Result<()> {
        let mut scratch = vec![0; 16 * 1024];
        while n > 0 {
            let take = usize::try_from(n).unwrap_or(usize::MAX).min(scratch.len());
            let got = self.inflate(bounds::get_mut(&mut scratch, 0..take)?, u64::MAX)?;
            if got == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            n -= got as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

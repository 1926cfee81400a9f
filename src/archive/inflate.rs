//! Streaming decode of a compressed member (deflate, or zstd, method 93), for
//! clients that do not take the member's coding as it is.
//!
//! Compressed bytes are read with `pread` into a small buffer, never from the
//! mapping (a truncated file must cost an error, not a SIGBUS). Output stops
//! at the size the central directory declares, so a bomb costs no more than
//! that, and memory stays at the two buffers plus the window: 32 KiB for
//! deflate, at most [`ZSTD_DECODE_WINDOW_LOG_MAX`] for zstd.
//!
//! Inflating a deflated member over [`checkpoints::MIN_MEMBER`] records checkpoints
//! as it goes, and [`Inflater::at`] starts from the nearest one, so a Range
//! or a log view's tail deep in a big member costs at most one spacing of
//! inflating once the member has been read through once.

use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};
use zstd::stream::raw::Operation;

use super::checkpoints::{self, Checkpoint, CheckpointKey};
use super::Archive;
use crate::stats::STATS;
use crate::util::bounds;
use crate::zip::format::{METHOD_DEFLATED, METHOD_ZSTD};

/// The largest zstd window (log2) decoded for a request: 2^25 = 32 MiB, the
/// memory one decoding response may hold. Larger frames are refused (501).
pub const ZSTD_DECODE_WINDOW_LOG_MAX: u32 = 25;

/// The decoder of one member's method.
enum Decoder {
    /// miniz_oxide's state is `Clone`: a clone is a checkpoint.
    Deflate(Box<InflateState>),
    Zstd(Box<zstd::stream::raw::Decoder<'static>>),
    /// A method that cannot be decoded, or a decoder that could not be made.
    Unusable(&'static str),
}

impl Decoder {
    fn new(method: u16) -> Decoder {
        match method {
            METHOD_DEFLATED => Decoder::Deflate(InflateState::new_boxed(DataFormat::Raw)),
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
    /// Recording checkpoints (deflate only): which member, and newlines produced so far.
    record: Option<(CheckpointKey, u64)>,
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
        let key = CheckpointKey {
            archive: archive.identity(),
            data: offset,
        };
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
            record: (method == METHOD_DEFLATED && size > checkpoints::MIN_MEMBER)
                .then_some((key, 0)),
        }
    }

    /// Like [`Inflater::new`], but started from the checkpoint nearest below
    /// output offset `target`, if the member has one: [`Inflater::position`]
    /// says where it stands.
    pub fn at(
        archive: Arc<Archive>,
        method: u16,
        offset: u64,
        compressed_len: u64,
        size: u64,
        target: u64,
    ) -> Inflater {
        let mut inflater = Inflater::new(archive, method, offset, compressed_len, size);
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
    /// declared size) is reached. A stream that ends early or is corrupt is an error.
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
                self.archive.file().read_exact_at(buf, self.pos)?;
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
                self.recorded(out.get(..made).unwrap_or_default());
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
mod tests {
    use super::*;
    use std::process::Command;

    /// A member inflated once is then entered at checkpoints, with the same bytes.
    #[test]
    fn checkpoints_resume_with_identical_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = Vec::new();
        let mut i = 0u64;
        while text.len() < 9 << 20 {
            // Varied enough that blocks and Huffman tables change along the way.
            let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
            text.extend_from_slice(
                format!("line {i} value {x:x} {}\n", "ab".repeat((x % 40) as usize)).as_bytes(),
            );
            i += 1;
        }
        std::fs::write(dir.path().join("big.log"), &text).unwrap();
        let ok = Command::new("zip")
            .args(["-q", "-6", "a.zip", "big.log"])
            .current_dir(dir.path())
            .status()
            .expect("Info-ZIP zip (apt install zip)");
        assert!(ok.success());
        let archive = Arc::new(Archive::open(&dir.path().join("a.zip")).unwrap());
        let entry = archive.index().get(b"big.log").unwrap();
        let (offset, raw) = archive.raw_data(entry).unwrap();
        let size = entry.size();
        assert_eq!(size, text.len() as u64);

        // No checkpoints yet: starts at 0.
        let first = Inflater::at(
            Arc::clone(&archive),
            METHOD_DEFLATED,
            offset,
            raw,
            size,
            7 << 20,
        );
        assert_eq!(first.position(), (0, Some(0)));
        let mut whole = Inflater::new(Arc::clone(&archive), METHOD_DEFLATED, offset, raw, size);
        let mut out = vec![0; 70_000];
        let mut got = Vec::new();
        loop {
            match whole.read(&mut out).unwrap() {
                0 => break,
                n => got.extend_from_slice(&out[..n]),
            }
        }
        assert!(got == text);

        for target in [(1 << 20) - 1, 1 << 20, (7 << 20) + 12345, size - 1] {
            let mut inf = Inflater::at(
                Arc::clone(&archive),
                METHOD_DEFLATED,
                offset,
                raw,
                size,
                target,
            );
            let (at, lines) = inf.position();
            assert!(
                at <= target && target - at < checkpoints::SPACING,
                "{at} {target}"
            );
            let newlines = text[..at as usize].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(lines, Some(newlines));
            let mut inf_out = Vec::new();
            loop {
                match inf.read(&mut out).unwrap() {
                    0 => break,
                    n => inf_out.extend_from_slice(&out[..n]),
                }
            }
            assert!(inf_out == text[at as usize..], "resumed at {at}");
        }
    }
}

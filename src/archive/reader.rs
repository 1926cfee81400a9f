//! A member's bytes, read in order for pages made from them (log views,
//! search): stored members with `pread`, deflated ones inflated by streaming,
//! from the nearest checkpoint. Never from the mapping.

use std::io;
use std::sync::Arc;

use super::inflate::{Compressed, Inflater};
use super::Archive;
use crate::zip::format::{METHOD_DEFLATED, METHOD_STORED, METHOD_ZSTD};
use crate::zip::Entry;

pub enum MemberReader {
    Stored {
        archive: Arc<Archive>,
        /// Next archive offset to read, and where the member ends.
        pos: u64,
        end: u64,
    },
    Deflated(Box<Inflater>),
}

impl MemberReader {
    /// A reader positioned at or before output offset `target`: exactly at
    /// the start for stored members (so newlines can be counted from 0),
    /// at the nearest checkpoint for deflated ones. Returns the reader, its
    /// output offset and the newlines before it when known.
    pub fn open(
        archive: &Arc<Archive>,
        entry: &Entry,
        target: u64,
    ) -> io::Result<(MemberReader, u64, u64)> {
        if entry.is_encrypted() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "encrypted member",
            ));
        }
        let (offset, raw_len) = archive
            .raw_data(entry)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        match entry.method() {
            METHOD_STORED => Ok((
                MemberReader::Stored {
                    archive: Arc::clone(archive),
                    pos: offset,
                    end: offset.saturating_add(raw_len),
                },
                0,
                0,
            )),
            method @ (METHOD_DEFLATED | METHOD_ZSTD) => {
                let member = Compressed {
                    method,
                    offset,
                    len: raw_len,
                    size: entry.size(),
                    crc32: entry.crc32(),
                };
                let inflater = Inflater::at(Arc::clone(archive), member, None, target);
                let (at, lines) = inflater.position();
                match lines {
                    Some(lines) => Ok((MemberReader::Deflated(Box::new(inflater)), at, lines)),
                    // Not resumable (zstd): from the start, where there are no lines before.
                    None if at == 0 => Ok((MemberReader::Deflated(Box::new(inflater)), 0, 0)),
                    // A checkpoint always knows its line count; without one, start over.
                    None => Ok((
                        MemberReader::Deflated(Box::new(Inflater::new(
                            Arc::clone(archive),
                            member,
                            None,
                        ))),
                        0,
                        0,
                    )),
                }
            }
            other => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("compression method {other}"),
            )),
        }
    }

    /// Fills `buf` as far as it can; 0 at the end of the member.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MemberReader::Stored { archive, pos, end } => {
                let n = usize::try_from(*end - *pos)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                let Some(buf) = buf.get_mut(..n) else {
                    return Ok(0);
                };
                archive.read_exact_at(buf, *pos)?;
                *pos += n as u64;
                Ok(n)
            }
            MemberReader::Deflated(inflater) => inflater.read(buf),
        }
    }
}

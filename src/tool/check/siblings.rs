//! Checks of what a member stands for beyond its own bytes: a precompressed
//! sibling (`NAME.br`, `NAME.zst`, `NAME.gz`) must decode to exactly
//! `NAME`, or browsers and curl see different content; a symlink member is
//! served as a file holding its target's path, which is rarely what was meant.

use std::fs::File;
use std::io::Read;

use super::super::read::Central;
use crate::content::coding::Coding;
use crate::zip::format::METHOD_STORED;
use crate::zip::read::RangeReader;

/// Unix file type bits of the mode in the upper half of the external attributes.
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
/// "Made by" host 3: Unix, whose external attributes carry a mode.
const HOST_UNIX: u16 = 3;

/// A problem if `m` is a symbolic link as the tool that zipped it recorded.
pub(super) fn symlink_problem(m: &Central) -> Option<String> {
    let unix = m.made_by >> 8 == HOST_UNIX;
    let mode = m.external_attrs >> 16;
    (unix && mode & S_IFMT == S_IFLNK).then(|| {
        "a symbolic link: served as a file holding the path it points to \
         (pack the file itself, e.g. zip -r without -y)"
            .to_owned()
    })
}

/// A problem if the stored sibling `sib` of `base` (its data at
/// `data_offset`) does not decode to `base`'s size and CRC-32.
pub(super) fn sibling_problem(
    file: &File,
    sib: &Central,
    data_offset: u64,
    coding: Coding,
    base: &Central,
) -> Option<String> {
    if sib.method != METHOD_STORED {
        // The server takes only stored siblings; this one is a file of its own.
        return None;
    }
    let raw = RangeReader {
        src: file,
        pos: data_offset,
        end: data_offset.saturating_add(sib.compressed_size),
    };
    let mut decoded: Box<dyn Read> = match coding {
        Coding::Br => Box::new(brotli::Decompressor::new(raw, 64 * 1024)),
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Coding::Zstd => match zstd::stream::read::Decoder::new(raw) {
            Ok(d) => Box::new(d),
            Err(e) => return Some(format!("cannot make a zstd decoder: {e}")),
        },
    };
    let mut crc = crc32fast::Hasher::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match decoded.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                crc.update(buf.get(..n).unwrap_or_default());
                total += n as u64;
                // Never decode much past what `base` holds.
                if total > base.size {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Some(format!("does not decode as {}: {e}", coding.token())),
        }
    }
    let crc = crc.finalize();
    let differs = if total > base.size {
        Some(format!("decodes to more than the {} bytes", base.size))
    } else if total != base.size {
        Some(format!("decodes to {total} bytes, not {}", base.size))
    } else if crc != base.crc32 {
        Some(format!(
            "decodes to other bytes (CRC-32 {crc:08x}, not {:08x})",
            base.crc32
        ))
    } else {
        None
    };
    differs.map(|why| {
        format!(
            "a {} sibling that differs from its member: {why}; clients that take {} see other content",
            coding.token(),
            coding.token()
        )
    })
}

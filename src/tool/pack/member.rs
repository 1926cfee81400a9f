//! A member from an item: what a worker makes of a file (its data, CRC-32,
//! deflated data and precompressed siblings) and the zip headers the writer
//! assembles around it. Kept apart from the pipeline, which only decides
//! who does this and when.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;

use super::args::{deflate_candidate, is_text, saves, Align, Deflate, PackArgs, SIBLING_CODINGS};
use super::walk::Item;
use super::Summary;
use crate::content::coding::Coding;
use crate::tool::compress::{self, Deflater};
use crate::tool::write::{Member, Writer};
use crate::tool::Error;
use crate::zip::format::{FLAG_UTF8, METHOD_DEFLATED, METHOD_STORED};

/// Version made by: Unix (3), APPNOTE 2.0; version needed 2.0 (deflate, directories).
const MADE_BY: u16 = 0x0314;
const VERSION_NEEDED: u16 = 20;

/// The UT extra field (APPNOTE 4.6.x, Info-ZIP "extended timestamp") with the mtime only.
fn ut_field(mtime: i64) -> [u8; 9] {
    let t = mtime.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    let [a, b, c, d] = t.to_le_bytes();
    [0x55, 0x54, 5, 0, 1, a, b, c, d]
}

fn base_member<'a>(name: &'a [u8], mtime: i64, ut: &'a [u8; 9], mode: u32) -> Member<'a> {
    let (dos_date, dos_time) = crate::util::time::unix_to_dos(mtime);
    Member {
        name,
        flags: FLAG_UTF8,
        method: METHOD_STORED,
        dos_date,
        dos_time,
        crc32: 0,
        compressed_size: 0,
        size: 0,
        made_by: MADE_BY,
        version_needed: VERSION_NEEDED,
        internal_attrs: 0,
        external_attrs: mode << 16,
        local_extra: ut,
        central_extra: ut,
        comment: &[],
        align: None,
    }
}

pub(super) fn add_dir(w: &mut Writer, item: &Item, mtime: i64, align: Align) -> Result<(), Error> {
    let ut = ut_field(mtime);
    let mut m = base_member(item.name.as_bytes(), mtime, &ut, 0o040_755);
    // MS-DOS directory attribute, as Info-ZIP sets it.
    m.external_attrs |= 0x10;
    m.align = Some(align.for_member(item.name.as_bytes(), 0));
    let at = w.begin(&m)?;
    w.end(&m, at)
}

/// An item of a batch, opened.
pub(super) enum MemberSource {
    Dir(i64),
    File {
        file: File,
        meta: fs::Metadata,
        size: u64,
    },
    /// The output itself.
    Skip,
}

pub(super) fn open(item: &Item, exclude: &[(u64, u64)]) -> Result<MemberSource, Error> {
    if let Some(mtime) = item.dir_mtime {
        return Ok(MemberSource::Dir(mtime));
    }
    let path = &item.path;
    let file = File::open(path).map_err(Error::io(path, "open"))?;
    let meta = file.metadata().map_err(Error::io(path, "stat"))?;
    if !meta.is_file() {
        return Err(Error::input(
            path,
            "changed into a non-regular file while packing",
        ));
    }
    if exclude.contains(&(meta.dev(), meta.ino())) {
        return Ok(MemberSource::Skip);
    }
    let size = meta.len();
    Ok(MemberSource::File { file, meta, size })
}

/// An item prepared by a worker.
pub(super) enum Ready {
    Dir(i64),
    File {
        /// The file's mtime and mode.
        mtime: i64,
        mode: u32,
        size: u64,
        body: MemberBytes,
    },
    /// The output itself.
    Skip,
}

/// A file's data: read (and compressed) by a worker, or left for the writer
/// to stream from the file (large stored files).
pub(super) enum MemberBytes {
    Read(Done),
    Stream(File),
}

/// A file read and compressed by a worker, ready to be written.
pub(super) struct Done {
    /// The file's bytes; left empty when the member is deflated.
    data: Vec<u8>,
    crc32: u32,
    /// The deflated data, when the member is to be deflated.
    deflated: Option<Vec<u8>>,
    /// Precompressed siblings, in [`SIBLING_CODINGS`] order.
    siblings: Vec<(Coding, Vec<u8>)>,
}

/// Reads one file, computes its CRC-32 and compresses it as `args` ask.
pub(super) fn read_and_compress(
    item: &Item,
    mut file: &File,
    size: u64,
    args: &PackArgs,
    names: &HashSet<&[u8]>,
    deflater: &mut Deflater,
) -> Result<Done, Error> {
    let path = &item.path;
    let mut data = Vec::with_capacity(size as usize);
    (&mut file)
        .take(size)
        .read_to_end(&mut data)
        .map_err(Error::io(path, "read"))?;
    if data.len() as u64 != size {
        return Err(Error::input(path, "file shrank while being read"));
    }
    let crc32 = crc32fast::hash(&data);
    let text = is_text(&item.name, &data);
    let mut deflated = None;
    if deflate_candidate(args.deflate, &item.name, size)
        && (args.deflate == Deflate::Always || text)
    {
        let d = deflater
            .deflate(&data)
            .map_err(Error::io(path, "compress"))?;
        if args.deflate == Deflate::Always || saves(d.len(), size) {
            deflated = Some(d);
        }
    }
    let mut siblings = Vec::new();
    if text && !args.precompress.is_empty() && deflate_candidate(Deflate::Auto, &item.name, size) {
        let baseline = deflated.as_ref().map_or(size, |d| d.len() as u64);
        add_siblings(
            item,
            &data,
            crc32,
            baseline,
            args,
            names,
            deflater,
            &mut siblings,
        )?;
    }
    if deflated.is_some() {
        data = Vec::new();
    }
    Ok(Done {
        data,
        crc32,
        deflated,
        siblings,
    })
}

/// The siblings of a text-like member: each coding of `--precompress`, kept
/// where it saves ≥ 10 % over `baseline`, what the archive already offers for
/// NAME (the deflated member, which a client taking gzip gets as gzip; or the
/// stored bytes). So with the default `--deflate auto`, `NAME.gz` is rarely
/// worth it, and with `--deflate never` it gives gzip clients a compressed body
/// while ranges keep coming zero-copy from the stored NAME. A sibling name that
/// is already a file of the tree is left to that file.
#[allow(clippy::too_many_arguments)]
pub(super) fn add_siblings(
    item: &Item,
    data: &[u8],
    crc32: u32,
    baseline: u64,
    args: &PackArgs,
    names: &HashSet<&[u8]>,
    deflater: &mut Deflater,
    out: &mut Vec<(Coding, Vec<u8>)>,
) -> Result<(), Error> {
    let codings = SIBLING_CODINGS
        .into_iter()
        .filter(|c| args.precompress.contains(c));
    for coding in codings {
        if names.contains(sibling_name(item, coding).as_slice()) {
            continue;
        }
        let bytes = match coding {
            Coding::Br => compress::brotli(data),
            Coding::Zstd => compress::zstd(data),
            Coding::Gzip => deflater.gzip(data, crc32),
        }
        .map_err(Error::io(&item.path, "compress"))?;
        if saves(bytes.len(), baseline) {
            out.push((coding, bytes));
        }
    }
    Ok(())
}

/// `NAME.br`, `NAME.zst` or `NAME.gz` for the file `NAME`.
fn sibling_name(item: &Item, coding: Coding) -> Vec<u8> {
    [item.name.as_bytes(), coding.suffix()].concat()
}

/// Writes one file (with its siblings), compressed or streamed stored.
#[allow(clippy::too_many_arguments)]
pub(super) fn add_file(
    w: &mut Writer,
    item: &Item,
    args: &PackArgs,
    body: MemberBytes,
    (file_mtime, mode): (i64, u32),
    size: u64,
    summary: &mut Summary,
) -> Result<(), Error> {
    let mtime = args.mtime.unwrap_or(file_mtime);
    let perm = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
    let ut = ut_field(mtime);
    let mut m = base_member(item.name.as_bytes(), mtime, &ut, 0o100_000 | perm);
    m.size = size;
    summary.bytes += size;
    let done = match body {
        MemberBytes::Read(done) => done,
        MemberBytes::Stream(mut file) => {
            // A large stored file: streamed from the file into the archive.
            m.compressed_size = size;
            m.align = Some(args.align.for_member(item.name.as_bytes(), size));
            let at = w.begin(&m)?;
            m.crc32 = w.fill_from(&mut file, size, &item.path)?;
            return w.end(&m, at);
        }
    };
    m.crc32 = done.crc32;
    match &done.deflated {
        Some(deflated) => {
            m.method = METHOD_DEFLATED;
            m.compressed_size = deflated.len() as u64;
            let at = w.begin(&m)?;
            w.write(deflated)?;
            w.end(&m, at)?;
            summary.deflated += 1;
        }
        None => {
            m.compressed_size = size;
            m.align = Some(args.align.for_member(item.name.as_bytes(), size));
            let at = w.begin(&m)?;
            w.write(&done.data)?;
            w.end(&m, at)?;
        }
    }
    for (coding, bytes) in &done.siblings {
        let name = sibling_name(item, *coding);
        let mut s = base_member(&name, mtime, &ut, 0o100_644);
        let len = bytes.len() as u64;
        s.crc32 = crc32fast::hash(bytes);
        s.size = len;
        s.compressed_size = len;
        s.align = Some(args.align.for_member(&name, len));
        let at = w.begin(&s)?;
        w.write(bytes)?;
        w.end(&s, at)?;
        summary.siblings += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn ut_clamps() {
        assert_eq!(ut_field(1 << 40)[5..], i32::MAX.to_le_bytes());
        assert_eq!(ut_field(0x0102_0304)[5..], [4, 3, 2, 1]);
    }
}

//! Archives built in memory for the unit tests of `zip/`, shared by every
//! test module here instead of each keeping its own: whole archives through
//! the `zip` crate, and bare central directories (headers whose fields the
//! `zip` crate would not write: ZIP64 values past 4 GiB, times before 1970).
//! Bytes only: what a test asks of an index it asks the `Index` itself
//! (`Index::served` gives a stored member's bytes), so this module imports
//! none of the modules whose tests use it.
//!
//! unwrap/expect here act on inputs the tests build themselves, never on
//! bytes from the network or an archive in service: a failure is the test's.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

use super::format;

/// An archive of `members`, stored, in the order given.
pub(super) fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// One central header (no local data behind it) with the given fields,
/// ZIP64 extra for any of `size`, `compressed` and `offset` past 32 bits.
pub(super) fn central(
    name: &str,
    method: u16,
    size: u64,
    compressed: u64,
    offset: u64,
    extra: &[u8],
) -> Vec<u8> {
    let mut z64 = Vec::new();
    let mut field = |v: u64| {
        if v >= u64::from(u32::MAX) {
            z64.extend_from_slice(&v.to_le_bytes());
            u32::MAX
        } else {
            v as u32
        }
    };
    let (s, c, o) = (field(size), field(compressed), field(offset));
    let mut x = Vec::new();
    if !z64.is_empty() {
        x.extend_from_slice(&format::EXTRA_ZIP64.to_le_bytes());
        x.extend_from_slice(&(z64.len() as u16).to_le_bytes());
        x.extend_from_slice(&z64);
    }
    x.extend_from_slice(extra);
    let mut h = Vec::new();
    h.extend_from_slice(&format::CENTRAL_SIG.to_le_bytes());
    h.extend_from_slice(&[45, 3, 45, 0, 0, 0]);
    h.extend_from_slice(&method.to_le_bytes());
    h.extend_from_slice(&[0, 0, 0x21, 0]); // DOS time 0, 1980-01-01
    h.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    h.extend_from_slice(&c.to_le_bytes());
    h.extend_from_slice(&s.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&(x.len() as u16).to_le_bytes());
    h.extend_from_slice(&[0; 10]); // comment length, disk, attributes
    h.extend_from_slice(&o.to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    h.extend_from_slice(&x);
    h
}

/// A central directory of `headers` and its end record (nothing else:
/// the headers may point anywhere, nothing reads the local headers).
pub(super) fn directory(headers: &[Vec<u8>]) -> Vec<u8> {
    let cd: Vec<u8> = headers.concat();
    let mut zip = cd.clone();
    zip.extend_from_slice(&format::EOCD_SIG.to_le_bytes());
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&(headers.len() as u16).to_le_bytes());
    zip.extend_from_slice(&(headers.len() as u16).to_le_bytes());
    zip.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    zip.extend_from_slice(&0u32.to_le_bytes());
    zip.extend_from_slice(&[0; 2]);
    zip
}

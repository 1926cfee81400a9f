//! Writing APPNOTE records: local and central headers and the end records,
//! each with a ZIP64 field exactly where a value does not fit its classic
//! field. `wwz pack` and `wwz align` (through `tool::write`) and `DIR/?zip`
//! ([`super::stream`]) write through these, so every zip wwz makes has the
//! same records. Bytes are appended to a buffer; no I/O.
//!
//! ```text
//! local   sig ver flags method time date crc csize size nlen xlen  name extra
//!         4   2   2     2      2    2    4   4     4    2    2     (ZIP64 first: size, csize)
//! central sig made ver flags method time date crc csize size nlen xlen clen disk iattr xattr offset  name extra comment
//!         4   2    2   2     2      2    2    4   4     4    2    2    2    2    2     4     4       (ZIP64 first: saturated ones of size, csize, offset)
//! end     [ZIP64 end (56) + locator (20), when a count, size or offset overflows] end (22) comment
//! ```

use super::format::{self, EXTRA_ZIP64};

/// A 32-bit field whose value is in the ZIP64 extra field.
pub const SATURATED: u32 = u32::MAX;
/// "Version needed" for ZIP64 records (APPNOTE 4.4.3.2).
pub const VERSION_ZIP64: u16 = 45;
/// A local header's ZIP64 extra field: id, length, both sizes.
pub const LOCAL_ZIP64_LEN: usize = 20;
/// The ZIP64 end record and its locator, before the classic end record.
pub const ZIP64_END_LEN: usize = format::ZIP64_EOCD_LEN + format::ZIP64_LOCATOR_LEN;

/// A field that does not fit its 16-bit length (name, extra field, comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong(pub &'static str);

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} too long", self.0)
    }
}

impl std::error::Error for TooLong {}

/// What a local and a central header of one member say (APPNOTE 4.3.7, 4.3.12).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub name: &'a [u8],
    pub flags: u16,
    pub method: u16,
    pub dos_time: u16,
    pub dos_date: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    pub made_by: u16,
    pub version_needed: u16,
    pub internal_attrs: u16,
    pub external_attrs: u32,
}

pub fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
pub fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
pub fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// `x` as a 32-bit header field, or the ZIP64 marker if it does not fit.
pub fn field32(x: u64) -> (u32, bool) {
    match u32::try_from(x) {
        Ok(v) if v != SATURATED => (v, false),
        _ => (SATURATED, true),
    }
}

fn len16(n: usize, what: &'static str) -> Result<u16, TooLong> {
    u16::try_from(n).map_err(|_| TooLong(what))
}

impl Fields<'_> {
    /// Whether the local header carries the sizes in a ZIP64 field.
    pub fn local_zip64(&self) -> bool {
        field32(self.size).1 || field32(self.compressed_size).1
    }

    /// Appends the local ZIP64 field (both sizes, size first), which must
    /// open the local extra field when [`Fields::local_zip64`].
    pub fn push_local_zip64(&self, out: &mut Vec<u8>) {
        put16(out, EXTRA_ZIP64);
        put16(out, 16);
        put64(out, self.size);
        put64(out, self.compressed_size);
    }

    /// Appends the local header with `extra` (starting with the ZIP64 field
    /// when [`Fields::local_zip64`]); nothing when a length does not fit.
    pub fn push_local(&self, out: &mut Vec<u8>, extra: &[u8]) -> Result<(), TooLong> {
        let name_len = len16(self.name.len(), "name")?;
        let extra_len = len16(extra.len(), "extra field")?;
        let zip64 = self.local_zip64();
        let (csize32, size32) = if zip64 {
            (SATURATED, SATURATED)
        } else {
            (field32(self.compressed_size).0, field32(self.size).0)
        };
        put32(out, format::LOCAL_SIG);
        put16(out, self.version(zip64));
        put16(out, self.flags);
        put16(out, self.method);
        put16(out, self.dos_time);
        put16(out, self.dos_date);
        put32(out, self.crc32);
        put32(out, csize32);
        put32(out, size32);
        put16(out, name_len);
        put16(out, extra_len);
        out.extend_from_slice(self.name);
        out.extend_from_slice(extra);
        Ok(())
    }

    /// The length of the central header's ZIP64 field for a local header
    /// at `offset`: 0 when every value fits.
    pub fn central_zip64_len(&self, offset: u64) -> usize {
        let big = [self.size, self.compressed_size, offset]
            .into_iter()
            .filter(|&v| field32(v).1)
            .count();
        if big == 0 {
            0
        } else {
            4 + 8 * big
        }
    }

    /// Appends the central header of the member whose local header is at
    /// `offset`: its ZIP64 field (when needed), then `extra`, then `comment`;
    /// nothing when a length does not fit.
    pub fn push_central(
        &self,
        out: &mut Vec<u8>,
        offset: u64,
        extra: &[u8],
        comment: &[u8],
    ) -> Result<(), TooLong> {
        let zip64_len = self.central_zip64_len(offset);
        let name_len = len16(self.name.len(), "name")?;
        let extra_len = len16(zip64_len + extra.len(), "extra field")?;
        let comment_len = len16(comment.len(), "comment")?;
        let (size32, big_size) = field32(self.size);
        let (csize32, big_csize) = field32(self.compressed_size);
        let (offset32, big_offset) = field32(offset);
        put32(out, format::CENTRAL_SIG);
        put16(out, self.made_by);
        put16(out, self.version(zip64_len > 0));
        put16(out, self.flags);
        put16(out, self.method);
        put16(out, self.dos_time);
        put16(out, self.dos_date);
        put32(out, self.crc32);
        put32(out, csize32);
        put32(out, size32);
        put16(out, name_len);
        put16(out, extra_len);
        put16(out, comment_len);
        put16(out, 0); // disk number start
        put16(out, self.internal_attrs);
        put32(out, self.external_attrs);
        put32(out, offset32);
        out.extend_from_slice(self.name);
        if zip64_len > 0 {
            put16(out, EXTRA_ZIP64);
            // At most 24 bytes.
            put16(out, (zip64_len - 4) as u16);
            // APPNOTE 4.5.3: only the saturated fields, in this order.
            for (big, v) in [
                (big_size, self.size),
                (big_csize, self.compressed_size),
                (big_offset, offset),
            ] {
                if big {
                    put64(out, v);
                }
            }
        }
        out.extend_from_slice(extra);
        out.extend_from_slice(comment);
        Ok(())
    }

    fn version(&self, zip64: bool) -> u16 {
        if zip64 {
            self.version_needed.max(VERSION_ZIP64)
        } else {
            self.version_needed
        }
    }
}

/// Whether the end records need their ZIP64 pair: a count, the central
/// directory's size or its offset does not fit the classic fields.
pub fn end_zip64(entries: u64, cd_size: u64, cd_offset: u64) -> bool {
    entries >= u64::from(u16::MAX) || field32(cd_size).1 || field32(cd_offset).1
}

/// The length of the end records [`push_end`] writes.
pub fn end_len(entries: u64, cd_size: u64, cd_offset: u64, comment_len: usize) -> usize {
    let zip64 = if end_zip64(entries, cd_size, cd_offset) {
        ZIP64_END_LEN
    } else {
        0
    };
    zip64 + format::EOCD_LEN + comment_len
}

/// Appends the end records of a zip whose `entries` headers take `cd_size`
/// bytes at `cd_offset`, the records following them directly.
pub fn push_end(
    out: &mut Vec<u8>,
    entries: u64,
    cd_size: u64,
    cd_offset: u64,
    comment: &[u8],
) -> Result<(), TooLong> {
    let comment_len = len16(comment.len(), "archive comment")?;
    if end_zip64(entries, cd_size, cd_offset) {
        put32(out, format::ZIP64_EOCD_SIG);
        put64(out, (format::ZIP64_EOCD_LEN - 12) as u64);
        put16(out, 0x0300 | VERSION_ZIP64);
        put16(out, VERSION_ZIP64);
        put32(out, 0); // this disk
        put32(out, 0); // disk with the central directory
        put64(out, entries);
        put64(out, entries);
        put64(out, cd_size);
        put64(out, cd_offset);
        put32(out, format::ZIP64_LOCATOR_SIG);
        put32(out, 0);
        // The ZIP64 end record follows the central directory.
        put64(out, cd_offset.saturating_add(cd_size));
        put32(out, 1); // total disks
    }
    let entries16 = u16::try_from(entries).unwrap_or(u16::MAX);
    put32(out, format::EOCD_SIG);
    put16(out, 0);
    put16(out, 0);
    put16(out, entries16);
    put16(out, entries16);
    put32(out, field32(cd_size).0);
    put32(out, field32(cd_offset).0);
    put16(out, comment_len);
    out.extend_from_slice(comment);
    Ok(())
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::zip::format::{CentralHeader, LocalHeader};

    fn fields(size: u64, compressed_size: u64) -> Fields<'static> {
        Fields {
            name: b"a/b.txt",
            flags: 0,
            method: 8,
            dos_time: 0x1234,
            dos_date: 0x5678,
            crc32: 0xdead_beef,
            compressed_size,
            size,
            made_by: 0x0314,
            version_needed: 20,
            internal_attrs: 0,
            external_attrs: 0o100644 << 16,
        }
    }

    /// Each header reads back as written, the ZIP64 fields standing in for
    /// exactly the values that do not fit.
    #[test]
    fn headers_read_back() {
        for (size, csize, offset) in [
            (10, 7, 0),
            (u64::from(u32::MAX), 7, 5),
            (5 << 32, 6 << 32, 0),
            (1, 1, u64::from(u32::MAX) + 1),
            (u64::from(u32::MAX) - 1, 3, u64::from(u32::MAX) - 1),
        ] {
            let f = fields(size, csize);
            let mut local = Vec::new();
            let mut extra = Vec::new();
            if f.local_zip64() {
                f.push_local_zip64(&mut extra);
                assert_eq!(extra.len(), LOCAL_ZIP64_LEN);
            }
            extra.extend_from_slice(b"\x55\x54\x05\x00\x01\x00\x00\x00\x00");
            f.push_local(&mut local, &extra).unwrap();
            let (l, n) = LocalHeader::parse(&local).unwrap();
            assert_eq!(n, local.len());
            assert_eq!((l.size, l.compressed_size, l.crc32), (size, csize, f.crc32));
            assert_eq!(l.version_needed, if f.local_zip64() { 45 } else { 20 });

            let mut central = Vec::new();
            f.push_central(&mut central, offset, b"", b"hi").unwrap();
            assert_eq!(
                central.len(),
                format::CENTRAL_LEN + f.name.len() + f.central_zip64_len(offset) + 2
            );
            let (c, n) = CentralHeader::parse(&central).unwrap();
            assert_eq!(n, central.len());
            assert_eq!(
                (c.size, c.compressed_size, c.local_offset),
                (size, csize, offset)
            );
            assert_eq!((c.name, c.comment), (&b"a/b.txt"[..], &b"hi"[..]));
        }
    }

    #[test]
    fn end_records_switch_to_zip64() {
        for (entries, size, offset, zip64) in [
            (3, 100, 1000, false),
            (65_534, 100, 1000, false),
            (65_535, 100, 1000, true),
            (3, u64::from(u32::MAX), 0, true),
            (3, 100, u64::from(u32::MAX) - 1, false),
            (3, 100, u64::from(u32::MAX), true),
        ] {
            let mut out = Vec::new();
            push_end(&mut out, entries, size, offset, b"").unwrap();
            assert_eq!(out.len(), end_len(entries, size, offset, 0));
            assert_eq!(
                out.len() > format::EOCD_LEN,
                zip64,
                "{entries} {size} {offset}"
            );
        }
    }
}

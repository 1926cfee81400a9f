//! The APPNOTE.TXT records wwz reads, as fixed layouts over byte slices.
//! Parsing never panics: every field is read through `get`, every offset is
//! checked, and a short slice is an error, not an index out of bounds.

/// APPNOTE 4.3.16: end of central directory record, 22 bytes plus comment.
pub const EOCD_SIG: u32 = 0x0605_4b50;
pub const EOCD_LEN: usize = 22;
/// APPNOTE 4.3.15: ZIP64 end of central directory locator, 20 bytes.
pub const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
pub const ZIP64_LOCATOR_LEN: usize = 20;
/// APPNOTE 4.3.14: ZIP64 end of central directory record, 56 bytes and more.
pub const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
pub const ZIP64_EOCD_LEN: usize = 56;
/// APPNOTE 4.3.12: central directory file header, 46 bytes plus variable fields.
pub const CENTRAL_SIG: u32 = 0x0201_4b50;
pub const CENTRAL_LEN: usize = 46;
/// APPNOTE 4.3.7: local file header, 30 bytes plus name and extra field.
pub const LOCAL_SIG: u32 = 0x0403_4b50;
pub const LOCAL_LEN: usize = 30;

/// APPNOTE 4.5.3: ZIP64 extended information extra field.
pub const EXTRA_ZIP64: u16 = 0x0001;
/// Info-ZIP extended timestamp (UT): flags, then modification time as i32 seconds.
pub const EXTRA_UT: u16 = 0x5455;
/// Alignment padding record written by apksigner and `wwz pack`.
pub const EXTRA_ALIGN: u16 = 0xd935;

/// General purpose flag bit 0: the member is encrypted.
pub const FLAG_ENCRYPTED: u16 = 1 << 0;
/// General purpose flag bit 3: CRC-32 and sizes follow the data in a data
/// descriptor; the local header's copies are zero.
pub const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
/// General purpose flag bit 11: name and comment are UTF-8.
pub const FLAG_UTF8: u16 = 1 << 11;

pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATED: u16 = 8;
/// Zstandard (APPNOTE 4.4.5: 93), as Python 3.14's zipfile and libzip ≥ 1.8 write it.
pub const METHOD_ZSTD: u16 = 93;

pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(*b.get(at..)?.first_chunk()?))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(*b.get(at..)?.first_chunk()?))
}

pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*b.get(at..)?.first_chunk()?))
}

/// One central directory header, borrowing its variable fields.
#[derive(Debug, Clone, Copy)]
pub struct CentralHeader<'a> {
    pub made_by: u16,
    pub version_needed: u16,
    pub flags: u16,
    pub method: u16,
    pub dos_time: u16,
    pub dos_date: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    pub local_offset: u64,
    pub internal_attrs: u16,
    pub external_attrs: u32,
    pub name: &'a [u8],
    pub extra: &'a [u8],
    pub comment: &'a [u8],
}

impl<'a> CentralHeader<'a> {
    /// Parses the header at the start of `b`; returns it and its total length.
    /// ZIP64 values from the extra field replace the saturated 32-bit ones.
    pub fn parse(b: &'a [u8]) -> Option<(CentralHeader<'a>, usize)> {
        if u32_at(b, 0)? != CENTRAL_SIG {
            return None;
        }
        let name_len = usize::from(u16_at(b, 28)?);
        let extra_len = usize::from(u16_at(b, 30)?);
        let comment_len = usize::from(u16_at(b, 32)?);
        let name_end = CENTRAL_LEN + name_len;
        let extra_end = name_end + extra_len;
        let total = extra_end + comment_len;
        let mut h = CentralHeader {
            made_by: u16_at(b, 4)?,
            version_needed: u16_at(b, 6)?,
            flags: u16_at(b, 8)?,
            method: u16_at(b, 10)?,
            dos_time: u16_at(b, 12)?,
            dos_date: u16_at(b, 14)?,
            crc32: u32_at(b, 16)?,
            compressed_size: u64::from(u32_at(b, 20)?),
            size: u64::from(u32_at(b, 24)?),
            local_offset: u64::from(u32_at(b, 42)?),
            internal_attrs: u16_at(b, 36)?,
            external_attrs: u32_at(b, 38)?,
            name: b.get(CENTRAL_LEN..name_end)?,
            extra: b.get(name_end..extra_end)?,
            comment: b.get(extra_end..total)?,
        };
        if let Some(z) = find_extra(h.extra, EXTRA_ZIP64) {
            // APPNOTE 4.5.3: only the saturated fields are present, in this order.
            let mut at = 0;
            let mut take = |saturated: bool, field: &mut u64| -> Option<()> {
                if saturated {
                    *field = u64_at(z, at)?;
                    at += 8;
                }
                Some(())
            };
            take(h.size == u64::from(u32::MAX), &mut h.size)?;
            take(
                h.compressed_size == u64::from(u32::MAX),
                &mut h.compressed_size,
            )?;
            take(h.local_offset == u64::from(u32::MAX), &mut h.local_offset)?;
        }
        Some((h, total))
    }

    /// Modification time in Unix seconds: the UT extra field when present, else the DOS time (as UTC).
    pub fn mtime(&self) -> i64 {
        ut_mtime(self.extra)
            .unwrap_or_else(|| crate::util::time::dos_to_unix(self.dos_date, self.dos_time))
    }
}

/// The payload of the first extra field with `id`.
pub fn find_extra(mut extra: &[u8], id: u16) -> Option<&[u8]> {
    while extra.len() >= 4 {
        let field_id = u16_at(extra, 0)?;
        let len = usize::from(u16_at(extra, 2)?);
        let body = extra.get(4..4 + len)?;
        if field_id == id {
            return Some(body);
        }
        extra = extra.get(4 + len..)?;
    }
    None
}

fn ut_mtime(extra: &[u8]) -> Option<i64> {
    let ut = find_extra(extra, EXTRA_UT)?;
    let (&flags, rest) = ut.split_first()?;
    if flags & 1 == 0 {
        return None;
    }
    Some(i64::from(i32::from_le_bytes(*rest.first_chunk()?)))
}

/// One local file header (APPNOTE 4.3.7), borrowing its name and extra field.
/// With [`FLAG_DATA_DESCRIPTOR`] set, CRC-32 and sizes are usually zero here.
#[derive(Debug, Clone, Copy)]
pub struct LocalHeader<'a> {
    pub version_needed: u16,
    pub flags: u16,
    pub method: u16,
    pub dos_time: u16,
    pub dos_date: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    pub name: &'a [u8],
    pub extra: &'a [u8],
}

impl<'a> LocalHeader<'a> {
    /// Parses the header at the start of `b` (which must hold the name and
    /// extra field too); returns it and its total length, so the member's data
    /// starts that many bytes after the header. ZIP64 sizes replace saturated ones.
    pub fn parse(b: &'a [u8]) -> Option<(LocalHeader<'a>, usize)> {
        let (name_len, extra_len) = local_header_lengths(b)?;
        let name_end = LOCAL_LEN + name_len;
        let total = name_end + extra_len;
        let mut h = LocalHeader {
            version_needed: u16_at(b, 4)?,
            flags: u16_at(b, 6)?,
            method: u16_at(b, 8)?,
            dos_time: u16_at(b, 10)?,
            dos_date: u16_at(b, 12)?,
            crc32: u32_at(b, 14)?,
            compressed_size: u64::from(u32_at(b, 18)?),
            size: u64::from(u32_at(b, 22)?),
            name: b.get(LOCAL_LEN..name_end)?,
            extra: b.get(name_end..total)?,
        };
        if let Some(z) = find_extra(h.extra, EXTRA_ZIP64) {
            // APPNOTE 4.5.3: a local ZIP64 field holds both sizes, size first.
            if h.size == u64::from(u32::MAX) || h.compressed_size == u64::from(u32::MAX) {
                h.size = u64_at(z, 0)?;
                h.compressed_size = u64_at(z, 8)?;
            }
        }
        Some((h, total))
    }
}

/// The two variable lengths of a local header at the start of `b`.
pub fn local_header_lengths(b: &[u8]) -> Option<(usize, usize)> {
    let h = LocalFixed::parse(b)?;
    Some((h.name_len, h.extra_len))
}

/// APPNOTE 4.3.7: the fixed 30 bytes of a local file header, for checking a
/// member against the central directory before serving it (the extra field
/// is not read then; [`LocalHeader`] parses a whole header for the tools).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalFixed {
    pub flags: u16,
    pub method: u16,
    pub compressed_size: u32,
    pub size: u32,
    pub name_len: usize,
    pub extra_len: usize,
}

impl LocalFixed {
    /// Parses the 30 fixed bytes at the start of `b`.
    pub fn parse(b: &[u8]) -> Option<LocalFixed> {
        if u32_at(b, 0)? != LOCAL_SIG {
            return None;
        }
        Some(LocalFixed {
            flags: u16_at(b, 6)?,
            method: u16_at(b, 8)?,
            compressed_size: u32_at(b, 18)?,
            size: u32_at(b, 22)?,
            name_len: usize::from(u16_at(b, 26)?),
            extra_len: usize::from(u16_at(b, 28)?),
        })
    }

    /// Whether this header tells the same story as the central directory
    /// about how to read the member: the method always, the sizes unless
    /// they are deferred to a data descriptor or to a ZIP64 extra field.
    pub fn agrees_with(&self, method: u16, compressed_size: u64, size: u64) -> bool {
        let same = |local: u32, central: u64| local == u32::MAX || u64::from(local) == central;
        self.method == method
            && (self.flags & FLAG_DATA_DESCRIPTOR != 0
                || (same(self.compressed_size, compressed_size) && same(self.size, size)))
    }
}

/// The window size of the zstd frame (RFC 8878 §3.1.1.1) whose header
/// starts `h` (at most 18 bytes are read); `None` if `h` is not one.
pub fn zstd_frame_window(h: &[u8]) -> Option<u64> {
    if h.get(..4)? != [0x28, 0xb5, 0x2f, 0xfd] {
        return None;
    }
    let fhd = *h.get(4)?;
    let single_segment = fhd & 0x20 != 0;
    if !single_segment {
        let wd = *h.get(5)?;
        let log = 10 + u32::from(wd >> 3);
        let base = 1u64 << log;
        return Some(base + (base / 8) * u64::from(wd & 7));
    }
    // Single segment: the window is the content size, which follows the dictionary ID.
    let dict_len = match fhd & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    };
    let fcs_len = match fhd >> 6 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let at = 5 + dict_len;
    let field = h.get(at..at + fcs_len)?;
    let mut le = [0u8; 8];
    le.get_mut(..fcs_len)?.copy_from_slice(field);
    let size = u64::from_le_bytes(le);
    Some(if fcs_len == 2 { size + 256 } else { size })
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    #[test]
    fn local_header() {
        let mut b = vec![0x50, 0x4b, 3, 4, 20, 0, 0, 8, 0, 0, 1, 2, 3, 4];
        b.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd, 5, 0, 0, 0, 5, 0, 0, 0, 3, 0, 2, 0]);
        b.extend_from_slice(b"a/bxy");
        let (h, len) = LocalHeader::parse(&b).unwrap();
        assert_eq!(len, b.len());
        assert_eq!(h.flags, FLAG_UTF8);
        assert_eq!((h.crc32, h.size, h.compressed_size), (0xddcc_bbaa, 5, 5));
        assert_eq!((h.name, h.extra), (&b"a/b"[..], &b"xy"[..]));
        for cut in 0..b.len() {
            assert!(LocalHeader::parse(&b[..cut]).is_none());
        }
    }

    #[test]
    fn extra_fields() {
        let extra = [
            0x35, 0xd9, 2, 0, 4, 0, // alignment record
            0x55, 0x54, 5, 0, 1, 0x10, 0x20, 0x30, 0x40, // UT with mtime
        ];
        assert_eq!(find_extra(&extra, EXTRA_ALIGN), Some(&[4, 0][..]));
        assert_eq!(ut_mtime(&extra), Some(0x4030_2010));
        assert_eq!(find_extra(&extra[..8], EXTRA_UT), None);
        // A field claiming more than there is ends the search.
        assert_eq!(find_extra(&[0x55, 0x54, 0xff, 0, 1], EXTRA_UT), None);
    }
}

#[cfg(test)]
mod zstd_tests {
    use super::zstd_frame_window as frame_window;

    #[test]
    fn zstd_frame_windows() {
        for (level, len) in [(3, 100_000usize), (19, 20 << 20)] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let frame = zstd::bulk::compress(&data, level).unwrap();
            let w = frame_window(&frame).unwrap();
            assert!(w >= 1024, "{w}");
        }
        // Single segment, 2-byte content size: 256 + 0x0102.
        assert_eq!(
            frame_window(&[0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x02, 0x01]),
            Some(514)
        );
        // Window descriptor: exponent 13 (2^23), mantissa 0 → 8 MiB; mantissa 1 → 9 MiB.
        assert_eq!(
            frame_window(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3]),
            Some(8 << 20)
        );
        assert_eq!(
            frame_window(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, (13 << 3) | 1]),
            Some(9 << 20)
        );
        assert_eq!(frame_window(b"PK\x03\x04xx"), None);
        assert_eq!(frame_window(&[0x28, 0xb5, 0x2f, 0xfd]), None);
        assert_eq!(frame_window(&[0x28, 0xb5, 0x2f, 0xfd, 0xe3, 0, 0, 0]), None);
    }
}

//! Reading a whole archive's metadata for the tools: every central directory
//! header with all its fields (the serving index keeps only what serving
//! needs), the archive comment, and local headers on demand. The end records
//! and the directory walk are the serving index's own ([`crate::zip::end`],
//! [`crate::zip::read`]), so the tools accept exactly what the server does.
//! Reads go through [`ReadAt`], so nothing here can panic on a hostile archive.

use std::path::Path;

use super::Error;
use crate::zip::end::central_directory;
use crate::zip::format::{self, LocalHeader};
use crate::zip::{EndOfCentralDirectory, ReadAt};

/// One central directory header, owned.
#[derive(Debug, Clone)]
pub struct Central {
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
    /// Unix seconds: the UT extra field, else the DOS time as UTC.
    pub mtime: i64,
    pub name: Vec<u8>,
    pub extra: Vec<u8>,
    pub comment: Vec<u8>,
}

/// The central directory of an archive.
#[derive(Debug)]
pub struct Directory {
    pub members: Vec<Central>,
    pub cd_offset: u64,
    pub cd_size: u64,
    pub file_len: u64,
    pub comment: Vec<u8>,
}

impl Directory {
    pub fn read<R: ReadAt + ?Sized>(src: &R, path: &Path) -> Result<Directory, Error> {
        let zip_err = |source| Error::Zip {
            path: path.to_path_buf(),
            source,
        };
        let end = EndOfCentralDirectory::read(src).map_err(zip_err)?;
        let mut members = Vec::with_capacity(usize::try_from(end.entries).unwrap_or(0));
        central_directory(src, &end, |h| {
            members.push(Central {
                made_by: h.made_by,
                version_needed: h.version_needed,
                flags: h.flags,
                method: h.method,
                dos_time: h.dos_time,
                dos_date: h.dos_date,
                crc32: h.crc32,
                compressed_size: h.compressed_size,
                size: h.size,
                local_offset: h.local_offset,
                internal_attrs: h.internal_attrs,
                external_attrs: h.external_attrs,
                mtime: h.mtime(),
                name: h.name.to_vec(),
                extra: h.extra.to_vec(),
                comment: h.comment.to_vec(),
            });
            Ok(())
        })
        .map_err(zip_err)?;
        Ok(Directory {
            members,
            cd_offset: end.cd_offset,
            cd_size: end.cd_size,
            file_len: src.size(),
            comment: end.comment(src),
        })
    }
}

/// A member's local header, owned, and where its data starts.
#[derive(Debug, Clone)]
pub struct Local {
    pub flags: u16,
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    pub name: Vec<u8>,
    pub extra: Vec<u8>,
    pub data_offset: u64,
}

/// Why a local header cannot be read.
#[derive(Debug)]
pub enum LocalError {
    Io(std::io::Error),
    /// No local header signature (or a cut-short header) at the offset.
    Missing,
}

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalError::Io(e) => write!(f, "cannot read local header: {e}"),
            LocalError::Missing => {
                f.write_str("no local header at the offset the central directory gives")
            }
        }
    }
}

/// Reads the local header at `offset`.
pub fn read_local<R: ReadAt + ?Sized>(src: &R, offset: u64) -> Result<Local, LocalError> {
    let read = |buf: &mut [u8], at: u64| {
        src.read_exact_at(buf, at).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => LocalError::Missing,
            _ => LocalError::Io(e),
        })
    };
    let mut fixed = [0u8; format::LOCAL_LEN];
    read(&mut fixed, offset)?;
    let (name_len, extra_len) = format::local_header_lengths(&fixed).ok_or(LocalError::Missing)?;
    let mut head = vec![0u8; format::LOCAL_LEN + name_len + extra_len];
    read(&mut head, offset)?;
    let (h, len) = LocalHeader::parse(&head).ok_or(LocalError::Missing)?;
    let data_offset = offset.checked_add(len as u64).ok_or(LocalError::Missing)?;
    Ok(Local {
        flags: h.flags,
        method: h.method,
        crc32: h.crc32,
        compressed_size: h.compressed_size,
        size: h.size,
        name: h.name.to_vec(),
        extra: h.extra.to_vec(),
        data_offset,
    })
}

/// The alignment a member's 0xD935 record declares (0 read as 65536), if any.
pub fn declared_alignment(local_extra: &[u8]) -> Option<u32> {
    let rec = format::find_extra(local_extra, format::EXTRA_ALIGN)?;
    match format::u16_at(rec, 0)? {
        0 => Some(65_536),
        a => Some(u32::from(a)),
    }
}

/// `extra` without the fields whose ids `drop` lists, and without a tail that
/// is not a well-formed field (zipalign pads with bare zero bytes).
pub fn filter_extra(extra: &[u8], drop: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(extra.len());
    let mut rest = extra;
    while let (Some(id), Some(len)) = (format::u16_at(rest, 0), format::u16_at(rest, 2)) {
        let Some(field) = rest.get(..4 + usize::from(len)) else {
            break;
        };
        if id != 0 && !drop.contains(&id) {
            out.extend_from_slice(field);
        }
        rest = rest.get(field.len()..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_filtering() {
        let extra = [
            0x35, 0xd9, 4, 0, 4, 0, 0, 0, // alignment with 2 bytes of padding
            0x55, 0x54, 5, 0, 1, 1, 2, 3, 4, // UT
            0, 0, 0, // bare padding
        ];
        assert_eq!(filter_extra(&extra, &[format::EXTRA_ALIGN]), &extra[8..17]);
        assert_eq!(declared_alignment(&extra), Some(4));
        assert_eq!(declared_alignment(&[0x35, 0xd9, 2, 0, 0, 0]), Some(65_536));
        assert_eq!(declared_alignment(&extra[8..]), None);
    }
}

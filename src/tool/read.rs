//! Reading a whole archive's metadata for the tools: every central directory
//! header with all its fields (the serving index keeps only what serving
//! needs), the archive comment, and local headers on demand. Reads go through
//! [`ReadAt`], so nothing here can panic on a hostile archive.

use std::path::Path;

use super::Error;
use crate::zip::format::{self, CentralHeader, LocalHeader};
use crate::zip::index::end_of_central_directory;
use crate::zip::{IndexError, ReadAt};

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
        let file_len = src.size();
        let (end, eocd_offset) = end_of_central_directory(src).map_err(zip_err)?;
        let cd_end = end.cd_offset.checked_add(end.cd_size);
        if cd_end.is_none_or(|e| e > file_len) {
            return Err(zip_err(IndexError::DirectoryOutOfBounds {
                offset: end.cd_offset,
                size: end.cd_size,
                file_len,
            }));
        }
        if end.entries > end.cd_size / format::CENTRAL_LEN as u64 {
            return Err(zip_err(IndexError::ImpossibleEntryCount {
                claimed: end.entries,
                cd_size: end.cd_size,
            }));
        }
        let cd_len = usize::try_from(end.cd_size).map_err(|_| zip_err(IndexError::TooLarge))?;
        let mut cd = vec![0; cd_len];
        src.read_exact_at(&mut cd, end.cd_offset)
            .map_err(Error::io(path, "read"))?;
        let mut members = Vec::with_capacity(usize::try_from(end.entries).unwrap_or(0));
        let mut rest = &cd[..];
        while !rest.is_empty() {
            let index = members.len() as u64;
            let (h, len) = CentralHeader::parse(rest)
                .ok_or(zip_err(IndexError::BadCentralHeader { index }))?;
            members.push(Central {
                made_by: h.made_by,
                version_needed: format::u16_at(rest, 6).unwrap_or(20),
                flags: h.flags,
                method: h.method,
                dos_time: h.dos_time,
                dos_date: h.dos_date,
                crc32: h.crc32,
                compressed_size: h.compressed_size,
                size: h.size,
                local_offset: h.local_offset,
                internal_attrs: format::u16_at(rest, 36).unwrap_or(0),
                external_attrs: h.external_attrs,
                mtime: h.mtime(),
                name: h.name.to_vec(),
                extra: h.extra.to_vec(),
                comment: h.comment.to_vec(),
            });
            rest = rest.get(len..).unwrap_or_default();
        }
        let found = members.len() as u64;
        let count_ok = if end.zip64 {
            found == end.entries
        } else {
            found % 65_536 == end.entries
        };
        if !count_ok {
            return Err(zip_err(IndexError::EntryCountMismatch {
                claimed: end.entries,
                found,
            }));
        }
        // The archive comment follows the classic end record.
        let mut comment = Vec::new();
        let mut len_buf = [0u8; 2];
        if src.read_exact_at(&mut len_buf, eocd_offset + 20).is_ok() {
            comment.resize(usize::from(u16::from_le_bytes(len_buf)), 0);
            if src
                .read_exact_at(&mut comment, eocd_offset + format::EOCD_LEN as u64)
                .is_err()
            {
                comment.clear();
            }
        }
        Ok(Directory {
            members,
            cd_offset: end.cd_offset,
            cd_size: end.cd_size,
            file_len,
            comment,
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

//! The one memory mapping per archive, and the only code that may look at it.
//!
//! Mapped bytes are handed to the kernel (`writev`, `write`) and never read by
//! us: if the file is truncated under the mapping, a read of ours would die
//! with SIGBUS, while the kernel just fails the write with EFAULT. The types
//! keep that rule: [`MappedBytes`] can only become an [`IoSlice`] or an owned
//! [`Bytes`] (both for the kernel), never a `&[u8]` outside this module.

use std::fs::File;
use std::io::{self, IoSlice};
use std::sync::Arc;

use bytes::Bytes;

pub struct Mapping {
    /// Shared so that an owned [`Bytes`] can keep the mapping alive.
    map: Option<Arc<memmap2::Mmap>>,
}

impl Mapping {
    /// Maps `file` read-only.
    pub fn new(file: &File, len: u64) -> io::Result<Mapping> {
        if len == 0 {
            // mmap(2) refuses empty mappings; an empty file has nothing to serve anyway.
            return Ok(Mapping { map: None });
        }
        // SAFETY: the mapping is read-only and private to this process. Another
        // process may still truncate or rewrite the file; that is why mapped bytes
        // are only ever passed to the kernel (see the module docs), never read here.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(Mapping {
            map: Some(Arc::new(map)),
        })
    }

    /// The mapped bytes `offset..offset+len`, or `None` if that lies outside the mapping.
    pub fn range(&self, offset: u64, len: u64) -> Option<MappedBytes<'_>> {
        let start = usize::try_from(offset).ok()?;
        let len = usize::try_from(len).ok()?;
        let bytes = match &self.map {
            Some(map) => map.get(start..start.checked_add(len)?)?,
            None => (len == 0).then_some(&[][..])?,
        };
        Some(MappedBytes { bytes })
    }

    /// The mapped bytes `offset..offset+len` as an owned buffer that keeps the
    /// mapping alive (for a front that hands bodies over by value).
    pub fn to_bytes(&self, offset: u64, len: u64) -> Option<Bytes> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        match &self.map {
            Some(map) if end <= map.len() => Some(Bytes::from_owner(Owner {
                map: Arc::clone(map),
                start,
                end,
            })),
            None if start == end => Some(Bytes::new()),
            _ => None,
        }
    }

    pub fn len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A range of a mapping, for the kernel to send.
#[derive(Clone, Copy)]
pub struct MappedBytes<'a> {
    bytes: &'a [u8],
}

impl<'a> MappedBytes<'a> {
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// What follows the first `n` bytes (after a partial write).
    pub fn skip(self, n: usize) -> MappedBytes<'a> {
        MappedBytes {
            bytes: self.bytes.get(n..).unwrap_or_default(),
        }
    }

    /// The iovec for `writev`/`write_vectored`: the kernel reads the pages.
    pub fn io_slice(self) -> IoSlice<'a> {
        IoSlice::new(self.bytes)
    }
}

impl std::fmt::Debug for MappedBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MappedBytes({} bytes)", self.bytes.len())
    }
}

/// The owner behind [`Mapping::to_bytes`]; private, so its `AsRef` (which
/// `Bytes` needs) is reachable only through a `Bytes` handed to a writer.
struct Owner {
    map: Arc<memmap2::Mmap>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        self.map.get(self.start..self.end).unwrap_or_default()
    }
}

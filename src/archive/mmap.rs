//! The one memory mapping per archive, and the crate's only `unsafe` for it.
//!
//! Mapped bytes are handed to the kernel (`writev`) and never read by us: if
//! the file is truncated under the mapping, a read of ours would die with
//! SIGBUS, while the kernel just fails the write with EFAULT.

use std::fs::File;
use std::io;

pub struct Mapping {
    map: Option<memmap2::Mmap>,
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
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(Mapping { map: Some(map) })
    }

    /// The mapped bytes `start..start+len`, or `None` if that lies outside the mapping.
    /// For handing to `writev` only: do not read them.
    pub fn slice(&self, start: u64, len: u64) -> Option<&[u8]> {
        let start = usize::try_from(start).ok()?;
        let len = usize::try_from(len).ok()?;
        match &self.map {
            Some(map) => map.get(start..start.checked_add(len)?),
            None => (len == 0).then_some(&[][..]),
        }
    }

    pub fn len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

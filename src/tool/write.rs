//! The aligned zip writer shared by `wwz pack` and `wwz align`.
//!
//! Hand-written rather than the `zip` crate's, because every byte must be
//! chosen by us for reproducibility (no extra fields we did not ask for),
//! alignment must reach 65536 (the crate's is a u16), and member data is read
//! straight into the output buffer with no intermediate copy.
//!
//! Each member is laid out as
//!
//! ```text
//! local header (30)  name  extra: [ZIP64 (20)] [caller's fields] [0xD935: len=2+pad, u16 align, pad × 00]  data
//! ^ header offset                                                                                       ^ multiple of align
//! ```
//!
//! The alignment record follows apksigner's, so `zipalign -c` and apksigner
//! accept the result; the central directory never carries it. An alignment of
//! 65536 is recorded as 0 (the field is a u16). The rare member whose padding
//! would overflow the 65,535-byte extra field (only possible at 65536) gets the
//! excess as zero bytes before its local header, which readers that follow the
//! central directory never look at.
//!
//! The CRC-32 of data read from a file is computed as it streams through the
//! buffer and patched into the local header afterwards (in the buffer, or with
//! `pwrite` if that part was already flushed); sizes must be known up front.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::Error;
use crate::zip::format::{self, EXTRA_ALIGN};
pub use crate::zip::write::VERSION_ZIP64;
use crate::zip::write::{self, put16, Fields};
use crate::zip::ReadAt;

/// Size of the output buffer: writes go out in pieces this large. Small
/// enough to stay in the CPU's cache between the copy in and the kernel's copy
/// out (8 MiB cost ~15 % more CPU on a 28 MB tree: docs/pack.md, "Speed").
const BUF_LEN: usize = 1 << 20;
/// Largest alignment accepted (and the largest power of two a u32 offset test needs).
pub const MAX_ALIGN: u32 = 65_536;

/// What the writer needs to know about one member. Sizes and (except for data
/// streamed with [`Writer::fill_from`]) the CRC-32 must be final before
/// [`Writer::begin`].
#[derive(Debug, Clone)]
pub struct Member<'a> {
    pub name: &'a [u8],
    pub flags: u16,
    pub method: u16,
    pub dos_date: u16,
    pub dos_time: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    pub made_by: u16,
    pub version_needed: u16,
    pub internal_attrs: u16,
    pub external_attrs: u32,
    /// Extra fields for the local header, without ZIP64 or alignment records (added here).
    pub local_extra: &'a [u8],
    /// Extra fields for the central directory header, without ZIP64 (added here).
    pub central_extra: &'a [u8],
    pub comment: &'a [u8],
    /// Start the data at a multiple of this power of two (stored members).
    pub align: Option<u32>,
}

impl Member<'_> {
    /// What its local and central headers say.
    fn fields(&self) -> Fields<'_> {
        Fields {
            name: self.name,
            flags: self.flags,
            method: self.method,
            dos_time: self.dos_time,
            dos_date: self.dos_date,
            crc32: self.crc32,
            compressed_size: self.compressed_size,
            size: self.size,
            made_by: self.made_by,
            version_needed: self.version_needed,
            internal_attrs: self.internal_attrs,
            external_attrs: self.external_attrs,
        }
    }
}

/// The local header written last and not yet ended.
struct PendingMember {
    header_offset: u64,
    crc32: u32,
}

/// Writes a zip archive front to back into `file`.
pub struct Writer {
    file: File,
    path: PathBuf,
    buf: Box<[u8]>,
    used: usize,
    /// Bytes already written to `file`.
    flushed: u64,
    central: Vec<u8>,
    entries: u64,
    pending: Option<PendingMember>,
}

/// Asks the kernel to start writing `len` bytes at `offset` of `file` to disk
/// now (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), without waiting: the
/// archive's final fsync then finds most pages already written (or in
/// flight) instead of submitting the whole file at once. A hint only: the
/// fsync before the rename is what makes the archive durable, so an error
/// here (a file system without it) is ignored.
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: sync_file_range reads no memory of ours; `file` keeps the fd open.
    #[allow(unsafe_code)]
    let _ = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
}

impl Writer {
    /// A writer appending to `file` (empty, positioned at 0); `path` names it in errors.
    pub fn new(file: File, path: &Path) -> Writer {
        Writer {
            file,
            path: path.to_path_buf(),
            buf: vec![0; BUF_LEN].into_boxed_slice(),
            used: 0,
            flushed: 0,
            central: Vec::new(),
            entries: 0,
            pending: None,
        }
    }

    /// Current offset in the archive.
    pub fn position(&self) -> u64 {
        self.flushed + self.used as u64
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    fn flush(&mut self) -> Result<(), Error> {
        let data = self.buf.get(..self.used).unwrap_or_default();
        self.file
            .write_all(data)
            .map_err(Error::io(&self.path, "write"))?;
        start_writeback(&self.file, self.flushed, self.used as u64);
        self.flushed += self.used as u64;
        self.used = 0;
        Ok(())
    }

    /// Appends bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        if data.len() > self.buf.len() - self.used {
            self.flush()?;
            if data.len() > self.buf.len() {
                self.file
                    .write_all(data)
                    .map_err(Error::io(&self.path, "write"))?;
                self.flushed += data.len() as u64;
                return Ok(());
            }
        }
        let end = self.used + data.len();
        if let Some(dst) = self.buf.get_mut(self.used..end) {
            dst.copy_from_slice(data);
            self.used = end;
        }
        Ok(())
    }

    /// Free buffer space, flushing first if there is none.
    fn space(&mut self) -> Result<&mut [u8], Error> {
        if self.used == self.buf.len() {
            self.flush()?;
        }
        Ok(self.buf.get_mut(self.used..).unwrap_or_default())
    }

    /// Writes `m`'s local header (with alignment padding when `m.align` is set)
    /// and returns its offset, for [`Writer::end`]. The member's data follows.
    pub fn begin(&mut self, m: &Member<'_>) -> Result<u64, Error> {
        if self.pending.is_some() {
            return Err(Error::member(
                &self.path,
                m.name,
                "writer misuse: previous member not ended",
            ));
        }
        let too_long = |what: &str| Error::member(&self.path, m.name, format!("{what} too long"));
        let fields = m.fields();
        let mut extra = Vec::with_capacity(32 + m.local_extra.len());
        if fields.local_zip64() {
            fields.push_local_zip64(&mut extra);
        }
        extra.extend_from_slice(m.local_extra);
        let mut gap = 0u64;
        if let Some(align) = m.align {
            let align = u64::from(align.clamp(1, MAX_ALIGN));
            let before = (format::LOCAL_LEN + m.name.len() + extra.len() + 6) as u64;
            let base = self.position() + before;
            let mut pad = (align - base % align) % align;
            let room = (u16::MAX as usize)
                .checked_sub(extra.len() + 6)
                .ok_or_else(|| too_long("extra field"))? as u64;
            if pad > room {
                gap = pad - room;
                pad = room;
            }
            put16(&mut extra, EXTRA_ALIGN);
            // pad ≤ room ≤ 65535 - 6, so 2 + pad fits.
            put16(&mut extra, (2 + pad) as u16);
            // 65536 does not fit a u16 and is written as 0.
            put16(&mut extra, align as u16);
            extra.resize(extra.len() + pad as usize, 0);
        }
        let zeros = [0u8; 4096];
        while gap > 0 {
            let n = gap.min(zeros.len() as u64);
            self.write(zeros.get(..n as usize).unwrap_or_default())?;
            gap -= n;
        }
        let header_offset = self.position();
        let mut h = Vec::with_capacity(format::LOCAL_LEN + m.name.len() + extra.len());
        fields
            .push_local(&mut h, &extra)
            .map_err(|e| Error::member(&self.path, m.name, e.to_string()))?;
        self.write(&h)?;
        self.pending = Some(PendingMember {
            header_offset,
            crc32: m.crc32,
        });
        Ok(header_offset)
    }

    /// Reads exactly `len` bytes of member data from `src` into the archive and
    /// returns their CRC-32. `src_path` names the source in errors.
    pub fn fill_from<R: Read>(
        &mut self,
        src: &mut R,
        len: u64,
        src_path: &Path,
    ) -> Result<u32, Error> {
        let mut crc = crc32fast::Hasher::new();
        let mut left = len;
        while left > 0 {
            let space = self.space()?;
            let n = left.min(space.len() as u64) as usize;
            let dst = space.get_mut(..n).unwrap_or_default();
            src.read_exact(dst).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    Error::input(src_path, "file shrank while being read")
                } else {
                    Error::io(src_path, "read")(e)
                }
            })?;
            crc.update(dst);
            self.used += n;
            left -= n as u64;
        }
        Ok(crc.finalize())
    }

    /// Copies `len` bytes at `offset` of `src` into the archive unchanged.
    pub fn copy_from<R: ReadAt + ?Sized>(
        &mut self,
        src: &R,
        mut offset: u64,
        len: u64,
        src_path: &Path,
    ) -> Result<(), Error> {
        let mut left = len;
        while left > 0 {
            let space = self.space()?;
            let n = left.min(space.len() as u64) as usize;
            let dst = space.get_mut(..n).unwrap_or_default();
            src.read_exact_at(dst, offset)
                .map_err(Error::io(src_path, "read"))?;
            self.used += n;
            left -= n as u64;
            offset += n as u64;
        }
        Ok(())
    }

    /// Ends the member begun at `header_offset`: patches the local header's
    /// CRC-32 if `m.crc32` differs from what [`Writer::begin`] wrote, and adds
    /// the central directory header.
    pub fn end(&mut self, m: &Member<'_>, header_offset: u64) -> Result<(), Error> {
        let pending = self.pending.take();
        if pending.as_ref().map(|p| p.header_offset) != Some(header_offset) {
            return Err(Error::member(
                &self.path,
                m.name,
                "writer misuse: member not begun",
            ));
        }
        if pending.is_some_and(|p| p.crc32 != m.crc32) {
            self.patch(header_offset + 14, &m.crc32.to_le_bytes())?;
        }
        m.fields()
            .push_central(&mut self.central, header_offset, m.central_extra, m.comment)
            .map_err(|e| Error::member(&self.path, m.name, e.to_string()))?;
        self.entries += 1;
        Ok(())
    }

    fn patch(&mut self, at: u64, bytes: &[u8]) -> Result<(), Error> {
        if at >= self.flushed {
            let start = (at - self.flushed) as usize;
            if let Some(dst) = self.buf.get_mut(start..start + bytes.len()) {
                dst.copy_from_slice(bytes);
                return Ok(());
            }
        }
        // Flushed already (a member larger than the buffer).
        self.file
            .write_all_at(bytes, at)
            .map_err(Error::io(&self.path, "write"))
    }

    /// Writes the central directory and end records (ZIP64 ones when counts or
    /// offsets overflow the classic fields) and returns the file, flushed.
    pub fn finish(mut self, comment: &[u8]) -> Result<File, Error> {
        let central = std::mem::take(&mut self.central);
        // The serving index, between the members and the directory (zip::packed).
        if let Some(block) = crate::zip::packed::block(&central, self.entries, self.position()) {
            self.write(&block)?;
        }
        let cd_offset = self.position();
        self.write(&central)?;
        let cd_size = central.len() as u64;
        drop(central);
        let mut t = Vec::with_capacity(128 + comment.len());
        write::push_end(&mut t, self.entries, cd_size, cd_offset, comment)
            .map_err(|e| Error::input(&self.path, e.to_string()))?;
        self.write(&t)?;
        self.flush()?;
        Ok(self.file)
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::zip::Index;

    fn member<'a>(name: &'a [u8], data: &[u8], align: Option<u32>) -> Member<'a> {
        Member {
            name,
            flags: format::FLAG_UTF8,
            method: format::METHOD_STORED,
            dos_date: 0x21,
            dos_time: 0,
            crc32: crc32fast::hash(data),
            compressed_size: data.len() as u64,
            size: data.len() as u64,
            made_by: 0x0314,
            version_needed: 20,
            internal_attrs: 0,
            external_attrs: 0o100644 << 16,
            local_extra: &[],
            central_extra: &[],
            comment: &[],
            align,
        }
    }

    fn build(members: &[(&[u8], &[u8], Option<u32>)]) -> Vec<u8> {
        let tmp = tempfile::tempfile().unwrap();
        let mut w = Writer::new(tmp, Path::new("test.zip"));
        for &(name, data, align) in members {
            let m = member(name, data, align);
            let at = w.begin(&m).unwrap();
            w.write(data).unwrap();
            w.end(&m, at).unwrap();
        }
        let mut f = w.finish(b"").unwrap();
        let mut out = Vec::new();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn aligned_members_read_back() {
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        for align in [1, 4, 4096, 65_536] {
            let zip = build(&[
                (b"a", b"x", Some(align)),
                (b"dir/", b"", Some(align)),
                (b"big", &data, Some(align)),
                (b"c", b"yz", None),
            ]);
            let index = Index::build(&zip[..]).unwrap();
            for (name, want) in [("a", &b"x"[..]), ("big", &data[..]), ("c", b"yz")] {
                let e = index.get(name.as_bytes()).unwrap();
                let off = index.data_offset(e, &zip[..]).unwrap();
                if name != "c" {
                    assert_eq!(off % u64::from(align), 0, "{name} at {align}");
                }
                let off = off as usize;
                assert_eq!(&zip[off..off + want.len()], want);
            }
        }
    }

    #[test]
    fn many_members_use_zip64_end_records() {
        let tmp = tempfile::tempfile().unwrap();
        let mut w = Writer::new(tmp, Path::new("test.zip"));
        let names: Vec<String> = (0..65_536).map(|i| format!("{i}")).collect();
        for n in &names {
            let m = member(n.as_bytes(), b"", None);
            let at = w.begin(&m).unwrap();
            w.end(&m, at).unwrap();
        }
        let mut f = w.finish(b"").unwrap();
        let mut zip = Vec::new();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut zip).unwrap();
        let index = Index::build(&zip[..]).unwrap();
        assert_eq!(index.len(), 65_536);
    }
}

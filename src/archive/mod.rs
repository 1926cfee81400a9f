//! Open archives: a file, its mapping and its index, shared by every request.

pub mod cache;
pub mod checkpoints;
pub mod confine;
pub mod inflate;
pub mod mmap;
pub mod reader;
pub mod s3;
pub mod watch;

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use std::any::Any;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::util::bounds;
use crate::zip::{DataError, Entry, Index, IndexError};
pub use mmap::MappedBytes;
use mmap::Mapping;

pub use cache::Cache;

/// What identifies one version of an archive file: a rename or rewrite changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl Identity {
    /// A version of an object in storage: its size and a hash of its ETag
    /// (no device is `u64::MAX`, so it never equals a file's).
    pub(crate) fn of_object(size: u64, etag_hash: u64) -> Identity {
        Identity {
            dev: u64::MAX,
            ino: etag_hash,
            size,
            mtime_ns: 0,
        }
    }

    pub fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// Why an archive cannot be served.
#[derive(Debug, Clone)]
pub enum OpenError {
    /// No such file, not a regular file, or outside the docroot: the client sees 404.
    NotFound,
    /// The file exists but cannot be read or indexed: a server-side fault.
    Broken(std::sync::Arc<str>),
    /// Out of descriptors or memory for now (EMFILE, ENFILE, ENOMEM): the
    /// client sees 503, and nothing is remembered, so the next request retries.
    Unavailable(std::sync::Arc<str>),
    /// Object storage failed to answer (unreachable, refused us, 5xx, timed
    /// out): a 502, 503 or 504 as [`s3::StorageError::status`] says; never
    /// remembered, never a 404.
    Storage(s3::StorageError),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NotFound => f.write_str("no such archive"),
            OpenError::Broken(why) => write!(f, "broken archive: {why}"),
            OpenError::Unavailable(why) => write!(f, "cannot open the archive now: {why}"),
            OpenError::Storage(e) => write!(f, "object storage: {e}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl OpenError {
    /// Sorts an error from open(2) or mmap(2): a shortage that passes is not
    /// a property of the file.
    fn from_io(e: &io::Error) -> OpenError {
        match e.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EAGAIN) => {
                OpenError::Unavailable(e.to_string().into())
            }
            _ => OpenError::Broken(e.to_string().into()),
        }
    }
}

impl OpenError {
    /// Sorts an error from opening the file: what the client may not see is
    /// simply not there.
    fn from_open(e: &io::Error) -> OpenError {
        match e.kind() {
            io::ErrorKind::NotFound
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::NotADirectory => OpenError::NotFound,
            _ => OpenError::from_io(e),
        }
    }
}

impl From<IndexError> for OpenError {
    fn from(e: IndexError) -> Self {
        OpenError::Broken(e.to_string().into())
    }
}

/// Where an archive's bytes are: a local file and its mapping, or an object
/// in a bucket, read by ranges (see [`s3`]).
enum Data {
    Local { file: File, map: Mapping },
    Remote(s3::Object),
}

/// One opened version of an archive.
pub struct Archive {
    /// Where it was opened, for the log.
    path: PathBuf,
    data: Data,
    index: Index,
    identity: Identity,
    mtime: SystemTime,
    /// Data a layer above derives from this version (the site's parsed
    /// rules), made on first use: once per version, gone with it.
    derived: OnceLock<Box<dyn Any + Send + Sync>>,
    /// Whether a member's CRC-32 mismatch has been logged: once per version,
    /// not once per request.
    crc_logged: AtomicBool,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("identity", &self.identity)
            .field("index", &self.index)
            .finish()
    }
}

impl Archive {
    /// Opens, maps and indexes the archive at `path`, trusting the path (for
    /// tools and benchmarks; the server opens through [`confine`]).
    pub fn open(path: &Path) -> Result<Archive, OpenError> {
        let file = confine::open_flags()
            .open(path)
            .map_err(|e| OpenError::from_open(&e))?;
        Archive::from_file(file, path)
    }

    /// Maps and indexes an archive already opened (and confined to the
    /// docroot) by [`confine::open_beneath`] from `path`.
    pub fn from_file(file: File, path: &Path) -> Result<Archive, OpenError> {
        let meta = file
            .metadata()
            .map_err(|e| OpenError::Broken(e.to_string().into()))?;
        if !meta.is_file() {
            return Err(OpenError::NotFound);
        }
        let index = Index::build(&file)?;
        let map = Mapping::new(&file, meta.len()).map_err(|e| OpenError::from_io(&e))?;
        Ok(Archive {
            path: path.to_path_buf(),
            data: Data::Local { file, map },
            index,
            identity: Identity::of(&meta),
            mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            derived: OnceLock::new(),
            crc_logged: AtomicBool::new(false),
        })
    }

    /// An archive in object storage, indexed from its tail (see [`s3`]).
    pub(crate) fn remote(object: s3::Object, index: Index, mtime: SystemTime) -> Archive {
        Archive {
            path: PathBuf::from(object.describe()),
            identity: object.identity(),
            data: Data::Remote(object),
            index,
            mtime,
            derived: OnceLock::new(),
            crc_logged: AtomicBool::new(false),
        }
    }

    /// The object this archive is read from, when it is in object storage.
    pub fn object(&self) -> Option<&s3::Object> {
        match &self.data {
            Data::Remote(o) => Some(o),
            Data::Local { .. } => None,
        }
    }

    /// The mapping, for an archive on local disk.
    fn map(&self) -> Option<&Mapping> {
        match &self.data {
            Data::Local { map, .. } => Some(map),
            Data::Remote(_) => None,
        }
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// The archive file's modification time.
    pub fn mtime(&self) -> SystemTime {
        self.mtime
    }

    /// A member's modification time, never later than the archive's own.
    pub fn member_mtime(&self, entry: &Entry) -> SystemTime {
        let t = entry.mtime();
        let member = if t >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(t.unsigned_abs())
        } else {
            SystemTime::UNIX_EPOCH - Duration::from_secs(t.unsigned_abs())
        };
        member.min(self.mtime)
    }

    /// The raw (possibly compressed) bytes of `entry` in the mapping, for the kernel to send.
    /// For an archive in object storage, the local header comes with the
    /// member's first bytes in one ranged read (see [`s3::Object::member`]).
    pub fn raw_data(&self, entry: &Entry) -> Result<(u64, u64), DataError> {
        let offset = match &self.data {
            Data::Local { file, .. } => self.index.data_offset(entry, file)?,
            Data::Remote(object) => {
                object
                    .member(&self.index, entry)
                    .map_err(|e| DataError::Io(io::Error::other(e)))?;
                self.index.data_offset(entry, self)?
            }
        };
        let len = entry.compressed_size();
        let inside = match &self.data {
            Data::Local { map, .. } => map.range(offset, len).is_some(),
            Data::Remote(object) => offset
                .checked_add(len)
                .is_some_and(|end| end <= object.size()),
        };
        match inside {
            true => Ok((offset, len)),
            false => Err(DataError::BadLocalHeader),
        }
    }

    /// The mapped bytes `offset..offset+len`, for the kernel to send (see
    /// [`mmap`]); `None` for an archive in object storage.
    pub fn mapped(&self, offset: u64, len: u64) -> Option<MappedBytes<'_>> {
        self.map()?.range(offset, len)
    }

    /// The same bytes as an owned buffer that keeps the mapping alive.
    pub fn mapped_bytes(&self, offset: u64, len: u64) -> Option<bytes::Bytes> {
        self.map()?.to_bytes(offset, len)
    }

    /// Up to `limit` bytes from the start of a member (stored, deflated or zstd),
    /// read with `pread` (or inflated), never from the mapping.
    pub fn read_member(self: &Arc<Self>, entry: &Entry, limit: usize) -> io::Result<Vec<u8>> {
        let (mut reader, _, _) = reader::MemberReader::open(self, entry, 0)?;
        let want = usize::try_from(entry.size()).unwrap_or(limit).min(limit);
        let mut buf = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match reader.read(bounds::get_mut(&mut buf, filled..want)?)? {
                0 => break,
                n => filled += n,
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    /// The data `make` derives from this archive version, made the first
    /// time it is asked for and kept as long as the version is. The one slot
    /// belongs to one type (the site layer's); `None` if another holds it.
    pub fn derived<T: Any + Send + Sync>(
        self: &Arc<Self>,
        make: impl FnOnce(&Arc<Self>) -> T,
    ) -> Option<&T> {
        self.derived
            .get_or_init(|| Box::new(make(self)))
            .downcast_ref()
    }

    /// Reports that the member whose data starts at `data` decoded to bytes
    /// that do not match its CRC-32: logged the first time in this version
    /// only, so a corrupt member asked for again and again costs one line.
    pub fn crc_mismatch(&self, data: u64, mismatch: &inflate::CrcMismatch) {
        if self.crc_logged.swap(true, Ordering::Relaxed) {
            return;
        }
        // The member is the one whose local header comes last before its
        // data (members do not overlap); a scan, but once per version.
        let name = self
            .index
            .entries()
            .iter()
            .filter(|e| e.local_offset() < data)
            .max_by_key(|e| e.local_offset())
            .map(|e| String::from_utf8_lossy(self.index.name_of(e)).into_owned())
            .unwrap_or_default();
        crate::log::error!(
            "{}: member {name:?} is corrupt: {mismatch}; responses are cut \
             (further mismatches in this version of the archive are not logged)",
            self.path.display()
        );
    }

    /// Fills `buf` with the archive's bytes at `offset`: `pread` of the
    /// file, never the mapping; for an object in storage, from a range
    /// fetched recently or a new ranged read (so this may wait on the
    /// network: callers run where blocking is allowed).
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match &self.data {
            Data::Local { file, .. } => {
                std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
            }
            Data::Remote(object) => object.read_exact_at(buf, offset),
        }
    }

    /// One sendfile(2) of up to `len` bytes at `offset` into `out`: the kernel
    /// moves page-cache pages (references, for sockets on Linux ≥ 6.5) with no
    /// copy of ours and without touching the mapping. `Ok(0)` for `len > 0`
    /// means the file now ends before `offset`: it was cut under us. The range
    /// must lie inside the archive as it was opened.
    pub fn send_file(&self, out: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<usize> {
        let Data::Local { file, map } = &self.data else {
            return Err(io::Error::other(
                "an archive in object storage has no file to send",
            ));
        };
        if map.range(offset, len as u64).is_none() {
            return Err(io::Error::other("member outside the archive"));
        }
        let mut at = offset;
        rustix::fs::sendfile(out, file, Some(&mut at), len).map_err(io::Error::from)
    }
}

/// Reads of the archive as the zip layer makes them (a local header on a
/// member's first use).
impl crate::zip::read::ReadAt for Archive {
    fn size(&self) -> u64 {
        self.identity.size
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        Archive::read_exact_at(self, buf, offset)
    }
}

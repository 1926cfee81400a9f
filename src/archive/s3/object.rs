//! One version of an archive in object storage, and the ranges of it
//! fetched recently.
//!
//! A member costs one ranged GET: on its first request the range runs from
//! its local header to the next member's (or as far as [`CHUNK_MAX`]), so
//! the header and the data come in one answer; the data is then sent from
//! that range. Later requests know the data offset and stream exactly the
//! member's bytes. Every GET names the version with `If-Match`: a `412`
//! marks the version replaced ([`Object::replaced`]), and the cache opens
//! the new one.
//!
//! Ranges fetched whole (the tail read at open, a member's first range,
//! reads-ahead for inflating) are kept in [`Chunks`], bounded by bytes and
//! shared by all objects: a small archive read whole at open serves its
//! members from memory.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::client::{Client, Get, Range};
use super::{Stats, StorageError};
use crate::archive::Identity;
use crate::zip::{Entry, Index};

/// Longest range fetched whole for a member's first request or a read
/// ahead: a larger member's rest is streamed.
pub(crate) const CHUNK_MAX: u64 = 1 << 20;
/// Reads for pages of ours (inflating, log views) fetch at least this much.
const READ_AHEAD: u64 = 256 << 10;

/// What every object of a bucket shares: the client and the recent ranges.
pub(crate) struct Shared {
    pub client: Arc<Client>,
    pub chunks: Mutex<Chunks>,
    pub stats: Stats,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(client: Client, chunk_bytes: usize) -> Shared {
        Shared {
            client: Arc::new(client),
            chunks: Mutex::new(Chunks {
                list: VecDeque::new(),
                bytes: 0,
                cap: chunk_bytes,
            }),
            stats: Stats::default(),
            next_id: AtomicU64::new(1),
        }
    }

    fn chunks(&self) -> std::sync::MutexGuard<'_, Chunks> {
        self.chunks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Ranges of objects fetched whole, least recently fetched dropped first.
pub(crate) struct Chunks {
    list: VecDeque<Chunk>,
    bytes: usize,
    cap: usize,
}

struct Chunk {
    /// The object version ([`Object::id`]).
    id: u64,
    start: u64,
    data: Bytes,
}

impl Chunks {
    /// The bytes of version `id` from `at` on, as far as one chunk has them.
    fn find(&self, id: u64, at: u64) -> Option<Bytes> {
        self.list.iter().rev().find_map(|c| {
            let skip = usize::try_from(at.checked_sub(c.start)?).ok()?;
            (c.id == id && skip < c.data.len()).then(|| c.data.slice(skip..))
        })
    }

    fn insert(&mut self, id: u64, start: u64, data: Bytes) {
        if data.len() > self.cap {
            return;
        }
        self.bytes += data.len();
        self.list.push_back(Chunk { id, start, data });
        while self.bytes > self.cap {
            match self.list.pop_front() {
                Some(old) => self.bytes -= old.data.len(),
                None => break,
            }
        }
    }

    /// Drops what is kept of version `id` (it was replaced).
    fn forget(&mut self, id: u64) {
        self.list.retain(|c| c.id != id);
        self.bytes = self.list.iter().map(|c| c.data.len()).sum();
    }
}

/// One version of an object: its key, ETag and size.
pub struct Object {
    shared: Arc<Shared>,
    bucket: Arc<str>,
    key: Arc<str>,
    etag: Arc<str>,
    size: u64,
    /// Tells this version's chunks from others'.
    id: u64,
    /// Member local-header offsets in order, then the end of member data:
    /// where each member's range ends, for its one GET.
    bounds: Vec<u64>,
    /// Storage answered 412: this version is gone.
    replaced: AtomicBool,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("key", &self.key)
            .field("etag", &self.etag)
            .field("size", &self.size)
            .finish()
    }
}

impl Object {
    pub(crate) fn new(
        shared: Arc<Shared>,
        bucket: Arc<str>,
        key: Arc<str>,
        etag: Arc<str>,
        size: u64,
        index: &Index,
    ) -> Object {
        let mut bounds: Vec<u64> = index.entries().iter().map(Entry::local_offset).collect();
        bounds.push(index.data_end());
        bounds.sort_unstable();
        bounds.dedup();
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        Object {
            shared,
            bucket,
            key,
            etag,
            size,
            id,
            bounds,
            replaced: AtomicBool::new(false),
        }
    }

    /// Keeps `data`, the object's bytes from `start`, for reads to come.
    pub(crate) fn keep(&self, start: u64, data: Bytes) {
        self.shared.chunks().insert(self.id, start, data);
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn etag(&self) -> &Arc<str> {
        &self.etag
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Memory this version holds besides its index.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bounds.capacity() * 8 + self.key.len() + self.etag.len()
    }

    /// `s3://bucket/key`, for the log.
    pub(crate) fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    pub(crate) fn identity(&self) -> Identity {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.etag.hash(&mut h);
        Identity::of_object(self.size, h.finish())
    }

    /// Whether storage said this version was replaced (a 412 on `If-Match`).
    pub fn replaced(&self) -> bool {
        self.replaced.load(Ordering::Relaxed)
    }

    fn note(&self, e: StorageError) -> StorageError {
        if matches!(e, StorageError::Changed) && !self.replaced.swap(true, Ordering::Relaxed) {
            self.shared.chunks().forget(self.id);
        }
        e
    }

    /// Fetches `first..end` whole (one GET, `If-Match`) and keeps it.
    fn fetch(&self, first: u64, end: u64) -> Result<Bytes, StorageError> {
        let get = Get {
            key: Arc::clone(&self.key),
            range: Range::Span {
                first,
                last: end.saturating_sub(1),
            },
            if_match: Some(Arc::clone(&self.etag)),
            if_none_match: None,
        };
        let client = Arc::clone(&self.shared.client);
        let want = end.saturating_sub(first);
        self.shared.stats.member_gets.inc();
        let (head, data) = self
            .shared
            .client
            .block(async move { client.fetch(&get, want).await })?
            .map_err(|e| self.note(e))?;
        if head.start != first || data.len() as u64 != want {
            return Err(StorageError::Bad(
                "the answer is not the range asked for".into(),
            ));
        }
        self.shared.stats.bytes.add(want);
        self.keep(first, data.clone());
        Ok(data)
    }

    /// Makes sure `entry`'s local header can be read without another GET:
    /// on the member's first request, fetches from its local header to the
    /// next member's (at most [`CHUNK_MAX`]), which holds its first bytes too.
    pub(crate) fn member(&self, index: &Index, entry: &Entry) -> Result<(), StorageError> {
        let start = entry.local_offset();
        if entry.data_offset_known() || self.shared.chunks().find(self.id, start).is_some() {
            return Ok(());
        }
        let next = match self.bounds.binary_search(&start) {
            Ok(i) => self.bounds.get(i + 1),
            Err(i) => self.bounds.get(i),
        };
        let end = next
            .copied()
            .unwrap_or(index.data_end())
            .min(start.saturating_add(CHUNK_MAX))
            .min(self.size);
        if end <= start {
            return Ok(());
        }
        crate::archive::cache::off_the_event_loop(|| self.fetch(start, end)).map(drop)
    }

    /// Fills `buf` from `offset`: from a kept range, or a GET of at least
    /// [`READ_AHEAD`] bytes (kept for the reads that follow).
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let at = offset.saturating_add(done as u64);
            let have = self.shared.chunks().find(self.id, at);
            let data = match have {
                Some(d) => d,
                None => {
                    let want = (buf.len() - done) as u64;
                    if at.checked_add(want).is_none_or(|end| end > self.size) {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let end = at
                        .saturating_add(want.max(READ_AHEAD).min(CHUNK_MAX.max(want)))
                        .min(self.size);
                    crate::archive::cache::off_the_event_loop(|| self.fetch(at, end))
                        .map_err(io::Error::other)?
                }
            };
            let n = data.len().min(buf.len() - done);
            let (Some(dst), Some(src)) = (buf.get_mut(done..done + n), data.get(..n)) else {
                return Err(io::ErrorKind::UnexpectedEof.into());
            };
            dst.copy_from_slice(src);
            done += n;
        }
        Ok(())
    }

    /// The bytes `offset..offset+len` for a response body, piece by piece.
    pub fn pieces(&self, offset: u64, len: u64) -> Pieces<'_> {
        Pieces {
            object: self,
            at: offset,
            end: offset.saturating_add(len),
            stream: None,
        }
    }
}

/// A range of an object sent as it arrives: kept ranges first, the rest
/// streamed by one GET (bounded: a few pieces in flight).
pub struct Pieces<'a> {
    object: &'a Object,
    at: u64,
    end: u64,
    stream: Option<tokio::sync::mpsc::Receiver<Result<Bytes, StorageError>>>,
}

impl Pieces<'_> {
    /// The next piece; `None` after the last byte. An error ends the body:
    /// the front cuts the exchange (its headers promised the length).
    pub async fn next(&mut self) -> Option<io::Result<Bytes>> {
        if self.at >= self.end {
            return None;
        }
        let object = self.object;
        if self.stream.is_none() {
            if let Some(kept) = object.shared.chunks().find(object.id, self.at) {
                let n = usize::try_from(self.end - self.at)
                    .unwrap_or(usize::MAX)
                    .min(kept.len());
                self.at += n as u64;
                return Some(Ok(kept.slice(..n)));
            }
            object.shared.stats.member_gets.inc();
            self.stream = Some(object.shared.client.stream(
                Arc::clone(&object.key),
                Arc::clone(&object.etag),
                self.at,
                self.end - 1,
            ));
        }
        let piece = match self.stream.as_mut()?.recv().await {
            Some(Ok(piece)) => piece,
            Some(Err(e)) => return Some(Err(io::Error::other(object.note(e)))),
            None => {
                return Some(Err(io::Error::other(StorageError::Cut(
                    "the body ended early".into(),
                ))))
            }
        };
        object.shared.stats.bytes.add(piece.len() as u64);
        self.at += piece.len() as u64;
        if self.at >= self.end {
            self.stream = None;
        }
        Some(Ok(piece))
    }
}

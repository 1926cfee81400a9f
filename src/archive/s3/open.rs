//! Opening an archive in object storage: its index from the object's tail.
//!
//! One suffix-range GET (`Range: bytes=-262144`, no HEAD) brings the size
//! (`Content-Range`), the ETag, the end records, and usually the central
//! directory and the packed index before it; the index is made from those
//! bytes exactly as from a local file ([`Index::build`] over [`Tail`]). When
//! the directory (or the packed index) starts before the bytes fetched, the
//! first attempt says where, and one more GET brings the rest (twice the
//! distance, so that the packed index, about as long as the directory,
//! comes along).

use std::cell::Cell;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use super::client::{Get, Head, Range};
use super::object::{Object, Shared};
use super::StorageError;
use crate::archive::{Archive, OpenError};
use crate::zip::read::ReadAt;
use crate::zip::Index;

/// Bytes of the tail read first.
pub(crate) const TAIL: u64 = 256 << 10;
/// Most bytes of directory and index read to open one archive: a larger
/// one is refused (the memory it would take is the index's, several times).
const TAIL_MAX: u64 = 256 << 20;

/// What opening found.
pub(crate) enum Opened {
    /// `If-None-Match` held: the version known is current.
    Unchanged,
    New(Box<Archive>),
}

/// The last bytes of an object, as a [`ReadAt`] of the whole object: a
/// read before them fails, and the lowest such offset is remembered.
struct Tail {
    size: u64,
    start: u64,
    bytes: Bytes,
    missing: Cell<Option<u64>>,
}

impl ReadAt for Tail {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let Some(rel) = offset.checked_sub(self.start) else {
            let low = self.missing.get().map_or(offset, |m| m.min(offset));
            self.missing.set(Some(low));
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        <[u8] as ReadAt>::read_exact_at(&self.bytes, buf, rel)
    }
}

/// Opens `key`; with `known`, the ETag of the version open now (a 304 keeps it).
pub(crate) fn open(
    shared: &Arc<Shared>,
    bucket: &Arc<str>,
    key: &Arc<str>,
    known: Option<Arc<str>>,
) -> Result<Opened, OpenError> {
    let get = Get {
        key: Arc::clone(key),
        range: Range::Suffix(TAIL),
        if_match: None,
        if_none_match: known,
    };
    let (head, bytes) = fetch(shared, get, TAIL)?;
    if head.not_modified {
        return Ok(Opened::Unchanged);
    }
    let Some(etag) = head.etag.clone() else {
        return Err(OpenError::Storage(StorageError::Bad(
            "an answer without an ETag".into(),
        )));
    };
    let size = head.total.unwrap_or(bytes.len() as u64);
    let start = head.start;
    if start.checked_add(bytes.len() as u64) != Some(size) {
        return Err(OpenError::Storage(StorageError::Bad(
            "the answer is not the tail asked for".into(),
        )));
    }
    let mut tail = Tail {
        size,
        start,
        bytes,
        missing: Cell::new(None),
    };
    let mut built = Index::build(&tail);
    // At most one more read: where the first attempt ran out of bytes.
    if let Some(missing) = tail.missing.get() {
        let from = missing.saturating_sub(size.saturating_sub(missing));
        if size - from > TAIL_MAX {
            return Err(OpenError::Broken(
                format!("central directory and index larger than {TAIL_MAX} bytes").into(),
            ));
        }
        let get = Get {
            key: Arc::clone(key),
            range: Range::Span {
                first: from,
                last: tail.start - 1,
            },
            if_match: Some(Arc::clone(&etag)),
            if_none_match: None,
        };
        let (more_head, more) = fetch(shared, get, tail.start - from)?;
        if more_head.start != from || more.len() as u64 != tail.start - from {
            return Err(OpenError::Storage(StorageError::Bad(
                "the answer is not the range asked for".into(),
            )));
        }
        let mut whole = Vec::with_capacity(more.len() + tail.bytes.len());
        whole.extend_from_slice(&more);
        whole.extend_from_slice(&tail.bytes);
        tail = Tail {
            size,
            start: from,
            bytes: Bytes::from(whole),
            missing: Cell::new(None),
        };
        built = Index::build(&tail);
    }
    let index = built?;
    let object = Object::new(
        Arc::clone(shared),
        Arc::clone(bucket),
        Arc::clone(key),
        etag,
        size,
        &index,
    );
    // Kept for the members' first reads: a small archive is read whole.
    object.keep(tail.start, tail.bytes);
    let mtime = head.last_modified.unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(Opened::New(Box::new(Archive::remote(object, index, mtime))))
}

fn fetch(shared: &Arc<Shared>, get: Get, cap: u64) -> Result<(Head, Bytes), OpenError> {
    let client = Arc::clone(&shared.client);
    shared.stats.open_gets.inc();
    let answer = shared
        .client
        .block(async move { client.fetch(&get, cap).await });
    match answer.and_then(|a| a) {
        Ok((head, bytes)) => {
            shared.stats.bytes.add(bytes.len() as u64);
            Ok((head, bytes))
        }
        Err(StorageError::NotFound) => Err(OpenError::NotFound),
        // An empty object: no zip.
        Err(StorageError::InvalidRange) => Err(OpenError::Broken("an empty object".into())),
        Err(e) => Err(OpenError::Storage(e)),
    }
}

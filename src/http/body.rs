//! Response bodies, and the one way every front sends them.
//!
//! A [`Body`] says what to send; [`send`] walks it and hands each piece to a
//! front's [`Sink`]: bytes of ours, ranges of the archive's mapping (which
//! only the kernel reads), and inflated output. The layout of every body, the
//! inflating, the pacing of a skip into a deflated member and what happens
//! when a member cannot deliver the length its headers promised all live
//! here; a front only says how to write a piece and where blocking work runs.
//!
//! ```text
//! Mapped     [mapping offset..+len]
//! Gzip       GZIP_HEADER [raw deflate, mapped] crc32 size
//! Multipart  (part head [mapped range])* closing boundary
//! Inflate    skip bytes (dropped), then take bytes, a chunk at a time
//! Stream     a page made step by step (log view, search), length unknown
//! Assembled  batches of (bytes of ours | [mapped range])*, made step by step
//!            (a zip of a directory), length known
//! ```

use std::future::Future;
use std::io;
use std::sync::Arc;

use crate::archive::inflate::{Compressed, CrcMismatch, Inflater, ZstdMemory};
use crate::archive::Archive;
use crate::content::gzip::GZIP_HEADER;
use crate::log;
use crate::stats::STATS;

/// Inflated bytes per chunk: fills one FastCGI STDOUT record exactly.
pub const INFLATE_CHUNK: usize = 65528;
/// Inflated bytes dropped per step when a Range starts deep in a deflated
/// member: the work between two chances for others to run.
const SKIP_SLICE: u64 = 1 << 20;

/// A piece of a body: bytes of ours, or `offset, len` in the archive's mapping.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    Bytes(&'a [u8]),
    Mapped(u64, u64),
}

/// A page produced step by step on the blocking pool (a log view, a search
/// result): each step does bounded work and appends what it made to `out`;
/// `Ok(false)` when the page is complete. The producer owns its budgets.
pub trait Produce: Send + 'static {
    fn step(&mut self, out: &mut Vec<u8>) -> io::Result<bool>;
}

/// A [`Produce`]r inside a [`Body`]: taken out once, by [`send`].
pub struct Stream(std::sync::Mutex<Option<Box<dyn Produce>>>);

impl Stream {
    pub fn new(producer: impl Produce) -> Stream {
        Stream(std::sync::Mutex::new(Some(Box::new(producer))))
    }

    fn take(&self) -> Option<Box<dyn Produce>> {
        self.0.lock().ok().and_then(|mut p| p.take())
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

/// A body of known length made of bytes of ours and ranges of the mapping,
/// too many to queue at once (a zip of a directory: a header of ours before
/// each member's stored bytes): each step appends the next batch to `out`,
/// doing bounded work; `Ok(false)` once the body is complete. Steps run
/// where blocking work may (they may read local headers with `pread`); the
/// mapped ranges go out by reference, like [`Body::Mapped`].
pub trait Assemble: Send + 'static {
    fn step(&mut self, out: &mut Batch) -> io::Result<bool>;
}

/// What one [`Assemble`] step made: bytes of ours (runs kept together) and
/// mapped ranges, in order.
#[derive(Debug, Default)]
pub struct Batch {
    own: Vec<u8>,
    /// Each a run of `own` up to this end, or a mapped `(offset, len)`.
    pieces: Vec<BatchPiece>,
}

#[derive(Debug, Clone, Copy)]
enum BatchPiece {
    Own(usize),
    Mapped(u64, u64),
}

impl Batch {
    /// Appends bytes of ours.
    pub fn bytes(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.own.extend_from_slice(bytes);
        match self.pieces.last_mut() {
            Some(BatchPiece::Own(end)) => *end = self.own.len(),
            _ => self.pieces.push(BatchPiece::Own(self.own.len())),
        }
    }

    /// Appends `len` bytes of the mapping at `offset`, by reference.
    pub fn mapped(&mut self, offset: u64, len: u64) {
        if len > 0 {
            self.pieces.push(BatchPiece::Mapped(offset, len));
        }
    }

    /// The bytes the batch stands for.
    pub fn len(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| match *p {
                BatchPiece::Own(_) => 0,
                BatchPiece::Mapped(_, len) => len,
            })
            .sum::<u64>()
            + self.own.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    fn clear(&mut self) {
        self.own.clear();
        self.pieces.clear();
    }

    /// Walks the batch as pieces, in order.
    pub fn pieces(&self, mut each: impl FnMut(Piece<'_>)) {
        let mut start = 0;
        for p in &self.pieces {
            match *p {
                BatchPiece::Own(end) => {
                    each(Piece::Bytes(self.own.get(start..end).unwrap_or_default()));
                    start = end;
                }
                BatchPiece::Mapped(offset, len) => each(Piece::Mapped(offset, len)),
            }
        }
    }
}

/// An [`Assemble`]r inside a [`Body`]: taken out once, by [`send`].
pub struct Assembler(std::sync::Mutex<Option<Box<dyn Assemble>>>);

impl Assembler {
    pub fn new(assembler: impl Assemble) -> Assembler {
        Assembler(std::sync::Mutex::new(Some(Box::new(assembler))))
    }

    fn take(&self) -> Option<Box<dyn Assemble>> {
        self.0.lock().ok().and_then(|mut p| p.take())
    }
}

impl std::fmt::Debug for Assembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Assembler")
    }
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
pub struct Part {
    /// Boundary line and part headers.
    pub head: String,
    pub offset: u64,
    pub len: u64,
}

#[derive(Debug)]
pub enum Body {
    Empty,
    Static(&'static str),
    Owned(Vec<u8>),
    /// Bytes of an archive's mapping, sent by the kernel straight from the page cache.
    Mapped {
        archive: Arc<Archive>,
        offset: u64,
        len: u64,
    },
    /// A deflated member's raw bytes (mapped) between a gzip header and trailer.
    Gzip {
        archive: Arc<Archive>,
        offset: u64,
        len: u64,
        trailer: [u8; 8],
    },
    /// Several ranges of the mapping, each after its part head, then the closing boundary.
    Multipart {
        archive: Arc<Archive>,
        parts: Vec<Part>,
        tail: String,
    },
    /// A compressed member (deflate, or zstd) decoded on the fly; `skip`
    /// bytes dropped, then `take` sent. Its CRC-32 is checked whenever the
    /// output reaches the member's end (the skipped bytes count: they are decoded).
    Inflate {
        archive: Arc<Archive>,
        member: Compressed,
        /// A zstd decoder's window, reserved before the head was made (503
        /// when there is no room), held until the body is dropped.
        memory: Option<Arc<ZstdMemory>>,
        skip: u64,
        take: u64,
    },
    /// A generated page of unknown length (sent without Content-Length).
    Stream(Stream),
    /// `len` bytes of ours and of the mapping, made a batch at a time.
    Assembled {
        archive: Arc<Archive>,
        len: u64,
        assembler: Assembler,
    },
}

impl Body {
    /// The bytes this body sends; `None` for a page made as it is sent
    /// ([`Body::Stream`]), whose length is known only at its end.
    pub fn len(&self) -> Option<u64> {
        Some(match self {
            Body::Empty => 0,
            Body::Static(s) => s.len() as u64,
            Body::Owned(v) => v.len() as u64,
            Body::Mapped { len, .. } => *len,
            Body::Gzip { len, .. } => GZIP_HEADER.len() as u64 + len + 8,
            Body::Multipart { parts, tail, .. } => {
                parts
                    .iter()
                    .map(|p| p.head.len() as u64 + p.len)
                    .sum::<u64>()
                    + tail.len() as u64
            }
            Body::Inflate { take, .. } => *take,
            Body::Assembled { len, .. } => *len,
            Body::Stream(_) => return None,
        })
    }

    /// Whether this body sends nothing at all.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Walks the body as the bytes to send, in order: bytes of ours, and
    /// ranges of the archive's mapping for the kernel to send. [`Body::Inflate`]
    /// and [`Body::Assembled`] have no pieces here: [`send`] streams them.
    pub fn pieces<'a>(&'a self, mut each: impl FnMut(Piece<'a>)) {
        match self {
            Body::Empty | Body::Inflate { .. } | Body::Stream(_) | Body::Assembled { .. } => {}
            Body::Static(s) => each(Piece::Bytes(s.as_bytes())),
            Body::Owned(v) => each(Piece::Bytes(v)),
            Body::Mapped { offset, len, .. } => each(Piece::Mapped(*offset, *len)),
            Body::Gzip {
                offset,
                len,
                trailer,
                ..
            } => {
                each(Piece::Bytes(&GZIP_HEADER));
                each(Piece::Mapped(*offset, *len));
                each(Piece::Bytes(trailer));
            }
            Body::Multipart { parts, tail, .. } => {
                for part in parts {
                    each(Piece::Bytes(part.head.as_bytes()));
                    each(Piece::Mapped(part.offset, part.len));
                }
                each(Piece::Bytes(tail.as_bytes()));
            }
        }
    }

    /// The archive whose mapping the pieces refer to.
    pub fn archive(&self) -> Option<&Arc<Archive>> {
        match self {
            Body::Mapped { archive, .. }
            | Body::Gzip { archive, .. }
            | Body::Multipart { archive, .. }
            | Body::Inflate { archive, .. }
            | Body::Assembled { archive, .. } => Some(archive),
            Body::Empty | Body::Static(_) | Body::Owned(_) | Body::Stream(_) => None,
        }
    }

    /// For [`Body::Inflate`]: the inflater, limited to the bytes to send, and
    /// how many bytes to skip first.
    fn inflater(&self) -> Option<(Inflater, u64)> {
        match self {
            Body::Inflate {
                archive,
                member,
                memory,
                skip,
                take,
            } => {
                // From the nearest checkpoint, if the member has been read through before.
                let inflater = Inflater::at(Arc::clone(archive), *member, memory.clone(), *skip);
                let (at, _) = inflater.position();
                Some((inflater.limit(*take), skip.saturating_sub(at)))
            }
            _ => None,
        }
    }
}

/// How a front writes a body. Pieces are queued; [`Sink::flush`] writes what
/// is queued and is called between inflated chunks, so memory stays bounded.
/// [`send`] does not flush at the end: the front does, with whatever it sends
/// after the body (FastCGI's END_REQUEST goes in the same `writev`).
pub trait Sink {
    /// Whether blocking work (file reads, inflating) may run right here: true
    /// only where nothing else waits on this thread (CGI, one request per
    /// process). Otherwise it runs on the blocking pool, off the event loop.
    const MAY_BLOCK: bool;

    /// Queues bytes of ours.
    fn bytes(&mut self, bytes: &[u8]);

    /// Queues `len` bytes of `archive`'s mapping at `offset`, by reference.
    fn mapped(&mut self, archive: &Arc<Archive>, offset: u64, len: u64);

    /// Writes what is queued.
    fn flush(&mut self) -> impl Future<Output = io::Result<()>>;
}

/// Why a body could not be sent whole. Either way the response is cut short
/// after its headers promised a length, so the front must end the exchange
/// (close the connection, exit non-zero) rather than let a short body pass
/// as a whole one.
#[derive(Debug)]
pub enum SendError {
    /// The member could not deliver its bytes (corrupt or truncated deflate
    /// stream, a CRC-32 mismatch, file cut under us); logged here, once, or
    /// for a CRC mismatch once per archive version.
    Member(io::Error),
    /// Writing failed: usually the peer went away.
    Write(io::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Member(e) => write!(f, "inflating member: {e}"),
            SendError::Write(e) => write!(f, "writing the body: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

impl From<SendError> for io::Error {
    fn from(e: SendError) -> io::Error {
        match e {
            SendError::Member(e) | SendError::Write(e) => e,
        }
    }
}

/// Sends `body` through `sink`: queues its pieces, and runs a streamed body
/// (an inflated member, a page made step by step) one bounded step at a
/// time, each step's output flushed as it is made (the head goes out with the
/// first). Pieces of a body that is not streamed stay queued for the front's
/// own final flush.
pub async fn send<S: Sink>(body: &Body, sink: &mut S) -> Result<(), SendError> {
    let archive = body.archive();
    match archive.and_then(|a| a.object()) {
        Some(object) => send_object(body, object, sink).await?,
        None => body.pieces(|piece| match (piece, archive) {
            (Piece::Bytes(b), _) => {
                STATS.bytes_copied.add(b.len() as u64);
                sink.bytes(b);
            }
            (Piece::Mapped(offset, len), Some(archive)) => {
                STATS.bytes_mapped.add(len);
                sink.mapped(archive, offset, len);
            }
            (Piece::Mapped(..), None) => {}
        }),
    }
    let producer: Box<dyn Produce> = match body {
        Body::Assembled {
            archive, assembler, ..
        } => {
            return match assembler.take() {
                Some(assembler) => send_assembled::<S>(assembler, archive, sink).await,
                None => Ok(()),
            }
        }
        Body::Stream(stream) => match stream.take() {
            Some(producer) => producer,
            None => return Ok(()),
        },
        _ => match body.inflater() {
            Some((inflater, skip)) => Box::new(Inflating { inflater, skip }),
            None => return Ok(()),
        },
    };
    send_stream::<S>(producer, sink).await
}

/// The pieces of a body from an archive in object storage: there is no
/// mapping, so each range is sent as it arrives from storage (or from a
/// range fetched recently), piece by piece, flushed as it goes: memory stays
/// bounded whatever the member's size. A failure midway cuts the exchange.
async fn send_object<S: Sink>(
    body: &Body,
    object: &crate::archive::s3::Object,
    sink: &mut S,
) -> Result<(), SendError> {
    let mut pieces = Vec::new();
    body.pieces(|p| pieces.push(p));
    for piece in pieces {
        match piece {
            Piece::Bytes(b) => {
                STATS.bytes_copied.add(b.len() as u64);
                sink.bytes(b);
            }
            Piece::Mapped(offset, len) => {
                let mut range = object.pieces(offset, len);
                while let Some(bytes) = range.next().await {
                    let bytes = bytes.map_err(|e| {
                        log::warn!("{}: reading a member for the body: {e}", object.key());
                        SendError::Member(e)
                    })?;
                    STATS.bytes_copied.add(bytes.len() as u64);
                    sink.bytes(&bytes);
                    sink.flush().await.map_err(SendError::Write)?;
                }
            }
        }
    }
    Ok(())
}

/// Runs a producer step by step where blocking work may run, flushing what
/// each step made.
async fn send_stream<S: Sink>(producer: Box<dyn Produce>, sink: &mut S) -> Result<(), SendError> {
    let mut job = StreamJob {
        producer,
        out: Vec::with_capacity(INFLATE_CHUNK),
        more: Ok(true),
    };
    loop {
        job.out.clear();
        job = run_blocking::<S, _>(job, StreamJob::step).await?;
        let more = match std::mem::replace(&mut job.more, Ok(false)) {
            Ok(more) => more,
            Err(e) => {
                // A corrupt member is logged once per archive version, where found.
                if !CrcMismatch::is(&e) {
                    log::error!("reading a member for the body: {e}");
                }
                return Err(SendError::Member(e));
            }
        };
        if !job.out.is_empty() {
            STATS.bytes_copied.add(job.out.len() as u64);
            sink.bytes(&job.out);
            sink.flush().await.map_err(SendError::Write)?;
        }
        if !more {
            return Ok(());
        }
    }
}

/// Runs an assembler step by step where blocking work may run, queueing
/// each batch (mapped ranges by reference) and flushing it before the next
/// step, so what is queued stays one batch. The last batch stays queued for
/// the front's own final flush.
async fn send_assembled<S: Sink>(
    assembler: Box<dyn Assemble>,
    archive: &Arc<Archive>,
    sink: &mut S,
) -> Result<(), SendError> {
    let mut job = AssembleJob {
        assembler,
        out: Batch::default(),
        more: Ok(true),
    };
    loop {
        job.out.clear();
        job = run_blocking::<S, _>(job, AssembleJob::step).await?;
        let more = match std::mem::replace(&mut job.more, Ok(false)) {
            Ok(more) => more,
            Err(e) => {
                log::error!("assembling a body: {e}");
                return Err(SendError::Member(e));
            }
        };
        job.out.pieces(|piece| match piece {
            Piece::Bytes(b) => {
                STATS.bytes_copied.add(b.len() as u64);
                sink.bytes(b);
            }
            Piece::Mapped(offset, len) => {
                STATS.bytes_mapped.add(len);
                sink.mapped(archive, offset, len);
            }
        });
        if !more {
            return Ok(());
        }
        sink.flush().await.map_err(SendError::Write)?;
    }
}

/// An assembler moved between the event loop and the blocking pool.
struct AssembleJob {
    assembler: Box<dyn Assemble>,
    out: Batch,
    more: io::Result<bool>,
}

impl AssembleJob {
    fn step(mut self) -> Self {
        self.more = self.assembler.step(&mut self.out);
        self
    }
}

/// A producer moved between the event loop and the blocking pool.
struct StreamJob {
    producer: Box<dyn Produce>,
    out: Vec<u8>,
    more: io::Result<bool>,
}

impl StreamJob {
    fn step(mut self) -> Self {
        self.more = self.producer.step(&mut self.out);
        self
    }
}

/// A [`Body::Inflate`] as a producer: each step inflates a slice of the
/// skip (a Range deep into a member: paced, nothing sent) or one chunk.
struct Inflating {
    inflater: Inflater,
    /// Bytes still to drop before the first byte sent.
    skip: u64,
}

impl Produce for Inflating {
    fn step(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        if self.skip > 0 {
            let slice = self.skip.min(SKIP_SLICE);
            self.inflater.skip(slice)?;
            self.skip -= slice;
            return Ok(true);
        }
        out.resize(INFLATE_CHUNK, 0);
        let made = self.inflater.read(out)?;
        out.truncate(made);
        Ok(made > 0)
    }
}

/// Runs `work` where the sink says blocking work may run.
async fn run_blocking<S: Sink, T: Send + 'static>(
    input: T,
    work: fn(T) -> T,
) -> Result<T, SendError> {
    if S::MAY_BLOCK {
        return Ok(work(input));
    }
    tokio::task::spawn_blocking(move || work(input))
        .await
        .map_err(|e| SendError::Member(io::Error::other(e)))
}

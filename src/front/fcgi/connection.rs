//! One FastCGI connection: reading records, writing responses, keeping time.
//!
//! What each record means is decided by [`Protocol`] (no I/O); how a response
//! is framed by [`Outgoing`] (no I/O); how a body is walked by
//! [`body::send`]. This file does the rest: reads, `writev` with mapped
//! segments, sendfile(2) of large members' file segments between record
//! headers, the idle timer, shutdown, and lingering before a close.

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

use super::params;
use super::protocol::{Action, Protocol, ProtocolError};
use super::record;
use super::stdout::{Outgoing, Seg};
use crate::archive::Archive;
use crate::front::connections;
use crate::http::body::{self, SendError, Sink};
use crate::http::{Param, Params, Response, Status};
use crate::log;
use crate::service::Service;
use crate::stats::STATS;

/// Per-connection limits, from the command line.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Cap on one request's PARAMS stream; past it the request gets 431 and the connection closes.
    pub max_params: usize,
    /// How long a connection may sit without progress, in a read or a write.
    pub idle_timeout: Duration,
    /// Advertised as FCGI_MAX_CONNS and FCGI_MAX_REQS.
    pub max_conns: usize,
    /// Mapped pieces of at least this many bytes go out with sendfile(2) from
    /// the archive file instead of `writev` from the mapping; 0: never.
    pub sendfile_min: u64,
}

/// The default of `--sendfile-min`: off. Behind nginx on the same host
/// (Linux 6.18, tools/bench figure 2) sendfile takes about a fifth off wwz's
/// CPU per request at 8 and 64 MiB (6% at 1 MiB), but nginx then reads page
/// fragments instead of linear buffers and spends more than that: nginx + wwz
/// together cost more at every size, and nginx is what bounds the rate.
/// Where the front runs elsewhere, wwz's own CPU is what sendfile saves.
pub const DEFAULT_SENDFILE_MIN: u64 = 0;

/// What a connection needs of its socket beyond reading and writing: a
/// descriptor to sendfile(2) into, calls made only when it is writable, and
/// waiting for that. Implemented by tokio's unix and TCP streams.
pub trait Socket: AsyncRead + AsyncWrite + Unpin + AsFd {
    /// Runs the non-blocking write `f` if the socket looks writable; a
    /// `WouldBlock` from it clears the readiness, so [`Socket::writable`] waits.
    fn try_write_io<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;

    /// Waits until the socket may take more.
    fn writable(&self) -> impl Future<Output = io::Result<()>>;
}

impl Socket for tokio::net::UnixStream {
    fn try_write_io<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.try_io(Interest::WRITABLE, f)
    }

    async fn writable(&self) -> io::Result<()> {
        tokio::net::UnixStream::writable(self).await
    }
}

impl Socket for tokio::net::TcpStream {
    fn try_write_io<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.try_io(Interest::WRITABLE, f)
    }

    async fn writable(&self) -> io::Result<()> {
        tokio::net::TcpStream::writable(self).await
    }
}

/// How much to make room for before each read.
const READ_RESERVE: usize = 16 * 1024;
/// After a response with KEEP_CONN unset: how long and how much to drain before closing,
/// so unread input does not turn our close into a reset that loses the response.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;
/// At most this many iovecs per `writev` call.
const MAX_IOVECS: usize = 64;
/// Why a connection ended early.
#[derive(Debug)]
enum ConnError {
    Io(io::Error),
    Protocol(ProtocolError),
    Timeout,
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "connection ended: {e}"),
            ConnError::Protocol(e) => write!(f, "protocol error: {e}"),
            ConnError::Timeout => f.write_str("idle for too long"),
        }
    }
}

impl std::error::Error for ConnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnError::Io(e) => Some(e),
            ConnError::Protocol(e) => Some(e),
            ConnError::Timeout => None,
        }
    }
}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        ConnError::Io(e)
    }
}

impl From<ProtocolError> for ConnError {
    fn from(e: ProtocolError) -> Self {
        ConnError::Protocol(e)
    }
}

/// A params block received whole, as the core's request.
struct FcgiParams<'a>(params::Indexed<'a>);

impl Params for FcgiParams<'_> {
    #[inline]
    fn param(&self, p: Param) -> Option<&[u8]> {
        self.0.get(p)
    }
}

/// Serves one connection until the peer closes, a protocol error, a timeout, or shutdown.
pub async fn serve<S>(
    stream: S,
    svc: Arc<Service>,
    limits: Arc<Limits>,
    shutdown: watch::Receiver<bool>,
    slot: connections::Handle,
) where
    S: Socket,
{
    let mut conn = Connection {
        stream,
        rbuf: BytesMut::with_capacity(READ_RESERVE),
        protocol: Protocol::new(limits.max_params, limits.max_conns),
        tx: Outgoing::default(),
        head: Vec::new(),
        progress: Instant::now(),
        slot,
    };
    match conn.run(&svc, &limits, shutdown).await {
        Ok(()) => {}
        Err(ConnError::Protocol(why)) => log::warn!("closing connection: {why}"),
        Err(ConnError::Timeout) => log::debug!("closing idle connection"),
        Err(ConnError::Io(e)) => log::debug!("connection ended: {e}"),
    }
}

struct Connection<S> {
    stream: S,
    rbuf: BytesMut,
    protocol: Protocol,
    tx: Outgoing,
    /// The CGI header block of the response being sent, reused.
    head: Vec<u8>,
    /// When the peer last made progress (sent bytes, or took bytes after a wait).
    progress: Instant,
    /// Whether it waits between requests, for closing the idle longest at the limit.
    slot: connections::Handle,
}

impl<S: Socket> Connection<S> {
    async fn run(
        &mut self,
        svc: &Service,
        limits: &Limits,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ConnError> {
        // One timer and one shutdown wait per connection, armed once: re-arming
        // them around every read showed up as a large share of per-request CPU.
        // The timer is moved only when it fires, to the last progress plus the
        // timeout. Progress is a whole record, not a byte: a peer dripping one
        // byte at a time (slowloris) must not hold the connection past it.
        let mut stopping = *shutdown.borrow_and_update();
        let stop = shutdown.changed();
        tokio::pin!(stop);
        let timer = tokio::time::sleep(limits.idle_timeout);
        tokio::pin!(timer);
        let closing = self.slot.closing();
        tokio::pin!(closing);
        self.progress = Instant::now();
        loop {
            let mut decoded = false;
            while let Some(action) = self.next_record()? {
                decoded = true;
                match action {
                    Action::Nothing => {}
                    Action::Flush => self.flush(None, limits).await?,
                    Action::FlushAndClose => {
                        self.flush(None, limits).await?;
                        return self.linger().await;
                    }
                    Action::Respond { id, keep_conn } => {
                        self.respond(svc, id, limits).await?;
                        if !keep_conn {
                            return self.linger().await;
                        }
                    }
                    Action::TooLarge { id } => {
                        log::warn!(
                            "request params exceed {} bytes; answering 431",
                            limits.max_params
                        );
                        self.tx.clear();
                        let resp = Response::error(Status::RequestHeaderFieldsTooLarge);
                        self.answer(&resp, id, limits).await?;
                        return self.linger().await;
                    }
                }
            }

            if decoded {
                // One clock read per batch of records.
                self.progress = Instant::now();
            }
            let idle = self.protocol.is_idle() && self.rbuf.is_empty();
            if idle && stopping {
                return Ok(());
            }
            if idle {
                self.slot.set_idle();
            }
            self.rbuf.reserve(READ_RESERVE);
            let n = tokio::select! {
                biased;
                r = self.stream.read_buf(&mut self.rbuf) => r?,
                _ = &mut stop, if !stopping => {
                    stopping = true;
                    continue;
                }
                () = &mut closing, if idle => {
                    // Chosen to make room: close, unless a request has begun to arrive.
                    match self.read_if_ready().await? {
                        Some(0) => return Ok(()),
                        Some(_) => {
                            self.slot.set_busy();
                            closing.set(self.slot.closing());
                        }
                        None => {
                            STATS.idle_closed_at_limit.inc();
                            log::info!(
                                "closing the connection idle longest: the connection limit is reached"
                            );
                            return Ok(());
                        }
                    }
                    continue;
                }
                () = &mut timer => {
                    let deadline = self.progress + limits.idle_timeout;
                    if Instant::now() >= deadline {
                        return Err(ConnError::Timeout);
                    }
                    timer.as_mut().reset(deadline);
                    continue;
                }
            };
            if n == 0 {
                if !idle {
                    log::debug!("peer closed the connection mid-request");
                }
                return Ok(());
            }
            self.slot.set_busy();
        }
    }

    /// Reads what has already arrived, without waiting: `None` if nothing has.
    async fn read_if_ready(&mut self) -> io::Result<Option<usize>> {
        self.rbuf.reserve(READ_RESERVE);
        let read = self.stream.read_buf(&mut self.rbuf);
        tokio::pin!(read);
        std::future::poll_fn(|cx| match read.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(r.map(Some)),
            Poll::Pending => Poll::Ready(Ok(None)),
        })
        .await
    }

    /// Applies the next buffered record; `None` when more input is needed.
    fn next_record(&mut self) -> Result<Option<Action>, ConnError> {
        let Some((rec, used)) =
            record::decode(&self.rbuf).map_err(|e| ConnError::Protocol(e.into()))?
        else {
            return Ok(None);
        };
        let action = self.protocol.on_record(rec, &mut self.tx.out)?;
        self.rbuf.advance(used);
        Ok(Some(action))
    }

    /// Answers request `id` from the params the protocol collected.
    async fn respond(&mut self, svc: &Service, id: u16, limits: &Limits) -> Result<(), ConnError> {
        let params = params::Indexed::new(self.protocol.params())
            .map_err(|e| ConnError::Protocol(e.into()))?;
        let resp = svc.respond(&FcgiParams(params));
        self.tx.clear();
        self.answer(&resp, id, limits).await
    }

    /// Sends `resp` as request `id`'s STDOUT stream and ends the request: the
    /// head, the body and END_REQUEST in one `writev` unless the body is streamed.
    async fn answer(&mut self, resp: &Response, id: u16, limits: &Limits) -> Result<(), ConnError> {
        let archive = resp.body.archive().map(|a| a.as_ref());
        let mut head = std::mem::take(&mut self.head);
        head.clear();
        resp.write_head(&mut head);
        self.tx.own(id, &head);
        self.head = head;
        let mut writer = RecordWriter {
            conn: self,
            id,
            archive,
            limits,
        };
        let sent = body::send(&resp.body, &mut writer).await;
        match sent {
            Ok(()) => {}
            // The headers promised a length the body cannot deliver: close, so
            // the client sees a truncated response rather than a wrong one.
            Err(SendError::Member(e)) | Err(SendError::Write(e)) => return Err(ConnError::Io(e)),
        }
        self.tx.end(id);
        self.flush(archive, limits).await
    }

    /// Writes everything queued in `tx`, mapped segments from `archive`:
    /// runs of own and mapped segments with `writev`, file segments with
    /// sendfile(2).
    async fn flush(&mut self, archive: Option<&Archive>, limits: &Limits) -> Result<(), ConnError> {
        self.tx.seal();
        let out = &self.tx.out;
        let segs = self.tx.segments();
        let slice = |seg: &Seg, skip: usize| -> io::Result<IoSlice<'_>> {
            match *seg {
                Seg::Own(start, end) => out
                    .get(start..end)
                    .and_then(|b| b.get(skip..))
                    .map(IoSlice::new)
                    .ok_or_else(|| io::Error::other("bad segment")),
                Seg::Mapped(offset, len) => archive
                    .and_then(|a| a.mapped(offset, len as u64))
                    .map(|m| m.skip(skip).io_slice())
                    .ok_or_else(|| io::Error::other("mapped segment outside the archive")),
                Seg::File(..) => Err(io::Error::other("file segment in a writev")),
            }
        };
        let mut next = 0; // first segment not fully written
        let mut skip = 0; // bytes of it already written
        while let Some(seg) = segs.get(next) {
            if let Seg::File(offset, len) = *seg {
                let archive =
                    archive.ok_or_else(|| io::Error::other("file segment without an archive"))?;
                let (offset, len) = (offset + skip as u64, len - skip);
                send_file(
                    &self.stream,
                    &mut self.progress,
                    archive,
                    offset,
                    len,
                    limits,
                )
                .await?;
                next += 1;
                skip = 0;
                continue;
            }
            let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            let mut before_file = false;
            for ((i, seg), slot) in segs.iter().enumerate().skip(next).zip(iov.iter_mut()) {
                if matches!(seg, Seg::File(..)) {
                    before_file = true;
                    break;
                }
                *slot = slice(seg, if i == next { skip } else { 0 })?;
                count += 1;
            }
            let iov = iov.get(..count).unwrap_or_default();
            let written = if before_file {
                // A record header (and the head, at first) before file bytes:
                // on TCP, MSG_MORE keeps it from leaving as a packet of its own.
                write_more(&self.stream, &mut self.progress, iov, limits).await?
            } else {
                // Most writes complete at once; a timer is armed only for one that waits.
                let first = std::future::poll_fn(|cx| {
                    match Pin::new(&mut self.stream).poll_write_vectored(cx, iov) {
                        Poll::Ready(r) => Poll::Ready(Some(r)),
                        Poll::Pending => Poll::Ready(None),
                    }
                })
                .await;
                match first {
                    Some(r) => r?,
                    None => {
                        let n = timeout(limits.idle_timeout, self.stream.write_vectored(iov))
                            .await
                            .map_err(|_| ConnError::Timeout)??;
                        // A slow reader is progress too: don't let the read timer count it as idle.
                        self.progress = Instant::now();
                        n
                    }
                }
            };
            if written == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            let mut left = written;
            while left > 0 && next < segs.len() {
                let remaining = segs.get(next).map_or(0, Seg::size) - skip;
                if left >= remaining {
                    left -= remaining;
                    next += 1;
                    skip = 0;
                } else {
                    skip += left;
                    left = 0;
                }
            }
        }
        self.stream.flush().await?;
        self.tx.clear();
        Ok(())
    }

    /// Half-closes, then reads and drops input for a bounded time before the close.
    async fn linger(&mut self) -> Result<(), ConnError> {
        let _ = self.stream.shutdown().await;
        let deadline = Instant::now() + LINGER_TIME;
        let mut drained = 0;
        let mut buf = [0u8; 4096];
        while drained < LINGER_BYTES {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => drained += n,
                _ => break,
            }
        }
        Ok(())
    }
}

/// Runs the non-blocking write `f` until it goes through, waiting (within
/// the idle timeout) while the socket is full; a wait that ends is progress.
async fn write_when_ready<S: Socket, R>(
    stream: &S,
    progress: &mut Instant,
    limits: &Limits,
    mut f: impl FnMut() -> io::Result<R>,
) -> Result<R, ConnError> {
    loop {
        match stream.try_write_io(&mut f) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                timeout(limits.idle_timeout, stream.writable())
                    .await
                    .map_err(|_| ConnError::Timeout)??;
                *progress = Instant::now();
            }
            r => return Ok(r?),
        }
    }
}

/// Writes some of `iov` with MSG_MORE: file bytes follow at once.
async fn write_more<S: Socket>(
    stream: &S,
    progress: &mut Instant,
    iov: &[IoSlice<'_>],
    limits: &Limits,
) -> Result<usize, ConnError> {
    let sock = socket2::SockRef::from(stream);
    write_when_ready(stream, progress, limits, || {
        sock.send_vectored_with_flags(iov, libc::MSG_MORE)
    })
    .await
}

/// Sends `len` bytes of `archive` at `offset` with sendfile(2), as the socket
/// takes them. A file that ends early (cut or rewritten in place while
/// mapped) fails the response, like EFAULT does a `writev` from the mapping:
/// the caller closes the connection, and the process serves on.
async fn send_file<S: Socket>(
    stream: &S,
    progress: &mut Instant,
    archive: &Archive,
    mut offset: u64,
    mut left: usize,
    limits: &Limits,
) -> Result<(), ConnError> {
    while left > 0 {
        let sent = write_when_ready(stream, progress, limits, || {
            archive.send_file(stream.as_fd(), offset, left)
        })
        .await
        .inspect_err(|e| {
            if let ConnError::Io(e) = e {
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                ) {
                    log::warn!("sendfile(2) refused: {e}; --sendfile-min 0 turns it off");
                }
            }
        })?;
        if sent == 0 {
            log::warn!(
                "an archive ends before a member it indexed (cut or rewritten in place?): \
                 response cut short"
            );
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        offset += sent as u64;
        left -= sent.min(left);
        // try_io spends none of the task's budget: without this, a socket
        // drained as fast as we fill it would let one large member hold the
        // worker thread and starve the connections sharing it.
        tokio::task::coop::consume_budget().await;
    }
    Ok(())
}

/// The FastCGI way to write a body: STDOUT records with mapped segments,
/// flushed with `writev` (file segments with sendfile); blocking work goes to
/// the blocking pool.
struct RecordWriter<'c, 'a, S> {
    conn: &'c mut Connection<S>,
    id: u16,
    archive: Option<&'a Archive>,
    limits: &'a Limits,
}

impl<S: Socket> Sink for RecordWriter<'_, '_, S> {
    const MAY_BLOCK: bool = false;

    fn bytes(&mut self, bytes: &[u8]) {
        self.conn.tx.own(self.id, bytes);
    }

    fn mapped(&mut self, _archive: &Arc<Archive>, offset: u64, len: u64) {
        // One compare on the hot path: small members stay in the one `writev`.
        let min = self.limits.sendfile_min;
        if min != 0 && len >= min {
            STATS.bytes_sendfile.add(len);
            self.conn.tx.file(self.id, offset, len);
        } else {
            self.conn.tx.mapped(self.id, offset, len);
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.conn.tx.close_record(self.id);
        match self.conn.flush(self.archive, self.limits).await {
            Ok(()) => Ok(()),
            Err(ConnError::Io(e)) => Err(e),
            Err(ConnError::Timeout) => Err(io::ErrorKind::TimedOut.into()),
            Err(ConnError::Protocol(why)) => Err(io::Error::other(why)),
        }
    }
}

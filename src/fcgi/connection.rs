//! One FastCGI connection: reading records, writing responses, keeping time.
//!
//! What each record means is decided by [`Protocol`] (no I/O); how a response
//! is framed by [`Outgoing`] (no I/O); how a body is walked by
//! [`body::send`]. This file does the rest: reads, `writev` with mapped
//! segments, the idle timer, shutdown, and lingering before a close.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

use super::params;
use super::protocol::{Action, Protocol, ProtocolError};
use super::record;
use super::stdout::{Outgoing, Seg};
use crate::archive::Archive;
use crate::connections;
use crate::http::body::{self, SendError, Sink};
use crate::http::{Param, Params, Response, Service};
use crate::log;
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
    Protocol(String),
    Timeout,
}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        ConnError::Io(e)
    }
}

impl From<ProtocolError> for ConnError {
    fn from(e: ProtocolError) -> Self {
        ConnError::Protocol(e.0)
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
    S: AsyncRead + AsyncWrite + Unpin,
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
        Err(ConnError::Protocol(why)) => log::warn(format_args!("closing connection: {why}")),
        Err(ConnError::Timeout) => log::debug(format_args!("closing idle connection")),
        Err(ConnError::Io(e)) => log::debug(format_args!("connection ended: {e}")),
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

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
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
                        log::warn(format_args!(
                            "request params exceed {} bytes; answering 431",
                            limits.max_params
                        ));
                        self.tx.clear();
                        let resp = Response::error(431);
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
                            log::info(format_args!(
                                "closing the connection idle longest: the connection limit is reached"
                            ));
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
                    log::debug(format_args!("peer closed the connection mid-request"));
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
            record::decode(&self.rbuf).map_err(|e| ConnError::Protocol(e.to_string()))?
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
            .map_err(|e| ConnError::Protocol(e.to_string()))?;
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
        let mut writer = Writer {
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

    /// Writes everything queued in `tx`, mapped segments from `archive`.
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
            }
        };
        let mut next = 0; // first segment not fully written
        let mut skip = 0; // bytes of it already written
        while next < segs.len() {
            let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            for (i, seg) in segs.iter().enumerate().skip(next).take(MAX_IOVECS) {
                iov[count] = slice(seg, if i == next { skip } else { 0 })?;
                count += 1;
            }
            // Most writes complete at once; a timer is armed only for one that waits.
            let iov = &iov[..count];
            let first = std::future::poll_fn(|cx| {
                match Pin::new(&mut self.stream).poll_write_vectored(cx, iov) {
                    Poll::Ready(r) => Poll::Ready(Some(r)),
                    Poll::Pending => Poll::Ready(None),
                }
            })
            .await;
            let written = match first {
                Some(r) => r?,
                None => {
                    let n = timeout(limits.idle_timeout, self.stream.write_vectored(iov))
                        .await
                        .map_err(|_| ConnError::Timeout)??;
                    // A slow reader is progress too: don't let the read timer count it as idle.
                    self.progress = Instant::now();
                    n
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

/// The FastCGI way to write a body: STDOUT records with mapped segments,
/// flushed with `writev`; blocking work goes to the blocking pool.
struct Writer<'c, 'a, S> {
    conn: &'c mut Connection<S>,
    id: u16,
    archive: Option<&'a Archive>,
    limits: &'a Limits,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink for Writer<'_, '_, S> {
    const MAY_BLOCK: bool = false;

    fn bytes(&mut self, bytes: &[u8]) {
        self.conn.tx.own(self.id, bytes);
    }

    fn mapped(&mut self, _archive: &Arc<Archive>, offset: u64, len: u64) {
        self.conn.tx.mapped(self.id, offset, len);
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

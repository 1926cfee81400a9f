//! One FastCGI connection: records in, responses out.
//!
//! Requests are answered as soon as their PARAMS stream ends (the spec allows
//! it; nobody waits for STDIN of a GET). STDIN is read and dropped. One
//! request is served at a time: a BEGIN_REQUEST for another id while one is
//! in progress gets CANT_MPX_CONN, and GET_VALUES says FCGI_MPXS_CONNS=0.
//!
//! A response is a list of segments: bytes of ours (record headers, the CGI
//! header block, padding) and slices of the archive mapping, written with
//! `writev` so member bytes go from the page cache to the socket untouched.

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
use super::record::{self, kind, BeginRequest, Record};
use crate::archive::inflate::Inflater;
use crate::archive::Archive;
use crate::http::response::Piece;
use crate::http::{Params, Response, Service};
use crate::log;

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

/// Content per STDOUT record: a multiple of 8 below 65535, so full records need no padding.
const CHUNK: usize = 65528;
/// How much to make room for before each read.
const READ_RESERVE: usize = 16 * 1024;
/// After a response with KEEP_CONN unset: how long and how much to drain before closing,
/// so unread input does not turn our close into a reset that loses the response.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;
/// At most this many iovecs per `writev` call.
const MAX_IOVECS: usize = 64;
/// Inflated bytes dropped between yields when a Range starts deep in a deflated member.
const SKIP_SLICE: u64 = 1 << 20;

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

/// A params block received whole, as the core's request.
struct FcgiParams<'a>(params::Indexed<'a>);

impl Params for FcgiParams<'_> {
    fn param(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name)
    }
}

/// The request in progress.
struct Active {
    id: u16,
    keep_conn: bool,
}

/// What the connection must do after a record.
enum Action {
    Nothing,
    /// Send what was queued in `out` (management replies, END_REQUEST).
    Flush,
    /// Send what was queued, then close.
    FlushAndClose,
    /// The PARAMS stream ended: answer the request.
    Respond,
    /// PARAMS grew past the limit: answer 431, then close.
    TooLarge,
}

/// One piece of a response.
#[derive(Debug, Clone, Copy)]
enum Seg {
    /// `out[start..end]`
    Own(usize, usize),
    /// Mapping bytes `offset..offset+len`.
    Mapped(u64, usize),
}

/// The bytes of the next write: our own buffer plus references into a mapping.
#[derive(Default)]
struct Outgoing {
    out: Vec<u8>,
    segs: Vec<Seg>,
    own_start: usize,
    head: Vec<u8>,
    /// The STDOUT record being filled: where its header sits in `out`, and its content length.
    record: Option<(usize, usize)>,
}

impl Outgoing {
    fn clear(&mut self) {
        self.out.clear();
        self.segs.clear();
        self.own_start = 0;
        self.record = None;
    }

    fn close_own(&mut self) {
        if self.out.len() > self.own_start {
            self.segs.push(Seg::Own(self.own_start, self.out.len()));
            self.own_start = self.out.len();
        }
    }

    fn mapped(&mut self, offset: u64, len: usize) {
        self.close_own();
        self.segs.push(Seg::Mapped(offset, len));
    }

    /// Starts a STDOUT record whose header is patched when it is closed.
    fn open_record(&mut self) {
        if self.record.is_none() {
            self.record = Some((self.out.len(), 0));
            self.out.extend_from_slice(&[0; record::HEADER_LEN]);
        }
    }

    /// Closes the open STDOUT record: writes its header and padding.
    fn close_record(&mut self, id: u16) {
        if let Some((at, len)) = self.record.take() {
            let header = record::header(kind::STDOUT, id, len);
            if let Some(slot) = self.out.get_mut(at..at + record::HEADER_LEN) {
                slot.copy_from_slice(&header);
            }
            self.out.extend_from_slice(record::padding(len));
        }
    }

    /// Appends bytes of ours to the STDOUT stream, records filled up to [`CHUNK`].
    fn own(&mut self, id: u16, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            self.open_record();
            let used = self.record.map_or(0, |(_, len)| len);
            let (now, rest) = bytes.split_at((CHUNK - used).min(bytes.len()));
            self.out.extend_from_slice(now);
            self.grow_record(id, now.len());
            bytes = rest;
        }
    }

    /// Appends mapped bytes to the STDOUT stream, by reference.
    fn map(&mut self, id: u16, mut offset: u64, len: u64) {
        let mut left = len;
        while left > 0 {
            self.open_record();
            let used = self.record.map_or(0, |(_, len)| len);
            let n = (CHUNK - used).min(usize::try_from(left).unwrap_or(CHUNK));
            self.mapped(offset, n);
            self.grow_record(id, n);
            offset += n as u64;
            left -= n as u64;
        }
    }

    fn grow_record(&mut self, id: u16, n: usize) {
        if let Some((_, len)) = &mut self.record {
            *len += n;
            if *len >= CHUNK {
                self.close_record(id);
            }
        }
    }

    /// Frames the header block and every body but a streamed inflate; the
    /// stream stays open for more (see [`Outgoing::end`]).
    fn response(&mut self, id: u16, resp: &Response) {
        let mut head = std::mem::take(&mut self.head);
        head.clear();
        resp.write_head(&mut head);
        self.own(id, &head);
        self.head = head;
        resp.body.pieces(|piece| match piece {
            Piece::Bytes(b) => self.own(id, b),
            Piece::Mapped(offset, len) => self.map(id, offset, len),
        });
    }

    /// Ends the STDOUT stream and the request.
    fn end(&mut self, id: u16) {
        self.close_record(id);
        self.out
            .extend_from_slice(&record::header(kind::STDOUT, id, 0));
        record::push_end_request(&mut self.out, id, 0, record::status::REQUEST_COMPLETE);
        self.close_own();
    }
}

/// Serves one connection until the peer closes, a protocol error, a timeout, or shutdown.
pub async fn serve<S>(
    stream: S,
    svc: Arc<Service>,
    limits: Arc<Limits>,
    shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Connection {
        stream,
        rbuf: BytesMut::with_capacity(READ_RESERVE),
        params: Vec::new(),
        active: None,
        tx: Outgoing::default(),
        progress: Instant::now(),
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
    params: Vec<u8>,
    active: Option<Active>,
    tx: Outgoing,
    /// When the peer last made progress (sent bytes, or took bytes after a wait).
    progress: Instant,
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
        self.progress = Instant::now();
        loop {
            let mut decoded = false;
            while let Some((action, used)) = self.next_record(limits)? {
                self.rbuf.advance(used);
                decoded = true;
                match action {
                    Action::Nothing => {}
                    Action::Flush => self.flush(None, limits).await?,
                    Action::FlushAndClose => {
                        self.flush(None, limits).await?;
                        return self.linger().await;
                    }
                    Action::Respond => {
                        if !self.respond(svc, limits).await? {
                            return self.linger().await;
                        }
                    }
                    Action::TooLarge => {
                        let id = self.active.take().map_or(0, |a| a.id);
                        log::warn(format_args!(
                            "request params exceed {} bytes; answering 431",
                            limits.max_params
                        ));
                        self.tx.clear();
                        self.tx.response(id, &Response::error(431));
                        self.tx.end(id);
                        self.flush(None, limits).await?;
                        return self.linger().await;
                    }
                }
            }

            if decoded {
                // One clock read per batch of records.
                self.progress = Instant::now();
            }
            let idle = self.active.is_none() && self.rbuf.is_empty();
            if idle && stopping {
                return Ok(());
            }
            self.rbuf.reserve(READ_RESERVE);
            let n = tokio::select! {
                biased;
                r = self.stream.read_buf(&mut self.rbuf) => r?,
                _ = &mut stop, if !stopping => {
                    stopping = true;
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
        }
    }

    /// Decodes the next buffered record and updates the state; `None` when more input is needed.
    fn next_record(&mut self, limits: &Limits) -> Result<Option<(Action, usize)>, ConnError> {
        let Some((rec, used)) =
            record::decode(&self.rbuf).map_err(|e| ConnError::Protocol(e.to_string()))?
        else {
            return Ok(None);
        };
        let action = on_record(
            rec,
            &mut self.active,
            &mut self.params,
            &mut self.tx,
            limits,
        )?;
        Ok(Some((action, used)))
    }

    /// Answers the active request; returns whether to keep the connection.
    async fn respond(&mut self, svc: &Service, limits: &Limits) -> Result<bool, ConnError> {
        let Some(active) = self.active.take() else {
            return Ok(true);
        };
        let params =
            params::Indexed::new(&self.params).map_err(|e| ConnError::Protocol(e.to_string()))?;
        let resp = svc.respond(&FcgiParams(params));
        self.tx.clear();
        self.tx.response(active.id, &resp);
        if let Some((mut inflater, skip)) = resp.body.inflater() {
            self.stream_inflated(active.id, &mut inflater, skip, limits)
                .await?;
        }
        let archive = resp.body.archive().map(|a| a.as_ref());
        self.tx.end(active.id);
        self.flush(archive, limits).await?;
        Ok(active.keep_conn)
    }

    /// Sends `take` inflated bytes after dropping `skip`, a buffer at a time.
    /// The headers promised a length; if the member cannot deliver it the
    /// connection is closed so the client sees a truncated response, not a wrong one.
    async fn stream_inflated(
        &mut self,
        id: u16,
        inflater: &mut Inflater,
        skip: u64,
        limits: &Limits,
    ) -> Result<(), ConnError> {
        let broken = |e: io::Error| {
            log::error(format_args!("inflating member: {e}"));
            ConnError::Io(e)
        };
        // Skipping into a large deflated member is CPU work with nothing to
        // send: do it in slices and yield between them, so one Range request
        // into a deflate bomb cannot hold a worker thread for seconds.
        let mut to_skip = skip;
        while to_skip > 0 {
            let step = to_skip.min(SKIP_SLICE);
            inflater.skip(step).map_err(broken)?;
            to_skip -= step;
            tokio::task::yield_now().await;
        }
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = inflater.read(&mut buf).map_err(broken)?;
            if n == 0 {
                return Ok(());
            }
            self.tx.own(id, buf.get(..n).unwrap_or_default());
            self.tx.close_record(id);
            self.flush(None, limits).await?;
        }
    }

    /// Writes everything queued in `tx`, mapped segments from `archive`.
    async fn flush(&mut self, archive: Option<&Archive>, limits: &Limits) -> Result<(), ConnError> {
        self.tx.close_own();
        let Outgoing { out, segs, .. } = &self.tx;
        let slice = |seg: &Seg| -> io::Result<&[u8]> {
            match *seg {
                Seg::Own(start, end) => out
                    .get(start..end)
                    .ok_or_else(|| io::Error::other("bad segment")),
                Seg::Mapped(offset, len) => archive
                    .and_then(|a| a.mapped(offset, len as u64))
                    .ok_or_else(|| io::Error::other("mapped segment outside the archive")),
            }
        };
        let mut next = 0; // first segment not fully written
        let mut skip = 0; // bytes of it already written
        while next < segs.len() {
            let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            for (i, seg) in segs.iter().enumerate().skip(next).take(MAX_IOVECS) {
                let bytes = slice(seg)?;
                let bytes = if i == next {
                    bytes.get(skip..).unwrap_or_default()
                } else {
                    bytes
                };
                iov[count] = IoSlice::new(bytes);
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
                let seg_len = match segs[next] {
                    Seg::Own(s, e) => e - s,
                    Seg::Mapped(_, len) => len,
                };
                let remaining = seg_len - skip;
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

/// Applies one record to the connection state (spec §5–§6).
fn on_record(
    rec: Record<'_>,
    active: &mut Option<Active>,
    params_buf: &mut Vec<u8>,
    tx: &mut Outgoing,
    limits: &Limits,
) -> Result<Action, ConnError> {
    let is_active = |a: &Option<Active>| a.as_ref().is_some_and(|a| a.id == rec.request_id);
    if rec.request_id == 0 {
        return management(rec, tx, limits);
    }
    match rec.kind {
        kind::BEGIN_REQUEST => {
            let begin = BeginRequest::parse(rec.content)
                .ok_or_else(|| ConnError::Protocol("short BEGIN_REQUEST body".into()))?;
            if let Some(current) = active {
                if current.id == rec.request_id {
                    return Err(ConnError::Protocol(format!(
                        "BEGIN_REQUEST for request {} already in progress",
                        rec.request_id
                    )));
                }
                log::debug(format_args!(
                    "request {} while {} is in progress: CANT_MPX_CONN",
                    rec.request_id, current.id
                ));
                record::push_end_request(
                    &mut tx.out,
                    rec.request_id,
                    0,
                    record::status::CANT_MPX_CONN,
                );
                return Ok(Action::Flush);
            }
            if begin.role != record::role::RESPONDER {
                log::info(format_args!("refusing FastCGI role {}", begin.role));
                record::push_end_request(
                    &mut tx.out,
                    rec.request_id,
                    0,
                    record::status::UNKNOWN_ROLE,
                );
                return Ok(if begin.keep_conn() {
                    Action::Flush
                } else {
                    Action::FlushAndClose
                });
            }
            *active = Some(Active {
                id: rec.request_id,
                keep_conn: begin.keep_conn(),
            });
            params_buf.clear();
            Ok(Action::Nothing)
        }
        kind::PARAMS if is_active(active) => {
            if rec.content.is_empty() {
                return Ok(Action::Respond);
            }
            if params_buf.len() + rec.content.len() > limits.max_params {
                return Ok(Action::TooLarge);
            }
            params_buf.extend_from_slice(rec.content);
            Ok(Action::Nothing)
        }
        kind::ABORT_REQUEST if is_active(active) => {
            let keep = active.take().is_some_and(|a| a.keep_conn);
            record::push_end_request(
                &mut tx.out,
                rec.request_id,
                0,
                record::status::REQUEST_COMPLETE,
            );
            Ok(if keep {
                Action::Flush
            } else {
                Action::FlushAndClose
            })
        }
        // STDIN and DATA are drained; records for requests already answered
        // (a stray second empty STDIN, a late ABORT) are ignored, as the spec says.
        _ => Ok(Action::Nothing),
    }
}

/// Management records (request id 0): GET_VALUES, or UNKNOWN_TYPE for anything else.
fn management(rec: Record<'_>, tx: &mut Outgoing, limits: &Limits) -> Result<Action, ConnError> {
    if rec.kind != kind::GET_VALUES {
        record::push_unknown_type(&mut tx.out, rec.kind);
        return Ok(Action::Flush);
    }
    let max = limits.max_conns.to_string();
    let mut body = Vec::new();
    for pair in params::pairs(rec.content) {
        let (name, _) = pair.map_err(|e| ConnError::Protocol(e.to_string()))?;
        let value: &[u8] = match name {
            b"FCGI_MAX_CONNS" | b"FCGI_MAX_REQS" => max.as_bytes(),
            b"FCGI_MPXS_CONNS" => b"0",
            _ => continue,
        };
        params::push_pair(&mut body, name, value);
    }
    record::push_stream(&mut tx.out, kind::GET_VALUES_RESULT, 0, &body);
    Ok(Action::Flush)
}

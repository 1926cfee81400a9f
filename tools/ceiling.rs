//! `ceiling`: the cheapest FastCGI responder we can write, as the upper bound
//! for any responder behind the same web server.
//!
//! It parses records with `wwz::front::fcgi::record`, looks at PARAMS only to find
//! the end of the stream, and answers every request with the same body of
//! `--size` bytes: the CGI header block and the body as STDOUT records, an
//! empty STDOUT, END_REQUEST. No files, no routing, no per-request
//! allocation. The response has the same shape as wwz's (one `writev` of our
//! record headers interleaved with borrowed body slices, the header block
//! sharing the first record with the first body bytes), so the difference
//! between the two is what wwz does per request, not how it writes.
//!
//! ```text
//! cargo run --release --example ceiling -- --listen unix:/tmp/ceiling.sock --size 4096
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark or build tool run by hand on inputs it makes: a panic is a clear stop"
)]

use std::io::{self, IoSlice};
use std::process::ExitCode;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use wwz::front::fcgi::params;
use wwz::front::fcgi::record::{self, kind, BeginRequest};

/// Content per STDOUT record: a multiple of 8, so full records need no padding (as wwz).
const CHUNK: usize = 65528;
/// Room made before each read.
const READ_RESERVE: usize = 16 * 1024;
/// At most this many iovecs per `writev` (as wwz).
const MAX_IOVECS: usize = 64;

const USAGE: &str = "usage: ceiling --listen unix:PATH|HOST:PORT [--size BYTES] [--threads N]";

struct Options {
    listen: String,
    size: usize,
    threads: Option<usize>,
}

fn parse_args() -> Result<Options, String> {
    let mut listen = None;
    let mut size = 4096;
    let mut threads = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => listen = Some(value("--listen")?),
            "--size" => {
                size = value("--size")?
                    .parse()
                    .map_err(|e| format!("--size: {e}"))?
            }
            "--threads" => {
                threads = Some(
                    value("--threads")?
                        .parse()
                        .map_err(|e| format!("--threads: {e}"))?,
                )
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let listen = listen.ok_or("--listen is required")?;
    Ok(Options {
        listen,
        size,
        threads,
    })
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ceiling: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = opts.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ceiling: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceiling: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(opts: Options) -> io::Result<()> {
    let body: &'static [u8] = Box::leak(make_body(opts.size).into_boxed_slice());
    let head: &'static [u8] = Box::leak(
        format!(
            "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            opts.size
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    if let Some(path) = opts.listen.strip_prefix("unix:") {
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path)?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(connection(stream, head, body));
        }
    } else {
        let listener = tokio::net::TcpListener::bind(&opts.listen).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(stream, head, body));
        }
    }
}

/// Printable filler, so the body can be looked at with curl.
fn make_body(size: usize) -> Vec<u8> {
    const LINE: &[u8] = b"the quick brown fox jumps over the lazy dog 0123456789\n";
    LINE.iter().copied().cycle().take(size).collect()
}

/// One piece of the response.
#[derive(Clone, Copy)]
enum Seg {
    /// `own[start..end]`
    Own(usize, usize),
    /// `body[start..end]`
    Body(usize, usize),
}

/// The framed response for one request id, built once per connection and
/// rebuilt only if the peer changes request ids (nginx always uses 1).
struct Framed {
    id: u16,
    own: Vec<u8>,
    segs: Vec<Seg>,
}

impl Framed {
    fn new(id: u16, head: &[u8], body_len: usize) -> Framed {
        let mut own = Vec::new();
        let mut segs = Vec::new();
        let mut own_start = 0;
        let mut lead = head;
        let mut sent = 0;
        loop {
            let n = (CHUNK - lead.len()).min(body_len - sent);
            let content = lead.len() + n;
            own.extend_from_slice(&record::header(kind::STDOUT, id, content));
            own.extend_from_slice(lead);
            if n > 0 {
                segs.push(Seg::Own(own_start, own.len()));
                own_start = own.len();
                segs.push(Seg::Body(sent, sent + n));
            }
            own.extend_from_slice(record::padding(content));
            lead = &[];
            sent += n;
            if sent >= body_len {
                break;
            }
        }
        own.extend_from_slice(&record::header(kind::STDOUT, id, 0));
        record::push_end_request(&mut own, id, 0, record::status::REQUEST_COMPLETE);
        segs.push(Seg::Own(own_start, own.len()));
        Framed { id, own, segs }
    }
}

/// What to do after the records buffered so far.
enum Next {
    /// Read more input.
    Read,
    /// Answer request `id`.
    Respond(u16),
    /// Send `reply` (management answers, refusals).
    Reply,
    /// Send `reply`, then close.
    ReplyAndClose,
}

async fn connection<S>(mut stream: S, head: &'static [u8], body: &'static [u8])
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut rbuf = BytesMut::with_capacity(READ_RESERVE);
    let mut framed = Framed::new(1, head, body.len());
    let mut reply = Vec::new();
    // The request in progress: (id, keep_conn).
    let mut active: Option<(u16, bool)> = None;
    loop {
        let next = match next_action(&mut rbuf, &mut active, &mut reply) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("ceiling: {e}; closing");
                return;
            }
        };
        let result = match next {
            Next::Read => {
                rbuf.reserve(READ_RESERVE);
                match stream.read_buf(&mut rbuf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
            Next::Respond(id) => {
                if framed.id != id {
                    framed = Framed::new(id, head, body.len());
                }
                let keep = active.take().is_some_and(|(_, keep)| keep);
                let r = write_segs(&mut stream, &framed, body).await;
                if r.is_ok() && !keep {
                    let _ = stream.shutdown().await;
                    return;
                }
                r
            }
            Next::Reply => stream.write_all(&reply).await,
            Next::ReplyAndClose => {
                let _ = stream.write_all(&reply).await;
                let _ = stream.shutdown().await;
                return;
            }
        };
        reply.clear();
        if result.is_err() {
            return;
        }
    }
}

/// Consumes buffered records until one needs an answer or more input is needed.
fn next_action(
    rbuf: &mut BytesMut,
    active: &mut Option<(u16, bool)>,
    reply: &mut Vec<u8>,
) -> Result<Next, String> {
    loop {
        let Some((rec, used)) = record::decode(rbuf).map_err(|e| e.to_string())? else {
            return Ok(Next::Read);
        };
        let id = rec.request_id;
        let next = match rec.kind {
            kind::GET_VALUES if id == 0 => {
                let mut body = Vec::new();
                for pair in params::pairs(rec.content) {
                    let (name, _) = pair.map_err(|e| e.to_string())?;
                    if name == b"FCGI_MPXS_CONNS" {
                        params::push_pair(&mut body, name, b"0");
                    }
                }
                record::push_stream(reply, kind::GET_VALUES_RESULT, 0, &body);
                Some(Next::Reply)
            }
            _ if id == 0 => {
                record::push_unknown_type(reply, rec.kind);
                Some(Next::Reply)
            }
            kind::BEGIN_REQUEST => {
                let begin = BeginRequest::parse(rec.content).ok_or("short BEGIN_REQUEST")?;
                if active.is_some() {
                    record::push_end_request(reply, id, 0, record::status::CANT_MPX_CONN);
                    Some(Next::Reply)
                } else if begin.role != record::role::RESPONDER {
                    record::push_end_request(reply, id, 0, record::status::UNKNOWN_ROLE);
                    Some(if begin.keep_conn() {
                        Next::Reply
                    } else {
                        Next::ReplyAndClose
                    })
                } else {
                    *active = Some((id, begin.keep_conn()));
                    None
                }
            }
            kind::PARAMS if rec.content.is_empty() && active.is_some_and(|(a, _)| a == id) => {
                Some(Next::Respond(id))
            }
            // Params content, STDIN, DATA, ABORT: nothing to do for a fixed answer.
            _ => None,
        };
        rbuf.advance(used);
        if let Some(next) = next {
            return Ok(next);
        }
    }
}

/// Writes the framed response with vectored writes, as wwz does.
async fn write_segs<S: AsyncWrite + Unpin>(
    stream: &mut S,
    framed: &Framed,
    body: &[u8],
) -> io::Result<()> {
    let slice = |seg: Seg| -> &[u8] {
        match seg {
            Seg::Own(s, e) => &framed.own[s..e],
            Seg::Body(s, e) => &body[s..e],
        }
    };
    let segs = &framed.segs;
    let mut next = 0; // first segment not fully written
    let mut skip = 0; // bytes of it already written
    while next < segs.len() {
        let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
        let mut count = 0;
        for (i, &seg) in segs.iter().enumerate().skip(next).take(MAX_IOVECS) {
            let bytes = slice(seg);
            iov[count] = IoSlice::new(if i == next { &bytes[skip..] } else { bytes });
            count += 1;
        }
        let mut left = stream.write_vectored(&iov[..count]).await?;
        if left == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while left > 0 && next < segs.len() {
            let remaining = slice(segs[next]).len() - skip;
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
    Ok(())
}

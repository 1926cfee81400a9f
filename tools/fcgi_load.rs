//! `fcgi-load`: a FastCGI load generator built on wwz's own record codec, to
//! measure a responder without a web server in between.
//!
//! Each of `--connections` keep-alive connections (KEEP_CONN=1) has one
//! request in flight at a time. Requests are encoded once at startup (the
//! params nginx's stock `fastcgi_params` sends) and written with one `write`;
//! responses are decoded record by record from a reused buffer and only
//! counted, never copied. A response counts as good when it ends with
//! END_REQUEST/REQUEST_COMPLETE, its header block has `Status: 200` and a
//! `Content-Length` equal to the body bytes received.
//!
//! ```text
//! fcgi-load --connect unix:/tmp/wwz.sock --connections 32 --duration 10 \
//!           --uri /site.wwz/small.txt --docroot /srv/www
//! ```
//!
//! With `--cold RUNS -- COMMAND...` it measures a cold start instead: RUNS
//! times, it starts COMMAND (a responder that listens on `--connect`), connects
//! as soon as the socket accepts, sends one request for the first `--uri` and
//! stops the clock at END_REQUEST with `Status: 200`; it prints the sorted
//! times and a `COLD best_ms=.. median_ms=.. runs=..` line.
//!
//! The requests, and the parsing of the header blocks, are those of the tests'
//! FastCGI client (`tools/fcgi_client.rs`).
//!
//! Exit status: 0 when every response was good, 1 when any failed, 2 on usage errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark or build tool run by hand on inputs it makes: a panic is a clear stop"
)]

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use wwz::front::fcgi::record::{self, kind, EndRequest};

#[allow(dead_code)] // the tests use more of it
#[path = "fcgi_client.rs"]
mod fcgi_client;
use fcgi_client::{cgi_status, head_lines, request_bytes, split_field, stock_params, Addr};

const USAGE: &str = "\
usage: fcgi-load --connect unix:PATH|HOST:PORT [--connections N]
                 [--requests TOTAL | --duration SECS]
                 (--uri /a.wwz/x ... | --uri-file FILE) [--docroot DIR] [--threads N]
       fcgi-load --cold RUNS --connect unix:PATH|HOST:PORT --uri /a.wwz/x [--docroot DIR]
                 -- COMMAND [ARG...]

  --connections N   keep-alive connections, one request in flight on each (default 32)
  --requests TOTAL  stop after TOTAL requests
  --duration SECS   stop after SECS seconds (default 10 when --requests is absent)
  --uri PATH        request PATH (repeatable; round-robin)
  --uri-file FILE   request the paths in FILE, one per line (round-robin)
  --docroot DIR     sent as DOCUMENT_ROOT (default /)
  --threads N       client threads (default 1, to leave the cores to the server)
  --cold RUNS       start COMMAND (which listens on --connect) RUNS times and time
                    each start to the end of its first response";

/// The one request id we use: one request in flight per connection.
const ID: u16 = 1;
/// Room made before each read; a whole record is at most ~64 KiB.
const READ_RESERVE: usize = 128 * 1024;
/// A header block longer than this is an error, not something to buffer.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Clone, Copy)]
enum Stop {
    Requests(u64),
    Duration(Duration),
}

struct Options {
    target: Addr,
    connections: usize,
    stop: Stop,
    uris: Vec<String>,
    docroot: String,
    threads: usize,
    /// `--cold RUNS -- COMMAND...`
    cold: Option<(usize, Vec<String>)>,
}

fn parse_args() -> Result<Options, String> {
    fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        v.parse().map_err(|e| format!("{name} {v:?}: {e}"))
    }
    let mut target = None;
    let mut connections = 32;
    let mut requests = None;
    let mut duration = None;
    let mut uris = Vec::new();
    let mut docroot = String::from("/");
    let mut threads = 1;
    let mut cold_runs = None;
    let mut command = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--connect" => {
                target = Some(Addr::parse(&value()?).map_err(|e| format!("--connect {e}"))?)
            }
            "--cold" => cold_runs = Some(num::<usize>(&arg, &value()?)?),
            "--" => command.extend(args.by_ref()),
            "--connections" => connections = num(&arg, &value()?)?,
            "--requests" => requests = Some(num::<u64>(&arg, &value()?)?),
            "--duration" => duration = Some(num::<f64>(&arg, &value()?)?),
            "--uri" => uris.push(value()?),
            "--uri-file" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--uri-file {path}: {e}"))?;
                uris.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from),
                );
            }
            "--docroot" => docroot = value()?,
            "--threads" => threads = num(&arg, &value()?)?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let target = target.ok_or("--connect is required")?;
    let cold = match (cold_runs, command.is_empty()) {
        (Some(runs), false) if runs > 0 => Some((runs, command)),
        (Some(_), _) => return Err("--cold needs RUNS > 0 and -- COMMAND".into()),
        (None, false) => return Err("a COMMAND after -- needs --cold".into()),
        (None, true) => None,
    };
    if uris.is_empty() {
        return Err("give at least one --uri or a non-empty --uri-file".into());
    }
    if let Some(bad) = uris.iter().find(|u| !u.starts_with('/')) {
        return Err(format!("URI {bad:?} does not start with /"));
    }
    let stop = match (requests, duration) {
        (Some(_), Some(_)) => return Err("give --requests or --duration, not both".into()),
        (Some(n), None) => Stop::Requests(n),
        (None, d) => {
            let secs = d.unwrap_or(10.0);
            if !(secs.is_finite() && secs > 0.0) {
                return Err(format!("--duration {secs}: must be positive"));
            }
            Stop::Duration(Duration::from_secs_f64(secs))
        }
    };
    Ok(Options {
        target,
        connections: connections.max(1),
        stop,
        uris,
        docroot,
        threads: threads.max(1),
        cold,
    })
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("fcgi-load: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some((runs, command)) = &opts.cold {
        return cold(&opts, *runs, command);
    }
    let rt = if opts.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fcgi-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (stats, elapsed) = rt.block_on(run(&opts));
    report(&opts, &stats, elapsed);
    if stats.errors == 0 && stats.ok > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The whole request for `uri`: BEGIN_REQUEST (KEEP_CONN), PARAMS, empty PARAMS, empty STDIN.
fn encode_request(uri: &str, docroot: &str) -> Vec<u8> {
    request_bytes(ID, true, &stock_params(docroot, "GET", uri))
}

/// `--cold`: RUNS fresh processes, each timed from just before its spawn to the
/// end of its first response.
fn cold(opts: &Options, runs: usize, command: &[String]) -> ExitCode {
    let request = stock_params(&opts.docroot, "GET", &opts.uris[0]);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        if let Addr::Unix(path) = &opts.target {
            let _ = std::fs::remove_file(path);
        }
        let start = Instant::now();
        let mut child = match std::process::Command::new(&command[0])
            .args(&command[1..])
            .stdin(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("fcgi-load: cannot start {}: {e}", command[0]);
                return ExitCode::FAILURE;
            }
        };
        let result = loop {
            match fcgi_client::Client::try_connect(&opts.target) {
                Ok(mut c) => break Ok(c.get(ID, false, &request)),
                Err(e) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        break Err(format!("{} exited with {status}", command[0]));
                    }
                    if start.elapsed() > fcgi_client::WAIT {
                        break Err(format!("{} did not accept: {e}", opts.target));
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        };
        let elapsed = start.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        match result {
            Ok(reply) if reply.status == 200 => times.push(elapsed.as_secs_f64() * 1e3),
            Ok(reply) => {
                eprintln!("fcgi-load: first response: {reply:?}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("fcgi-load: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let list: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
    println!("times ms: {}", list.join(" "));
    println!(
        "COLD best_ms={:.2} median_ms={:.2} runs={runs}",
        times[0],
        times[times.len() / 2]
    );
    ExitCode::SUCCESS
}

/// What all connections share.
struct Shared {
    requests: Vec<Vec<u8>>,
    stop: Stop,
    deadline: Instant,
    issued: AtomicU64,
    /// The next request to send, over all connections: `--uri-file` lines are sent in file
    /// order across the connections (round-robin), so N requests cover N consecutive lines.
    cursor: AtomicU64,
}

impl Shared {
    /// Whether another request may be sent.
    fn go(&self) -> bool {
        match self.stop {
            Stop::Requests(total) => self.issued.fetch_add(1, Ordering::Relaxed) < total,
            Stop::Duration(_) => Instant::now() < self.deadline,
        }
    }
}

/// Results of one connection, merged at the end.
#[derive(Default)]
struct Stats {
    ok: u64,
    errors: u64,
    body_bytes: u64,
    wire_bytes: u64,
    /// Microseconds per good response.
    latencies: Vec<u32>,
    /// The first few distinct error messages.
    messages: Vec<String>,
}

impl Stats {
    fn error(&mut self, msg: String) {
        self.errors += 1;
        if self.messages.len() < 5 && !self.messages.contains(&msg) {
            self.messages.push(msg);
        }
    }

    fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.body_bytes += other.body_bytes;
        self.wire_bytes += other.wire_bytes;
        self.latencies.extend(other.latencies);
        for m in other.messages {
            if self.messages.len() < 5 && !self.messages.contains(&m) {
                self.messages.push(m);
            }
        }
    }
}

async fn run(opts: &Options) -> (Stats, Duration) {
    let requests = opts
        .uris
        .iter()
        .map(|u| encode_request(u, &opts.docroot))
        .collect();
    let start = Instant::now();
    let deadline = match opts.stop {
        Stop::Duration(d) => start + d,
        Stop::Requests(_) => start,
    };
    let shared = Arc::new(Shared {
        requests,
        stop: opts.stop,
        deadline,
        issued: AtomicU64::new(0),
        cursor: AtomicU64::new(0),
    });
    let tasks: Vec<_> = (0..opts.connections)
        .map(|_| tokio::spawn(connection(opts.target.clone(), Arc::clone(&shared))))
        .collect();
    let mut total = Stats::default();
    for task in tasks {
        match task.await {
            Ok(s) => total.merge(s),
            Err(e) => total.error(format!("connection task failed: {e}")),
        }
    }
    (total, start.elapsed())
}

/// Runs one connection until the stop condition; reconnects after an I/O or protocol error.
async fn connection(target: Addr, shared: Arc<Shared>) -> Stats {
    let mut stats = Stats::default();
    let mut rbuf = BytesMut::with_capacity(READ_RESERVE);
    let mut head = Vec::new();
    loop {
        rbuf.clear();
        let result = match &target {
            Addr::Unix(path) => match tokio::net::UnixStream::connect(path).await {
                Ok(s) => drive(s, &shared, &mut rbuf, &mut head, &mut stats).await,
                Err(e) => Err(Failure::Connect(e)),
            },
            Addr::Tcp(addr) => match tokio::net::TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    drive(s, &shared, &mut rbuf, &mut head, &mut stats).await
                }
                Err(e) => Err(Failure::Connect(e)),
            },
        };
        match result {
            Ok(()) => return stats,
            // Without a connection there is nothing to measure: give up on this one.
            Err(Failure::Connect(e)) => {
                stats.error(format!("connect to {target}: {e}"));
                return stats;
            }
            Err(Failure::Stream(msg)) => stats.error(msg),
        }
    }
}

enum Failure {
    Connect(io::Error),
    /// The connection is unusable (I/O error, early close, not FastCGI); reconnect.
    Stream(String),
}

/// Sends requests on one connection, one at a time, until the stop condition.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    shared: &Shared,
    rbuf: &mut BytesMut,
    head: &mut Vec<u8>,
    stats: &mut Stats,
) -> Result<(), Failure> {
    let io_err = |what: &str, e: io::Error| Failure::Stream(format!("{what}: {e}"));
    while shared.go() {
        let at = shared.cursor.fetch_add(1, Ordering::Relaxed) % shared.requests.len() as u64;
        let request = &shared.requests[at as usize];
        let sent = Instant::now();
        stream
            .write_all(request)
            .await
            .map_err(|e| io_err("write", e))?;
        let mut check = Check::new(head);
        let end = loop {
            match record::decode(rbuf) {
                Err(e) => return Err(Failure::Stream(e.to_string())),
                Ok(Some((rec, used))) => {
                    let done = if rec.request_id != ID {
                        None // management records and strays: not ours
                    } else {
                        match rec.kind {
                            kind::STDOUT => {
                                check.stdout(rec.content);
                                None
                            }
                            kind::END_REQUEST => Some(EndRequest::parse(rec.content)),
                            _ => None, // STDERR is allowed and ignored
                        }
                    };
                    stats.wire_bytes += used as u64;
                    rbuf.advance(used);
                    if let Some(end) = done {
                        break end;
                    }
                }
                Ok(None) => {
                    rbuf.reserve(READ_RESERVE);
                    let n = stream.read_buf(rbuf).await.map_err(|e| io_err("read", e))?;
                    if n == 0 {
                        return Err(Failure::Stream("server closed the connection".into()));
                    }
                }
            }
        };
        let latency = sent.elapsed();
        match check.verdict(end) {
            Ok(body) => {
                stats.ok += 1;
                stats.body_bytes += body;
                let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
                stats.latencies.push(micros);
            }
            Err(msg) => stats.error(msg),
        }
    }
    Ok(())
}

/// Checks one response's STDOUT stream as it arrives.
struct Check<'a> {
    /// The header block so far (reused between requests).
    head: &'a mut Vec<u8>,
    /// Set once the blank line ending the header block was seen.
    status_200: Option<bool>,
    content_length: Option<u64>,
    body: u64,
    too_long: bool,
}

impl<'a> Check<'a> {
    fn new(head: &'a mut Vec<u8>) -> Check<'a> {
        head.clear();
        Check {
            head,
            status_200: None,
            content_length: None,
            body: 0,
            too_long: false,
        }
    }

    fn stdout(&mut self, content: &[u8]) {
        if self.status_200.is_some() || self.too_long {
            self.body += content.len() as u64;
            return;
        }
        // Search only where the blank line can newly appear.
        let from = self.head.len().saturating_sub(3);
        self.head.extend_from_slice(content);
        let Some(pos) = find(&self.head[from..], b"\r\n\r\n").map(|p| p + from) else {
            self.too_long = self.head.len() > MAX_HEAD;
            return;
        };
        self.body = (self.head.len() - pos - 4) as u64;
        let mut status = None;
        for (name, value) in head_lines(&self.head[..pos]).filter_map(split_field) {
            if name.eq_ignore_ascii_case(b"status") {
                status = Some(value);
            } else if name.eq_ignore_ascii_case(b"content-length") {
                self.content_length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
        }
        self.status_200 = Some(cgi_status(status) == Some(200));
    }

    /// The body length of a good response, or what is wrong with it.
    fn verdict(&self, end: Option<EndRequest>) -> Result<u64, String> {
        match end {
            Some(e) if e.protocol_status == record::status::REQUEST_COMPLETE => {}
            Some(e) => return Err(format!("END_REQUEST protocol status {}", e.protocol_status)),
            None => return Err("short END_REQUEST".into()),
        }
        match self.status_200 {
            None if self.too_long => Err(format!("header block over {MAX_HEAD} bytes")),
            None => Err("no complete header block".into()),
            Some(false) => {
                let first = self.head.split(|&b| b == b'\r').next().unwrap_or_default();
                Err(format!(
                    "not 200: {:?}",
                    String::from_utf8_lossy(&first[..first.len().min(80)])
                ))
            }
            Some(true) => match self.content_length {
                Some(len) if len == self.body => Ok(self.body),
                Some(len) => Err(format!("Content-Length {len} but {} body bytes", self.body)),
                None => Err("no Content-Length".into()),
            },
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn report(opts: &Options, stats: &Stats, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut lat = stats.latencies.clone();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (lat.len() - 1) as f64).round() as usize;
        f64::from(lat[i.min(lat.len() - 1)]) / 1000.0
    };
    let mib = |b: u64| b as f64 / secs / (1024.0 * 1024.0);
    println!(
        "target:      {} ({} connections, {} URI{}, {} client thread{})",
        opts.target,
        opts.connections,
        opts.uris.len(),
        if opts.uris.len() == 1 { "" } else { "s" },
        opts.threads,
        if opts.threads == 1 { "" } else { "s" },
    );
    println!(
        "requests:    {} good, {} errors in {secs:.2} s",
        stats.ok, stats.errors
    );
    println!("requests/s:  {:.1}", stats.ok as f64 / secs);
    println!(
        "bytes/s:     {:.1} MiB/s body, {:.1} MiB/s records",
        mib(stats.body_bytes),
        mib(stats.wire_bytes)
    );
    println!(
        "latency ms:  p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
        pct(50.0),
        pct(90.0),
        pct(99.0),
        lat.last().map_or(0.0, |&m| f64::from(m) / 1000.0)
    );
    println!("errors:      {}", stats.errors);
    for m in &stats.messages {
        println!("  error: {m}");
    }
}

//! The one FastCGI client of this repository, built on the crate's own record
//! codec (`wwz::front::fcgi::record`, `wwz::front::fcgi::params`). The black-box tests
//! (`tests/common/mod.rs`) and the load generator (`tools/fcgi_load.rs`,
//! `examples/fcgi-load`) both include this file with `#[path]`, so the request
//! a benchmark sends is the request the tests check, and a response is judged
//! by the same header parser in both.
//!
//! Blocking sockets and panics on anything unexpected: that is what a test
//! wants. `fcgi-load` drives its many connections itself (tokio) and uses the
//! encoding ([`request_bytes`], [`stock_params`]) and the header parsing
//! ([`head_lines`], [`split_field`]) from here; its cold-start mode uses
//! [`Client`] as it is.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use wwz::front::fcgi::params;
use wwz::front::fcgi::record::{self, kind, BeginRequest, EndRequest};

/// How long any wait for a socket or a reply may take before it is a failure.
pub const WAIT: Duration = Duration::from_secs(10);

/// Where a FastCGI responder listens.
#[derive(Debug, Clone)]
pub enum Addr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Addr {
    /// `unix:PATH` or `HOST:PORT`.
    pub fn parse(s: &str) -> Result<Addr, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            return Ok(Addr::Unix(PathBuf::from(path)));
        }
        s.to_socket_addrs()
            .map_err(|e| format!("{s:?}: {e}"))?
            .next()
            .map(Addr::Tcp)
            .ok_or_else(|| format!("{s:?}: no address"))
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Unix(p) => write!(f, "unix:{}", p.display()),
            Addr::Tcp(a) => write!(f, "{a}"),
        }
    }
}

pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// The params nginx's stock `fastcgi_params` sends for a request of `uri`,
/// with `docroot` as DOCUMENT_ROOT.
pub fn stock_params(docroot: &str, method: &str, uri: &str) -> Vec<(String, Vec<u8>)> {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    [
        ("QUERY_STRING", query),
        ("REQUEST_METHOD", method),
        ("CONTENT_TYPE", ""),
        ("CONTENT_LENGTH", ""),
        ("SCRIPT_NAME", path),
        ("REQUEST_URI", uri),
        ("DOCUMENT_URI", path),
        ("DOCUMENT_ROOT", docroot),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_SCHEME", "http"),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_SOFTWARE", "wwz-fcgi-client"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("REMOTE_PORT", "40000"),
        ("SERVER_ADDR", "127.0.0.1"),
        ("SERVER_PORT", "80"),
        ("SERVER_NAME", "localhost"),
        ("HTTP_HOST", "localhost"),
        ("HTTP_USER_AGENT", "wwz-fcgi-client"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.as_bytes().to_vec()))
    .collect()
}

/// Encodes params as one block.
pub fn encode_params(params: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (n, v) in params {
        params::push_pair(&mut block, n.as_bytes(), v);
    }
    block
}

/// One record with `content` (≤ 65535 bytes), padded to 8.
pub fn record_bytes(kind: u8, id: u16, content: &[u8]) -> Vec<u8> {
    assert!(content.len() <= record::MAX_CONTENT);
    let mut out = record::header(kind, id, content.len()).to_vec();
    out.extend_from_slice(content);
    out.extend_from_slice(record::padding(content.len()));
    out
}

pub fn begin_bytes(id: u16, role: u16, keep_conn: bool) -> Vec<u8> {
    let body = BeginRequest {
        role,
        flags: if keep_conn { record::KEEP_CONN } else { 0 },
    }
    .encode();
    record_bytes(kind::BEGIN_REQUEST, id, &body)
}

/// BEGIN_REQUEST, PARAMS (one record + end), empty STDIN: what nginx sends for a GET.
pub fn request_bytes(id: u16, keep_conn: bool, params: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = begin_bytes(id, record::role::RESPONDER, keep_conn);
    record::push_stream(&mut out, kind::PARAMS, id, &encode_params(params));
    record::push_stream(&mut out, kind::PARAMS, id, b"");
    record::push_stream(&mut out, kind::STDIN, id, b"");
    out
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// One decoded record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub kind: u8,
    pub id: u16,
    pub content: Vec<u8>,
}

/// A whole response to one request.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub end: EndRequest,
    /// Content lengths of the STDOUT records, in order (the last is the empty end of stream).
    pub stdout_records: Vec<usize>,
    pub stderr: Vec<u8>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let preview = &self.body[..self.body.len().min(200)];
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("body", &String::from_utf8_lossy(preview))
            .field("end", &self.end)
            .finish()
    }
}

impl Reply {
    /// The value of header `name` (case-insensitive); panics if absent.
    pub fn header(&self, name: &str) -> &str {
        self.opt_header(name)
            .unwrap_or_else(|| panic!("no {name} header in {self:?}"))
    }

    pub fn opt_header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The lines of a header block (without the blank line that ends it), `\r` stripped.
pub fn head_lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    block
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// `Name: value` split at the first colon, both trimmed.
pub fn split_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    Some((line[..colon].trim_ascii(), line[colon + 1..].trim_ascii()))
}

/// The `Status:` of a CGI header block (200 when absent, as CGI says).
pub fn cgi_status(value: Option<&[u8]>) -> Option<u16> {
    match value {
        None => Some(200),
        Some(v) => std::str::from_utf8(v)
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok(),
    }
}

/// Splits a CGI response (`Status:` header style) into status, headers and body.
pub fn parse_cgi(out: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4))
        .or_else(|| {
            out.windows(2)
                .position(|w| w == b"\n\n")
                .map(|p| (p, p + 2))
        })
        .unwrap_or_else(|| {
            panic!(
                "no end of headers in {:?}",
                String::from_utf8_lossy(&out[..out.len().min(300)])
            )
        });
    std::str::from_utf8(&out[..end.0]).expect("headers are UTF-8");
    let mut headers = Vec::new();
    for line in head_lines(&out[..end.0]) {
        let (n, v) = split_field(line)
            .unwrap_or_else(|| panic!("bad header line {:?}", String::from_utf8_lossy(line)));
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        headers.push((text(n), text(v)));
    }
    let status = cgi_status(find_header(&headers, "Status").map(str::as_bytes))
        .unwrap_or_else(|| panic!("bad Status header in {headers:?}"));
    (status, headers, out[end.1..].to_vec())
}

// ---------------------------------------------------------------------------
// The blocking client
// ---------------------------------------------------------------------------

pub struct Client {
    pub stream: Stream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects, panicking on failure.
    pub fn connect(addr: &Addr) -> Client {
        Client::try_connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    /// Connects, with [`WAIT`] as read and write timeout.
    pub fn try_connect(addr: &Addr) -> io::Result<Client> {
        let stream = match addr {
            Addr::Unix(p) => {
                let s = UnixStream::connect(p)?;
                s.set_read_timeout(Some(WAIT))?;
                s.set_write_timeout(Some(WAIT))?;
                Stream::Unix(s)
            }
            Addr::Tcp(a) => {
                let s = TcpStream::connect(a)?;
                s.set_read_timeout(Some(WAIT))?;
                s.set_write_timeout(Some(WAIT))?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
        };
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to wwz");
    }

    pub fn send_record(&mut self, kind: u8, id: u16, content: &[u8]) {
        let bytes = record_bytes(kind, id, content);
        self.send(&bytes);
    }

    /// The next record, or `None` at a clean EOF between records.
    pub fn try_read_record(&mut self) -> io::Result<Option<Rec>> {
        loop {
            match record::decode(&self.buf) {
                Ok(Some((rec, used))) => {
                    let owned = Rec {
                        kind: rec.kind,
                        id: rec.request_id,
                        content: rec.content.to_vec(),
                    };
                    self.buf.drain(..used);
                    return Ok(Some(owned));
                }
                Ok(None) => {}
                Err(e) => panic!("wwz sent a malformed record: {e}"),
            }
            let mut chunk = [0u8; 65536];
            let n = match self.stream.read(&mut chunk) {
                // A signal to the test process (a child exiting) is not an error of the peer.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => r?,
            };
            if n == 0 {
                assert!(
                    self.buf.is_empty(),
                    "EOF inside a record ({} bytes buffered)",
                    self.buf.len()
                );
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn read_record(&mut self) -> Rec {
        match self.try_read_record() {
            Ok(Some(r)) => r,
            Ok(None) => panic!("wwz closed the connection; expected a record"),
            Err(e) => panic!("reading a record: {e}"),
        }
    }

    /// Reads records up to END_REQUEST for `id`; any record for another id or of
    /// an unexpected type is a failure.
    pub fn read_reply(&mut self, id: u16) -> Reply {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut stdout_records = Vec::new();
        let mut stdout_ended = false;
        loop {
            let rec = self.read_record();
            assert_eq!(rec.id, id, "record for another request: {rec:?}");
            match rec.kind {
                kind::STDOUT => {
                    assert!(!stdout_ended, "STDOUT after the end of the stream");
                    stdout_records.push(rec.content.len());
                    stdout_ended = rec.content.is_empty();
                    stdout.extend_from_slice(&rec.content);
                }
                kind::STDERR => stderr.extend_from_slice(&rec.content),
                kind::END_REQUEST => {
                    let end = EndRequest::parse(&rec.content).expect("END_REQUEST body");
                    assert_eq!(end.protocol_status, record::status::REQUEST_COMPLETE);
                    assert!(
                        stdout_ended,
                        "END_REQUEST before the empty STDOUT record: {stdout_records:?}"
                    );
                    let (status, headers, body) = parse_cgi(&stdout);
                    return Reply {
                        status,
                        headers,
                        body,
                        end,
                        stdout_records,
                        stderr,
                    };
                }
                other => panic!("unexpected record type {other}: {rec:?}"),
            }
        }
    }

    /// Sends a whole request and reads its reply.
    pub fn get(&mut self, id: u16, keep_conn: bool, params: &[(String, Vec<u8>)]) -> Reply {
        let bytes = request_bytes(id, keep_conn, params);
        self.send(&bytes);
        self.read_reply(id)
    }

    /// Everything the server sends until it closes (or resets) the connection.
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        let mut all = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return all,
                Err(e) => panic!("reading until close: {e}"),
            }
        }
    }

    /// Asserts the server closes the connection without sending anything more.
    pub fn assert_closed(&mut self) {
        match self.try_read_record() {
            Ok(None) => {}
            // A close with unread input shows up as a reset: closed all the same.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Ok(Some(rec)) => panic!("expected the connection to close, got {rec:?}"),
            Err(e) => panic!("expected the connection to close, got error {e}"),
        }
    }
}

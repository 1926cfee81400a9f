//! Shared helpers for the black-box tests: a sample site, archives made by
//! real tools, the real `wwz` binary on a real socket, a small FastCGI client
//! built on the crate's public codec, and a parser for curl's output.
//!
//! Every test gets its own temp dir, socket and ports, so tests run in parallel.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use wwz::fcgi::params;
use wwz::fcgi::record::{self, kind, BeginRequest, EndRequest};

pub use tempfile::TempDir;

/// How long any wait for a socket or a reply may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The mtime given to every sample file: an even second, so DOS times (2 s
/// granularity, no UT extra field) round-trip too.
pub const SAMPLE_MTIME: u64 = 1_704_164_644; // Tue, 02 Jan 2024 03:04:04 GMT
pub const SAMPLE_MTIME_HTTP: &str = "Tue, 02 Jan 2024 03:04:04 GMT";

/// A fresh temp dir named for the test.
pub fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("wwz-test-")
        .tempdir()
        .expect("create temp dir")
}

/// Fails with the Debian package to install when `tool` is not on PATH.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    for dir in ["/usr/sbin", "/sbin", "/usr/bin"] {
        let candidate = Path::new(dir).join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{tool}` not found: install the Debian package `{package}` \
         (tools/test installs everything the tests need)"
    );
}

// ---------------------------------------------------------------------------
// Sample site and archives
// ---------------------------------------------------------------------------

/// Deterministic pseudo-random bytes (xorshift), so binary files are not compressible.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A text log of at least `len` bytes, cut to exactly `len`.
pub fn log_text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut i = 0u32;
    while out.len() < len {
        out.extend_from_slice(
            format!("[{i:06}] step {} ok: compiled crate number {i}\n", i % 17).as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

/// Size of a member that is an exact multiple of wwz's STDOUT chunk (65528).
pub const EXACT_CHUNKS: usize = 65528 * 3;

/// The files of the sample site: (path relative to the site root, content).
pub fn sample_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "index.html",
            b"<!doctype html>\n<title>sample</title>\n<link rel=stylesheet href=style.css>\n<p>Hello from the archive.</p>\n".to_vec(),
        ),
        ("style.css", b"body { font: 16px/1.4 sans-serif; color: #222 }\n".to_vec()),
        ("logs/build.txt", log_text(5000)),
        ("logs/big.txt", log_text(66_000 + 4321)),
        ("docs/index.html", b"<!doctype html>\n<p>docs index</p>\n".to_vec()),
        (
            "docs/deep/nested/page.html",
            b"<!doctype html>\n<p>deeply nested page</p>\n".to_vec(),
        ),
        ("with space/a file.txt", b"a name with spaces\n".to_vec()),
        ("data/blob.bin", noise(200 * 1024 + 77, 0x5eed)),
        ("data/exact.bin", noise(EXACT_CHUNKS, 0xfeed)),
        ("empty.txt", Vec::new()),
    ]
}

/// Writes the sample site under `root`, every file with mtime [`SAMPLE_MTIME`].
pub fn write_site(root: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let files = sample_files();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(SAMPLE_MTIME);
    for (rel, content) in &files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(mtime).unwrap();
    }
    files
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cd src && zip -0 -r -q out .`: stored members, directory entries, UT times.
pub fn zip_stored(src: &Path, out: &Path) {
    let zip = require_tool("zip", "zip");
    run_ok(
        Command::new(zip)
            .args(["-0", "-r", "-q"])
            .arg(out)
            .arg(".")
            .current_dir(src),
        "zip -0 -r",
    );
}

/// `cd src && zip -r -q out .`: deflated members (what users of the original wwz ship).
pub fn zip_deflated(src: &Path, out: &Path) {
    let zip = require_tool("zip", "zip");
    run_ok(
        Command::new(zip)
            .args(["-r", "-q"])
            .arg(out)
            .arg(".")
            .current_dir(src),
        "zip -r",
    );
}

/// Python's zipfile with ZIP_STORED, files only (no directory entries), DOS times.
pub fn python_zip_stored(src: &Path, out: &Path) {
    let python = require_tool("python3", "python3");
    let script = r#"
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            z.write(full, os.path.relpath(full, src))
"#;
    run_ok(
        Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(src)
            .arg(out)
            .env("TZ", "UTC"),
        "python3 zipfile",
    );
}

/// A docroot with archives of the sample site, in a fresh temp dir.
pub struct Site {
    pub dir: TempDir,
    /// The unpacked site the archives were made from.
    pub src: PathBuf,
    /// The docroot holding the archives.
    pub docroot: PathBuf,
    pub files: Vec<(&'static str, Vec<u8>)>,
}

impl Site {
    /// `site.wwz` (zip -0 -r), `py.wwz` (Python zipfile, stored),
    /// `deflated.wwz` (zip -r) and `my site.wwz` (zip -0 -r, a space in the name).
    pub fn new() -> Site {
        let dir = tempdir();
        let src = dir.path().join("src");
        let docroot = dir.path().join("www");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(docroot.join("sub")).unwrap();
        let files = write_site(&src);
        zip_stored(&src, &docroot.join("site.wwz"));
        python_zip_stored(&src, &docroot.join("py.wwz"));
        zip_deflated(&src, &docroot.join("deflated.wwz"));
        zip_stored(&src, &docroot.join("my site.wwz"));
        zip_stored(&src, &docroot.join("sub/nested.wwz"));
        Site {
            dir,
            src,
            docroot,
            files,
        }
    }

    pub fn file(&self, rel: &str) -> &[u8] {
        &self
            .files
            .iter()
            .find(|(r, _)| *r == rel)
            .unwrap_or_else(|| panic!("no sample file {rel}"))
            .1
    }

    /// A path inside the temp dir for a socket or a config file.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `zip -0 -q out file...` of single files given as (name, content), made in a scratch dir.
pub fn zip_files(out: &Path, files: &[(&str, &[u8])]) {
    let scratch = tempdir();
    for (name, content) in files {
        let p = scratch.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let zip = require_tool("zip", "zip");
    run_ok(
        Command::new(zip)
            .args(["-0", "-r", "-q"])
            .arg(out)
            .arg(".")
            .current_dir(scratch.path()),
        "zip -0 -r",
    );
}

// ---------------------------------------------------------------------------
// The wwz process
// ---------------------------------------------------------------------------

/// Where a started process listens.
#[derive(Debug, Clone)]
pub enum Addr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// Which transport a test runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Unix,
    Tcp,
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A running process, killed (and reaped) on drop; its stderr goes to a file.
pub struct Proc {
    pub child: Child,
    pub stderr_path: PathBuf,
    pub name: String,
}

impl Proc {
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Panics (with its stderr) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "{} exited with {status}; stderr:\n{}",
                self.name,
                self.stderr()
            );
        }
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd` with stderr to `stderr_path` and stdin from /dev/null.
pub fn spawn(mut cmd: Command, name: &str, stderr_path: PathBuf) -> Proc {
    let err = std::fs::File::create(&stderr_path).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err));
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Proc {
        child,
        stderr_path,
        name: name.to_owned(),
    }
}

/// Waits until `addr` accepts connections, failing early if `proc` dies.
pub fn wait_for(addr: &Addr, proc: &mut Proc) {
    let start = Instant::now();
    loop {
        let ok = match addr {
            Addr::Unix(p) => UnixStream::connect(p).is_ok(),
            Addr::Tcp(a) => TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok(),
        };
        if ok {
            return;
        }
        proc.assert_running();
        assert!(
            start.elapsed() < WAIT,
            "{} did not listen on {addr:?} within {WAIT:?}; stderr:\n{}",
            proc.name,
            proc.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The path of the binary under test: `WWZ_TEST_BIN` when set (tools/release
/// runs tests against the static release binary that way), else cargo's build.
pub fn wwz_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| match std::env::var("WWZ_TEST_BIN") {
        Ok(path) if !path.is_empty() => path,
        _ => env!("CARGO_BIN_EXE_wwz").to_owned(),
    })
}

static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A `wwz serve` started by a test.
pub struct Wwz {
    pub proc: Proc,
    pub addr: Addr,
}

impl Wwz {
    /// `wwz serve --listen … --docroot DOCROOT extra…`, waiting for the socket.
    pub fn start(site: &Site, transport: Transport, extra: &[&str]) -> Wwz {
        Wwz::start_env(site, transport, extra, &[])
    }

    pub fn start_env(
        site: &Site,
        transport: Transport,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Wwz {
        let mut args: Vec<&std::ffi::OsStr> = vec!["--docroot".as_ref(), site.docroot.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        Wwz::start_raw(site, transport, &args, env)
    }

    /// `wwz serve --listen … args…` (no `--docroot` unless in `args`).
    pub fn start_raw(
        site: &Site,
        transport: Transport,
        args: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Wwz {
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let addr = match transport {
            Transport::Unix => Addr::Unix(site.path(&format!("wwz-{n}.sock"))),
            Transport::Tcp => Addr::Tcp(SocketAddr::from(([127, 0, 0, 1], free_port()))),
        };
        let listen = match &addr {
            Addr::Unix(p) => format!("unix:{}", p.display()),
            Addr::Tcp(a) => a.to_string(),
        };
        let mut cmd = Command::new(wwz_bin());
        cmd.arg("serve")
            .arg("--listen")
            .arg(&listen)
            .args(args)
            .env_remove("FCGI_WEB_SERVER_ADDRS")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut proc = spawn(cmd, "wwz", site.path(&format!("wwz-{n}.stderr")));
        wait_for(&addr, &mut proc);
        Wwz { proc, addr }
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.addr)
    }

    /// Asserts the server still runs and still answers a plain GET.
    pub fn assert_healthy(&mut self, site: &Site) {
        self.proc.assert_running();
        let reply = self
            .client()
            .get(1, false, &nginx_params(site, "GET", "/site.wwz/style.css"));
        assert_eq!(reply.status, 200, "health check: {reply:?}");
        assert_eq!(reply.body, site.file("style.css"));
    }
}

// ---------------------------------------------------------------------------
// FastCGI client
// ---------------------------------------------------------------------------

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
    let head = std::str::from_utf8(&out[..end.0]).expect("headers are UTF-8");
    let mut headers = Vec::new();
    for line in head.lines() {
        let (n, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header line {line:?}"));
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let status = find_header(&headers, "Status")
        .map(|s| s.split_whitespace().next().unwrap().parse().unwrap())
        .unwrap_or(200);
    (status, headers, out[end.1..].to_vec())
}

/// The params nginx's stock `fastcgi_params` sends for `uri`, plus DOCUMENT_ROOT.
pub fn nginx_params(site: &Site, method: &str, uri: &str) -> Vec<(String, Vec<u8>)> {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    vec![
        ("QUERY_STRING".into(), query.into()),
        ("REQUEST_METHOD".into(), method.into()),
        ("CONTENT_TYPE".into(), "".into()),
        ("CONTENT_LENGTH".into(), "".into()),
        ("SCRIPT_NAME".into(), path.into()),
        ("REQUEST_URI".into(), uri.into()),
        ("DOCUMENT_URI".into(), path.into()),
        (
            "DOCUMENT_ROOT".into(),
            site.docroot.to_str().unwrap().into(),
        ),
        ("SERVER_PROTOCOL".into(), "HTTP/1.1".into()),
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        ("SERVER_SOFTWARE".into(), "test".into()),
        ("REMOTE_ADDR".into(), "127.0.0.1".into()),
        ("HTTP_HOST".into(), "localhost".into()),
    ]
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

pub struct Client {
    pub stream: Stream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: &Addr) -> Client {
        let stream = match addr {
            Addr::Unix(p) => {
                let s = UnixStream::connect(p).unwrap_or_else(|e| panic!("connect {p:?}: {e}"));
                s.set_read_timeout(Some(WAIT)).unwrap();
                s.set_write_timeout(Some(WAIT)).unwrap();
                Stream::Unix(s)
            }
            Addr::Tcp(a) => {
                let s = TcpStream::connect(a).unwrap_or_else(|e| panic!("connect {a}: {e}"));
                s.set_read_timeout(Some(WAIT)).unwrap();
                s.set_write_timeout(Some(WAIT)).unwrap();
                s.set_nodelay(true).unwrap();
                Stream::Tcp(s)
            }
        };
        Client {
            stream,
            buf: Vec::new(),
        }
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
            let n = self.stream.read(&mut chunk)?;
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
    /// an unexpected type fails the test.
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

// ---------------------------------------------------------------------------
// HTTP (curl output)
// ---------------------------------------------------------------------------

/// A response as printed by `curl -s -i`.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> &str {
        find_header(&self.headers, name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn opt_header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Parses `HTTP/1.1 200 OK\r\nName: value\r\n…\r\n\r\nbody`.
pub fn parse_http(out: &[u8]) -> HttpResponse {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(out)));
    let head = std::str::from_utf8(&out[..end]).expect("headers are UTF-8");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|l| {
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header {l:?}"));
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    HttpResponse {
        status,
        headers,
        body: out[end + 4..].to_vec(),
    }
}

/// Percent-encodes a URL path (keeps `/` and unreserved characters).
pub fn url_encode_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Connected (accepted) sockets bound to the unix socket `path`, from /proc/net/unix.
pub fn connected_unix_sockets(path: &Path) -> usize {
    let table = std::fs::read_to_string("/proc/net/unix").expect("read /proc/net/unix");
    let path = path.to_str().unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num RefCount Protocol Flags Type St Inode Path; St 03 = connected.
            f.len() >= 8 && f[5] == "03" && f[7] == path
        })
        .count()
}

// ---------------------------------------------------------------------------
// HTTP through a web server, with curl
// ---------------------------------------------------------------------------

/// `curl -s -i ARGS http://127.0.0.1:PORT/PATH` (the path sent as is).
pub fn curl_get(port: u16, path: &str, args: &[&str]) -> HttpResponse {
    let out = Command::new(require_tool("curl", "curl"))
        .args(["-s", "-S", "-i", "--path-as-is", "--max-time", "10"])
        .args(args)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_http(&out.stdout)
}

/// Fetches every sample file of `archive` in one curl run (one client
/// connection, so the server may reuse its upstream connection) and compares
/// the bytes with the source.
pub fn curl_fetch_all(site: &Site, port: u16, archive: &str, args: &[&str]) {
    let tag = format!("{}{}", archive.replace(' ', "_"), args.join("_"));
    let out_dir = site.path(&format!("fetched-{tag}-{port}"));
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new(require_tool("curl", "curl"));
    cmd.args([
        "-s",
        "-S",
        "--path-as-is",
        "--fail-early",
        "--max-time",
        "10",
    ])
    .args(args)
    .args(["-w", "%{http_code} %{size_download}\\n"]);
    for (i, (rel, _)) in site.files.iter().enumerate() {
        let url = format!(
            "http://127.0.0.1:{port}/{}/{}",
            url_encode_path(archive),
            url_encode_path(rel)
        );
        cmd.arg("-o").arg(out_dir.join(i.to_string())).arg(url);
    }
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), site.files.len(), "{report}");
    let compressed = args.contains(&"--compressed");
    for (i, (rel, content)) in site.files.iter().enumerate() {
        let (code, size) = lines[i].split_once(' ').unwrap();
        assert_eq!(code, "200", "{archive}/{rel} {args:?}: status");
        if !compressed {
            assert_eq!(size, content.len().to_string(), "{archive}/{rel}: size");
        }
        // curl writes no file for an empty body.
        let got = std::fs::read(out_dir.join(i.to_string())).unwrap_or_default();
        assert!(
            &got == content,
            "{archive}/{rel} {args:?}: body differs ({} bytes, want {})",
            got.len(),
            content.len()
        );
    }
}

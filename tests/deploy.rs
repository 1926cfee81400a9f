//! Deploying while serving: archives replaced by rename under steady
//! keep-alive load, archives truncated and rewritten in place under the same
//! load, and SIGTERM in the middle of it. Every response is checked whole.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use wwz::front::fcgi::record::{self, kind};
use zip::write::SimpleFileOptions;

/// Load: this many keep-alive connections, each with its own thread.
const CONNECTIONS: usize = 8;
/// Each connection stops after this many requests (the load is bounded by count).
const MAX_REQUESTS: usize = 5_000;
/// Body size of the member: more than one STDOUT record, so a mix would show.
const BODY_LEN: usize = 100_000;
const MEMBER: &str = "v.txt";

/// The body of version `v`: its number repeated, so any two versions differ
/// everywhere and a mix of two is visible in any slice.
fn body(v: usize) -> Vec<u8> {
    let unit = format!("version {v:04}|");
    unit.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(BODY_LEN)
        .collect()
}

/// A stored archive holding version `v` (and a small second member).
fn archive(v: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("small.txt", opts).unwrap();
    w.write_all(format!("small {v:04}\n").as_bytes()).unwrap();
    w.start_file(MEMBER, opts).unwrap();
    w.write_all(&body(v)).unwrap();
    w.finish().unwrap().into_inner()
}

/// Which version a body is, if it is exactly one complete version.
fn version_of(b: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(b.get(..13)?).ok()?;
    let v: usize = head.strip_prefix("version ")?.get(..4)?.parse().ok()?;
    (b == body(v).as_slice()).then_some(v)
}

/// How one request ended.
#[derive(Debug)]
enum Outcome {
    /// END_REQUEST arrived: status and body.
    Complete(u16, Vec<u8>),
    /// The connection closed (or reset) before any byte of the response.
    ClosedBeforeResponse,
    /// The connection closed in the middle of the response.
    ClosedMidResponse,
}

/// A keep-alive connection with a reader that tolerates a close anywhere,
/// even inside a record (a write that failed half way).
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: &Addr) -> Conn {
        let c = Client::connect(addr);
        stretch_timeouts(&c.stream);
        Conn {
            stream: c.stream,
            buf: Vec::new(),
        }
    }

    fn request(&mut self, id: u16, uri: &str) -> Outcome {
        let params = vec![
            ("REQUEST_METHOD".to_owned(), b"GET".to_vec()),
            ("REQUEST_URI".to_owned(), uri.as_bytes().to_vec()),
        ];
        if self
            .stream
            .write_all(&request_bytes(id, true, &params))
            .is_err()
        {
            return Outcome::ClosedBeforeResponse;
        }
        let mut stdout = Vec::new();
        let mut got_any = false;
        loop {
            match record::decode(&self.buf) {
                Ok(Some((rec, used))) => {
                    got_any = true;
                    assert_eq!(rec.request_id, id, "record for another request");
                    let done = match rec.kind {
                        kind::STDOUT => {
                            stdout.extend_from_slice(rec.content);
                            false
                        }
                        kind::END_REQUEST => true,
                        other => panic!("unexpected record type {other}"),
                    };
                    self.buf.drain(..used);
                    if done {
                        let (status, _, body) = parse_cgi(&stdout);
                        return Outcome::Complete(status, body);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => panic!("wwz sent a malformed record: {e}"),
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A read that times out met a server that neither answered
                // nor closed: a stall, which must fail, not pass as a close.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!(
                        "request {id} for {uri}: neither an answer nor a close within the \
                         read timeout ({e}; {} bytes of a record buffered)",
                        self.buf.len()
                    )
                }
                Ok(0) | Err(_) => {
                    got_any |= !self.buf.is_empty();
                    return if got_any {
                        Outcome::ClosedMidResponse
                    } else {
                        Outcome::ClosedBeforeResponse
                    };
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// What the load threads saw.
#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    server_errors: usize,
    closed_before: usize,
    closed_mid: usize,
    /// Bodies that were not exactly one complete version (a wrong or mixed body).
    wrong: Vec<String>,
    versions: Vec<usize>,
}

/// Runs the load until `stop` (or the per-connection cap); `on_close` says
/// whether to reconnect after the server closes a connection.
fn load(
    addr: &Addr,
    uri: &'static str,
    stop: &Arc<AtomicBool>,
    served: &Arc<AtomicUsize>,
    reconnect: bool,
) -> Vec<std::thread::JoinHandle<Tally>> {
    (0..CONNECTIONS)
        .map(|_| {
            let (addr, stop, served) = (addr.clone(), Arc::clone(stop), Arc::clone(served));
            std::thread::spawn(move || {
                let mut t = Tally::default();
                let mut conn = Conn::new(&addr);
                for i in 0..MAX_REQUESTS {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = (i % 1000 + 1) as u16;
                    match conn.request(id, uri) {
                        Outcome::Complete(200, b) => match version_of(&b) {
                            Some(v) => {
                                t.ok += 1;
                                t.versions.push(v);
                            }
                            None => t.wrong.push(format!(
                                "{} bytes starting {:?}",
                                b.len(),
                                String::from_utf8_lossy(&b[..b.len().min(40)])
                            )),
                        },
                        Outcome::Complete(s, _) if s >= 500 => t.server_errors += 1,
                        Outcome::Complete(s, b) => t.wrong.push(format!(
                            "status {s}: {:?}",
                            String::from_utf8_lossy(&b[..b.len().min(80)])
                        )),
                        Outcome::ClosedBeforeResponse => {
                            t.closed_before += 1;
                            if !reconnect {
                                break;
                            }
                            conn = Conn::new(&addr);
                        }
                        Outcome::ClosedMidResponse => {
                            t.closed_mid += 1;
                            if !reconnect {
                                break;
                            }
                            conn = Conn::new(&addr);
                        }
                    }
                    served.fetch_add(1, Ordering::Relaxed);
                }
                t
            })
        })
        .collect()
}

fn join(handles: Vec<std::thread::JoinHandle<Tally>>) -> Tally {
    let mut all = Tally::default();
    for h in handles {
        let t = h.join().expect("load thread");
        all.ok += t.ok;
        all.server_errors += t.server_errors;
        all.closed_before += t.closed_before;
        all.closed_mid += t.closed_mid;
        all.wrong.extend(t.wrong);
        all.versions.extend(t.versions);
    }
    all
}

/// Waits until `served` has grown by `n` (bounded).
fn wait_served(served: &AtomicUsize, n: usize) {
    let target = served.load(Ordering::Relaxed) + n;
    wait_until("the load to make progress", WAIT, || {
        served.load(Ordering::Relaxed) >= target
    });
}

fn deploy_by_rename(docroot: &Path, name: &str, v: usize) {
    let tmp = docroot.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, archive(v)).unwrap();
    std::fs::rename(&tmp, docroot.join(name)).unwrap();
}

/// 100 deploys by rename under 8 keep-alive connections: every response is
/// 200 with exactly one complete version, and once the last rename is done,
/// new requests see the last version.
#[test]
fn deploy_by_rename_under_load_never_mixes_versions() {
    let site = Site::new();
    deploy_by_rename(&site.docroot, "deploy.wwz", 0);
    let w = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let handles = load(&w.addr, "/deploy.wwz/v.txt", &stop, &served, false);
    wait_served(&served, 20);
    const DEPLOYS: usize = 100;
    for v in 1..=DEPLOYS {
        deploy_by_rename(&site.docroot, "deploy.wwz", v);
        // Let some requests land on each version.
        wait_served(&served, 4);
    }
    stop.store(true, Ordering::Relaxed);
    let t = join(handles);
    eprintln!(
        "rename deploys: {} responses, {} distinct versions seen",
        t.ok,
        {
            let mut v = t.versions.clone();
            v.sort_unstable();
            v.dedup();
            v.len()
        }
    );
    assert!(
        t.wrong.is_empty(),
        "wrong bodies: {:?}",
        &t.wrong[..t.wrong.len().min(5)]
    );
    assert_eq!(t.server_errors, 0, "{t:?}");
    assert_eq!(
        (t.closed_before, t.closed_mid),
        (0, 0),
        "connections closed"
    );
    assert!(t.ok >= 400, "too little load: {}", t.ok);
    // After the last rename, a new request sees the last version.
    let mut c = Conn::new(&w.addr);
    match c.request(1, "/deploy.wwz/v.txt") {
        Outcome::Complete(200, b) => assert_eq!(version_of(&b), Some(DEPLOYS)),
        other => panic!("after the last deploy: {other:?}"),
    }
}

/// Truncating and rewriting the archive in place under the same load: the
/// process survives (a user-space read of the mapping would be SIGBUS),
/// affected requests fail cleanly (5xx, or the connection closes), and
/// serving recovers with the new content.
///
/// A response whose bytes were copied from the mapping while the file was
/// being rewritten can carry bytes of the new version under the old one's
/// headers (zero copy means the kernel copies from the file's pages as they
/// are at that moment); such bodies are counted and reported, not failed:
/// deploy by rename is the documented way to publish.
#[test]
fn edit_in_place_under_load_costs_requests_not_the_process() {
    let site = Site::new();
    let path = site.docroot.join("edit.wwz");
    std::fs::write(&path, archive(0)).unwrap();
    let mut w = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let handles = load(&w.addr, "/edit.wwz/v.txt", &stop, &served, true);
    wait_served(&served, 20);
    const EDITS: usize = 40;
    for v in 1..=EDITS {
        let bytes = archive(v);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        wait_served(&served, 2);
        // Half, a pause with requests in flight, then the rest.
        let half = bytes.len() / 2;
        f.write_all(&bytes[..half]).unwrap();
        wait_served(&served, 2);
        f.write_all(&bytes[half..]).unwrap();
        drop(f);
        wait_served(&served, 4);
    }
    stop.store(true, Ordering::Relaxed);
    let t = join(handles);
    w.proc.assert_running();
    eprintln!(
        "in-place edits: {} complete, {} 5xx, {} closed before a response, {} closed mid-response, {} mixed",
        t.ok,
        t.server_errors,
        t.closed_before,
        t.closed_mid,
        t.wrong.len()
    );
    for wrong in &t.wrong {
        // Only bodies of the right length made of versions are tolerated.
        assert!(
            wrong.starts_with(&format!("{BODY_LEN} bytes starting \"version ")),
            "not a version at all: {wrong}"
        );
    }
    assert!(t.ok > 0);
    // Recovery: the next request sees the last version whole.
    let mut c = Conn::new(&w.addr);
    match c.request(1, "/edit.wwz/v.txt") {
        Outcome::Complete(200, b) => assert_eq!(version_of(&b), Some(EDITS)),
        other => panic!("after the last edit: {other:?}"),
    }
    w.assert_healthy(&site);
}

/// SIGTERM in the middle of the load: every response that had started
/// arrives whole (END_REQUEST, full body), connections that were idle are
/// closed, and the process exits with status 0 within the grace period.
#[test]
fn sigterm_under_load_truncates_nothing_and_exits_0() {
    let site = Site::new();
    deploy_by_rename(&site.docroot, "steady.wwz", 7);
    let mut w = Wwz::start(&site, Transport::Unix, &["--grace", "5"]);
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let handles = load(&w.addr, "/steady.wwz/v.txt", &stop, &served, false);
    wait_served(&served, 100);
    let pid = w.proc.child.id() as i32;
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // The grace period (5 s) and as much again for finishing and exiting.
    let status = w.proc.wait_exit(Duration::from_secs(10));
    let t = join(handles);
    eprintln!(
        "SIGTERM under load: {} complete, {} closed before a response, {} closed mid-response",
        t.ok, t.closed_before, t.closed_mid
    );
    assert_eq!(t.closed_mid, 0, "a response in flight was truncated: {t:?}");
    assert!(t.wrong.is_empty(), "{:?}", t.wrong);
    assert_eq!(t.server_errors, 0);
    assert!(t.versions.iter().all(|&v| v == 7));
    let status = status.expect("wwz did not exit within 10 s of SIGTERM (stretched by the load)");
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
}

/// A 20,000-member archive written by Python's zipfile (so it has no packed
/// index: opening it builds one from the directory), version `v`, put in
/// place by rename.
fn python_many_members(docroot: &Path, name: &str, v: usize) {
    let script = r#"
import os, sys, zipfile
out, v = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out + ".tmp", "w") as z:
    for i in range(20000):
        z.writestr("m/%05d.txt" % i, "member %d of version %s\n" % (i, v))
os.rename(out + ".tmp", out)
"#;
    run_ok(
        std::process::Command::new(require_tool("python3", "python3"))
            .arg("-c")
            .arg(script)
            .arg(docroot.join(name))
            .arg(v.to_string()),
        "python3 zipfile",
    );
}

/// 50 requests at once for a member of an archive nobody has opened yet
/// (at start, then again after a deploy by rename): one of them builds the
/// index, the others wait for it, so `cache opens` grows by exactly one
/// each time. (Each used to build its own index of the same version.)
#[test]
fn concurrent_requests_after_a_deploy_build_one_index() {
    const CLIENTS: usize = 50;
    let site = Site::new();
    python_many_members(&site.docroot, "many.wwz", 1);
    let w = Wwz::start(&site, Transport::Unix, &["--status-path", "/wwz-status"]);
    let mut opens = w.status_figure(&site, "cache_opens");
    for v in 1..=2 {
        if v > 1 {
            python_many_members(&site.docroot, "many.wwz", v);
        }
        let gate = Arc::new(std::sync::Barrier::new(CLIENTS));
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (addr, gate) = (w.addr.clone(), Arc::clone(&gate));
                let params = nginx_params(&site, "GET", &format!("/many.wwz/m/{:05}.txt", i * 397));
                std::thread::spawn(move || {
                    let mut c = Client::connect(&addr);
                    gate.wait();
                    c.get(1, false, &params)
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let r = h.join().unwrap();
            assert_eq!(r.status, 200, "{r:?}");
            let want = format!("member {} of version {v}\n", i * 397);
            assert_eq!(String::from_utf8_lossy(&r.body), want);
        }
        let now = w.status_figure(&site, "cache_opens");
        assert_eq!(
            now,
            opens + 1,
            "version {v}: {CLIENTS} requests opened {} times",
            now - opens
        );
        opens = now;
    }
}

//! Process lifecycle of the real binary: SIGTERM lets a slow reader finish a
//! large member and then exits 0; SIGHUP drops cached archives without
//! touching a kept-alive connection; and the `--http` preview front.

use std::time::Duration;

use crate::common::*;
use wwz::front::fcgi::record::kind;

fn signal(proc: &Proc, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our child.
    let rc = unsafe { libc::kill(proc.child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({sig})");
}

fn params(site: &Site, uri: &str) -> Vec<(String, Vec<u8>)> {
    nginx_params(site, "GET", uri)
}

const BIG: usize = 8 * 1024 * 1024;

/// SIGTERM arrives while a client that reads slowly has most of an 8 MiB
/// member still to receive: the member arrives complete, the connection
/// (kept alive otherwise) is closed after it, and wwz exits 0.
#[test]
fn sigterm_lets_a_slow_reader_finish_a_large_member_then_exits_0() {
    let site = Site::new();
    let big = noise(BIG, 0xb16);
    zip_files(&site.docroot.join("big.wwz"), &[("big.bin", &big)]);
    let mut wwz = Wwz::start(&site, Transport::Unix, &["--grace", "60"]);
    let mut c = wwz.client();
    if let Stream::Unix(s) = &c.stream {
        // A small receive buffer keeps most of the member queued in wwz.
        socket2::SockRef::from(s)
            .set_recv_buffer_size(4096)
            .unwrap();
    }
    c.send(&request_bytes(1, true, &params(&site, "/big.wwz/big.bin")));

    let mut stdout = Vec::new();
    let mut signalled = false;
    loop {
        let rec = c.read_record();
        assert_eq!(rec.id, 1);
        match rec.kind {
            kind::STDOUT => {
                stdout.extend_from_slice(&rec.content);
                if !signalled {
                    signal(&wwz.proc, libc::SIGTERM);
                    signalled = true;
                }
                // Read slowly: about 128 records, a few milliseconds each. This
                // sleep is the thing under test (a slow reader while shutting down).
                std::thread::sleep(Duration::from_millis(5));
            }
            kind::END_REQUEST => break,
            other => panic!("unexpected record type {other}"),
        }
    }
    assert!(signalled);
    let (status, headers, body) = parse_cgi(&stdout);
    assert_eq!(status, 200);
    assert_eq!(find_header(&headers, "Content-Length"), Some("8388608"));
    assert_eq!(body.len(), BIG);
    assert!(body == big, "the member arrived changed");
    // Shutting down: the kept-alive connection is closed, not kept.
    c.assert_closed();
    let status = wwz
        .proc
        .wait_exit(WAIT)
        .expect("wwz did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", wwz.proc.stderr());
}

fn deploy(site: &Site, version: &str) {
    let tmp = site.path(&format!("swap-{version}.tmp"));
    zip_files(
        &tmp,
        &[("v.txt", format!("version {version}\n").as_bytes())],
    );
    // Same directory, then rename: the deploy the docs describe.
    std::fs::rename(&tmp, site.docroot.join("swap.wwz")).unwrap();
}

/// SIGHUP while a keep-alive connection is open: the connection keeps
/// working, and the replaced archive (which wwz would not revalidate for an
/// hour) is seen.
#[test]
fn sighup_keeps_the_connection_and_sees_a_replaced_archive() {
    let site = Site::new();
    deploy(&site, "one");
    let mut wwz = Wwz::start(
        &site,
        Transport::Unix,
        &[
            "--revalidate-ms",
            "3600000",
            "--log-level",
            "info",
            "--no-watch",
        ],
    );
    let mut c = wwz.client();
    let r = c.get(1, true, &params(&site, "/swap.wwz/v.txt"));
    assert_eq!(r.body, b"version one\n");
    deploy(&site, "two");
    // Still the cached archive: nothing looks at the file for an hour.
    let r = c.get(2, true, &params(&site, "/swap.wwz/v.txt"));
    assert_eq!(r.body, b"version one\n");

    signal(&wwz.proc, libc::SIGHUP);
    // wwz logs the SIGHUP once the cache is cleared: from then on, the new file.
    wait_until_or(
        "the SIGHUP log line",
        WAIT,
        || wwz.proc.stderr().contains("SIGHUP"),
        || format!("; stderr:\n{}", wwz.proc.stderr()),
    );
    let r = c.get(3, true, &params(&site, "/swap.wwz/v.txt"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body, b"version two\n",
        "replaced archive not seen after SIGHUP"
    );
    // The same connection goes on serving, and so does the process.
    let r = c.get(4, true, &params(&site, "/site.wwz/style.css"));
    assert_eq!(r.body, site.file("style.css"));
    wwz.proc.assert_running();
    assert!(
        wwz.proc.stderr().contains("SIGHUP"),
        "{}",
        wwz.proc.stderr()
    );
}

// ---------------------------------------------------------------------------
// The --http preview
// ---------------------------------------------------------------------------

/// `wwz serve --http`: a stored member, a deflated one with and without
/// `--compressed`, a listing (HTML and JSON), 304 and Range, then SIGTERM.
#[test]
fn http_preview_serves_members_and_listings() {
    let site = Site::new();
    let (mut proc, port) = start_preview(&site, &[]);

    let blob = site.file("data/blob.bin");
    let r = curl_get(port, "/site.wwz/data/blob.bin", &[]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.header("Content-Length"), blob.len().to_string());
    assert!(r.body == blob);
    let etag = r.header("ETag").to_owned();
    let r = curl_get(
        port,
        "/site.wwz/data/blob.bin",
        &["-H", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let r = curl_get(port, "/site.wwz/data/blob.bin", &["-r", "10-19"]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("Content-Range"),
        format!("bytes 10-19/{}", blob.len())
    );
    assert_eq!(r.body, blob[10..20]);

    let text = site.file("logs/big.txt");
    let r = curl_get(port, "/deflated.wwz/logs/big.txt", &["--compressed"]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), "gzip");
    assert!(r.body == text);
    let r = curl_get(port, "/deflated.wwz/logs/big.txt", &[]);
    assert_eq!(r.status, 200);
    assert!(r.opt_header("Content-Encoding").is_none());
    assert_eq!(r.header("Content-Length"), text.len().to_string());
    assert!(r.body == text);

    // logs/ has no index.html: a listing.
    let r = curl_get(port, "/site.wwz/logs/", &[]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert!(r.header("Content-Type").starts_with("text/html"));
    let html = String::from_utf8_lossy(&r.body);
    assert!(
        html.contains("build.txt") && html.contains("big.txt"),
        "{html}"
    );
    let r = curl_get(port, "/site.wwz/logs/?format=json", &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Type").starts_with("application/json"));
    let json = String::from_utf8_lossy(&r.body);
    assert!(
        json.contains("\"build.txt\"") || json.contains("build.txt"),
        "{json}"
    );
    let r = curl_get(port, "/site.wwz", &[]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), "./site.wwz/");

    signal(&proc, libc::SIGTERM);
    let status = proc
        .wait_exit(WAIT)
        .expect("preview did not exit on SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", proc.stderr());
}

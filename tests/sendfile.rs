//! Large stored members sent with sendfile(2) from the archive file
//! (`--sendfile-min`): byte for byte the same as `writev` from the mapping,
//! through real nginx and a direct FastCGI client (unix and TCP), whole and
//! in ranges that cross record boundaries, in archives made by `wwz pack` and
//! by `zip -0`; the CGI front into a pipe (strace shows sendfile carried the
//! body); and an archive cut under a response being read slowly, which ends
//! that response short while the process serves on.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::nginx::{Diagnostics, Nginx};
use crate::common::{self, *};
use wwz::front::fcgi::record::{self, kind};

/// A member of a few MiB whose size is not a multiple of anything.
const BIG: usize = 3 * 1024 * 1024 + 12_345;
/// Exactly two STDOUT records' worth plus one byte.
const ODD: usize = 65_528 * 2 + 1;

/// The archives of this test, beside the sample site's: `big.wwz` by
/// `wwz pack`, `big-zip.wwz` by `zip -0`, each with `big.bin`, `odd.bin`
/// and a small `small.txt`.
fn big_site() -> (Site, Vec<u8>, Vec<u8>) {
    let site = Site::new();
    let src = site.path("big-src");
    std::fs::create_dir_all(&src).unwrap();
    let big = noise(BIG, 0xb16);
    let odd = noise(ODD, 0x0dd);
    std::fs::write(src.join("big.bin"), &big).unwrap();
    std::fs::write(src.join("odd.bin"), &odd).unwrap();
    std::fs::write(src.join("small.txt"), b"small and hot\n").unwrap();
    run_ok(
        Command::new(wwz_bin())
            .arg("pack")
            .arg(&src)
            .arg("-o")
            .arg(site.docroot.join("big.wwz")),
        "wwz pack",
    );
    zip_stored(&src, &site.docroot.join("big-zip.wwz"));
    (site, big, odd)
}

/// Whether `part` occurs in `body`.
fn contains(body: &[u8], part: &[u8]) -> bool {
    memchr::memmem::find(body, part).is_some()
}

/// The ranges every fetch below asks for, with the bytes each must answer
/// (a single range as its bytes; several as parts of a multipart body).
fn ranges(data: &[u8]) -> Vec<(Option<String>, Vec<&[u8]>)> {
    let n = data.len();
    vec![
        (None, vec![data]),
        // Across two record boundaries of the member.
        (
            Some("bytes=65000-200000".into()),
            vec![&data[65_000..n.min(200_001)]],
        ),
        // A suffix range.
        (Some("bytes=-100000".into()), vec![&data[n - 100_000..]]),
        // The last byte alone.
        (Some(format!("bytes={}-", n - 1)), vec![&data[n - 1..]]),
        // Multipart: a tiny part and one across a record boundary.
        (
            Some("bytes=1-2,65520-140000".into()),
            vec![&data[1..3], &data[65_520..n.min(140_001)]],
        ),
    ]
}

/// `body` with its multipart boundary (random per response) replaced by a
/// fixed one, so bodies from different runs compare equal when their bytes do.
fn one_boundary(body: Vec<u8>, content_type: Option<&str>) -> Vec<u8> {
    let Some((_, boundary)) = content_type.and_then(|t| t.split_once("boundary=")) else {
        return body;
    };
    let fixed = "B".repeat(boundary.len());
    let (from, to) = (boundary.as_bytes(), fixed.as_bytes());
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body.as_slice();
    while let Some(at) = memchr::memmem::find(rest, from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Checks a response body against the parts it must hold.
fn check_body(what: &str, status: u16, body: &[u8], parts: &[&[u8]]) {
    match parts {
        [whole] if whole.len() == body.len() && status == 200 => {
            assert!(body == *whole, "{what}: body differs");
        }
        [one] => {
            assert_eq!(status, 206, "{what}");
            assert_eq!(body.len(), one.len(), "{what}");
            assert!(body == *one, "{what}: range differs");
        }
        many => {
            assert_eq!(status, 206, "{what}");
            for (i, part) in many.iter().enumerate() {
                assert!(contains(body, part), "{what}: part {i} missing");
            }
        }
    }
}

/// Every member and range, through a direct FastCGI client; returns the
/// bodies in order, for comparing one server with another.
fn fetch_all_fcgi(site: &Site, wwz: &Wwz, members: &[(&str, &[u8])]) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut c = wwz.client();
    for archive in ["big.wwz", "big-zip.wwz"] {
        for (name, data) in members {
            for (range, parts) in ranges(data) {
                let uri = format!("/{archive}/{name}");
                let mut params = nginx_params(site, "GET", &uri);
                if let Some(r) = &range {
                    params.push(("HTTP_RANGE".into(), r.as_bytes().to_vec()));
                }
                let r = c.get(1, true, &params);
                let what = format!("{uri} {range:?} over {:?}", wwz.addr);
                check_body(&what, r.status, &r.body, &parts);
                assert!(r.stdout_records.iter().all(|&n| n <= 65_535), "{what}");
                bodies.push(one_boundary(r.body.clone(), r.opt_header("Content-Type")));
            }
        }
        let r = c.get(
            1,
            true,
            &nginx_params(site, "GET", &format!("/{archive}/small.txt")),
        );
        assert_eq!(r.body, b"small and hot\n");
    }
    bodies
}

/// Every member and range, through nginx with curl; returns the bodies.
fn fetch_all_nginx(nginx: &Nginx, members: &[(&str, &[u8])]) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    for archive in ["big.wwz", "big-zip.wwz"] {
        for (name, data) in members {
            for (range, parts) in ranges(data) {
                let path = format!("/{archive}/{name}");
                let header = range.as_ref().map(|r| format!("Range: {r}"));
                let args: Vec<&str> = match &header {
                    Some(h) => vec!["-H", h],
                    None => vec![],
                };
                let r = curl_get(nginx.port, &path, &args);
                check_body(
                    &format!("nginx {path} {range:?}"),
                    r.status,
                    &r.body,
                    &parts,
                );
                bodies.push(one_boundary(r.body.clone(), r.opt_header("Content-Type")));
            }
        }
    }
    bodies
}

fn start(site: &Site, transport: Transport, sendfile_min: &str) -> Wwz {
    Wwz::start(
        site,
        transport,
        &[
            "--sendfile-min",
            sendfile_min,
            "--status-path",
            "/wwz-status",
        ],
    )
}

/// The same bytes whether large pieces go out with sendfile(2) (threshold
/// forced to 1 byte, and the default) or with `writev` (0, off): directly
/// over unix and TCP sockets, and through nginx. The sendfile counter proves
/// which path ran.
#[test]
fn large_members_are_identical_with_and_without_sendfile() {
    let (site, big, odd) = big_site();
    let members: [(&str, &[u8]); 2] = [("big.bin", &big), ("odd.bin", &odd)];

    let mut seen = Vec::new();
    for (min, transport) in [
        ("1", Transport::Unix),
        ("1", Transport::Tcp),
        ("0", Transport::Unix),
        ("0", Transport::Tcp),
    ] {
        let wwz = start(&site, transport, min);
        let before = wwz.status_figure(&site, "bytes_sent_sendfile");
        assert_eq!(before, 0);
        seen.push(fetch_all_fcgi(&site, &wwz, &members));
        let sent = wwz.status_figure(&site, "bytes_sent_sendfile");
        if min == "0" {
            assert_eq!(sent, 0, "sendfile ran with --sendfile-min 0");
        } else {
            // Every mapped piece went by sendfile: at least both whole members, twice.
            assert!(
                sent >= 2 * (BIG + ODD) as u64,
                "sendfile sent only {sent} bytes"
            );
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "bodies differ between runs"
    );

    // Through nginx, with the threshold low, at its default (which the
    // 3 MiB member passes and a range of it may not), and off.
    let mut through_nginx = Vec::new();
    for min in ["1", "262144", "0"] {
        let wwz = start(&site, Transport::Unix, min);
        let Addr::Unix(sock) = &wwz.addr else {
            unreachable!()
        };
        let snippet = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx.conf");
        let nginx = common::nginx::start(
            &site,
            sock,
            true,
            &format!("include {};", snippet.display()),
        );
        let _diag = Diagnostics(vec![
            ("nginx error log", nginx.error_log.clone()),
            ("wwz stderr", wwz.proc.stderr_path.clone()),
        ]);
        through_nginx.push(fetch_all_nginx(&nginx, &members));
        let sent = wwz.status_figure(&site, "bytes_sent_sendfile");
        match min {
            "0" => assert_eq!(sent, 0),
            "1" => assert!(sent >= 2 * (BIG + ODD) as u64, "{sent}"),
            // Only the pieces of 256 KiB and more: the whole 3 MiB member, twice.
            _ => assert!(
                sent >= 2 * BIG as u64 && sent < 2 * (BIG + ODD) as u64,
                "{sent}"
            ),
        }
    }
    assert!(through_nginx.windows(2).all(|w| w[0] == w[1]));
    // nginx passes the bodies on as they came.
    assert!(through_nginx[0] == seen[0]);
}

/// The sendfile(2) calls in an `strace -f -y` log: (output descriptor,
/// input descriptor, bytes sent or the error), each descriptor with the path
/// strace resolved (`3<pipe:[123]>`, `4</…/big-zip.wwz>`). A call another
/// thread interrupted in the log (`<unfinished …>`, then `<… resumed>`) is
/// put back together.
fn sendfile_calls(trace: &str) -> Vec<(String, String, Result<u64, String>)> {
    let mut unfinished: std::collections::HashMap<&str, &str> = Default::default();
    let mut calls = Vec::new();
    for line in trace.lines() {
        let (pid, rest) = line.split_once(' ').unwrap_or(("", line));
        let rest = rest.trim_start();
        let whole;
        let call = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            unfinished.insert(pid, head);
            continue;
        } else if let Some((_, tail)) = rest.split_once(" resumed>") {
            whole = format!("{}{tail}", unfinished.remove(pid).unwrap_or_default());
            whole.as_str()
        } else {
            rest
        };
        let Some(args) = call.strip_prefix("sendfile(") else {
            continue;
        };
        let mut fds = args.splitn(3, ", ");
        let out = fds.next().unwrap_or_default().to_owned();
        let input = fds.next().unwrap_or_default().to_owned();
        let result = call
            .rsplit_once(") = ")
            .map(|(_, r)| r.trim())
            .unwrap_or("?");
        let result = result.parse::<u64>().map_err(|_| result.to_owned());
        calls.push((out, input, result));
    }
    calls
}

/// The CGI front sends large pieces with sendfile(2) into its stdout, a
/// pipe here: whole and ranged bodies as they are. Run under strace: with
/// sendfile on, every body byte goes out in sendfile calls from the archive
/// into the pipe (only the head and multipart separators are written); with
/// it off, there is no sendfile call at all. (The status page's counter
/// would prove nothing here: a CGI process answers one request and exits.)
#[test]
fn cgi_sends_large_members_into_a_pipe() {
    let (site, big, _) = big_site();
    let strace = require_tool("strace", "strace");
    for min in ["1", "0"] {
        for (i, (range, parts)) in ranges(&big).into_iter().enumerate() {
            let trace_path = site.path(&format!("cgi-{min}-{i}.strace"));
            let mut cmd = Command::new(&strace);
            cmd.args(["-f", "-qq", "-y", "-e", "trace=/^sendfile", "-o"])
                .arg(&trace_path)
                .arg("--")
                .arg(wwz_bin());
            cmd.env_clear()
                .env("WWZ_SENDFILE_MIN", min)
                .stdin(Stdio::null());
            for (k, v) in nginx_params(&site, "GET", "/big-zip.wwz/big.bin") {
                cmd.env(k, String::from_utf8(v).unwrap());
            }
            if let Some(r) = &range {
                cmd.env("HTTP_RANGE", r);
            }
            let out = cmd.output().expect("run wwz as CGI under strace");
            assert!(
                out.status.success(),
                "wwz as CGI under strace failed (if strace says ptrace is not \
                 permitted, run the tests where it is, e.g. docker --cap-add SYS_PTRACE): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let what = format!("CGI {range:?} min {min}");
            let (status, _, body) = parse_cgi(&out.stdout);
            check_body(&what, status, &body, &parts);

            let trace = std::fs::read_to_string(&trace_path).expect("the strace log");
            let calls = sendfile_calls(&trace);
            if min == "0" {
                assert!(calls.is_empty(), "{what}: sendfile with it off:\n{trace}");
                continue;
            }
            let mut sent = 0;
            for (out_fd, in_fd, result) in &calls {
                assert!(
                    out_fd.contains("<pipe:[") && in_fd.ends_with("/big-zip.wwz>"),
                    "{what}: a sendfile from {in_fd} to {out_fd}, not from the archive into \
                     stdout:\n{trace}"
                );
                sent += result
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{what}: sendfile failed ({e}):\n{trace}"));
            }
            let body_bytes: usize = parts.iter().map(|p| p.len()).sum();
            assert_eq!(
                sent,
                body_bytes as u64,
                "{what}: {} sendfile calls sent {sent} of the body's {body_bytes} bytes:\n{trace}",
                calls.len()
            );
        }
    }
}

/// Bytes waiting in `c`'s receive queue (FIONREAD).
fn queued(c: &Client) -> usize {
    let Stream::Unix(s) = &c.stream else {
        unreachable!("a unix socket")
    };
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(s), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    usize::try_from(n).unwrap()
}

/// Waits until wwz has filled `c`'s socket and waits on it: bytes are
/// queued and their number has stopped changing (wwz sends as long as
/// there is room, so a queue that stays put is one wwz cannot add to).
fn wait_until_socket_full(c: &Client) {
    let mut last = (0, std::time::Instant::now());
    wait_until("wwz to fill the socket and wait on it", WAIT, || {
        let now = queued(c);
        if now != last.0 {
            last = (now, std::time::Instant::now());
        }
        now > 0 && last.1.elapsed() >= Duration::from_millis(50)
    });
}

/// An archive cut (truncated in place) while a large response is sent from
/// it with sendfile(2) and read slowly: that response ends short, without
/// END_REQUEST, and the process goes on serving.
#[test]
fn archive_cut_mid_sendfile_ends_that_response_short() {
    let site = Site::new();
    let src = site.path("cut-src");
    std::fs::create_dir_all(&src).unwrap();
    let data = noise(24 * 1024 * 1024, 0xc07);
    std::fs::write(src.join("huge.bin"), &data).unwrap();
    let archive = site.docroot.join("cut.wwz");
    zip_stored(&src, &archive);
    // A long revalidation interval keeps the mapping and descriptor in use after the cut.
    let mut wwz = Wwz::start(
        &site,
        Transport::Unix,
        &["--sendfile-min", "1", "--revalidate-ms", "600000"],
    );

    let mut c = wwz.client();
    c.send(&request_bytes(
        1,
        true,
        &nginx_params(&site, "GET", "/cut.wwz/huge.bin"),
    ));
    // Read the head and a little of the body, then stop reading: wwz waits
    // on a full socket, well before the end of the member.
    let mut got = 0;
    while got < 256 * 1024 {
        let rec = c.read_record();
        assert_eq!(rec.kind, kind::STDOUT);
        got += rec.content.len();
    }
    wait_until_socket_full(&c);
    let f = std::fs::File::options().write(true).open(&archive).unwrap();
    f.set_len(1024 * 1024).unwrap();
    drop(f);

    let rest = c.read_until_closed();
    let mut tail = &rest[..];
    let mut ended = false;
    while let Ok(Some((rec, used))) = record::decode(tail) {
        match rec.kind {
            kind::STDOUT => got += rec.content.len(),
            kind::END_REQUEST => ended = true,
            other => panic!("unexpected record type {other}"),
        }
        tail = &tail[used..];
    }
    assert!(!ended, "a cut archive completed its response");
    assert!(
        got < data.len(),
        "all {got} bytes arrived from a cut archive"
    );
    wait_until(
        "wwz to log the short member",
        Duration::from_secs(5),
        || wwz.proc.stderr().contains("ends before a member"),
    );

    // The process serves on: another archive, and the cut one answers (not 200).
    wwz.assert_healthy(&site);
    let r = wwz.client().get(
        1,
        false,
        &nginx_params(&site, "GET", "/site.wwz/data/blob.bin"),
    );
    assert_eq!(r.status, 200);
    assert!(r.body == site.file("data/blob.bin"));
    let mut c = wwz.client();
    c.send(&request_bytes(
        1,
        false,
        &nginx_params(&site, "GET", "/cut.wwz/huge.bin"),
    ));
    let raw = c.read_until_closed();
    assert!(raw.len() < data.len());
    wwz.proc.assert_running();
}

//! HTTP conformance of the core: one table ([`table`]) maps each
//! requirement (conditional requests, Range, caching, compressed members,
//! directories, listings, MIME types) to a request and the exact response
//! it must get. Here it runs through the real binary over FastCGI, against
//! archives made by real tools (`zip`, Python's zipfile, the brotli, zstd
//! and gzip commands); [`in_process`] runs the same rows against the
//! library, with archives it makes itself.

mod in_process;
mod table;

use std::path::Path;
use std::process::Command;

use crate::common::*;
use table::{Answer, Coded, Member, Method, Target, Zstd, CONTENT_ADDRESSED};

/// The rows asked of a running `wwz serve`, on one kept-alive connection,
/// with the params nginx's stock `fastcgi_params` sends.
struct Binary<'a> {
    site: &'a Site,
    client: Client,
    id: u16,
}

impl<'a> Binary<'a> {
    fn new(site: &'a Site, wwz: &Wwz) -> Binary<'a> {
        Binary {
            site,
            client: wwz.client(),
            id: 0,
        }
    }
}

impl Target for Binary<'_> {
    fn ask(&mut self, method: &str, uri: &str, headers: &[(&'static str, String)]) -> Answer {
        let mut params = nginx_params(self.site, method, uri);
        for (name, value) in headers {
            params.push((format!("HTTP_{name}"), value.clone().into_bytes()));
        }
        self.id = self.id % 60000 + 1;
        let reply = self.client.get(self.id, true, &params);
        Answer {
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        }
    }
}

/// Extra archives for cases the sample site does not cover, made with Python's zipfile.
fn python_zip(out: &Path, members: &[Member]) {
    let python = require_tool("python3", "python3");
    let script = r#"
import sys, zipfile
out = sys.argv[1]
args = sys.argv[2:]
methods = {"stored": zipfile.ZIP_STORED, "deflated": zipfile.ZIP_DEFLATED,
           "bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA}
with zipfile.ZipFile(out, "w") as z:
    for i in range(0, len(args), 3):
        name, path, method = args[i], args[i + 1], args[i + 2]
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 4))
        info.compress_type = methods[method]
        with open(path, "rb") as f:
            z.writestr(info, f.read())
"#;
    let scratch = tempdir();
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(script).arg(out);
    for (i, (name, content, method)) in members.iter().enumerate() {
        let p = scratch.path().join(format!("m{i}"));
        std::fs::write(&p, content).unwrap();
        let method = match method {
            Method::Stored => "stored",
            Method::Deflated => "deflated",
            Method::Bzip2 => "bzip2",
            Method::Lzma => "lzma",
        };
        cmd.arg(name).arg(&p).arg(method);
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "python3 zipfile failed");
}

#[test]
fn conformance_table() {
    let site = Site::new();
    python_zip(&site.docroot.join("extra.wwz"), &table::extra_members());
    let locked = site.docroot.join("locked.wwz");
    python_zip(&locked, &table::locked_members());
    table::mark_encrypted(&locked);
    std::fs::copy(
        site.docroot.join("site.wwz"),
        site.docroot.join(CONTENT_ADDRESSED),
    )
    .unwrap();
    let wwz = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let mut target = Binary::new(&site, &wwz);
    let cases = table::conformance(&mut target);
    table::run(&mut target, cases);
}

#[test]
fn cache_control_options_and_no_listing() {
    let site = Site::new();
    std::fs::copy(
        site.docroot.join("site.wwz"),
        site.docroot.join(CONTENT_ADDRESSED),
    )
    .unwrap();
    let wwz = Wwz::start(
        &site,
        Transport::Unix,
        &[
            "--cache-control",
            "no-cache",
            "--content-addressed",
            "--no-listing",
        ],
    );
    table::run(&mut Binary::new(&site, &wwz), table::options());
}

#[test]
fn listing_of_ten_thousand_entries() {
    let site = Site::new();
    let python = require_tool("python3", "python3");
    let out = site.docroot.join("many.wwz");
    let status = Command::new(python)
        .arg("-c")
        .arg(
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
             \x20   for i in range(10000):\n\
             \x20       z.writestr(f'logs/step-{i:05}.log', f'step {i}\\n')\n\
             \x20   z.writestr('logs/sub/x.log', 'x')\n",
        )
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let reply = wwz
        .client()
        .get(1, false, &nginx_params(&site, "GET", "/many.wwz/logs/"));
    assert_eq!(reply.status, 200);
    let page = String::from_utf8(reply.body).unwrap();
    assert_eq!(page.matches("<tr><td><a href=\"./step-").count(), 10_000);
    assert!(
        page.contains("10001 entries"),
        "footer counts files and the subdirectory"
    );
    let sub = page.find("./sub/").unwrap();
    let first_file = page.find("./step-00000.log").unwrap();
    assert!(sub < first_file, "directories first");
}

/// `data` through `tool args…` (brotli, zstd, gzip as installed).
fn compress_with(tool: &str, args: &[&str], data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let bin = require_tool(tool, tool);
    let mut child = Command::new(bin)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "{tool} failed");
    out.stdout
}

/// `Accept-Encoding` negotiation between precompressed siblings made by
/// other tools (brotli, zstd, gzip, packed by Python's zipfile), the gzip
/// passthrough of a deflated member and the identity.
#[test]
fn conformance_table_content_codings() {
    let site = Site::new();
    let (page, doc) = Coded::plain();
    let coded = Coded {
        br: compress_with("brotli", &["-c", "-q", "11"], &page),
        zst: compress_with("zstd", &["-c", "-19", "-q"], &page),
        gz: compress_with("gzip", &["-c", "-9", "-n"], &page),
        doc_br: compress_with("brotli", &["-c"], &doc),
        page,
        doc,
    };
    python_zip(&site.docroot.join("coded.wwz"), &coded.members());
    let wwz = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let mut target = Binary::new(&site, &wwz);
    let cases = table::codings(&mut target, &coded);
    table::run(&mut target, cases);
}

/// An archive whose members are zstd frames (method 93), written by hand:
/// Python's zipfile (3.11 has no zstd) stores each frame, then the script
/// sets the method to 93 and the CRC-32 and size to the decoded data's.
pub(crate) fn zstd_zip(out: &Path, members: &[(&str, &[u8], &[u8])]) {
    let python = require_tool("python3", "python3");
    let script = r#"
import struct, sys, zipfile, zlib
out, args = sys.argv[1], sys.argv[2:]
members = []
with zipfile.ZipFile(out, "w") as z:
    for i in range(0, len(args), 3):
        name, frame, plain = args[i], open(args[i + 1], "rb").read(), open(args[i + 2], "rb").read()
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 4))
        z.writestr(info, frame)
        members.append((name, zlib.crc32(plain), len(plain)))
data = bytearray(open(out, "rb").read())
z = zipfile.ZipFile(out)
for (name, crc, size), info in zip(members, z.infolist()):
    local = info.header_offset
    struct.pack_into("<H", data, local + 8, 93)
    struct.pack_into("<I", data, local + 14, crc)
    struct.pack_into("<I", data, local + 22, size)
cd = data.rfind(b"PK\x05\x06")
at = struct.unpack_from("<I", data, cd + 16)[0]
for name, crc, size in members:
    assert data[at:at + 4] == b"PK\x01\x02"
    struct.pack_into("<H", data, at + 10, 93)
    struct.pack_into("<I", data, at + 16, crc)
    struct.pack_into("<I", data, at + 24, size)
    n, m, k = struct.unpack_from("<HHH", data, at + 28)
    at += 46 + n + m + k
open(out, "wb").write(data)
"#;
    let scratch = tempdir();
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(script).arg(out);
    for (i, (name, frame, plain)) in members.iter().enumerate() {
        let f = scratch.path().join(format!("f{i}"));
        let p = scratch.path().join(format!("p{i}"));
        std::fs::write(&f, frame).unwrap();
        std::fs::write(&p, plain).unwrap();
        cmd.arg(name).arg(&f).arg(&p);
    }
    assert!(cmd.status().unwrap().success(), "zstd_zip failed");
}

/// Method-93 (zstd) members made by another tool (see [`table::zstd`]), and
/// what `wwz ls` and `wwz check` say of them.
#[test]
fn conformance_table_zstd_members() {
    let site = Site::new();
    let text = Zstd::plain();
    // From a pipe, zstd does not know the size: --long=N sets the window to 2^N.
    let z = Zstd {
        small: compress_with("zstd", &["-c", "-q", "-3"], &text),
        wide: compress_with("zstd", &["-c", "-q", "--long=24"], &text),
        huge: compress_with("zstd", &["-c", "-q", "--long=26"], &text),
        text,
    };
    let archive = site.docroot.join("zstd.wwz");
    zstd_zip(&archive, &z.members());
    let wwz = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let mut target = Binary::new(&site, &wwz);
    let cases = table::zstd(&mut target, &z);
    table::run(&mut target, cases);

    // wwz ls names the method; wwz check decodes what it can and names the rest.
    let ls = Command::new(wwz_bin())
        .arg("ls")
        .arg(&archive)
        .output()
        .unwrap();
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert_eq!(
        ls.lines().filter(|l| l.starts_with("zstd")).count(),
        3,
        "{ls}"
    );
    let check = Command::new(wwz_bin())
        .arg("check")
        .arg(&archive)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success());
    assert!(
        report.lines().all(|l| l.contains("member huge.txt:")),
        "{report}"
    );
    assert!(report.contains("zstd window of 64 MiB"), "{report}");
}

/// Two multipart/byteranges answers to the same request carry different
/// boundaries (random per response, not derived from the member, whose
/// bytes could then hold it), each of one length, and each parses with
/// Python's email parser into the ranges asked for.
#[test]
fn multipart_boundaries_are_random_and_each_body_parses() {
    let site = Site::new();
    let w = Wwz::start(&site, Transport::Unix, &[]);
    let log = site.file("logs/build.txt");
    let mut boundaries = Vec::new();
    for _ in 0..2 {
        let mut params = nginx_params(&site, "GET", "/site.wwz/logs/build.txt");
        params.push(("HTTP_RANGE".into(), b"bytes=0-4,100-104".to_vec()));
        let r = w.client().get(1, false, &params);
        assert_eq!(r.status, 206, "{r:?}");
        let content_type = r.header("Content-Type").to_owned();
        assert_eq!(r.header("Content-Length"), r.body.len().to_string());
        let script = r#"
import email, sys
data = sys.stdin.buffer.read()
msg = email.message_from_bytes(data)
assert msg.is_multipart(), msg.defects
for part in msg.get_payload():
    sys.stdout.buffer.write(part["Content-Range"].encode() + b"=" + part.get_payload(decode=True) + b"\n")
"#;
        let mut input = format!("Content-Type: {content_type}\r\n\r\n").into_bytes();
        input.extend_from_slice(&r.body);
        let mut child = Command::new(require_tool("python3", "python3"))
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "python's email parser failed");
        let mut want = b"bytes 0-4/5000=".to_vec();
        want.extend_from_slice(&log[..5]);
        want.extend_from_slice(b"\nbytes 100-104/5000=");
        want.extend_from_slice(&log[100..105]);
        want.push(b'\n');
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&want)
        );
        let boundary = content_type
            .split_once("boundary=")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_else(|| panic!("no boundary in {content_type}"));
        boundaries.push(boundary);
    }
    assert_ne!(boundaries[0], boundaries[1], "the boundary is predictable");
    assert_eq!(boundaries[0].len(), boundaries[1].len());
}

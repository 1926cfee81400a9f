//! HTTP conformance of the core, through the real binary over FastCGI: one
//! table maps each requirement (conditional requests, Range, caching,
//! compressed members, directories, listings, MIME types) to a request and
//! the exact response it must get.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// Extra archives for cases the sample site does not cover, made with Python's zipfile.
fn python_zip(out: &Path, members: &[(&str, &[u8], &str)]) {
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
        cmd.arg(name).arg(&p).arg(method);
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "python3 zipfile failed");
}

/// Sets general purpose flag bit 0 (encrypted) on every header, as a tool that encrypted would.
fn mark_encrypted(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        match &bytes[at..at + 4] {
            b"PK\x03\x04" => bytes[at + 6] |= 1,
            b"PK\x01\x02" => bytes[at + 8] |= 1,
            _ => {}
        }
        at += 1;
    }
    std::fs::write(path, bytes).unwrap();
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("a valid gzip body");
    out
}

/// What a case expects of the body.
enum BodyIs {
    Exact(Vec<u8>),
    Empty,
    Gzip(Vec<u8>),
    Contains(Vec<&'static str>),
    /// Text that must not appear.
    Without(Vec<&'static str>),
    /// A brotli / zstd stream that decodes to these bytes.
    Brotli(Vec<u8>),
    Zstd(Vec<u8>),
    Json(Vec<&'static str>),
    Any,
}

struct Case {
    what: &'static str,
    method: &'static str,
    uri: String,
    headers: Vec<(&'static str, String)>,
    status: u16,
    /// Header name and exact value; a value of "-" means the header must be absent.
    expect: Vec<(&'static str, String)>,
    body: BodyIs,
}

fn case(what: &'static str, uri: &str, status: u16) -> Case {
    Case {
        what,
        method: "GET",
        uri: uri.into(),
        headers: Vec::new(),
        status,
        expect: Vec::new(),
        body: BodyIs::Any,
    }
}

impl Case {
    fn method(mut self, m: &'static str) -> Case {
        self.method = m;
        self
    }
    fn req(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
    fn has(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.expect.push((name, value.into()));
        self
    }
    fn lacks(mut self, name: &'static str) -> Case {
        self.expect.push((name, "-".into()));
        self
    }
    fn body(mut self, b: BodyIs) -> Case {
        self.body = b;
        self
    }
}

fn run(site: &Site, wwz: &Wwz, cases: Vec<Case>) {
    let mut client = wwz.client();
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let mut params = nginx_params(site, c.method, &c.uri);
        for (name, value) in &c.headers {
            params.push((format!("HTTP_{name}"), value.clone().into_bytes()));
        }
        let reply = client.get((i % 60000 + 1) as u16, true, &params);
        let mut problems = Vec::new();
        if reply.status != c.status {
            problems.push(format!("status {} (want {})", reply.status, c.status));
        }
        for (name, want) in &c.expect {
            let got = reply.opt_header(name);
            match (want.as_str(), got) {
                ("-", None) => {}
                ("-", Some(v)) => problems.push(format!("{name}: {v:?} (want none)")),
                (w, Some(v)) if v == w => {}
                (w, v) => problems.push(format!("{name}: {v:?} (want {w:?})")),
            }
        }
        match &c.body {
            BodyIs::Any => {}
            BodyIs::Empty if reply.body.is_empty() => {}
            BodyIs::Empty => problems.push(format!("{}-byte body (want none)", reply.body.len())),
            BodyIs::Exact(want) if &reply.body == want => {}
            BodyIs::Exact(want) => problems.push(format!(
                "body of {} bytes differs from the expected {}",
                reply.body.len(),
                want.len()
            )),
            BodyIs::Gzip(want) => {
                if &gunzip(&reply.body) != want {
                    problems.push("gunzipped body differs".into());
                }
            }
            BodyIs::Brotli(want) => {
                let mut out = Vec::new();
                let ok = brotli::BrotliDecompress(&mut &reply.body[..], &mut out).is_ok();
                if !ok || &out != want {
                    problems.push("brotli-decoded body differs".into());
                }
            }
            BodyIs::Zstd(want) => {
                if zstd::decode_all(&reply.body[..]).ok().as_ref() != Some(want) {
                    problems.push("zstd-decoded body differs".into());
                }
            }
            BodyIs::Without(parts) => {
                let text = String::from_utf8_lossy(&reply.body);
                for p in parts {
                    if text.contains(p) {
                        problems.push(format!("body has {p:?}"));
                    }
                }
            }
            BodyIs::Contains(parts) | BodyIs::Json(parts) => {
                let text = String::from_utf8_lossy(&reply.body);
                for p in parts {
                    if !text.contains(p) {
                        problems.push(format!("body lacks {p:?}"));
                    }
                }
            }
        }
        if let BodyIs::Json(_) = &c.body {
            let parsed = Command::new("python3")
                .args(["-c", "import json,sys; json.load(sys.stdin)"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write;
                    child.stdin.take().unwrap().write_all(&reply.body)?;
                    child.wait()
                })
                .map(|s| s.success())
                .unwrap_or(false);
            if !parsed {
                problems.push("body is not valid JSON".into());
            }
        }
        if let Some(len) = reply.opt_header("Content-Length") {
            let head_like = c.method == "HEAD" || reply.status == 304;
            if !head_like && len.parse::<usize>().ok() != Some(reply.body.len()) {
                problems.push(format!(
                    "Content-Length {len} but {} body bytes",
                    reply.body.len()
                ));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} ({} {}): {}\n    {reply:?}",
                c.what,
                c.method,
                c.uri,
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn etag_of(wwz: &Wwz, site: &Site, uri: &str, accept_encoding: Option<&str>) -> String {
    let mut params = nginx_params(site, "GET", uri);
    if let Some(ae) = accept_encoding {
        params.push(("HTTP_ACCEPT_ENCODING".into(), ae.into()));
    }
    let reply = wwz.client().get(1, false, &params);
    assert_eq!(reply.status, 200, "{uri}: {reply:?}");
    reply.header("ETag").to_owned()
}

#[test]
fn conformance_table() {
    let site = Site::new();
    let extra = site.docroot.join("extra.wwz");
    let bin = noise(3000, 7);
    python_zip(
        &extra,
        &[
            ("Makefile", b"all:\n\techo hi\n", "stored"),
            ("LICENSE", b"Permission is hereby granted\n", "deflated"),
            ("core", &bin, "stored"),
            ("run.log", b"log\n", "stored"),
            ("fix.diff", b"--- a\n+++ b\n", "stored"),
            ("fix.patch", b"--- a\n+++ b\n", "stored"),
            ("notes.md", b"# hi\n", "stored"),
            ("mod.wasm", b"\0asm\x01\0\0\0", "stored"),
            ("logo.svg", b"<svg/>", "stored"),
            ("data.json", b"{}", "stored"),
            ("data.xml", b"<a/>", "stored"),
            ("t.csv", b"a,b\n", "stored"),
            ("test.out", b"ok\n", "stored"),
            ("pic.png", b"\x89PNG", "stored"),
            ("bz.txt", b"bzip2 member", "bzip2"),
            ("xz.txt", b"lzma member", "lzma"),
            ("odd/<b> & \"q\" 'x'.txt", b"odd", "stored"),
            ("odd/a b#c?d%e.txt", b"odd2", "stored"),
        ],
    );
    let locked = site.docroot.join("locked.wwz");
    python_zip(
        &locked,
        &[("secret.txt", b"not really encrypted", "stored")],
    );
    mark_encrypted(&locked);
    std::fs::copy(
        site.docroot.join("site.wwz"),
        site.docroot.join("app-0123abcd.wwz"),
    )
    .unwrap();

    let wwz = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let css = site.file("style.css").to_vec();
    let log = site.file("logs/build.txt").to_vec();
    let blob = site.file("data/blob.bin").to_vec();
    let log_len = log.len();
    let tag = etag_of(&wwz, &site, "/site.wwz/logs/build.txt", None);
    let dtag = etag_of(&wwz, &site, "/deflated.wwz/logs/build.txt", None);
    let gztag = etag_of(&wwz, &site, "/deflated.wwz/logs/build.txt", Some("gzip"));
    assert_ne!(
        dtag, gztag,
        "gzip and identity representations need different tags"
    );
    let weak = format!("W/{tag}");
    let lm = SAMPLE_MTIME_HTTP;
    let older = "Mon, 01 Jan 2024 00:00:00 GMT";
    let newer = "Wed, 03 Jan 2024 00:00:00 GMT";
    let cc = "public, max-age=0, must-revalidate";
    let text = "text/plain; charset=utf-8";
    let u = |p: &str| format!("/site.wwz/{p}");

    let cases = vec![
        // Baseline headers of a stored member.
        case(
            "200 with validators and caching headers",
            &u("logs/build.txt"),
            200,
        )
        .has("Content-Type", text)
        .has("Content-Length", log_len.to_string())
        .has("ETag", tag.clone())
        .has("Last-Modified", lm)
        .has("Cache-Control", cc)
        .has("Accept-Ranges", "bytes")
        .has("X-Content-Type-Options", "nosniff")
        .lacks("Vary")
        .body(BodyIs::Exact(log.clone())),
        case("HEAD: headers only", &u("logs/build.txt"), 200)
            .method("HEAD")
            .has("Content-Length", log_len.to_string())
            .body(BodyIs::Empty),
        // §13: conditional requests.
        case("If-None-Match match → 304", &u("logs/build.txt"), 304)
            .req("IF_NONE_MATCH", tag.clone())
            .has("ETag", tag.clone())
            .has("Last-Modified", lm)
            .has("Cache-Control", cc)
            .body(BodyIs::Empty),
        case("If-None-Match weak comparison", &u("logs/build.txt"), 304)
            .req("IF_NONE_MATCH", weak.clone()),
        case("If-None-Match list", &u("logs/build.txt"), 304)
            .req("IF_NONE_MATCH", format!("\"x\", {tag}")),
        case("If-None-Match *", &u("logs/build.txt"), 304).req("IF_NONE_MATCH", "*"),
        case("If-None-Match mismatch → 200", &u("logs/build.txt"), 200)
            .req("IF_NONE_MATCH", "\"nope\"")
            .body(BodyIs::Exact(log.clone())),
        case("HEAD with If-None-Match → 304", &u("logs/build.txt"), 304)
            .method("HEAD")
            .req("IF_NONE_MATCH", tag.clone()),
        case(
            "If-Modified-Since same time → 304",
            &u("logs/build.txt"),
            304,
        )
        .req("IF_MODIFIED_SINCE", lm),
        case("If-Modified-Since later → 304", &u("logs/build.txt"), 304)
            .req("IF_MODIFIED_SINCE", newer),
        case("If-Modified-Since earlier → 200", &u("logs/build.txt"), 200)
            .req("IF_MODIFIED_SINCE", older),
        case(
            "If-Modified-Since garbage is ignored",
            &u("logs/build.txt"),
            200,
        )
        .req("IF_MODIFIED_SINCE", "yesterday"),
        case(
            "If-None-Match takes precedence over If-Modified-Since",
            &u("logs/build.txt"),
            200,
        )
        .req("IF_NONE_MATCH", "\"nope\"")
        .req("IF_MODIFIED_SINCE", newer),
        case("If-Match mismatch → 412", &u("logs/build.txt"), 412).req("IF_MATCH", "\"nope\""),
        case(
            "If-Match weak tag fails the strong comparison",
            &u("logs/build.txt"),
            412,
        )
        .req("IF_MATCH", weak.clone()),
        case("If-Match match → 200", &u("logs/build.txt"), 200).req("IF_MATCH", tag.clone()),
        case(
            "If-Unmodified-Since earlier → 412",
            &u("logs/build.txt"),
            412,
        )
        .req("IF_UNMODIFIED_SINCE", older),
        case("If-Unmodified-Since later → 200", &u("logs/build.txt"), 200)
            .req("IF_UNMODIFIED_SINCE", newer),
        // §14: ranges.
        case("Range a-b → 206", &u("logs/build.txt"), 206)
            .req("RANGE", "bytes=0-99")
            .has("Content-Range", format!("bytes 0-99/{log_len}"))
            .has("Content-Length", "100")
            .has("ETag", tag.clone())
            .body(BodyIs::Exact(log[..100].to_vec())),
        case("Range a- → 206", &u("logs/build.txt"), 206)
            .req("RANGE", "bytes=4000-")
            .has(
                "Content-Range",
                format!("bytes 4000-{}/{log_len}", log_len - 1),
            )
            .body(BodyIs::Exact(log[4000..].to_vec())),
        case("Range -n → 206", &u("logs/build.txt"), 206)
            .req("RANGE", "bytes=-10")
            .body(BodyIs::Exact(log[log_len - 10..].to_vec())),
        case("Range past the end is clipped", &u("data/blob.bin"), 206)
            .req("RANGE", format!("bytes={}-999999999", blob.len() - 5))
            .body(BodyIs::Exact(blob[blob.len() - 5..].to_vec())),
        case(
            "Overlapping ranges coalesce into one",
            &u("logs/build.txt"),
            206,
        )
        .req("RANGE", "bytes=0-9,5-19,20-29")
        .has("Content-Range", format!("bytes 0-29/{log_len}"))
        .body(BodyIs::Exact(log[..30].to_vec())),
        case(
            "Several ranges → multipart/byteranges",
            &u("logs/build.txt"),
            206,
        )
        .req("RANGE", "bytes=0-4,100-104")
        .lacks("Content-Range")
        .body(BodyIs::Contains(vec![
            "Content-Range: bytes 0-4/5000",
            "Content-Range: bytes 100-104/5000",
            "Content-Type: text/plain; charset=utf-8",
        ])),
        case("Unsatisfiable range → 416", &u("logs/build.txt"), 416)
            .req("RANGE", format!("bytes={log_len}-"))
            .has("Content-Range", format!("bytes */{log_len}")),
        case("Malformed Range is ignored", &u("style.css"), 200)
            .req("RANGE", "bytes=z-y")
            .body(BodyIs::Exact(css.clone())),
        case("Other units are ignored", &u("style.css"), 200).req("RANGE", "items=0-1"),
        case(
            "If-Range with the current ETag → 206",
            &u("logs/build.txt"),
            206,
        )
        .req("RANGE", "bytes=0-9")
        .req("IF_RANGE", tag.clone()),
        case(
            "If-Range with an old ETag → 200 whole",
            &u("logs/build.txt"),
            200,
        )
        .req("RANGE", "bytes=0-9")
        .req("IF_RANGE", "\"old\"")
        .body(BodyIs::Exact(log.clone())),
        case(
            "If-Range with the Last-Modified date → 206",
            &u("logs/build.txt"),
            206,
        )
        .req("RANGE", "bytes=0-9")
        .req("IF_RANGE", lm),
        case("Range is ignored on HEAD", &u("logs/build.txt"), 200)
            .method("HEAD")
            .req("RANGE", "bytes=0-9")
            .has("Content-Length", log_len.to_string()),
        case(
            "A range over a large member stays exact",
            &u("data/blob.bin"),
            206,
        )
        .req("RANGE", "bytes=65000-140000")
        .body(BodyIs::Exact(blob[65000..140001].to_vec())),
        // Caching policy.
        case(
            "Content-addressed archive is not immutable without the option",
            "/app-0123abcd.wwz/style.css",
            200,
        )
        .has("Cache-Control", cc),
        // Deflated members.
        case("gzip passthrough", "/deflated.wwz/logs/build.txt", 200)
            .req("ACCEPT_ENCODING", "gzip, deflate, br")
            .has("Content-Encoding", "gzip")
            .has("Vary", "Accept-Encoding")
            .has("ETag", gztag.clone())
            .has("Content-Type", text)
            .body(BodyIs::Gzip(log.clone())),
        case(
            "gzip passthrough of a large member",
            "/deflated.wwz/data/blob.bin",
            200,
        )
        .req("ACCEPT_ENCODING", "gzip")
        .body(BodyIs::Gzip(blob.clone())),
        case(
            "No Accept-Encoding → inflated",
            "/deflated.wwz/logs/build.txt",
            200,
        )
        .lacks("Content-Encoding")
        .has("Vary", "Accept-Encoding")
        .has("ETag", dtag.clone())
        .has("Content-Length", log_len.to_string())
        .body(BodyIs::Exact(log.clone())),
        case("gzip;q=0 → inflated", "/deflated.wwz/logs/build.txt", 200)
            .req("ACCEPT_ENCODING", "gzip;q=0, *")
            .lacks("Content-Encoding")
            .body(BodyIs::Exact(log.clone())),
        case(
            "identity only → inflated",
            "/deflated.wwz/data/blob.bin",
            200,
        )
        .req("ACCEPT_ENCODING", "identity")
        .body(BodyIs::Exact(blob.clone())),
        case(
            "Range on a deflated member → identity bytes",
            "/deflated.wwz/data/blob.bin",
            206,
        )
        .req("ACCEPT_ENCODING", "gzip")
        .req("RANGE", "bytes=100000-100099")
        .lacks("Content-Encoding")
        .has(
            "ETag",
            etag_of(&wwz, &site, "/deflated.wwz/data/blob.bin", None),
        )
        .body(BodyIs::Exact(blob[100000..100100].to_vec())),
        case(
            "Several ranges on a deflated member → 200 whole",
            "/deflated.wwz/logs/build.txt",
            200,
        )
        .req("RANGE", "bytes=0-4,100-104")
        .body(BodyIs::Exact(log.clone())),
        case(
            "304 for the gzip representation keeps Vary",
            "/deflated.wwz/logs/build.txt",
            304,
        )
        .req("ACCEPT_ENCODING", "gzip")
        .req("IF_NONE_MATCH", gztag.clone())
        .has("Vary", "Accept-Encoding")
        .has("ETag", gztag.clone()),
        case(
            "The identity tag does not validate the gzip body",
            "/deflated.wwz/logs/build.txt",
            200,
        )
        .req("ACCEPT_ENCODING", "gzip")
        .req("IF_NONE_MATCH", dtag.clone()),
        case("bzip2 member → 501", "/extra.wwz/bz.txt", 501),
        case("LZMA member → 501", "/extra.wwz/xz.txt", 501),
        case("encrypted member → 501", "/locked.wwz/secret.txt", 501),
        // Directories.
        case("bare archive → 301 to its slash form", "/site.wwz?x=1", 301)
            .has("Location", "./site.wwz/?x=1"),
        case("directory without slash → 301", "/site.wwz/docs?a=b", 301)
            .has("Location", "./docs/?a=b"),
        case(
            "implied directory (no entry) → 301",
            "/py.wwz/docs/deep",
            301,
        )
        .has("Location", "./deep/"),
        case("dir/ → dir/index.html", "/site.wwz/docs/", 200)
            .has("Content-Type", "text/html; charset=utf-8")
            .body(BodyIs::Exact(site.file("docs/index.html").to_vec())),
        case(
            "listing for a directory without index.html",
            "/site.wwz/logs/",
            200,
        )
        .has("Content-Type", "text/html; charset=utf-8")
        .has("Cache-Control", cc)
        .body(BodyIs::Contains(vec![
            "<a href=\"./big.txt\">big.txt</a>",
            "<a href=\"./build.txt\">build.txt</a>",
            "<a href=\"../\">../</a>",
            "name=\"viewport\"",
            "prefers-color-scheme:dark",
        ])),
        case("listing of an implied directory", "/py.wwz/docs/deep/", 200)
            .body(BodyIs::Contains(vec!["<a href=\"./nested/\">nested/</a>"])),
        case(
            "listing escapes names and encodes links",
            "/extra.wwz/odd/",
            200,
        )
        .body(BodyIs::Contains(vec![
            "&lt;b&gt; &amp; &quot;q&quot; &#39;x&#39;.txt",
            "href=\"./%3Cb%3E%20%26%20%22q%22%20%27x%27.txt\"",
            "href=\"./a%20b%23c%3Fd%25e.txt\"",
        ])),
        case(
            "listing as JSON with ?format=json",
            "/site.wwz/logs/?format=json",
            200,
        )
        .has("Content-Type", "application/json; charset=utf-8")
        .body(BodyIs::Json(vec![
            "\"name\":\"build.txt\"",
            "\"type\":\"file\"",
            "\"size\":5000",
        ])),
        case("listing as JSON with Accept", "/site.wwz/", 200)
            .req("ACCEPT", "application/json")
            .body(BodyIs::Any),
        case(
            "root listing of an archive without index.html",
            "/extra.wwz/",
            200,
        )
        .body(BodyIs::Contains(vec!["odd/", "Makefile"])),
        case("directories come before files", "/site.wwz/docs/deep/", 200)
            .body(BodyIs::Contains(vec!["nested/"])),
        case("missing directory → 404", "/site.wwz/nope/", 404),
        // MIME types.
        case(
            "extension-less text → text/plain",
            "/extra.wwz/Makefile",
            200,
        )
        .has("Content-Type", text),
        case(
            "extension-less deflated text → text/plain",
            "/extra.wwz/LICENSE",
            200,
        )
        .has("Content-Type", text),
        case(
            "extension-less binary → octet-stream",
            "/extra.wwz/core",
            200,
        )
        .has("Content-Type", "application/octet-stream")
        .body(BodyIs::Exact(bin.clone())),
        case(".log", "/extra.wwz/run.log", 200).has("Content-Type", text),
        case(".out", "/extra.wwz/test.out", 200).has("Content-Type", text),
        case(".diff", "/extra.wwz/fix.diff", 200).has("Content-Type", "text/x-diff; charset=utf-8"),
        case(".patch", "/extra.wwz/fix.patch", 200)
            .has("Content-Type", "text/x-diff; charset=utf-8"),
        case(".md", "/extra.wwz/notes.md", 200).has("Content-Type", "text/markdown; charset=utf-8"),
        case(".wasm", "/extra.wwz/mod.wasm", 200).has("Content-Type", "application/wasm"),
        case(".svg", "/extra.wwz/logo.svg", 200)
            .has("Content-Type", "image/svg+xml; charset=utf-8"),
        case(".json", "/extra.wwz/data.json", 200)
            .has("Content-Type", "application/json; charset=utf-8"),
        case(".xml", "/extra.wwz/data.xml", 200).has("Content-Type", "text/xml; charset=utf-8"),
        case(".csv", "/extra.wwz/t.csv", 200).has("Content-Type", "text/csv; charset=utf-8"),
        case(".png", "/extra.wwz/pic.png", 200).has("Content-Type", "image/png"),
        case(".css", &u("style.css"), 200).has("Content-Type", "text/css; charset=utf-8"),
        // Errors.
        case("405 with Allow", &u("style.css"), 405)
            .method("POST")
            .has("Allow", "GET, HEAD"),
        case("404 names no server path", &u("missing.txt"), 404)
            .body(BodyIs::Exact(b"Not Found\n".to_vec())),
    ];
    run(&site, &wwz, cases);
}

#[test]
fn cache_control_options_and_no_listing() {
    let site = Site::new();
    std::fs::copy(
        site.docroot.join("site.wwz"),
        site.docroot.join("app-0123abcd.wwz"),
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
    let cases = vec![
        case("--cache-control", "/site.wwz/style.css", 200).has("Cache-Control", "no-cache"),
        case("--content-addressed", "/app-0123abcd.wwz/style.css", 200)
            .has("Cache-Control", "public, max-age=31536000, immutable"),
        case("--no-listing → 403", "/site.wwz/logs/", 403),
        case("--no-listing keeps index.html", "/site.wwz/docs/", 200),
        case(
            "304 carries the configured Cache-Control",
            "/site.wwz/style.css",
            304,
        )
        .req("IF_MODIFIED_SINCE", SAMPLE_MTIME_HTTP)
        .has("Cache-Control", "no-cache"),
    ];
    run(&site, &wwz, cases);
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

/// `Accept-Encoding` negotiation (RFC 9110 §12.5.3) between precompressed
/// siblings made by other tools (brotli, zstd, gzip, packed by Python's
/// zipfile), the gzip passthrough of a deflated member and the identity.
#[test]
fn conformance_table_content_codings() {
    let site = Site::new();
    let page: Vec<u8> = (0..300)
        .flat_map(|i| format!("<p>paragraph {i} of the page</p>\n").into_bytes())
        .collect();
    let doc = b"plain text of a document, deflated by zip\n".repeat(200);
    let br = compress_with("brotli", &["-c", "-q", "11"], &page);
    let zst = compress_with("zstd", &["-c", "-19", "-q"], &page);
    let gz = compress_with("gzip", &["-c", "-9", "-n"], &page);
    let doc_br = compress_with("brotli", &["-c"], &doc);
    let coded = site.docroot.join("coded.wwz");
    python_zip(
        &coded,
        &[
            ("page.html", &page, "stored"),
            ("page.html.br", &br, "stored"),
            ("page.html.zst", &zst, "stored"),
            ("page.html.gz", &gz, "stored"),
            ("doc.txt", &doc, "deflated"),
            ("doc.txt.br", &doc_br, "stored"),
            ("only.txt", b"no siblings here\n", "stored"),
            ("orphan.js.br", &br, "stored"),
        ],
    );
    let wwz = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let p = "/coded.wwz/page.html";
    let tags: Vec<String> = [None, Some("br"), Some("zstd"), Some("gzip")]
        .iter()
        .map(|ae| etag_of(&wwz, &site, p, *ae))
        .collect();
    for (i, a) in tags.iter().enumerate() {
        for b in &tags[i + 1..] {
            assert_ne!(a, b, "each coding needs its own tag: {tags:?}");
        }
    }
    let (tag, br_tag) = (tags[0].clone(), tags[1].clone());
    let html = "text/html; charset=utf-8";
    let lm = SAMPLE_MTIME_HTTP;
    let ae = "ACCEPT_ENCODING";
    let len = |b: &[u8]| b.len().to_string();
    let cases = vec![
        case("no Accept-Encoding → identity, Vary", p, 200)
            .has("Content-Type", html)
            .has("Vary", "Accept-Encoding")
            .has("ETag", tag.clone())
            .has("Last-Modified", lm)
            .lacks("Content-Encoding")
            .body(BodyIs::Exact(page.clone())),
        case("br → the .br sibling as it is stored", p, 200)
            .req(ae, "br")
            .has("Content-Encoding", "br")
            .has("Content-Type", html)
            .has("Content-Length", len(&br))
            .has("Vary", "Accept-Encoding")
            .has("Last-Modified", lm)
            .has("ETag", br_tag.clone())
            .body(BodyIs::Exact(br.clone())),
        case("zstd → the .zst sibling", p, 200)
            .req(ae, "zstd")
            .has("Content-Encoding", "zstd")
            .has("Content-Type", html)
            .body(BodyIs::Zstd(page.clone())),
        case("gzip → the .gz sibling", p, 200)
            .req(ae, "gzip")
            .has("Content-Encoding", "gzip")
            .body(BodyIs::Exact(gz.clone())),
        case("a browser's list → br", p, 200)
            .req(ae, "gzip, deflate, br, zstd")
            .has("Content-Encoding", "br")
            .body(BodyIs::Brotli(page.clone())),
        case("gzip;q=0, br → br", p, 200)
            .req(ae, "gzip;q=0, br")
            .has("Content-Encoding", "br"),
        case("br;q=0, gzip → gzip", p, 200)
            .req(ae, "br;q=0, gzip")
            .has("Content-Encoding", "gzip")
            .body(BodyIs::Gzip(page.clone())),
        case("higher q wins over preference", p, 200)
            .req(ae, "br;q=0.5, zstd;q=0.8")
            .has("Content-Encoding", "zstd"),
        case("equal q: br, then zstd, then gzip", p, 200)
            .req(ae, "gzip;q=0.5, zstd;q=0.5")
            .has("Content-Encoding", "zstd"),
        case("* → br", p, 200)
            .req(ae, "*")
            .has("Content-Encoding", "br"),
        case("*;q=0 with br named → br", p, 200)
            .req(ae, "br, *;q=0")
            .has("Content-Encoding", "br"),
        case("identity ranked higher → identity", p, 200)
            .req(ae, "br;q=0.3, identity")
            .lacks("Content-Encoding")
            .body(BodyIs::Exact(page.clone())),
        case("identity;q=0 with br → br", p, 200)
            .req(ae, "br, identity;q=0")
            .has("Content-Encoding", "br"),
        case("identity;q=0 and nothing else → 406", p, 406)
            .req(ae, "identity;q=0")
            .has("Vary", "Accept-Encoding"),
        case("*;q=0 → 406", "/coded.wwz/only.txt", 406).req(ae, "*;q=0"),
        case("unknown codings only → identity", p, 200)
            .req(ae, "compress, deflate")
            .lacks("Content-Encoding")
            .body(BodyIs::Exact(page.clone())),
        case("Range is served from the identity", p, 206)
            .req(ae, "br")
            .req("RANGE", "bytes=0-9")
            .lacks("Content-Encoding")
            .has("Content-Range", format!("bytes 0-9/{}", page.len()))
            .body(BodyIs::Exact(page[..10].to_vec())),
        case("HEAD says what GET sends", p, 200)
            .method("HEAD")
            .req(ae, "br")
            .has("Content-Encoding", "br")
            .has("Content-Length", len(&br))
            .has("ETag", br_tag.clone())
            .body(BodyIs::Empty),
        case("304 for the br tag when br is chosen", p, 304)
            .req(ae, "br")
            .req("IF_NONE_MATCH", br_tag.clone())
            .has("ETag", br_tag.clone())
            .has("Vary", "Accept-Encoding")
            .body(BodyIs::Empty),
        case("the br tag does not validate the identity", p, 200)
            .req("IF_NONE_MATCH", br_tag.clone())
            .lacks("Content-Encoding")
            .body(BodyIs::Exact(page.clone())),
        case("the identity tag does not validate br", p, 200)
            .req(ae, "br")
            .req("IF_NONE_MATCH", tag.clone())
            .has("Content-Encoding", "br"),
        case(
            "deflated member with a .br sibling: br",
            "/coded.wwz/doc.txt",
            200,
        )
        .req(ae, "br, gzip")
        .has("Content-Encoding", "br")
        .body(BodyIs::Brotli(doc.clone())),
        case(
            "deflated member: gzip passthrough",
            "/coded.wwz/doc.txt",
            200,
        )
        .req(ae, "gzip")
        .has("Content-Encoding", "gzip")
        .body(BodyIs::Gzip(doc.clone())),
        case(
            "deflated member: inflated for identity",
            "/coded.wwz/doc.txt",
            200,
        )
        .lacks("Content-Encoding")
        .body(BodyIs::Exact(doc.clone())),
        case(
            "a sibling asked for by name is a file",
            "/coded.wwz/page.html.br",
            200,
        )
        .req(ae, "br")
        .lacks("Content-Encoding")
        .body(BodyIs::Exact(br.clone())),
        case("no siblings, stored: no Vary", "/coded.wwz/only.txt", 200)
            .req(ae, "br, zstd, gzip")
            .lacks("Content-Encoding")
            .lacks("Vary"),
        case(
            "a .br without its base is a file",
            "/coded.wwz/orphan.js.br",
            200,
        )
        .lacks("Content-Encoding")
        .body(BodyIs::Exact(br.clone())),
        case(
            "listings hide siblings of existing members",
            "/coded.wwz/",
            200,
        )
        .body(BodyIs::Without(vec![
            "page.html.br",
            "page.html.zst",
            "page.html.gz",
            "doc.txt.br",
        ])),
        case("…but list a .br whose base is missing", "/coded.wwz/", 200).body(BodyIs::Contains(
            vec!["page.html", "doc.txt", "orphan.js.br"],
        )),
    ];
    run(&site, &wwz, cases);
}

/// An archive whose members are zstd frames (method 93), written by hand:
/// Python's zipfile (3.11 has no zstd) stores each frame, then the script
/// sets the method to 93 and the CRC-32 and size to the decoded data's.
fn zstd_zip(out: &Path, members: &[(&str, &[u8], &[u8])]) {
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

/// Method-93 (zstd) members made by another tool: passed through as
/// `Content-Encoding: zstd` when the frame's window is at most 8 MiB (RFC
/// 9659), decoded for everyone else, refused (501) past what wwz decodes.
#[test]
fn conformance_table_zstd_members() {
    let site = Site::new();
    let text = b"a zstd member made by another tool\n".repeat(2000);
    // From a pipe, zstd does not know the size: --long=N sets the window to 2^N.
    let small = compress_with("zstd", &["-c", "-q", "-3"], &text);
    let wide = compress_with("zstd", &["-c", "-q", "--long=24"], &text);
    let huge = compress_with("zstd", &["-c", "-q", "--long=26"], &text);
    let archive = site.docroot.join("zstd.wwz");
    zstd_zip(
        &archive,
        &[
            ("small.txt", &small, &text),
            ("wide.txt", &wide, &text),
            ("huge.txt", &huge, &text),
        ],
    );
    let wwz = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "0"]);
    let tag = etag_of(&wwz, &site, "/zstd.wwz/small.txt", None);
    let ztag = etag_of(&wwz, &site, "/zstd.wwz/small.txt", Some("zstd"));
    assert_ne!(tag, ztag);
    let ae = "ACCEPT_ENCODING";
    let text_len = text.len().to_string();
    let cases = vec![
        case("zstd taken: the frame as it is", "/zstd.wwz/small.txt", 200)
            .req(ae, "gzip, br, zstd")
            .has("Content-Encoding", "zstd")
            .has("Content-Length", small.len().to_string())
            .has("Vary", "Accept-Encoding")
            .has("ETag", ztag.clone())
            .body(BodyIs::Exact(small.clone())),
        case("HEAD with zstd", "/zstd.wwz/small.txt", 200)
            .method("HEAD")
            .req(ae, "zstd")
            .has("Content-Encoding", "zstd")
            .has("Content-Length", small.len().to_string()),
        case("304 for the zstd tag", "/zstd.wwz/small.txt", 304)
            .req(ae, "zstd")
            .req("IF_NONE_MATCH", ztag.clone()),
        case("no zstd: decoded by streaming", "/zstd.wwz/small.txt", 200)
            .req(ae, "gzip, br")
            .lacks("Content-Encoding")
            .has("Content-Length", text_len.clone())
            .has("ETag", tag.clone())
            .has("Vary", "Accept-Encoding")
            .body(BodyIs::Exact(text.clone())),
        case("a range of the decoded member", "/zstd.wwz/small.txt", 206)
            .req(ae, "zstd")
            .req("RANGE", "bytes=40000-40099")
            .lacks("Content-Encoding")
            .body(BodyIs::Exact(text[40000..40100].to_vec())),
        case(
            "16 MiB window: never passed through",
            "/zstd.wwz/wide.txt",
            200,
        )
        .req(ae, "zstd")
        .lacks("Content-Encoding")
        .body(BodyIs::Exact(text.clone())),
        case(
            "64 MiB window: past what wwz decodes",
            "/zstd.wwz/huge.txt",
            501,
        ),
        case("…even for a client taking zstd", "/zstd.wwz/huge.txt", 501).req(ae, "zstd"),
    ];
    run(&site, &wwz, cases);

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

//! The conformance table: each requirement (conditional requests, Range,
//! caching, compressed members, directories, listings, MIME types) as a
//! request and the exact response it must get, and the members of the
//! archives the rows ask for. A runner builds those archives with its own
//! tools and answers the requests its own way ([`Target`]); the rows and how
//! an answer is judged live only here.

use std::fmt;
use std::io::Read;
use std::path::Path;

use crate::common::{find_header, noise, sample_files, SAMPLE_MTIME_HTTP};

/// A response as the client saw it.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    fn opt_header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let preview = &self.body[..self.body.len().min(200)];
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("body", &String::from_utf8_lossy(preview))
            .finish()
    }
}

/// What answers the rows: the binary over FastCGI, or the library in process.
pub trait Target {
    /// `method uri` with request headers named as in CGI params, without
    /// `HTTP_` (`IF_NONE_MATCH`).
    fn ask(&mut self, method: &str, uri: &str, headers: &[(&'static str, String)]) -> Answer;
}

/// How a member is compressed in the archives the rows ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Stored,
    Deflated,
    Bzip2,
    Lzma,
}

/// (name, content, method) of one member.
pub type Member = (&'static str, Vec<u8>, Method);

/// A file of the sample site (every runner's `site.wwz` and friends hold them).
fn sample(rel: &str) -> Vec<u8> {
    sample_files()
        .into_iter()
        .find(|(r, _)| *r == rel)
        .unwrap_or_else(|| panic!("no sample file {rel}"))
        .1
}

/// `extra.wwz`'s extension-less binary member.
fn core_file() -> Vec<u8> {
    noise(3000, 7)
}

/// `extra.wwz`: cases the sample site does not cover (names, types, methods).
pub fn extra_members() -> Vec<Member> {
    use Method::*;
    vec![
        ("Makefile", b"all:\n\techo hi\n".to_vec(), Stored),
        (
            "LICENSE",
            b"Permission is hereby granted\n".to_vec(),
            Deflated,
        ),
        ("core", core_file(), Stored),
        ("run.log", b"log\n".to_vec(), Stored),
        ("fix.diff", b"--- a\n+++ b\n".to_vec(), Stored),
        ("fix.patch", b"--- a\n+++ b\n".to_vec(), Stored),
        ("notes.md", b"# hi\n".to_vec(), Stored),
        ("mod.wasm", b"\0asm\x01\0\0\0".to_vec(), Stored),
        ("logo.svg", b"<svg/>".to_vec(), Stored),
        ("data.json", b"{}".to_vec(), Stored),
        ("data.xml", b"<a/>".to_vec(), Stored),
        ("t.csv", b"a,b\n".to_vec(), Stored),
        ("test.out", b"ok\n".to_vec(), Stored),
        ("pic.png", b"\x89PNG".to_vec(), Stored),
        ("bz.txt", b"bzip2 member".to_vec(), Bzip2),
        ("xz.txt", b"lzma member".to_vec(), Lzma),
        ("odd/<b> & \"q\" 'x'.txt", b"odd".to_vec(), Stored),
        ("odd/a b#c?d%e.txt", b"odd2".to_vec(), Stored),
    ]
}

/// `locked.wwz`, before [`mark_encrypted`].
pub fn locked_members() -> Vec<Member> {
    vec![(
        "secret.txt",
        b"not really encrypted".to_vec(),
        Method::Stored,
    )]
}

/// The copy of `site.wwz` whose name carries a content hash.
pub const CONTENT_ADDRESSED: &str = "app-0123abcd.wwz";

/// Sets general purpose flag bit 0 (encrypted) on every header, as a tool that encrypted would.
pub fn mark_encrypted(path: &Path) {
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
pub enum BodyIs {
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
    /// A JSON listing: its `path`, and exactly these entries in this order,
    /// each (name, size) with `None` for a directory.
    JsonListing(&'static str, Vec<(&'static str, Option<usize>)>),
    /// An HTML listing whose entries are exactly these names (a directory's
    /// with its slash), in this order.
    Listed(Vec<&'static str>),
    /// A zip holding exactly these members (name, content), in this order.
    Zip(Vec<(&'static str, Vec<u8>)>),
    Any,
}

pub struct Case {
    what: &'static str,
    method: &'static str,
    uri: String,
    headers: Vec<(&'static str, String)>,
    status: u16,
    /// Header name and exact value; a value of "-" means the header must be absent.
    expect: Vec<(&'static str, String)>,
    body: BodyIs,
}

pub fn case(what: &'static str, uri: &str, status: u16) -> Case {
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
    pub fn method(mut self, m: &'static str) -> Case {
        self.method = m;
        self
    }
    pub fn req(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
    pub fn has(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.expect.push((name, value.into()));
        self
    }
    pub fn lacks(mut self, name: &'static str) -> Case {
        self.expect.push((name, "-".into()));
        self
    }
    pub fn body(mut self, b: BodyIs) -> Case {
        self.body = b;
        self
    }
}

/// Asks every row and fails with all rows whose answer differs.
pub fn run(t: &mut dyn Target, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in &cases {
        let reply = t.ask(c.method, &c.uri, &c.headers);
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
            BodyIs::JsonListing(..) | BodyIs::Listed(_) => {}
            BodyIs::Zip(want) => problems.extend(zip_problems(&reply.body, want)),
            BodyIs::Contains(parts) | BodyIs::Json(parts) => {
                let text = String::from_utf8_lossy(&reply.body);
                for p in parts {
                    if !text.contains(p) {
                        problems.push(format!("body lacks {p:?}"));
                    }
                }
            }
        }
        if let BodyIs::JsonListing(path, entries) = &c.body {
            problems.extend(json_listing_problems(&reply.body, path, entries));
        }
        if let BodyIs::Listed(names) = &c.body {
            let got = listed_names(&reply.body);
            if &got != names {
                problems.push(format!("listed {got:?} (want {names:?})"));
            }
        }
        if let BodyIs::Json(_) = &c.body {
            if serde_json::from_slice::<serde_json::Value>(&reply.body).is_err() {
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

/// How a zip body differs from one holding exactly `want` (name, content),
/// in this order: read with wwz's own index, stored and deflated members
/// decoded here and checked against their CRC-32s.
fn zip_problems(body: &[u8], want: &[(&str, Vec<u8>)]) -> Vec<String> {
    let index = match wwz::zip::Index::build(body) {
        Ok(index) => index,
        Err(e) => return vec![format!("not a zip: {e}")],
    };
    let names: Vec<String> = index
        .entries()
        .iter()
        .map(|e| String::from_utf8_lossy(index.name_of(e)).into_owned())
        .collect();
    let want_names: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    if names != want_names {
        return vec![format!("members {names:?} (want {want_names:?})")];
    }
    let mut problems = Vec::new();
    for (name, content) in want {
        let e = index.get(name.as_bytes()).unwrap();
        let at = index.data_offset(e, body).unwrap() as usize;
        let raw = &body[at..at + e.compressed_size() as usize];
        let data = match e.method() {
            0 => raw.to_vec(),
            8 => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(raw)
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            m => {
                problems.push(format!("{name}: method {m}"));
                continue;
            }
        };
        if &data != content || crc32fast::hash(&data) != e.crc32() {
            problems.push(format!("{name}: content or CRC-32 differs"));
        }
    }
    problems
}

/// The size of `extra.wwz`'s member `name`; `None` for its directory `odd`.
fn extra_size(name: &str) -> Option<usize> {
    (name != "odd").then(|| {
        extra_members()
            .into_iter()
            .find(|(n, ..)| *n == name)
            .unwrap_or_else(|| panic!("no member {name} in extra.wwz"))
            .1
            .len()
    })
}

/// How a JSON listing differs from `path` with `entries` (see [`BodyIs::JsonListing`]).
fn json_listing_problems(
    body: &[u8],
    path: &str,
    entries: &[(&str, Option<usize>)],
) -> Vec<String> {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return vec![format!("body is not valid JSON: {e}")],
    };
    let mut problems = Vec::new();
    if v["path"] != path {
        problems.push(format!("path {} (want {path:?})", v["path"]));
    }
    let Some(got) = v["entries"].as_array() else {
        return vec![format!("no entries array in {v}")];
    };
    let got: Vec<(String, String, Option<u64>)> = got
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or("?").to_owned(),
                e["type"].as_str().unwrap_or("?").to_owned(),
                e["size"].as_u64(),
            )
        })
        .collect();
    let want: Vec<(String, String, Option<u64>)> = entries
        .iter()
        .map(|(name, size)| {
            let kind = if size.is_some() { "file" } else { "directory" };
            ((*name).to_owned(), kind.to_owned(), size.map(|s| s as u64))
        })
        .collect();
    if got != want {
        problems.push(format!("entries {got:?} (want {want:?})"));
    }
    problems
}

/// The names an HTML listing shows, in order: the text of each row's first
/// link (`<tr…><td><a href="…">NAME</a>`), which is the entry's name.
fn listed_names(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    text.split("<tr")
        .skip(1)
        .filter_map(|row| {
            let cell = row.split_once("<td><a href=\"")?.1;
            let name = cell.split_once("\">")?.1.split_once("</a>")?.0;
            Some(name.to_owned())
        })
        .collect()
}

/// The ETag `uri` answers with (200), for `Accept-Encoding: accept_encoding`.
pub fn etag_of(t: &mut dyn Target, uri: &str, accept_encoding: Option<&str>) -> String {
    let mut headers = Vec::new();
    if let Some(ae) = accept_encoding {
        headers.push(("ACCEPT_ENCODING", ae.to_owned()));
    }
    let reply = t.ask("GET", uri, &headers);
    assert_eq!(reply.status, 200, "{uri}: {reply:?}");
    reply
        .opt_header("ETag")
        .unwrap_or_else(|| panic!("no ETag header in {reply:?}"))
        .to_owned()
}

/// The main table, against a docroot with the sample site's archives
/// (`site.wwz` with directory entries, `py.wwz` without, `deflated.wwz`),
/// [`CONTENT_ADDRESSED`], `extra.wwz` and `locked.wwz`, served with the
/// default options.
pub fn conformance(t: &mut dyn Target) -> Vec<Case> {
    let css = sample("style.css");
    let log = sample("logs/build.txt");
    let blob = sample("data/blob.bin");
    let log_len = log.len();
    let tag = etag_of(t, "/site.wwz/logs/build.txt", None);
    let dtag = etag_of(t, "/deflated.wwz/logs/build.txt", None);
    let gztag = etag_of(t, "/deflated.wwz/logs/build.txt", Some("gzip"));
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

    vec![
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
        .req("IF_RANGE", tag.clone())
        .has("Content-Range", format!("bytes 0-9/{log_len}"))
        .has("Content-Length", "10")
        .has("ETag", tag.clone())
        .body(BodyIs::Exact(log[..10].to_vec())),
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
        .req("IF_RANGE", lm)
        .has("Content-Range", format!("bytes 0-9/{log_len}"))
        .has("Content-Length", "10")
        .body(BodyIs::Exact(log[..10].to_vec())),
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
        .has("ETag", etag_of(t, "/deflated.wwz/data/blob.bin", None))
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
            .body(BodyIs::Exact(sample("docs/index.html").to_vec())),
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
        // Downloads.
        case(
            "?download: the member, as an attachment named as it is",
            "/site.wwz/logs/build.txt?download",
            200,
        )
        .has(
            "Content-Disposition",
            "attachment; filename=\"build.txt\"; filename*=UTF-8''build.txt",
        )
        .has("ETag", tag.clone())
        .body(BodyIs::Exact(log.clone())),
        case(
            "DIR/?zip: the directory's members in one zip, as stored",
            "/deflated.wwz/logs/?zip",
            200,
        )
        .has("Content-Type", "application/zip")
        .has(
            "Content-Disposition",
            "attachment; filename=\"logs.zip\"; filename*=UTF-8''logs.zip",
        )
        .has("Accept-Ranges", "bytes")
        .has("Cache-Control", cc)
        .lacks("Vary")
        .body(BodyIs::Zip(vec![
            ("big.txt", sample("logs/big.txt")),
            ("build.txt", log.clone()),
        ])),
        case(
            "DIR/?zip where an index page would answer",
            "/site.wwz/docs/?zip",
            200,
        )
        .body(BodyIs::Zip(vec![
            (
                "deep/nested/page.html",
                sample("docs/deep/nested/page.html"),
            ),
            ("index.html", sample("docs/index.html")),
        ])),
        case(
            "root ?zip: named after the archive; encrypted members left out",
            "/locked.wwz/?zip",
            200,
        )
        .has(
            "Content-Disposition",
            "attachment; filename=\"locked.zip\"; filename*=UTF-8''locked.zip",
        )
        .body(BodyIs::Zip(Vec::new())),
        case("?zip of no directory → 404", "/site.wwz/nothing/?zip", 404),
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
        case("listing as JSON with Accept", "/site.wwz/logs/", 200)
            .req("ACCEPT", "application/json")
            .has("Content-Type", "application/json; charset=utf-8")
            .body(BodyIs::JsonListing(
                "/site.wwz/logs/",
                vec![
                    ("big.txt", Some(sample("logs/big.txt").len())),
                    ("build.txt", Some(log_len)),
                ],
            )),
        // A directory with its index.html is that page, whatever Accept
        // says: only a directory without one is listed.
        case(
            "Accept: application/json where index.html exists → the page",
            "/site.wwz/",
            200,
        )
        .req("ACCEPT", "application/json")
        .has("Content-Type", "text/html; charset=utf-8")
        .body(BodyIs::Exact(sample("index.html"))),
        case(
            "root listing of an archive without index.html",
            "/extra.wwz/",
            200,
        )
        .body(BodyIs::Contains(vec!["odd/", "Makefile"])),
        case(
            "a directory with one subdirectory",
            "/site.wwz/docs/deep/",
            200,
        )
        .body(BodyIs::Listed(vec!["../", "nested/"])),
        // Directories first, then files, each by name in byte order
        // (upper case before lower case).
        case("directories come before files", "/extra.wwz/", 200).body(BodyIs::Listed(vec![
            "odd/",
            "LICENSE",
            "Makefile",
            "bz.txt",
            "core",
            "data.json",
            "data.xml",
            "fix.diff",
            "fix.patch",
            "logo.svg",
            "mod.wasm",
            "notes.md",
            "pic.png",
            "run.log",
            "t.csv",
            "test.out",
            "xz.txt",
        ])),
        case("the same order in JSON", "/extra.wwz/?format=json", 200).body(BodyIs::JsonListing(
            "/extra.wwz/",
            [
                "odd",
                "LICENSE",
                "Makefile",
                "bz.txt",
                "core",
                "data.json",
                "data.xml",
                "fix.diff",
                "fix.patch",
                "logo.svg",
                "mod.wasm",
                "notes.md",
                "pic.png",
                "run.log",
                "t.csv",
                "test.out",
                "xz.txt",
            ]
            .into_iter()
            .map(|name| (name, extra_size(name)))
            .collect(),
        )),
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
        .body(BodyIs::Exact(core_file())),
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
            .has("Allow", "GET, HEAD, OPTIONS"),
        case("404 names no server path", &u("missing.txt"), 404)
            .body(BodyIs::Exact(b"Not Found\n".to_vec())),
    ]
}

/// `site.wwz` and [`CONTENT_ADDRESSED`] served with `--cache-control
/// no-cache --content-addressed --no-listing`.
pub fn options() -> Vec<Case> {
    vec![
        case("--cache-control", "/site.wwz/style.css", 200).has("Cache-Control", "no-cache"),
        case("--content-addressed", "/app-0123abcd.wwz/style.css", 200)
            .has("Cache-Control", "public, max-age=31536000, immutable"),
        case("--no-listing → 403", "/site.wwz/logs/", 403),
        case(
            "--no-listing: no zip either → 403",
            "/site.wwz/logs/?zip",
            403,
        ),
        case("--no-listing keeps index.html", "/site.wwz/docs/", 200),
        case(
            "304 carries the configured Cache-Control",
            "/site.wwz/style.css",
            304,
        )
        .req("IF_MODIFIED_SINCE", SAMPLE_MTIME_HTTP)
        .has("Cache-Control", "no-cache"),
    ]
}

/// `coded.wwz`: a page with precompressed siblings (br, zstd, gzip), a
/// deflated document with a br sibling, and members without a base or
/// siblings. The compressed bytes come from the runner's tools.
pub struct Coded {
    pub page: Vec<u8>,
    pub doc: Vec<u8>,
    pub br: Vec<u8>,
    pub zst: Vec<u8>,
    pub gz: Vec<u8>,
    pub doc_br: Vec<u8>,
}

impl Coded {
    /// The page and the document, before compression.
    pub fn plain() -> (Vec<u8>, Vec<u8>) {
        let page: Vec<u8> = (0..300)
            .flat_map(|i| format!("<p>paragraph {i} of the page</p>\n").into_bytes())
            .collect();
        let doc = b"plain text of a document, deflated by zip\n".repeat(200);
        (page, doc)
    }

    pub fn members(&self) -> Vec<Member> {
        use Method::*;
        vec![
            ("page.html", self.page.clone(), Stored),
            ("page.html.br", self.br.clone(), Stored),
            ("page.html.zst", self.zst.clone(), Stored),
            ("page.html.gz", self.gz.clone(), Stored),
            ("doc.txt", self.doc.clone(), Deflated),
            ("doc.txt.br", self.doc_br.clone(), Stored),
            ("only.txt", b"no siblings here\n".to_vec(), Stored),
            ("orphan.js.br", self.br.clone(), Stored),
        ]
    }
}

/// `Accept-Encoding` negotiation (RFC 9110 §12.5.3) against `coded.wwz`.
pub fn codings(t: &mut dyn Target, c: &Coded) -> Vec<Case> {
    let Coded {
        page, doc, br, gz, ..
    } = c;
    let p = "/coded.wwz/page.html";
    let tags: Vec<String> = [None, Some("br"), Some("zstd"), Some("gzip")]
        .iter()
        .map(|ae| etag_of(t, p, *ae))
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
    vec![
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
            .has("Content-Length", len(br))
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
            .has("Content-Length", len(br))
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
    ]
}

/// `zstd.wwz`: one text as three zstd frames (method 93) of growing windows.
pub struct Zstd {
    pub text: Vec<u8>,
    /// The default window (2 MiB at level 3): passed through.
    pub small: Vec<u8>,
    /// A 16 MiB window: decoded, never passed through.
    pub wide: Vec<u8>,
    /// A 64 MiB window: past what wwz decodes.
    pub huge: Vec<u8>,
}

impl Zstd {
    pub fn plain() -> Vec<u8> {
        b"a zstd member made by another tool\n".repeat(2000)
    }

    /// (name, frame, decoded) of each member.
    pub fn members(&self) -> Vec<(&'static str, &[u8], &[u8])> {
        vec![
            ("small.txt", &self.small, &self.text),
            ("wide.txt", &self.wide, &self.text),
            ("huge.txt", &self.huge, &self.text),
        ]
    }
}

/// Method-93 members: passed through as `Content-Encoding: zstd` when the
/// frame's window is at most 8 MiB (RFC 9659), decoded for everyone else,
/// refused (501) past what wwz decodes.
pub fn zstd(t: &mut dyn Target, z: &Zstd) -> Vec<Case> {
    let Zstd { text, small, .. } = z;
    let tag = etag_of(t, "/zstd.wwz/small.txt", None);
    let ztag = etag_of(t, "/zstd.wwz/small.txt", Some("zstd"));
    assert_ne!(tag, ztag);
    let ae = "ACCEPT_ENCODING";
    let text_len = text.len().to_string();
    vec![
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
    ]
}

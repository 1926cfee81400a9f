//! The conformance table in process: every row of [`super::table`] asked of
//! the library's `Service` directly, its answer written as the fronts write
//! it (the CGI head, then the body through the one body stream) and read
//! back with the FastCGI client's parser. Needs no system package: the
//! archives are made here with the `zip` crate, and compressed members and
//! siblings with the compression crates wwz itself depends on.

use std::io::{Cursor, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wwz::archive::{Archive, Cache};
use wwz::http::body::{self, Sink};
use wwz::http::OwnedParams;
use wwz::service::{Options, Service};
use zip::write::SimpleFileOptions;

use super::table::{self, Answer, Coded, Member, Method, Target, Zstd, CONTENT_ADDRESSED};
use crate::common::{parse_cgi, sample_files, stock_params, tempdir, TempDir};

/// The rows asked of a `Service` over `docroot`, with the params nginx's
/// stock `fastcgi_params` sends.
struct InProcess {
    service: Service,
    docroot: String,
    runtime: tokio::runtime::Runtime,
}

impl InProcess {
    fn new(docroot: &Path, opts: Options) -> InProcess {
        // As `--revalidate-ms 0`: every request checks the archive's file.
        let cache = Cache::new(16, Duration::ZERO);
        InProcess {
            service: Service::with_options(Some(docroot.to_path_buf()), cache, opts),
            docroot: docroot.to_str().unwrap().to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        }
    }
}

impl Target for InProcess {
    fn ask(&mut self, method: &str, uri: &str, headers: &[(&'static str, String)]) -> Answer {
        let mut params = stock_params(&self.docroot, method, uri);
        for (name, value) in headers {
            params.push((format!("HTTP_{name}"), value.clone().into_bytes()));
        }
        let resp = self.service.respond(&OwnedParams(params));
        let mut sink = Collect::default();
        resp.write_head(&mut sink.out);
        let sent = self.runtime.block_on(body::send(&resp.body, &mut sink));
        if let Err(e) = sent {
            panic!("{method} {uri}: the body was cut short: {e}");
        }
        assert!(
            !sink.outside,
            "{method} {uri}: a body piece lies outside the archive"
        );
        let (status, headers, body) = parse_cgi(&sink.out);
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// A response's bytes, collected in memory.
#[derive(Default)]
struct Collect {
    out: Vec<u8>,
    /// A mapped piece was not within the mapping.
    outside: bool,
}

impl Sink for Collect {
    // Nothing else waits on this thread: inflating runs right here.
    const MAY_BLOCK: bool = true;

    fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn mapped(&mut self, archive: &Arc<Archive>, offset: u64, len: u64) {
        match archive.mapped_bytes(offset, len) {
            Some(bytes) => self.out.extend_from_slice(&bytes),
            None => self.outside = true,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One member as it goes into an archive: the bytes stored, and what its
/// headers say (method, CRC-32 and size of the decoded data).
struct Raw {
    name: String,
    stored: Vec<u8>,
    method: u16,
    crc32: u32,
    size: u32,
}

impl Raw {
    fn new(name: &str, stored: Vec<u8>, method: u16, plain: &[u8]) -> Raw {
        Raw {
            name: name.to_owned(),
            stored,
            method,
            crc32: crc32fast::hash(plain),
            size: u32::try_from(plain.len()).unwrap(),
        }
    }

    fn of(name: &str, content: &[u8], method: Method) -> Raw {
        match method {
            Method::Stored => Raw::new(name, content.to_vec(), 0, content),
            Method::Deflated => {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(content).unwrap();
                Raw::new(name, e.finish().unwrap(), 8, content)
            }
            // wwz answers 501 from the method field alone, so the plain
            // bytes under methods 12 and 14 ask what the rows ask.
            Method::Bzip2 => Raw::new(name, content.to_vec(), 12, content),
            Method::Lzma => Raw::new(name, content.to_vec(), 14, content),
        }
    }
}

/// Writes `members` (and, with `dirs`, an entry for each directory, as
/// `zip -r` does) to `path`. The `zip` crate here only stores, so a
/// compressed member is stored as its compressed bytes, then its local and
/// central headers are made to say what it is.
fn write_zip(path: &Path, dirs: bool, members: &[Raw]) {
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::from_date_and_time(2024, 1, 2, 3, 4, 4).unwrap());
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    if dirs {
        let mut names: Vec<&str> = members
            .iter()
            .flat_map(|m| m.name.match_indices('/').map(|(i, _)| &m.name[..=i]))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            w.add_directory(name, opts).unwrap();
        }
    }
    for m in members {
        w.start_file(m.name.as_str(), opts).unwrap();
        w.write_all(&m.stored).unwrap();
    }
    let mut data = w.finish().unwrap().into_inner();
    let u16_at = |d: &[u8], at: usize| usize::from(u16::from_le_bytes([d[at], d[at + 1]]));
    let u32_at = |d: &[u8], at: usize| u32::from_le_bytes(d[at..at + 4].try_into().unwrap());
    let put16 = |d: &mut [u8], at: usize, v: u16| d[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |d: &mut [u8], at: usize, v: u32| d[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let end = data.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    let mut at = u32_at(&data, end + 16) as usize;
    for _ in 0..u16_at(&data, end + 10) {
        assert_eq!(&data[at..at + 4], b"PK\x01\x02");
        let name_len = u16_at(&data, at + 28);
        let next = at + 46 + name_len + u16_at(&data, at + 30) + u16_at(&data, at + 32);
        let name = &data[at + 46..at + 46 + name_len];
        if let Some(m) = members.iter().find(|m| m.name.as_bytes() == name) {
            let local = u32_at(&data, at + 42) as usize;
            assert_eq!(u16_at(&data, local + 6) & 8, 0, "no data descriptor");
            for (method, crc, size) in [
                (at + 10, at + 16, at + 24),
                (local + 8, local + 14, local + 22),
            ] {
                put16(&mut data, method, m.method);
                put32(&mut data, crc, m.crc32);
                put32(&mut data, size, m.size);
            }
        }
        at = next;
    }
    std::fs::write(path, data).unwrap();
}

fn raws(members: &[Member]) -> Vec<Raw> {
    members
        .iter()
        .map(|(name, content, method)| Raw::of(name, content, *method))
        .collect()
}

/// The sample site, every file compressed with `method`.
fn sample_site(method: Method) -> Vec<Raw> {
    sample_files()
        .iter()
        .map(|(name, content)| Raw::of(name, content, method))
        .collect()
}

/// A docroot with the sample site as `site.wwz` (stored, directory entries,
/// like `zip -0 -r`), `py.wwz` (stored, files only, like Python's zipfile)
/// and `deflated.wwz` (like `zip -r`), and a copy of `site.wwz` named
/// [`CONTENT_ADDRESSED`].
fn sample_docroot() -> TempDir {
    let dir = tempdir();
    let site = dir.path().join("site.wwz");
    write_zip(&site, true, &sample_site(Method::Stored));
    write_zip(
        &dir.path().join("py.wwz"),
        false,
        &sample_site(Method::Stored),
    );
    write_zip(
        &dir.path().join("deflated.wwz"),
        true,
        &sample_site(Method::Deflated),
    );
    std::fs::copy(&site, dir.path().join(CONTENT_ADDRESSED)).unwrap();
    dir
}

#[test]
fn conformance_table() {
    let dir = sample_docroot();
    write_zip(
        &dir.path().join("extra.wwz"),
        false,
        &raws(&table::extra_members()),
    );
    let locked = dir.path().join("locked.wwz");
    write_zip(&locked, false, &raws(&table::locked_members()));
    table::mark_encrypted(&locked);
    let mut target = InProcess::new(dir.path(), Options::default());
    let cases = table::conformance(&mut target);
    table::run(&mut target, cases);
}

#[test]
fn cache_control_options_and_no_listing() {
    let dir = sample_docroot();
    // What `--cache-control no-cache --content-addressed --no-listing` sets.
    let opts = Options {
        cache_control: "no-cache".into(),
        immutable_cache_control: Some("public, max-age=31536000, immutable".into()),
        listing: false,
        ..Options::default()
    };
    table::run(&mut InProcess::new(dir.path(), opts), table::options());
}

fn brotli(data: &[u8], quality: u32) -> Vec<u8> {
    let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, quality, 22);
    w.write_all(data).unwrap();
    w.into_inner()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A zstd frame of `data`, written as a stream (so without the content
/// size, as the `zstd` command writes from a pipe): its window is
/// 2^`window_log` when given, else the level's.
fn zstd_frame(data: &[u8], level: i32, window_log: Option<u32>) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), level).unwrap();
    if let Some(log) = window_log {
        e.long_distance_matching(true).unwrap();
        e.window_log(log).unwrap();
    }
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn conformance_table_content_codings() {
    let dir = tempdir();
    let (page, doc) = Coded::plain();
    let coded = Coded {
        br: brotli(&page, 11),
        zst: zstd_frame(&page, 19, None),
        gz: gzip(&page),
        doc_br: brotli(&doc, 11),
        page,
        doc,
    };
    write_zip(
        &dir.path().join("coded.wwz"),
        false,
        &raws(&coded.members()),
    );
    let mut target = InProcess::new(dir.path(), Options::default());
    let cases = table::codings(&mut target, &coded);
    table::run(&mut target, cases);
}

#[test]
fn conformance_table_zstd_members() {
    let dir = tempdir();
    let text = Zstd::plain();
    let z = Zstd {
        small: zstd_frame(&text, 3, None),
        wide: zstd_frame(&text, 3, Some(24)),
        huge: zstd_frame(&text, 3, Some(26)),
        text,
    };
    let members: Vec<Raw> = z
        .members()
        .into_iter()
        .map(|(name, frame, plain)| Raw::new(name, frame.to_vec(), 93, plain))
        .collect();
    write_zip(&dir.path().join("zstd.wwz"), false, &members);
    let mut target = InProcess::new(dir.path(), Options::default());
    let cases = table::zstd(&mut target, &z);
    table::run(&mut target, cases);
}

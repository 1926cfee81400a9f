//! The pinned output of small searches, both formats, byte for byte: a
//! name match, coloured and escaped lines with marks, a NUL-sniffed binary
//! member, a member outside the directory, a last line with no newline,
//! the foot; then a search stopped by the match budget and its
//! continuation. Written before the search was split into a searcher and
//! printers, to prove the split changed no byte.

// unwrap/expect here act on inputs the tests build themselves, never on
// bytes from the network or an archive in service: a failure is the test's.

use std::io::Write as _;

use crate::archive::Archive;
use crate::http;
use crate::http::body::{self, Sink};
use crate::http::request::Format;
use crate::logs::{terminal, view};
use crate::pages::html;

/// The head of a search page for `error` in `a.wwz`, the stylesheet cut out.
const PAGE_HEAD: &str = "<!doctype html>\n\
    <html lang=\"en\">\n\
    <head>\n\
    <meta charset=\"utf-8\">\n\
    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
    <meta name=\"color-scheme\" content=\"light dark\">\n\
    <title>Search error in a.wwz</title>\n\
    <style>…</style>\n\
    </head>\n\
    <body>\n\
    <header><h1>Search in <a href=\"./\">a.wwz</a></h1>\n\
    <form class=\"search\" method=\"get\" action=\"./\" role=\"search\"><input type=\"search\" name=\"q\" value=\"error\" placeholder=\"Search names and contents\" aria-label=\"Search\"><label><input type=\"checkbox\" name=\"case\" value=\"1\"> case</label><label><input type=\"checkbox\" name=\"re\" value=\"1\"> regex</label><button>Search</button></form></header>\n\
    <main>\n";

/// Collects a body's bytes; the stream runs inline.
pub(crate) struct Collect(pub(crate) Vec<u8>);

impl Sink for Collect {
    const MAY_BLOCK: bool = true;
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn mapped(&mut self, _: &std::sync::Arc<Archive>, _: u64, _: u64) {}
    fn flush(&mut self) -> impl std::future::Future<Output = std::io::Result<()>> {
        std::future::ready(Ok(()))
    }
}

pub(crate) fn archive(members: &[(&str, &[u8])]) -> (tempfile::TempDir, std::sync::Arc<Archive>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wwz");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
    let archive = std::sync::Arc::new(Archive::open(&path).unwrap());
    (dir, archive)
}

/// The status, content type and body of a search of `dir` for `query`.
fn search(archive: &std::sync::Arc<Archive>, dir: &str, query: &str) -> (u16, String, String) {
    let q = http::Query::parse(query.as_bytes());
    let format = if q.json { Format::Json } else { Format::Html };
    let r = super::page(archive, "a.wwz", dir, &q, format, "no-cache", false);
    let mut sink = Collect(Vec::new());
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(body::send(&r.body, &mut sink))
        .unwrap();
    let content_type = r.content_type.as_deref().unwrap_or_default().to_string();
    (
        r.status.code(),
        content_type,
        String::from_utf8(sink.0).unwrap(),
    )
}

/// The page with its stylesheet checked and cut out.
fn without_style(page: &str) -> String {
    let (head, rest) = page.split_once("<style>").unwrap();
    let (style, tail) = rest.split_once("</style>").unwrap();
    let search = "section{margin:.5em 0 1em}h2{font:600 1em system-ui,sans-serif;margin:.25em 1em}h2 small{font-weight:normal}";
    assert_eq!(
        style,
        [view::STYLE, terminal::STYLE, search, html::FORM_STYLE].concat()
    );
    format!("{head}<style>…</style>{tail}")
}

fn members() -> Vec<(&'static str, &'static [u8])> {
    vec![
        (
            "ci/job 1/build.log",
            b"\x1b[1m\x1b[32m   Compiling\x1b[0m wwz\n\x1b[31mError\x1b[0m: <b> & \"error\" again\nok\n##[error]ERROR here\n",
        ),
        ("ci/error-names.txt", b"nothing to see\n"),
        ("ci/data.dat", b"error\x00error\n"),
        ("ci/tail.log", b"first\nlast error"),
        ("other/error.log", b"error\n"),
    ]
}

#[test]
fn html_result() {
    let (_dir, a) = archive(&members());
    let (status, ct, page) = search(&a, "ci/", "q=error");
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert_eq!(
        without_style(&page),
        [
            PAGE_HEAD,
            "<section><h2><a href=\"./error-names.txt?view\">error-names.txt</a> <small><a href=\"./error-names.txt\">raw</a> · name matches</small></h2>\n\
            </section>\n\
            <section><h2><a href=\"./job%201/build.log?view\">job 1/build.log</a> <small><a href=\"./job%201/build.log\">raw</a></small></h2>\n\
            <div class=\"l er\"><a href=\"./job%201/build.log?view#L2\" data-n=\"2\"></a><span class=\"x\"><span class=\"f1\"><mark>Error</mark></span>: &lt;b&gt; &amp; &quot;<mark>error</mark>&quot; again</span></div>\n\
            <div class=\"l er\"><a href=\"./job%201/build.log?view#L4\" data-n=\"4\"></a><span class=\"x\"><mark>ERROR</mark> here</span></div>\n\
            </section>\n\
            <section><h2><a href=\"./tail.log?view\">tail.log</a> <small><a href=\"./tail.log\">raw</a></small></h2>\n\
            <div class=\"l\"><a href=\"./tail.log?view#L2\" data-n=\"2\"></a><span class=\"x\">last <mark>error</mark></span></div>\n\
            </section>\n\
            </main>\n\
            <footer>4 matching lines and names in 4 members; 120 bytes read. Search complete.</footer>\n\
            </body>\n\
            </html>\n"
        ]
        .concat()
    );
}

#[test]
fn json_result() {
    let (_dir, a) = archive(&members());
    let (status, ct, page) = search(&a, "ci/", "q=E%5BR%5D%2BOR&re=1&case=1&format=json");
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/json; charset=utf-8")
    );
    assert_eq!(
        page,
        "{\"query\":\"E[R]+OR\",\"results\":[{\"member\":\"job 1/build.log\",\"kind\":\"line\",\"line\":4,\"text\":\"ERROR here\",\"level\":\"error\"}],\"matches\":1,\"members\":4,\"bytes_read\":120,\"stopped\":null}\n"
    );
    let (_, _, page) = search(&a, "ci/", "q=error&format=json");
    assert_eq!(
        page,
        "{\"query\":\"error\",\"results\":[{\"member\":\"error-names.txt\",\"kind\":\"name\"},{\"member\":\"job 1/build.log\",\"kind\":\"line\",\"line\":2,\"text\":\"Error: <b> & \\\"error\\\" again\",\"level\":\"error\"},{\"member\":\"job 1/build.log\",\"kind\":\"line\",\"line\":4,\"text\":\"ERROR here\",\"level\":\"error\"},{\"member\":\"tail.log\",\"kind\":\"line\",\"line\":2,\"text\":\"last error\"}],\"matches\":4,\"members\":4,\"bytes_read\":120,\"stopped\":null}\n"
    );
}

/// An empty text matches every line; as it stands, the empty line
/// after the last newline is listed twice.
#[test]
fn empty_text_and_bad_pattern() {
    let (_dir, a) = archive(&[("ci/a.log", b"x\n")]);
    let (_, _, page) = search(&a, "ci/", "format=json");
    assert_eq!(
        page,
        "{\"query\":\"\",\"results\":[{\"member\":\"a.log\",\"kind\":\"name\"},{\"member\":\"a.log\",\"kind\":\"line\",\"line\":1,\"text\":\"x\"},{\"member\":\"a.log\",\"kind\":\"line\",\"line\":2,\"text\":\"\"},{\"member\":\"a.log\",\"kind\":\"line\",\"line\":2,\"text\":\"\"}],\"matches\":4,\"members\":1,\"bytes_read\":2,\"stopped\":null}\n"
    );
    let (status, ct, page) = search(&a, "", "q=(&re=1");
    assert_eq!((status, ct.as_str()), (400, "text/plain; charset=utf-8"));
    assert_eq!(
        page,
        "bad pattern: regex parse error:\n    (\n    ^\n\
    error: unclosed group\n"
    );
}

#[test]
fn stopped_by_matches_and_continued() {
    let mut log = Vec::new();
    for i in 1..=1003 {
        log.extend_from_slice(format!("line {i} error\n").as_bytes());
    }
    let (_dir, a) = archive(&[("ci/big.log", &log), ("ci/z.log", b"error z\n")]);
    let last = |page: &str, item: &str| page[page.rfind(item).unwrap()..].to_string();
    let (_, _, page) = search(&a, "ci/", "q=error");
    let html_foot = last(&page, "<div");
    let (_, _, page) = search(&a, "ci/", "q=error&format=json");
    let json_foot = last(&page, "{\"member\"");
    let (_, _, json_more) = search(&a, "ci/", "q=error&format=json&from=0&skip=1000");
    let (_, _, page) = search(&a, "ci/", "q=error&from=0&skip=1000");
    let html_more = without_style(&page);
    assert_eq!(
        html_foot,
        "<div class=\"l\"><a href=\"./big.log?view#L1000\" data-n=\"1000\"></a><span class=\"x\">line 1000 <mark>error</mark></span></div>\n\
        </section>\n\
        </main>\n\
        <footer>1000 matching lines and names in 2 members; 14941 bytes read. <strong class=\"stop\">Stopped at the matches budget</strong> at member 0 — <a class=\"cont\" href=\"?q=error&amp;from=0&amp;skip=1000\">continue</a></footer>\n\
        </body>\n\
        </html>\n"
    );
    assert_eq!(
        json_foot,
        "{\"member\":\"big.log\",\"kind\":\"line\",\"line\":1000,\"text\":\"line 1000 error\"}],\"matches\":1000,\"members\":2,\"bytes_read\":14941,\"stopped\":\"matches\",\"continue\":\"?q=error&format=json&from=0&skip=1000\"}\n"
    );
    assert_eq!(
        json_more,
        "{\"query\":\"error\",\"results\":[{\"member\":\"big.log\",\"kind\":\"line\",\"line\":1001,\"text\":\"line 1001 error\"},{\"member\":\"big.log\",\"kind\":\"line\",\"line\":1002,\"text\":\"line 1002 error\"},{\"member\":\"big.log\",\"kind\":\"line\",\"line\":1003,\"text\":\"line 1003 error\"},{\"member\":\"z.log\",\"kind\":\"line\",\"line\":1,\"text\":\"error z\"}],\"matches\":4,\"members\":2,\"bytes_read\":14949,\"stopped\":null}\n"
    );
    assert_eq!(
        html_more,
        [
            PAGE_HEAD,
            "<section><h2><a href=\"./big.log?view\">big.log</a> <small><a href=\"./big.log\">raw</a></small></h2>\n\
            <div class=\"l\"><a href=\"./big.log?view#L1001\" data-n=\"1001\"></a><span class=\"x\">line 1001 <mark>error</mark></span></div>\n\
            <div class=\"l\"><a href=\"./big.log?view#L1002\" data-n=\"1002\"></a><span class=\"x\">line 1002 <mark>error</mark></span></div>\n\
            <div class=\"l\"><a href=\"./big.log?view#L1003\" data-n=\"1003\"></a><span class=\"x\">line 1003 <mark>error</mark></span></div>\n\
            </section>\n\
            <section><h2><a href=\"./z.log?view\">z.log</a> <small><a href=\"./z.log\">raw</a></small></h2>\n\
            <div class=\"l\"><a href=\"./z.log?view#L1\" data-n=\"1\"></a><span class=\"x\"><mark>error</mark> z</span></div>\n\
            </section>\n\
            </main>\n\
            <footer>4 matching lines and names in 2 members; 14949 bytes read. Search complete.</footer>\n\
            </body>\n\
            </html>\n"
        ]
        .concat()
    );
}

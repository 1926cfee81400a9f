//! FastCGI protocol behaviour of the real binary, driven by a raw client over
//! a unix socket and over TCP: keep-conn, management records, roles, aborts,
//! params framing and limits, multiplexing refusal, garbage input, large and
//! empty members, HEAD, 405, 404, redirects, FCGI_WEB_SERVER_ADDRS, and
//! archives replaced by rename under an open connection.

use std::time::Duration;

use crate::common::*;
use wwz::front::fcgi::params;
use wwz::front::fcgi::record::{self, kind, role, status};

/// Runs a scenario once over a unix socket and once over TCP.
macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn unix() {
                super::$name(super::Transport::Unix)
            }
            #[test]
            fn tcp() {
                super::$name(super::Transport::Tcp)
            }
        }
    )*};
}

both_transports!(
    keep_conn_serves_many_requests_on_one_connection,
    keep_conn_off_closes_after_end_request,
    garbage_closes_only_that_connection,
    large_members_arrive_byte_exact,
    unknown_roles_get_unknown_role,
    abort_before_params_end,
);

fn get(site: &Site, uri: &str) -> Vec<(String, Vec<u8>)> {
    nginx_params(site, "GET", uri)
}

fn assert_no_server_path(site: &Site, reply: &Reply) {
    let body = String::from_utf8_lossy(&reply.body);
    let root = site.docroot.to_str().unwrap();
    let tmp = site.dir.path().to_str().unwrap();
    assert!(
        !body.contains(root) && !body.contains(tmp) && !body.contains("/tmp"),
        "error body names a server path: {body:?}"
    );
    for (n, v) in &reply.headers {
        assert!(!v.contains(tmp), "header {n} names a server path: {v:?}");
    }
}

fn keep_conn_serves_many_requests_on_one_connection(t: Transport) {
    let site = Site::new();
    let wwz = Wwz::start(&site, t, &[]);
    let mut c = wwz.client();
    let files = [
        "index.html",
        "style.css",
        "logs/build.txt",
        "docs/index.html",
    ];
    for (i, f) in files.iter().enumerate() {
        // Ids may repeat once a request is finished; use a few.
        let id = [1, 2, 1, 7][i];
        let r = c.get(id, true, &get(&site, &format!("/site.wwz/{f}")));
        assert_eq!(r.status, 200, "{f}: {r:?}");
        assert_eq!(r.body, site.file(f), "{f}");
        assert_eq!(r.end.app_status, 0);
    }
    // Pipelined: two whole requests in one write, answered in order.
    let mut both = request_bytes(3, true, &get(&site, "/site.wwz/data/blob.bin"));
    both.extend(request_bytes(4, true, &get(&site, "/site.wwz/style.css")));
    c.send(&both);
    let a = c.read_reply(3);
    let b = c.read_reply(4);
    assert!(a.body == site.file("data/blob.bin"));
    assert_eq!(b.body, site.file("style.css"));
    // Still open: a management record is answered on the same connection.
    let mut q = Vec::new();
    params::push_pair(&mut q, b"FCGI_MPXS_CONNS", b"");
    c.send_record(kind::GET_VALUES, 0, &q);
    let rec = c.read_record();
    assert_eq!(rec.kind, kind::GET_VALUES_RESULT);
}

fn keep_conn_off_closes_after_end_request(t: Transport) {
    let site = Site::new();
    let wwz = Wwz::start(&site, t, &[]);
    let mut c = wwz.client();
    let r = c.get(1, false, &get(&site, "/site.wwz/style.css"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, site.file("style.css"));
    c.assert_closed();
    // Same with a 404 and a 301.
    for uri in ["/site.wwz/nope.txt", "/site.wwz"] {
        let mut c = wwz.client();
        let r = c.get(1, false, &get(&site, uri));
        assert!(r.status == 404 || r.status == 301, "{uri}: {r:?}");
        c.assert_closed();
    }
}

#[test]
fn get_values_answers_known_names_only() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &["--max-connections", "7"]);
    let mut c = wwz.client();
    let mut q = Vec::new();
    for name in [
        "FCGI_MAX_CONNS",
        "FCGI_MAX_REQS",
        "FCGI_MPXS_CONNS",
        "X_UNKNOWN_NAME",
    ] {
        params::push_pair(&mut q, name.as_bytes(), b"");
    }
    c.send_record(kind::GET_VALUES, 0, &q);
    let rec = c.read_record();
    assert_eq!((rec.kind, rec.id), (kind::GET_VALUES_RESULT, 0), "{rec:?}");
    let got: Vec<(String, String)> = params::pairs(&rec.content)
        .map(|p| {
            let (n, v) = p.expect("well-formed GET_VALUES_RESULT");
            (
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("FCGI_MAX_CONNS", "7"),
        ("FCGI_MAX_REQS", "7"),
        ("FCGI_MPXS_CONNS", "0"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
    // The connection is still usable for a request.
    let r = c.get(1, false, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.body, site.file("index.html"));
}

#[test]
fn unknown_management_type_gets_unknown_type() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    c.send_record(99, 0, b"whatever");
    let rec = c.read_record();
    assert_eq!(rec.kind, kind::UNKNOWN_TYPE);
    assert_eq!(rec.id, 0);
    assert_eq!(rec.content, [99, 0, 0, 0, 0, 0, 0, 0]);
    // GET_VALUES_RESULT sent to an application is just as unknown.
    c.send_record(kind::GET_VALUES_RESULT, 0, b"");
    let rec = c.read_record();
    assert_eq!(
        (rec.kind, rec.content[0]),
        (kind::UNKNOWN_TYPE, kind::GET_VALUES_RESULT)
    );
    let r = c.get(3, true, &get(&site, "/site.wwz/style.css"));
    assert_eq!(r.body, site.file("style.css"));
}

fn unknown_roles_get_unknown_role(t: Transport) {
    let site = Site::new();
    let wwz = Wwz::start(&site, t, &[]);
    for r in [role::AUTHORIZER, role::FILTER] {
        // With KEEP_CONN: refused, and the connection serves the next request.
        let mut c = wwz.client();
        let mut bytes = begin_bytes(1, r, true);
        record::push_stream(
            &mut bytes,
            kind::PARAMS,
            1,
            &encode_params(&get(&site, "/site.wwz/index.html")),
        );
        record::push_stream(&mut bytes, kind::PARAMS, 1, b"");
        record::push_stream(&mut bytes, kind::STDIN, 1, b"");
        c.send(&bytes);
        let rec = c.read_record();
        assert_eq!(
            (rec.kind, rec.id),
            (kind::END_REQUEST, 1),
            "role {r}: {rec:?}"
        );
        let end = record::EndRequest::parse(&rec.content).unwrap();
        assert_eq!(end.protocol_status, status::UNKNOWN_ROLE, "role {r}");
        let reply = c.get(2, true, &get(&site, "/site.wwz/index.html"));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, site.file("index.html"));

        // Without KEEP_CONN: refused, then closed.
        let mut c = wwz.client();
        c.send(&begin_bytes(1, r, false));
        let rec = c.read_record();
        let end = record::EndRequest::parse(&rec.content).unwrap();
        assert_eq!(
            (rec.kind, end.protocol_status),
            (kind::END_REQUEST, status::UNKNOWN_ROLE)
        );
        c.assert_closed();
    }
}

fn abort_before_params_end(t: Transport) {
    let site = Site::new();
    let wwz = Wwz::start(&site, t, &[]);
    let block = encode_params(&get(&site, "/site.wwz/index.html"));
    let (first, _) = block.split_at(block.len() / 2);

    // KEEP_CONN: END_REQUEST(REQUEST_COMPLETE) with no STDOUT, then the connection goes on.
    let mut c = wwz.client();
    c.send(&begin_bytes(5, role::RESPONDER, true));
    c.send_record(kind::PARAMS, 5, first);
    c.send_record(kind::ABORT_REQUEST, 5, b"");
    let rec = c.read_record();
    assert_eq!((rec.kind, rec.id), (kind::END_REQUEST, 5), "{rec:?}");
    let end = record::EndRequest::parse(&rec.content).unwrap();
    assert_eq!(end.protocol_status, status::REQUEST_COMPLETE);
    let r = c.get(6, true, &get(&site, "/site.wwz/style.css"));
    assert_eq!(r.body, site.file("style.css"));

    // Without KEEP_CONN: END_REQUEST, then closed.
    let mut c = wwz.client();
    c.send(&begin_bytes(5, role::RESPONDER, false));
    c.send_record(kind::PARAMS, 5, first);
    c.send_record(kind::ABORT_REQUEST, 5, b"");
    let rec = c.read_record();
    assert_eq!((rec.kind, rec.id), (kind::END_REQUEST, 5), "{rec:?}");
    c.assert_closed();
}

#[test]
fn stray_records_for_finished_requests_are_ignored() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    let mut bytes = request_bytes(1, true, &get(&site, "/site.wwz/index.html"));
    // A second empty STDIN (the fastcgi-client crate does this), a late ABORT
    // and STDIN data for an id that never began.
    record::push_stream(&mut bytes, kind::STDIN, 1, b"");
    c.send(&bytes);
    let r = c.read_reply(1);
    assert_eq!(r.body, site.file("index.html"));
    c.send_record(kind::ABORT_REQUEST, 1, b"");
    c.send_record(kind::STDIN, 9, b"stray data");
    c.send_record(kind::DATA, 9, b"");
    // The next request gets its reply and nothing else comes first
    // (read_reply fails on records for other ids).
    let r = c.get(2, true, &get(&site, "/site.wwz/style.css"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, site.file("style.css"));
}

#[test]
fn params_split_across_records_with_long_lengths() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut block = Vec::new();
    // Every length in the 4-byte form, even short ones (some encoders do this).
    let long_len = |out: &mut Vec<u8>, n: usize| {
        out.extend_from_slice(&(n as u32 | 0x8000_0000).to_be_bytes())
    };
    let mut params = get(&site, "/site.wwz/with%20space/a%20file.txt");
    params.push(("HTTP_X_LONG".into(), vec![b'x'; 300]));
    params.push(("HTTP_X_127".into(), vec![b'y'; 127]));
    params.push(("HTTP_X_128".into(), vec![b'z'; 128]));
    for (n, v) in &params {
        long_len(&mut block, n.len());
        long_len(&mut block, v.len());
        block.extend_from_slice(n.as_bytes());
        block.extend_from_slice(v);
    }
    let mut c = wwz.client();
    c.send(&begin_bytes(1, role::RESPONDER, true));
    // Records of 1, 2, 3 … bytes, so every length field is split somewhere.
    let mut rest = &block[..];
    let mut size = 1;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        c.send_record(kind::PARAMS, 1, chunk);
        rest = tail;
        size = size % 7 + 1;
    }
    c.send_record(kind::PARAMS, 1, b"");
    c.send_record(kind::STDIN, 1, b"");
    let r = c.read_reply(1);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, site.file("with space/a file.txt"));

    // The short form with odd padding works as well on the same connection.
    let block = encode_params(&get(&site, "/site.wwz/style.css"));
    let mut bytes = begin_bytes(2, role::RESPONDER, true);
    bytes.extend_from_slice(&[1, kind::PARAMS, 0, 2]);
    bytes.extend_from_slice(&(block.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&[200, 0]);
    bytes.extend_from_slice(&block);
    bytes.extend(std::iter::repeat_n(0xEE, 200));
    record::push_stream(&mut bytes, kind::PARAMS, 2, b"");
    c.send(&bytes);
    let r = c.read_reply(2);
    assert_eq!(r.body, site.file("style.css"));
}

#[test]
fn params_over_the_cap_get_431_then_close() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &["--max-params", "1024"]);
    // Under the cap: fine.
    let mut c = wwz.client();
    let r = c.get(1, true, &get(&site, "/site.wwz/style.css"));
    assert_eq!(r.status, 200);
    // Over it, spread over several records.
    let mut params = get(&site, "/site.wwz/style.css");
    params.push(("HTTP_COOKIE".into(), vec![b'c'; 3000]));
    let block = encode_params(&params);
    c.send(&begin_bytes(2, role::RESPONDER, true));
    for chunk in block.chunks(500) {
        c.send_record(kind::PARAMS, 2, chunk);
    }
    c.send_record(kind::PARAMS, 2, b"");
    c.send_record(kind::STDIN, 2, b"");
    let r = c.read_reply(2);
    assert_eq!(r.status, 431, "{r:?}");
    assert!(!r.body.is_empty());
    c.assert_closed();
    let log = wwz.proc.stderr();
    assert!(
        log.contains("431"),
        "expected a log line about the 431:\n{log}"
    );
}

#[test]
fn second_begin_mid_params_gets_cant_mpx_conn() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    let block = encode_params(&get(&site, "/site.wwz/logs/build.txt"));
    let (a, b) = block.split_at(block.len() / 2);
    c.send(&begin_bytes(1, role::RESPONDER, true));
    c.send_record(kind::PARAMS, 1, a);
    c.send(&begin_bytes(2, role::RESPONDER, true));
    let rec = c.read_record();
    assert_eq!((rec.kind, rec.id), (kind::END_REQUEST, 2), "{rec:?}");
    let end = record::EndRequest::parse(&rec.content).unwrap();
    assert_eq!(end.protocol_status, status::CANT_MPX_CONN);
    // Request 2's own records are ignored; request 1 completes normally.
    c.send_record(kind::PARAMS, 2, b"");
    c.send_record(kind::PARAMS, 1, b);
    c.send_record(kind::PARAMS, 1, b"");
    c.send_record(kind::STDIN, 1, b"");
    let r = c.read_reply(1);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, site.file("logs/build.txt"));
}

fn garbage_closes_only_that_connection(t: Transport) {
    let site = Site::new();
    let mut wwz = Wwz::start(&site, t, &[]);
    // A kept-alive FastCGI connection opened before the garbage arrives.
    let mut good = wwz.client();
    let r = good.get(1, true, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.status, 200);

    let mut bad = wwz.client();
    bad.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    bad.assert_closed();

    let r = good.get(2, true, &get(&site, "/site.wwz/style.css"));
    assert_eq!(r.body, site.file("style.css"));
    let mut fresh = wwz.client();
    let r = fresh.get(1, false, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, site.file("index.html"));

    let log = wwz.proc.stderr();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one log line for the bad connection, got:\n{log}"
    );
    assert!(lines[0].contains("FastCGI"), "{log}");
    wwz.assert_healthy(&site);
}

fn large_members_arrive_byte_exact(t: Transport) {
    let site = Site::new();
    let wwz = Wwz::start(&site, t, &[]);
    let mut c = wwz.client();
    for (i, f) in ["logs/big.txt", "data/blob.bin", "data/exact.bin"]
        .into_iter()
        .enumerate()
    {
        let want = site.file(f);
        assert!(want.len() > 65535);
        let r = c.get(i as u16 + 1, true, &get(&site, &format!("/site.wwz/{f}")));
        assert_eq!(r.status, 200, "{f}");
        assert_eq!(r.header("Content-Length"), want.len().to_string(), "{f}");
        assert!(r.body == want, "{f}: body differs ({} bytes)", r.body.len());
        // Several records, none over the limit, the empty one only at the end.
        let n = r.stdout_records.len();
        assert!(n >= 3, "{f}: {:?}", r.stdout_records);
        assert!(r.stdout_records[..n - 1]
            .iter()
            .all(|&l| l > 0 && l <= 65535));
        assert_eq!(r.stdout_records[n - 1], 0);
    }
    assert_eq!(site.file("data/exact.bin").len() % 65528, 0);
}

#[test]
fn empty_member() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    let r = c.get(1, true, &get(&site, "/site.wwz/empty.txt"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), "0");
    assert!(r.body.is_empty());
    // Only the empty end-of-stream record after the headers.
    assert_eq!(r.stdout_records.last(), Some(&0));
    let r = c.get(2, true, &get(&site, "/py.wwz/empty.txt"));
    assert_eq!((r.status, r.body.len()), (200, 0));
}

#[test]
fn stored_member_headers() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    let cases = [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("logs/build.txt", "text/plain; charset=utf-8"),
        ("data/blob.bin", "application/octet-stream"),
    ];
    let mut etags = Vec::new();
    for (i, (f, ct)) in cases.iter().enumerate() {
        let r = c.get(i as u16 + 1, true, &get(&site, &format!("/site.wwz/{f}")));
        assert_eq!(r.status, 200);
        assert!(r.header("Status").starts_with("200"), "{r:?}");
        assert_eq!(r.header("Content-Type"), *ct, "{f}");
        assert_eq!(r.header("Content-Length"), site.file(f).len().to_string());
        assert_eq!(r.header("Last-Modified"), SAMPLE_MTIME_HTTP, "{f}");
        assert_eq!(r.header("Accept-Ranges"), "bytes");
        assert_eq!(r.header("X-Content-Type-Options"), "nosniff");
        let etag = r.header("ETag").to_owned();
        assert!(
            etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
            "strong ETag expected: {etag}"
        );
        etags.push(etag);
    }
    etags.sort();
    etags.dedup();
    assert_eq!(etags.len(), cases.len(), "ETags must differ per member");
    // The same member in another archive made by another tool: same content, same ETag.
    let a = c.get(9, true, &get(&site, "/site.wwz/style.css"));
    let b = c.get(9, true, &get(&site, "/my%20site.wwz/style.css"));
    assert_eq!(a.header("ETag"), b.header("ETag"));
}

#[test]
fn head_sends_headers_only() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    let g = c.get(1, true, &get(&site, "/site.wwz/data/blob.bin"));
    let h = c.get(
        2,
        true,
        &nginx_params(&site, "HEAD", "/site.wwz/data/blob.bin"),
    );
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty(), "HEAD got {} body bytes", h.body.len());
    assert_eq!(
        h.header("Content-Length"),
        site.file("data/blob.bin").len().to_string()
    );
    for name in ["Content-Type", "Content-Length", "Last-Modified", "ETag"] {
        assert_eq!(h.header(name), g.header(name), "{name}");
    }
    let h = c.get(3, true, &nginx_params(&site, "HEAD", "/site.wwz/nope"));
    assert_eq!(h.status, 404);
    assert!(h.body.is_empty());
}

/// OPTIONS says what a resource allows (204, no body); a CORS preflight
/// needs it to succeed.
#[test]
fn options_answers_204_with_allow() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    for (id, uri) in [
        (1, "/site.wwz/index.html"),
        (2, "/site.wwz/"),
        (3, "/site.wwz/nope"),
    ] {
        let r = c.get(id, true, &nginx_params(&site, "OPTIONS", uri));
        assert_eq!(r.status, 204, "{uri}: {r:?}");
        assert_eq!(r.header("Allow"), "GET, HEAD, OPTIONS", "{uri}");
        assert!(r.body.is_empty(), "{uri}");
    }
}

#[test]
fn other_methods_get_405() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    for (i, m) in ["POST", "PUT", "DELETE", "PATCH", "get"]
        .into_iter()
        .enumerate()
    {
        let id = i as u16 + 1;
        let mut params = nginx_params(&site, m, "/site.wwz/index.html");
        params.push(("CONTENT_LENGTH".into(), b"11".to_vec()));
        let mut bytes = begin_bytes(id, role::RESPONDER, true);
        record::push_stream(&mut bytes, kind::PARAMS, id, &encode_params(&params));
        record::push_stream(&mut bytes, kind::PARAMS, id, b"");
        // A request body, which must be drained, not mistaken for records.
        record::push_stream(&mut bytes, kind::STDIN, id, b"hello=world");
        record::push_stream(&mut bytes, kind::STDIN, id, b"");
        c.send(&bytes);
        let r = c.read_reply(id);
        assert_eq!(r.status, 405, "{m}: {r:?}");
        assert_eq!(r.header("Allow"), "GET, HEAD, OPTIONS");
    }
    let r = c.get(9, true, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.body, site.file("index.html"));
}

#[test]
fn missing_members_and_archives_get_404_naming_no_path() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    for uri in [
        "/site.wwz/no-such-file.html",
        "/site.wwz/docs/deep/missing/",
        "/missing.wwz/index.html",
        "/sub/missing.wwz/",
        "/not-an-archive.html",
    ] {
        let r = c.get(1, true, &get(&site, uri));
        assert_eq!(r.status, 404, "{uri}: {r:?}");
        assert!(!r.body.is_empty());
        assert_no_server_path(&site, &r);
    }
    // A traversal attempt is refused and names nothing either.
    let r = c.get(1, true, &get(&site, "/site.wwz/../../../etc/passwd"));
    assert!(r.status == 400 || r.status == 404, "{r:?}");
    assert_no_server_path(&site, &r);
}

#[test]
fn bare_archive_redirects_keeping_the_query() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    let cases = [
        ("/site.wwz?a=1&b=two", "./site.wwz/?a=1&b=two"),
        ("/site.wwz", "./site.wwz/"),
        ("/sub/nested.wwz", "./nested.wwz/"),
        ("/my%20site.wwz", "./my%20site.wwz/"),
    ];
    for (uri, loc) in cases {
        let r = c.get(1, true, &get(&site, uri));
        assert_eq!(r.status, 301, "{uri}: {r:?}");
        assert_eq!(r.header("Location"), loc, "{uri}");
    }
    // A directory member without its slash redirects the same way.
    let r = c.get(1, true, &get(&site, "/site.wwz/docs?x=1"));
    assert_eq!(r.status, 301, "{r:?}");
    assert_eq!(r.header("Location"), "./docs/?x=1");
}

#[test]
fn directory_urls_serve_index_html() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    for (uri, file) in [
        ("/site.wwz/", "index.html"),
        ("/site.wwz/docs/", "docs/index.html"),
        ("/sub/nested.wwz/", "index.html"),
        ("/py.wwz/", "index.html"),
        ("/py.wwz/docs/", "docs/index.html"),
    ] {
        let r = c.get(1, true, &get(&site, uri));
        assert_eq!(r.status, 200, "{uri}: {r:?}");
        assert_eq!(r.header("Content-Type"), "text/html; charset=utf-8");
        assert_eq!(r.body, site.file(file), "{uri}");
    }
}

#[test]
fn python_zipfile_archive_serves_every_file() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut c = wwz.client();
    for (rel, content) in &site.files {
        let uri = format!("/py.wwz/{}", url_encode_path(rel));
        let r = c.get(1, true, &get(&site, &uri));
        assert_eq!(r.status, 200, "{uri}: {r:?}");
        assert!(&r.body == content, "{rel}: body differs");
    }
}

#[test]
fn split_params_and_document_root_routing() {
    let site = Site::new();
    // No --docroot: each request's DOCUMENT_ROOT is used.
    let wwz = Wwz::start_raw(&site, Transport::Unix, &[], &[]);
    let mut c = wwz.client();
    let root = site.docroot.to_str().unwrap();
    // mod_fcgid / lighttpd shape: SCRIPT_FILENAME at the archive, decoded PATH_INFO.
    let params: Vec<(String, Vec<u8>)> = vec![
        ("REQUEST_METHOD".into(), b"GET".to_vec()),
        ("DOCUMENT_ROOT".into(), root.into()),
        (
            "SCRIPT_FILENAME".into(),
            format!("{root}/my site.wwz").into_bytes(),
        ),
        ("SCRIPT_NAME".into(), b"/my site.wwz".to_vec()),
        ("PATH_INFO".into(), b"/with space/a file.txt".to_vec()),
        (
            "REQUEST_URI".into(),
            b"/my%20site.wwz/with%20space/a%20file.txt".to_vec(),
        ),
    ];
    let r = c.get(1, true, &params);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, site.file("with space/a file.txt"));
    // Plain REQUEST_URI, percent-encoded once.
    let r = c.get(
        2,
        true,
        &get(&site, "/my%20site.wwz/with%20space/a%20file.txt?q=1"),
    );
    assert_eq!(r.body, site.file("with space/a file.txt"));
    // Without any docroot the request is a server fault, not a crash.
    let r = c.get(
        3,
        true,
        &[
            ("REQUEST_METHOD".into(), b"GET".to_vec()),
            ("REQUEST_URI".into(), b"/site.wwz/index.html".to_vec()),
        ],
    );
    assert_eq!(r.status, 500, "{r:?}");
}

#[test]
fn deflated_members_do_not_disturb_the_server() {
    let site = Site::new();
    let mut wwz = Wwz::start(&site, Transport::Unix, &[]);
    // Gzip passthrough is on its way: only the framing and survival are asserted here.
    for (i, f) in ["logs/big.txt", "index.html", "data/blob.bin"]
        .into_iter()
        .enumerate()
    {
        let mut c = wwz.client();
        let mut params = get(&site, &format!("/deflated.wwz/{f}"));
        if i == 1 {
            params.push(("HTTP_ACCEPT_ENCODING".into(), b"gzip".to_vec()));
        }
        let r = c.get(1, false, &params);
        assert!(r.status >= 200, "{f}: {r:?}");
        c.assert_closed();
    }
    wwz.assert_healthy(&site);
}

#[test]
fn fcgi_web_server_addrs_allows_listed_peers() {
    let site = Site::new();
    let wwz = Wwz::start_env(
        &site,
        Transport::Tcp,
        &[],
        &[("FCGI_WEB_SERVER_ADDRS", "10.9.8.7, 127.0.0.1")],
    );
    let mut c = wwz.client();
    let r = c.get(1, true, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, site.file("index.html"));
}

#[test]
fn fcgi_web_server_addrs_does_not_apply_to_unix_sockets() {
    let site = Site::new();
    let wwz = Wwz::start_env(
        &site,
        Transport::Unix,
        &[],
        &[("FCGI_WEB_SERVER_ADDRS", "192.0.2.1")],
    );
    let r = wwz
        .client()
        .get(1, false, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.body, site.file("index.html"));
}

#[test]
fn fcgi_web_server_addrs_refuses_other_peers() {
    let site = Site::new();
    let mut wwz = Wwz::start_env(
        &site,
        Transport::Tcp,
        &[],
        &[("FCGI_WEB_SERVER_ADDRS", "10.9.8.7,192.0.2.1")],
    );
    let mut c = wwz.client();
    // Send the request, then expect the connection to end with no record at all.
    let bytes = request_bytes(1, true, &get(&site, "/site.wwz/index.html"));
    let _ = std::io::Write::write_all(&mut c.stream, &bytes);
    c.assert_closed();
    wwz.proc.assert_running();
    let log = wwz.proc.stderr();
    assert!(
        log.contains("FCGI_WEB_SERVER_ADDRS") && log.contains("127.0.0.1"),
        "expected a log line naming the refused peer:\n{log}"
    );
}

/// Replaces `docroot/swap.wwz` by a rename of a freshly made archive.
fn deploy(site: &Site, version: &str) {
    let tmp = site.path(&format!("swap-{version}.zip"));
    let body = format!("version {version}\n");
    zip_files(
        &tmp,
        &[("v.txt", body.as_bytes()), ("same.txt", b"unchanged\n")],
    );
    std::fs::rename(&tmp, site.docroot.join("swap.wwz")).unwrap();
}

fn replaced_archive_on_one_connection(extra: &[&str], pause: Duration) {
    let site = Site::new();
    deploy(&site, "one");
    let wwz = Wwz::start(&site, Transport::Unix, extra);
    let mut c = wwz.client();
    let r1 = c.get(1, true, &get(&site, "/swap.wwz/v.txt"));
    assert_eq!(r1.body, b"version one\n");
    let s1 = c.get(1, true, &get(&site, "/swap.wwz/same.txt"));
    deploy(&site, "two, longer");
    // Stays a sleep: the revalidation interval elapsing is the thing under test.
    std::thread::sleep(pause);
    let r2 = c.get(2, true, &get(&site, "/swap.wwz/v.txt"));
    assert_eq!(r2.status, 200);
    assert_eq!(r2.body, b"version two, longer\n");
    assert_eq!(r2.header("Content-Length"), "20");
    assert_ne!(r1.header("ETag"), r2.header("ETag"));
    let s2 = c.get(3, true, &get(&site, "/swap.wwz/same.txt"));
    assert_eq!(s2.body, b"unchanged\n");
    assert_eq!(s1.body, s2.body);
}

#[test]
fn replaced_archive_is_seen_on_the_same_connection_revalidate_0() {
    replaced_archive_on_one_connection(&["--revalidate-ms", "0"], Duration::ZERO);
}

#[test]
fn replaced_archive_is_seen_on_the_same_connection_default_interval() {
    replaced_archive_on_one_connection(&[], Duration::from_millis(300));
}

/// Asks for `uri` until its body is `want` (a change learnt from inotify
/// arrives on another thread, a moment after the rename).
fn wait_for_body(c: &mut Client, site: &Site, uri: &str, want: &[u8]) {
    let last = std::cell::RefCell::new(String::new());
    wait_until_or(
        &format!("{uri} to answer the new body"),
        WAIT,
        || {
            let r = c.get(4, true, &get(site, uri));
            *last.borrow_mut() = format!("{} {:?}", r.status, String::from_utf8_lossy(&r.body));
            r.status == 200 && r.body == want
        },
        || format!(": still {}", last.borrow()),
    );
}

/// With inotify, an open archive whose path does not change is never checked
/// with `stat`, however short --revalidate-ms; without it, it is.
#[test]
fn unchanged_archives_cost_no_stat_when_watched() {
    let site = Site::new();
    deploy(&site, "one");
    let status = ["--status-path", "/wwz-status", "--revalidate-ms", "1"];
    for (watch, extra) in [(true, &[][..]), (false, &["--no-watch"][..])] {
        let args: Vec<&str> = status.iter().chain(extra).copied().collect();
        let wwz = Wwz::start(&site, Transport::Unix, &args);
        let mut c = wwz.client();
        for i in 0..20 {
            let r = c.get(1, true, &get(&site, "/swap.wwz/v.txt"));
            assert_eq!(r.body, b"version one\n", "request {i}");
            // Longer than --revalidate-ms: a check by time would be due each time.
            std::thread::sleep(Duration::from_millis(3));
        }
        let checks = wwz.status_figure(&site, "cache_revalidations");
        if watch {
            assert_eq!(checks, 0, "watched archive checked {checks} times");
        } else {
            assert!(
                checks >= 10,
                "unwatched archive checked only {checks} times"
            );
        }
    }
}

/// A rename deploy, of an archive or of the directory holding it, is seen
/// although the interval would not check the file for an hour: the change
/// notice (inotify) makes the next request look.
#[test]
fn rename_deploys_are_seen_through_change_notices() {
    let site = Site::new();
    deploy(&site, "one");
    let jobs = site.docroot.join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    zip_files(&jobs.join("log.wwz"), &[("build.txt", b"run 1\n")]);
    let wwz = Wwz::start(&site, Transport::Unix, &["--revalidate-ms", "3600000"]);
    let mut c = wwz.client();
    assert_eq!(
        c.get(1, true, &get(&site, "/swap.wwz/v.txt")).body,
        b"version one\n"
    );
    assert_eq!(
        c.get(2, true, &get(&site, "/jobs/log.wwz/build.txt")).body,
        b"run 1\n"
    );

    deploy(&site, "two");
    wait_for_body(&mut c, &site, "/swap.wwz/v.txt", b"version two\n");

    // The whole directory swapped: a new `jobs` with a new archive of the same name.
    let next = site.docroot.join("jobs.next");
    std::fs::create_dir(&next).unwrap();
    zip_files(&next.join("log.wwz"), &[("build.txt", b"run 2\n")]);
    std::fs::rename(&jobs, site.docroot.join("jobs.old")).unwrap();
    std::fs::rename(&next, &jobs).unwrap();
    wait_for_body(&mut c, &site, "/jobs/log.wwz/build.txt", b"run 2\n");

    // And once more in the new directory (watched afresh after the swap).
    let tmp = jobs.join("log.tmp");
    zip_files(&tmp, &[("build.txt", b"run 3\n")]);
    std::fs::rename(&tmp, jobs.join("log.wwz")).unwrap();
    wait_for_body(&mut c, &site, "/jobs/log.wwz/build.txt", b"run 3\n");
}

/// --cache-memory closes the least recently used archives when their
/// indexes together pass it; every request is still answered.
#[test]
fn cache_memory_bounds_the_open_archives() {
    let site = Site::new();
    let names: Vec<String> = (0..50).map(|i| format!("page-{i:03}.txt")).collect();
    for a in 0..20 {
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), n.as_bytes())).collect();
        zip_files(&site.docroot.join(format!("a{a}.wwz")), &files);
    }
    let budget = 20_000;
    let wwz = Wwz::start(
        &site,
        Transport::Unix,
        &[
            "--status-path",
            "/wwz-status",
            "--cache-memory",
            &budget.to_string(),
        ],
    );
    let mut c = wwz.client();
    for round in 0..2 {
        for a in 0..20 {
            let r = c.get(1, true, &get(&site, &format!("/a{a}.wwz/page-007.txt")));
            assert_eq!(
                (r.status, &r.body[..]),
                (200, &b"page-007.txt"[..]),
                "round {round}, a{a}"
            );
        }
    }
    let open = wwz.status_figure(&site, "archives_open");
    let bytes = wwz.status_figure(&site, "archive_index_bytes");
    let evicted = wwz.status_figure(&site, "cache_evictions");
    eprintln!("{open} archives open, {bytes} index bytes, {evicted} evictions");
    assert!((1..20).contains(&open), "{open} archives open");
    assert!(
        bytes <= budget,
        "{bytes} index bytes over --cache-memory {budget}"
    );
    assert!(evicted >= 20, "{evicted} evictions");
}

#[test]
fn archive_truncated_in_place_costs_only_the_affected_request() {
    // Invariant 2 of DESIGN.md: mapped member bytes are only handed to the
    // kernel, so a file truncated under the mapping makes writev fail with
    // EFAULT instead of killing the process with SIGBUS.
    let site = Site::new();
    // A long revalidation interval keeps the old mapping in use after the truncation.
    let mut wwz = Wwz::start(
        &site,
        Transport::Unix,
        &["--revalidate-ms", "600000", "--no-watch"],
    );
    let path = site.docroot.join("site.wwz");
    let r = wwz
        .client()
        .get(1, false, &get(&site, "/site.wwz/data/blob.bin"));
    assert_eq!(r.body, site.file("data/blob.bin"));

    // Cut the file 64 KiB into blob.bin's data: its local header stays, most data goes.
    let bytes = std::fs::read(&path).unwrap();
    let name_at = bytes
        .windows(b"data/blob.bin".len())
        .position(|w| w == b"data/blob.bin")
        .expect("local header of data/blob.bin");
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_len((name_at + 64 * 1024) as u64).unwrap();
    drop(f);

    let mut c = wwz.client();
    c.send(&request_bytes(
        1,
        false,
        &get(&site, "/site.wwz/data/blob.bin"),
    ));
    // Either the connection ends mid-body, or a complete non-200 answer arrives;
    // never a complete 200, since the old bytes no longer exist.
    let raw = c.read_until_closed();
    let mut rest = &raw[..];
    let mut stdout = Vec::new();
    let mut ended = false;
    while let Ok(Some((rec, used))) = record::decode(rest) {
        match rec.kind {
            kind::STDOUT => stdout.extend_from_slice(rec.content),
            kind::END_REQUEST => ended = true,
            other => panic!("unexpected record type {other}"),
        }
        rest = &rest[used..];
    }
    if ended {
        let (status, _, _) = parse_cgi(&stdout);
        assert_ne!(status, 200, "a truncated archive produced a complete 200");
    } else {
        assert!(stdout.len() < site.file("data/blob.bin").len());
    }

    wwz.proc.assert_running();
    let r = wwz
        .client()
        .get(1, false, &get(&site, "/my%20site.wwz/data/blob.bin"));
    assert_eq!(r.status, 200);
    assert!(r.body == site.file("data/blob.bin"));
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let site = Site::new();
    let mut wwz = Wwz::start(&site, Transport::Unix, &["--idle-timeout", "1"]);
    // Connected and silent.
    let mut silent = wwz.client();
    // Stuck mid-request (a slow client that never finishes its params).
    let mut stuck = wwz.client();
    stuck.send(&begin_bytes(1, role::RESPONDER, true));
    stuck.send_record(kind::PARAMS, 1, b"\x0e\x03REQUEST_METHOD");
    // Kept alive after a response.
    let mut kept = wwz.client();
    let r = kept.get(1, true, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.status, 200);
    // Each is closed by the server within the client's read timeout.
    silent.assert_closed();
    stuck.assert_closed();
    kept.assert_closed();
    wwz.assert_healthy(&site);
}

/// At the limit, a connection idle between requests makes room for a new
/// one, as nginx reuses keep-alive connections (issue 13; before, the new
/// connection waited in the backlog until the idle one timed out).
#[test]
fn max_connections_closes_the_idle_connection_for_a_new_one() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &["--max-connections", "1"]);
    let mut first = wwz.client();
    let r = first.get(1, true, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.status, 200);
    let mut second = wwz.client();
    let r = second.get(1, false, &get(&site, "/site.wwz/style.css"));
    assert_eq!(r.body, site.file("style.css"));
    first.assert_closed();
}

/// A connection in the middle of a request is never closed to make room: the
/// new connection waits until the request is answered and its connection
/// turns idle, then takes its place.
#[test]
fn max_connections_holds_new_connections_back_while_all_are_busy() {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &["--max-connections", "1"]);
    let mut first = wwz.client();
    // Mid-request: BEGIN_REQUEST and some params, not their end.
    first.send(&begin_bytes(1, role::RESPONDER, true));
    first.send_record(
        kind::PARAMS,
        1,
        &encode_params(&get(&site, "/site.wwz/index.html")),
    );
    let mut second = wwz.client();
    second.send(&request_bytes(1, false, &get(&site, "/site.wwz/style.css")));
    // Nothing must arrive: the window in which a wrong close would show
    // widens with the load, so a slow machine does not make it vacuous.
    if let Stream::Unix(s) = &second.stream {
        s.set_read_timeout(Some(patience(Duration::from_millis(300))))
            .unwrap();
    }
    match second.try_read_record() {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("a busy connection was closed for a new one: {other:?}"),
    }
    // The first request completes whole; then its connection makes room.
    first.send_record(kind::PARAMS, 1, &[]);
    let r = first.read_reply(1);
    assert_eq!(r.body, site.file("index.html"));
    stretch_timeouts(&second.stream);
    let r = second.read_reply(1);
    assert_eq!(r.body, site.file("style.css"));
    first.assert_closed();
}

#[test]
fn sigterm_closes_idle_connections_and_exits_0() {
    let site = Site::new();
    let mut wwz = Wwz::start(&site, Transport::Unix, &[]);
    let mut kept = wwz.client();
    let r = kept.get(1, true, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.status, 200);
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our child.
    let rc = unsafe { libc::kill(wwz.proc.child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    kept.assert_closed();
    let status = wwz
        .proc
        .wait_exit(WAIT)
        .expect("wwz did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", wwz.proc.stderr());
}

/// `wwz serve --listen 0.0.0.0:PORT` (with `args` and `env`), stderr to a file.
fn serve_exposed(site: &Site, port: u16, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Proc {
    let mut cmd = std::process::Command::new(wwz_bin());
    cmd.args(["serve", "--listen", &format!("0.0.0.0:{port}")])
        .args(args)
        .env_remove("FCGI_WEB_SERVER_ADDRS")
        .env_remove("WWZ_DOCROOT")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    spawn(
        cmd,
        "wwz exposed",
        site.path(&format!("exposed-{port}.stderr")),
    )
}

/// A TCP address other hosts can reach, with neither an allow-list nor a
/// docroot, would let any peer name any DOCUMENT_ROOT: wwz refuses to start
/// (one line naming both remedies, exit status 2). Either remedy, or a
/// loopback address, starts it as before.
#[test]
fn a_non_loopback_listen_without_allow_list_or_docroot_refuses_to_start() {
    let site = Site::new();
    let mut refused = serve_exposed(&site, 0, &[], &[]);
    let status = refused.wait_exit(WAIT);
    let log = refused.stderr();
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{log}");
    assert_eq!(log.lines().count(), 1, "one line:\n{log}");
    assert!(
        log.contains("FCGI_WEB_SERVER_ADDRS") && log.contains("--docroot"),
        "names both remedies:\n{log}"
    );
    // An empty allow-list allows every peer: refused too.
    let mut refused = serve_exposed(&site, 0, &[], &[("FCGI_WEB_SERVER_ADDRS", " ")]);
    assert_eq!(refused.wait_exit(WAIT).and_then(|s| s.code()), Some(2));

    let docroot = ["--docroot".as_ref(), site.docroot.as_os_str()];
    for (args, env) in [
        (&docroot[..], &[][..]),
        (&[][..], &[("FCGI_WEB_SERVER_ADDRS", "127.0.0.1")][..]),
    ] {
        let port = free_port();
        let mut proc = serve_exposed(&site, port, args, env);
        wait_for(&Addr::Tcp(([127, 0, 0, 1], port).into()), &mut proc);
        let params = get(&site, "/site.wwz/index.html");
        let r = Client::connect(&Addr::Tcp(([127, 0, 0, 1], port).into())).get(1, false, &params);
        assert_eq!(r.body, site.file("index.html"), "{args:?} {env:?}");
    }
    // Loopback without either: unchanged.
    let wwz = Wwz::start_raw(&site, Transport::Tcp, &[], &[]);
    let r = wwz
        .client()
        .get(1, false, &get(&site, "/site.wwz/index.html"));
    assert_eq!(r.body, site.file("index.html"));
}

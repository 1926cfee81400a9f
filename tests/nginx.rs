//! wwz behind a real nginx, configured with the snippet users are given
//! (`tools/servers/nginx.conf`, included verbatim), fetched with curl:
//! every file of the sample site byte for byte, headers, 404, HEAD, and a
//! percent-encoded space, with and without FastCGI keep-alive.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::nginx::{Diagnostics, Nginx};
use crate::common::{self, *};

/// The documented snippet, which the test config includes.
fn snippet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx.conf")
}

fn start_nginx(site: &Site, wwz_sock: &Path, keep_conn: bool) -> Nginx {
    start_nginx_with(site, wwz_sock, keep_conn, "")
}

/// nginx with the documented snippet and `extra` in the server block.
fn start_nginx_with(site: &Site, wwz_sock: &Path, keep_conn: bool, extra: &str) -> Nginx {
    let server = format!("include {};\n        {extra}", snippet().display());
    common::nginx::start(site, wwz_sock, keep_conn, &server)
}

/// A wwz daemon behind nginx (keep-alive upstream) with the documented
/// snippet and `extra` in the server block; both logs shown if the test fails.
fn wwz_behind_nginx(site: &Site, extra: &str) -> (Wwz, Nginx, Diagnostics) {
    let wwz = Wwz::start(site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &wwz.addr else {
        unreachable!()
    };
    let nginx = start_nginx_with(site, sock, true, extra);
    let diag = Diagnostics(vec![
        ("nginx error log", nginx.error_log.clone()),
        ("wwz stderr", wwz.proc.stderr_path.clone()),
    ]);
    (wwz, nginx, diag)
}

/// `curl -s -i` (or `-I` for HEAD) of one URL path.
fn fetch(port: u16, path: &str, head: bool) -> HttpResponse {
    curl_get(port, path, if head { &["-I"] } else { &[] })
}

fn through_nginx(keep_conn: bool) {
    let site = Site::new();
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &wwz.addr else {
        unreachable!()
    };
    let mut nginx = start_nginx(&site, sock, keep_conn);
    let _diag = Diagnostics(vec![
        ("nginx error log", nginx.error_log.clone()),
        ("nginx stderr", nginx.proc.stderr_path.clone()),
        ("wwz stderr", wwz.proc.stderr_path.clone()),
    ]);
    let port = nginx.port;

    // Every file, from archives made by Info-ZIP (zip -0 -r) and Python's zipfile.
    curl_fetch_all(&site, port, "site.wwz", &[]);
    curl_fetch_all(&site, port, "py.wwz", &[]);

    // The headers of one response as nginx passes them on.
    let r = fetch(port, "/site.wwz/index.html", false);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Content-Type"), "text/html; charset=utf-8");
    assert_eq!(
        r.header("Content-Length"),
        site.file("index.html").len().to_string()
    );
    assert_eq!(r.header("Last-Modified"), SAMPLE_MTIME_HTTP);
    let etag = r.header("ETag");
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2);
    assert_eq!(r.header("Accept-Ranges"), "bytes");
    assert_eq!(r.header("X-Content-Type-Options"), "nosniff");
    assert!(r.opt_header("Status").is_none(), "Status leaked: {r:?}");
    assert_eq!(r.body, site.file("index.html"));
    let etag = etag.to_owned();

    // HEAD: the same headers, no body.
    let h = fetch(port, "/site.wwz/index.html", true);
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    assert_eq!(h.header("ETag"), etag);
    assert_eq!(h.header("Content-Length"), r.header("Content-Length"));
    assert_eq!(h.header("Last-Modified"), SAMPLE_MTIME_HTTP);

    // 404 for a missing member and a missing archive, naming no server path.
    for path in ["/site.wwz/no/such/file.txt", "/missing.wwz/index.html"] {
        let r = fetch(port, path, false);
        assert_eq!(r.status, 404, "{path}: {r:?}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains(site.docroot.to_str().unwrap()), "{body}");
    }

    // Percent-encoded spaces in the archive and member names.
    let r = fetch(port, "/my%20site.wwz/with%20space/a%20file.txt", false);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, site.file("with space/a file.txt"));
    assert_eq!(r.header("Content-Type"), "text/plain; charset=utf-8");

    // Directory and bare-archive URLs.
    let r = fetch(port, "/site.wwz/docs/", false);
    assert_eq!(r.body, site.file("docs/index.html"));
    let r = fetch(port, "/sub/nested.wwz?x=1", false);
    assert_eq!(r.status, 301, "{r:?}");
    assert_eq!(r.header("Location"), "./nested.wwz/?x=1");

    // Whether nginx kept its upstream connections: with keep-conn it holds an
    // idle one open; without, wwz closes each after its END_REQUEST.
    if keep_conn {
        let open = connected_unix_sockets(sock);
        assert!(open >= 1, "no kept-alive upstream connection ({open})");
    } else {
        wait_until(
            "upstream connections to close without keep-conn",
            WAIT,
            || connected_unix_sockets(sock) == 0,
        );
    }

    nginx.proc.assert_running();
    let errors = std::fs::read_to_string(&nginx.error_log).unwrap_or_default();
    assert!(
        !errors.contains("[error]") && !errors.contains("[crit]"),
        "nginx logged errors:\n{errors}"
    );
}

#[test]
fn nginx_without_keep_conn() {
    through_nginx(false);
}

#[test]
fn nginx_with_keep_conn_and_upstream_keepalive() {
    through_nginx(true);
}

/// Python's zipfile with ZIP_DEFLATED (DOS times only, no directory entries).
fn python_zip_deflated(src: &Path, out: &Path) {
    let status = Command::new(require_tool("python3", "python3"))
        .arg("-c")
        .arg(
            "import os, sys, zipfile\n\
             src, out = sys.argv[1], sys.argv[2]\n\
             with zipfile.ZipFile(out, 'w', compression=zipfile.ZIP_DEFLATED) as z:\n\
             \x20   for d, ds, fs in os.walk(src):\n\
             \x20       for f in sorted(fs):\n\
             \x20           p = os.path.join(d, f)\n\
             \x20           z.write(p, os.path.relpath(p, src))\n",
        )
        .arg(src)
        .arg(out)
        .status()
        .expect("run python3");
    assert!(status.success());
}

/// Revalidation, ranges and compressed members as a browser or curl sees
/// them through nginx (which applies neither 304 nor Range to FastCGI
/// responses itself), for archives from Info-ZIP `zip -r` (deflated, UT
/// times) and Python's zipfile (deflated, DOS times).
#[test]
fn http_semantics_through_nginx() {
    let site = Site::new();
    python_zip_deflated(&site.src, &site.docroot.join("pydeflated.wwz"));
    let (_wwz, nginx, _diag) = wwz_behind_nginx(&site, "");
    let port = nginx.port;
    let log = site.file("logs/build.txt");

    // 304 on revalidation, by ETag and by date.
    let first = fetch(port, "/site.wwz/logs/build.txt", false);
    assert_eq!(first.status, 200);
    let etag = first.header("ETag").to_owned();
    let again = curl_get(
        port,
        "/site.wwz/logs/build.txt",
        &["-H", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(again.status, 304, "{again:?}");
    assert!(again.body.is_empty());
    assert_eq!(again.header("ETag"), etag);
    let since = curl_get(
        port,
        "/site.wwz/logs/build.txt",
        &["-H", &format!("If-Modified-Since: {SAMPLE_MTIME_HTTP}")],
    );
    assert_eq!(since.status, 304, "{since:?}");

    // 206 for a range, and 416 past the end.
    let part = curl_get(port, "/site.wwz/logs/build.txt", &["-r", "100-199"]);
    assert_eq!(part.status, 206, "{part:?}");
    assert_eq!(
        part.header("Content-Range"),
        format!("bytes 100-199/{}", log.len())
    );
    assert_eq!(part.body, &log[100..200]);
    let past = curl_get(port, "/site.wwz/logs/build.txt", &["-r", "99999-"]);
    assert_eq!(past.status, 416, "{past:?}");

    for archive in ["deflated.wwz", "pydeflated.wwz"] {
        for (rel, content) in &site.files {
            let path = format!("/{archive}/{}", url_encode_path(rel));
            // gzip passthrough, decoded by curl.
            let gz = curl_get(port, &path, &["--compressed"]);
            assert_eq!(gz.status, 200, "{path}: {gz:?}");
            assert_eq!(&gz.body, content, "{path}: gunzipped body differs");
            // Without Accept-Encoding: inflated by wwz.
            let plain = fetch(port, &path, false);
            assert_eq!(&plain.body, content, "{path}: inflated body differs");
            assert!(plain.opt_header("Content-Encoding").is_none());
        }
        // The raw gzip body passes gzip -t.
        let raw = curl_get(
            port,
            &format!("/{archive}/data/blob.bin"),
            &["-H", "Accept-Encoding: gzip"],
        );
        assert_eq!(raw.header("Content-Encoding"), "gzip");
        assert_eq!(raw.header("Vary"), "Accept-Encoding");
        let gz_path = site.path(&format!("{archive}.blob.gz"));
        std::fs::write(&gz_path, &raw.body).unwrap();
        let test = Command::new(require_tool("gzip", "gzip"))
            .arg("-t")
            .arg(&gz_path)
            .status()
            .unwrap();
        assert!(
            test.success(),
            "gzip -t rejects the passthrough body of {archive}"
        );
        // A range of a deflated member is a range of its bytes.
        let part = curl_get(
            port,
            &format!("/{archive}/logs/build.txt"),
            &["-r", "10-19"],
        );
        assert_eq!(part.status, 206);
        assert_eq!(part.body, &log[10..20]);
    }

    // Browsing a CI-style archive: deflated logs in nested directories, no index.html.
    let ci_src = site.path("ci");
    for job in ["job-1", "job-2"] {
        std::fs::create_dir_all(ci_src.join("logs").join(job)).unwrap();
        std::fs::write(
            ci_src.join("logs").join(job).join("build.log"),
            log_text(20_000),
        )
        .unwrap();
    }
    zip_deflated(&ci_src, &site.docroot.join("ci.wwz"));
    let root = fetch(port, "/ci.wwz", false);
    assert_eq!(root.status, 301);
    let listing = fetch(port, "/ci.wwz/", false);
    let html = String::from_utf8_lossy(&listing.body);
    assert!(html.contains("href=\"./logs/\""), "{html}");
    let logs = fetch(port, "/ci.wwz/logs/", false);
    assert!(String::from_utf8_lossy(&logs.body).contains("href=\"./job-2/\""));
    let job = fetch(port, "/ci.wwz/logs/job-2/", false);
    assert!(String::from_utf8_lossy(&job.body).contains("href=\"./build.log\""));
    let log = curl_get(port, "/ci.wwz/logs/job-2/build.log", &["--compressed"]);
    assert_eq!(log.body, log_text(20_000));
    let tag = log.header("ETag").to_owned();
    let revalidated = curl_get(
        port,
        "/ci.wwz/logs/job-2/build.log",
        &["--compressed", "-H", &format!("If-None-Match: {tag}")],
    );
    assert_eq!(revalidated.status, 304);
    let tail = curl_get(port, "/ci.wwz/logs/job-2/build.log", &["-r", "-100"]);
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, &log_text(20_000)[20_000 - 100..]);
}

/// wwz started with `args` behind nginx with the documented snippet and the
/// localhost-only status recipe (`tools/servers/nginx-status.conf`).
fn behind_nginx_with_status_recipe(site: &Site, args: &[&str]) -> (Wwz, Nginx) {
    let w = Wwz::start(site, Transport::Unix, args);
    let Addr::Unix(sock) = &w.addr else {
        unreachable!()
    };
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx-status.conf");
    let nginx = start_nginx_with(site, sock, true, &format!("include {};", recipe.display()));
    (w, nginx)
}

/// One figure of the status page's `?json` body.
fn status_figure(body: &[u8], key: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(body).expect("status JSON");
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// The status page through nginx with the localhost-only recipe
/// (`tools/servers/nginx-status.conf`): text, `?json` and `?openmetrics`
/// (parsed by Python's prometheus_client OpenMetrics parser), counters that
/// move as requests are made, the text format for an unknown query, 403 from
/// another address, and a plain 404 when the option is off.
#[test]
fn status_page_through_nginx() {
    let site = Site::new();
    let (_w, nginx) = behind_nginx_with_status_recipe(&site, &["--status-path", "/wwz-status"]);
    let port = nginx.port;

    let text = fetch(port, "/wwz-status", false);
    assert_eq!(text.status, 200);
    assert!(text.header("Content-Type").starts_with("text/plain"));
    assert_eq!(text.header("Cache-Control"), "no-store");
    let body = String::from_utf8_lossy(&text.body).into_owned();
    for label in [
        "version:",
        "start time:",
        "accepted connections:",
        "idle connections:",
        "requests 2xx:",
        "cache hits:",
        "bytes sent mapped:",
    ] {
        assert!(body.contains(label), "{label} missing from\n{body}");
    }
    let unknown = fetch(port, "/wwz-status?full&x=1", false);
    assert!(unknown.header("Content-Type").starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&unknown.body).contains("accepted connections:"));

    let before = fetch(port, "/wwz-status?json", false);
    assert!(before
        .header("Content-Type")
        .starts_with("application/json"));
    let ok_before = status_figure(&before.body, "requests_2xx");
    let mapped_before = status_figure(&before.body, "bytes_sent_mapped");
    let missing_before = status_figure(&before.body, "requests_4xx");
    for _ in 0..5 {
        assert_eq!(fetch(port, "/site.wwz/data/blob.bin", false).status, 200);
    }
    assert_eq!(fetch(port, "/site.wwz/no-such-member", false).status, 404);
    let after = fetch(port, "/wwz-status?json", false);
    // Five members and the JSON page before this one.
    assert!(status_figure(&after.body, "requests_2xx") >= ok_before + 6);
    assert!(status_figure(&after.body, "requests_4xx") > missing_before);
    assert!(
        status_figure(&after.body, "bytes_sent_mapped")
            >= mapped_before + 5 * site.file("data/blob.bin").len() as u64
    );
    assert!(status_figure(&after.body, "cache_hits") > 0);
    assert_eq!(status_figure(&after.body, "archives_open"), 1);

    let om = fetch(port, "/wwz-status?openmetrics", false);
    assert!(om
        .header("Content-Type")
        .starts_with("application/openmetrics-text"));
    let parser = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
ok = [s.value for s in families["wwz_requests"].samples if s.labels.get("class") == "2xx"][0]
print(len(families), families["wwz_requests"].type, int(ok), families["wwz_connections_accepted"].type)
"#;
    // Debian's Python, where the package python3-prometheus-client installs.
    let mut child = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(parser)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(&om.body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejected the page (install python3-prometheus-client):\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&om.body)
    );
    let parsed = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = parsed.split_whitespace().collect();
    assert!(fields[0].parse::<usize>().unwrap() >= 15, "{parsed}");
    assert_eq!(fields[1], "counter");
    assert!(
        fields[2].parse::<u64>().unwrap() >= ok_before + 6,
        "{parsed}"
    );
    assert_eq!(fields[3], "counter");

    // HEAD says what GET would, without the body.
    let head = fetch(port, "/wwz-status", true);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    // The recipe allows localhost only: from another address, nginx answers 403.
    let other = curl_get(port, "/wwz-status", &["--interface", "127.0.0.2"]);
    assert_eq!(other.status, 403);

    // Off by default: the same path is not the status page.
    drop(nginx);
    let (_plain, nginx) = behind_nginx_with_status_recipe(&site, &[]);
    let off = fetch(nginx.port, "/wwz-status?json", false);
    assert_eq!(off.status, 404);
    assert!(!String::from_utf8_lossy(&off.body).contains("connections"));
}

/// A CI run's logs: `n` small logs under `jobs/NNN/`, a needle planted in
/// every 100th one (line 7), and one log of `big` bytes with colours whose
/// last line is `THE END`. Returns the needles' (member, line).
fn write_ci_tree(root: &Path, n: usize, big: usize) -> Vec<(String, u64)> {
    use std::io::Write;
    let mut needles = Vec::new();
    for i in 0..n {
        let dir = root.join(format!("jobs/{:03}", i / 100));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("jobs/{:03}/step-{i}.log", i / 100);
        let mut text = String::new();
        for l in 1..=40u64 {
            if l == 7 && i % 100 == 0 {
                text.push_str(&format!("\x1b[31merror[E0308]\x1b[0m: needle-{i} here\n"));
                needles.push((name.clone(), l));
            } else {
                text.push_str(&format!("\x1b[32m   Compiling\x1b[0m crate-{l} v0.1.{i}\n"));
            }
        }
        std::fs::write(root.join(&name), text).unwrap();
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(root.join("big.log")).unwrap());
    let mut written = 0;
    let mut l = 0u64;
    while written < big {
        l += 1;
        let line = format!(
            "\x1b[1;34m[{l:09}]\x1b[0m test suite::case_{} ... \x1b[32mok\x1b[0m\n",
            l % 977
        );
        f.write_all(line.as_bytes()).unwrap();
        written += line.len();
    }
    f.write_all(
        b"progress 1%\rprogress 100%\n\x1b[1;31mTHE END\x1b[0m <script>alert(1)</script>\n",
    )
    .unwrap();
    needles
}

fn json_str_field(text: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get(key)?.as_str().map(String::from)
}

/// Searches with `q` from `dir` and follows continue links, collecting (member, line) hits.
/// How long a search may take: wwz stops it at its time budget (then says
/// where to continue); on top of that, a busy machine's margin for the answer.
fn search_limit() -> Duration {
    wwz::logs::search::TIME_BUDGET + patience(WAIT)
}

/// The pages of the search `base` + `query` (JSON or HTML), following wwz's
/// `continue` link while a page stopped at the time budget: a busy machine
/// reads less within the budget, and wwz says where to go on. Ends with the
/// first page that completed or stopped for another reason.
fn search_past_time_budget(port: u16, base: &str, query: &str) -> Vec<String> {
    let mut pages = Vec::new();
    let mut next = format!("{base}{query}");
    loop {
        assert!(pages.len() < 200, "too many continue pages");
        let r = curl_get_within(port, &next, &[], search_limit());
        assert_eq!(r.status, 200, "{next}");
        let text = String::from_utf8_lossy(&r.body).into_owned();
        let cont = if let Some((_, rest)) =
            text.split_once("<strong class=\"stop\">Stopped at the time budget</strong>")
        {
            let href = rest
                .split_once("<a class=\"cont\" href=\"")
                .and_then(|(_, h)| h.split_once('"'))
                .unwrap_or_else(|| panic!("no continue link after a time stop: {text}"))
                .0;
            Some(href.replace("&amp;", "&"))
        } else if json_str_field(&text, "stopped").as_deref() == Some("time") {
            json_str_field(&text, "continue")
        } else {
            None
        };
        pages.push(text);
        match cont {
            Some(c) => {
                eprintln!("{next}: stopped at the time budget, continuing with {c}");
                next = format!("{base}{c}");
            }
            None => return pages,
        }
    }
}

fn search_all(port: u16, base: &str, q: &str) -> (Vec<(String, u64)>, usize) {
    let mut hits = Vec::new();
    let mut next = format!("{base}?q={q}&format=json");
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 200, "too many continue pages");
        let r = curl_get_within(port, &next, &[], search_limit());
        assert_eq!(r.status, 200, "{next}");
        let text = String::from_utf8_lossy(&r.body).into_owned();
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        for item in v["results"].as_array().unwrap() {
            if item["kind"] == "line" {
                hits.push((
                    item["member"].as_str().unwrap().to_string(),
                    item["line"].as_u64().unwrap(),
                ));
            }
        }
        match json_str_field(&text, "continue") {
            Some(c) => next = format!("{base}{c}"),
            None => return (hits, pages),
        }
    }
}

#[test]
fn ci_logs_view_and_search_through_nginx() {
    let site = Site::new();
    let src = site.path("ci");
    let needles = write_ci_tree(&src, 3000, 100 << 20);
    zip_deflated(&src, &site.docroot.join("ci.wwz"));
    run_ok(
        Command::new(wwz_bin())
            .args(["pack", "-q", "--output"])
            .arg(site.docroot.join("ci-pack.wwz"))
            .arg(&src),
        "wwz pack",
    );
    let w = Wwz::start(&site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &w.addr else {
        unreachable!()
    };
    let _diag = Diagnostics(vec![("wwz", w.proc.stderr_path.clone())]);
    let nginx = start_nginx(&site, sock, true);
    let port = nginx.port;
    let pid = w.proc.child.id();

    for archive in ["ci.wwz", "ci-pack.wwz"] {
        // The tail of the 100 MB log, in bounded memory.
        let (hwm_before, _) = memory_kib(pid);
        let r = curl_get(port, &format!("/{archive}/big.log?view"), &[]);
        assert_eq!(r.status, 200);
        assert!(r.header("Content-Type").starts_with("text/html"));
        let page = String::from_utf8_lossy(&r.body);
        assert!(
            page.contains(
                "<span class=\"f1 bo\">THE END</span> &lt;script&gt;alert(1)&lt;/script&gt;"
            ),
            "{archive}"
        );
        assert!(page.contains("<span class=\"x\">progress 100%</span>"));
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("earlier lines"));
        let rows = page.matches("<div class=\"l\" id=\"L").count();
        assert_eq!(rows, 2000, "{archive}");
        // Line numbers count from the start of the log: the last is the line count.
        let lines = std::fs::read(src.join("big.log"))
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        assert!(
            page.contains(&format!("id=\"L{lines}\"")),
            "{archive}: last line {lines}"
        );
        let (hwm_after, _) = memory_kib(pid);
        assert!(
            hwm_after < hwm_before + 48 * 1024,
            "{archive}: peak RSS grew from {hwm_before} KiB to {hwm_after} KiB for a 100 MB log's tail"
        );
        // The raw member is unchanged.
        let raw = curl_get(
            port,
            &format!("/{archive}/jobs/000/step-0.log"),
            &["--compressed"],
        );
        assert_eq!(
            raw.body,
            std::fs::read(src.join("jobs/000/step-0.log")).unwrap()
        );

        // Every planted needle, each at its line.
        let (mut hits, _) = search_all(port, &format!("/{archive}/"), "needle-");
        hits.sort();
        let mut want = needles.clone();
        want.sort();
        assert_eq!(hits, want, "{archive}");
        // In a subdirectory, only what is under it; names relative to it.
        let (sub, _) = search_all(port, &format!("/{archive}/jobs/001/"), "needle-");
        assert_eq!(sub, vec![("step-100.log".to_string(), 7)]);
        // A search with more than 1,000 matching lines stops, says why, and continues.
        let pages = search_past_time_budget(
            port,
            &format!("/{archive}/jobs/"),
            "?q=compiling&format=json",
        );
        let text = pages.last().unwrap();
        assert_eq!(
            json_str_field(text, "stopped").as_deref(),
            Some("matches"),
            "{text}"
        );
        let (all, pages) = search_all(port, &format!("/{archive}/jobs/"), "Compiling&case=1");
        assert_eq!(all.len(), 3000 * 40 - needles.len());
        assert!(pages >= 117, "{pages}");
        let mut dedup = all.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), all.len(), "a continued search repeats no line");
        // HTML: the match marked, linked to the view's line.
        let page =
            search_past_time_budget(port, &format!("/{archive}/"), "?q=needle-2900").concat();
        assert!(
            page.contains("href=\"./jobs/029/step-2900.log?view#L7\""),
            "{page}"
        );
        assert!(page.contains("<mark>needle-2900</mark>"));
    }
}

#[test]
fn deflated_range_starts_at_a_checkpoint_through_nginx() {
    let site = Site::new();
    let src = site.path("huge");
    std::fs::create_dir_all(&src).unwrap();
    write_ci_tree(&src, 0, 1 << 30);
    zip_deflated(&src, &site.docroot.join("huge.wwz"));
    let content = std::fs::read(src.join("big.log")).unwrap();
    let (_w, nginx) = behind_nginx_with_status_recipe(&site, &["--status-path", "/wwz-status"]);
    let port = nginx.port;
    let inflated = || {
        status_figure(
            &curl_get(port, "/wwz-status?json", &[]).body,
            "bytes_inflated",
        )
    };
    let tail = &content[content.len() - 65536..];
    let before = inflated();
    let r = curl_get(port, "/huge.wwz/big.log", &["-H", "Range: bytes=-65536"]);
    assert_eq!(r.status, 206);
    assert!(r.body == tail);
    let first = inflated() - before;
    assert!(
        first >= content.len() as u64 - 65536,
        "first Range inflated only {first}"
    );
    let r = curl_get(port, "/huge.wwz/big.log", &["-H", "Range: bytes=-65536"]);
    assert_eq!(r.status, 206);
    assert!(r.body == tail);
    let second = inflated() - before - first;
    assert!(
        second <= (1 << 20) + 65536,
        "second Range inflated {second} bytes"
    );
    // The log view's tail starts from a checkpoint too, and numbers lines from the start.
    let r = curl_get(port, "/huge.wwz/big.log?view", &[]);
    let third = inflated() - before - first - second;
    assert!(third <= 3 << 20, "tail view inflated {third} bytes");
    let lines = content.iter().filter(|&&b| b == b'\n').count();
    assert!(String::from_utf8_lossy(&r.body).contains(&format!("id=\"L{lines}\"")));
}

/// Decodes a body sent with `coding` (none: as it is).
fn decode(coding: Option<&str>, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(body),
        Some("br") => brotli::BrotliDecompress(&mut &body[..], &mut out).expect("brotli"),
        Some("zstd") => out = zstd::decode_all(body).expect("zstd"),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("gzip");
        }
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

/// A text page, a script and a stylesheet packed by `wwz pack --precompress
/// br,zstd`, fetched through nginx with each `Accept-Encoding` a client may send.
#[test]
fn precompressed_codings_through_nginx() {
    let site = Site::new();
    let src = site.path("packed-src");
    let page: Vec<u8> = (0..800)
        .flat_map(|i| format!("<p class=\"x\">paragraph {i}: {}</p>\n", i * 7 % 13).into_bytes())
        .collect();
    let script = b"function f(x) { return x * 2 + 1; }\nconsole.log(f(3));\n".repeat(300);
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("index.html"), &page).unwrap();
    std::fs::write(src.join("app.js"), &script).unwrap();
    let packed = site.docroot.join("packed.wwz");
    let out = Command::new(wwz_bin())
        .arg("pack")
        .arg(&src)
        .arg("-o")
        .arg(&packed)
        .args(["-q", "--precompress", "br,zstd"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_wwz, nginx, _diag) = wwz_behind_nginx(&site, "");
    let port = nginx.port;
    for (path, source) in [
        ("/packed.wwz/index.html", &page),
        ("/packed.wwz/app.js", &script),
    ] {
        for (accept, want) in [
            (Some("br"), Some("br")),
            (Some("zstd"), Some("zstd")),
            (Some("gzip;q=0, br"), Some("br")),
            (Some("br;q=0, gzip"), Some("gzip")),
            (Some("br;q=0, zstd;q=0, gzip;q=0"), None),
            (Some("*"), Some("br")),
            (Some("gzip, deflate, br, zstd"), Some("br")),
            (None, None),
        ] {
            let header;
            let args: Vec<&str> = match accept {
                Some(a) => {
                    header = format!("Accept-Encoding: {a}");
                    vec!["-H", &header]
                }
                None => vec!["-H", "Accept-Encoding:"],
            };
            let r = curl_get(port, path, &args);
            assert_eq!(r.status, 200, "{path} {accept:?}: {r:?}");
            assert_eq!(r.opt_header("Content-Encoding"), want, "{path} {accept:?}");
            assert_eq!(r.header("Vary"), "Accept-Encoding", "{path} {accept:?}");
            assert_eq!(&decode(want, &r.body), source, "{path} {accept:?}");
        }
        let refused = curl_get(port, path, &["-H", "Accept-Encoding: identity;q=0"]);
        assert_eq!(refused.status, 406, "{refused:?}");
        // curl --compressed offers what this curl decodes and decodes it.
        let r = curl_get(port, path, &["--compressed"]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Encoding"), "br", "{path}");
        assert_eq!(&r.body, source, "{path} via --compressed");
        let br_len = r.header("Content-Length").to_owned();
        let head = curl_get(port, path, &["-I", "-H", "Accept-Encoding: br"]);
        assert_eq!(head.header("Content-Encoding"), "br");
        assert_eq!(head.header("Content-Length"), br_len);
        // 304 per coding.
        let etag = r.header("ETag").to_owned();
        let inm = format!("If-None-Match: {etag}");
        let again = curl_get(port, path, &["-H", "Accept-Encoding: br", "-H", &inm]);
        assert_eq!(again.status, 304, "{again:?}");
        let identity = curl_get(port, path, &["-H", &inm]);
        assert_eq!(
            identity.status, 200,
            "the br tag must not validate identity"
        );
        // Ranges come from the identity.
        let part = curl_get(port, path, &["-r", "0-99", "-H", "Accept-Encoding: br"]);
        assert_eq!(part.status, 206);
        assert_eq!(part.opt_header("Content-Encoding"), None);
        assert_eq!(&part.body, &source[..100]);
    }
}

/// A site packed by `wwz pack --precompress br,zstd`, loaded by headless
/// Chromium through nginx: the page arrives as br (Chromium's net log shows
/// the response headers), its script and stylesheet work, and the DOM is the
/// same as when nginx serves the unpacked files statically.
#[test]
fn chromium_receives_br_from_a_packed_site() {
    let site = Site::new();
    let src = site.path("browser-src");
    std::fs::create_dir_all(&src).unwrap();
    let rows: String = (0..400)
        .map(|i| format!("<li class=\"row\">row {i}, {}</li>\n", i * 31 % 17))
        .collect();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>packed</title>\
         <link rel=\"stylesheet\" href=\"site.css\"></head><body><p id=\"out\">no script</p>\
         <ul>{rows}</ul><script src=\"app.js\"></script></body></html>\n"
    );
    std::fs::write(src.join("index.html"), &html).unwrap();
    std::fs::write(
        src.join("app.js"),
        "// decoded and run\n".repeat(200)
            + "document.getElementById('out').textContent = 'script ran, rows: ' + document.querySelectorAll('li').length;\n",
    )
    .unwrap();
    std::fs::write(src.join("site.css"), ".row { color: #333; }\n".repeat(100)).unwrap();
    let out = Command::new(wwz_bin())
        .arg("pack")
        .arg(&src)
        .arg("-o")
        .arg(site.docroot.join("browser.wwz"))
        .args(["-q", "--precompress", "br,zstd"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let static_loc = format!("location /static/ {{ alias {}/; }}", src.display());
    let (_wwz, nginx, _diag) = wwz_behind_nginx(&site, &static_loc);
    let packed = format!("http://127.0.0.1:{}/browser.wwz/index.html", nginx.port);
    let unpacked = format!("http://127.0.0.1:{}/static/index.html", nginx.port);
    let net_log = site.path("netlog.json");
    let dom = |url: &str, profile: &str, extra: &[&str]| {
        let mut args = vec!["--virtual-time-budget=5000", "--dump-dom"];
        args.extend_from_slice(extra);
        args.push(url);
        let out = chromium(&args, &site.path(profile));
        String::from_utf8(out.stdout).unwrap()
    };
    let net_log_arg = format!("--log-net-log={}", net_log.display());
    let from_wwz = dom(&packed, "profile-wwz", &[&net_log_arg]);
    let from_static = dom(&unpacked, "profile-static", &[]);
    assert!(from_wwz.contains("script ran, rows: 400"), "{from_wwz}");
    assert_eq!(from_wwz, from_static, "the packed site renders differently");
    let log = std::fs::read_to_string(&net_log).expect("Chromium wrote no net log");
    let log = log.to_ascii_lowercase();
    assert!(
        log.contains("accept-encoding: gzip, deflate, br"),
        "Chromium did not offer br"
    );
    assert!(
        log.contains("content-encoding: br"),
        "no response arrived as br: {}",
        &log[..log.len().min(3000)]
    );
}

// --- The URL policy (--html-handling) --------------------------------------

/// The request path a relative `location` leads to from `path` (no query),
/// as a client resolves it (RFC 3986 §5.2): `./` and `../` segments first.
fn follow_location(path: &str, location: &str) -> String {
    assert!(
        location.starts_with("./") || location.starts_with("../"),
        "{path}: Location {location:?} is not a relative reference"
    );
    let mut dirs: Vec<&str> = path.split('/').collect();
    dirs.pop();
    let mut rest = location;
    loop {
        if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("../") {
            assert!(
                dirs.len() > 1,
                "{path}: {location} goes above the host's root"
            );
            dirs.pop();
            rest = r;
        } else {
            break;
        }
    }
    format!("{}/{rest}", dirs.join("/"))
}

/// What a URL of the policy site must answer.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// 200 with this member.
    Page(&'static str),
    /// 200 with the directory's listing.
    Listing,
    /// 301 to this relative reference, which answers 200 with this member
    /// (`None`: a listing).
    To(&'static str, Option<&'static str>),
    /// 404 with the site's 404.html.
    Missing,
}

/// The policy site: a root index, a page, a directory's index page, a 404 page.
const POLICY_SITE: [(&str, &str); 4] = [
    ("index.html", "<!doctype html><title>home</title>\n"),
    ("page.html", "<!doctype html><title>page</title>\n"),
    ("dir/index.html", "<!doctype html><title>dir</title>\n"),
    ("404.html", "<!doctype html><title>missing</title>\n"),
];

fn policy_page(name: &str) -> &'static [u8] {
    POLICY_SITE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| body.as_bytes())
        .unwrap_or_else(|| panic!("no page {name}"))
}

/// Checks one answer against `want`: status, Location exactly (with the
/// query kept), body; a redirect is followed once and must answer directly.
fn check_policy_answer(port: u16, path: &str, query: &str, want: Want) {
    let url = format!("{path}{query}");
    let r = curl_get(port, &url, &[]);
    let is_listing = |r: &HttpResponse| {
        let html = String::from_utf8_lossy(&r.body);
        r.status == 200
            && r.header("Content-Type").starts_with("text/html")
            && html.contains("index.html")
            && !POLICY_SITE.iter().any(|(_, body)| html == *body)
    };
    match want {
        Want::Page(name) => {
            assert_eq!(r.status, 200, "{url}: {:?}", r.headers);
            assert_eq!(r.opt_header("Location"), None, "{url}");
            assert!(r.body == policy_page(name), "{url}: body is not {name}");
        }
        Want::Listing => assert!(is_listing(&r), "{url}: not a listing: {r:?}"),
        Want::Missing => {
            assert_eq!(r.status, 404, "{url}: {:?}", r.headers);
            assert!(r.body == policy_page("404.html"), "{url}");
        }
        Want::To(location, then) => {
            assert_eq!(r.status, 301, "{url}: {:?}", r.headers);
            let expected = format!("{location}{query}");
            assert_eq!(r.opt_header("Location"), Some(&expected[..]), "{url}");
            let next = format!("{}{query}", follow_location(path, location));
            let n = curl_get(port, &next, &[]);
            assert_eq!(
                n.status, 200,
                "{url} → {next}: a second redirect or an error: {:?}",
                n.headers
            );
            match then {
                Some(name) => assert!(n.body == policy_page(name), "{url} → {next}: not {name}"),
                None => assert!(is_listing(&n), "{url} → {next}: not a listing"),
            }
        }
    }
}

/// Where a daemon's site is mounted, its arguments and its environment.
type Mount = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

/// Every case of docs/servers.md's URL-policy table, in every mode, through
/// nginx: one wwz daemon per mode (one configured by `WWZ_HTML_HANDLING`),
/// each site mounted under a prefix and the default also at the host's root,
/// plus the default with `--no-clean-urls`.
#[test]
fn html_handling_table() {
    use Want::*;
    let site = Site::new();
    let files: Vec<(&str, &[u8])> = POLICY_SITE
        .iter()
        .map(|(n, b)| (*n, b.as_bytes()))
        .collect();
    zip_files(&site.docroot.join("policy.wwz"), &files);
    let modes: [Mount; 5] = [
        ("/auto", &["--html-handling", "auto-trailing-slash"], &[]),
        ("/force", &["--html-handling", "force-trailing-slash"], &[]),
        (
            "/drop",
            &[],
            &[("WWZ_HTML_HANDLING", "drop-trailing-slash")],
        ),
        ("/none", &["--html-handling", "none"], &[]),
        ("/noclean", &["--no-clean-urls"], &[]),
    ];
    let daemons: Vec<Wwz> = modes
        .iter()
        .map(|(_, args, env)| Wwz::start_env(&site, Transport::Unix, args, env))
        .collect();
    let mut upstream = String::new();
    let mut server = String::new();
    for (i, ((prefix, _, _), wwz)) in modes.iter().zip(&daemons).enumerate() {
        let Addr::Unix(sock) = &wwz.addr else {
            unreachable!()
        };
        upstream.push_str(&format!(
            "upstream wwz{i} {{ server unix:{}; }}\n    ",
            sock.display()
        ));
        server.push_str(&format!(
            "location ~ ^{prefix}(/|$) {{\n            include fastcgi_params;\n            \
             fastcgi_param WWZ_ARCHIVE policy.wwz;\n            \
             fastcgi_param WWZ_PREFIX {prefix};\n            fastcgi_pass wwz{i};\n        }}\n        "
        ));
    }
    // The default mode at the host's root too.
    server.push_str(
        "location / {\n            include fastcgi_params;\n            \
         fastcgi_param WWZ_ARCHIVE policy.wwz;\n            fastcgi_pass wwz0;\n        }",
    );
    let nginx = common::nginx::start_with_upstream(&site, &upstream, &server);
    let mut logs = vec![("nginx error log", nginx.error_log.clone())];
    logs.extend(
        daemons
            .iter()
            .map(|w| ("wwz stderr", w.proc.stderr_path.clone())),
    );
    let _diag = Diagnostics(logs);

    let page = Some("page.html");
    let dir = Some("dir/index.html");
    #[rustfmt::skip]
    let table: &[(&str, [Want; 5])] = &[
        // path               auto                   force                    drop                   none                   auto, --no-clean-urls
        ("/",                 [Page("index.html"),   Page("index.html"),      Page("index.html"),    Listing,               Page("index.html")]),
        ("/index",            [Page("index.html"),   To("./", Some("index.html")), To("./", Some("index.html")), Missing, Missing]),
        ("/index.html",       [Page("index.html"),   To("./", Some("index.html")), To("./", Some("index.html")), Page("index.html"), Page("index.html")]),
        ("/page",             [Page("page.html"),    To("./page/", page),     Page("page.html"),     Missing,               Missing]),
        ("/page/",            [To("../page", page),  Page("page.html"),       To("../page", page),   Missing,               Missing]),
        ("/page.html",        [Page("page.html"),    To("./page/", page),     To("./page", page),    Page("page.html"),     Page("page.html")]),
        ("/page/index",       [To("../page", page),  To("./", page),          To("../page", page),   Missing,               Missing]),
        ("/page/index.html",  [To("../page", page),  To("./", page),          To("../page", page),   Missing,               Missing]),
        ("/dir",              [To("./dir/", dir),    To("./dir/", dir),       Page("dir/index.html"), To("./dir/", None),   To("./dir/", dir)]),
        ("/dir/",             [Page("dir/index.html"), Page("dir/index.html"), To("../dir", dir),    Listing,               Page("dir/index.html")]),
        ("/dir.html",         [To("./dir/", dir),    To("./dir/", dir),       To("./dir", dir),      Missing,               Missing]),
        ("/dir/index",        [Page("dir/index.html"), To("./", dir),         To("../dir", dir),     Missing,               Missing]),
        ("/dir/index.html",   [Page("dir/index.html"), To("./", dir),         To("../dir", dir),     Page("dir/index.html"), Page("dir/index.html")]),
        ("/nope",             [Missing,              Missing,                 Missing,               Missing,               Missing]),
    ];
    for (path, wants) in table {
        for ((prefix, _, _), want) in modes.iter().zip(wants) {
            let url = format!("{prefix}{path}");
            check_policy_answer(nginx.port, &url, "", *want);
            check_policy_answer(nginx.port, &url, "?x=1&y=%20", *want);
        }
        // The default mode at the host's root answers as under a prefix.
        check_policy_answer(nginx.port, path, "?x=1", wants[0]);
    }
}

// --- Markdown for agents ----------------------------------------------------

/// Pages with Markdown twins through nginx, at the host's root and under
/// `/docs` (the one-site recipe): `Accept` chooses the representation,
/// q-values honoured; `Content-Type`, `Vary`, the `Link` to the twin, an
/// ETag per representation and a 304 for each; the twin's gzip sibling; a
/// page without a twin and a log view unchanged.
#[test]
fn markdown_negotiation() {
    let site = Site::new();
    let page_md = "# page\n\nThe page, in Markdown.\n".repeat(20);
    let page_md_gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(page_md.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let files: [(&str, &[u8]); 7] = [
        ("page.html", b"<!doctype html><title>page</title>\n"),
        ("page.md", page_md.as_bytes()),
        ("page.md.gz", &page_md_gz),
        ("dir/index.html", b"<!doctype html><title>dir</title>\n"),
        ("dir/index.md", b"# dir\n"),
        ("alone.html", b"<!doctype html><title>alone</title>\n"),
        ("404.html", b"<!doctype html><title>missing</title>\n"),
    ];
    let body = |name: &str| files.iter().find(|(n, _)| *n == name).unwrap().1.to_vec();
    for archive in ["site.wwz", "docs.wwz"] {
        zip_files(&site.docroot.join(archive), &files);
    }
    let wwz = Wwz::start(&site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &wwz.addr else {
        unreachable!()
    };
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx-site.conf");
    let nginx = common::nginx::start(&site, sock, true, &format!("include {};", recipe.display()));
    let _diag = Diagnostics(vec![
        ("nginx error log", nginx.error_log.clone()),
        ("wwz stderr", wwz.proc.stderr_path.clone()),
    ]);
    let port = nginx.port;
    let get = |path: &str, headers: &[&str]| {
        let mut args = Vec::new();
        for h in headers {
            args.extend(["-H", h]);
        }
        curl_get(port, path, &args)
    };
    const NO_ACCEPT: &str = "Accept:";
    let link = |href: &str| format!("<{href}>; rel=\"alternate\"; type=\"text/markdown\"");

    for prefix in ["", "/docs"] {
        // (URL, the page, its twin, the Link's reference)
        let pages = [
            ("/page", "page.html", "page.md", "./page.md"),
            ("/page.html", "page.html", "page.md", "./page.md"),
            ("/dir/", "dir/index.html", "dir/index.md", "./index.md"),
            ("/dir/index", "dir/index.html", "dir/index.md", "./index.md"),
            (
                "/dir/index.html",
                "dir/index.html",
                "dir/index.md",
                "./index.md",
            ),
        ];
        for (path, html, md, href) in pages {
            let url = format!("{prefix}{path}");
            for (accept, wants_md) in [
                ("Accept: text/markdown", true),
                ("Accept: text/markdown;q=0.5, text/html", false),
                ("Accept: */*", false),
                (NO_ACCEPT, false),
                ("Accept: text/markdown, text/html;q=0.9", true),
            ] {
                let r = get(&url, &[accept]);
                assert_eq!(r.status, 200, "{url} {accept}: {:?}", r.headers);
                assert_eq!(
                    r.header("Vary"),
                    "Accept, Accept-Encoding",
                    "{url} {accept}"
                );
                if wants_md {
                    assert_eq!(r.header("Content-Type"), "text/markdown; charset=utf-8");
                    assert!(r.body == body(md), "{url} {accept}: not {md}");
                    assert_eq!(r.opt_header("Link"), None, "{url} {accept}");
                } else {
                    assert_eq!(r.header("Content-Type"), "text/html; charset=utf-8");
                    assert!(r.body == body(html), "{url} {accept}: not {html}");
                    assert_eq!(
                        r.opt_header("Link"),
                        Some(&link(href)[..]),
                        "{url} {accept}"
                    );
                }
            }
            // HEAD says what GET would.
            let h = curl_get(port, &url, &["-I", "-H", "Accept: text/markdown"]);
            assert_eq!(h.header("Content-Type"), "text/markdown; charset=utf-8");
            assert_eq!(h.header("Content-Length"), body(md).len().to_string());
        }

        // An ETag per representation, and a 304 for each.
        let url = format!("{prefix}/page");
        let html = get(&url, &[NO_ACCEPT]);
        let md = get(&url, &["Accept: text/markdown"]);
        let (html_tag, md_tag) = (html.header("ETag"), md.header("ETag"));
        assert_ne!(html_tag, md_tag);
        for (accept, tag, status) in [
            ("Accept: text/markdown", md_tag, 304),
            ("Accept: text/html", md_tag, 200),
            ("Accept: text/html", html_tag, 304),
            ("Accept: text/markdown", html_tag, 200),
        ] {
            let inm = format!("If-None-Match: {tag}");
            let r = get(&url, &[accept, &inm]);
            assert_eq!(r.status, status, "{url} {accept} {inm}: {:?}", r.headers);
            assert_eq!(r.header("Vary"), "Accept, Accept-Encoding");
            let want_tag = if accept.ends_with("markdown") {
                md_tag
            } else {
                html_tag
            };
            assert_eq!(r.header("ETag"), want_tag, "{url} {accept} {inm}");
            if status == 304 {
                assert!(r.body.is_empty());
            }
        }

        // The twin's gzip sibling, negotiated as for any member.
        let gz = get(&url, &["Accept: text/markdown", "Accept-Encoding: gzip"]);
        assert_eq!(gz.status, 200);
        assert_eq!(gz.header("Content-Encoding"), "gzip");
        assert_eq!(gz.header("Content-Type"), "text/markdown; charset=utf-8");
        assert_eq!(gz.header("Vary"), "Accept, Accept-Encoding");
        assert!(gz.body == page_md_gz, "not page.md.gz");
        let gz_tag = gz.header("ETag");
        assert!(gz_tag != md_tag && gz_tag != html_tag, "{gz_tag}");
        let inm = format!("If-None-Match: {gz_tag}");
        let again = get(
            &url,
            &["Accept: text/markdown", "Accept-Encoding: gzip", &inm],
        );
        assert_eq!(again.status, 304, "{:?}", again.headers);
        assert_eq!(again.header("ETag"), gz_tag);

        // A page without a twin, the twin asked by name, a log view: no negotiation.
        let alone = get(&format!("{prefix}/alone"), &["Accept: text/markdown"]);
        assert_eq!(alone.status, 200);
        assert!(alone.body == body("alone.html"));
        assert_eq!(alone.opt_header("Link"), None);
        assert_eq!(alone.opt_header("Vary"), None);
        let direct = get(&format!("{prefix}/page.md"), &[NO_ACCEPT]);
        assert!(direct.body == body("page.md"));
        assert_eq!(
            direct.header("Content-Type"),
            "text/markdown; charset=utf-8"
        );
        assert_eq!(direct.opt_header("Link"), None);
        assert_eq!(direct.header("Vary"), "Accept-Encoding");
        let view = get(
            &format!("{prefix}/page.html?view"),
            &["Accept: text/markdown"],
        );
        assert_eq!(view.status, 200);
        assert!(view.header("Content-Type").starts_with("text/html"));
        assert!(view.body != body("page.md") && view.opt_header("Link").is_none());
    }
}

//! HTTP through a web server, with curl, and a parser for its output.

use std::process::Command;

use std::time::Duration;

use super::{find_header, patience, require_tool, Site, WAIT};

/// A response as printed by `curl -s -i`.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> &str {
        find_header(&self.headers, name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn opt_header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Parses `HTTP/1.1 200 OK\r\nName: value\r\n…\r\n\r\nbody`.
pub fn parse_http(out: &[u8]) -> HttpResponse {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(out)));
    let head = std::str::from_utf8(&out[..end]).expect("headers are UTF-8");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|l| {
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header {l:?}"));
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    HttpResponse {
        status,
        headers,
        body: out[end + 4..].to_vec(),
    }
}

/// Percent-encodes a URL path (keeps `/` and unreserved characters).
pub fn url_encode_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// curl's `--max-time` for `limit`, in whole seconds (at least one).
pub fn max_time(limit: Duration) -> String {
    limit.as_secs_f64().ceil().max(1.0).to_string()
}

/// `curl -s -i ARGS http://127.0.0.1:PORT/PATH` (the path sent as is), for a
/// request a server answers with little work: it may take [`WAIT`] stretched
/// by the load.
pub fn curl_get(port: u16, path: &str, args: &[&str]) -> HttpResponse {
    curl_get_within(port, path, args, patience(WAIT))
}

/// [`curl_get`] for a request that may take the server up to `limit` (a
/// search runs up to its time budget): curl gives up after `limit`.
pub fn curl_get_within(port: u16, path: &str, args: &[&str], limit: Duration) -> HttpResponse {
    let out = Command::new(require_tool("curl", "curl"))
        .args(["-s", "-S", "-i", "--path-as-is", "--max-time"])
        .arg(max_time(limit))
        .args(args)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_http(&out.stdout)
}

/// Fetches every sample file of `archive` in one curl run (one client
/// connection, so the server may reuse its upstream connection) and compares
/// the bytes with the source.
pub fn curl_fetch_all(site: &Site, port: u16, archive: &str, args: &[&str]) {
    let tag = format!("{}{}", archive.replace(' ', "_"), args.join("_"));
    let out_dir = site.path(&format!("fetched-{tag}-{port}"));
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new(require_tool("curl", "curl"));
    // The sample files are small (the largest 200 KiB): a second each.
    let files = u32::try_from(site.files.len()).unwrap();
    let limit = patience(WAIT + Duration::from_secs(1) * files);
    cmd.args(["-s", "-S", "--path-as-is", "--fail-early", "--max-time"])
        .arg(max_time(limit))
        .args(args)
        .args(["-w", "%{http_code} %{size_download}\\n"]);
    for (i, (rel, _)) in site.files.iter().enumerate() {
        let url = format!(
            "http://127.0.0.1:{port}/{}/{}",
            url_encode_path(archive),
            url_encode_path(rel)
        );
        cmd.arg("-o").arg(out_dir.join(i.to_string())).arg(url);
    }
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), site.files.len(), "{report}");
    let compressed = args.contains(&"--compressed");
    for (i, (rel, content)) in site.files.iter().enumerate() {
        let (code, size) = lines[i].split_once(' ').unwrap();
        assert_eq!(code, "200", "{archive}/{rel} {args:?}: status");
        if !compressed {
            assert_eq!(size, content.len().to_string(), "{archive}/{rel}: size");
        }
        // curl writes no file for an empty body.
        let got = std::fs::read(out_dir.join(i.to_string())).unwrap_or_default();
        assert!(
            &got == content,
            "{archive}/{rel} {args:?}: body differs ({} bytes, want {})",
            got.len(),
            content.len()
        );
    }
}

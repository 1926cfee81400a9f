//! Downloads through a real nginx (the documented snippet), fetched with
//! curl: `DIR/?zip` of a directory and of the archive's root, from archives
//! made by Info-ZIP `zip` (deflated and stored members) and by `wwz pack`,
//! read by `unzip -t`, Python's zipfile (every member byte-identical to
//! the source) and bsdtar; its length, Range and `curl -C -` resumption,
//! If-Range, 304, identical bytes for identical requests, ZIP64 for more
//! than 65,535 members; and `MEMBER?download` with a UTF-8 name
//! (`Content-Disposition`, `curl -OJ`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::nginx::{Diagnostics, Nginx};
use crate::common::{self, *};

/// The tree the archives are made of: (path, content). The `.bin` members
/// are stored by `zip -n .bin`, the rest deflated.
fn tree() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "index.html",
            b"<!doctype html>\n<p>artifacts</p>\n".to_vec(),
        ),
        ("_redirects", b"/old /index.html 301\n".to_vec()),
        ("logs/build.log", log_text(300_000)),
        ("logs/job 2/test output.txt", log_text(7_000)),
        ("logs/résumé €.txt", "naïve café\n".as_bytes().to_vec()),
        ("data/blob.bin", noise(300_000, 7)),
        ("data/empty.txt", Vec::new()),
        (
            "docs/index.html",
            b"<!doctype html>\n<p>docs</p>\n".to_vec(),
        ),
        (
            "docs/guide.html",
            b"<!doctype html>\n<p>guide</p>\n".to_vec(),
        ),
    ]
}

/// The members a zip of `dir` (`""` or ending in `/`) must hold: the tree's
/// files under it, named relative to it; at the root, without `_redirects`.
fn expected(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = tree()
        .into_iter()
        .filter(|(name, _)| !(dir.is_empty() && *name == "_redirects"))
        .filter_map(|(name, data)| Some((name.strip_prefix(dir)?.to_owned(), data)))
        .collect();
    v.sort();
    v
}

/// The tree written under `src`, then archived into the docroot: `zip.wwz`
/// by Info-ZIP (`zip -r -n .bin`: `.bin` stored, the rest deflated, with
/// directory entries), `packed.wwz` by `wwz pack --precompress br` (whose
/// `.br` siblings a zip leaves out).
fn archives(site: &Site) {
    let src = site.path("tree");
    for (name, content) in tree() {
        let p = src.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    run_ok(
        Command::new(require_tool("zip", "zip"))
            .args(["-r", "-q", "-n", ".bin"])
            .arg(site.docroot.join("zip.wwz"))
            .arg(".")
            .current_dir(&src),
        "zip -r",
    );
    run_ok(
        Command::new(wwz_bin())
            .arg("pack")
            .arg(&src)
            .arg("-o")
            .arg(site.docroot.join("packed.wwz"))
            .args(["--precompress", "br"]),
        "wwz pack",
    );
}

/// wwz behind nginx with the documented snippet; both logs shown on failure.
fn behind_nginx(site: &Site) -> (Wwz, Nginx, Diagnostics) {
    let wwz = Wwz::start(site, Transport::Unix, &[]);
    let Addr::Unix(sock) = &wwz.addr else {
        unreachable!()
    };
    let snippet = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx.conf");
    let nginx = common::nginx::start(site, sock, true, &format!("include {};", snippet.display()));
    let diag = Diagnostics(vec![
        ("nginx error log", nginx.error_log.clone()),
        ("wwz stderr", wwz.proc.stderr_path.clone()),
    ]);
    (wwz, nginx, diag)
}

/// `curl -s -S ARGS -o OUT URL`, run in `cwd`; returns curl's `-w` output.
fn curl_to(cwd: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(require_tool("curl", "curl"))
        .args(["-s", "-S", "--path-as-is", "--max-time"])
        .arg(max_time(patience(WAIT * 4)))
        .args(args)
        .arg(url)
        .current_dir(cwd)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Checks the zip at `zip` with every reader: `unzip -t`; Python's zipfile
/// (`testzip()` finds nothing, each member's bytes are the source's);
/// bsdtar lists and extracts the same members with the same bytes. Returns
/// the names zipfile read, in the zip's order.
fn check_readers(zip: &Path, want: &[(String, Vec<u8>)], scratch: &Path) -> Vec<String> {
    run_ok(
        Command::new(require_tool("unzip", "unzip"))
            .arg("-tq")
            .arg(zip),
        "unzip -t",
    );
    // Python prints each member's name and its bytes in hex, in order.
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None, z.testzip()
    for info in z.infolist():
        print(info.filename)
        print(z.read(info).hex())
"#;
    let out = Command::new(require_tool("python3", "python3"))
        .args(["-c", script])
        .arg(zip)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zipfile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let got: Vec<(String, Vec<u8>)> = lines
        .chunks(2)
        .map(|c| (c[0].to_owned(), hex(c.get(1).copied().unwrap_or(""))))
        .collect();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(
        sorted.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        want.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "{}: names",
        zip.display()
    );
    for ((name, data), (_, want)) in sorted.iter().zip(want) {
        assert!(data == want, "{}: {name} differs", zip.display());
    }

    let bsdtar = require_tool("bsdtar", "libarchive-tools");
    let listed = Command::new(&bsdtar)
        .arg("-tf")
        .arg(zip)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(listed.status.success(), "bsdtar -tf {}", zip.display());
    let mut names: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    assert_eq!(
        names,
        want.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
    );
    let out_dir = scratch.join("bsdtar-x");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    run_ok(
        Command::new(&bsdtar)
            .env("LC_ALL", "C.UTF-8")
            .arg("-xf")
            .arg(zip)
            .arg("-C")
            .arg(&out_dir),
        "bsdtar -xf",
    );
    for (name, data) in want {
        let got = std::fs::read(out_dir.join(name)).unwrap();
        assert!(&got == data, "bsdtar -xf: {name} differs");
    }
    got.into_iter().map(|(n, _)| n).collect()
}

fn percent_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if &s[i..i + 1] == "%" {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(s.as_bytes()[i]);
            i += 1;
        }
    }
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// A curl response body saved to a file, and its headers.
struct Saved {
    path: PathBuf,
    head: HttpResponse,
}

/// `GET path` through nginx with curl `args`, the body saved to `out` and
/// the headers parsed; `Content-Length` checked against the bytes received.
fn save(port: u16, path: &str, args: &[&str], out: &Path) -> Saved {
    let headers = out.with_extension("headers");
    let mut all = vec!["-D", headers.to_str().unwrap(), "-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    curl_to(
        out.parent().unwrap(),
        &all,
        &format!("http://127.0.0.1:{port}{path}"),
    );
    let mut raw = std::fs::read(&headers).unwrap();
    raw.extend_from_slice(b"\r\n");
    let head = parse_http(&raw);
    let len = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    if let Some(cl) = head.opt_header("Content-Length") {
        assert_eq!(
            cl,
            len.to_string(),
            "{path}: Content-Length vs bytes received"
        );
    }
    Saved {
        path: out.to_path_buf(),
        head,
    }
}

/// `?zip` of the root and of directories (one with an index page), from
/// both archives: headers, every reader, identical bytes on a second
/// request, HEAD, 304; and the listings' links.
#[test]
fn zip_of_directories_through_nginx() {
    let site = Site::new();
    archives(&site);
    let (_wwz, nginx, _diag) = behind_nginx(&site);
    let port = nginx.port;
    let scratch = site.path("downloads");
    std::fs::create_dir_all(&scratch).unwrap();

    for archive in ["zip", "packed"] {
        for (dir, file_name) in [
            ("", format!("{archive}.zip")),
            ("logs/", "logs.zip".to_owned()),
            ("docs/", "docs.zip".to_owned()),
            ("logs/job%202/", "job 2.zip".to_owned()),
        ] {
            let plain_dir = dir.replace("%20", " ");
            let url = format!("/{archive}.wwz/{dir}?zip");
            let out = scratch.join(format!("{archive}-{}.zip", plain_dir.replace('/', "_")));
            let first = save(port, &url, &[], &out);
            let h = &first.head;
            assert_eq!(h.status, 200, "{url}: {:?}", h.headers);
            assert_eq!(h.header("Content-Type"), "application/zip");
            let disposition = h.header("Content-Disposition");
            assert!(
                disposition.starts_with(&format!("attachment; filename=\"{file_name}\"")),
                "{url}: {disposition}"
            );
            assert_eq!(h.header("Accept-Ranges"), "bytes");
            let etag = h.header("ETag").to_owned();
            assert!(etag.starts_with('"') && etag.ends_with("-zip\""), "{etag}");

            let want = expected(&plain_dir);
            let order = check_readers(&first.path, &want, &scratch);
            // Name order, as listings sort.
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(order, sorted, "{url}: member order");

            // The same bytes, and tag, again.
            let again = save(port, &url, &[], &scratch.join("again.zip"));
            assert_eq!(again.head.header("ETag"), etag);
            assert!(
                std::fs::read(&again.path).unwrap() == std::fs::read(&first.path).unwrap(),
                "{url}: a second request gave other bytes"
            );

            // HEAD: the length, no body; a revalidation: 304.
            let head = curl_get(port, &url, &["-I"]);
            assert_eq!(head.status, 200);
            assert_eq!(head.header("Content-Length"), h.header("Content-Length"));
            assert!(head.body.is_empty());
            let revalidated = curl_get(port, &url, &["-H", &format!("If-None-Match: {etag}")]);
            assert_eq!(revalidated.status, 304, "{url}");
            assert!(revalidated.body.is_empty());
        }
    }

    // The methods are the archive's: stored stays stored, deflated stays
    // deflated, and pack's `.br` siblings are not members of their own.
    let script = r#"
import sys, zipfile
for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as z:
        print(" ".join(f"{i.filename}={i.compress_type}" for i in z.infolist()))
"#;
    let methods = String::from_utf8(
        Command::new("python3")
            .args(["-c", script])
            .arg(scratch.join("zip-.zip"))
            .arg(scratch.join("packed-.zip"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let info_zip = methods.lines().next().unwrap();
    assert!(info_zip.contains("data/blob.bin=0"), "{info_zip}");
    assert!(info_zip.contains("logs/build.log=8"), "{info_zip}");
    assert!(!methods.contains(".br="), "{methods}");

    // Listings link the zip: HTML and JSON.
    let html = curl_get(port, "/zip.wwz/logs/", &[]);
    assert!(String::from_utf8_lossy(&html.body).contains("<a href=\"./?zip\">Download as zip</a>"));
    let json = curl_get(port, "/zip.wwz/logs/?format=json", &[]);
    let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(v["zip"], "./?zip");

    // Not a directory: 404.
    assert_eq!(curl_get(port, "/zip.wwz/nothing/?zip", &[]).status, 404);
}

/// A Range of the zip is that slice of the whole; a download cut short and
/// resumed with `curl -C -` is the whole; `If-Range` with the ETag gives the
/// range, with another tag the whole; a Range past the end is 416.
#[test]
fn zip_ranges_and_resumption_through_nginx() {
    let site = Site::new();
    archives(&site);
    let (_wwz, nginx, _diag) = behind_nginx(&site);
    let port = nginx.port;
    let scratch = site.path("ranges");
    std::fs::create_dir_all(&scratch).unwrap();
    let url = "/zip.wwz/?zip";
    let whole = save(port, url, &[], &scratch.join("whole.zip"));
    let bytes = std::fs::read(&whole.path).unwrap();
    let etag = whole.head.header("ETag").to_owned();
    let len = bytes.len();
    assert!(len > 300_000, "{len}");

    // Ranges inside a header, across a header and data, in the directory, at the end.
    for (first, last) in [
        (0, 29),
        (10, 100_000),
        (len - 300, len - 1),
        (len / 2, len / 2 + 70_000),
    ] {
        let r = save(
            port,
            url,
            &["-r", &format!("{first}-{last}")],
            &scratch.join("part"),
        );
        assert_eq!(r.head.status, 206, "{first}-{last}");
        assert_eq!(
            r.head.header("Content-Range"),
            format!("bytes {first}-{last}/{len}")
        );
        assert!(std::fs::read(&r.path).unwrap() == bytes[first..=last]);
    }

    // A download cut after 123,457 bytes, then resumed: the same file.
    let cut = scratch.join("resumed.zip");
    std::fs::write(&cut, &bytes[..123_457]).unwrap();
    curl_to(
        &scratch,
        &["-C", "-", "-o", cut.to_str().unwrap()],
        &format!("http://127.0.0.1:{port}{url}"),
    );
    assert!(std::fs::read(&cut).unwrap() == bytes, "resumed zip differs");

    // If-Range: the tag still holds (206), another tag (200, the whole).
    let holds = save(
        port,
        url,
        &["-r", "100-199", "-H", &format!("If-Range: {etag}")],
        &scratch.join("if-range"),
    );
    assert_eq!(holds.head.status, 206);
    assert!(std::fs::read(&holds.path).unwrap() == bytes[100..200]);
    let stale = save(
        port,
        url,
        &["-r", "100-199", "-H", "If-Range: \"0-0-0-zip\""],
        &scratch.join("stale"),
    );
    assert_eq!(stale.head.status, 200);
    assert!(std::fs::read(&stale.path).unwrap() == bytes);

    let past = curl_get(port, url, &["-r", &format!("{}-", len + 5)]);
    assert_eq!(past.status, 416);
    assert_eq!(past.header("Content-Range"), format!("bytes */{len}"));
}

/// 70,000 tiny members (Python's zipfile writes the archive): the zip of the
/// root needs ZIP64 end records, and Python's zipfile and bsdtar count every member.
#[test]
fn zip_of_more_than_65535_members_through_nginx() {
    let site = Site::new();
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + "/many.wwz", "w") as z:
    for i in range(70000):
        z.writestr(f"run/{i:05}.txt", f"{i}\n")
"#;
    python_in(&site.docroot, script);
    let (_wwz, nginx, _diag) = behind_nginx(&site);
    let scratch = site.path("many");
    std::fs::create_dir_all(&scratch).unwrap();
    let zip = save(
        nginx.port,
        "/many.wwz/run/?zip",
        &[],
        &scratch.join("many.zip"),
    );
    assert_eq!(zip.head.status, 200);
    let check = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    infos = z.infolist()
    assert len(infos) == 70000, len(infos)
    assert z.testzip() is None
    for i in (0, 65535, 69999):
        assert infos[i].filename == f"{i:05}.txt", infos[i].filename
        assert z.read(infos[i]) == f"{i}\n".encode()
with open(sys.argv[1], "rb") as f:
    data = f.read()
# The ZIP64 end record and its locator before the classic end record.
assert data.rfind(b"PK\x06\x06") > 0 and data.rfind(b"PK\x06\x07") > 0
print("ok")
"#;
    let out = Command::new("python3")
        .args(["-c", check])
        .arg(&zip.path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = Command::new(require_tool("bsdtar", "libarchive-tools"))
        .arg("-tf")
        .arg(&zip.path)
        .output()
        .unwrap();
    assert!(listed.status.success());
    assert_eq!(
        String::from_utf8(listed.stdout).unwrap().lines().count(),
        70_000
    );
}

/// `MEMBER?download`: the member's bytes with `Content-Disposition:
/// attachment`, the UTF-8 name percent-encoded in `filename*` and an ASCII
/// stand-in in `filename`, which is the name `curl -OJ` saves under; with
/// Range and as gzip passthrough as any member.
#[test]
fn download_member_with_a_utf8_name_through_nginx() {
    let site = Site::new();
    archives(&site);
    let (_wwz, nginx, _diag) = behind_nginx(&site);
    let port = nginx.port;
    let name = "logs/résumé €.txt";
    let content = "naïve café\n".as_bytes();
    let url = format!("/zip.wwz/{}?download", url_encode_path(name));

    let r = curl_get(port, &url, &[]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, content);
    assert_eq!(
        r.header("Content-Disposition"),
        "attachment; filename=\"r_sum_ _.txt\"; \
         filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.txt"
    );
    // The encoded name decodes to the member's own.
    let encoded = r
        .header("Content-Disposition")
        .split("UTF-8''")
        .nth(1)
        .unwrap();
    let decoded = percent_decode(encoded);
    assert_eq!(String::from_utf8(decoded).unwrap(), "résumé €.txt");

    // `curl -OJ` saves under the ASCII name (curl reads no `filename*`).
    let dir = site.path("curl-oj");
    std::fs::create_dir_all(&dir).unwrap();
    curl_to(
        &dir,
        &["-O", "-J"],
        &format!("http://127.0.0.1:{port}{url}"),
    );
    assert_eq!(std::fs::read(dir.join("r_sum_ _.txt")).unwrap(), content);
    // An ASCII name is saved as it is.
    curl_to(
        &dir,
        &["-O", "-J"],
        &format!("http://127.0.0.1:{port}/zip.wwz/logs/build.log?download"),
    );
    assert!(std::fs::read(dir.join("build.log")).unwrap() == log_text(300_000));

    // A Range of a download; gzip passthrough of a deflated member; `?view`
    // gives way to `?download`.
    let part = curl_get(port, "/zip.wwz/logs/build.log?download", &["-r", "10-19"]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &log_text(300_000)[10..20]);
    assert!(part
        .header("Content-Disposition")
        .contains("filename=\"build.log\""));
    let gz = curl_get(
        port,
        "/zip.wwz/logs/build.log?download",
        &["-H", "Accept-Encoding: gzip"],
    );
    assert_eq!(gz.header("Content-Encoding"), "gzip");
    assert!(gz.header("Content-Disposition").starts_with("attachment;"));
    let view = curl_get(port, "/zip.wwz/logs/build.log?view&download", &[]);
    assert!(view.body == log_text(300_000));
    // Without `?download`, no attachment.
    let plain = curl_get(port, "/zip.wwz/logs/build.log", &["-r", "0-0"]);
    assert!(plain.opt_header("Content-Disposition").is_none());
}

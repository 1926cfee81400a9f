//! A bucket as the docroot (`--docroot s3://BUCKET/PREFIX`), against a real
//! S3 server (SeaweedFS, which checks signatures) behind a proxy of ours
//! that counts requests and injects faults: the same bytes as from a local
//! docroot through nginx, the storage requests each step costs, a replaced
//! object served whole from its new version, failures answered 502/503/504
//! and never 404, wrong credentials 502, a missing object 404.

use std::io::{Cursor, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use zip::write::SimpleFileOptions;

use crate::common::nginx::{self as nginx_common, Diagnostics};
use crate::common::s3::{self, Fault, Proxy};
use crate::common::*;

/// A prefix of the bucket no other test uses.
fn prefix(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An archive of `files`, stored, in this order.
fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, content) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn upload_bytes(site: &Site, key: &str, bytes: &[u8]) {
    let path = site.path(&key.replace('/', "_"));
    std::fs::write(&path, bytes).unwrap();
    s3::upload(key, &path);
}

fn get(wwz: &Wwz, site: &Site, uri: &str) -> Reply {
    wwz.client().get(1, false, &nginx_params(site, "GET", uri))
}

/// GETs among `seen`, after checking that nothing else was asked.
fn gets(seen: &[s3::Seen]) -> usize {
    assert!(seen.iter().all(|s| s.method == "GET"), "{seen:#?}");
    seen.len()
}

/// Every member of the sample archives (Info-ZIP stored and deflated,
/// Python's zipfile, a space in the name, a nested path) is the same
/// through nginx from the bucket as from the files.
#[test]
fn members_from_a_bucket_are_the_same_bytes_through_nginx() {
    let site = Site::new();
    let proxy = Proxy::start();
    let pre = prefix("same");
    s3::upload_tree(&site.docroot, &pre);
    let wwz = s3::wwz_over(&site, &proxy, &pre, &[], s3::SECRET);
    let Addr::Unix(sock) = &wwz.addr else {
        unreachable!()
    };
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/servers/nginx.conf");
    let nginx = nginx_common::start(
        &site,
        sock,
        true,
        &format!("include {};", include.display()),
    );
    let _diag = Diagnostics(vec![
        ("nginx error log", nginx.error_log.clone()),
        ("wwz stderr", wwz.proc.stderr_path.clone()),
    ]);
    for archive in [
        "site.wwz",
        "py.wwz",
        "deflated.wwz",
        "my site.wwz",
        "sub/nested.wwz",
    ] {
        curl_fetch_all(&site, nginx.port, archive, &[]);
    }
    // Gzip passthrough of deflated members, and a Range into one.
    curl_fetch_all(&site, nginx.port, "deflated.wwz", &["--compressed"]);
    let r = curl_get(nginx.port, "/deflated.wwz/index.html", &["-r", "5-20"]);
    assert_eq!(r.status, 206, "{r:?}");
    assert_eq!(r.body, site.file("index.html")[5..=20]);
    assert!(proxy.take().iter().all(|s| s.method == "GET"));
}

/// Opening costs one suffix GET (the tail holds the directory); a member's
/// first read one GET of its range, and nothing when it is in the tail
/// read already; many requests at once for a cold archive one open.
#[test]
fn storage_requests_per_step() {
    let site = Site::new();
    let proxy = Proxy::start();
    let pre = prefix("counts");
    let big_a = noise(700 << 10, 1);
    let big_b = noise(300 << 10, 2);
    let first = noise(20 << 10, 3);
    let second = noise(30 << 10, 4);
    // Small members first: the 256 KiB tail holds only the big ones' end.
    let zip = archive(&[
        ("first.bin", &first),
        ("second.bin", &second),
        ("a.bin", &big_a),
        ("b.bin", &big_b),
    ]);
    upload_bytes(&site, &format!("{pre}/big.wwz"), &zip);
    let small = archive(&[("x.txt", b"x"), ("y.txt", b"yy")]);
    upload_bytes(&site, &format!("{pre}/small.wwz"), &small);
    let wwz = s3::wwz_over(
        &site,
        &proxy,
        &pre,
        &["--s3-revalidate-ms", "600000"],
        s3::SECRET,
    );
    proxy.take();

    // Cold archive + first member: the tail, then the member's range.
    let r = get(&wwz, &site, "/big.wwz/first.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, first);
    let seen = proxy.take();
    assert_eq!(gets(&seen), 2, "{seen:#?}");
    assert_eq!(seen[0].range.as_deref(), Some("bytes=-262144"));
    assert!(seen[1].target.contains("/big.wwz?"), "{seen:#?}");
    // A new member of the open archive: one GET.
    let r = get(&wwz, &site, "/big.wwz/second.bin");
    assert_eq!(r.body, second);
    assert_eq!(gets(&proxy.take()), 1);
    // A member larger than one fetched range: its header and first MiB,
    // then the rest streamed; at most two.
    let r = get(&wwz, &site, "/big.wwz/a.bin");
    assert_eq!(r.body, big_a);
    assert!(gets(&proxy.take()) <= 2);
    // Once its data offset is known, a member is at most one GET.
    let r = get(&wwz, &site, "/big.wwz/a.bin");
    assert_eq!(r.body, big_a);
    assert!(gets(&proxy.take()) <= 1);

    // A small archive is read whole by the open: its members cost nothing more.
    let r = get(&wwz, &site, "/small.wwz/x.txt");
    assert_eq!(r.body, b"x");
    assert_eq!(gets(&proxy.take()), 1);
    let r = get(&wwz, &site, "/small.wwz/y.txt");
    assert_eq!(r.body, b"yy");
    assert_eq!(gets(&proxy.take()), 0);

    // Twenty requests at once for a cold archive: one open.
    upload_bytes(&site, &format!("{pre}/cold.wwz"), &small);
    proxy.take();
    std::thread::scope(|s| {
        for _ in 0..20 {
            s.spawn(|| {
                let r = get(&wwz, &site, "/cold.wwz/y.txt");
                assert_eq!((r.status, r.body.as_slice()), (200, &b"yy"[..]));
            });
        }
    });
    assert_eq!(gets(&proxy.take()), 1);
}

/// An object replaced by an upload: the next member read names the old
/// version (`If-Match`), storage answers 412, and the answer comes whole
/// from the new version; with revalidation on every request, a member in
/// memory is served from the new version too. Never a mix.
#[test]
fn a_replaced_object_is_served_from_its_new_version() {
    let site = Site::new();
    let proxy = Proxy::start();
    let pre = prefix("replace");
    let version = |n: u64| {
        let files: Vec<(String, Vec<u8>)> = ["one.bin", "two.bin", "pad.bin"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.to_string(),
                    noise(if i == 2 { 400 << 10 } else { 50 << 10 }, n * 10 + i as u64),
                )
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect();
        (archive(&refs), files)
    };
    let (v1, files1) = version(1);
    let (v2, files2) = version(2);
    let key = format!("{pre}/site.wwz");
    upload_bytes(&site, &key, &v1);
    let wwz = s3::wwz_over(
        &site,
        &proxy,
        &pre,
        &["--s3-revalidate-ms", "600000"],
        s3::SECRET,
    );
    let r = get(&wwz, &site, "/site.wwz/one.bin");
    assert_eq!(r.body, files1[0].1);

    upload_bytes(&site, &key, &v2);
    proxy.take();
    // two.bin was never read: its GET names v1, storage says 412.
    let r = get(&wwz, &site, "/site.wwz/two.bin");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, files2[1].1, "not the new version's bytes");
    let r = get(&wwz, &site, "/site.wwz/one.bin");
    assert_eq!(r.body, files2[0].1);

    // With revalidation on every request, a new upload shows at once.
    let wwz0 = s3::wwz_over(
        &site,
        &proxy,
        &pre,
        &["--s3-revalidate-ms", "0"],
        s3::SECRET,
    );
    assert_eq!(get(&wwz0, &site, "/site.wwz/one.bin").body, files2[0].1);
    upload_bytes(&site, &key, &v1);
    assert_eq!(get(&wwz0, &site, "/site.wwz/one.bin").body, files1[0].1);
}

/// Each fault of storage is a 502, 503 or 504 (within the timeout and its
/// one retry), never a 404, and service resumes when storage does.
#[test]
fn storage_faults_are_5xx_never_404() {
    let site = Site::new();
    let proxy = Proxy::start();
    let pre = prefix("faults");
    s3::upload_tree(&site.docroot, &pre);
    let wwz = s3::wwz_over(
        &site,
        &proxy,
        &pre,
        &[
            "--s3-timeout-ms",
            "500",
            "--s3-revalidate-ms",
            "0",
            "--log-level",
            "debug",
        ],
        s3::SECRET,
    );
    let _diag = Diagnostics(vec![("wwz stderr", wwz.proc.stderr_path.clone())]);
    // A cut needs a body to cut: a cold archive's tail (a revalidation's
    // 304 has none).
    for (fault, allowed, archive) in [
        (Fault::Refuse, &[502][..], "site.wwz"),
        (Fault::Hang, &[504][..], "site.wwz"),
        (Fault::SlowDown, &[503][..], "site.wwz"),
        (Fault::Internal, &[502][..], "site.wwz"),
        (Fault::Cut, &[502][..], "sub/nested.wwz"),
    ] {
        proxy.set(fault);
        let r = get(&wwz, &site, &format!("/{archive}/index.html"));
        assert!(allowed.contains(&r.status), "{fault:?}: {r:?}");
        let seen = proxy.take();
        assert!(
            !seen.is_empty() && seen.len() <= 2,
            "{fault:?}: one retry at most: {seen:#?}"
        );
        proxy.set(Fault::Pass);
        let r = get(&wwz, &site, &format!("/{archive}/index.html"));
        assert_eq!(r.status, 200, "after {fault:?}: {r:?}");
        assert_eq!(r.body, site.file("index.html"));
        proxy.take();
    }
}

/// Credentials storage refuses are a 502, not a 404; a missing object is a
/// 404, remembered for the revalidation interval.
#[test]
fn wrong_credentials_are_502_and_a_missing_object_404() {
    let site = Site::new();
    let proxy = Proxy::start();
    let pre = prefix("auth");
    s3::upload_tree(&site.docroot, &pre);
    let wrong = s3::wwz_over(&site, &proxy, &pre, &[], "not-the-secret");
    let r = get(&wrong, &site, "/site.wwz/index.html");
    assert_eq!(r.status, 502, "{r:?}");

    let wwz = s3::wwz_over(
        &site,
        &proxy,
        &pre,
        &["--s3-revalidate-ms", "600000"],
        s3::SECRET,
    );
    proxy.take();
    for _ in 0..3 {
        let r = get(&wwz, &site, "/no-such.wwz/index.html");
        assert_eq!(r.status, 404, "{r:?}");
    }
    assert_eq!(gets(&proxy.take()), 1);
    assert_eq!(get(&wwz, &site, "/site.wwz/index.html").status, 200);
}

/// A small archive asked for twice is fetched whole into `--s3-cache-dir`
/// in the background, then served from its local mapping with no storage
/// request; a restart finds it there and asks storage nothing either.
#[test]
fn a_hot_archive_is_filled_to_disk_and_kept_across_a_restart() {
    let site = Site::new();
    let proxy = Proxy::start();
    let pre = prefix("disk");
    let a = noise(300 << 10, 5);
    let b = noise(200 << 10, 6);
    let zip = archive(&[("a.bin", &a), ("b.bin", &b)]);
    upload_bytes(&site, &format!("{pre}/hot.wwz"), &zip);
    let cache = site.path("s3-cache");
    let cache_arg = cache.to_str().unwrap();
    let args = [
        "--s3-revalidate-ms",
        "600000",
        "--s3-cache-dir",
        cache_arg,
        "--s3-fill-max",
        "10000000",
    ];
    let files = || {
        std::fs::read_dir(&cache)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".wwz"))
                    .count()
            })
            .unwrap_or(0)
    };
    {
        let wwz = s3::wwz_over(&site, &proxy, &pre, &args, s3::SECRET);
        assert_eq!(get(&wwz, &site, "/hot.wwz/a.bin").body, a);
        // The second request asks for the fill.
        assert_eq!(get(&wwz, &site, "/hot.wwz/b.bin").body, b);
        wait_until("the fill", patience(Duration::from_secs(10)), || {
            files() == 1
        });
        // Written, then taken up by the next request that finds it listed.
        wait_until(
            "a request served from disk",
            patience(Duration::from_secs(10)),
            || {
                proxy.take();
                assert_eq!(get(&wwz, &site, "/hot.wwz/a.bin").body, a);
                proxy.take().is_empty()
            },
        );
        for _ in 0..3 {
            assert_eq!(get(&wwz, &site, "/hot.wwz/a.bin").body, a);
            assert_eq!(get(&wwz, &site, "/hot.wwz/b.bin").body, b);
        }
        assert_eq!(gets(&proxy.take()), 0, "served from the disk cache");
    }
    let wwz = s3::wwz_over(&site, &proxy, &pre, &args, s3::SECRET);
    assert_eq!(get(&wwz, &site, "/hot.wwz/b.bin").body, b);
    assert_eq!(gets(&proxy.take()), 0, "after a restart");
}

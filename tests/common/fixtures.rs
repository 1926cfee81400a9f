//! The sample site and the archives made of it by real tools (`zip`,
//! Python's zipfile), in a fresh temp dir per test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::{require_tool, tempdir, TempDir};

/// The mtime given to every sample file: an even second, so DOS times (2 s
/// granularity, no UT extra field) round-trip too.
pub const SAMPLE_MTIME: u64 = 1_704_164_644; // Tue, 02 Jan 2024 03:04:04 GMT
pub const SAMPLE_MTIME_HTTP: &str = "Tue, 02 Jan 2024 03:04:04 GMT";

/// Deterministic pseudo-random bytes (xorshift), so binary files are not compressible.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A text log of at least `len` bytes, cut to exactly `len`.
pub fn log_text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut i = 0u32;
    while out.len() < len {
        out.extend_from_slice(
            format!("[{i:06}] step {} ok: compiled crate number {i}\n", i % 17).as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

/// Size of a member that is an exact multiple of wwz's STDOUT chunk (65528).
pub const EXACT_CHUNKS: usize = 65528 * 3;

/// The files of the sample site: (path relative to the site root, content).
pub fn sample_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "index.html",
            b"<!doctype html>\n<title>sample</title>\n<link rel=stylesheet href=style.css>\n<p>Hello from the archive.</p>\n".to_vec(),
        ),
        ("style.css", b"body { font: 16px/1.4 sans-serif; color: #222 }\n".to_vec()),
        ("logs/build.txt", log_text(5000)),
        ("logs/big.txt", log_text(66_000 + 4321)),
        ("docs/index.html", b"<!doctype html>\n<p>docs index</p>\n".to_vec()),
        (
            "docs/deep/nested/page.html",
            b"<!doctype html>\n<p>deeply nested page</p>\n".to_vec(),
        ),
        ("with space/a file.txt", b"a name with spaces\n".to_vec()),
        ("data/blob.bin", noise(200 * 1024 + 77, 0x5eed)),
        ("data/exact.bin", noise(EXACT_CHUNKS, 0xfeed)),
        ("empty.txt", Vec::new()),
    ]
}

/// Writes the sample site under `root`, every file with mtime [`SAMPLE_MTIME`].
pub fn write_site(root: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let files = sample_files();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(SAMPLE_MTIME);
    for (rel, content) in &files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(mtime).unwrap();
    }
    files
}

pub fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cd src && zip -0 -r -q out .`: stored members, directory entries, UT times.
pub fn zip_stored(src: &Path, out: &Path) {
    let zip = require_tool("zip", "zip");
    run_ok(
        Command::new(zip)
            .args(["-0", "-r", "-q"])
            .arg(out)
            .arg(".")
            .current_dir(src),
        "zip -0 -r",
    );
}

/// `cd src && zip -r -q out .`: deflated members (what users of the original wwz ship).
pub fn zip_deflated(src: &Path, out: &Path) {
    let zip = require_tool("zip", "zip");
    run_ok(
        Command::new(zip)
            .args(["-r", "-q"])
            .arg(out)
            .arg(".")
            .current_dir(src),
        "zip -r",
    );
}

/// Python's zipfile with ZIP_STORED, files only (no directory entries), DOS times.
pub fn python_zip_stored(src: &Path, out: &Path) {
    let python = require_tool("python3", "python3");
    let script = r#"
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            z.write(full, os.path.relpath(full, src))
"#;
    run_ok(
        Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(src)
            .arg(out)
            .env("TZ", "UTC"),
        "python3 zipfile",
    );
}

/// A docroot with archives of the sample site, in a fresh temp dir.
pub struct Site {
    pub dir: TempDir,
    /// The unpacked site the archives were made from.
    pub src: PathBuf,
    /// The docroot holding the archives.
    pub docroot: PathBuf,
    pub files: Vec<(&'static str, Vec<u8>)>,
}

impl Site {
    /// `site.wwz` (zip -0 -r), `py.wwz` (Python zipfile, stored),
    /// `deflated.wwz` (zip -r) and `my site.wwz` (zip -0 -r, a space in the name).
    pub fn new() -> Site {
        let dir = tempdir();
        let src = dir.path().join("src");
        let docroot = dir.path().join("www");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(docroot.join("sub")).unwrap();
        let files = write_site(&src);
        zip_stored(&src, &docroot.join("site.wwz"));
        python_zip_stored(&src, &docroot.join("py.wwz"));
        zip_deflated(&src, &docroot.join("deflated.wwz"));
        zip_stored(&src, &docroot.join("my site.wwz"));
        zip_stored(&src, &docroot.join("sub/nested.wwz"));
        Site {
            dir,
            src,
            docroot,
            files,
        }
    }

    pub fn file(&self, rel: &str) -> &[u8] {
        &self
            .files
            .iter()
            .find(|(r, _)| *r == rel)
            .unwrap_or_else(|| panic!("no sample file {rel}"))
            .1
    }

    /// A path inside the temp dir for a socket or a config file.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `zip -0 -q out file...` of single files given as (name, content), made in a scratch dir.
pub fn zip_files(out: &Path, files: &[(&str, &[u8])]) {
    let scratch = tempdir();
    for (name, content) in files {
        let p = scratch.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    zip_stored(scratch.path(), out);
}

// --- A static site, for one-site-one-archive setups -------------------------

pub const SITE_REDIRECTS: &str = "# each kind of rule, and one bad line\n\
/old-page   /about                301\n\
/moved/*    /guide/:splat         302\n\
/u/:name    /guide/:name          308\n\
/see        /about                303\n\
/temp       /about                307\n\
/ext        https://example.org/x 302\n\
/app/*      /index.html           200\n\
/p/:id/show /blog/2024/:id        200\n\
/broken\n";

/// A generated static site: nested directories, `index.html` at several
/// levels and an `index.htm`, `404.html` at the root and in `guide/`, pages
/// reachable only through clean URLs, and a `_redirects` with each rule kind.
pub fn site_tree() -> Vec<(&'static str, Vec<u8>)> {
    let page = |title: &str, links: &str| {
        format!(
            "<!doctype html>\n<html><head><title>{title}</title>\
             <link rel=stylesheet href=\"/style.css\"></head>\n<body><h1>{title}</h1>\n{links}\n</body></html>\n"
        )
        .into_bytes()
    };
    vec![
        (
            "index.html",
            page(
                "home",
                "<a href=\"about\">about</a> <a href=\"guide/\">guide</a> <a href=\"guide/intro\">intro</a> \
                 <a href=\"manual/\">manual</a> <a href=\"blog/\">blog</a> <a href=\"old-page\">old</a>",
            ),
        ),
        ("about.html", page("about", "<a href=\"./\">home</a>")),
        ("style.css", b"body { background-color: rgb(1, 2, 3); color: #eee }\n".to_vec()),
        (
            "404.html",
            page(
                "not here",
                "<script>addEventListener('load', () => { document.body.dataset.bg = \
                 getComputedStyle(document.body).backgroundColor })</script>",
            ),
        ),
        ("guide/index.html", page("guide", "<a href=\"intro\">intro</a> <a href=\"../\">up</a>")),
        ("guide/intro.html", page("intro", "<a href=\"./\">guide</a>")),
        ("guide/404.html", page("not in the guide", "")),
        ("manual/index.htm", page("manual", "<a href=\"../about\">about</a>")),
        ("blog/2024/post.html", page("post", "<a href=\"../../\">home</a>")),
        ("_redirects", SITE_REDIRECTS.as_bytes().to_vec()),
    ]
}

/// The site packed by `wwz pack` as `site.wwz` and `docs.wwz` in the docroot.
pub fn site_archives(site: &Site) -> Vec<(&'static str, Vec<u8>)> {
    let files = site_tree();
    let src = site.path("site-src");
    for (name, content) in &files {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    for archive in ["site.wwz", "docs.wwz"] {
        let out = Command::new(super::process::wwz_bin())
            .arg("pack")
            .arg(&src)
            .arg("-o")
            .arg(site.docroot.join(archive))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    files
}

/// Runs a Python script with `dir` as its one argument (where it writes the
/// archives it makes) and returns what it printed; a failing script fails
/// the test with its stderr.
pub fn python_in(dir: &Path, script: &str) -> Vec<u8> {
    let out = Command::new(require_tool("python3", "python3"))
        .args(["-c", script])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#!/usr/bin/env python3
"""Regenerates fuzz/corpus-seed/: real small archives (zip, Python zipfile,
`wwz pack`, fixtures/make-hostile.py), the compressed members inside them,
real FastCGI record streams, router parameters, request headers, query
strings, `_redirects` and `_headers` files and terminal output (rustc and
git with colour).
Run from the repository root: python3 fuzz/make-seeds.py

`wwz pack` is $WWZ, else target/release/wwz or target/debug/wwz, else built
with cargo."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "fuzz", "corpus-seed")


def put(target, name, data):
    d = os.path.join(SEED, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# -- zip_index: archives made by real tools and the hostile set ---------------
def zips():
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(os.path.join(src, "logs", "job-1"))
        files = {
            "index.html": b"<!doctype html><p>hi</p>\n",
            "logs/job-1/build.log": b"step 1 ok\n" * 40,
            "logs/summary.txt": b"all green\n",
            "a b.txt": b"space\n",
        }
        for rel, data in files.items():
            with open(os.path.join(src, rel), "wb") as f:
                f.write(data)
        for flags, name in ((["-0", "-r", "-q"], "zip-stored.zip"), (["-r", "-q"], "zip-deflated.zip")):
            out = os.path.join(tmp, name)
            subprocess.run(["zip", *flags, out, "."], cwd=src, check=True)
            put("zip_index", name, open(out, "rb").read())
        for method, name in ((zipfile.ZIP_STORED, "python-stored.zip"), (zipfile.ZIP_DEFLATED, "python-deflated.zip")):
            out = os.path.join(tmp, name)
            with zipfile.ZipFile(out, "w", compression=method) as z:
                for rel, data in files.items():
                    z.writestr(rel, data)
            put("zip_index", name, open(out, "rb").read())
        # ZIP64 records forced by Python on a small archive.
        out = os.path.join(tmp, "python-zip64.zip")
        with zipfile.ZipFile(out, "w") as z:
            with z.open("big.txt", "w", force_zip64=True) as f:
                f.write(b"zip64 member\n")
        put("zip_index", "python-zip64.zip", open(out, "rb").read())
        hostile = os.path.join(tmp, "hostile")
        subprocess.run([sys.executable, os.path.join(ROOT, "fixtures", "make-hostile.py"),
                        hostile, "--no-bomb"], check=True, stdout=subprocess.DEVNULL)
        for name in sorted(os.listdir(hostile)):
            data = open(os.path.join(hostile, name), "rb").read()
            if len(data) <= 4096:
                put("zip_index", "hostile-" + name, data)


# -- fcgi_records: what web servers send ----------------------------------------
def header(kind, rid, n, pad=None):
    pad = (8 - n % 8) % 8 if pad is None else pad
    return struct.pack(">BBHHBB", 1, kind, rid, n, pad, 0), pad


def record(kind, rid, content, pad=None):
    h, pad = header(kind, rid, len(content), pad)
    return h + content + b"\0" * pad


def pair(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(name)) + ln(len(value)) + name + value


def request(rid, uri, keep=1, extra=()):
    params = b"".join(pair(n, v) for n, v in [
        (b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", uri), (b"DOCUMENT_ROOT", b"/srv/www"),
        (b"SCRIPT_NAME", uri.split(b"?")[0]), (b"QUERY_STRING", b""),
        (b"HTTP_ACCEPT_ENCODING", b"gzip"), *extra])
    return (record(1, rid, struct.pack(">HB5x", 1, keep)) + record(4, rid, params)
            + record(4, rid, b"") + record(5, rid, b""))


def records():
    put("fcgi_records", "nginx-get", request(1, b"/site.wwz/index.html"))
    put("fcgi_records", "two-keepalive", request(1, b"/a.wwz/x") + request(1, b"/a.wwz/y", keep=0))
    put("fcgi_records", "get-values", record(9, 0, pair(b"FCGI_MAX_CONNS", b"") + pair(b"FCGI_MPXS_CONNS", b"")))
    put("fcgi_records", "long-lengths", request(7, b"/x.wwz/" + b"a" * 300, extra=[(b"HTTP_COOKIE", b"c" * 200)]))
    put("fcgi_records", "abort", record(1, 3, struct.pack(">HB5x", 1, 1)) + record(2, 3, b""))
    put("fcgi_records", "odd-padding", record(4, 1, pair(b"A", b"b"), pad=200) + record(4, 1, b""))
    put("fcgi_records", "unknown-role", record(1, 1, struct.pack(">HB5x", 2, 0)))


# -- route: mask byte, then values separated by 0xFF ---------------------------
NAMES = ["DOCUMENT_ROOT", "SCRIPT_FILENAME", "PATH_INFO", "REQUEST_URI", "DOCUMENT_URI", "SCRIPT_NAME"]


def route(name, fixed, **params):
    mask = 0x40 if fixed else 0
    values = []
    for bit, n in enumerate(NAMES):
        if n in params:
            mask |= 1 << bit
            values.append(params[n])
    put("route", name, bytes([mask]) + b"\xff".join(values))


def routes():
    route("nginx", False, DOCUMENT_ROOT=b"/srv/www", REQUEST_URI=b"/jobs/1.wwz/logs/a%20b.txt?x=1")
    route("split", False, DOCUMENT_ROOT=b"/srv/www", SCRIPT_FILENAME=b"/srv/www/x.wwz", PATH_INFO=b"/a/b.html")
    route("caddy", True, SCRIPT_FILENAME=b"/srv/www", SCRIPT_NAME=b"", PATH_INFO=b"/x.wwz/p.html")
    route("traversal", True, REQUEST_URI=b"/x.wwz/%2e%2e/%2e%2e/etc/passwd")
    route("double", True, REQUEST_URI=b"/x.wwz/%252e%252e/y")
    route("overlong", True, REQUEST_URI=b"/x.wwz/%c0%ae%c0%ae/y")
    route("dots", True, DOCUMENT_URI=b"//a/./b.wwz/./c//d/.")
    route("backslash", True, REQUEST_URI=b"/x.wwz\\..\\y")


# -- http_headers: 8-byte length, then Range, If-Match, If-None-Match,
#    If-Modified-Since, If-Unmodified-Since separated by newlines ------------
def headers():
    def h(name, length, *lines):
        put("http_headers", name, struct.pack("<Q", length) + b"\n".join(lines))
    h("single", 1000 << 2, b"bytes=0-99")
    h("multi", 5000 << 2, b"bytes=0-9, 20-29,-5,100-", b"*", b"W/\"x\", \"1a2b3c4d-100-65000000\"")
    h("dates", 1000 << 2, b"bytes=500-", b"", b"", b"Tue, 14 Nov 2023 22:13:20 GMT",
      b"Sunday, 06-Nov-94 08:49:37 GMT")
    h("asctime", (1 << 2) | 1, b"bytes=-0", b"\"nope\"", b"", b"Sun Nov  6 08:49:37 1994")
    h("huge", 3, b"bytes=18446744073709551614-18446744073709551615")


# -- wwz pack output: zip_index, packed_index, and the members for inflate -------
def wwz():
    if os.environ.get("WWZ"):
        return os.environ["WWZ"]
    for kind in ("release", "debug"):
        path = os.path.join(ROOT, "target", kind, "wwz")
        if os.path.exists(path):
            return path
    subprocess.run(["cargo", "build", "-q", "--bin", "wwz"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "debug", "wwz")


def site_tree(dst):
    """fixtures/sample-site, a _redirects, a coloured log and enough pages that
    the packed index's table has more than its minimum of slots."""
    shutil.copytree(os.path.join(ROOT, "fixtures", "sample-site"), dst)
    with open(os.path.join(dst, "_redirects"), "wb") as f:
        f.write(REDIRECTS[0][1])
    os.makedirs(os.path.join(dst, "d0"))
    for i in range(12):
        with open(os.path.join(dst, "d0", "p%d.html" % i), "wb") as f:
            f.write(b"<!doctype html><title>page %d</title><p>" % i + b"text " * (i * 20) + b"\n")
    with open(os.path.join(dst, "logs", "job-1", "color.log"), "wb") as f:
        f.write(TERMINAL_SAMPLE * 8)


def packs():
    """Archives made by `wwz pack` (deflated, with precompressed siblings, all
    stored); returns them by name."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "site")
        site_tree(src)
        for name, flags in (("pack-deflated", []),
                            ("pack-precompressed", ["--precompress", "br", "--precompress", "zstd",
                                                    "--precompress", "gz"]),
                            ("pack-stored", ["--deflate", "never"])):
            dst = os.path.join(tmp, name + ".wwz")
            subprocess.run([wwz(), "pack", "-q", "--mtime", "1700000000", *flags, "-o", dst, src],
                           check=True)
            out[name] = open(dst, "rb").read()
    return out


def raw_members(data):
    """(name, method, size, raw bytes) of each member with data."""
    with tempfile.NamedTemporaryFile(suffix=".zip") as f:
        f.write(data)
        f.flush()
        z = zipfile.ZipFile(f.name)
        for info in z.infolist():
            if info.compress_size == 0:
                continue
            name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
            at = info.header_offset + 30 + name_len + extra_len
            yield info.filename, info.compress_type, info.file_size, data[at:at + info.compress_size]


def inflate_seed(name, zstd, size, stream, skip=0, take=0xffff, chunk=255):
    # method, declared size, skip/4, take/4, read size; see fuzz_targets/inflate.rs
    put("inflate", name, struct.pack("<BIHHB", 1 if zstd else 0, size, skip // 4, take, chunk) + stream)


def gzip_body(gz):
    """The raw deflate stream inside a gzip member (RFC 1952 header skipped)."""
    flags, at = gz[3], 10
    if flags & 4:
        at += 2 + struct.unpack("<H", gz[at:at + 2])[0]
    for bit in (8, 16):
        if flags & bit:
            at = gz.index(b"\0", at) + 1
    if flags & 2:
        at += 2
    return gz[at:-8]


def pack_seeds():
    seen = set()
    for name, data in packs().items():
        put("zip_index", name + ".wwz", data)
        put("packed_index", name + ".wwz", data)
        for member, method, size, raw in raw_members(data):
            if raw in seen:  # the same member deflated the same way in another pack
                continue
            seen.add(raw)
            tag = name + "-" + member.replace("/", "_")
            if method == zipfile.ZIP_DEFLATED:
                inflate_seed(tag, False, size, raw, chunk=3)
            elif member.endswith(".zst"):
                inflate_seed(tag, True, len(zstd_decompress(raw)), raw, skip=64, take=32)
            elif member.endswith(".gz"):
                inflate_seed(tag, False, len(zlib.decompress(raw, 31)), gzip_body(raw))
    # Streams no member above has: other levels, several zstd frames, a checksum.
    text = TERMINAL_SAMPLE * 20
    for level in (0, 1, 9):
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        inflate_seed("zlib-level%d" % level, False, len(text), c.compress(text) + c.flush())
    if shutil.which("zstd"):
        frames = zstd_compress(text[:500], "-1") + zstd_compress(text[500:], "-19", "--check")
        inflate_seed("zstd-two-frames", True, len(text), frames, skip=400, take=100, chunk=1)
        inflate_seed("zstd-long-window", True, len(text), zstd_compress(text, "--long=25"))


def zstd_compress(data, *flags):
    return subprocess.run(["zstd", "-q", "-c", *flags], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def zstd_decompress(data):
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


# -- fcgi_protocol: a PARAMS limit byte, then records ------------------------------
def protocol():
    def p(name, limit, stream):
        put("fcgi_protocol", name, bytes([limit]) + stream)
    begin = lambda rid, role=1, keep=1: record(1, rid, struct.pack(">HB5x", role, keep))
    p("nginx-get", 255, request(1, b"/site.wwz/index.html"))
    p("keepalive-then-close", 255, request(1, b"/a.wwz/x") + request(1, b"/a.wwz/y", keep=0))
    p("get-values", 255, record(9, 0, pair(b"FCGI_MAX_CONNS", b"") + pair(b"FCGI_MAX_REQS", b"")
                                + pair(b"FCGI_MPXS_CONNS", b"") + pair(b"OTHER", b"")))
    p("unknown-management", 255, record(12, 0, b"") + record(6, 0, b"x"))
    p("cant-mpx", 255, begin(1) + begin(2) + request(1, b"/a.wwz/x")[16:])
    p("abort-keep", 255, begin(3) + record(4, 3, pair(b"A", b"b")) + record(2, 3, b"") + request(4, b"/a.wwz/z"))
    p("abort-close", 255, begin(3, keep=0) + record(2, 3, b""))
    p("too-large", 2, request(1, b"/x.wwz/" + b"a" * 300))
    p("roles", 255, begin(1, role=2) + begin(1, role=3, keep=0))
    p("stdin-after", 255, request(1, b"/a.wwz/x") + record(5, 1, b"body") + record(8, 1, b"")
      + request(2, b"/a.wwz/y"))
    p("duplicate-begin", 255, begin(1) + begin(1))


# -- redirects: a request path, a newline, then a _redirects file ----------------
REDIRECTS = [
    ("netlify", b"""# Redirects from what Netlify and GitLab Pages document
/home              /
/blog/my-post.php  /blog/my-post
/news              /blog
/cuties            https://www.petsofnetlify.com
/old/*             /new/:splat      301
/news/:year/:month/:date/:slug  /blog/:year/:month/:date/:slug
/app/*             /index.html      200
/docs/*            /docs/index.html 200
/store/*           /shop/:splat     302!
/go/:name          https://example.org/:name 307
/legacy            /current?from=legacy 308
"""),
    ("bad-lines", b"""/a /b 404
/a b
only-one-field
/x/*/y /z
/q?x=1 /r
/p  /../etc/passwd
/p  //evil.example
/p  javascript:alert(1)
/ok /fine 303
/p  /ok 200 Country=us
"""),
    ("crlf", b"/a /b 302\r\n/c/:x /d/:x 301\r\n# comment\r\n"),
]


def redirects():
    paths = [b"news/2024/01/02/hello", b"old/a/b/c", b"app/deep/link", b"go/someone", b"legacy",
             b"store/x y/\xc3\xa9"]
    for name, text in REDIRECTS:
        for i, path in enumerate(paths[:3] if name != "netlify" else paths):
            put("redirects", "%s-%d" % (name, i), path + b"\n" + text)


# -- headers: a request's host, its path, then a _headers file ---------------------
HEADER_FILES = [
    ("cloudflare", b"""# The example Cloudflare Pages documents
/secure/page
  X-Frame-Options: DENY
  X-Content-Type-Options: nosniff
  Referrer-Policy: no-referrer

/static/*
  Access-Control-Allow-Origin: *
  X-Robots-Tag: nosnippet

https://myproject.pages.dev/*
  X-Robots-Tag: noindex

/movies/:title
  x-movie-name: You are watching ":title"
"""),
    ("site", b"""# What a site moved from Netlify carries
/*
  X-Frame-Options: DENY
  X-Robots-Tag: noindex
  Content-Security-Policy: default-src 'self'; script-src 'self'
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
/assets/*
  Cache-Control: public, max-age=31536000, immutable
/*.wasm
  Content-Type: application/wasm
/:lang/docs/*
  Content-Language: :lang
  Link: </:lang/docs/:splat.md>; rel="alternate"; type="text/markdown"
/fonts/*
  Access-Control-Allow-Origin: *
/sitemap.xml
  ! X-Robots-Tag
https://:sub.preview.example.org/*
  X-Preview: :sub
  Set-Cookie: preview=1; Path=/
  set-cookie: seen=1
"""),
    ("bad-lines", b"""  X-Before: any pattern
/ok
  no colon here
  Bad Name: x
  Content-Length: 5
  ! Location
  X-Empty:
X-Unindented: value
  X-Under-Skipped: 1
/two/*/splats/*
/a:b
https://example.org:8443/
ftp://example.org/
/:x/:x
/bad%zz
/empty
/last
  X-Last: 1
"""),
    ("crlf", b"\xef\xbb\xbf/a\r\n\tX-Tab: 1\r\n  X-Cr: a\rb\r\n# c\r\n/b/*\r\n  X: :splat\r\n"),
]


def header_files():
    requests = [(b"", b"/"), (b"myproject.pages.dev", b"/static/styles.css"),
                (b"pr-7.preview.example.org:8443", b"/en/docs/guide/intro"),
                (b"example.org", b"/movies/a\r\nb"), (b"", b"/assets/app.js")]
    for name, text in HEADER_FILES:
        for i, (host, path) in enumerate(requests if name in ("cloudflare", "site") else requests[:2]):
            put("headers", "%s-%d" % (name, i), host + b"\n" + path + b"\n" + text)


# -- terminal: the byte a search marks, then terminal output ------------------------
TERMINAL_SAMPLE = (
    b"\x1b[1m\x1b[32m   Compiling\x1b[0m wwz v0.1.0 (/src)\n"
    b"\x1b[0m\x1b[1m\x1b[38;5;9merror[E0308]\x1b[0m\x1b[0m\x1b[1m: mismatched types\x1b[0m\n"
    b"##[group]Run cargo test\n##[error]Process completed with exit code 1.\n##[endgroup]\n"
    b"progress  10%\rprogress  50%\rprogress 100%\n"
    b"\x1b[2K\x1b[Gdone \x1b]8;;https://example.org\x1b\\link\x1b]8;;\x1b\\ \x1b]0;title\x07\n"
    b"\x1b[38;2;255;100;0;48;2;0;0;64mtruecolor\x1b[7m inverse\x1b[27;39;49m plain <b>&amp;\"'\n"
    b"\x1b[?25l\x1b(B\x1b[1;31;4;3;2;9;53mstyles\x1b[m\ttab\x7f\x00\r\n"
)


def terminal():
    put("terminal", "synthetic", b"e" + TERMINAL_SAMPLE)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "broken.rs")
        with open(src, "w") as f:
            f.write("fn main() {\n    let x: u32 = \"text\";\n    let unused = 1;\n    undefined();\n}\n")
        rustc = subprocess.run(["rustc", "--color=always", "--edition=2021", "-o", os.path.join(tmp, "b"), src],
                               cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        put("terminal", "rustc-errors", b"e" + rustc.stdout[:8192])
    # A coloured diff of a file of this repository (its first commit that has it).
    git = subprocess.run(["git", "log", "-p", "-n", "2", "--color=always", "--format=%C(yellow)%h%Creset %s",
                          "--", "fuzz/make-seeds.py"], cwd=ROOT, stdout=subprocess.PIPE)
    if git.returncode == 0 and git.stdout:
        put("terminal", "git-diff", b"d" + git.stdout[:8192])


# -- accept_encoding: the header value --------------------------------------------
ACCEPT_ENCODINGS = [
    b"gzip, deflate, br, zstd",                 # Chrome, Firefox
    b"gzip, deflate, br",                       # Safari
    b"gzip",                                    # curl --compressed without brotli
    b"br;q=1.0, gzip;q=0.8, *;q=0.1",
    b"identity",
    b"*;q=0",
    b"gzip;q=0, identity;q=0.5, br;q=0.4",
    b"x-gzip, ZSTD;Q=0.999, br;q=0.000",
    b"zstd;q=0.5, br;q=0.5, gzip;q=0.5, identity;q=0.6",
    b"br;q=1.0001, gzip;q=.5, zstd;q=1., *",
]


def accept():
    for i, v in enumerate(ACCEPT_ENCODINGS):
        put("accept_encoding", "accept-%d" % i, v)


# -- query: query strings the README documents --------------------------------------
QUERIES = [
    b"view", b"view&all", b"view&from=120", b"format=json", b"json", b"openmetrics",
    b"q=error%5BE0308%5D+x&case=1&re=1&format=json&from=7&skip=12",
    b"q=%E2%9C%93+passed&re=0", b"sort=size&order=desc", b"sort=time&order=asc",
    b"q=a%zz%&from=-1&skip=99999999999999999999", b"q=&&=&view=1&q=second",
]


def queries():
    for i, v in enumerate(QUERIES):
        put("query", "query-%d" % i, v)


# -- report: the JUnit/xUnit corpus of real tools' reports (fixtures/ci/reports) --


def reports():
    src = os.path.join(ROOT, "fixtures", "ci", "reports")
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if name.endswith(".xml") and os.path.getsize(path) < 60000:
            with open(path, "rb") as f:
                put("report", name, f.read())


if __name__ == "__main__":
    if os.path.isdir(SEED):
        shutil.rmtree(SEED)
    zips()
    records()
    routes()
    headers()
    pack_seeds()
    protocol()
    redirects()
    header_files()
    terminal()
    accept()
    queries()
    reports()

#!/usr/bin/env python3
"""Regenerates fuzz/corpus-seed/: real small archives (zip, Python zipfile,
fixtures/make-hostile.py), real FastCGI record streams, router parameters and
request headers. Run from the repository root: python3 fuzz/make-seeds.py"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

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


if __name__ == "__main__":
    if os.path.isdir(SEED):
        shutil.rmtree(SEED)
    zips()
    records()
    routes()
    headers()

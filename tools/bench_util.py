#!/usr/bin/env python3
"""Helpers for tools/bench: deterministic test archives, the cold-start probe,
and reading callgrind output. Standard library only.

usage:
  bench_util.py big-index OUT.zip [TREE_DIR]
      100,000 small stored members written with zipfile.writestr (ZIP64, as
      zipfile writes past 65,535 entries); with TREE_DIR, the same files on
      disk too (for `wwz pack`).
  bench_util.py many DIR ARCHIVES MEMBERS SIZE URIS
      ARCHIVES archives a00000.wwz... with MEMBERS stored members m0.html...
      of SIZE bytes each, plus one.wwz with the same members; writes
      DIR/many.uris and DIR/one.uris (URIS random archive+member lines each,
      same member sequence) and DIR/all.uris (every archive once).
  bench_util.py memory DIR URIS
      99 archives s00.wwz..s98.wwz of 5..299 members of 512 B..8 KiB (varying
      by archive), and big.wwz with the same kind of small members plus eight
      8 MiB members; DIR/small.uris (small members of all 100 archives) and
      DIR/mixed.uris (the same with one line in 25 an 8 MiB member).
  bench_util.py cold WWZ DOCROOT URI RUNS
      RUNS times: start `WWZ serve --listen unix:SOCK --docroot DOCROOT`, time
      from just before the spawn to the end of the first 200 response for URI
      (retrying the connect until the socket exists). Prints each time and a
      `COLD best_ms=.. median_ms=..` line.
  bench_util.py callgrind FILE REQUESTS
      From a callgrind output file: total Ir, Ir per request, allocation
      calls (malloc, calloc, realloc, posix_memalign, aligned_alloc) per
      request. Prints a `CALLGRIND ...` line.
"""
import os
import random
import socket
import struct
import subprocess
import sys
import time
import zipfile

FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def stored(zf, name, data):
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


# ------------------------------------------------------------------ archives

def big_index(out, tree=None):
    """100,000 members of 64..1,024 bytes, names like site/s042/p01234-title.html."""
    rng = random.Random(7)
    blob = bytes(rng.randrange(32, 127) for _ in range(4096))
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for i in range(100_000):
            name = f"site/s{i // 1000:03d}/p{i:05d}-{'abcdefghij'[i % 10] * (i % 7 + 3)}.html"
            size = rng.randrange(64, 1025)
            start = rng.randrange(0, len(blob) - size)
            data = blob[start:start + size]
            stored(zf, name, data)
            if tree is not None:
                path = os.path.join(tree, name)
                if i % 1000 == 0:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)


def member_data(rng, size):
    words = b"archive member zip mapping kernel page cache socket record header stream\n"
    return (words * (size // len(words) + 1))[:size]


def many(d, archives, members, size, uris):
    rng = random.Random(11)
    os.makedirs(d, exist_ok=True)
    datas = [member_data(rng, size)[:-8] + b"%08d" % m for m in range(members)]
    for a in range(archives):
        with zipfile.ZipFile(os.path.join(d, f"a{a:05d}.wwz"), "w") as zf:
            for m, data in enumerate(datas):
                stored(zf, f"m{m}.html", data)
    with zipfile.ZipFile(os.path.join(d, "one.wwz"), "w") as zf:
        for m, data in enumerate(datas):
            stored(zf, f"m{m}.html", data)
    picks = [(rng.randrange(archives), rng.randrange(members)) for _ in range(uris)]
    with open(os.path.join(d, "many.uris"), "w") as f:
        f.writelines(f"/a{a:05d}.wwz/m{m}.html\n" for a, m in picks)
    with open(os.path.join(d, "one.uris"), "w") as f:
        f.writelines(f"/one.wwz/m{m}.html\n" for _, m in picks)
    with open(os.path.join(d, "all.uris"), "w") as f:
        f.writelines(f"/a{a:05d}.wwz/m0.html\n" for a in range(archives))


def memory(d, uris):
    rng = random.Random(13)
    os.makedirs(d, exist_ok=True)
    small = []  # (archive, member)
    for k in range(99):
        count = 5 + 3 * k
        size = 512 << (k % 5)
        name = f"s{k:02d}.wwz"
        with zipfile.ZipFile(os.path.join(d, name), "w") as zf:
            for m in range(count):
                stored(zf, f"p{m}.html", member_data(rng, size - 8) + b"%08d" % m)
                small.append((name, f"p{m}.html"))
    big = []
    with zipfile.ZipFile(os.path.join(d, "big.wwz"), "w") as zf:
        for m in range(200):
            stored(zf, f"p{m}.html", member_data(rng, 4096))
            small.append(("big.wwz", f"p{m}.html"))
        for m in range(8):
            stored(zf, f"big{m}.bin", rng.randbytes(8 << 20))
            big.append(("big.wwz", f"big{m}.bin"))
    lines = [small[rng.randrange(len(small))] for _ in range(uris)]
    with open(os.path.join(d, "small.uris"), "w") as f:
        f.writelines(f"/{a}/{m}\n" for a, m in lines)
    with open(os.path.join(d, "mixed.uris"), "w") as f:
        for i, (a, m) in enumerate(lines):
            if i % 25 == 0:
                a, m = big[(i // 25) % len(big)]
            f.write(f"/{a}/{m}\n")


# ------------------------------------------------------------------ FastCGI

def fcgi_record(kind, content, request_id=1):
    pad = -len(content) % 8
    return struct.pack(">BBHHBx", 1, kind, request_id, len(content), pad) + content + b"\0" * pad


def fcgi_pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


def fcgi_request(uri, docroot):
    params = {
        "REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SCRIPT_NAME": uri, "DOCUMENT_URI": uri,
        "DOCUMENT_ROOT": docroot, "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1", "HTTP_HOST": "localhost",
    }
    block = b"".join(fcgi_pair(k.encode(), v.encode()) for k, v in params.items())
    return (fcgi_record(1, struct.pack(">HB5x", 1, 0)) + fcgi_record(4, block)
            + fcgi_record(4, b"") + fcgi_record(5, b""))


def fcgi_response(sock):
    """The STDOUT stream of one response (up to END_REQUEST)."""
    buf = b""
    out = []
    while True:
        while len(buf) >= 8:
            _, kind, _, clen, pad = struct.unpack(">BBHHB", buf[:7])
            if len(buf) < 8 + clen + pad:
                break
            content = buf[8:8 + clen]
            buf = buf[8 + clen + pad:]
            if kind == 6:
                out.append(content)
            elif kind == 3:
                return b"".join(out)
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("connection closed before END_REQUEST")
        buf += chunk


def cold(wwz, docroot, uri, runs):
    times = []
    request = fcgi_request(uri, docroot)
    for run in range(runs):
        path = f"{docroot}/.cold-{os.getpid()}-{run}.sock"
        t0 = time.perf_counter()
        proc = subprocess.Popen([wwz, "serve", "--listen", f"unix:{path}", "--docroot", docroot],
                                stdin=subprocess.DEVNULL)
        try:
            while True:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(path)
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    s.close()
                    if proc.poll() is not None:
                        raise RuntimeError(f"wwz exited with {proc.returncode}")
                    if time.perf_counter() - t0 > 10:
                        raise RuntimeError("no socket after 10 s")
                    time.sleep(0.0001)
            s.sendall(request)
            body = fcgi_response(s)
            t1 = time.perf_counter()
            s.close()
            status = body.split(b"\r\n", 1)[0]
            if not status.startswith(b"Status: 200"):
                raise RuntimeError(f"first response: {status!r}")
            times.append((t1 - t0) * 1000)
        finally:
            proc.terminate()
            proc.wait()
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    times.sort()
    print("times ms: " + " ".join(f"{t:.2f}" for t in times))
    print(f"COLD best_ms={times[0]:.2f} median_ms={times[len(times) // 2]:.2f} runs={runs}")


# ------------------------------------------------------------------ callgrind

ALLOC = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign"}


def callgrind(path, requests):
    names = {}

    def name_of(spec):
        spec = spec.strip()
        if spec.startswith("("):
            close = spec.index(")")
            key = spec[1:close]
            rest = spec[close + 1:].strip()
            if rest:
                names[key] = rest
            return names.get(key, key)
        return spec

    total = None
    allocs = 0
    frees = 0
    fn = ""
    cfn = ""
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                fn = name_of(line[3:])
            elif line.startswith("cfn="):
                cfn = name_of(line[4:])
            elif line.startswith("calls="):
                n = int(line[6:].split()[0])
                if cfn in ALLOC and fn not in ALLOC:
                    allocs += n
                elif cfn == "free" and fn not in ALLOC:
                    frees += n
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    if total is None:
        raise SystemExit(f"{path}: no summary line")
    print(f"CALLGRIND ir={total} requests={requests} ir_per_request={total / requests:.0f} "
          f"allocs_per_request={allocs / requests:.2f} frees_per_request={frees / requests:.2f}")


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    cmd, rest = args[0], args[1:]
    if cmd == "big-index" and len(rest) in (1, 2):
        big_index(rest[0], rest[1] if len(rest) == 2 else None)
    elif cmd == "many" and len(rest) == 5:
        many(rest[0], int(rest[1]), int(rest[2]), int(rest[3]), int(rest[4]))
    elif cmd == "memory" and len(rest) == 2:
        memory(rest[0], int(rest[1]))
    elif cmd == "cold" and len(rest) == 4:
        cold(rest[0], rest[1], rest[2], int(rest[3]))
    elif cmd == "callgrind" and len(rest) == 2:
        callgrind(rest[0], int(rest[1]))
    else:
        raise SystemExit(__doc__)


main()

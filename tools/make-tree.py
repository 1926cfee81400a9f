#!/usr/bin/env python3
"""Makes a deterministic test tree for pack benchmarks and tests.

usage: make-tree.py DIR [FILES] [MEAN_BYTES]

FILES files (default 10,000) in directories of 100, sizes log-uniform with the
given mean (default 12,000 bytes, so ~120 MB in all); contents pseudo-random
(seeded), a tenth of them text.
"""
import math
import os
import random
import sys

def main():
    root = sys.argv[1]
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    mean = int(sys.argv[3]) if len(sys.argv) > 3 else 12_000
    rng = random.Random(42)
    # Log-uniform on [lo, hi] has mean (hi - lo) / ln(hi / lo); pick hi = 625 lo.
    ratio = 625
    lo = mean * math.log(ratio) / (ratio - 1)
    hi = lo * ratio
    blob = rng.randbytes(1 << 20)
    words = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\n"
    text = words * ((1 << 20) // len(words) + 1)
    total = 0
    for i in range(files):
        d = os.path.join(root, f"d{i // 100:03d}")
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        size = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        src = text if i % 10 == 0 else blob
        start = rng.randrange(0, len(blob) - min(size, len(blob) - 1))
        data = (src[start:] + src)[:size] if size <= len(blob) else (blob * (size // len(blob) + 1))[:size]
        ext = ".txt" if i % 10 == 0 else ".bin"
        with open(os.path.join(d, f"f{i:05d}{ext}"), "wb") as f:
            f.write(data)
        total += len(data)
    print(f"{files} files, {total} bytes in {root}", file=sys.stderr)

main()

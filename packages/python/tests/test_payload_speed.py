"""Payloads pass as one string copy, not one wasmtime value per byte (which costs ~1 s/MiB).

The bound here is loose (a loaded CI machine): 10 MB/s is still more than ten times the
`list<u8>` path. BENCHMARKS.md has the measured figures (bench_payload.py)."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from evident import Trail


def test_one_mib_payloads_pass_fast(trail_dir: Path) -> None:
    payload = os.urandom(1 << 20)
    with Trail.open(trail_dir, durability="os", preallocate=False, segment_bytes=64 << 20) as t:
        writes, reads = [], []
        for _ in range(5):
            s = time.perf_counter()
            r = t.append(payload)
            writes.append(time.perf_counter() - s)
            s = time.perf_counter()
            back = t.read(r.seq, 1)[0].payload
            reads.append(time.perf_counter() - s)
            assert back == payload
    mb = len(payload) / 1e6
    assert mb / statistics.median(writes) >= 10, f"append: {mb / statistics.median(writes):.1f} MB/s"
    assert mb / statistics.median(reads) >= 10, f"read: {mb / statistics.median(reads):.1f} MB/s"

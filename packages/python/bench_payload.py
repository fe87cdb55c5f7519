"""Payload throughput of the Python package (the figures in BENCHMARKS.md).

    python packages/python/bench_payload.py [ROUNDS]

Appends and reads back 1 MiB random payloads, `durability="os"` (no fsync in the timing: this
measures passing payloads, not the disk), median of ROUNDS (default 15). For comparison it
times the component's plain `list<u8>` `append` through wasmtime-py on the same trail, which is
what the package avoids.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from evident import Trail

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
payload = os.urandom(1 << 20)
mb = len(payload) / 1e6


def median_mb_s(times):
    return mb / statistics.median(times)


with tempfile.TemporaryDirectory() as d:
    with Trail.open(d, durability="os", preallocate=False, segment_bytes=1 << 30, max_payload=(16 << 20) - 1) as t:
        append, read, batch = [], [], []
        for _ in range(rounds):
            s = time.perf_counter()
            t.append(payload)
            append.append(time.perf_counter() - s)
        for _ in range(3):
            # All records in one call (a read by seq in the active segment scans it from its
            # start, which would time the scan, not the passing).
            s = time.perf_counter()
            assert len(t.read(1, rounds)) == rounds
            read.append((time.perf_counter() - s) / rounds)
        for _ in range(3):
            s = time.perf_counter()
            t.append_batch([payload] * 8)
            batch.append((time.perf_counter() - s) / 8)
        raw = []
        for _ in range(3):
            s = time.perf_counter()
            t._call("append", payload)
            raw.append(time.perf_counter() - s)
print(f"python append 1 MiB (base64 string): median {median_mb_s(append):.0f} MB/s over {rounds}")
print(f"python read {rounds} x 1 MiB (base64 string): median {median_mb_s(read):.0f} MB/s over 3")
print(f"python append_batch 8 x 1 MiB:       median {median_mb_s(batch):.0f} MB/s over 3")
print(f"python append 1 MiB as list<u8>:     median {median_mb_s(raw):.2f} MB/s over 3 (what the package avoids)")

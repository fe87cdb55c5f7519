"""A writer in a process of its own, for the crash test: appends records `n` = 1, 2, ... to
the trail in argv[1] (lease argv[2] ms), printing `seq hash` after each acknowledgement, until
killed. Records alternate single appends and batches of 3."""

import sys

from evident import Trail

t = Trail.open(sys.argv[1], lease_ms=int(sys.argv[2]), segment_bytes=8192, holder="crash-writer")
n = 0
while True:
    if n % 2:
        rs = t.append_batch([f"record {n + i}".encode() for i in range(1, 4)])
        n += 3
    else:
        rs = [t.append(f"record {n + 1}".encode())]
        n += 1
    for r in rs:
        print(r.seq, r.hash, flush=True)

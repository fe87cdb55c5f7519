"""Many threads appending to one Trail: every record lands once, each thread's in its order."""

from __future__ import annotations

import threading
from pathlib import Path

from evident import Trail

THREADS = 8
EACH = 60


def test_threads_share_one_trail(trail_dir: Path) -> None:
    receipts = {}
    errors = []
    with Trail.open(trail_dir, segment_bytes=16384) as t:
        def work(k: int) -> None:
            try:
                mine = []
                for i in range(EACH):
                    if i % 10 == 9:
                        rs = t.append_batch([f"{k}:{i}:{j}" for j in range(2)])
                        mine += [(r, f"{k}:{i}:{j}") for j, r in enumerate(rs)]
                    else:
                        mine.append((t.append({"thread": k, "i": i}), f"{k}:{i}"))
                    if i % 20 == 0:
                        t.head()
                        list(t.query(limit=5))
                receipts[k] = mine
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        seqs = sorted(r.seq for rs in receipts.values() for r, _ in rs)
        assert seqs == list(range(1, len(seqs) + 1)), "every record once, no gap"
        for rs in receipts.values():
            own = [r.seq for r, _ in rs]
            assert own == sorted(own), "a thread's records keep its order"
        by_seq = {e.seq: e for e in t.read(1, 100_000)}
        for k, rs in receipts.items():
            for r, _ in rs:
                assert by_seq[r.seq].hash == r.hash
        assert t.verify().seq == len(seqs)

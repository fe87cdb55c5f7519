"""kill -9 a writer process mid-stream: every acknowledged record is in the trail afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import evident
from evident import Trail

LEASE_MS = 300


def open_after_lease(path: Path) -> Trail:
    """A component writer's lease must lapse before another writer may take the trail."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return Trail.open(path)
        except evident.LockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_kill_9_keeps_every_acknowledged_record(trail_dir: Path) -> None:
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("writer_proc.py")), str(trail_dir), str(LEASE_MS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        acked = []
        try:
            assert proc.stdout is not None
            want = 40 + 37 * round_
            while len(acked) < want:
                line = proc.stdout.readline()
                assert line, f"the writer died: {proc.stderr.read().decode() if proc.stderr else ''}"
                seq, h = line.split()
                acked.append((int(seq), h.decode()))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        # Lines printed after the ones read were acknowledged too.
        assert proc.stdout is not None
        for line in proc.stdout.read().splitlines():
            if line.count(b" ") == 1 and len(line.split()[1]) == 64:
                acked.append((int(line.split()[0]), line.split()[1].decode()))
        with open_after_lease(trail_dir) as t:
            by_seq = {e.seq: e for e in t.read(1, 100_000)}
            for seq, h in acked:
                assert seq in by_seq, f"round {round_}: acknowledged seq {seq} lost"
                assert by_seq[seq].hash == h
            assert sorted(by_seq) == list(range(1, len(by_seq) + 1)), "no gap"
            t.verify()
            # The next round's writer continues after what survived.
            assert t.head().seq >= acked[-1][0]

"""Every error class, each raised by a real fault on real files."""

from __future__ import annotations

import gc
import os
import subprocess
from pathlib import Path

import pytest
from wasmtime.component import Variant

import evident
from evident import Trail
from evident._errors import from_wit

from conftest import segments


def test_hierarchy() -> None:
    for cls in (evident.IoError, evident.CorruptionError, evident.TooLargeError, evident.FailedError,
                evident.ClosedError, evident.InvalidArgumentError, evident.LockedError):
        assert issubclass(cls, evident.EvidentError)
    for cls in (evident.TornTailError, evident.BehindCheckpointError, evident.CheckpointMismatchError):
        assert issubclass(cls, evident.CorruptionError)
    assert issubclass(evident.InvalidArgumentError, ValueError)


def test_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(evident.InvalidArgumentError, match="log id"):
        Trail.open(tmp_path / "t", log_id="xyz")
    with Trail.open(tmp_path / "ok") as t:
        with pytest.raises(evident.InvalidArgumentError, match="base64"):
            t._call("append-base64", "not base64!", None)


def test_too_large(trail_dir: Path) -> None:
    with Trail.open(trail_dir, max_payload=100) as t:
        with pytest.raises(evident.TooLargeError) as e:
            t.append(bytes(101))
        assert e.value.length == 101 and "101" in str(e.value)
        with pytest.raises(evident.TooLargeError):
            t.append_batch([b"ok", bytes(101)])
        assert t.head().seq == 0, "nothing of the batch was written"


def test_closed(trail_dir: Path) -> None:
    t = Trail.open(trail_dir)
    t.close()
    for call in (lambda: t.append(b"x"), t.sync, t.head, t.verify, t.health, lambda: t.read(1, 1),
                 lambda: list(t.query()), t.checkpoint):
        with pytest.raises(evident.ClosedError):
            call()


def test_locked_names_the_holder(trail_dir: Path) -> None:
    with Trail.open(trail_dir, holder="agent-runner-1"):
        with pytest.raises(evident.LockedError) as e:
            Trail.open(trail_dir)
        assert "agent-runner-1" in str(e.value)
        assert str(e.value).startswith(str(trail_dir)), "named by the host's path, not the guest's"
    Trail.open(trail_dir).close()  # released by the clean close


def test_corruption_names_file_and_offset(trail_dir: Path) -> None:
    with Trail.open(trail_dir, segment_bytes=4096) as t:
        t.append_batch([f"record {i}".encode() * 10 for i in range(100)])
    sealed = segments(trail_dir)[1]
    b = bytearray(sealed.read_bytes())
    b[200] ^= 0x01
    sealed.write_bytes(bytes(b))
    with Trail.open(trail_dir) as t:
        with pytest.raises(evident.CorruptionError) as e:
            t.verify()
    assert type(e.value) is evident.CorruptionError
    loc = e.value.location
    assert loc.file == sealed.name and loc.offset is not None and loc.seq is not None
    assert sealed.name in str(e.value)


def _cut(trail_dir: Path, keep: int) -> None:
    last = segments(trail_dir)[-1]
    os.truncate(last, keep)


def test_torn_tail(trail_dir: Path) -> None:
    with Trail.open(trail_dir, preallocate=False) as t:
        t.append_batch([b"x" * 100] * 10)
    (trail_dir / "head.checkpoint").unlink()  # the crash came before any checkpoint
    _cut(trail_dir, segments(trail_dir)[-1].stat().st_size - 30)
    with pytest.raises(evident.TornTailError) as e:
        Trail.open(trail_dir, recovery_mode="absolute-consistency")
    assert e.value.location.seq == 10 and e.value.location.file == segments(trail_dir)[-1].name
    with Trail.open(trail_dir) as t:  # tolerate-torn-tail (the default) cuts it and says so
        rep = t.open_report
        assert rep.truncated and rep.head.seq == 9 and "torn tail" in rep.tail


def test_behind_checkpoint(trail_dir: Path) -> None:
    with Trail.open(trail_dir, preallocate=False) as t:
        rs = t.append_batch([b"x" * 100] * 10)
    # Cut the last record whole: the trail looks clean but head.checkpoint says 10 records.
    seg = segments(trail_dir)[-1]
    size = seg.stat().st_size
    record_len = (size - 128) // 10
    _cut(trail_dir, size - record_len)
    assert rs[-1].seq == 10
    with pytest.raises(evident.BehindCheckpointError, match="10 records"):
        Trail.open(trail_dir)


def test_checkpoint_mismatch(trail_dir: Path) -> None:
    with Trail.open(trail_dir) as t:
        t.append_batch([b"x"] * 10)
    cp = trail_dir / "head.checkpoint"
    text = cp.read_text()
    h = text.split("hash ")[1].strip()
    cp.write_text(text.replace(h, "0" * 64))
    with pytest.raises(evident.CheckpointMismatchError):
        Trail.open(trail_dir)


def test_failed_on_a_directory_where_a_segment_belongs(trail_dir: Path) -> None:
    trail_dir.mkdir()
    (trail_dir / "00000000000000000001.evseg").mkdir()
    with pytest.raises(evident.FailedError, match="00000000000000000001.evseg"):
        Trail.open(trail_dir)


def test_io_error_path_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(evident.IoError, match="not a directory"):
        Trail.open(f)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    assert p.returncode == 0, f"mount -t tmpfs needs root (the tests run as root): {p.stderr.decode()}"
    try:
        yield mnt
    finally:
        gc.collect()  # a trail not closed still holds descriptors on the mount
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_io_error_disk_full(tiny_tmpfs: Path) -> None:
    filler = tiny_tmpfs / "filler"
    filler.write_bytes(bytes(96 << 10))
    with Trail.open(tiny_tmpfs / "t", preallocate=False, segment_bytes=16 << 20) as t:
        acknowledged = []
        with pytest.raises(evident.IoError) as e:
            for _ in range(100):
                acknowledged.append(t.append(os.urandom(16 << 10)))
        assert e.value.kind == "no-space", e.value
        assert e.value.op and e.value.location.file is not None, e.value.location
        assert t.health().state == "degraded" and t.health().write_failures >= 1
        assert acknowledged, "some appends fitted"
        filler.unlink()  # space again: the next append succeeds, the close writes its checkpoint
        acknowledged.append(t.append(b"after the disk was full"))
    with Trail.open(tiny_tmpfs / "t") as t:
        got = t.read(1, 1000)
        assert [x.hash for x in got] == [r.hash for r in acknowledged], "every acknowledged record, no other"
        t.verify()


def test_unknown_tag_still_an_evident_error() -> None:
    e = from_wit(Variant("something-new", "x"))
    assert isinstance(e, evident.EvidentError) and "something-new" in str(e)

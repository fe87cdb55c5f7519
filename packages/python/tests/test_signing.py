"""The `origin` and `signer` options from Python: an origin set at creation and kept, a trail
that keeps `checkpoint.note` signed with a key from `evident keygen` (the same bytes the native
CLI writes), and the refusal to sign a restored backup, naming both roots, never the key."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

from evident import (
    BehindCheckpointError,
    InvalidArgumentError,
    Signer,
    Trail,
)
from conftest import Cli

ORIGIN = "example.com/py-audit"


def keygen(cli: Cli, tmp_path: Path) -> Path:
    key = tmp_path / "log.key"
    cli.ok("keygen", "--origin", ORIGIN, "-o", str(key))
    return key


def note_lines(d: Path) -> list:
    return (d / "checkpoint.note").read_text().splitlines()


def test_origin_is_set_at_creation_and_kept(trail_dir: Path) -> None:
    with Trail.open(trail_dir, origin=ORIGIN) as t:
        t.append(b"x")
        assert t.checkpoint_note().splitlines()[:2] == [ORIGIN, "1"]
    assert (trail_dir / "origin").read_text() == ORIGIN + "\n"
    with Trail.open(trail_dir) as t:
        assert t.checkpoint_note().startswith(ORIGIN + "\n")
    with pytest.raises(InvalidArgumentError) as e:
        Trail.open(trail_dir, origin="example.com/other")
    assert ORIGIN in str(e.value) and "example.com/other" in str(e.value)


def test_a_signed_trail_keeps_a_note_the_native_cli_writes_the_same(
    trail_dir: Path, cli: Cli, tmp_path: Path
) -> None:
    key = keygen(cli, tmp_path)
    signer = Signer.from_key_file(str(key))
    assert "PRIVATE" not in repr(signer)
    with Trail.open(trail_dir, signer=signer) as t:
        assert note_lines(trail_dir)[:2] == [ORIGIN, "0"], "signed at open"
        t.append_batch([b"a", b"b", b"c"], timestamps=[1, 2, 3])
        t.sync()
        assert note_lines(trail_dir)[:2] == [ORIGIN, "3"], "signed at sync"
        status = t.signer_status()
        assert status is not None and status.signed_size == 3 and status.last_error is None
    # The record lives beside the key, as the CLI's --key keeps it.
    assert (tmp_path / "log.key.signed").read_text().splitlines()[:2] == [ORIGIN, "3"]
    note = (trail_dir / "checkpoint.note").read_bytes()
    assert note.decode().splitlines()[4].startswith("\u2014 " + ORIGIN + " ")
    # The native CLI, same key and record, extends it and signs the same way.
    cli.ok("append", str(trail_dir), "--raw", "--key", str(key), input=b"d\n")
    assert note_lines(trail_dir)[:2] == [ORIGIN, "4"]
    native_note = (trail_dir / "checkpoint.note").read_bytes()
    # Signed again from Python for the same head and key: the same bytes (Ed25519 is
    # deterministic).
    (trail_dir / "checkpoint.note").unlink()
    with Trail.open(trail_dir, signer=signer) as t:
        status = t.signer_status()
        assert status is not None and status.signed_size == 4
    assert (trail_dir / "checkpoint.note").read_bytes() == native_note
    with Trail.open(trail_dir) as t:
        assert t.signer_status() is None


def test_a_restored_backup_is_refused_naming_both_roots(trail_dir: Path, cli: Cli, tmp_path: Path) -> None:
    key = keygen(cli, tmp_path)
    signer = Signer(key=key.read_text().strip(), record=str(tmp_path / "keep" / "signed"))
    with Trail.open(trail_dir, signer=signer) as t:
        t.append_batch([b"1", b"2"])
    old_root = note_lines(trail_dir)[2]
    backup = tmp_path / "backup"
    shutil.copytree(trail_dir, backup)
    with Trail.open(trail_dir, signer=signer) as t:
        t.append_batch([b"3", b"4", b"5"])
    new_root = note_lines(trail_dir)[2]
    shutil.rmtree(trail_dir)
    shutil.copytree(backup, trail_dir)
    with pytest.raises(BehindCheckpointError) as e:
        Trail.open(trail_dir, signer=signer)
    msg = str(e.value)
    assert old_root in msg and new_root in msg, msg
    assert str(tmp_path / "keep" / "signed") in msg, msg
    assert signer.key not in msg and base64.b64decode(new_root)
    # The refused open let go of the trail.
    with Trail.open(trail_dir) as t:
        assert t.head().seq == 2


def test_a_key_file_others_can_read_or_a_bad_key_is_refused(cli: Cli, tmp_path: Path, trail_dir: Path) -> None:
    key = keygen(cli, tmp_path)
    os.chmod(key, 0o644)
    with pytest.raises(InvalidArgumentError, match="group or others"):
        Signer.from_key_file(str(key))
    secret = "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldA=="
    with pytest.raises(InvalidArgumentError) as e:
        Trail.open(trail_dir, signer=Signer(key=f"PRIVATE+KEY+{ORIGIN}+00000000+{secret}"))
    assert secret not in str(e.value)

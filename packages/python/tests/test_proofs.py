"""Proofs from Python: checkpoint notes, inclusion bundles, consistency proofs, checked in
Python and by the native CLI, and refused when edited."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import evident
from evident import ProofError, Trail, check_bundle, check_consistency
from conftest import Cli


def test_prove_and_check_a_record(trail_dir: Path, cli: Cli, tmp_path: Path) -> None:
    with Trail.open(trail_dir) as t:
        receipts = t.append_batch([{"n": i} for i in range(10)])
        note = t.checkpoint_note()
        origin, size, root = note.splitlines()
        assert origin.startswith("evident/") and size == "10"
        assert len(base64.b64decode(root)) == 32
        bundle = t.prove(receipts[6].seq)
        proven = check_bundle(bundle)
        assert (proven.seq, proven.tree_size, proven.origin, proven.root) == (7, 10, origin, root)
        assert proven.json() == {"n": 6}
        # Without the payload the bundle still proves the payload hash and the position.
        bare = check_bundle(t.prove(7, include_payload=False))
        assert bare.payload is None and bare.payload_hash == proven.payload_hash
        # Against an older tree size.
        assert check_bundle(t.prove(3, size=5)).tree_size == 5
    # The native CLI checks what the component proved, offline.
    f = tmp_path / "r7.proof"
    f.write_text(bundle)
    checked = cli.ok("check-proof", str(f))
    assert checked.startswith("ok: record seq 7 is in ") and root in checked, checked
    assert proven.payload_hash in checked, checked
    # The CLI's own proof of the same record against the same head is the same bytes.
    assert cli.ok("prove", str(trail_dir), "--seq", "7") == bundle


def test_every_edit_of_a_bundle_is_refused(trail_dir: Path) -> None:
    with Trail.open(trail_dir) as t:
        t.append_batch([b"a", b"b", b"c", b"d", b"e"])
        bundle = t.prove(4)
    raw = bundle.encode()
    for i in range(0, len(raw), 7):  # a sample of positions across every line
        edited = bytearray(raw)
        edited[i] = ord("A") if raw[i] != ord("A") else ord("B")
        with pytest.raises(ProofError):
            check_bundle(edited.decode("latin-1"))
    with pytest.raises(ProofError) as e:
        check_bundle("not a bundle")
    assert str(e.value)


def test_consistency_between_two_heads(trail_dir: Path) -> None:
    with Trail.open(trail_dir) as t:
        t.append_batch([b"1", b"2", b"3"])
        old = t.checkpoint_note()
        t.append_batch([b"4", b"5", b"6", b"7"])
        proof = t.prove_consistency(old)
        c = check_consistency(proof)
        assert (c.old_size, c.new_size) == (3, 7)
        assert c.old_root == old.splitlines()[2]
        with pytest.raises(ProofError):
            check_consistency(proof.replace(c.new_root, c.old_root))


def test_proof_errors_name_the_problem(trail_dir: Path) -> None:
    with Trail.open(trail_dir) as t:
        t.append(b"only one")
        with pytest.raises(evident.EvidentError) as e:
            t.prove(5)
        assert "5" in str(e.value)
        with pytest.raises(evident.EvidentError):
            t.prove(1, size=9)

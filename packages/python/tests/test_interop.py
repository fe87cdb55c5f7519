"""The native `evident` CLI reads and verifies what Python wrote, and Python what the CLI wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import evident
from evident import Checkpoint, Trail
from evident.events import Decision, ExecStarted, ToolCall

from conftest import Cli, segments


def test_cli_verifies_and_queries_what_python_wrote(trail_dir: Path, cli: Cli, tmp_path: Path) -> None:
    with Trail.open(trail_dir, segment_bytes=4096) as t:
        for n in range(60):
            t.append_event(ToolCall(f"agent-{n % 3}", f"req-{n}", tool_name="web.search", call_id=f"c{n}",
                                    decision=Decision.DENY if n % 4 == 0 else Decision.ALLOW, latency_ms=n))
        t.append(b"raw \x00 bytes")
        shipped = t.head()
        final = t.close()
    assert shipped == final
    out = cli.ok("verify", str(trail_dir))
    assert "intact: 61 records" in out and final.hash in out
    cp = tmp_path / "shipped.checkpoint"
    cp.write_text(shipped.to_text())
    assert "checkpoint proven" in cli.ok("verify", str(trail_dir), "--checkpoint", str(cp))
    lines = cli.ok("query", str(trail_dir), "--agent", "agent-1").splitlines()
    assert len(lines) == 20
    stats = cli.ok("stats", str(trail_dir))
    assert "tool.call" in stats and "deny" in stats and "agent-2" in stats
    head = json.loads(cli.ok("head", str(trail_dir), "--json"))
    assert head["seq"] == 61 and head["hash"] == final.hash

    # Tampering Python cannot hide from the CLI (exit 3), nor the CLI from Python.
    seg = segments(trail_dir)[1]
    b = bytearray(seg.read_bytes())
    b[300] ^= 0x04
    seg.write_bytes(bytes(b))
    p = cli.run("verify", str(trail_dir))
    assert p.returncode == 3, p.stdout.decode() + p.stderr.decode()
    assert seg.name in (p.stdout + p.stderr).decode()
    with Trail.open(trail_dir) as t:
        with pytest.raises(evident.CorruptionError) as e:
            t.verify()
        assert e.value.location.file == seg.name


def test_python_reads_and_continues_what_the_cli_wrote(trail_dir: Path, cli: Cli) -> None:
    events = [ExecStarted(f"a{n % 2}", f"r{n}", pid=100 + n).to_json() for n in range(30)]
    cli.ok("append", str(trail_dir), "--segment-bytes", "4096", input=b"\n".join(events) + b"\n")
    head = json.loads(cli.ok("head", str(trail_dir), "--json"))
    with Trail.open(trail_dir, segment_bytes=4096) as t:
        assert t.open_report.head == Checkpoint(head["log_id"], 30, head["hash"])
        assert t.verify().seq == 30
        got = t.read(1, 100)
        assert [e.payload for e in got] == events, "the CLI stores each line's canonical event"
        assert [e.seq for e in t.query(agent="a1")] == list(range(2, 31, 2))
        r = t.append_event(ExecStarted("a0", "r-py", pid=7))
        assert r.seq == 31
    assert "intact: 31 records" in cli.ok("verify", str(trail_dir))

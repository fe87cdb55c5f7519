"""Every function of `evident.Trail`, on real files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import evident
from evident import Checkpoint, Entry, Interval, Receipt, Trail
from evident.events import (
    Custom,
    Decision,
    ExecDenied,
    ExecExit,
    ExecRequest,
    ExecStarted,
    ExecWarning,
    Query,
    ToolCall,
    event_from_dict,
)

from conftest import segments

LOG_ID = "0123456789abcdef0123456789abcdef"


def every_kind():
    a = dict(agent_id="agent-7", correlation_id="req-42")
    return [
        ExecRequest(**a, machine="sandbox-1", argv=["git", "push"], policy="git-readonly", timeout_ms=30_000),
        ExecStarted(**a, pid=4242),
        ExecWarning(**a, warning="output_truncated", bytes=1 << 20),
        ExecExit(**a, code=1, duration_ms=1234, stdout_bytes=10, stderr_bytes=20, truncated=True),
        ExecDenied(**a, reason="network access", policy="no-net"),
        ToolCall(**a, tool_name="web.search", call_id="call_1", decision=Decision.MODIFY, policy="pii-redact",
                 anomalies=["rate_spike"], latency_ms=87, upstream_status=200, arguments={"q": "x"}),
        Query(**a, query_id="q-9", parameters={"subject": "acct-1"}, result_hash="ab" * 32, confidence=0.93,
              assertions=["as-1", "as-2"]),
        Custom(**a, name="heartbeat", data={"ok": True}),
    ]


def test_open_creates_and_reports(trail_dir: Path) -> None:
    with Trail.open(trail_dir, log_id=LOG_ID, segment_bytes=4096) as t:
        rep = t.open_report
        assert rep.created and rep.log_id == LOG_ID and not rep.truncated
        assert rep.head == Checkpoint(LOG_ID, 0, rep.head.hash) and len(rep.head.hash) == 64
        assert rep.tail == "clean end"
        assert t.head().seq == 0
    with Trail.open(trail_dir) as t:
        assert not t.open_report.created
        assert t.open_report.log_id == LOG_ID


def test_append_kinds_of_payload(trail_dir: Path) -> None:
    with Trail.open(trail_dir) as t:
        r1 = t.append(b"\x00\xffraw")
        assert isinstance(r1, Receipt) and r1.seq == 1 and r1.durable and len(r1.hash) == 64
        r2 = t.append("text é")
        r3 = t.append({"b": 1, "a": [1, 2]})
        r4 = t.append(bytearray(b"ba"))
        r5 = t.append(b"dated", timestamp=5)
        assert [r.seq for r in (r2, r3, r4, r5)] == [2, 3, 4, 5]
        assert r5.timestamp >= r4.timestamp, "timestamps never go backwards"
        got = t.read(1, 10)
        assert [e.payload for e in got] == [b"\x00\xffraw", "text é".encode(), b'{"b":1,"a":[1,2]}', b"ba", b"dated"]
        assert got[2].json() == {"b": 1, "a": [1, 2]} and got[1].text() == "text é"
        assert [e.hash for e in got] == [r.hash for r in (r1, r2, r3, r4, r5)]
        with pytest.raises(TypeError):
            t.append(12)  # type: ignore[arg-type]


def test_append_event_every_kind_round_trips(trail_dir: Path) -> None:
    events = every_kind()
    with Trail.open(trail_dir) as t:
        for e in events:
            t.append_event(e)
        back = [event_from_dict(x.json()) for x in t.read(1, 100)]
        assert back == events
        with pytest.raises(TypeError):
            t.append_event({"kind": "custom"})  # type: ignore[arg-type]
    # The canonical encoding of the Rust adapter: fields in schema order, unset ones left out.
    assert ExecStarted("a", "r", pid=1).to_json() == b'{"gen_ai.agent.id":"a","correlation.id":"r","kind":"exec.started","pid":1}'
    assert ToolCall("a", "r", tool_name="t", call_id="c").to_json() == (
        b'{"gen_ai.agent.id":"a","correlation.id":"r","kind":"tool.call","gen_ai.tool.name":"t",'
        b'"gen_ai.tool.call.id":"c","gen_ai.operation.name":"execute_tool",'
        b'"gen_ai.security.decision.type":"allow","latency_ms":0}'
    )
    with pytest.raises(ValueError):
        event_from_dict({"kind": "nope"})


def test_append_batch(trail_dir: Path) -> None:
    with Trail.open(trail_dir, segment_bytes=4096) as t:
        t.append(b"first")
        rs = t.append_batch([f"record {n}" for n in range(250)])
        assert [r.seq for r in rs] == list(range(2, 252))
        assert len({r.timestamp for r in rs}) == 1
        dated = t.append_batch([b"x", b"y"], timestamps=[10, 20])
        assert [r.seq for r in dated] == [252, 253]
        with pytest.raises(evident.InvalidArgumentError):
            t.append_batch([b"x", b"y"], timestamps=[1])
        assert t.append_batch([]) == []
        assert t.health().max_batch > 1, "a batch is written in one piece per segment"
    assert len(segments(trail_dir)) >= 3, "4 KiB segments rotated"


def test_head_sync_checkpoint_close(trail_dir: Path) -> None:
    t = Trail.open(trail_dir, durability="os")
    r = t.append(b"not yet synced")
    assert not r.durable, "under 'os' an append is acknowledged once written"
    head = t.sync()
    assert head == Checkpoint(t.open_report.log_id, 1, r.hash)
    assert t.head() == head
    assert t.checkpoint() == head
    assert Checkpoint.parse((trail_dir / "head.checkpoint").read_text()) == head
    # head.checkpoint is the chain checkpoint's text plus the tree root line (format 2).
    on_disk = (trail_dir / "head.checkpoint").read_text()
    assert on_disk.startswith(head.to_text())
    assert re.fullmatch(r"root [0-9a-f]{64}\n", on_disk[len(head.to_text()):])
    assert Checkpoint.parse(json.dumps({"log_id": head.log_id, "seq": 1, "hash": head.hash})) == head
    with pytest.raises(evident.InvalidArgumentError):
        Checkpoint.parse("not a checkpoint")
    assert t.close() == head and t.closed
    with pytest.raises(evident.ClosedError):
        t.append(b"after close")
    with pytest.raises(evident.ClosedError):
        t.close()


def test_durability_options(tmp_path: Path) -> None:
    for d, durable in [("always", True), (Interval(50), False), ("interval:50", False), ("os", False)]:
        with Trail.open(tmp_path / str(d).replace(":", "_"), durability=d) as t:
            assert t.append(b"x").durable is durable, d
    with pytest.raises(evident.InvalidArgumentError):
        Trail.open(tmp_path / "bad", durability="sometimes")
    with pytest.raises(evident.InvalidArgumentError):
        Trail.open(tmp_path / "bad", recovery_mode="lenient")


def test_read(trail_dir: Path) -> None:
    with Trail.open(trail_dir, segment_bytes=4096) as t:
        t.append_batch([f"r{n}".encode() for n in range(1, 301)])
        all_ = t.read(1, 10_000)
        assert [e.seq for e in all_] == list(range(1, 301))
        assert all(isinstance(e, Entry) for e in all_)
        assert [e.payload for e in t.read(100, 3)] == [b"r100", b"r101", b"r102"]
        assert t.read(301, 10) == []
        assert len(t.read()) == 300


def test_query(trail_dir: Path) -> None:
    with Trail.open(trail_dir, segment_bytes=4096) as t:
        for n in range(1, 101):
            agent = "a1" if n % 2 else "a2"
            t.append_event(Custom(agent, f"r{n}", name="step", data={"n": n}), timestamp=1_000 * n)
        a1 = list(t.query(agent="a1", page_size=7))
        assert [e.json()["data"]["n"] for e in a1] == list(range(1, 101, 2)), "pages chain without gaps"
        assert [e.seq for e in t.query(since=10_000, until=15_000)] == [10, 11, 12, 13, 14]
        assert [e.seq for e in t.query(from_seq=95)] == [95, 96, 97, 98, 99, 100]
        assert [e.seq for e in t.query(from_seq=3, to_seq=5)] == [3, 4, 5]
        assert [e.seq for e in t.query(limit=3, page_size=2)] == [1, 2, 3]
        assert [e.seq for e in t.query(newest=True, limit=3)] == [98, 99, 100]
        assert [e.seq for e in t.query(agent="a2", newest=True, limit=2)] == [98, 100]
        assert list(t.query(agent="nobody")) == []
        page = t.query_page(agent="a1", limit=5)
        assert [e.seq for e in page.entries] == [1, 3, 5, 7, 9]
        assert page.head is not None and page.head.seq >= 9 and page.segments_read >= 1
        with pytest.raises(evident.InvalidArgumentError):
            list(t.query(page_size=0))


def test_verify_and_health(trail_dir: Path) -> None:
    with Trail.open(trail_dir, segment_bytes=4096) as t:
        rs = t.append_batch([b"x" * 100] * 100)
        assert t.verify() == Checkpoint(t.open_report.log_id, 100, rs[-1].hash)
        h = t.health()
        assert h.state == "healthy" and h.records == 100 and h.fsyncs >= 1 and h.directory_sync
        assert h.consecutive_failures == 0 and h.last_error is None


def test_large_payloads_pass_whole(trail_dir: Path) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    with Trail.open(trail_dir) as t:
        r = t.append(big)
        assert t.read(r.seq, 1)[0].payload == big
        with pytest.raises(evident.TooLargeError) as e:
            t.append(big + b"!")
        assert e.value.length == len(big) + 1
        assert t.head().seq == 1, "nothing written"


def test_context_manager_closes_on_error(trail_dir: Path) -> None:
    with pytest.raises(RuntimeError):
        with Trail.open(trail_dir) as t:
            t.append(b"kept")
            raise RuntimeError("agent crashed")
    assert t.closed
    assert Checkpoint.parse((trail_dir / "head.checkpoint").read_text()).seq == 1

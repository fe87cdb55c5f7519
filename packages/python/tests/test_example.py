"""The example agent loop runs, and the native CLI verifies the trail it leaves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Cli


def test_agent_loop_example(tmp_path: Path, cli: Cli) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "agent_loop.py"
    out = subprocess.run([sys.executable, str(example), str(tmp_path / "t")], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    assert "denied: ['shell.exec']" in text and "evident-checkpoint v1" in text
    checkpoint = tmp_path / "head.checkpoint"
    checkpoint.write_text(text[text.index("evident-checkpoint v1"):])
    assert "checkpoint proven" in cli.ok("verify", str(tmp_path / "t"), "--checkpoint", str(checkpoint))
    # The bundle the example wrote checks with the native CLI too, offline.
    proof = tmp_path / "t-denied.proof"
    assert f"{proof}" in text
    assert "shell.exec" in cli.ok("check-proof", str(proof))
    stats = cli.ok("stats", str(tmp_path / "t"))
    assert "deny" in stats and "support-agent-1" in stats

"""Shared fixtures: the native `evident` CLI (for interop) and a fresh trail directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[3]


def cli_path() -> str:
    """The native CLI: `$EVIDENT_CLI`, else the workspace's target/debug/evident."""
    path = os.environ.get("EVIDENT_CLI") or str(REPO / "target" / "debug" / "evident")
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"the native evident CLI is needed for the interop tests and is not at {path}: "
            "`cargo build -p evident-native --bin evident`, or set EVIDENT_CLI"
        )
    return path


@pytest.fixture
def cli() -> "Cli":
    return Cli(cli_path())


class Cli:
    """Runs the native CLI; `run` returns the completed process (no check)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def run(self, *args: str, input: bytes = b"") -> subprocess.CompletedProcess:
        return subprocess.run([self.path, *args], input=input, capture_output=True, timeout=120)

    def ok(self, *args: str, input: bytes = b"") -> str:
        p = self.run(*args, input=input)
        assert p.returncode == 0, f"evident {' '.join(args)} exited {p.returncode}: {p.stderr.decode()}"
        return p.stdout.decode()


@pytest.fixture
def trail_dir(tmp_path: Path) -> Path:
    return tmp_path / "trail"


def segments(d: Path) -> List[Path]:
    return sorted(p for p in d.iterdir() if p.name.endswith(".evseg"))

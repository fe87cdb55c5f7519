"""The values the trail hands back, as frozen dataclasses with snake_case fields."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, List, Optional, Union


@dataclass(frozen=True)
class Receipt:
    """What an append gets back once it is acknowledged."""

    seq: int
    """The record's sequence number (from 1)."""
    timestamp: int
    """The timestamp recorded, ns since the Unix epoch (raised to the previous record's)."""
    hash: str
    """The chain hash after this record (64 hex digits)."""
    durable: bool
    """Whether an fsync covering the record succeeded before the acknowledgement."""


@dataclass(frozen=True)
class Checkpoint:
    """"Trail `log_id` holds `seq` records and record `seq` has chain hash `hash`": small
    enough to ship off the host; `Trail.verify()` and `evident verify --checkpoint` prove it."""

    log_id: str
    seq: int
    hash: str

    def to_text(self) -> str:
        """The checkpoint file's text form (what `evident verify --checkpoint FILE` reads)."""
        from ._component import checkpoint_text

        return checkpoint_text(self)

    @classmethod
    def parse(cls, text: str) -> "Checkpoint":
        """Parses the text or JSON form (through the component, so the rules are the trail's)."""
        from ._component import parse_checkpoint

        return parse_checkpoint(text)


@dataclass(frozen=True)
class Entry:
    """One record read back."""

    seq: int
    timestamp: int
    payload: bytes
    hash: str

    def text(self) -> str:
        """The payload as UTF-8 text."""
        return self.payload.decode("utf-8")

    def json(self) -> Any:
        """The payload parsed as JSON (an audit event is a dict)."""
        return json.loads(self.payload)


@dataclass(frozen=True)
class QueryPage:
    """One answer of the component's `query`: the entries and the checkpoint they chain to."""

    entries: List[Entry]
    head: Optional[Checkpoint]
    """A checkpoint at the last record read (at or after every entry): verify proves it."""
    segments_read: int


@dataclass(frozen=True)
class Health:
    """Health state (`healthy`, `degraded`, `failed`) and counters."""

    state: str
    consecutive_failures: int
    total_failures: int
    write_failures: int
    sync_failures: int
    records: int
    bytes: int
    fsyncs: int
    batches: int
    max_batch: int
    last_error: Optional[str]
    directory_sync: bool


@dataclass(frozen=True)
class OpenReport:
    """What crash recovery found and did when the trail was opened."""

    log_id: str
    created: bool
    segments: int
    head: Checkpoint
    tail: str
    """Human-readable: clean end, preallocated space, a torn tail cut (file, offset, bytes)."""
    truncated: bool


@dataclass(frozen=True)
class Interval:
    """Durability policy: acknowledge once written, fsync at most `ms` milliseconds later."""

    ms: int


@dataclass(frozen=True)
class Signer:
    """Sign checkpoints: the trail keeps `checkpoint.note`, its durable head's C2SP checkpoint
    signed with `key`, the private key text `PRIVATE+KEY+<name>+<hex id>+<base64>` of an
    Ed25519 log key (as `evident keygen` writes it; never shown in a repr or an error). The
    trail's origin is the key's name. `record` is the host path of the never-sign-a-fork
    record (default: `<trail dir>.signed`, beside the trail directory; keep it outside the
    trail directory, with the key); `interval_ms` the most often it signs while records
    arrive (default 1000)."""

    key: str = field(repr=False)
    record: Optional[str] = None
    interval_ms: Optional[int] = None

    @classmethod
    def from_key_file(
        cls, path: str, *, record: Optional[str] = None, interval_ms: Optional[int] = None
    ) -> "Signer":
        """The key in `path` (a regular file neither group nor others can read or write, as
        `evident keygen -o` makes it); `record` defaults to `<path>.signed`, as the native
        CLI's `--key`."""
        import os
        import stat as st

        from ._errors import InvalidArgumentError

        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as e:
            raise InvalidArgumentError(f"key file {path}: {e.strerror}") from None
        try:
            info = os.fstat(fd)
            if not st.S_ISREG(info.st_mode):
                raise InvalidArgumentError(f"key file {path} is not a regular file")
            if info.st_mode & 0o077:
                raise InvalidArgumentError(
                    f"key file {path} has mode {info.st_mode & 0o777:o}: group or others may read it "
                    "(chmod 600 it)"
                )
            text = os.read(fd, 4096).decode("utf-8", errors="replace").strip()
        finally:
            os.close(fd)
        return cls(key=text, record=record if record is not None else path + ".signed", interval_ms=interval_ms)


@dataclass(frozen=True)
class SignerStatus:
    """What the signer did since the trail opened."""

    signed_size: Optional[int]
    """The tree size of the last checkpoint signed into `checkpoint.note`."""
    notes_written: int
    last_error: Optional[str]
    """Why the last signature failed, until one succeeds (a refusal names both roots)."""


Durability = Union[str, Interval]
"""`"always"` (acknowledge after the covering fsync; the default), `"os"` (fsync at rotation,
close and `sync()`), or `Interval(ms)`."""


@dataclass(frozen=True)
class ProvenRecord:
    """What a checked inclusion bundle proves: record `seq` (with this kind, timestamp and
    payload hash) is entry `seq - 1` of the tree of size `tree_size` with root `root`, in the
    log named `origin`."""

    origin: str
    tree_size: int
    root: str
    """The tree root, base64 as in the checkpoint note."""
    kind: int
    seq: int
    timestamp: int
    payload_hash: str
    """64 lower-case hex digits."""
    payload: Optional[bytes]
    """The payload when the bundle carries it (checked against `payload_hash`)."""

    def json(self) -> Any:
        """The payload parsed as JSON (an audit event is JSON), or None without a payload."""
        return None if self.payload is None else json.loads(self.payload)


@dataclass(frozen=True)
class ProvenConsistency:
    """What a checked consistency proof proves: the tree of size `new_size` extends the tree
    of size `old_size` (nothing in it was rewritten, only appended to)."""

    origin: str
    old_size: int
    old_root: str
    new_size: int
    new_root: str

"""The exception hierarchy: every WIT `error` case is an exception class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class Location:
    """Where something is: a file of the trail, a segment number, a byte offset, a seq."""

    file: Optional[str] = None
    segment: Optional[int] = None
    offset: Optional[int] = None
    seq: Optional[int] = None

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if self.segment is not None:
            parts.append(f"segment {self.segment}")
        if self.offset is not None:
            parts.append(f"offset {self.offset}")
        if self.seq is not None:
            parts.append(f"seq {self.seq}")
        return ", ".join(parts) or "(no location)"


class EvidentError(Exception):
    """Base class of every error the trail reports. `tag` is the WIT error case."""

    tag: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IoError(EvidentError):
    """An IO operation failed: `op` (write, sync, read...), `kind` (not-found, no-space,
    permission-denied, unsupported, other) and where."""

    tag = "io"

    def __init__(self, message: str, op: str, kind: str, location: Location) -> None:
        super().__init__(message)
        self.op = op
        self.kind = kind
        self.location = location


class CorruptionError(EvidentError):
    """Data on disk is damaged or was changed; `location` names the first bad place."""

    tag = "corrupt"

    def __init__(self, message: str, location: Location) -> None:
        super().__init__(message)
        self.location = location


class TornTailError(CorruptionError):
    """The last segment ends in a torn write and the recovery mode forbids cutting it."""

    tag = "torn-tail"


class BehindCheckpointError(CorruptionError):
    """The trail holds fewer records than a checkpoint says it held."""

    tag = "behind-checkpoint"


class CheckpointMismatchError(CorruptionError):
    """The trail's record at a checkpoint's seq has another hash, or another log id."""

    tag = "checkpoint-mismatch"


class TooLargeError(EvidentError):
    """A payload larger than the configured maximum; `length` is its size in bytes."""

    tag = "too-large"

    def __init__(self, length: int) -> None:
        super().__init__(f"payload of {length} bytes is larger than the trail's max_payload")
        self.length = length


class FailedError(EvidentError):
    """The trail is failed (a sync failed and re-verification has not succeeded)."""

    tag = "failed"


class ClosedError(EvidentError):
    """The trail was closed."""

    tag = "closed"


class InvalidArgumentError(EvidentError, ValueError):
    """An argument was not acceptable (bad hex, a bad option, bad base64...)."""

    tag = "invalid-argument"


class LockedError(EvidentError):
    """Another writer holds the trail (its `LOCK` lease), or took it from this one: the
    message names who, since when, until when."""

    tag = "locked"


class ProofError(EvidentError):
    """A proof bundle or consistency proof did not check: the message names what fails (and
    the line). Raised by `check_bundle` and `check_consistency`."""

    tag = "proof"


def _location(rec: Any) -> Location:
    return Location(
        file=getattr(rec, "file"),
        segment=getattr(rec, "segment"),
        offset=getattr(rec, "offset"),
        seq=getattr(rec, "seq"),
    )


_CORRUPTION = {
    "corrupt": CorruptionError,
    "torn-tail": TornTailError,
    "behind-checkpoint": BehindCheckpointError,
    "checkpoint-mismatch": CheckpointMismatchError,
}


def from_wit(variant: Any) -> EvidentError:
    """The exception for a WIT `error` value (a wasmtime `Variant`)."""
    tag, payload = variant.tag, variant.payload
    if tag == "io":
        return IoError(
            getattr(payload, "message"),
            getattr(payload, "op"),
            getattr(payload, "kind"),
            _location(getattr(payload, "location")),
        )
    if tag in _CORRUPTION:
        return _CORRUPTION[tag](getattr(payload, "message"), _location(getattr(payload, "location")))
    if tag == "too-large":
        return TooLargeError(int(payload))
    if tag == "failed":
        return FailedError(str(payload))
    if tag == "closed":
        return ClosedError("the trail is closed")
    if tag == "invalid-argument":
        return InvalidArgumentError(str(payload))
    if tag == "locked":
        return LockedError(str(payload))
    return EvidentError(f"{tag}: {payload!r}")

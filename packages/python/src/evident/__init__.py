"""evident: a tamper-evident, crash-safe audit trail for AI agents.

    from evident import Trail
    from evident.events import ToolCall, Decision

    with Trail.open("/var/lib/agent-audit") as trail:
        receipt = trail.append_event(ToolCall(agent_id="agent-7", correlation_id="req-42",
                                              tool_name="web.search", call_id="call_1",
                                              decision=Decision.ALLOW, latency_ms=87))
        for entry in trail.query(agent="agent-7"):
            print(entry.seq, entry.json())
        trail.verify()

The trail is written by the evident WASI component (inside this package) under wasmtime, in
the same format as the Rust adapter and the `evident` CLI.
"""

from ._errors import (
    BehindCheckpointError,
    CheckpointMismatchError,
    ClosedError,
    CorruptionError,
    EvidentError,
    FailedError,
    InvalidArgumentError,
    IoError,
    Location,
    LockedError,
    ProofError,
    TooLargeError,
    TornTailError,
)
from ._trail import Payload, Trail
from ._component import check_bundle, check_consistency
from ._types import (
    Checkpoint,
    Durability,
    Entry,
    Health,
    Interval,
    OpenReport,
    ProvenConsistency,
    ProvenRecord,
    QueryPage,
    Receipt,
    Signer,
    SignerStatus,
)
from . import events

__all__ = [
    "BehindCheckpointError",
    "Checkpoint",
    "CheckpointMismatchError",
    "ClosedError",
    "CorruptionError",
    "Durability",
    "Entry",
    "EvidentError",
    "FailedError",
    "Health",
    "Interval",
    "InvalidArgumentError",
    "IoError",
    "Location",
    "LockedError",
    "OpenReport",
    "Payload",
    "ProofError",
    "ProvenConsistency",
    "ProvenRecord",
    "QueryPage",
    "Receipt",
    "Signer",
    "SignerStatus",
    "TooLargeError",
    "TornTailError",
    "Trail",
    "check_bundle",
    "check_consistency",
    "events",
]
__version__ = "0.1.0"

"""Typed audit events: one JSON object per record, the schema of the Rust `AuditEvent`.

Every event carries the agent (`gen_ai.agent.id`) and a correlation id (request or trace id);
`kind` tags it. Field names follow the OpenTelemetry GenAI conventions where one exists.
`to_json()` gives the same bytes as the Rust adapter's canonical encoding (compact JSON, fields
in schema order, optional fields left out when unset), so `evident query --agent` and
`evident stats` read these events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Dict, List, Optional, Type


class Decision(str, Enum):
    """The authorization decision on an action (`gen_ai.security.decision.type`)."""

    ALLOW = "allow"
    DENY = "deny"
    MODIFY = "modify"
    AUDIT = "audit"
    WARN = "warn"


@dataclass
class Event:
    """Base of the event kinds; `KIND` is the JSON `kind` tag."""

    KIND: ClassVar[str] = ""
    # Fields left out of the JSON when they have these "unset" values (Rust's
    # skip_serializing_if): None for optional ones, [] for lists.
    _OPTIONAL: ClassVar[tuple] = ()

    agent_id: str
    correlation_id: str

    def to_dict(self) -> Dict[str, Any]:
        """The event as a JSON object, fields in schema order."""
        out: Dict[str, Any] = {
            "gen_ai.agent.id": self.agent_id,
            "correlation.id": self.correlation_id,
            "kind": self.KIND,
        }
        for name, value in self._fields().items():
            if name in self._OPTIONAL and (value is None or value == []):
                continue
            if isinstance(value, Enum):
                value = value.value
            out[_JSON_NAMES.get(name, name)] = value
        return out

    def _fields(self) -> Dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("agent_id", "correlation_id")}

    def to_json(self) -> bytes:
        """The canonical encoding: compact JSON, UTF-8."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class ExecRequest(Event):
    """An agent asks to run a command."""

    KIND: ClassVar[str] = "exec.request"
    _OPTIONAL: ClassVar[tuple] = ("policy", "timeout_ms")
    machine: str = ""
    argv: List[str] = field(default_factory=list)
    policy: Optional[str] = None
    stdin_bytes: int = 0
    timeout_ms: Optional[int] = None


@dataclass
class ExecStarted(Event):
    """The command started."""

    KIND: ClassVar[str] = "exec.started"
    pid: int = 0


@dataclass
class ExecWarning(Event):
    """Something noteworthy while it ran (e.g. `output_truncated`)."""

    KIND: ClassVar[str] = "exec.warning"
    warning: str = ""
    bytes: int = 0


@dataclass
class ExecExit(Event):
    """The command ended."""

    KIND: ClassVar[str] = "exec.exit"
    _OPTIONAL: ClassVar[tuple] = ("code", "signal")
    code: Optional[int] = None
    signal: Optional[int] = None
    duration_ms: int = 0
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    truncated: bool = False


@dataclass
class ExecDenied(Event):
    """The request was refused before it ran."""

    KIND: ClassVar[str] = "exec.denied"
    _OPTIONAL: ClassVar[tuple] = ("policy",)
    reason: str = ""
    policy: Optional[str] = None


@dataclass
class ToolCall(Event):
    """A tool call and the authorization decision on it."""

    KIND: ClassVar[str] = "tool.call"
    _OPTIONAL: ClassVar[tuple] = ("policy", "anomalies", "upstream_status", "arguments", "arguments_hash")
    tool_name: str = ""
    call_id: str = ""
    operation: str = "execute_tool"
    decision: Decision = Decision.ALLOW
    policy: Optional[str] = None
    anomalies: List[str] = field(default_factory=list)
    latency_ms: int = 0
    upstream_status: Optional[int] = None
    arguments: Optional[Any] = None
    """The arguments, when recorded in full (any JSON value)."""
    arguments_hash: Optional[str] = None
    """A hash of the arguments, when they must not be stored."""


@dataclass
class Query(Event):
    """A query and what its answer rests on."""

    KIND: ClassVar[str] = "query"
    _OPTIONAL: ClassVar[tuple] = ("confidence", "assertions")
    query_id: str = ""
    parameters: Any = None
    result_hash: str = ""
    confidence: Optional[float] = None
    assertions: List[str] = field(default_factory=list)


@dataclass
class Custom(Event):
    """Anything else: a name and free-form data."""

    KIND: ClassVar[str] = "custom"
    name: str = ""
    data: Any = None


_JSON_NAMES = {
    "tool_name": "gen_ai.tool.name",
    "call_id": "gen_ai.tool.call.id",
    "operation": "gen_ai.operation.name",
    "decision": "gen_ai.security.decision.type",
    "arguments": "gen_ai.tool.call.arguments",
}
_PY_NAMES = {v: k for k, v in _JSON_NAMES.items()}

KINDS: Dict[str, Type[Event]] = {
    c.KIND: c for c in (ExecRequest, ExecStarted, ExecWarning, ExecExit, ExecDenied, ToolCall, Query, Custom)
}


def event_from_dict(obj: Dict[str, Any]) -> Event:
    """Parses an event read back (`entry.json()`); raises ValueError for an unknown kind."""
    kind = obj.get("kind")
    cls = KINDS.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"not an audit event: kind {kind!r}")
    kw: Dict[str, Any] = {"agent_id": obj["gen_ai.agent.id"], "correlation_id": obj["correlation.id"]}
    for k, v in obj.items():
        if k in ("gen_ai.agent.id", "correlation.id", "kind"):
            continue
        name = _PY_NAMES.get(k, k)
        if name == "decision":
            v = Decision(v)
        kw[name] = v
    return cls(**kw)

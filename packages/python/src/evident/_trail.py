"""`Trail`: a trail directory opened for writing through the component."""

from __future__ import annotations

import base64
import dataclasses
import errno
import json
import os
import threading
from typing import Any, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

from wasmtime.component import Variant

from . import _component as c
from ._errors import ClosedError, EvidentError, InvalidArgumentError, IoError, Location
from ._types import (
    Checkpoint,
    Durability,
    Entry,
    Health,
    Interval,
    OpenReport,
    QueryPage,
    Receipt,
    Signer,
    SignerStatus,
)
from .events import Event

Payload = Union[bytes, bytearray, memoryview, str, Mapping[str, Any], Event]
"""What `append` takes: bytes as they are, a str as UTF-8, a dict as compact JSON, an
`Event` in its canonical encoding."""

_RECOVERY = {"tolerate-torn-tail", "absolute-consistency"}


def payload_bytes(payload: Payload) -> bytes:
    """The bytes a payload is stored as."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, Event):
        return payload.to_json()
    if isinstance(payload, Mapping):
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raise TypeError(f"a payload is bytes, str, a dict or an evident Event, not {type(payload).__name__}")


def _b64(payload: Payload) -> str:
    return base64.b64encode(payload_bytes(payload)).decode("ascii")


def _durability(d: Optional[Durability]) -> Any:
    if d is None:
        return None
    if isinstance(d, Interval):
        return Variant("interval", int(d.ms))
    if d in ("always", "os"):
        return Variant(d, None)
    if isinstance(d, str) and d.startswith("interval:") and d[9:].isdigit():
        return Variant("interval", int(d[9:]))
    raise InvalidArgumentError(f"durability {d!r}: expected 'always', 'os', Interval(ms) or 'interval:MS'")


def _receipt(r: Any) -> Receipt:
    return Receipt(seq=r.seq, timestamp=r.timestamp, hash=r.hash, durable=r.durable)


def _entry(e: Any) -> Entry:
    return Entry(seq=e.seq, timestamp=e.timestamp, payload=base64.b64decode(e.payload), hash=e.hash)


class Trail:
    """An open trail. Use `Trail.open(path)` as a context manager; calls from several threads
    are serialized (one component instance per trail). Closing without `close()` (or a
    `kill -9`) leaves a trail that recovers with every acknowledged record."""

    def __init__(self, instance: c.Instance, log: Any, path: str) -> None:
        self._inst = instance
        self._log = log
        self._lock = threading.RLock()
        self._closed = False
        self.path = path
        """The trail's directory on the host."""

    # --- opening and closing ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Union[str, "os.PathLike[str]"],
        *,
        segment_bytes: Optional[int] = None,
        durability: Optional[Durability] = None,
        recovery_mode: Optional[str] = None,
        max_payload: Optional[int] = None,
        preallocate: Optional[bool] = None,
        log_id: Optional[str] = None,
        lease_ms: Optional[int] = None,
        holder: Optional[str] = None,
        origin: Optional[str] = None,
        signer: Optional[Signer] = None,
    ) -> "Trail":
        """Opens (or creates) the trail in directory `path`, running crash recovery.

        Every option defaults to the native adapter's default: `segment_bytes` 64 MiB,
        `durability` "always", `recovery_mode` "tolerate-torn-tail" (or
        "absolute-consistency"), `max_payload` 1 MiB, `preallocate` True, a random `log_id`
        (32 hex digits), `lease_ms` 10000, `holder` a label shown to writers refused with
        `LockedError`, `origin` the first line of the trail's C2SP checkpoints (set when the
        trail is created, default `evident/<log id hex>`; another one for an existing trail
        raises `InvalidArgumentError`), `signer` a `Signer` to keep `checkpoint.note` signed
        (the origin is then the key's name). Raises `LockedError` while another writer holds
        the trail; with a signer, `BehindCheckpointError` or `CheckpointMismatchError` (naming
        both roots) for a trail that does not extend what the key signed.
        """
        path = os.path.abspath(os.fspath(path))
        if recovery_mode is not None and recovery_mode not in _RECOVERY:
            raise InvalidArgumentError(f"recovery_mode {recovery_mode!r}: expected one of {sorted(_RECOVERY)}")
        if os.path.exists(path) and not os.path.isdir(path):
            raise IoError(f"{path}: not a directory", "open", "other", Location(file=path))
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            kind = {errno.ENOENT: "not-found", errno.ENOSPC: "no-space", errno.EACCES: "permission-denied"}
            raise IoError(f"{path}: cannot create the trail directory: {e.strerror}", "create-dir",
                          kind.get(e.errno or 0, "other"), Location(file=path)) from e
        options = c.record(
            segment_bytes=segment_bytes,
            durability=_durability(durability),
            recovery_mode=recovery_mode,
            max_payload=max_payload,
            preallocate=preallocate,
            log_id=log_id,
            lease_ms=lease_ms,
            holder=holder,
            origin=origin,
            signer=None,
        )
        signer_dir = None
        guest_record = host_record = None
        if signer is not None:
            if not isinstance(signer, Signer):
                raise TypeError(f"signer is an evident.Signer, not {type(signer).__name__}")
            host_record = os.path.abspath(signer.record if signer.record is not None else path + ".signed")
            signer_dir, name = os.path.split(host_record)
            os.makedirs(signer_dir, exist_ok=True)
            guest_record = "/signer/" + name
            setattr(
                options,
                "signer",
                c.record(key=signer.key, record_path=guest_record, interval_ms=signer.interval_ms),
            )
        inst = c.Instance(path, signer_dir)
        try:
            log = c.ok(inst.call(c.TRAIL, "[static]log.open", "/trail", options))
        except EvidentError as e:
            # The component names the trail (and the record) by guest paths; the caller knows
            # them by the host's.
            if e.message.startswith("/trail"):
                e.message = path + e.message[len("/trail"):]
            if guest_record is not None and host_record is not None:
                e.message = e.message.replace(guest_record, host_record)
                loc = getattr(e, "location", None)
                if isinstance(loc, Location) and loc.file == guest_record:
                    e.location = dataclasses.replace(loc, file=host_record)
            e.args = (e.message,)
            raise
        return cls(inst, log, path)

    def __enter__(self) -> "Trail":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._closed:
            self.close()

    def close(self) -> Checkpoint:
        """Writes and syncs everything, writes `head.checkpoint`, releases the writer lease and
        closes. Later calls raise `ClosedError`."""
        with self._lock:
            head = c.checkpoint(self._call("close"))
            # Only a close that succeeded ends the handle: after a failed one (a sync error)
            # the caller may retry it, or drop the trail (which recovers on the next open).
            self._closed = True
            self._log.drop(self._inst.store)
            # The instance holds the preopened directory's descriptor: let it go with the store.
            self._inst = None  # type: ignore[assignment]
            return head

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed

    # --- writing ------------------------------------------------------------------------------

    def append(self, payload: Payload, *, timestamp: Optional[int] = None) -> Receipt:
        """Appends one record (bytes, str, dict or Event); returns once it is acknowledged
        (under "always", after the fsync covering it). `timestamp` is ns since the epoch
        (default: the wall clock)."""
        data = _b64(payload)
        with self._lock:
            return _receipt(self._call("append-base64", data, timestamp))

    def append_event(self, event: Event, *, timestamp: Optional[int] = None) -> Receipt:
        """Appends one typed audit event (`evident.events`) in its canonical JSON."""
        if not isinstance(event, Event):
            raise TypeError(f"append_event takes an evident.events Event, not {type(event).__name__}")
        return self.append(event, timestamp=timestamp)

    def append_batch(
        self, payloads: Iterable[Payload], *, timestamps: Optional[Sequence[int]] = None
    ) -> List[Receipt]:
        """Appends many records with one write and one fsync (contiguous seqs); all or none are
        acknowledged. `timestamps`, when given, holds one per payload."""
        data = [_b64(p) for p in payloads]
        ts = None if timestamps is None else [int(t) for t in timestamps]
        with self._lock:
            return [_receipt(r) for r in self._call("append-batch-base64", data, ts)]

    def sync(self) -> Checkpoint:
        """Makes everything appended durable whatever the policy; returns the durable head."""
        with self._lock:
            return c.checkpoint(self._call("sync"))

    def checkpoint(self) -> Checkpoint:
        """Rewrites `head.checkpoint` atomically with the durable head; returns it."""
        with self._lock:
            return c.checkpoint(self._call("checkpoint"))

    # --- proofs -------------------------------------------------------------------------------

    def checkpoint_note(self) -> str:
        """The C2SP checkpoint of the durable head's Merkle tree (origin, tree size, base64
        root; unsigned): the same text as `evident checkpoint`. Ship it off the host."""
        with self._lock:
            return str(self._call("checkpoint-note"))

    def prove(self, seq: int, *, size: Optional[int] = None, include_payload: bool = True) -> str:
        """An inclusion bundle (`c2sp.org/tlog-proof@v1`) for record `seq` in the tree of
        `size` records (default: the durable head), with the payload unless
        `include_payload=False`; checked before it is returned. `check_bundle` verifies it
        anywhere, with nothing but its text."""
        with self._lock:
            return str(
                self._call("prove", int(seq), None if size is None else int(size), bool(include_payload))
            )

    def signer_status(self) -> Optional[SignerStatus]:
        """What the signer did (None without `signer`): the size last signed into
        `checkpoint.note`, notes written, and why the last signature failed (a periodic or
        `sync()` signature that fails does not fail its call; `checkpoint()` and `close()`
        raise it)."""
        with self._lock:
            r = self._call("signer-status", unwrap=False)
        if r is None:
            return None
        return SignerStatus(
            signed_size=getattr(r, "signed-size"),
            notes_written=getattr(r, "notes-written"),
            last_error=getattr(r, "last-error"),
        )

    def prove_consistency(self, old_checkpoint: str) -> str:
        """A consistency proof from the tree in `old_checkpoint` (a checkpoint note this trail
        gave earlier) to the durable head; `check_consistency` verifies it."""
        with self._lock:
            return str(self._call("prove-consistency", old_checkpoint))

    # --- reading ------------------------------------------------------------------------------

    def head(self) -> Checkpoint:
        """The durable head: ship it off the host to prove later that the trail holds it."""
        with self._lock:
            return c.checkpoint(self._call("head", unwrap=False))

    def read(self, from_seq: int = 1, max: int = 1000) -> List[Entry]:
        """Up to `max` records from `from_seq` on (fewer at the end of the trail)."""
        with self._lock:
            return [_entry(e) for e in self._call("read-base64", int(from_seq), int(max))]

    def query_page(
        self,
        *,
        from_seq: Optional[int] = None,
        to_seq: Optional[int] = None,
        since: Optional[int] = None,
        until: Optional[int] = None,
        agent: Optional[str] = None,
        limit: Optional[int] = None,
        newest: bool = False,
    ) -> QueryPage:
        """One query call: matching records in seq order (at most `limit`; with `newest` the
        last `limit`), and the checkpoint they chain to."""
        q = c.record(
            from_seq=from_seq, to_seq=to_seq, since=since, until=until, agent=agent, limit=limit, newest=newest
        )
        with self._lock:
            r = self._call("query-base64", q)
        head = getattr(r, "head")
        return QueryPage(
            entries=[_entry(e) for e in getattr(r, "entries")],
            head=None if head is None else c.checkpoint(head),
            segments_read=getattr(r, "segments-read"),
        )

    def query(
        self,
        *,
        from_seq: Optional[int] = None,
        to_seq: Optional[int] = None,
        since: Optional[int] = None,
        until: Optional[int] = None,
        agent: Optional[str] = None,
        limit: Optional[int] = None,
        newest: bool = False,
        page_size: int = 1000,
    ) -> Iterator[Entry]:
        """Iterates over matching records in seq order, fetching `page_size` at a time:
        `since`/`until` are ns since the epoch (until exclusive), `agent` is
        `gen_ai.agent.id`, `limit` caps the count, `newest` takes the last `limit`."""
        if page_size < 1:
            raise InvalidArgumentError("page_size must be at least 1")
        if newest:
            yield from self.query_page(
                from_seq=from_seq, to_seq=to_seq, since=since, until=until, agent=agent, limit=limit, newest=True
            ).entries
            return
        cursor = from_seq
        remaining = limit
        while remaining is None or remaining > 0:
            want = page_size if remaining is None else min(page_size, remaining)
            page = self.query_page(
                from_seq=cursor, to_seq=to_seq, since=since, until=until, agent=agent, limit=want
            ).entries
            yield from page
            if len(page) < want:
                return
            cursor = page[-1].seq + 1
            if remaining is not None:
                remaining -= len(page)

    def verify(self) -> Checkpoint:
        """Verifies the whole trail (and its own `head.checkpoint`); returns the verified head.
        Raises `CorruptionError` (with `.location`) for damage or tampering."""
        with self._lock:
            return c.checkpoint(self._call("verify"))

    def health(self) -> Health:
        """Health state and counters."""
        with self._lock:
            h = self._call("health", unwrap=False)
        g = lambda n: getattr(h, n)  # noqa: E731
        return Health(
            state=g("state"),
            consecutive_failures=g("consecutive-failures"),
            total_failures=g("total-failures"),
            write_failures=g("write-failures"),
            sync_failures=g("sync-failures"),
            records=g("records"),
            bytes=g("bytes"),
            fsyncs=g("fsyncs"),
            batches=g("batches"),
            max_batch=g("max-batch"),
            last_error=g("last-error"),
            directory_sync=g("directory-sync"),
        )

    @property
    def open_report(self) -> OpenReport:
        """What recovery found and did at open."""
        with self._lock:
            r = self._call("open-report", unwrap=False)
        return OpenReport(
            log_id=getattr(r, "log-id"),
            created=r.created,
            segments=r.segments,
            head=c.checkpoint(r.head),
            tail=r.tail,
            truncated=r.truncated,
        )

    # --- plumbing -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("the trail is closed")

    def _call(self, method: str, *args: Any, unwrap: bool = True) -> Any:
        self._check_open()
        r = self._inst.call(c.TRAIL, f"[method]log.{method}", self._log, *args)
        return c.ok(r) if unwrap else r

    def __repr__(self) -> str:
        return f"Trail({self.path!r}{', closed' if self._closed else ''})"

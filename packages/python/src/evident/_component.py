"""Loading the component and calling it through wasmtime-py's dynamic component API.

wasmtime-py hands back a `result` untagged (the ok value, or the `error` Variant), names
exports `[static]log.open` / `[method]log.append`, and keeps WIT field names in kebab-case:
this module hides all three. Payloads go through the `*-base64` calls: wasmtime-py lowers a
`list<u8>` one element at a time (a tagged C value per byte, about 1 s per MiB) but a string
in one copy (about 100 MB/s of payload with the base64 step included; see BENCHMARKS.md).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, Optional

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker, Record, Variant

from ._errors import EvidentError, InvalidArgumentError, ProofError, from_wit
from ._types import Checkpoint, ProvenConsistency, ProvenRecord

TRAIL = "evident:log/trail@0.1.0"
VERIFY = "evident:log/verify@0.1.0"
COMPONENT_FILE = "evident_wasi.wasm"

_lock = threading.Lock()
_shared: Optional[tuple] = None


def component_path() -> str:
    """The component inside the package (or `$EVIDENT_COMPONENT` when set)."""
    override = os.environ.get("EVIDENT_COMPONENT")
    if override:
        return override
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), COMPONENT_FILE)


def _engine_and_component() -> tuple:
    """One engine and one compiled component per process (compiling takes ~0.3 s)."""
    global _shared
    with _lock:
        if _shared is None:
            path = component_path()
            if not os.path.isfile(path):
                raise EvidentError(
                    f"the evident component is missing at {path}: the package was installed "
                    "without it; run packages/build-component in the repository, then pip install again"
                )
            engine = Engine()
            _shared = (engine, Component.from_file(engine, path))
        return _shared


def record(**fields: Any) -> Record:
    """A WIT record to hand in; keyword `_` become the WIT's `-`."""
    r = Record()
    for k, v in fields.items():
        setattr(r, k.replace("_", "-"), v)
    return r


def ok(value: Any) -> Any:
    """Unwraps an untagged `result<T, error>` (no T of this WIT is a variant)."""
    if isinstance(value, Variant):
        raise from_wit(value)
    return value


def checkpoint(rec: Any) -> Checkpoint:
    return Checkpoint(log_id=getattr(rec, "log-id"), seq=getattr(rec, "seq"), hash=getattr(rec, "hash"))


def to_wit_checkpoint(c: Checkpoint) -> Record:
    return record(log_id=c.log_id, seq=c.seq, hash=c.hash)


class Instance:
    """One component instance in its own store, optionally with `host_dir` preopened as
    `/trail` (and `signer_dir`, the signing record's directory, as `/signer`). Not thread-safe: the caller serializes calls."""

    def __init__(self, host_dir: Optional[str] = None, signer_dir: Optional[str] = None) -> None:
        engine, component = _engine_and_component()
        self.store = Store(engine)
        wasi = WasiConfig()
        if host_dir is not None:
            wasi.preopen_dir(host_dir, "/trail")
        if signer_dir is not None:
            # The signing record's directory (outside the trail directory).
            wasi.preopen_dir(signer_dir, "/signer")
        self.store.set_wasi(wasi)
        linker = Linker(engine)
        linker.add_wasip2()
        self.instance = linker.instantiate(self.store, component)
        self._funcs: Dict[tuple, Callable[..., Any]] = {}

    def func(self, iface: str, name: str) -> Callable[..., Any]:
        key = (iface, name)
        f = self._funcs.get(key)
        if f is None:
            idx = self.instance.get_export_index(self.store, iface)
            fidx = None if idx is None else self.instance.get_export_index(self.store, name, idx)
            if fidx is None:
                raise EvidentError(f"the component has no export {iface}#{name}: rebuild the package")
            f = self.instance.get_func(self.store, fidx)
            self._funcs[key] = f
        return f

    def call(self, iface: str, name: str, *args: Any) -> Any:
        return self.func(iface, name)(self.store, *args)


_verifier: Optional[Instance] = None
_verifier_lock = threading.Lock()


def _pure(name: str, *args: Any) -> Any:
    """Calls a function of the pure `verify` interface on a shared instance."""
    global _verifier
    with _verifier_lock:
        if _verifier is None:
            _verifier = Instance()
        return _verifier.call(VERIFY, name, *args)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parses a checkpoint in its text or JSON form."""
    r = _pure("parse-checkpoint", text)
    if isinstance(r, str):
        raise InvalidArgumentError(r)
    return checkpoint(r)


def checkpoint_text(c: Checkpoint) -> str:
    """The text form of a checkpoint."""
    return str(_pure("checkpoint-text", to_wit_checkpoint(c)))


def check_bundle(text: str) -> ProvenRecord:
    """Checks an inclusion bundle (`c2sp.org/tlog-proof@v1`, what `Trail.prove` and
    `evident prove` write) offline, with nothing but its text; raises `ProofError` naming
    what fails."""
    r = _pure("check-bundle", text)
    if isinstance(r, str):
        raise ProofError(r)
    payload = getattr(r, "payload")
    return ProvenRecord(
        origin=getattr(r, "origin"),
        tree_size=getattr(r, "tree-size"),
        root=getattr(r, "root"),
        kind=getattr(r, "kind"),
        seq=getattr(r, "seq"),
        timestamp=getattr(r, "timestamp"),
        payload_hash=getattr(r, "payload-hash"),
        payload=None if payload is None else bytes(payload),
    )


def check_consistency(text: str) -> ProvenConsistency:
    """Checks a consistency proof (what `Trail.prove_consistency` and `evident prove
    --consistency` write); raises `ProofError` naming what fails."""
    r = _pure("check-consistency", text)
    if isinstance(r, str):
        raise ProofError(r)
    return ProvenConsistency(
        origin=getattr(r, "origin"),
        old_size=getattr(r, "old-size"),
        old_root=getattr(r, "old-root"),
        new_size=getattr(r, "new-size"),
        new_root=getattr(r, "new-root"),
    )

"""Runs the evident-wasi component under Python with the PyPI `wasmtime` package (50.0.1).

    python host.py <component.wasm> [<data-dir>]

<data-dir> (a fresh temporary directory when omitted) is preopened as `/data`; the trail is
written to <data-dir>/trail. tests/tests/python_host.rs drives this and then verifies the trail
with the native adapter.

wasmtime-py's dynamic component API returns values untagged where the cases of a `result` (or
`option`) have disjoint Python types: `result<checkpoint, error>` comes back as either a
`Record` or a `Variant` (the `error` variant itself is tagged: its cases overlap). Record fields
keep their WIT (kebab-case) names, so they are read with getattr(). `list<u8>` is `bytes`.

Prints one JSON line (the summary) on stdout; exits 1 on the first failed check.
"""

import json
import os
import sys
import tempfile
import time

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker, Record, ResourceAny, Variant

LOG_ID = "fedcba9876543210fedcba9876543210"
BATCH = 250
HEADER_LEN = 128
RECORD_HEADER_LEN = 56


class CheckFailed(Exception):
    pass


current = "setup"


def check(cond, what, detail=None):
    if not cond:
        raise CheckFailed(f"{current}: {what}" + ("" if detail is None else f" ({detail!r})"))


def eq(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def field(rec, name):
    return getattr(rec, name)


def plain(v):
    """Records and variants as JSON-able values (kebab-case keys as in the WIT)."""
    if isinstance(v, Record):
        return {k: plain(x) for k, x in vars(v).items()}
    if isinstance(v, Variant):
        return {"tag": v.tag, "val": plain(v.payload)}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, bytes):
        return f"bytes[{len(v)}]"
    return v


def record(**fields):
    """A record to hand in; keyword names use `_` for the WIT's `-`."""
    r = Record()
    for k, v in fields.items():
        setattr(r, k.replace("_", "-"), v)
    return r


class ComponentErr(Exception):
    """An `err` result: `self.error` is the WIT `error` variant (a tagged Variant)."""

    def __init__(self, error):
        super().__init__(repr(plain(error)))
        self.error = error


def ok(value):
    """Unwraps an untagged `result<T, error>`: a Variant is the error (no T here is a variant)."""
    if isinstance(value, Variant):
        raise ComponentErr(value)
    return value


def err_of(f, what):
    try:
        f()
    except ComponentErr as e:
        return e.error
    check(False, f"{what}: did not fail")


class Evident:
    """One component instance with `host_dir` preopened as `/data`."""

    def __init__(self, engine, component, host_dir):
        self.store = Store(engine)
        wasi = WasiConfig()
        wasi.inherit_stderr()
        wasi.preopen_dir(host_dir, "/data")
        self.store.set_wasi(wasi)
        linker = Linker(engine)
        linker.add_wasip2()
        self.instance = linker.instantiate(self.store, component)
        self.funcs = {}

    def func(self, iface, name):
        key = (iface, name)
        if key not in self.funcs:
            idx = self.instance.get_export_index(self.store, f"evident:log/{iface}@0.1.0")
            check(idx is not None, f"export evident:log/{iface}@0.1.0")
            fidx = self.instance.get_export_index(self.store, name, idx)
            check(fidx is not None, f"export {iface}#{name}")
            self.funcs[key] = self.instance.get_func(self.store, fidx)
        return self.funcs[key]

    def call(self, iface, name, *args):
        return self.func(iface, name)(self.store, *args)

    def open(self, path, options):
        return ok(self.call("trail", "[static]log.open", path, options))

    def log(self, method, log, *args):
        return self.call("trail", f"[method]log.{method}", log, *args)

    def verify(self, name, *args):
        return self.call("verify", name, *args)


def options(**kw):
    base = dict(
        segment_bytes=4096,
        durability=None,
        recovery_mode=None,
        max_payload=None,
        preallocate=None,
        log_id=LOG_ID,
        lease_ms=None,
        holder=None,
        origin=None,
        signer=None,
    )
    base.update(kw)
    return record(**base)


def segment_names(d):
    return sorted(n for n in os.listdir(d) if n.endswith(".evseg"))


def main():
    global current
    if len(sys.argv) < 2:
        print("usage: python host.py <component.wasm> [<data-dir>]", file=sys.stderr)
        return 2
    wasm = sys.argv[1]
    data_dir = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="evident-py-"))
    os.makedirs(data_dir, exist_ok=True)
    summary = {"data_dir": data_dir, "log_id": LOG_ID}
    started = time.monotonic()
    try:
        engine = Engine()
        t = time.monotonic()
        component = Component.from_file(engine, wasm)
        summary["compile_millis"] = round((time.monotonic() - t) * 1000)

        a = Evident(engine, component, data_dir)

        current = "errors"
        e = err_of(lambda: a.open("/elsewhere/trail", options()), "open outside the preopen")
        eq(e.tag, "invalid-argument", "outside the preopen")
        e = err_of(lambda: a.open("/data/bad", options(log_id="xyz")), "bad log id")
        eq(e.tag, "invalid-argument", "bad log id")

        current = "open"
        log = a.open("/data/trail", options())
        check(isinstance(log, ResourceAny), "open returns the resource", log)
        rep = a.log("open-report", log)
        eq(field(rep, "created"), True, "created")
        eq(field(rep, "log-id"), LOG_ID, "log id")
        eq(field(field(rep, "head"), "seq"), 0, "empty head")

        current = "append"
        r1 = ok(a.log("append", log, b"first"))
        eq((field(r1, "seq"), field(r1, "durable")), (1, True), "first receipt")
        r2 = ok(a.log("append-at", log, b"second", 5))
        eq(field(r2, "seq"), 2, "append-at seq")
        check(field(r2, "timestamp") >= field(r1, "timestamp"), "timestamps never go backwards")
        # A small max-payload keeps this cheap: wasmtime-py lowers a `list<u8>` one element at
        # a time (a few microseconds per byte), so a payload over the 1 MiB default takes seconds.
        small = a.open("/data/small", options(max_payload=100))
        e = err_of(lambda: ok(a.log("append", small, bytes(101))), "oversized append")
        eq((e.tag, e.payload), ("too-large", 101), "too-large")
        eq(field(a.log("head", small), "seq"), 0, "nothing written")
        ok(a.log("close", small))
        small.drop(a.store)

        current = "append-batch"
        rs = ok(a.log("append-batch", log, [f"record {n}".encode() for n in range(BATCH)]))
        eq([field(r, "seq") for r in rs], list(range(3, BATCH + 3)), "batch seqs")
        total = BATCH + 2

        current = "sync/head"
        head = ok(a.log("sync", log))
        eq((field(head, "seq"), field(head, "hash"), field(head, "log-id")), (total, field(rs[-1], "hash"), LOG_ID), "sync")
        eq(a.log("head", log), head, "head")

        current = "read"
        entries = ok(a.log("read", log, 1, 10_000))
        eq(len(entries), total, "entries")
        eq(field(entries[0], "payload"), b"first", "payload 1")
        eq(field(entries[1], "payload"), b"second", "payload 2")
        eq([field(x, "seq") for x in entries], list(range(1, total + 1)), "seqs")
        for n in range(BATCH):
            x = entries[n + 2]
            check(field(x, "payload") == f"record {n}".encode() and field(x, "hash") == field(rs[n], "hash"), f"entry {n + 3}")
        eq([field(x, "seq") for x in ok(a.log("read", log, 100, 5))], [100, 101, 102, 103, 104], "read(100, 5)")
        eq(ok(a.log("read", log, total + 1, 10)), [], "read past the end")

        current = "verify/health"
        eq(ok(a.log("verify", log)), head, "verify")
        health = a.log("health", log)
        eq(field(health, "state"), "healthy", "state")
        eq(field(health, "records"), total, "records")
        summary["health"] = plain(health)

        current = "checkpoint/close"
        eq(ok(a.log("checkpoint", log)), head, "checkpoint")
        with open(os.path.join(data_dir, "trail", "head.checkpoint"), encoding="utf-8") as f:
            text = f.read()
        parsed = a.verify("parse-checkpoint", text)
        eq(parsed, head, "parse-checkpoint of head.checkpoint")
        # head.checkpoint is the checkpoint's four lines and (format 2) the tree root line.
        four = "".join(text.splitlines(True)[:4])
        check(text[len(four):].startswith("root ") and len(text) - len(four) == 70, "root line", text)
        eq(a.verify("checkpoint-text", head), four, "checkpoint-text")
        bad = a.verify("parse-checkpoint", "not a checkpoint")
        check(isinstance(bad, str), "a parse error comes back as a bare str", bad)
        eq(ok(a.log("close", log)), head, "close")
        e = err_of(lambda: ok(a.log("append", log, b"after close")), "append after close")
        eq(e.tag, "closed", "after close")
        log.drop(a.store)
        segs = segment_names(os.path.join(data_dir, "trail"))
        check(len(segs) >= 3, "4 KiB segments rotated", segs)
        summary["first_head"] = plain(head)

        current = "locked"
        # One writer per trail: a second instance is refused while the first holds the trail.
        # (The first log is closed above, so this opens a writer, then a rival beside it.)
        holder = Evident(engine, component, data_dir)
        held = holder.open("/data/trail", options())
        rival = Evident(engine, component, data_dir)
        e = err_of(lambda: rival.open("/data/trail", options()), "second writer")
        eq(e.tag, "locked", "second writer refused")
        check("component" in str(plain(e)), "locked names the holder", plain(e))
        ok(holder.log("close", held))

        current = "reopen"
        b = Evident(engine, component, data_dir)
        log2 = b.open("/data/trail", options())
        rep2 = b.log("open-report", log2)
        eq(field(rep2, "created"), False, "created")
        eq(field(rep2, "head"), head, "head after reopen")
        again = ok(b.log("append", log2, b"again"))
        eq(field(again, "seq"), total + 1, "append after reopen")
        final = ok(b.log("close", log2))
        eq((field(final, "seq"), field(final, "hash")), (total + 1, field(again, "hash")), "final head")
        log2.drop(b.store)
        summary["head"] = plain(final)
        summary["segments"] = segment_names(os.path.join(data_dir, "trail"))

        current = "verify-segments"
        trail_dir = os.path.join(data_dir, "trail")
        files = []
        for name in summary["segments"]:
            with open(os.path.join(trail_dir, name), "rb") as f:
                files.append(record(name=name, bytes=f.read()))
        report = ok(b.verify("verify-segments", list(reversed(files)), [head, final]))
        eq((field(report, "records"), field(report, "segments"), field(report, "first-seq")), (total + 1, len(files), 1), "report")
        eq(field(report, "head"), final, "report head")
        eq(len(field(report, "checkpoints-verified")), 2, "checkpoints verified")
        k = len(files) // 2
        changed = bytearray(field(files[k], "bytes"))
        changed[HEADER_LEN + RECORD_HEADER_LEN + 3] ^= 0x01
        files[k] = record(name=field(files[k], "name"), bytes=bytes(changed))
        e = err_of(lambda: ok(b.verify("verify-segments", files, [])), "verify-segments of changed bytes")
        eq(e.tag, "corrupt", "tag")
        eq(field(field(e.payload, "location"), "file"), summary["segments"][k], "file named")
        summary["verify_segments"] = {"records": field(report, "records"), "corrupt": plain(e)}

        current = "done"
        summary["ok"] = True
        summary["millis"] = round((time.monotonic() - started) * 1000)
        print(json.dumps(summary), flush=True)
        return 0
    except Exception as e:  # noqa: BLE001 - any failure is reported the same way
        msg = str(e) if isinstance(e, CheckFailed) else f"{current}: {type(e).__name__}: {e}"
        print(f"python host FAILED: {msg}", file=sys.stderr)
        print(json.dumps({"ok": False, "failed": msg, "data_dir": data_dir}), flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())

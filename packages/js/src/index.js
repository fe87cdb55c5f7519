// @evident/trail: the evident WASI component (jco-transpiled, in dist/component) behind a thin
// wrapper. `await Trail.open(dir)` gives the component its own WASI with `dir` preopened (no
// global `_setPreopens`), errors are EvidentError subclasses, seqs and counters are numbers,
// timestamps (ns since the epoch, beyond 2^53) BigInts.

import { readFile, mkdir, stat, open as openFile } from "node:fs/promises";
import { resolve, dirname, basename } from "node:path";
import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";
import { ClosedError, EvidentError, FailedError, InvalidArgumentError, IoError, ProofError, wrap } from "./errors.js";
import { eventJson } from "./events.js";
import { fixShim } from "./shim-fixes.js";

export * from "./errors.js";
export { eventJson, eventObject, parseEvent, DECISIONS } from "./events.js";

const COMPONENT = new URL("../dist/component/", import.meta.url);
const enc = new TextEncoder();
const dec = new TextDecoder();

let modules; // name -> Promise<WebAssembly.Module>, compiled once per process
let instantiateFn;

async function loadInstantiate() {
  if (!instantiateFn) {
    let mod;
    try {
      mod = await import(new URL("evident.js", COMPONENT).href);
    } catch (e) {
      throw new Error(
        `the evident component is missing from @evident/trail (${COMPONENT.pathname}): run ` +
          `packages/build-component --js in the repository before installing the package (${e.message})`,
      );
    }
    instantiateFn = mod.instantiate;
    modules = new Map();
  }
  return instantiateFn;
}

function coreModule(name) {
  if (!modules.has(name)) {
    modules.set(name, readFile(new URL(name, COMPONENT)).then((b) => WebAssembly.compile(b)));
  }
  return modules.get(name);
}

/** A fresh component instance whose filesystem is `preopens` only. */
async function instance(preopens) {
  const instantiate = await loadInstantiate();
  const shim = new WASIShim({ sandbox: { preopens } });
  const imports = shim.getImportObject();
  fixShim(imports);
  return instantiate(coreModule, imports);
}

/** A u64 from the component as a number (seqs, counts: exact far beyond any trail's size). */
function num(b) {
  if (typeof b !== "bigint") return b;
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${b} does not fit a JS number`);
  return Number(b);
}
const u64 = (v, what) => {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new InvalidArgumentError(`${what}: expected a non-negative integer or BigInt, got ${String(v)}`);
};
const opt64 = (v, what) => (v === undefined || v === null ? undefined : u64(v, what));

/** The bytes a payload is stored as: a Uint8Array as is, a string as UTF-8, an object as JSON. */
export function payloadBytes(p) {
  if (p instanceof Uint8Array) return p;
  if (typeof p === "string") return enc.encode(p);
  if (ArrayBuffer.isView(p)) return new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
  if (p instanceof ArrayBuffer) return new Uint8Array(p);
  if (p !== null && typeof p === "object") {
    return enc.encode(JSON.stringify(p, (_, x) => (typeof x === "bigint" ? Number(x) : x)));
  }
  throw new TypeError(`a payload is a Uint8Array, a string or a JSON object, not ${p === null ? "null" : typeof p}`);
}

const checkpoint = (c) => ({ logId: c.logId, seq: num(c.seq), hash: c.hash });
const witCheckpoint = (c) => ({ logId: c.logId, seq: u64(c.seq, "checkpoint seq"), hash: c.hash });
const receipt = (r) => ({ seq: num(r.seq), timestamp: r.timestamp, hash: r.hash, durable: r.durable });

/** One record read back; `text()` and `json()` decode its payload. */
class Entry {
  constructor(e) {
    this.seq = num(e.seq);
    this.timestamp = e.timestamp;
    this.payload = e.payload;
    this.hash = e.hash;
  }
  text() {
    return dec.decode(this.payload);
  }
  json() {
    return JSON.parse(this.text());
  }
}

function durability(d) {
  if (d === undefined || d === null) return undefined;
  if (d === "always" || d === "os") return { tag: d };
  if (typeof d === "object" && d.intervalMs !== undefined) return { tag: "interval", val: u64(d.intervalMs, "intervalMs") };
  throw new InvalidArgumentError(`durability ${JSON.stringify(d)}: expected "always", "os" or { intervalMs }`);
}

const RECOVERY = ["tolerate-torn-tail", "absolute-consistency"];

/** The key text in `file`: a regular file neither group nor others may read or write. */
async function readKeyFile(file) {
  let h;
  try {
    h = await openFile(file, "r");
  } catch (e) {
    throw new InvalidArgumentError(`key file ${file}: ${e.code ?? e.message}`);
  }
  try {
    const st = await h.stat();
    if (!st.isFile()) throw new InvalidArgumentError(`key file ${file} is not a regular file`);
    if (st.mode & 0o077) {
      throw new InvalidArgumentError(`key file ${file} has mode ${(st.mode & 0o777).toString(8)}: group or others may read it (chmod 600 it)`);
    }
    return (await h.readFile({ encoding: "utf8" })).trim();
  } finally {
    await h.close();
  }
}

/**
 * The signer option: the key (text, or `keyFile`), the record's host path (default
 * `<keyFile>.signed`, else `<trail dir>.signed`), preopened in its own directory as `/signer`.
 */
async function signerOptions(s, path) {
  if (s === undefined || s === null) return { wit: undefined };
  if (typeof s !== "object") throw new InvalidArgumentError("signer: expected { key } or { keyFile }");
  const key = s.keyFile !== undefined ? await readKeyFile(resolve(String(s.keyFile))) : s.key;
  if (typeof key !== "string") throw new InvalidArgumentError("signer: expected { key } (the private key text) or { keyFile }");
  const record = resolve(String(s.record ?? (s.keyFile !== undefined ? `${resolve(String(s.keyFile))}.signed` : `${path}.signed`)));
  await mkdir(dirname(record), { recursive: true });
  const guest = `/signer/${basename(record)}`;
  return {
    wit: { key, recordPath: guest, intervalMs: opt64(s.intervalMs, "signer.intervalMs") },
    dir: dirname(record),
    guest,
    host: record,
  };
}

/** An open trail. Calls are synchronous under the hood (one component instance per trail). */
export class Trail {
  #log;
  #instance;
  #closed = false;

  /** @private use Trail.open */
  constructor(instance, log, path) {
    this.#instance = instance;
    this.#log = log;
    /** The trail's directory on the host. */
    this.path = path;
  }

  /** Opens (or creates) the trail in directory `dir`, running crash recovery. */
  static async open(dir, options = {}) {
    const path = resolve(String(dir));
    const st = await stat(path).catch(() => null);
    if (st && !st.isDirectory()) {
      throw new IoError(`${path}: not a directory`, "open", "other", { file: path, segment: null, offset: null, seq: null });
    }
    if (!st) await mkdir(path, { recursive: true });
    if (options.recoveryMode !== undefined && !RECOVERY.includes(options.recoveryMode)) {
      throw new InvalidArgumentError(`recoveryMode ${JSON.stringify(options.recoveryMode)}: expected one of ${RECOVERY.join(", ")}`);
    }
    const witOptions = {
      segmentBytes: opt64(options.segmentBytes, "segmentBytes"),
      durability: durability(options.durability),
      recoveryMode: options.recoveryMode,
      maxPayload: options.maxPayload,
      preallocate: options.preallocate,
      logId: options.logId,
      leaseMs: opt64(options.leaseMs, "leaseMs"),
      holder: options.holder,
      origin: options.origin,
    };
    const signer = await signerOptions(options.signer, path);
    witOptions.signer = signer.wit;
    const preopens = { "/trail": path };
    if (signer.dir !== undefined) preopens["/signer"] = signer.dir;
    const inst = await instance(preopens);
    let log;
    try {
      log = wrap(() => inst.trail.Log.open("/trail", witOptions));
    } catch (e) {
      // The component names the trail (and the record) by guest paths; the caller knows
      // them by the host's.
      if (typeof e?.message === "string") {
        e.message = e.message.replace(/^\/trail\b/, path);
        if (signer.guest !== undefined) e.message = e.message.split(signer.guest).join(signer.host);
      }
      if (signer.guest !== undefined && e?.location?.file === signer.guest) e.location.file = signer.host;
      throw e;
    }
    return new Trail(inst, log, path);
  }

  #broken = null;

  #call(f) {
    if (this.#closed) throw new ClosedError();
    if (this.#broken) throw new FailedError(this.#broken);
    try {
      return wrap(() => f(this.#log));
    } catch (e) {
      if (e instanceof EvidentError) throw e;
      // Anything else escaped the guest mid-call (a host exception, a trap): the instance
      // cannot be entered again. What was acknowledged is on disk; reopening recovers the rest.
      this.#broken = `the component instance stopped (${e?.message ?? String(e)}): reopen the trail; acknowledged records are on disk`;
      throw new FailedError(this.#broken, { cause: e });
    }
  }

  /** Whether close() succeeded. */
  get closed() {
    return this.#closed;
  }

  /** What recovery found and did at open. */
  get openReport() {
    const r = this.#call((l) => l.openReport());
    return { logId: r.logId, created: r.created, segments: r.segments, head: checkpoint(r.head), tail: r.tail, truncated: r.truncated };
  }

  /** Appends one record; resolves once it is acknowledged (under "always": after its fsync). */
  async append(payload, { timestamp } = {}) {
    const bytes = payloadBytes(payload);
    const ts = opt64(timestamp, "timestamp");
    return receipt(this.#call((l) => (ts === undefined ? l.append(bytes) : l.appendAt(bytes, ts))));
  }

  /** Appends one typed audit event (see events.js) in its canonical JSON. */
  async appendEvent(event, options) {
    return this.append(eventJson(event), options);
  }

  /** Appends many records with one write and one fsync: all acknowledged, or an error. */
  async appendBatch(payloads, { timestamps } = {}) {
    const bytes = Array.from(payloads, payloadBytes);
    const rs = this.#call((l) =>
      timestamps === undefined ? l.appendBatch(bytes) : l.appendBatchAt(bytes, Array.from(timestamps, (t) => u64(t, "timestamp"))),
    );
    return rs.map(receipt);
  }

  /** Makes everything appended durable whatever the policy; returns the durable head. */
  async sync() {
    return checkpoint(this.#call((l) => l.sync()));
  }

  /** The durable head: ship it off the host. */
  head() {
    return checkpoint(this.#call((l) => l.head()));
  }

  /** Rewrites head.checkpoint with the durable head; returns it. */
  async checkpoint() {
    return checkpoint(this.#call((l) => l.checkpoint()));
  }

  /** Up to `max` records from `fromSeq` on. */
  async read(fromSeq = 1, max = 1000) {
    return this.#call((l) => l.read(u64(fromSeq, "fromSeq"), max)).map((e) => new Entry(e));
  }

  /** One query call: matching entries (at most `limit`; `newest`: the last ones), and the checkpoint they chain to. */
  async queryPage(q = {}) {
    const wq = {
      fromSeq: opt64(q.fromSeq, "fromSeq"),
      toSeq: opt64(q.toSeq, "toSeq"),
      since: opt64(q.since, "since"),
      until: opt64(q.until, "until"),
      agent: q.agent,
      limit: q.limit,
      newest: Boolean(q.newest),
    };
    const r = this.#call((l) => l.query(wq));
    return { entries: r.entries.map((e) => new Entry(e)), head: r.head ? checkpoint(r.head) : null, segmentsRead: r.segmentsRead };
  }

  /** Async iteration over matching records in seq order, `pageSize` per component call. */
  async *query(q = {}) {
    const pageSize = q.pageSize ?? 1000;
    if (!(Number.isInteger(pageSize) && pageSize >= 1)) throw new InvalidArgumentError("pageSize must be a positive integer");
    if (q.newest) {
      yield* (await this.queryPage(q)).entries;
      return;
    }
    let cursor = q.fromSeq;
    let remaining = q.limit;
    while (remaining === undefined || remaining > 0) {
      const want = remaining === undefined ? pageSize : Math.min(pageSize, remaining);
      const { entries } = await this.queryPage({ ...q, fromSeq: cursor, limit: want, newest: false });
      yield* entries;
      if (entries.length < want) return;
      cursor = entries.at(-1).seq + 1;
      if (remaining !== undefined) remaining -= entries.length;
    }
  }

  /** Verifies the whole trail; returns the verified head; throws CorruptionError (with .location). */
  async verify() {
    return checkpoint(this.#call((l) => l.verify()));
  }

  /** The C2SP checkpoint of the durable head's Merkle tree (origin, size, base64 root; unsigned), as `evident checkpoint` prints it. */
  checkpointNote() {
    return this.#call((l) => l.checkpointNote());
  }

  /** An inclusion bundle (c2sp.org/tlog-proof@v1) for record `seq` in the tree of `size` records (default: the durable head), with the payload unless `includePayload: false`. */
  async prove(seq, { size, includePayload = true } = {}) {
    return this.#call((l) => l.prove(u64(seq, "seq"), opt64(size, "size"), Boolean(includePayload)));
  }

  /** A consistency proof from the tree in `oldCheckpoint` (a checkpoint note) to the durable head. */
  async proveConsistency(oldCheckpoint) {
    return this.#call((l) => l.proveConsistency(String(oldCheckpoint)));
  }

  /** Health state and counters. */
  /**
   * What the signer did (null without `signer`): the size last signed into checkpoint.note,
   * notes written, and why the last signature failed (a periodic or sync() signature that
   * fails does not fail its call; checkpoint() and close() throw it).
   */
  signerStatus() {
    const s = this.#call((l) => l.signerStatus());
    if (s === undefined || s === null) return null;
    return { signedSize: s.signedSize === undefined || s.signedSize === null ? null : num(s.signedSize), notesWritten: num(s.notesWritten), lastError: s.lastError ?? null };
  }

  health() {
    const h = this.#call((l) => l.health());
    const out = {};
    for (const [k, v] of Object.entries(h)) out[k] = typeof v === "bigint" ? num(v) : v;
    out.lastError ??= null;
    return out;
  }

  /** Writes and syncs everything, writes head.checkpoint, releases the lease and closes. */
  async close() {
    const head = checkpoint(this.#call((l) => l.close()));
    this.#closed = true;
    this.#log[Symbol.dispose]?.();
    return head;
  }

  /** `await using trail = await Trail.open(dir)` closes it at the end of the scope. */
  async [Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]() {
    if (!this.#closed) await this.close();
  }
}

let pure;
async function pureVerify() {
  pure ??= instance({});
  return (await pure).verify;
}

/** Parses a checkpoint in its text or JSON form. */
export async function parseCheckpoint(text) {
  const v = await pureVerify();
  try {
    return checkpoint(v.parseCheckpoint(text));
  } catch (e) {
    if (e && typeof e.payload === "string") throw new InvalidArgumentError(e.payload);
    throw e;
  }
}

/** The text form of a checkpoint (what `evident verify --checkpoint FILE` reads). */
export async function checkpointText(c) {
  return (await pureVerify()).checkpointText(witCheckpoint(c));
}

function proofCall(f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e.payload === "string") throw new ProofError(e.payload);
    throw e;
  }
}

/** Checks an inclusion bundle offline, with nothing but its text; throws ProofError naming what fails. */
export async function checkBundle(text) {
  const v = await pureVerify();
  const r = proofCall(() => v.checkBundle(String(text)));
  return {
    origin: r.origin,
    treeSize: num(r.treeSize),
    root: r.root,
    kind: r.kind,
    seq: num(r.seq),
    timestamp: r.timestamp,
    payloadHash: r.payloadHash,
    payload: r.payload ?? null,
  };
}

/** Checks a consistency proof; throws ProofError naming what fails. */
export async function checkConsistency(text) {
  const v = await pureVerify();
  const r = proofCall(() => v.checkConsistency(String(text)));
  return { origin: r.origin, oldSize: num(r.oldSize), oldRoot: r.oldRoot, newSize: num(r.newSize), newRoot: r.newRoot };
}

// The error classes: every WIT `error` case is an Error subclass with a readable message
// (never "[object Object]"), `.tag` (the WIT case) and, where the trail knows it, `.location`.

/** Where something is: a file of the trail, a segment number, a byte offset, a seq. */
function location(l) {
  if (!l) return { file: null, segment: null, offset: null, seq: null };
  const n = (v) => (v === undefined || v === null ? null : Number(v));
  return { file: l.file ?? null, segment: n(l.segment), offset: n(l.offset), seq: n(l.seq) };
}

/** Base class of every error the trail reports. */
export class EvidentError extends Error {
  constructor(message, tag = "error", location = null) {
    super(message);
    this.name = new.target.name;
    /** The WIT error case (`io`, `corrupt`, `too-large`, ...). */
    this.tag = tag;
    /** Where, when the trail knows it: `{ file, segment, offset, seq }` (each may be null). */
    this.location = location;
  }
}

/** An IO operation failed: `.op` (write, sync, read...), `.kind` (not-found, no-space, ...). */
export class IoError extends EvidentError {
  constructor(message, op, kind, location) {
    super(message, "io", location);
    this.op = op;
    this.kind = kind;
  }
}

/** Data on disk is damaged or was changed; `.location` names the first bad place. */
export class CorruptionError extends EvidentError {
  constructor(message, location, tag = "corrupt") {
    super(message, tag, location);
  }
}
/** The last segment ends in a torn write and the recovery mode forbids cutting it. */
export class TornTailError extends CorruptionError {}
/** The trail holds fewer records than a checkpoint says it held. */
export class BehindCheckpointError extends CorruptionError {}
/** The trail's record at a checkpoint's seq has another hash, or another log id. */
export class CheckpointMismatchError extends CorruptionError {}

/** A payload larger than the configured maximum; `.length` is its size in bytes. */
export class TooLargeError extends EvidentError {
  constructor(length) {
    super(`payload of ${length} bytes is larger than the trail's maxPayload`, "too-large");
    this.length = length;
  }
}
/** The trail is failed (a sync failed and re-verification has not succeeded), or refused a file. */
export class FailedError extends EvidentError {
  constructor(message, options) {
    super(message, "failed");
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
/** The trail was closed. */
export class ClosedError extends EvidentError {
  constructor(message = "the trail is closed") {
    super(message, "closed");
  }
}
/** An argument was not acceptable (bad hex, a bad option, bad base64...). */
export class InvalidArgumentError extends EvidentError {
  constructor(message) {
    super(message, "invalid-argument");
  }
}
/** Another writer holds the trail (its LOCK lease), or took it from this one. */
export class LockedError extends EvidentError {
  constructor(message) {
    super(message, "locked");
  }
}

/** A proof bundle or consistency proof did not check; the message names what fails (and the line). */
export class ProofError extends EvidentError {
  constructor(message) {
    super(message, "proof");
  }
}

const CORRUPTION = {
  corrupt: CorruptionError,
  "torn-tail": TornTailError,
  "behind-checkpoint": BehindCheckpointError,
  "checkpoint-mismatch": CheckpointMismatchError,
};

/** The EvidentError for a WIT `error` value (`{ tag, val }`). */
export function fromWit(err) {
  const { tag, val } = err ?? {};
  if (tag === "io") return new IoError(val.message, val.op, val.kind, location(val.location));
  if (tag in CORRUPTION) {
    const e = new CORRUPTION[tag](val.message, location(val.location), tag);
    return e;
  }
  if (tag === "too-large") return new TooLargeError(Number(val));
  if (tag === "failed") return new FailedError(String(val));
  if (tag === "closed") return new ClosedError();
  if (tag === "invalid-argument") return new InvalidArgumentError(String(val));
  if (tag === "locked") return new LockedError(String(val));
  return new EvidentError(`${tag}: ${JSON.stringify(val, (_, x) => (typeof x === "bigint" ? String(x) : x))}`, String(tag));
}

/** Runs `f`; a component error (jco throws it with `.payload`) becomes an EvidentError. */
export function wrap(f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e === "object" && "payload" in e && e.payload && typeof e.payload === "object" && "tag" in e.payload) {
      throw fromWit(e.payload);
    }
    throw e;
  }
}

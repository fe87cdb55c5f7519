// Types of @evident/trail. The component's own generated types (jco) are in
// ../dist/component/interfaces/*.d.ts; these describe the wrapper.

/** "Trail `logId` holds `seq` records and record `seq` has chain hash `hash`". */
export interface Checkpoint {
  logId: string;
  seq: number;
  hash: string;
}

/** What an append gets back once it is acknowledged. */
export interface Receipt {
  seq: number;
  /** ns since the Unix epoch (raised to the previous record's if earlier). */
  timestamp: bigint;
  hash: string;
  /** Whether an fsync covering the record succeeded before the acknowledgement. */
  durable: boolean;
}

/** One record read back. */
export interface Entry {
  seq: number;
  timestamp: bigint;
  payload: Uint8Array;
  hash: string;
  /** The payload as UTF-8. */
  text(): string;
  /** The payload parsed as JSON (an audit event is an object). */
  json(): any;
}

export interface Location {
  file: string | null;
  segment: number | null;
  offset: number | null;
  seq: number | null;
}

export interface Health {
  state: "healthy" | "degraded" | "failed";
  consecutiveFailures: number;
  totalFailures: number;
  writeFailures: number;
  syncFailures: number;
  records: number;
  bytes: number;
  fsyncs: number;
  batches: number;
  maxBatch: number;
  lastError: string | null;
  directorySync: boolean;
}

export interface OpenReport {
  logId: string;
  created: boolean;
  segments: number;
  head: Checkpoint;
  /** Human-readable: clean end, a torn tail cut (file, offset, bytes)... */
  tail: string;
  truncated: boolean;
}

type U64 = number | bigint;

export interface TrailOptions {
  /** Rotate before a segment would exceed this size (default 64 MiB). */
  segmentBytes?: U64;
  /** "always" (default: acknowledged after the covering fsync), "os", or an interval. */
  durability?: "always" | "os" | { intervalMs: U64 };
  recoveryMode?: "tolerate-torn-tail" | "absolute-consistency";
  /** Largest payload accepted (default 1 MiB, at most 16 MiB - 1). */
  maxPayload?: number;
  /** Reserve each segment's full size when it is created (default true). */
  preallocate?: boolean;
  /** The log id of a new trail (32 hex digits; default random). */
  logId?: string;
  /** The writer lease in ms (default 10000). */
  leaseMs?: U64;
  /** A label shown to writers refused with LockedError. */
  holder?: string;
  /**
   * The first line of the trail's C2SP checkpoints, set when the trail is created (default
   * `evident/<log id hex>`); another one for an existing trail throws InvalidArgumentError.
   */
  origin?: string;
  /** Keep checkpoint.note signed with a log key (the trail's origin is the key's name). */
  signer?: SignerOptions;
}

/**
 * A log signing key (`key`, the private key text, or `keyFile`, a file only its owner can
 * read, as `evident keygen -o` writes it) and the host path of its never-sign-a-fork record
 * (default `<keyFile>.signed`, else `<trail dir>.signed`: keep it outside the trail directory).
 */
export interface SignerOptions {
  key?: string;
  keyFile?: string;
  record?: string;
  /** Sign at most this often while records arrive (default 1000 ms). */
  intervalMs?: U64;
}

/** What the signer did since the trail opened. */
export interface SignerStatus {
  /** The tree size of the last checkpoint signed into checkpoint.note. */
  signedSize: number | null;
  notesWritten: number;
  /** Why the last signature failed, until one succeeds (a refusal names both roots). */
  lastError: string | null;
}

export interface QueryOptions {
  fromSeq?: U64;
  toSeq?: U64;
  /** ns since the epoch, inclusive. */
  since?: U64;
  /** ns since the epoch, exclusive. */
  until?: U64;
  /** `gen_ai.agent.id`. */
  agent?: string;
  limit?: number;
  /** The last `limit` matching records (still in seq order). */
  newest?: boolean;
}

export interface QueryPage {
  entries: Entry[];
  /** A checkpoint at the last record read: verify proves the entries chain to it. */
  head: Checkpoint | null;
  segmentsRead: number;
}

/** A Uint8Array (or other view) as is, a string as UTF-8, an object as JSON. */
export type Payload = Uint8Array | ArrayBufferView | ArrayBuffer | string | Record<string, unknown>;

export type Decision = "allow" | "deny" | "modify" | "audit" | "warn";
export declare const DECISIONS: Decision[];

interface EventBase {
  /** `gen_ai.agent.id` */
  agentId: string;
  /** Request or trace id. */
  correlationId: string;
}
export interface ExecRequest extends EventBase {
  kind: "exec.request"; machine: string; argv: string[]; policy?: string; stdinBytes?: number; timeoutMs?: number;
}
export interface ExecStarted extends EventBase { kind: "exec.started"; pid: number }
export interface ExecWarning extends EventBase { kind: "exec.warning"; warning: string; bytes?: number }
export interface ExecExit extends EventBase {
  kind: "exec.exit"; code?: number; signal?: number; durationMs: number; stdoutBytes?: number; stderrBytes?: number; truncated?: boolean;
}
export interface ExecDenied extends EventBase { kind: "exec.denied"; reason: string; policy?: string }
export interface ToolCall extends EventBase {
  kind: "tool.call"; toolName: string; callId: string; operation?: string; decision: Decision; policy?: string;
  anomalies?: string[]; latencyMs?: number; upstreamStatus?: number; arguments?: unknown; argumentsHash?: string;
}
export interface QueryEvent extends EventBase {
  kind: "query"; queryId: string; parameters?: unknown; resultHash: string; confidence?: number; assertions?: string[];
}
export interface Custom extends EventBase { kind: "custom"; name: string; data?: unknown }
/** A typed audit event (the schema of the Rust `AuditEvent`), tagged by `kind`. */
export type AuditEvent = ExecRequest | ExecStarted | ExecWarning | ExecExit | ExecDenied | ToolCall | QueryEvent | Custom;

/** The canonical JSON of an event (the Rust adapter's bytes). */
export declare function eventJson(event: AuditEvent): Uint8Array;
/** The event as a JSON object in schema order. */
export declare function eventObject(event: AuditEvent): Record<string, unknown>;
/** An event object read back (`entry.json()`) in the camelCase form. */
export declare function parseEvent(obj: Record<string, unknown>): AuditEvent;
export declare function payloadBytes(payload: Payload): Uint8Array;

export declare class Trail {
  private constructor();
  /** Opens (or creates) the trail in directory `dir` (preopened for this trail only), running crash recovery. */
  static open(dir: string, options?: TrailOptions): Promise<Trail>;
  readonly path: string;
  readonly closed: boolean;
  readonly openReport: OpenReport;
  append(payload: Payload, options?: { timestamp?: U64 }): Promise<Receipt>;
  appendEvent(event: AuditEvent, options?: { timestamp?: U64 }): Promise<Receipt>;
  appendBatch(payloads: Iterable<Payload>, options?: { timestamps?: Iterable<U64> }): Promise<Receipt[]>;
  sync(): Promise<Checkpoint>;
  head(): Checkpoint;
  checkpoint(): Promise<Checkpoint>;
  read(fromSeq?: U64, max?: number): Promise<Entry[]>;
  queryPage(q?: QueryOptions): Promise<QueryPage>;
  query(q?: QueryOptions & { pageSize?: number }): AsyncGenerator<Entry, void, undefined>;
  verify(): Promise<Checkpoint>;
  /** The C2SP checkpoint note of the durable head's tree (unsigned). */
  checkpointNote(): string;
  /** An inclusion bundle (c2sp.org/tlog-proof@v1) for record `seq`. */
  prove(seq: number | bigint, options?: { size?: number | bigint; includePayload?: boolean }): Promise<string>;
  /** A consistency proof from `oldCheckpoint` (a checkpoint note) to the durable head. */
  proveConsistency(oldCheckpoint: string): Promise<string>;
  /** What the signer did (null without the `signer` option). */
  signerStatus(): SignerStatus | null;
  health(): Health;
  close(): Promise<Checkpoint>;
  [Symbol.asyncDispose](): Promise<void>;
}

export declare function parseCheckpoint(text: string): Promise<Checkpoint>;
export declare function checkpointText(c: Checkpoint): Promise<string>;
/** What a checked inclusion bundle proves. */
export interface ProvenRecord {
  origin: string;
  treeSize: number;
  root: string;
  kind: number;
  seq: number;
  timestamp: bigint;
  payloadHash: string;
  payload: Uint8Array | null;
}
/** What a checked consistency proof proves. */
export interface ProvenConsistency {
  origin: string;
  oldSize: number;
  oldRoot: string;
  newSize: number;
  newRoot: string;
}
/** Checks an inclusion bundle offline; rejects with ProofError naming what fails. */
export declare function checkBundle(text: string): Promise<ProvenRecord>;
/** Checks a consistency proof; rejects with ProofError naming what fails. */
export declare function checkConsistency(text: string): Promise<ProvenConsistency>;

export declare class EvidentError extends Error {
  /** The WIT error case: io, corrupt, torn-tail, behind-checkpoint, checkpoint-mismatch, too-large, failed, closed, invalid-argument, locked. */
  readonly tag: string;
  readonly location: Location | null;
}
export declare class IoError extends EvidentError {
  readonly op: string;
  readonly kind: "not-found" | "no-space" | "permission-denied" | "unsupported" | "other";
  readonly location: Location;
}
export declare class CorruptionError extends EvidentError {
  readonly location: Location;
}
export declare class TornTailError extends CorruptionError {}
export declare class BehindCheckpointError extends CorruptionError {}
export declare class CheckpointMismatchError extends CorruptionError {}
export declare class TooLargeError extends EvidentError {
  readonly length: number;
}
export declare class FailedError extends EvidentError {}
export declare class ClosedError extends EvidentError {}
export declare class InvalidArgumentError extends EvidentError {}
export declare class LockedError extends EvidentError {}
/** A proof bundle or consistency proof did not check. */
export declare class ProofError extends EvidentError {}
/** The EvidentError for a raw WIT error value `{ tag, val }`. */
export declare function fromWit(err: { tag: string; val?: unknown }): EvidentError;

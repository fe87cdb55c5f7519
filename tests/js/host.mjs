// Runs the evident-wasi component under Node through jco and @bytecodealliance/preview2-shim:
// the JavaScript counterpart of tests/src/wasm.rs. tests/tests/js_host.rs drives it.
//
//   node host.mjs <transpiled-dir> [<data-dir>]
//
// <transpiled-dir> holds the output of
//   jco transpile evident_wasi.wasm --instantiation async --name evident -o <transpiled-dir>
// (`--instantiation async` makes the output take its WASI imports from us, so it needs no
// node_modules next to it, and lets every instance get its own preopens). <data-dir> (a fresh
// temporary directory when omitted) is preopened as `/data`; the trail is written to
// <data-dir>/trail, a deliberately corrupted one to <data-dir>/corrupt.
//
// Prints one JSON line (the summary) on stdout; exits 1 on the first failed check.

import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const LOG_ID = "0123456789abcdef0123456789abcdef";
const BATCH = 250;
const HEADER_LEN = 128; // segment header
const RECORD_HEADER_LEN = 56;

const [, , transpiledArg, dataArg] = process.argv;
if (!transpiledArg) {
  console.error("usage: node host.mjs <transpiled-dir> [<data-dir>]");
  process.exit(2);
}
const transpiled = resolve(transpiledArg);
const dataDir = resolve(dataArg ?? mkdtempSync(join(tmpdir(), "evident-js-")));
mkdirSync(dataDir, { recursive: true });

// --- checks -----------------------------------------------------------------------------------

let current = "setup";
class CheckFailed extends Error {}
function check(cond, what, detail) {
  if (!cond) {
    throw new CheckFailed(`${current}: ${what}${detail === undefined ? "" : ` (${show(detail)})`}`);
  }
}
function eq(actual, expected, what) {
  check(show(actual) === show(expected), `${what}: expected ${show(expected)}, got ${show(actual)}`);
}
function show(v) {
  return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? `bytes[${x.length}]` : x));
}
/** Runs `f`, which must throw a component error; returns its payload (`{ tag, val }`). */
function throws(f, what) {
  try {
    f();
  } catch (e) {
    check(e && Object.prototype.hasOwnProperty.call(e, "payload"), `${what}: threw without a payload`, String(e));
    return e.payload;
  }
  check(false, `${what}: did not throw`);
}
const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s) => enc.encode(s);
const segmentNames = (dir) => readdirSync(dir).filter((n) => n.endsWith(".evseg")).sort();
const num = (b) => (typeof b === "bigint" && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);

// --- the component ----------------------------------------------------------------------------

function findModule(dir) {
  const named = join(dir, "evident.js");
  if (existsSync(named)) return named;
  const js = readdirSync(dir).filter((n) => n.endsWith(".js"));
  if (js.length !== 1) {
    throw new Error(`${dir}: expected evident.js (jco transpile --name evident), found ${show(js)}`);
  }
  return join(dir, js[0]);
}
const modulePath = findModule(transpiled);
const { instantiate } = await import(pathToFileURL(modulePath).href);
if (typeof instantiate !== "function") {
  throw new Error(`${modulePath} exports no instantiate(): transpile with --instantiation async`);
}
const coreModules = new Map();
async function getCoreModule(name) {
  if (!coreModules.has(name)) {
    coreModules.set(name, WebAssembly.compile(readFileSync(join(transpiled, name))));
  }
  return coreModules.get(name);
}
/** A fresh instance of the component whose WASI filesystem sees only `preopens`. */
async function newInstance(preopens) {
  const shim = new WASIShim({ sandbox: { preopens } });
  return instantiate(getCoreModule, shim.getImportObject());
}

// --- the run ----------------------------------------------------------------------------------

const summary = { data_dir: dataDir, module: modulePath, log_id: LOG_ID, observations: {} };
const started = process.hrtime.bigint();
try {
  const a = await newInstance({ "/data": dataDir });
  const { Log } = a.trail;
  const opts = { segmentBytes: 4096n, logId: LOG_ID };

  current = "errors";
  eq(throws(() => Log.open("/elsewhere/trail", opts), "open outside the preopen").tag, "invalid-argument", "outside the preopen");
  eq(throws(() => Log.open("/data/../x", opts), "open with ..").tag, "invalid-argument", "`..`");
  eq(throws(() => Log.open("/data/bad-id", { ...opts, logId: "xyz" }), "bad log id").tag, "invalid-argument", "bad log id");

  current = "open";
  const log = Log.open("/data/trail", opts);
  const report = log.openReport();
  eq(report.created, true, "created");
  eq(report.logId, LOG_ID, "log id");
  eq(report.head.seq, 0n, "empty head");

  current = "append";
  const r1 = log.append(bytes("first"));
  eq([r1.seq, r1.durable], [1n, true], "first receipt");
  check(typeof r1.timestamp === "bigint" && r1.timestamp > 0n, "u64 timestamp arrives as a BigInt", r1);
  check(/^[0-9a-f]{64}$/.test(r1.hash), "hash is 64 hex digits", r1.hash);
  const r2 = log.appendAt(bytes("second"), 5n);
  eq(r2.seq, 2n, "append-at seq");
  check(r2.timestamp >= r1.timestamp, "timestamps never go backwards", [r1.timestamp, r2.timestamp]);

  current = "append-batch";
  const payloads = Array.from({ length: BATCH }, (_, n) => bytes(`record ${n}`));
  const rs = log.appendBatch(payloads);
  eq(rs.length, BATCH, "receipts");
  rs.forEach((r, n) => check(r.seq === BigInt(n + 3) && r.durable, `receipt ${n}`, r));
  const tooBig = throws(() => log.append(new Uint8Array(2 << 20)), "oversized append");
  eq(tooBig, { tag: "too-large", val: BigInt(2 << 20) }, "too-large payload");
  const total = BigInt(BATCH + 2);

  current = "sync/head";
  const head = log.sync();
  eq(head, { logId: LOG_ID, seq: total, hash: rs.at(-1).hash }, "sync");
  eq(log.head(), head, "head");

  current = "read";
  const all = log.read(1n, 10_000);
  eq(all.length, Number(total), "entries");
  eq(dec.decode(all[0].payload), "first", "payload 1");
  eq(dec.decode(all[1].payload), "second", "payload 2");
  eq(all[1].timestamp, r2.timestamp, "timestamp 2");
  all.forEach((e, i) => check(e.seq === BigInt(i + 1), `seq of entry ${i}`, e.seq));
  for (let n = 0; n < BATCH; n++) {
    const e = all[n + 2];
    check(dec.decode(e.payload) === `record ${n}` && e.hash === rs[n].hash, `entry ${n + 3}`, e);
  }
  const some = log.read(100n, 5);
  eq(some.map((e) => e.seq), [100n, 101n, 102n, 103n, 104n], "read(100, 5)");
  eq(some[0].hash, all[99].hash, "hash of 100");
  eq(log.read(total + 1n, 10).length, 0, "read past the end");

  current = "verify/health";
  eq(log.verify(), head, "verify");
  const health = log.health();
  eq(health.state, "healthy", "state");
  eq(health.records, total, "records");
  check(health.fsyncs >= 3n, "fsyncs counted", health.fsyncs);
  summary.observations.trail_health = health;
  summary.observations.directory_sync_subdir = health.directorySync;

  current = "checkpoint";
  const cp = log.checkpoint();
  eq(cp, head, "checkpoint");
  const text = readFileSync(join(dataDir, "trail", "head.checkpoint"), "utf8");
  eq(a.verify.parseCheckpoint(text), cp, "parse-checkpoint of head.checkpoint");
  // head.checkpoint is the checkpoint's four lines and (format 2) the tree root line.
  const fourLines = text.split("\n").slice(0, 4).join("\n") + "\n";
  check(/^root [0-9a-f]{64}\n$/.test(text.slice(fourLines.length)), "head.checkpoint ends with the root line", text);
  eq(a.verify.checkpointText(cp), fourLines, "checkpoint-text");
  check(typeof throws(() => a.verify.parseCheckpoint("not a checkpoint"), "bad checkpoint text") === "string", "parse error is a string");

  current = "locked";
  // One writer per trail: a second instance (same host) is refused while the first holds it.
  const rival = await newInstance({ "/data": dataDir });
  const refused = throws(() => rival.trail.Log.open("/data/trail", opts), "second writer");
  eq(refused.tag, "locked", "second writer refused");
  check(typeof refused.val === "string" && refused.val.includes("component"), "locked names the holder", refused);

  current = "close";
  eq(log.close(), head, "close");
  eq(throws(() => log.append(bytes("after close")), "append after close").tag, "closed", "after close");
  const segments = segmentNames(join(dataDir, "trail"));
  check(segments.length >= 3, "4 KiB segments rotated", segments);
  summary.first_head = head;

  current = "reopen";
  const b = await newInstance({ "/data": dataDir });
  const log2 = b.trail.Log.open("/data/trail", opts);
  const rep2 = log2.openReport();
  eq(rep2.created, false, "created");
  eq(rep2.head, head, "head after reopen");
  const again = log2.append(bytes("again"));
  eq(again.seq, total + 1n, "append after reopen");
  const finalHead = log2.close();
  eq(finalHead, { logId: LOG_ID, seq: total + 1n, hash: again.hash }, "final head");
  summary.head = finalHead;
  summary.records = finalHead.seq;
  summary.segments = segmentNames(join(dataDir, "trail"));
  summary.open_report = rep2;

  current = "verify-segments";
  const trailDir = join(dataDir, "trail");
  const files = summary.segments.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(trailDir, name))) }));
  const vr = b.verify.verifySegments([...files].reverse(), [head, finalHead]);
  eq([vr.records, vr.segments, vr.firstSeq], [total + 1n, BigInt(files.length), 1n], "report");
  eq(vr.head, finalHead, "report head");
  eq(vr.checkpointsVerified.length, 2, "checkpoints verified");
  // Streaming verification, in 1000-byte chunks.
  const session = new b.verify.Session([finalHead]);
  files.forEach((f, i) => {
    session.beginSegment(f.name, BigInt(f.bytes.length), i === files.length - 1);
    for (let o = 0; o < f.bytes.length; o += 1000) session.push(f.bytes.subarray(o, o + 1000));
    session.endSegment();
  });
  eq(session.finish().head, finalHead, "session head");
  // A changed byte is reported with its file.
  const k = Math.floor(files.length / 2);
  const changed = files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) }));
  changed[k].bytes[200] ^= 0x10;
  const vbad = throws(() => b.verify.verifySegments(changed, []), "verify-segments of changed bytes");
  eq(vbad.tag, "corrupt", "tag");
  eq(vbad.val.location.file, files[k].name, "file named");
  summary.verify_segments = { records: vr.records, segments: vr.segments, corrupt_file: vbad.val.location.file };

  current = "corrupt";
  // A second trail, then one payload byte flipped in a sealed middle segment.
  const c = await newInstance({ "/data": dataDir });
  const clog = c.trail.Log.open("/data/corrupt", opts);
  for (let n = 0; n < 10; n++) {
    clog.appendBatch(Array.from({ length: 10 }, (_, m) => new Uint8Array(60).fill(n * 10 + m)));
  }
  clog.close();
  const corruptDir = join(dataDir, "corrupt");
  const csegs = segmentNames(corruptDir);
  check(csegs.length >= 3, "several segments", csegs);
  const middle = csegs[Math.floor(csegs.length / 2)];
  const path = join(corruptDir, middle);
  const buf = readFileSync(path);
  buf[HEADER_LEN + RECORD_HEADER_LEN + 3] ^= 0x01;
  writeFileSync(path, buf);
  const d = await newInstance({ "/data": dataDir });
  const dlog = d.trail.Log.open("/data/corrupt", opts); // open reads only the last segment(s)
  const bad = throws(() => dlog.verify(), "verify of a corrupt trail");
  eq(bad.tag, "corrupt", "error tag");
  eq(bad.val.location.file, middle, "location.file");
  eq(bad.val.location.offset, BigInt(HEADER_LEN), "location.offset");
  eq(throws(() => dlog.read(1n, 1000), "read across the corrupt segment").tag, "corrupt", "read error tag");
  summary.corrupt = { file: middle, segments: csegs, error: bad };

  current = "preopen-root";
  // A trail whose directory *is* the preopen: the shim cannot list or sync the preopen
  // descriptor itself, so the component opens "." under it for that.
  const rootDir = join(dataDir, "root");
  mkdirSync(rootDir, { recursive: true });
  const e = await newInstance({ "/root": rootDir });
  const rlog = e.trail.Log.open("/root", opts);
  eq(rlog.append(bytes("at the root")).seq, 1n, "append at a preopen root");
  summary.observations.preopen_root = { opened: true, directory_sync: rlog.health().directorySync, head: rlog.close() };

  current = "done";
  summary.ok = true;
  summary.millis = Number((process.hrtime.bigint() - started) / 1_000_000n);
  process.stdout.write(JSON.stringify(summary, (_, x) => (typeof x === "bigint" ? num(x) : x)) + "\n");
  process.exit(0);
} catch (e) {
  const msg = e instanceof CheckFailed ? e.message : `${current}: ${e?.stack ?? e}${e?.payload ? ` payload ${show(e.payload)}` : ""}`;
  console.error(`js host FAILED: ${msg}`);
  process.stdout.write(JSON.stringify({ ok: false, failed: msg, data_dir: dataDir }) + "\n");
  process.exit(1);
}

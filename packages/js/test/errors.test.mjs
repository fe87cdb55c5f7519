// Every error class, each raised by a real fault on real files; never "[object Object]".
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync, truncateSync, statSync, unlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as ev from "@evident/trail";
import { Trail } from "@evident/trail";
import { tempDir, segments } from "./helpers.mjs";

/** Awaits `p`, which must reject with `cls`; returns the error. */
async function fails(p, cls) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e?.constructor?.name}: ${e}`);
    assert.ok(e instanceof ev.EvidentError && e instanceof Error);
    assert.ok(!String(e).includes("[object Object]"), String(e));
    assert.equal(e.name, cls.name);
    return e;
  }
  assert.fail(`did not reject (expected ${cls.name})`);
}

test("hierarchy", () => {
  for (const c of [ev.IoError, ev.CorruptionError, ev.TooLargeError, ev.FailedError, ev.ClosedError, ev.InvalidArgumentError, ev.LockedError]) {
    assert.ok(c.prototype instanceof ev.EvidentError, c.name);
  }
  for (const c of [ev.TornTailError, ev.BehindCheckpointError, ev.CheckpointMismatchError]) {
    assert.ok(c.prototype instanceof ev.CorruptionError, c.name);
  }
  const unknown = ev.fromWit({ tag: "something-new", val: { x: 1n } });
  assert.ok(unknown instanceof ev.EvidentError && String(unknown).includes("something-new"));
});

test("invalid argument", async (t) => {
  const e = await fails(Trail.open(tempDir(t), { logId: "xyz" }), ev.InvalidArgumentError);
  assert.match(e.message, /log id/);
});

test("too large", async (t) => {
  const trail = await Trail.open(tempDir(t), { maxPayload: 100 });
  const e = await fails(trail.append(new Uint8Array(101)), ev.TooLargeError);
  assert.equal(e.length, 101);
  await fails(trail.appendBatch(["ok", new Uint8Array(101)]), ev.TooLargeError);
  assert.equal(trail.head().seq, 0, "nothing of the batch was written");
  await trail.close();
});

test("closed", async (t) => {
  const trail = await Trail.open(tempDir(t));
  await trail.close();
  for (const call of [() => trail.append("x"), () => trail.sync(), () => trail.verify(), () => trail.read(1, 1), () => trail.checkpoint()]) {
    await fails(call(), ev.ClosedError);
  }
  await fails((async () => trail.head())(), ev.ClosedError);
  await fails((async () => trail.health())(), ev.ClosedError);
});

test("locked names the holder and the host path", async (t) => {
  const dir = tempDir(t);
  const holder = await Trail.open(dir, { holder: "agent-runner-1" });
  const e = await fails(Trail.open(dir), ev.LockedError);
  assert.ok(e.message.includes("agent-runner-1") && e.message.startsWith(dir), e.message);
  await holder.close();
  await (await Trail.open(dir)).close();
});

test("corruption names file and offset", async (t) => {
  const dir = tempDir(t);
  const trail = await Trail.open(dir, { segmentBytes: 4096 });
  await trail.appendBatch(Array.from({ length: 100 }, (_, i) => `record ${i}`.repeat(10)));
  await trail.close();
  const sealed = segments(dir)[1];
  const b = readFileSync(join(dir, sealed));
  b[200] ^= 1;
  writeFileSync(join(dir, sealed), b);
  const again = await Trail.open(dir);
  const e = await fails(again.verify(), ev.CorruptionError);
  assert.equal(e.constructor, ev.CorruptionError);
  assert.equal(e.location.file, sealed);
  assert.equal(typeof e.location.offset, "number");
  assert.equal(typeof e.location.seq, "number");
  assert.ok(String(e).includes(sealed));
  await again.close();
});

async function tenRecords(dir) {
  const trail = await Trail.open(dir, { preallocate: false });
  await trail.appendBatch(Array.from({ length: 10 }, () => "x".repeat(100)));
  await trail.close();
  return join(dir, segments(dir).at(-1));
}

test("torn tail", async (t) => {
  const dir = tempDir(t);
  const seg = await tenRecords(dir);
  unlinkSync(join(dir, "head.checkpoint")); // the crash came before any checkpoint
  truncateSync(seg, statSync(seg).size - 30);
  const e = await fails(Trail.open(dir, { recoveryMode: "absolute-consistency" }), ev.TornTailError);
  assert.equal(e.location.seq, 10);
  const trail = await Trail.open(dir);
  assert.equal(trail.openReport.truncated, true);
  assert.equal(trail.openReport.head.seq, 9);
  await trail.close();
});

test("behind checkpoint", async (t) => {
  const dir = tempDir(t);
  const seg = await tenRecords(dir);
  const size = statSync(seg).size;
  truncateSync(seg, size - (size - 128) / 10); // the last record cut whole
  await fails(Trail.open(dir), ev.BehindCheckpointError);
});

test("checkpoint mismatch", async (t) => {
  const dir = tempDir(t);
  await tenRecords(dir);
  const cp = join(dir, "head.checkpoint");
  const text = readFileSync(cp, "utf8");
  writeFileSync(cp, text.replace(/hash [0-9a-f]{64}/, `hash ${"0".repeat(64)}`));
  await fails(Trail.open(dir), ev.CheckpointMismatchError);
});

test("failed: a directory where a segment belongs", async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, "00000000000000000001.evseg"));
  const e = await fails(Trail.open(dir), ev.FailedError);
  assert.match(e.message, /00000000000000000001\.evseg/);
});

test("io error: the path is a file", async (t) => {
  const f = join(tempDir(t), "file");
  writeFileSync(f, "");
  const e = await fails(Trail.open(f), ev.IoError);
  assert.match(e.message, /not a directory/);
});

test("io error: disk full, then space again", async (t) => {
  const mnt = join(tempDir(t), "mnt");
  mkdirSync(mnt);
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], { encoding: "utf8" });
  assert.equal(m.status, 0, `mount -t tmpfs needs root (the tests run as root): ${m.stderr}`);
  try {
    await diskFull(mnt);
  } finally {
    // Lazily if busy: the shim keeps the preopened directory's descriptor for the process.
    if (spawnSync("umount", [mnt]).status !== 0) spawnSync("umount", ["-l", mnt]);
  }
});

async function diskFull(mnt) {
  const filler = join(mnt, "filler");
  writeFileSync(filler, new Uint8Array(96 << 10));
  const trail = await Trail.open(join(mnt, "t"), { preallocate: false, segmentBytes: 16 << 20 });
  const acked = [];
  let error;
  try {
    for (let i = 0; i < 100; i++) acked.push(await trail.append(randomBytes(16 << 10)));
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ev.IoError, String(error));
  assert.equal(error.kind, "no-space");
  assert.ok(error.op && error.location.file, JSON.stringify(error.location));
  assert.equal(trail.health().state, "degraded");
  assert.ok(acked.length > 0);
  rmSync(filler);
  acked.push(await trail.append("after the disk was full"));
  await trail.close();
  const again = await Trail.open(join(mnt, "t"));
  assert.deepEqual((await again.read(1, 1000)).map((e) => e.hash), acked.map((r) => r.hash));
  await again.verify();
  await again.close();
}

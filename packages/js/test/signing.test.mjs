// The origin and signer options from Node: an origin set at creation and kept, a trail that
// keeps checkpoint.note signed with a key from `evident keygen` (the same bytes the native CLI
// writes), and the refusal to sign a restored backup, naming both roots, never the key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, cpSync, chmodSync, existsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { Trail, BehindCheckpointError, InvalidArgumentError } from "@evident/trail";
import { tempDir, cliOk } from "./helpers.mjs";

const ORIGIN = "example.com/js-audit";
const noteLines = (dir) => readFileSync(join(dir, "checkpoint.note"), "utf8").split("\n");

function keygen(root) {
  const key = join(root, "log.key");
  cliOk(["keygen", "--origin", ORIGIN, "-o", key]);
  return key;
}

test("the origin is set at creation and kept", async (t) => {
  const dir = join(tempDir(t), "trail");
  let trail = await Trail.open(dir, { origin: ORIGIN });
  await trail.append("x");
  assert.deepEqual(trail.checkpointNote().split("\n").slice(0, 2), [ORIGIN, "1"]);
  await trail.close();
  assert.equal(readFileSync(join(dir, "origin"), "utf8"), `${ORIGIN}\n`);
  trail = await Trail.open(dir);
  assert.ok(trail.checkpointNote().startsWith(`${ORIGIN}\n`));
  await trail.close();
  await assert.rejects(Trail.open(dir, { origin: "example.com/other" }), (e) => {
    assert.ok(e instanceof InvalidArgumentError, String(e));
    assert.ok(e.message.includes(ORIGIN) && e.message.includes("example.com/other"), e.message);
    return true;
  });
});

test("a signed trail keeps a note the native CLI writes the same", async (t) => {
  const root = tempDir(t);
  const dir = join(root, "trail");
  const key = keygen(root);
  let trail = await Trail.open(dir, { signer: { keyFile: key } });
  assert.deepEqual(noteLines(dir).slice(0, 2), [ORIGIN, "0"], "signed at open");
  await trail.appendBatch(["a", "b", "c"], { timestamps: [1n, 2n, 3n] });
  await trail.sync();
  assert.deepEqual(noteLines(dir).slice(0, 2), [ORIGIN, "3"], "signed at sync");
  const status = trail.signerStatus();
  assert.deepEqual([status.signedSize, status.lastError], [3, null]);
  assert.ok(status.notesWritten >= 2, JSON.stringify(status));
  await trail.close();
  assert.deepEqual(readFileSync(`${key}.signed`, "utf8").split("\n").slice(0, 2), [ORIGIN, "3"]);
  // The native CLI, same key and record, extends it; signed again from Node for the same head
  // and key, the note is the same bytes (Ed25519 is deterministic).
  cliOk(["append", dir, "--raw", "--key", key], "d\n");
  const nativeNote = readFileSync(join(dir, "checkpoint.note"));
  assert.deepEqual(noteLines(dir).slice(0, 2), [ORIGIN, "4"]);
  unlinkSync(join(dir, "checkpoint.note"));
  trail = await Trail.open(dir, { signer: { keyFile: key } });
  assert.equal(trail.signerStatus().signedSize, 4);
  await trail.close();
  assert.deepEqual(readFileSync(join(dir, "checkpoint.note")), nativeNote);
  trail = await Trail.open(dir);
  assert.equal(trail.signerStatus(), null);
  await trail.close();
});

test("a restored backup is refused naming both roots, never the key", async (t) => {
  const root = tempDir(t);
  const dir = join(root, "trail");
  const keyText = readFileSync(keygen(root), "utf8").trim();
  const signer = { key: keyText, record: join(root, "keep", "signed") };
  let trail = await Trail.open(dir, { signer });
  await trail.appendBatch(["1", "2"]);
  await trail.close();
  const oldRoot = noteLines(dir)[2];
  cpSync(dir, join(root, "backup"), { recursive: true });
  trail = await Trail.open(dir, { signer });
  await trail.appendBatch(["3", "4", "5"]);
  await trail.close();
  const newRoot = noteLines(dir)[2];
  rmSync(dir, { recursive: true });
  cpSync(join(root, "backup"), dir, { recursive: true });
  await assert.rejects(Trail.open(dir, { signer }), (e) => {
    assert.ok(e instanceof BehindCheckpointError, String(e));
    assert.ok(e.message.includes(oldRoot) && e.message.includes(newRoot), e.message);
    assert.ok(e.message.includes(signer.record), e.message);
    assert.ok(!e.message.includes(keyText));
    return true;
  });
  trail = await Trail.open(dir);
  assert.equal(trail.head().seq, 2);
  await trail.close();
});

test("a key file others can read, or a bad key, is refused", async (t) => {
  const root = tempDir(t);
  const key = keygen(root);
  chmodSync(key, 0o644);
  await assert.rejects(Trail.open(join(root, "trail"), { signer: { keyFile: key } }), /group or others/);
  const secret = "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldA==";
  await assert.rejects(Trail.open(join(root, "t2"), { signer: { key: `PRIVATE+KEY+${ORIGIN}+00000000+${secret}` } }), (e) => {
    assert.ok(e instanceof InvalidArgumentError, String(e));
    assert.ok(!e.message.includes(secret), e.message);
    return true;
  });
  assert.ok(!existsSync(join(root, "t2", "checkpoint.note")));
});

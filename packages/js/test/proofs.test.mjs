// Proofs from Node: checkpoint notes, inclusion bundles and consistency proofs, checked in
// Node and by the native CLI, and refused when edited.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Trail, checkBundle, checkConsistency, ProofError, EvidentError } from "@evident/trail";
import { tempDir, cliOk } from "./helpers.mjs";

test("a record is proven and the bundle checks here and with the CLI", async (t) => {
  const root = tempDir(t);
  const dir = join(root, "trail");
  const trail = await Trail.open(dir);
  const rs = await trail.appendBatch(Array.from({ length: 10 }, (_, n) => ({ n })));
  const [origin, size, rootB64] = trail.checkpointNote().trimEnd().split("\n");
  assert.ok(origin.startsWith("evident/"));
  assert.equal(size, "10");
  const bundle = await trail.prove(rs[6].seq);
  const p = await checkBundle(bundle);
  assert.deepEqual([p.seq, p.treeSize, p.origin, p.root], [7, 10, origin, rootB64]);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(p.payload)), { n: 6 });
  const bare = await checkBundle(await trail.prove(7, { includePayload: false }));
  assert.equal(bare.payload, null);
  assert.equal(bare.payloadHash, p.payloadHash);
  assert.equal((await checkBundle(await trail.prove(3, { size: 5 }))).treeSize, 5);
  await assert.rejects(trail.prove(11), EvidentError);
  await trail.close();
  const f = join(root, "r7.proof");
  writeFileSync(f, bundle);
  const checked = cliOk(["check-proof", f]);
  assert.match(checked, /^ok: record seq 7 is in /, checked);
  assert.ok(checked.includes(rootB64) && checked.includes(p.payloadHash), checked);
  assert.equal(cliOk(["prove", dir, "--seq", "7"]), bundle);
});

test("an edited bundle is refused with a ProofError", async (t) => {
  const trail = await Trail.open(join(tempDir(t), "trail"));
  await trail.appendBatch(["a", "b", "c", "d", "e"]);
  const bundle = await trail.prove(4);
  await trail.close();
  for (let i = 0; i < bundle.length; i += 7) {
    const edited = bundle.slice(0, i) + (bundle[i] === "A" ? "B" : "A") + bundle.slice(i + 1);
    await assert.rejects(checkBundle(edited), ProofError, `edit at ${i}`);
  }
  await assert.rejects(checkBundle("not a bundle"), (e) => e instanceof ProofError && e.message.length > 0);
});

test("a later head is proven consistent with an earlier one", async (t) => {
  const trail = await Trail.open(join(tempDir(t), "trail"));
  await trail.appendBatch(["1", "2", "3"]);
  const old = trail.checkpointNote();
  await trail.appendBatch(["4", "5", "6", "7"]);
  const proof = await trail.proveConsistency(old);
  const c = await checkConsistency(proof);
  assert.deepEqual([c.oldSize, c.newSize, c.oldRoot], [3, 7, old.trimEnd().split("\n")[2]]);
  await assert.rejects(checkConsistency(proof.replace(c.newRoot, c.oldRoot)), ProofError);
  await trail.close();
});

// 1 MiB payloads pass as one copy (jco lowers a Uint8Array into guest memory directly). The
// bound is loose for a loaded CI machine; BENCHMARKS.md has the measured figures (bench.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Trail } from "@evident/trail";
import { tempDir } from "./helpers.mjs";

test("1 MiB payloads pass fast", async (t) => {
  const payload = new Uint8Array(randomBytes(1 << 20));
  const trail = await Trail.open(tempDir(t), { durability: "os", preallocate: false });
  const times = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    await trail.append(payload);
    times.push(performance.now() - s);
  }
  const back = await trail.read(1, 5);
  assert.equal(back.length, 5);
  assert.deepEqual(back[4].payload, payload);
  await trail.close();
  times.sort((x, y) => x - y);
  const mbs = payload.length / 1e6 / (times[2] / 1000);
  assert.ok(mbs >= 10, `append: ${mbs.toFixed(1)} MB/s`);
});

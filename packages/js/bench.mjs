// Payload throughput of the JS package (the figures in BENCHMARKS.md):
//
//   node bench.mjs [ROUNDS]      (from a project where @evident/trail is installed)
//
// Appends and reads back 1 MiB random payloads with durability "os" (no fsync in the timing:
// this measures passing payloads, not the disk); median of ROUNDS (default 15).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Trail } from "@evident/trail";

const rounds = Number(process.argv[2] ?? 15);
const payload = new Uint8Array(randomBytes(1 << 20));
const mb = payload.length / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(join(tmpdir(), "evident-bench-"));
try {
  const trail = await Trail.open(dir, { durability: "os", preallocate: false, segmentBytes: 1n << 30n, maxPayload: (16 << 20) - 1 });
  const append = [], read = [], batch = [];
  for (let i = 0; i < rounds; i++) {
    const s = performance.now();
    await trail.append(payload);
    append.push((performance.now() - s) / 1000);
  }
  for (let i = 0; i < 3; i++) {
    const s = performance.now();
    const got = await trail.read(1, rounds);
    if (got.length !== rounds) throw new Error("short read");
    read.push((performance.now() - s) / 1000 / rounds);
  }
  for (let i = 0; i < 3; i++) {
    const s = performance.now();
    await trail.appendBatch(Array(8).fill(payload));
    batch.push((performance.now() - s) / 1000 / 8);
  }
  await trail.close();
  console.log(`js append 1 MiB (list<u8>): median ${(mb / median(append)).toFixed(0)} MB/s over ${rounds}`);
  console.log(`js read ${rounds} x 1 MiB (list<u8>): median ${(mb / median(read)).toFixed(0)} MB/s over 3`);
  console.log(`js appendBatch 8 x 1 MiB: median ${(mb / median(batch)).toFixed(0)} MB/s over 3`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

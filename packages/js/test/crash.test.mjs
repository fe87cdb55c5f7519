// kill -9 a writer process mid-stream: every acknowledged record is in the trail afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Trail, LockedError } from "@evident/trail";
import { tempDir } from "./helpers.mjs";

const LEASE_MS = 300;
const WRITER = fileURLToPath(new URL("./writer.mjs", import.meta.url));

async function openAfterLease(dir) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await Trail.open(dir);
    } catch (e) {
      if (!(e instanceof LockedError) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts the writer, reads `want` acknowledgements, kills it with SIGKILL; returns every acknowledgement it printed. */
function runAndKill(dir, want) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, String(LEASE_MS)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let killed = false;
    child.stderr.on("data", (d) => (err += d));
    child.stdout.on("data", (d) => {
      out += d;
      if (!killed && out.split("\n").length > want) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("close", (code, signal) => {
      if (signal !== "SIGKILL") return reject(new Error(`the writer ended by itself (${code}): ${err}`));
      // Only complete lines: a line cut by the kill was still acknowledged, but not fully printed.
      const lines = out.split("\n").slice(0, -1);
      resolve(lines.map((l) => l.split(" ")).filter((p) => p.length === 2 && p[1].length === 64).map(([s, h]) => [Number(s), h]));
    });
  });
}

test("kill -9 keeps every acknowledged record", async (t) => {
  const dir = tempDir(t);
  for (let round = 0; round < 3; round++) {
    const acked = await runAndKill(dir, 40 + 37 * round);
    const trail = await openAfterLease(dir);
    const bySeq = new Map((await trail.read(1, 100000)).map((e) => [e.seq, e]));
    for (const [seq, hash] of acked) {
      assert.ok(bySeq.has(seq), `round ${round}: acknowledged seq ${seq} lost`);
      assert.equal(bySeq.get(seq).hash, hash);
    }
    assert.deepEqual([...bySeq.keys()], Array.from({ length: bySeq.size }, (_, i) => i + 1), "no gap");
    await trail.verify();
    assert.ok(trail.head().seq >= acked.at(-1)[0]);
    await trail.close();
  }
});

// The native evident CLI reads and verifies what Node wrote, and Node what the CLI wrote.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Trail, checkpointText, eventJson, CorruptionError } from "@evident/trail";
import { tempDir, segments, cli, cliOk } from "./helpers.mjs";

test("the CLI verifies and queries what Node wrote", async (t) => {
  const root = tempDir(t);
  const dir = join(root, "trail");
  const trail = await Trail.open(dir, { segmentBytes: 4096 });
  for (let n = 0; n < 60; n++) {
    await trail.appendEvent({ kind: "tool.call", agentId: `agent-${n % 3}`, correlationId: `req-${n}`, toolName: "web.search", callId: `c${n}`, decision: n % 4 ? "allow" : "deny", latencyMs: n });
  }
  await trail.append(new Uint8Array([0, 1, 2]));
  const shipped = trail.head();
  const final = await trail.close();
  assert.deepEqual(shipped, final);
  const out = cliOk(["verify", dir]);
  assert.ok(out.includes("intact: 61 records") && out.includes(final.hash), out);
  const cp = join(root, "shipped.checkpoint");
  writeFileSync(cp, await checkpointText(shipped));
  assert.match(cliOk(["verify", dir, "--checkpoint", cp]), /checkpoint proven/);
  assert.equal(cliOk(["query", dir, "--agent", "agent-1"]).trim().split("\n").length, 20);
  const stats = cliOk(["stats", dir]);
  assert.ok(stats.includes("tool.call") && stats.includes("deny") && stats.includes("agent-2"), stats);
  const head = JSON.parse(cliOk(["head", dir, "--json"]));
  assert.deepEqual(head, { log_id: final.logId, seq: 61, hash: final.hash });

  const seg = segments(dir)[1];
  const b = readFileSync(join(dir, seg));
  b[300] ^= 4;
  writeFileSync(join(dir, seg), b);
  const r = cli(["verify", dir]);
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.ok((r.stdout + r.stderr).includes(seg));
  const again = await Trail.open(dir);
  await assert.rejects(again.verify(), (e) => e instanceof CorruptionError && e.location.file === seg);
  await again.close();
});

test("Node reads and continues what the CLI wrote", async (t) => {
  const dir = join(tempDir(t), "trail");
  const dec = new TextDecoder();
  const events = Array.from({ length: 30 }, (_, n) => dec.decode(eventJson({ kind: "exec.started", agentId: `a${n % 2}`, correlationId: `r${n}`, pid: 100 + n })));
  cliOk(["append", dir, "--segment-bytes", "4096"], events.join("\n") + "\n");
  const head = JSON.parse(cliOk(["head", dir, "--json"]));
  const trail = await Trail.open(dir, { segmentBytes: 4096 });
  assert.deepEqual(trail.openReport.head, { logId: head.log_id, seq: 30, hash: head.hash });
  assert.equal((await trail.verify()).seq, 30);
  assert.deepEqual((await trail.read(1, 100)).map((e) => e.text()), events, "the CLI stores each line's canonical event");
  const a1 = [];
  for await (const e of trail.query({ agent: "a1" })) a1.push(e.seq);
  assert.deepEqual(a1, Array.from({ length: 15 }, (_, i) => 2 * i + 2));
  assert.equal((await trail.appendEvent({ kind: "exec.started", agentId: "a0", correlationId: "r-js", pid: 7 })).seq, 31);
  await trail.close();
  assert.match(cliOk(["verify", dir]), /intact: 31 records/);
});

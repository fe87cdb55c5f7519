// Every function of Trail, on real files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Trail, parseCheckpoint, checkpointText, eventJson, parseEvent, ClosedError, InvalidArgumentError } from "@evident/trail";
import { tempDir, segments } from "./helpers.mjs";

const LOG_ID = "0123456789abcdef0123456789abcdef";
const a = { agentId: "agent-7", correlationId: "req-42" };
const EVERY_KIND = [
  { kind: "exec.request", ...a, machine: "sandbox-1", argv: ["git", "push"], policy: "git-readonly", stdinBytes: 0, timeoutMs: 30000 },
  { kind: "exec.started", ...a, pid: 4242 },
  { kind: "exec.warning", ...a, warning: "output_truncated", bytes: 1048576 },
  { kind: "exec.exit", ...a, code: 1, durationMs: 1234, stdoutBytes: 10, stderrBytes: 20, truncated: true },
  { kind: "exec.denied", ...a, reason: "network access", policy: "no-net" },
  { kind: "tool.call", ...a, toolName: "web.search", callId: "call_1", operation: "execute_tool", decision: "modify", policy: "pii-redact", anomalies: ["rate_spike"], latencyMs: 87, upstreamStatus: 200, arguments: { q: "x" } },
  { kind: "query", ...a, queryId: "q-9", parameters: { subject: "acct-1" }, resultHash: "ab".repeat(32), confidence: 0.93, assertions: ["as-1", "as-2"] },
  { kind: "custom", ...a, name: "heartbeat", data: { ok: true } },
];

test("open creates, reports, reopens", async (t) => {
  const dir = join(tempDir(t), "trail");
  const trail = await Trail.open(dir, { logId: LOG_ID, segmentBytes: 4096 });
  const rep = trail.openReport;
  assert.equal(rep.created, true);
  assert.equal(rep.logId, LOG_ID);
  assert.equal(rep.head.seq, 0);
  assert.equal(rep.tail, "clean end");
  await trail.close();
  const again = await Trail.open(dir);
  assert.equal(again.openReport.created, false);
  assert.equal(again.openReport.logId, LOG_ID);
  await again.close();
});

test("append takes bytes, strings and objects; numbers and BigInts", async (t) => {
  const trail = await Trail.open(tempDir(t));
  const r1 = await trail.append(new Uint8Array([0, 255, 1]));
  assert.equal(r1.seq, 1);
  assert.equal(typeof r1.seq, "number");
  assert.equal(typeof r1.timestamp, "bigint");
  assert.equal(r1.durable, true);
  assert.match(r1.hash, /^[0-9a-f]{64}$/);
  await trail.append("text é");
  await trail.append({ b: 1, a: [1, 2] });
  await trail.append(new Uint8Array([9, 8, 7]).buffer);
  const r5 = await trail.append("dated", { timestamp: 5 });
  const r6 = await trail.append("dated big", { timestamp: 1n << 62n });
  assert.equal(r6.timestamp, 1n << 62n);
  assert.ok(r5.timestamp >= r1.timestamp, "timestamps never go backwards");
  const got = await trail.read(1, 10);
  assert.deepEqual(got.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...got[0].payload], [0, 255, 1]);
  assert.equal(got[1].text(), "text é");
  assert.deepEqual(got[2].json(), { b: 1, a: [1, 2] });
  assert.deepEqual([...got[3].payload], [9, 8, 7]);
  await assert.rejects(trail.append(42), TypeError);
  await assert.rejects(trail.append("x", { timestamp: -1 }), InvalidArgumentError);
  await trail.close();
});

test("appendEvent: every kind round-trips in the canonical encoding", async (t) => {
  const trail = await Trail.open(tempDir(t));
  for (const e of EVERY_KIND) await trail.appendEvent(e);
  const back = (await trail.read(1, 100)).map((e) => parseEvent(e.json()));
  assert.deepEqual(back, EVERY_KIND);
  await assert.rejects(trail.appendEvent({ kind: "nope", ...a }), TypeError);
  await assert.rejects(trail.appendEvent({ kind: "tool.call", ...a, decision: "maybe" }), TypeError);
  await trail.close();
  assert.equal(
    new TextDecoder().decode(eventJson({ kind: "tool.call", agentId: "a", correlationId: "r", toolName: "t", callId: "c", decision: "allow" })),
    '{"gen_ai.agent.id":"a","correlation.id":"r","kind":"tool.call","gen_ai.tool.name":"t","gen_ai.tool.call.id":"c",' +
      '"gen_ai.operation.name":"execute_tool","gen_ai.security.decision.type":"allow","latency_ms":0}',
  );
});

test("appendBatch", async (t) => {
  const dir = tempDir(t);
  const trail = await Trail.open(dir, { segmentBytes: 4096 });
  await trail.append("first");
  const rs = await trail.appendBatch(Array.from({ length: 250 }, (_, n) => `record ${n}`));
  assert.deepEqual(rs.map((r) => r.seq), Array.from({ length: 250 }, (_, n) => n + 2));
  const dated = await trail.appendBatch(["x", "y"], { timestamps: [10, 20n] });
  assert.deepEqual(dated.map((r) => r.seq), [252, 253]);
  await assert.rejects(trail.appendBatch(["x", "y"], { timestamps: [1] }), InvalidArgumentError);
  assert.deepEqual(await trail.appendBatch([]), []);
  assert.ok(trail.health().maxBatch > 1);
  await trail.close();
  assert.ok(segments(dir).length >= 3, "4 KiB segments rotated");
});

test("head, sync, checkpoint, close; checkpoint text", async (t) => {
  const dir = tempDir(t);
  const trail = await Trail.open(dir, { durability: "os" });
  const r = await trail.append("not yet synced");
  assert.equal(r.durable, false);
  const head = await trail.sync();
  assert.deepEqual(head, { logId: trail.openReport.logId, seq: 1, hash: r.hash });
  assert.deepEqual(trail.head(), head);
  assert.deepEqual(await trail.checkpoint(), head);
  const text = readFileSync(join(dir, "head.checkpoint"), "utf8");
  assert.deepEqual(await parseCheckpoint(text), head);
  // head.checkpoint is the chain checkpoint's text plus the tree root line (format 2).
  const chainText = await checkpointText(head);
  assert.ok(text.startsWith(chainText), text);
  assert.match(text.slice(chainText.length), /^root [0-9a-f]{64}\n$/);
  await assert.rejects(parseCheckpoint("not a checkpoint"), InvalidArgumentError);
  assert.deepEqual(await trail.close(), head);
  assert.equal(trail.closed, true);
  await assert.rejects(trail.append("after close"), ClosedError);
  await assert.rejects(trail.close(), ClosedError);
});

test("durability options", async (t) => {
  const root = tempDir(t);
  for (const [d, durable] of [["always", true], [{ intervalMs: 50 }, false], ["os", false]]) {
    const trail = await Trail.open(join(root, JSON.stringify(d).replace(/\W/g, "")), { durability: d });
    assert.equal((await trail.append("x")).durable, durable, JSON.stringify(d));
    await trail.close();
  }
  await assert.rejects(Trail.open(join(root, "bad"), { durability: "sometimes" }), InvalidArgumentError);
  await assert.rejects(Trail.open(join(root, "bad"), { recoveryMode: "lenient" }), InvalidArgumentError);
});

test("read", async (t) => {
  const trail = await Trail.open(tempDir(t), { segmentBytes: 4096 });
  await trail.appendBatch(Array.from({ length: 300 }, (_, n) => `r${n + 1}`));
  assert.deepEqual((await trail.read(1, 10000)).map((e) => e.seq), Array.from({ length: 300 }, (_, n) => n + 1));
  assert.deepEqual((await trail.read(100, 3)).map((e) => e.text()), ["r100", "r101", "r102"]);
  assert.deepEqual(await trail.read(301, 10), []);
  assert.equal((await trail.read()).length, 300);
  await trail.close();
});

test("query: async iteration over pages, filters, newest", async (t) => {
  const trail = await Trail.open(tempDir(t), { segmentBytes: 4096 });
  for (let n = 1; n <= 100; n++) {
    await trail.appendEvent({ kind: "custom", agentId: n % 2 ? "a1" : "a2", correlationId: `r${n}`, name: "step", data: { n } }, { timestamp: 1000 * n });
  }
  const collect = async (q) => {
    const out = [];
    for await (const e of trail.query(q)) out.push(e);
    return out;
  };
  const a1 = await collect({ agent: "a1", pageSize: 7 });
  assert.deepEqual(a1.map((e) => e.json().data.n), Array.from({ length: 50 }, (_, i) => 2 * i + 1));
  assert.deepEqual((await collect({ since: 10000, until: 15000n })).map((e) => e.seq), [10, 11, 12, 13, 14]);
  assert.deepEqual((await collect({ fromSeq: 95 })).map((e) => e.seq), [95, 96, 97, 98, 99, 100]);
  assert.deepEqual((await collect({ fromSeq: 3, toSeq: 5 })).map((e) => e.seq), [3, 4, 5]);
  assert.deepEqual((await collect({ limit: 3, pageSize: 2 })).map((e) => e.seq), [1, 2, 3]);
  assert.deepEqual((await collect({ newest: true, limit: 3 })).map((e) => e.seq), [98, 99, 100]);
  assert.deepEqual((await collect({ agent: "a2", newest: true, limit: 2 })).map((e) => e.seq), [98, 100]);
  assert.deepEqual(await collect({ agent: "nobody" }), []);
  const page = await trail.queryPage({ agent: "a1", limit: 5 });
  assert.deepEqual(page.entries.map((e) => e.seq), [1, 3, 5, 7, 9]);
  assert.ok(page.head.seq >= 9 && page.segmentsRead >= 1);
  await assert.rejects(collect({ pageSize: 0 }), InvalidArgumentError);
  await trail.close();
});

test("verify and health", async (t) => {
  const trail = await Trail.open(tempDir(t), { segmentBytes: 4096 });
  const rs = await trail.appendBatch(Array.from({ length: 100 }, () => "x".repeat(100)));
  assert.deepEqual(await trail.verify(), { logId: trail.openReport.logId, seq: 100, hash: rs.at(-1).hash });
  const h = trail.health();
  assert.equal(h.state, "healthy");
  assert.equal(h.records, 100);
  assert.equal(typeof h.fsyncs, "number");
  assert.equal(h.lastError, null);
  await trail.close();
});

test("1 MiB payloads pass whole; await using closes", async (t) => {
  const dir = tempDir(t);
  const big = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
  {
    const trail = await Trail.open(dir);
    const r = await trail.append(big);
    assert.deepEqual((await trail.read(r.seq, 1))[0].payload, big);
    await trail[Symbol.asyncDispose]();
    assert.equal(trail.closed, true);
  }
  assert.equal((await parseCheckpoint(readFileSync(join(dir, "head.checkpoint"), "utf8"))).seq, 1);
});

test("many concurrent async callers share one trail", async (t) => {
  const trail = await Trail.open(tempDir(t), { segmentBytes: 16384 });
  const tasks = Array.from({ length: 8 }, async (_, k) => {
    const mine = [];
    for (let i = 0; i < 50; i++) {
      await null; // interleave with the other tasks
      if (i % 10 === 9) mine.push(...(await trail.appendBatch([`${k}:${i}:a`, `${k}:${i}:b`])));
      else mine.push(await trail.append({ task: k, i }));
    }
    return mine;
  });
  const all = (await Promise.all(tasks)).flat();
  const seqs = all.map((r) => r.seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), "every record once, no gap");
  const bySeq = new Map((await trail.read(1, 100000)).map((e) => [e.seq, e.hash]));
  for (const r of all) assert.equal(bySeq.get(r.seq), r.hash);
  assert.equal((await trail.verify()).seq, seqs.length);
  await trail.close();
});

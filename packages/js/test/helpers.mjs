// Shared by the tests: temporary trail directories, the native CLI, segment files.
import { mkdtempSync, readdirSync, rmSync, accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A fresh directory, removed after the test. */
export function tempDir(t, prefix = "evident-js-") {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export const segments = (dir) => readdirSync(dir).filter((n) => n.endsWith(".evseg")).sort();

/** The native CLI: $EVIDENT_CLI, else the workspace's target/debug/evident. */
export function cliPath() {
  const here = dirname(fileURLToPath(import.meta.url));
  const p = process.env.EVIDENT_CLI ?? resolve(here, "../../../target/debug/evident");
  try {
    accessSync(p, constants.X_OK);
  } catch {
    throw new Error(`the native evident CLI is needed for the interop tests and is not at ${p}: cargo build -p evident-native --bin evident, or set EVIDENT_CLI`);
  }
  return p;
}

/** Runs the CLI; returns { status, stdout, stderr }. */
export function cli(args, input = "") {
  const r = spawnSync(cliPath(), args, { input, encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

/** Runs the CLI and insists on exit 0; returns stdout. */
export function cliOk(args, input = "") {
  const r = cli(args, input);
  if (r.status !== 0) throw new Error(`evident ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

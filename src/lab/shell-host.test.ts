import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHELL_HOST_GONE, ShellHost } from "./shell-host.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-shell-host-"));
const host = new ShellHost(["sh", "-s"], join(dir, "jobs"));
after(() => {
  host.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a job gets its stdin, argv and env, and its stdout, stderr and status come back", async () => {
  const r = await host.run(["/bin/sh", "-c", 'cat; printf "%s|%s" "$1" "$ODD" >&2; exit 3', "sh", "it's $HOME"], { ODD: "a b'c\"$x" }, "in\nput", 5000);
  assert.deepEqual(r, { code: 3, timedOut: false, stdout: "in\nput", stderr: "it's $HOME|a b'c\"$x" });
  assert.deepEqual(readdirSync(join(dir, "jobs")), [], "a job's files go once it is done");
});

test("concurrent jobs each get their own result", async () => {
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => host.run(["/bin/sh", "-c", `sleep 0.0${i % 5}; echo ${i}; exit ${i}`], {}, "", 5000)));
  rs.forEach((r, i) => assert.deepEqual([r.code, r.stdout], [i, `${i}\n`]));
});

test("a job that outlives its timeout is sent SIGTERM", async () => {
  const r = await host.run(["/bin/sleep", "5"], {}, "", 100);
  assert.equal(r.timedOut, true);
  assert.equal(r.code, 128 + 15);
});

test("bad jobs are refused before anything runs", async () => {
  await assert.rejects(host.run(["sleep", "1"], {}, "", 1000), /not an absolute path/);
  await assert.rejects(host.run(["/bin/true"], { "A;B": "x" }, "", 1000), /not an environment variable name/);
});

test("a host that ends fails its pending jobs, and the next job starts a new one", async () => {
  const own = new ShellHost(["sh", "-s"], join(dir, "own"));
  // The job's parent is its background group's subshell, whose parent is the host.
  await assert.rejects(own.run(["/bin/sh", "-c", 'kill -9 $(ps -o ppid= -p $PPID); sleep 1'], {}, "", 5000), (err: Error & { code?: string }) => err.code === SHELL_HOST_GONE);
  const r = await own.run(["/bin/echo", "again"], {}, "", 5000);
  assert.equal(r.stdout, "again\n");
  own.close();
});

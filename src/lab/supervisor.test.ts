import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, waitForExit } from "./procs.ts";
import { sleep } from "../lib/sleep.ts";
import { Supervisor, type ProcessStatus } from "./supervisor.ts";
import { until } from "../../test/support/until.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-supervisor-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("restarts a killed process, leaves the others alone, and stops them all", async () => {
  const changes: ProcessStatus[][] = [];
  const s = new Supervisor(
    [
      { name: "a", argv: ["sleep", "30"], log: join(dir, "a.log") },
      { name: "b", argv: ["sh", "-c", 'echo "hello $WHO"; exec sleep 30'], env: { WHO: "b" }, log: join(dir, "b.log") },
    ],
    { onChange: (st) => changes.push(st) },
  );
  s.start();
  const [a, b] = s.status() as [ProcessStatus, ProcessStatus];
  assert.ok(isAlive(a.pid!) && isAlive(b.pid!));

  process.kill(a.pid!, "SIGKILL");
  await until("a restarted", () => s.status()[0]!.starts === 2 && s.status()[0]!.pid !== null);
  const [a2, b2] = s.status() as [ProcessStatus, ProcessStatus];
  assert.notEqual(a2.pid, a.pid);
  assert.deepEqual({ code: a2.lastExit!.code, signal: a2.lastExit!.signal }, { code: null, signal: "SIGKILL" });
  assert.equal(b2.pid, b.pid);
  assert.equal(b2.starts, 1);
  assert.ok(changes.length >= 4, "reported every start and exit");
  await until("b's output", () => readFileSync(join(dir, "b.log"), "utf8").includes("hello b"));
  assert.match(readFileSync(join(dir, "a.log"), "utf8"), /a exited \(SIGKILL\) after \d+ ms; restarting in 200 ms/);

  await s.stop();
  await s.stop();
  assert.ok(!isAlive(a2.pid!) && !isAlive(b2.pid!));
  assert.deepEqual(s.status().map((p) => p.pid), [null, null]);
  await sleep(300);
  assert.deepEqual(s.status().map((p) => p.starts), [2, 1], "no restart after stop");
});

test("backs off exponentially while a process keeps crashing", async () => {
  const s = new Supervisor([{ name: "crash", argv: ["false"], log: join(dir, "crash.log") }], { minBackoffMs: 20, maxBackoffMs: 80 });
  s.start();
  await until("five starts", () => s.status()[0]!.starts >= 5);
  await s.stop();
  const delays = [...readFileSync(join(dir, "crash.log"), "utf8").matchAll(/restarting in (\d+) ms/g)].map((m) => Number(m[1]));
  assert.deepEqual(delays.slice(0, 4), [20, 40, 80, 80]);
});

test("stop kills what a process started, and SIGKILLs what ignores SIGTERM", async () => {
  const s = new Supervisor([{ name: "stubborn", argv: ["sh", "-c", "trap '' TERM; sleep 30 & echo $! >" + join(dir, "child.pid") + "; wait"], log: join(dir, "stubborn.log") }]);
  s.start();
  await until("the child pid", () => {
    try {
      return readFileSync(join(dir, "child.pid"), "utf8").trim() !== "";
    } catch {
      return false;
    }
  });
  const child = Number(readFileSync(join(dir, "child.pid"), "utf8"));
  const leader = s.status()[0]!.pid!;
  const started = Date.now();
  await s.stop(200);
  assert.ok(Date.now() - started < 2000);
  assert.ok(!isAlive(leader));
  assert.ok(await waitForExit([child], 1000), "the leader's child got SIGKILL too");
});

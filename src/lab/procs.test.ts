import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { cmdline, isAlive, listensOnTcp, stopProcesses } from "./procs.ts";

test("listensOnTcp sees a listening socket in a process's namespace", async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  assert.ok(listensOnTcp(process.pid, port));
  await new Promise((resolve) => server.close(resolve));
  assert.ok(!listensOnTcp(process.pid, port));
  assert.ok(!listensOnTcp(2 ** 22 + 1, port), "no such process");
});

test("stopProcesses stops a process group; a reaped or missing pid is not alive", async () => {
  const child = spawn("sh", ["-c", "sleep 30 & wait"], { detached: true, stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  assert.ok(isAlive(child.pid!));
  assert.deepEqual(cmdline(child.pid!), ["sh", "-c", "sleep 30 & wait"]);
  await stopProcesses([child.pid!], 1000);
  await exited;
  assert.ok(!isAlive(child.pid!));
  assert.deepEqual(cmdline(child.pid!), []);
});

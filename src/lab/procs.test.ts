import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { readlinkSync } from "node:fs";
import { cmdline, findProcesses, isAlive, listensOnTcp, startTime, stopProcesses } from "./procs.ts";

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

test("findProcesses finds a process group and a namespace's processes started no earlier than asked", async () => {
  const child = spawn("sh", ["-c", "sleep 30 & wait"], { detached: true, stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const leader = child.pid!;
    const started = startTime(leader)!;
    assert.ok(Number.isInteger(started) && started > 0);
    const inGroup = () => findProcesses([{ pgid: leader, notBefore: started }]);
    for (let i = 0; i < 100 && inGroup().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const group = inGroup();
    assert.ok(group.includes(leader) && group.length === 2, `the shell and its sleep: ${group}`);
    assert.deepEqual(findProcesses([{ pgid: leader, notBefore: started + 1_000_000 }]), [], "none started that late");
    const inode = Number(/^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${leader}/ns/net`))![1]);
    assert.ok(findProcesses([{ netnsInode: inode, notBefore: started }]).includes(leader), "found by its namespace's inode");
    assert.ok(!findProcesses([{ netnsInode: inode, notBefore: started }]).includes(process.pid), "this process started before it");
    assert.equal(startTime(2 ** 22 + 1), undefined, "no such process");
  } finally {
    await stopProcesses([child.pid!], 1000);
    await exited;
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { FakeRunner } from "./fake-runner.ts";
import { createRunner } from "./runner.ts";
import { ensureSysctl } from "./sysctl.ts";

test("a read-only /proc/sys (a container that is not privileged) is an error that says where to set the value", async () => {
  const runner = new FakeRunner(() => ({ code: 255, stderr: 'sysctl: permission denied on key "net.ipv4.ip_forward"' }));
  await assert.rejects(ensureSysctl(runner, "net.ipv4.ip_forward", "1"), (err: Error & { code?: string; hint?: string }) => {
    assert.equal(err.code, "SYSCTL_FAILED");
    assert.match(err.message, /cannot set net\.ipv4\.ip_forward=1: sysctl: permission denied/);
    assert.match(err.hint ?? "", /\/proc\/sys is read-only here .*\(sysctl -w net\.ipv4\.ip_forward=1/);
    return true;
  });
});

test("in a namespace, the value is written when it differs and left alone when it is already set", { skip: process.getuid?.() !== 0 && "needs root" }, async () => {
  const ns = `wsysctl-${process.pid}`;
  execFileSync("ip", ["netns", "add", ns]);
  try {
    const read = () => execFileSync("ip", ["netns", "exec", ns, "sysctl", "-n", "net.ipv4.ip_forward"], { encoding: "utf8" }).trim();
    execFileSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    await ensureSysctl(createRunner(ns), "net.ipv4.ip_forward", "1");
    assert.equal(read(), "1");
    await ensureSysctl(createRunner(ns), "net.ipv4.ip_forward", "1");
    assert.equal(read(), "1");
  } finally {
    spawnSync("ip", ["netns", "del", ns]);
  }
});

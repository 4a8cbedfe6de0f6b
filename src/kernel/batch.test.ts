import { test } from "node:test";
import assert from "node:assert/strict";
import { applyBatch } from "./batch.ts";
import { FakeRunner } from "./fake-runner.ts";

const commands = [
  { argv: ["route", "del", "10.244.9.0/24", "dev", "weft.1"], tag: "route 10.244.9.0/24" },
  { argv: ["neigh", "replace", "10.244.2.0", "lladdr", "0a:58:0a:f4:02:00", "dev", "weft.1", "nud", "permanent"], tag: "node2" },
  { argv: ["route", "replace", "10.244.3.0/24", "via", "10.244.3.0", "dev", "weft.1", "onlink"], tag: "node3" },
];

test("a batch that succeeds is one process with one line per command", async () => {
  const runner = new FakeRunner();
  assert.deepEqual(await applyBatch(runner, "ip", commands), []);
  assert.equal(runner.calls.length, 1);
  assert.deepEqual(runner.calls[0]!.argv, ["ip", "-force", "-batch", "-"]);
  assert.equal(runner.calls[0]!.input, commands.map((c) => c.argv.join(" ")).join("\n") + "\n");
});

test("nothing to do runs nothing", async () => {
  const runner = new FakeRunner();
  assert.deepEqual(await applyBatch(runner, "bridge", []), []);
  assert.equal(runner.calls.length, 0);
});

test("a failed batch is replayed command by command; removing what is gone is success", async () => {
  const runner = new FakeRunner(({ argv }) => {
    if (argv.includes("-batch")) return { code: 2, stderr: "RTNETLINK answers: No such process\n" };
    if (argv[2] === "del") return { code: 2, stderr: "RTNETLINK answers: No such process\n" };
    if (argv.includes("10.244.3.0")) return { code: 2, stderr: "Error: Nexthop has invalid gateway.\n" };
    return {};
  });
  const failures = await applyBatch(runner, "ip", commands);
  assert.equal(runner.calls.length, 1 + commands.length);
  assert.deepEqual(runner.calls.slice(1).map((c) => c.argv), commands.map((c) => ["ip", ...c.argv]));
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.command.tag, "node3");
  assert.match(failures[0]!.message, /"ip route replace 10.244.3.0\/24 .*": Error: Nexthop has invalid gateway\.$/);
});

test("on replay, an add that meets what the batch already made is success", async () => {
  const add = { argv: ["link", "add", "weft.1", "type", "vxlan", "id", "1"], tag: "weft.1" };
  const up = { argv: ["addr", "replace", "10.244.1.0/32", "dev", "weft.1"], tag: "weft.1" };
  const runner = new FakeRunner(({ argv }) => {
    if (argv.includes("-batch")) return { code: 1, stderr: "Error: something\n" };
    if (argv[2] === "add") return { code: 2, stderr: "RTNETLINK answers: File exists\n" };
    return { code: 2, stderr: "Error: something\n" };
  });
  const failures = await applyBatch(runner, "ip", [add, up]);
  assert.deepEqual(failures.map((f) => f.command), [up]);
});

test("an argument with whitespace is refused before anything runs", async () => {
  const runner = new FakeRunner();
  await assert.rejects(applyBatch(runner, "ip", [{ argv: ["link", "del", "a b"], tag: "x" }]), /whitespace/);
  assert.equal(runner.calls.length, 0);
});

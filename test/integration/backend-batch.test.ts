/**
 * applyBatch against real iproute2. A `neigh del` the kernel refuses (the
 * entry went away between read and write) aborts a whole
 * `ip -force -batch` in iproute2 6.1, so the route after it below is applied
 * only thanks to the replay; and a bad command is still pinned on its tag.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { applyBatch } from "../../src/kernel/batch.ts";
import type { IpRoute } from "../../src/kernel/json.ts";
import { createRunner, readJson, type Runner } from "../../src/kernel/runner.ts";
import { sh, Topology } from "./backend-topology.ts";

describe("ip batches against the real kernel", { timeout: 30_000 }, () => {
  const topo = new Topology("batch");
  let runner: Runner;

  before(() => {
    const ns = topo.addNamespace("node");
    sh(`ip -n ${ns} link add eth0 type veth peer name p0
      ip -n ${ns} addr add 192.168.125.101/24 dev eth0
      ip -n ${ns} link set eth0 up
      ip -n ${ns} link set p0 up`);
    runner = createRunner(ns);
  });
  after(() => topo.dispose());

  test("one bad command is reported by its tag; the others are applied; removals of what is gone succeed", async () => {
    const failures = await applyBatch(runner, "ip", [
      { argv: ["neigh", "del", "10.244.9.0", "dev", "eth0"], tag: "gone" },
      { argv: ["route", "replace", "10.244.2.0/24", "via", "192.168.125.102", "dev", "eth0"], tag: "good" },
      { argv: ["neigh", "replace", "10.244.2.0", "lladdr", "0a:58:0a:f4:02:00", "dev", "nope0", "nud", "permanent"], tag: "bad" },
    ]);
    assert.deepEqual(failures.map((f) => f.command.tag), ["bad"]);
    assert.match(failures[0]!.message, /^"ip neigh replace 10\.244\.2\.0 .* dev nope0 nud permanent": Cannot find device "nope0"$/);
    const routes = await readJson<IpRoute[]>(runner, ["ip", "-4", "-j", "route", "show", "10.244.2.0/24"]);
    assert.deepEqual(routes.map((r) => r.gateway), ["192.168.125.102"]);
  });

  test("bridge batches replay the same way", async () => {
    const failures = await applyBatch(runner, "bridge", [
      { argv: ["fdb", "del", "0a:58:0a:f4:09:00", "dev", "eth0", "self"], tag: "gone" },
      { argv: ["fdb", "replace", "0a:58:0a:f4:02:00", "dev", "nope0", "self", "permanent"], tag: "bad" },
    ]);
    assert.deepEqual(failures.map((f) => f.command.tag), ["bad"]);
  });
});

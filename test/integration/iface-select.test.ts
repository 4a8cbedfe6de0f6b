/**
 * Underlay selection in a real namespace with two interfaces: eth0 on the
 * node network (192.168.125.101/24) and eth1, a NAT-like interface
 * (10.0.2.15/24, MTU 1400) holding the default route.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { findUnderlay, UNDERLAY_NOT_FOUND } from "../../src/agent/iface.ts";
import { createRunner, type Runner } from "../../src/kernel/runner.ts";
import { sh, Topology } from "./backend-topology.ts";

describe("underlay interface selection", { timeout: 30_000 }, () => {
  const topo = new Topology("if");
  let runner: Runner;

  before(() => {
    const node = topo.addNamespace("node");
    const peer = topo.addNamespace("peer");
    sh(`ip -n ${node} link add eth0 type veth peer name p0 netns ${peer}
      ip -n ${node} link add eth1 mtu 1400 type veth peer name p1 mtu 1400 netns ${peer}
      ip -n ${node} addr add 192.168.125.101/24 dev eth0
      ip -n ${node} addr add 10.0.2.15/24 dev eth1
      ip -n ${node} link set eth0 up
      ip -n ${node} link set eth1 up
      ip -n ${peer} link set p0 up
      ip -n ${peer} link set p1 up
      ip -n ${node} route add default via 10.0.2.2 dev eth1`);
    runner = createRunner(node);
  });
  after(() => topo.dispose());

  test("chooses as asked", async () => {
    const eth0 = { name: "eth0", ip: "192.168.125.101", mtu: 1500 };
    const eth1 = { name: "eth1", ip: "10.0.2.15", mtu: 1400 };
    assert.deepEqual(await findUnderlay(runner, {}), eth1, "default route");
    assert.deepEqual(await findUnderlay(runner, { iface: ["eth9", "eth0"] }), eth0);
    assert.deepEqual(await findUnderlay(runner, { iface: ["192.168.125.101"] }), eth0);
    assert.deepEqual(await findUnderlay(runner, { ifaceRegex: ["^192\\.168\\."] }), eth0);
    assert.deepEqual(await findUnderlay(runner, { ifaceCanReach: "192.168.125.7" }), eth0);
    assert.deepEqual(await findUnderlay(runner, { ifaceCanReach: "198.51.100.1" }), eth1, "reached by the default route");
    assert.deepEqual(await findUnderlay(runner, { publicIp: "192.168.125.101" }), eth0);
  });

  test("nothing matching names what exists", async () => {
    await assert.rejects(findUnderlay(runner, { iface: ["wlan0"] }), (err: Error & { code?: string }) => {
      assert.equal(err.code, UNDERLAY_NOT_FOUND);
      assert.match(err.message, /^--iface wlan0 matched no non-loopback interface with an IPv4 address; this node has lo \(127\.0\.0\.1\), .*eth0 \(192\.168\.125\.101\)/);
      assert.match(err.message, /eth1 \(10\.0\.2\.15\)/);
      return true;
    });
    await assert.rejects(findUnderlay(runner, { ifaceCanReach: "not-an-ip" }), { code: "INVALID_IP" });
  });
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { WeftError } from "../lib/errors.ts";
import { findScenario, MISMATCH_SWITCH_MTU, SCENARIOS } from "./scenarios.ts";
import type { LabNode } from "./state.ts";

const nodes: LabNode[] = [1, 2].map((k) => ({ name: `node${k}`, index: k, netns: `t-node${k}`, underlayIp: `192.168.125.${100 + k}` }));

test("every scenario has a one-line summary", () => {
  assert.deepEqual(Object.keys(SCENARIOS), ["wrong-iface", "no-forwarding", "mtu-mismatch", "overlap"]);
  for (const s of Object.values(SCENARIOS)) assert.ok(s.summary.length > 0 && !s.summary.includes("\n"));
});

test("wrong-iface: the switch link is eth1 and eth0 is the NAT interface with the default route", () => {
  const s = findScenario("wrong-iface");
  assert.equal(s.underlayIface, "eth1");
  assert.deepEqual(s.nodeCommands!(nodes[0]!), [
    "link add eth0 type veth peer name nat0",
    "addr add 10.0.2.15/24 dev eth0",
    "link set eth0 up",
    "link set nat0 up",
    "route replace default via 10.0.2.2 dev eth0",
  ]);
});

test("mtu-mismatch shrinks the switch's port to every node", () => {
  assert.deepEqual(findScenario("mtu-mismatch").switchCommands!(nodes), [`link set node1 mtu ${MISMATCH_SWITCH_MTU}`, `link set node2 mtu ${MISMATCH_SWITCH_MTU}`]);
});

test("no-forwarding runs a loop turning forwarding off on node2 (node1 in a one-node lab)", () => {
  const s = findScenario("no-forwarding");
  assert.deepEqual(s.daemons!(nodes), [{ node: nodes[1], name: "hardening", argv: ["sh", "-c", "while :; do sysctl -qw net.ipv4.ip_forward=0; sleep 1; done"] }]);
  assert.equal(s.daemons!(nodes.slice(0, 1))[0]!.node, nodes[0]);
});

test("overlap chooses a pod CIDR holding the underlay", () => {
  assert.equal(findScenario("overlap").podCidr, "192.168.0.0/16");
});

test("an unknown scenario lists the known ones", () => {
  assert.throws(() => findScenario("nat-iface"), (e: unknown) => e instanceof WeftError && e.code === "SCENARIO_UNKNOWN" && /known scenarios: wrong-iface, no-forwarding, mtu-mismatch, overlap/.test(e.describe()));
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { hostVethName } from "./host.ts";

// The name is node state: DEL and GC find the veths of pods that earlier
// builds added by computing it again, so it must never change.
const cases: Array<{ containerId: string; ifname: string; name: string }> = [
  { containerId: "c1", ifname: "eth0", name: "vethd9e39193c9d" },
  { containerId: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ifname: "eth0", name: "vethba4b662f00b" },
  { containerId: "r0-17", ifname: "net1", name: "veth3e55fc7df03" },
  { containerId: "a", ifname: "b", name: "veth3a8e75c1241" },
];

for (const c of cases) {
  test(`host veth of ${c.containerId.slice(0, 12)}/${c.ifname} is ${c.name}`, () => {
    assert.equal(hostVethName(c.containerId, c.ifname), c.name);
  });
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseIp, parsePrefix } from "../../lib/ipv4.ts";
import type { CheckedPeer } from "../types.ts";
import { PEER_NOT_ADJACENT, planRoutes, routesOf, splitAdjacent } from "./hostgw.ts";

function peer(k: number, publicIp = `192.168.125.${100 + k}`): CheckedPeer {
  const p = { node: `node${k}`, subnet: `10.244.${k}.0/24`, publicIp, backendData: {} };
  return { peer: p, subnet: parsePrefix(p.subnet), publicIp: parseIp(publicIp) };
}
const argvs = (cs: { argv: readonly string[] }[]): string[] => cs.map((c) => c.argv.join(" "));

test("a peer off every connected subnet is refused with the way out", () => {
  const connected = [parsePrefix("192.168.125.0/24")];
  const { ok, problems } = splitAdjacent("eth0", connected, [peer(2), peer(3, "10.99.0.5"), peer(4)]);
  assert.deepEqual(ok.map((p) => p.peer.node), ["node2", "node4"]);
  assert.deepEqual(problems, [{
    peer: "node3",
    code: PEER_NOT_ADJACENT,
    message: "peer node3 (10.99.0.5) is not on a directly connected subnet of eth0 (192.168.125.0/24), so it is not on the same L2 segment and host-gw cannot route 10.244.3.0/24 to it; use --backend vxlan",
  }]);
  assert.match(splitAdjacent("eth0", [], [peer(2)]).problems[0]!.message, /of eth0 \(no IPv4 subnet\)/);
});

test("routes are added, repaired and removed; matching ones are left alone", () => {
  const current = [
    { dst: "10.244.2.0/24", gateway: "192.168.125.102", dev: "eth0", flags: [] },
    { dst: "10.244.3.0/24", gateway: "192.168.125.99", dev: "eth0", flags: [] },
    { dst: "10.244.9.0/24", gateway: "192.168.125.109", dev: "eth0", flags: [] },
  ];
  const plan = planRoutes("eth0", [peer(2), peer(3), peer(4)], current);
  assert.deepEqual(argvs(plan.commands), [
    "route del 10.244.9.0/24 proto 87",
    "route replace 10.244.3.0/24 via 192.168.125.103 dev eth0 proto 87",
    "route replace 10.244.4.0/24 via 192.168.125.104 dev eth0 proto 87",
  ]);
  assert.deepEqual(plan.changed, ["node3", "node4"]);
  assert.deepEqual(plan.removed, ["route 10.244.9.0/24"]);
  assert.deepEqual(plan.commands.map((c) => c.tag), ["route 10.244.9.0/24", "node3", "node4"]);
});

test("a route left on another interface moves to the underlay", () => {
  const plan = planRoutes("eth1", [peer(2)], [{ dst: "10.244.2.0/24", gateway: "192.168.125.102", dev: "eth0", flags: [] }]);
  assert.deepEqual(argvs(plan.commands), ["route replace 10.244.2.0/24 via 192.168.125.102 dev eth1 proto 87"]);
});

test("against routesOf the last peers, only the added or deleted peer's route is written", () => {
  const before = [peer(2), peer(3), peer(4)];
  assert.deepEqual(planRoutes("eth0", before, routesOf("eth0", before)).commands, []);
  const added = planRoutes("eth0", [...before, peer(5)], routesOf("eth0", before));
  assert.deepEqual([argvs(added.commands), added.changed, added.removed], [["route replace 10.244.5.0/24 via 192.168.125.105 dev eth0 proto 87"], ["node5"], []]);
  const deleted = planRoutes("eth0", [peer(2), peer(4)], routesOf("eth0", before));
  assert.deepEqual([argvs(deleted.commands), deleted.changed, deleted.removed], [["route del 10.244.3.0/24 proto 87"], [], ["route 10.244.3.0/24"]]);
});

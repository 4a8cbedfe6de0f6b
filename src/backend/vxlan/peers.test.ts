import { test } from "node:test";
import assert from "node:assert/strict";
import { parseIp, parsePrefix } from "../../lib/ipv4.ts";
import type { CheckedPeer } from "../types.ts";
import { planPeers, stateOf, withVtepMacs, type VxlanPeer, type VxlanState } from "./peers.ts";

function checked(node: string, k: number, backendData: Record<string, string>): CheckedPeer {
  const peer = { node, subnet: `10.244.${k}.0/24`, publicIp: `192.168.125.${100 + k}`, backendData };
  return { peer, subnet: parsePrefix(peer.subnet), publicIp: parseIp(peer.publicIp) };
}
const mac = (k: number): string => `0a:58:0a:f4:0${k}:00`;
const vpeer = (k: number): VxlanPeer => ({ ...checked(`node${k}`, k, { vtepMac: mac(k) }), mac: mac(k) });

/** The kernel state that exactly carries peer k. */
function programmed(k: number): VxlanState {
  return {
    routes: [{ dst: `10.244.${k}.0/24`, gateway: `10.244.${k}.0`, flags: ["onlink"] }],
    neighs: [{ dst: `10.244.${k}.0`, lladdr: mac(k), state: ["PERMANENT"] }],
    fdb: [{ mac: mac(k), dst: `192.168.125.${100 + k}`, flags: ["self"], state: "permanent" }],
  };
}
const merge = (...states: VxlanState[]): VxlanState => ({
  routes: states.flatMap((s) => s.routes), neighs: states.flatMap((s) => s.neighs), fdb: states.flatMap((s) => s.fdb),
});
const argvs = (cs: { argv: readonly string[] }[]): string[] => cs.map((c) => c.argv.join(" "));

test("withVtepMacs keeps peers with a unique unicast MAC and reports the rest", () => {
  const { ok, problems } = withVtepMacs([
    checked("node2", 2, { vtepMac: "0A:58:0A:F4:02:00" }),
    checked("hostgw", 3, {}),
    checked("multicast", 4, { vtepMac: "01:00:5e:00:00:01" }),
    checked("garbage", 5, { vtepMac: "0a:58" }),
    checked("copy", 6, { vtepMac: "0a:58:0a:f4:02:00" }),
  ]);
  assert.deepEqual(ok.map((p) => [p.peer.node, p.mac]), [["node2", "0a:58:0a:f4:02:00"]]);
  assert.deepEqual(problems.map((p) => [p.peer, p.code]), [["hostgw", "PEER_INVALID"], ["multicast", "PEER_INVALID"], ["garbage", "PEER_INVALID"], ["copy", "PEER_INVALID"]]);
  assert.match(problems[0]!.message, /no vtepMac \(is it running the host-gw backend\?\)/);
  assert.match(problems[3]!.message, /vtepMac 0a:58:0a:f4:02:00 is also node node2's/);
});

test("a new peer gets a route, a permanent neighbour and an FDB entry", () => {
  const plan = planPeers("weft.1", [vpeer(2)], { routes: [], neighs: [], fdb: [] });
  assert.deepEqual(argvs(plan.ip), [
    "route replace 10.244.2.0/24 via 10.244.2.0 dev weft.1 onlink",
    "neigh replace 10.244.2.0 lladdr 0a:58:0a:f4:02:00 dev weft.1 nud permanent",
  ]);
  assert.deepEqual(argvs(plan.bridge), ["fdb replace 0a:58:0a:f4:02:00 dev weft.1 dst 192.168.125.102 self permanent"]);
  assert.deepEqual(plan.changed, ["node2"]);
  assert.deepEqual(plan.removed, []);
});

test("state that already matches needs no command", () => {
  const plan = planPeers("weft.1", [vpeer(2), vpeer(3)], merge(programmed(2), programmed(3)));
  assert.deepEqual([plan.ip, plan.bridge, plan.changed, plan.removed], [[], [], [], []]);
});

test("drift is repaired entry by entry", () => {
  const cases: Array<[string, VxlanState, string[], string[]]> = [
    ["route gone", { ...programmed(2), routes: [] }, ["route replace 10.244.2.0/24 via 10.244.2.0 dev weft.1 onlink"], []],
    ["route without onlink", { ...programmed(2), routes: [{ dst: "10.244.2.0/24", gateway: "10.244.2.0", flags: [] }] }, ["route replace 10.244.2.0/24 via 10.244.2.0 dev weft.1 onlink"], []],
    ["neigh stale", { ...programmed(2), neighs: [{ dst: "10.244.2.0", lladdr: mac(2), state: ["STALE"] }] }, ["neigh replace 10.244.2.0 lladdr 0a:58:0a:f4:02:00 dev weft.1 nud permanent"], []],
    ["fdb gone", { ...programmed(2), fdb: [] }, [], ["fdb replace 0a:58:0a:f4:02:00 dev weft.1 dst 192.168.125.102 self permanent"]],
    ["fdb points elsewhere", { ...programmed(2), fdb: [{ mac: mac(2), dst: "192.168.125.99", state: "permanent" }] }, [],
      ["fdb del 0a:58:0a:f4:02:00 dev weft.1 dst 192.168.125.99 self", "fdb replace 0a:58:0a:f4:02:00 dev weft.1 dst 192.168.125.102 self permanent"]],
  ];
  for (const [what, state, ip, bridge] of cases) {
    const plan = planPeers("weft.1", [vpeer(2)], state);
    assert.deepEqual(argvs(plan.ip), ip, what);
    assert.deepEqual(argvs(plan.bridge), bridge, what);
    assert.deepEqual(plan.changed, ["node2"], what);
  }
});

test("a peer that is gone loses all three entries, removals first", () => {
  const plan = planPeers("weft.1", [vpeer(2)], merge(programmed(3), { routes: [], neighs: [], fdb: [{ mac: "33:33:00:00:00:01", flags: ["self"] }] }));
  assert.deepEqual(argvs(plan.ip), [
    "route del 10.244.3.0/24 dev weft.1",
    "neigh del 10.244.3.0 dev weft.1",
    "route replace 10.244.2.0/24 via 10.244.2.0 dev weft.1 onlink",
    "neigh replace 10.244.2.0 lladdr 0a:58:0a:f4:02:00 dev weft.1 nud permanent",
  ]);
  assert.deepEqual(argvs(plan.bridge), [
    "fdb del 0a:58:0a:f4:03:00 dev weft.1 dst 192.168.125.103 self",
    "fdb replace 0a:58:0a:f4:02:00 dev weft.1 dst 192.168.125.102 self permanent",
  ]);
  assert.deepEqual(plan.removed, ["route 10.244.3.0/24", "neigh 10.244.3.0", "fdb 0a:58:0a:f4:03:00 dst 192.168.125.103"]);
  assert.deepEqual(plan.bridge.map((c) => c.tag), ["fdb 0a:58:0a:f4:03:00 dst 192.168.125.103", "node2"]);
});

test("stateOf is the state planPeers programs: planning against it has nothing to do", () => {
  assert.deepEqual(stateOf([vpeer(2), vpeer(3)]), merge(programmed(2), programmed(3)));
  const plan = planPeers("weft.1", [vpeer(2), vpeer(3)], stateOf([vpeer(2), vpeer(3)]));
  assert.deepEqual([plan.ip, plan.bridge, plan.changed, plan.removed], [[], [], [], []]);
});

test("against stateOf the last peers, only the peer that changed gets commands", () => {
  const before = [vpeer(2), vpeer(3), vpeer(4)];
  const moved: VxlanPeer = { ...vpeer(3), publicIp: parseIp("192.168.125.200") };
  const cases: Array<[string, VxlanPeer[], string[], string[], string[], string[]]> = [
    ["added", [...before, vpeer(5)], [
      "route replace 10.244.5.0/24 via 10.244.5.0 dev weft.1 onlink",
      "neigh replace 10.244.5.0 lladdr 0a:58:0a:f4:05:00 dev weft.1 nud permanent",
    ], ["fdb replace 0a:58:0a:f4:05:00 dev weft.1 dst 192.168.125.105 self permanent"], ["node5"], []],
    ["deleted", [vpeer(2), vpeer(4)], ["route del 10.244.3.0/24 dev weft.1", "neigh del 10.244.3.0 dev weft.1"],
      ["fdb del 0a:58:0a:f4:03:00 dev weft.1 dst 192.168.125.103 self"], [], ["route 10.244.3.0/24", "neigh 10.244.3.0", "fdb 0a:58:0a:f4:03:00 dst 192.168.125.103"]],
    ["moved to another address", [vpeer(2), moved, vpeer(4)], [],
      ["fdb del 0a:58:0a:f4:03:00 dev weft.1 dst 192.168.125.103 self", "fdb replace 0a:58:0a:f4:03:00 dev weft.1 dst 192.168.125.200 self permanent"],
      ["node3"], ["fdb 0a:58:0a:f4:03:00 dst 192.168.125.103"]],
  ];
  for (const [what, after, ip, bridge, changed, removed] of cases) {
    const plan = planPeers("weft.1", after, stateOf(before));
    assert.deepEqual([argvs(plan.ip), argvs(plan.bridge), plan.changed, plan.removed], [ip, bridge, changed, removed], what);
  }
});

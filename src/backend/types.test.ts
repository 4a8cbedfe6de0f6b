import { test } from "node:test";
import assert from "node:assert/strict";
import { parseIp, parsePrefix } from "../lib/ipv4.ts";
import { checkPeers, reconcileReport, type Peer } from "./types.ts";

const peer = (node: string, subnet: string, publicIp = "192.168.125.102"): Peer => ({ node, subnet, publicIp, backendData: {} });

test("checkPeers keeps good leases and reports each bad one by node", () => {
  const local = { subnet: parsePrefix("10.244.1.0/24"), publicIp: parseIp("192.168.125.101") };
  const { ok, problems } = checkPeers(local, [
    peer("node2", "10.244.2.0/24"),
    peer("bad-subnet", "10.244.3.1/24"),
    peer("bad-ip", "10.244.4.0/24", "192.168.125"),
    peer("ours", "10.244.1.0/25"),
    peer("twin", "10.244.2.0/24"),
    peer("node5", "10.244.5.0/24", "192.168.125.105"),
    peer("me-too", "10.244.6.0/24", "192.168.125.101"),
    peer("shared", "10.244.7.0/24", "192.168.125.105"),
  ]);
  assert.deepEqual(ok.map((p) => p.peer.node), ["node2", "node5"]);
  assert.deepEqual(ok[1]!.subnet, parsePrefix("10.244.5.0/24"));
  const table: Array<[string, RegExp]> = [
    ["bad-subnet", /host bits are set/],
    ["bad-ip", /public IP "192.168.125" is not an IPv4 address/],
    ["ours", /overlaps this node's subnet 10.244.1.0\/24/],
    ["twin", /overlaps 10.244.2.0\/24 of node node2/],
    ["me-too", /advertises 192.168.125.101, which is this node's own address; each node must advertise its own underlay address: choose it with --iface or --public-ip$/],
    ["shared", /advertises 192.168.125.105, as node node5 does; each node must advertise/],
  ];
  assert.equal(problems.length, table.length);
  for (const [i, [node, message]] of table.entries()) {
    assert.equal(problems[i]!.peer, node);
    assert.equal(problems[i]!.code, "PEER_INVALID");
    assert.match(problems[i]!.message, message);
  }
});

test("reconcileReport turns refused commands into problems and drops them from what changed", () => {
  const earlier = { peer: "far", code: "PEER_NOT_ADJACENT", message: "…" };
  const report = reconcileReport(
    { changed: ["node2", "node3"], removed: ["route 10.244.9.0/24", "route 10.244.8.0/24"] },
    [
      { command: { argv: ["route", "replace"], tag: "node3" }, message: '"ip route replace": Error: Nexthop has invalid gateway.' },
      { command: { argv: ["route", "del"], tag: "route 10.244.8.0/24" }, message: '"ip route del": Operation not permitted' },
    ],
    [earlier],
  );
  assert.deepEqual(report, {
    changed: ["node2"],
    removed: ["route 10.244.9.0/24"],
    problems: [
      earlier,
      { peer: "node3", code: "KERNEL_REJECTED", message: 'node3: the kernel refused "ip route replace": Error: Nexthop has invalid gateway.' },
      { peer: "route 10.244.8.0/24", code: "KERNEL_REJECTED", message: 'route 10.244.8.0/24: the kernel refused "ip route del": Operation not permitted' },
    ],
  });
});

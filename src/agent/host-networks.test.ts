import { test } from "node:test";
import assert from "node:assert/strict";
import { formatPrefix } from "../lib/ipv4.ts";
import type { IpLink } from "../kernel/json.ts";
import { hostNetworksOf, overlapWarnings } from "./host-networks.ts";

const link = (ifname: string, addrs: [string, number][], flags: string[] = ["UP"]): IpLink =>
  ({ ifname, flags, mtu: 1500, addr_info: addrs.map(([local, prefixlen]) => ({ family: "inet", local, prefixlen })) }) as IpLink;

const links = [
  link("lo", [["127.0.0.1", 8]], ["LOOPBACK", "UP"]),
  link("eth0", [["192.168.125.101", 24]]),
  link("eth1", [["10.0.2.15", 24], ["172.16.5.9", 16]]),
  link("weft0", [["10.244.3.1", 24]]),
  link("weft.1", [["10.244.3.0", 32]]),
];

test("host networks are the interfaces' networks, without loopback and weft's own devices", () => {
  assert.deepEqual(hostNetworksOf(links).map((n) => `${n.iface} ${formatPrefix(n.network)}`), [
    "eth0 192.168.125.0/24", "eth1 10.0.2.0/24", "eth1 172.16.0.0/16",
  ]);
});

test("a cluster CIDR over a host network is warned about, naming both", () => {
  const nets = hostNetworksOf(links);
  assert.deepEqual(overlapWarnings("10.244.0.0/16", nets), []);
  const [w, ...rest] = overlapWarnings("192.168.0.0/16", nets);
  assert.equal(rest.length, 0);
  assert.match(w!, /^the cluster CIDR 192\.168\.0\.0\/16 overlaps eth0's network 192\.168\.125\.0\/24: no node subnet overlapping it is leased/);
});

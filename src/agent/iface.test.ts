import { test } from "node:test";
import assert from "node:assert/strict";
import type { IpLink } from "../kernel/json.ts";
import { chooseUnderlay, UNDERLAY_NOT_FOUND, type IfaceOptions, type UnderlayFacts } from "./iface.ts";

// `ip -j addr` of a node like the seeds' Vagrant boxes (trimmed): eth0 on the
// node-to-node network, eth1 the NAT interface every node shares, holding the
// default route, eth2 with no IPv4 at all.
const links: IpLink[] = [
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"], mtu: 65536, link_type: "loopback", addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host" }, { family: "inet6", local: "::1", prefixlen: 128, scope: "host" }] },
  { ifindex: 3, ifname: "eth0", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1500, link_type: "ether", addr_info: [{ family: "inet", local: "192.168.125.101", prefixlen: 24, scope: "global" }, { family: "inet", local: "192.168.126.101", prefixlen: 24, scope: "global" }, { family: "inet6", local: "fe80::f4b1:95ff:fe33:67ce", prefixlen: 64, scope: "link" }] },
  { ifindex: 5, ifname: "eth1", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1400, link_type: "ether", addr_info: [{ family: "inet", local: "10.0.2.15", prefixlen: 24, scope: "global" }, { family: "inet6", local: "fe80::707e:f5ff:fe1f:3a5", prefixlen: 64, scope: "link" }] },
  { ifindex: 7, ifname: "eth2", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1500, link_type: "ether", addr_info: [{ family: "inet6", local: "fe80::e03b:91ff:fe3f:f2cb", prefixlen: 64, scope: "link" }] },
];
const defaultRoutes = [{ dst: "default", gateway: "10.0.2.2", dev: "eth1", flags: [] }];
const reach = [{ dst: "192.168.126.7", dev: "eth0", prefsrc: "192.168.126.101", flags: [] }];
const facts: UnderlayFacts = { links, defaultRoutes, reach };

const eth0 = { name: "eth0", ip: "192.168.125.101", mtu: 1500 };
const eth1 = { name: "eth1", ip: "10.0.2.15", mtu: 1400 };

test("chooses the underlay the options ask for", () => {
  const cases: Array<[string, IfaceOptions, UnderlayFacts, object]> = [
    ["default route", {}, facts, eth1],
    ["no default route: first non-loopback with IPv4", {}, { links }, eth0],
    ["--iface by name", { iface: ["eth0"] }, facts, eth0],
    ["--iface by address", { iface: ["192.168.126.101"] }, facts, { ...eth0, ip: "192.168.126.101" }],
    ["--iface in order, skipping missing and IPv4-less", { iface: ["eth9", "eth2", "eth1", "eth0"] }, facts, eth1],
    ["--iface-regex on names", { ifaceRegex: ["^eth[0-9]$"] }, facts, eth0],
    ["--iface-regex on addresses", { ifaceRegex: ["^10\\.0\\."] }, facts, eth1],
    ["--iface-regex in order", { ifaceRegex: ["^wlan", "^192\\.168\\.126\\."] }, facts, { ...eth0, ip: "192.168.126.101" }],
    ["--iface-regex never picks loopback", { ifaceRegex: ["lo|eth1"] }, facts, eth1],
    ["--iface-can-reach takes the route's source", { ifaceCanReach: "192.168.126.7" }, facts, { ...eth0, ip: "192.168.126.101" }],
    ["--public-ip alone picks its interface", { publicIp: "192.168.125.101" }, facts, eth0],
    ["--public-ip with --iface selects the address", { iface: ["eth0"], publicIp: "192.168.126.101" }, facts, { ...eth0, ip: "192.168.126.101" }],
  ];
  for (const [what, options, f, want] of cases) assert.deepEqual(chooseUnderlay(f, options), want, what);
});

test("nothing matching names what was asked and what exists", () => {
  const exists = "this node has lo (127.0.0.1), eth0 (192.168.125.101, 192.168.126.101), eth1 (10.0.2.15), eth2 (no IPv4)";
  const cases: Array<[IfaceOptions, UnderlayFacts, string]> = [
    [{ iface: ["eth9", "eth2"] }, facts, `--iface eth9,eth2 matched no non-loopback interface with an IPv4 address; ${exists}`],
    // Loopback reaches no other node, whichever selector names it (issue 17, item 9).
    [{ iface: ["lo"] }, facts, `--iface lo matched no non-loopback interface with an IPv4 address (lo: loopback, which reaches no other node); ${exists}`],
    [{ iface: ["127.0.0.1"] }, facts, `--iface 127.0.0.1 matched no non-loopback interface with an IPv4 address (127.0.0.1: loopback, which reaches no other node); ${exists}`],
    [{ ifaceCanReach: "127.0.0.1" }, { links, reach: [{ dst: "127.0.0.1", dev: "lo", prefsrc: "127.0.0.1", flags: [] }] }, `--iface-can-reach 127.0.0.1: the route to it is the loopback interface lo, which reaches no other node; ${exists}`],
    [{ publicIp: "127.0.0.1" }, facts, `--public-ip 127.0.0.1 is an address of the loopback interface lo, which peers cannot reach; ${exists}`],
    [{ ifaceRegex: ["^wlan"] }, facts, `--iface-regex ^wlan matched no non-loopback interface with an IPv4 address; ${exists}`],
    [{ ifaceCanReach: "10.9.9.9" }, { links, reach: [{ dst: "10.9.9.9", dev: "eth2", flags: [] }] }, `--iface-can-reach 10.9.9.9: the route to it leaves by eth2, which has no IPv4 address; ${exists}`],
    [{ publicIp: "203.0.113.9" }, facts, `--public-ip 203.0.113.9 is not an address of any interface; ${exists}`],
    [{}, { links: links.filter((l) => l.ifname === "lo" || l.ifname === "eth2") }, "no non-loopback interface has an IPv4 address; this node has lo (127.0.0.1), eth2 (no IPv4)"],
    [{ iface: ["eth1"], publicIp: "192.168.125.101" }, facts, "--public-ip 192.168.125.101 is not an address of eth1 (chosen by --iface eth1), which has 10.0.2.15"],
  ];
  for (const [options, f, message] of cases) {
    assert.throws(() => chooseUnderlay(f, options), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, UNDERLAY_NOT_FOUND);
      assert.equal(err.message, message);
      assert.ok(err.hint);
      return true;
    }, JSON.stringify(options));
  }
});

test("an invalid regular expression is its own error", () => {
  assert.throws(() => chooseUnderlay(facts, { ifaceRegex: ["eth("] }), { code: "INVALID_IFACE_REGEX", message: '--iface-regex "eth(" is not a valid regular expression' });
});

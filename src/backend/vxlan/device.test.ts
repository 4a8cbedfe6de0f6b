import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePrefix } from "../../lib/ipv4.ts";
import type { IpLink } from "../../kernel/json.ts";
import { planDevice, vtepAddressFor, vtepMacFor, type VxlanDevice } from "./device.ts";

const subnet = parsePrefix("10.244.3.0/24");
const want: VxlanDevice = {
  name: "weft.1", vni: 1, port: 8472, local: "192.168.125.103", dev: "eth0", mtu: 1450,
  address: vtepAddressFor(subnet), mac: vtepMacFor(subnet),
};

/** `ip -d -j addr show dev weft.1` of a device matching `want`, with overrides. */
function link(over: Partial<IpLink> = {}, data: Record<string, unknown> = {}): IpLink {
  return {
    ifindex: 4, ifname: "weft.1", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1450, link_type: "ether",
    address: "aa:bb:cc:dd:ee:ff",
    linkinfo: { info_kind: "vxlan", info_data: { id: 1, local: "192.168.125.103", link: "eth0", port: 8472, learning: false, ...data } },
    addr_info: [{ family: "inet", local: "10.244.3.0", prefixlen: 32, scope: "global" }],
    ...over,
  };
}

test("the VTEP MAC and address derive from the node subnet", () => {
  assert.equal(vtepMacFor(subnet), "0a:58:0a:f4:03:00");
  assert.equal(vtepMacFor(parsePrefix("192.168.255.128/25")), "0a:58:c0:a8:ff:80");
  assert.equal(vtepAddressFor(subnet), "10.244.3.0/32");
});

test("no device: create it with the derived MAC, address it, bring it up", () => {
  assert.deepEqual(planDevice(undefined, want), {
    mac: "0a:58:0a:f4:03:00",
    commands: [
      ["link", "add", "weft.1", "address", "0a:58:0a:f4:03:00", "mtu", "1450", "type", "vxlan", "id", "1", "dev", "eth0", "local", "192.168.125.103", "dstport", "8472", "nolearning"],
      ["addr", "replace", "10.244.3.0/32", "dev", "weft.1"],
      ["link", "set", "weft.1", "up"],
    ],
  });
});

test("a matching device is kept with its own MAC and nothing to do", () => {
  assert.deepEqual(planDevice(link(), want), { mac: "aa:bb:cc:dd:ee:ff", commands: [] });
});

test("MTU, address and up/down are repaired in place", () => {
  const drifted = link({ mtu: 1500, flags: ["BROADCAST", "MULTICAST"], addr_info: [{ family: "inet", local: "10.244.9.0", prefixlen: 32 }, { family: "inet6", local: "fe80::1", prefixlen: 64 }] });
  assert.deepEqual(planDevice(drifted, want), {
    mac: "aa:bb:cc:dd:ee:ff",
    commands: [
      ["link", "set", "weft.1", "mtu", "1450"],
      ["addr", "del", "10.244.9.0/32", "dev", "weft.1"],
      ["addr", "replace", "10.244.3.0/32", "dev", "weft.1"],
      ["link", "set", "weft.1", "up"],
    ],
  });
});

test("a device whose fixed settings differ is deleted and created again", () => {
  const cases: Array<[string, IpLink]> = [
    ["VNI", link({}, { id: 2 })],
    ["port", link({}, { port: 4789 })],
    ["local", link({}, { local: "10.0.2.15" })],
    ["dev", link({}, { link: "eth1" })],
    ["learning", link({}, { learning: true })],
    ["kind", link({ linkinfo: { info_kind: "bridge" } })],
  ];
  for (const [what, current] of cases) {
    const plan = planDevice(current, want);
    assert.equal(plan.mac, "0a:58:0a:f4:03:00", what);
    assert.deepEqual(plan.commands[0], ["link", "del", "weft.1"], what);
    assert.deepEqual(plan.commands.slice(1).map((c) => c.slice(0, 2)), [["link", "add"], ["addr", "replace"], ["link", "set"]], what);
  }
});

/**
 * The vxlan backend in real namespaces: two nodes on one switch, a pod on
 * each; pod-to-pod ping and TCP over weft.1, drift repair, peer removal,
 * MAC stability across setups, cleanup.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Peer, SetupResult } from "../../src/backend/types.ts";
import { VXLAN_DEVICE_MISSING, VxlanBackend } from "../../src/backend/vxlan/vxlan.ts";
import type { FdbEntry, IpLink, IpNeigh, IpRoute } from "../../src/kernel/json.ts";
import { createRunner, readJson } from "../../src/kernel/runner.ts";
import { askPeerAddress, localOf, peerOf, pings, sh, Topology, type TopoNode } from "./backend-topology.ts";

describe("vxlan backend", { timeout: 60_000 }, () => {
  const topo = new Topology("vx");
  let n1: TopoNode, n2: TopoNode;
  let b1: VxlanBackend, b2: VxlanBackend;
  let s1: SetupResult, s2: SetupResult;

  const state = async (n: TopoNode) => {
    const r = createRunner(n.node);
    return {
      routes: await readJson<IpRoute[]>(r, ["ip", "-4", "-j", "route", "show", "dev", "weft.1"]),
      neighs: await readJson<IpNeigh[]>(r, ["ip", "-4", "-j", "neigh", "show", "dev", "weft.1"]),
      fdb: await readJson<FdbEntry[]>(r, ["bridge", "-j", "fdb", "show", "dev", "weft.1"]),
    };
  };
  const device = async (n: TopoNode) => (await readJson<IpLink[]>(createRunner(n.node), ["ip", "-d", "-j", "addr", "show", "dev", "weft.1"]))[0]!;

  before(() => {
    topo.addSwitch();
    n1 = topo.addNode(1);
    n2 = topo.addNode(2);
    b1 = new VxlanBackend({ runner: createRunner(n1.node) });
    b2 = new VxlanBackend({ runner: createRunner(n2.node) });
  });
  after(() => topo.dispose());

  test("setup makes weft.1 as designed", async () => {
    s1 = await b1.setup(localOf(n1));
    s2 = await b2.setup(localOf(n2));
    assert.deepEqual(s1, { backendData: { vtepMac: "0a:58:0a:f4:01:00" }, mtu: 1450 });
    const d = await device(n1);
    assert.equal(d.address, "0a:58:0a:f4:01:00");
    assert.equal(d.mtu, 1450);
    assert.ok(d.flags.includes("UP"));
    assert.deepEqual(d.linkinfo?.info_data && { id: d.linkinfo.info_data["id"], port: d.linkinfo.info_data["port"], local: d.linkinfo.info_data["local"], link: d.linkinfo.info_data["link"], learning: d.linkinfo.info_data["learning"] },
      { id: 1, port: 8472, local: "192.168.125.101", link: "eth0", learning: false });
    assert.deepEqual(d.addr_info?.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`), ["10.244.1.0/32"]);
  });

  test("pods on two nodes ping and connect over TCP, seeing each other's own IPs", async () => {
    const ghost: Peer = { node: "ghost", publicIp: "192.168.125.109", subnet: "10.244.9.0/24", backendData: {} };
    const r1 = await b1.reconcile([peerOf(n2, s2.backendData), ghost]);
    assert.deepEqual(r1.changed, ["node2"]);
    assert.deepEqual(r1.problems.map((p) => [p.peer, p.code]), [["ghost", "PEER_INVALID"]]);
    assert.deepEqual((await b2.reconcile([peerOf(n1, s1.backendData)])).problems, []);

    assert.deepEqual(await state(n1), {
      routes: [{ dst: "10.244.2.0/24", gateway: "10.244.2.0", flags: ["onlink"] }],
      neighs: [{ dst: "10.244.2.0", lladdr: "0a:58:0a:f4:02:00", state: ["PERMANENT"] }],
      fdb: [{ mac: "0a:58:0a:f4:02:00", dst: "192.168.125.102", flags: ["self"], state: "permanent" }],
    });
    assert.ok(pings(n1.pod, n2.podIp), "pod1 → pod2 ping");
    await topo.startPeerAddressServer(n2.pod, 7001);
    assert.equal(askPeerAddress(n1.pod, n2.podIp, 7001), n1.podIp);

    const again = await b1.reconcile([peerOf(n2, s2.backendData)]);
    assert.deepEqual([again.changed, again.removed, again.problems], [[], [], []], "a second reconcile has nothing to do");
  });

  test("reconcile restores a route, neighbour and FDB entry deleted by hand", async () => {
    for (const kill of [
      `ip -n ${n1.node} route del 10.244.2.0/24 dev weft.1`,
      `ip -n ${n1.node} neigh del 10.244.2.0 dev weft.1`,
      `bridge -n ${n1.node} fdb del 0a:58:0a:f4:02:00 dev weft.1 dst 192.168.125.102 self`,
    ]) {
      const before = await state(n1);
      sh(kill);
      assert.notDeepEqual(await state(n1), before, kill);
      const report = await b1.reconcile([peerOf(n2, s2.backendData)]);
      assert.deepEqual(report.changed, ["node2"], kill);
      assert.deepEqual(await state(n1), before, kill);
    }
    assert.ok(pings(n1.pod, n2.podIp));
  });

  test("a peer that is gone loses its route, neighbour and FDB entry", async () => {
    const report = await b1.reconcile([]);
    assert.deepEqual(report.removed, ["route 10.244.2.0/24", "neigh 10.244.2.0", "fdb 0a:58:0a:f4:02:00 dst 192.168.125.102"]);
    assert.deepEqual(await state(n1), { routes: [], neighs: [], fdb: [] });
    assert.ok(!pings(n1.pod, n2.podIp, 1), "no path once the peer is gone");
    await b1.reconcile([peerOf(n2, s2.backendData)]);
    assert.ok(pings(n1.pod, n2.podIp));
  });

  test("a changes reconcile writes only the added or deleted peer's entries; drift waits for the full one", async () => {
    const real = createRunner(n1.node);
    const calls: string[] = [];
    const b = new VxlanBackend({ runner: { netns: real.netns, exec: (argv, input, onSpawn) => {
      calls.push(input ? `${argv[0]} -batch: ${input.trim().split("\n").join(" | ")}` : argv.join(" "));
      return real.exec(argv, input, onSpawn);
    } } });
    await b.setup(localOf(n1));
    const node2 = peerOf(n2, s2.backendData);
    await b.reconcile([node2]);
    const withNode2 = await state(n1);
    // A third node: nothing answers at its address, but its entries are programmed all the same.
    const node3: Peer = { node: "node3", publicIp: "192.168.125.103", subnet: "10.244.3.0/24", backendData: { vtepMac: "0a:58:0a:f4:03:00" } };
    calls.length = 0;
    const added = await b.reconcile([node2, node3], "changes");
    assert.deepEqual([added.changed, added.removed, added.problems], [["node3"], [], []]);
    assert.deepEqual(calls, [
      "bridge -batch: fdb replace 0a:58:0a:f4:03:00 dev weft.1 dst 192.168.125.103 self permanent",
      "ip -batch: route replace 10.244.3.0/24 via 10.244.3.0 dev weft.1 onlink | neigh replace 10.244.3.0 lladdr 0a:58:0a:f4:03:00 dev weft.1 nud permanent",
    ]);
    const withBoth = await state(n1);
    assert.deepEqual(withBoth.routes.map((r) => r.dst).sort(), ["10.244.2.0/24", "10.244.3.0/24"]);
    assert.deepEqual(withBoth.neighs.length + withBoth.fdb.length, 4);

    calls.length = 0;
    const deleted = await b.reconcile([node2], "changes");
    assert.deepEqual([deleted.changed, deleted.removed], [[], ["route 10.244.3.0/24", "neigh 10.244.3.0", "fdb 0a:58:0a:f4:03:00 dst 192.168.125.103"]]);
    assert.equal(calls.length, 2, calls.join("\n"));
    assert.deepEqual(await state(n1), withNode2, "node2's entries untouched, node3's gone");
    assert.ok(pings(n1.pod, n2.podIp));

    sh(`ip -n ${n1.node} route del 10.244.2.0/24 dev weft.1`);
    calls.length = 0;
    assert.deepEqual((await b.reconcile([node2], "changes")).changed, []);
    assert.deepEqual(calls, [], "a changes reconcile reads nothing, so it cannot see drift");
    assert.equal((await state(n1)).routes.length, 0);
    assert.deepEqual((await b.reconcile([node2])).changed, ["node2"], "the full reconcile repairs it");
    assert.deepEqual(await state(n1), withNode2);
    assert.ok(pings(n1.pod, n2.podIp));
  });

  test("setup again keeps the device and its MAC; a new port recreates it with the same MAC", async () => {
    const first = await device(n1);
    assert.deepEqual(await b1.setup(localOf(n1)), s1);
    assert.equal((await device(n1)).ifindex, first.ifindex, "same config: the device is kept");

    const other = new VxlanBackend({ runner: createRunner(n1.node), port: 4789 });
    assert.deepEqual(await other.setup(localOf(n1)), s1);
    const recreated = await device(n1);
    assert.notEqual(recreated.ifindex, first.ifindex, "new port: the device is recreated");
    assert.equal(recreated.linkinfo?.info_data?.["port"], 4789);
    assert.equal(recreated.address, first.address);

    assert.deepEqual(await b1.setup(localOf(n1)), s1);
    await b1.reconcile([peerOf(n2, s2.backendData)]);
    assert.ok(pings(n1.pod, n2.podIp), "back on port 8472");
  });

  test("a device deleted behind our back is reported; cleanup succeeds when it is already gone", async () => {
    sh(`ip -n ${n1.node} link del weft.1`);
    await assert.rejects(b1.reconcile([peerOf(n2, s2.backendData)]), { code: VXLAN_DEVICE_MISSING });
    await b1.cleanup();
    await b1.cleanup();
    await assert.rejects(b1.reconcile([]), { code: "BACKEND_NOT_SET_UP" });
  });

  test("cleanup deletes the device with all its entries", async () => {
    assert.equal((await state(n2)).routes.length, 1);
    await b2.cleanup();
    const r = await createRunner(n2.node).exec(["ip", "link", "show", "weft.1"]);
    assert.notEqual(r.code, 0);
    assert.deepEqual(await readJson<IpRoute[]>(createRunner(n2.node), ["ip", "-4", "-j", "route", "show", "10.244.1.0/24"]), []);
  });
});

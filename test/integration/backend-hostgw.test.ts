/**
 * The host-gw backend in real namespaces: two nodes on one switch, a pod on
 * each; pod-to-pod traffic over plain routes, a non-adjacent peer refused
 * while the others are programmed, peer removal and cleanup.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { HostGwBackend, PEER_NOT_ADJACENT } from "../../src/backend/hostgw/hostgw.ts";
import type { Peer } from "../../src/backend/types.ts";
import type { IpRoute } from "../../src/kernel/json.ts";
import { createRunner, readJson } from "../../src/kernel/runner.ts";
import { askPeerAddress, localOf, peerOf, pings, sh, Topology, type TopoNode } from "./backend-topology.ts";

describe("host-gw backend", { timeout: 60_000 }, () => {
  const topo = new Topology("hg");
  let n1: TopoNode, n2: TopoNode;
  let b1: HostGwBackend, b2: HostGwBackend;

  const far: Peer = { node: "far", publicIp: "10.99.0.5", subnet: "10.244.3.0/24", backendData: {} };
  const routes = (n: TopoNode) => readJson<IpRoute[]>(createRunner(n.node), ["ip", "-4", "-j", "route", "show", "proto", "87"]);

  before(() => {
    topo.addSwitch();
    n1 = topo.addNode(1);
    n2 = topo.addNode(2);
    b1 = new HostGwBackend({ runner: createRunner(n1.node) });
    b2 = new HostGwBackend({ runner: createRunner(n2.node) });
  });
  after(() => topo.dispose());

  test("setup asks for nothing and keeps the underlay MTU", async () => {
    assert.deepEqual(await b1.setup(localOf(n1)), { backendData: {}, mtu: 1500 });
    assert.deepEqual(await b2.setup(localOf(n2)), { backendData: {}, mtu: 1500 });
    await assert.rejects(new HostGwBackend({ runner: createRunner(n1.node) }).setup({ ...localOf(n1), underlayIface: "eth7" }), { code: "UNDERLAY_MISSING" });
  });

  test("pods reach each other; a peer off the underlay subnet is refused, the rest programmed", async () => {
    const r1 = await b1.reconcile([far, peerOf(n2)]);
    assert.deepEqual(r1.changed, ["node2"]);
    assert.equal(r1.problems.length, 1);
    assert.equal(r1.problems[0]!.peer, "far");
    assert.equal(r1.problems[0]!.code, PEER_NOT_ADJACENT);
    assert.match(r1.problems[0]!.message, /10\.99\.0\.5\) is not on a directly connected subnet of eth0 \(192\.168\.125\.0\/24\).*not on the same L2 segment.*use --backend vxlan$/);
    assert.deepEqual((await b2.reconcile([peerOf(n1)])).problems, []);

    assert.deepEqual(await routes(n1), [{ dst: "10.244.2.0/24", gateway: "192.168.125.102", dev: "eth0", flags: [] }]);
    assert.ok(pings(n1.pod, n2.podIp), "pod1 → pod2 ping");
    await topo.startPeerAddressServer(n2.pod, 7002);
    assert.equal(askPeerAddress(n1.pod, n2.podIp, 7002), n1.podIp);
  });

  test("a drifted route is repaired; a second reconcile has nothing to do", async () => {
    sh(`ip -n ${n1.node} route replace 10.244.2.0/24 via 192.168.125.1 dev eth0 proto 87`);
    assert.deepEqual((await b1.reconcile([peerOf(n2)])).changed, ["node2"]);
    assert.equal((await routes(n1))[0]!.gateway, "192.168.125.102");
    const again = await b1.reconcile([peerOf(n2)]);
    assert.deepEqual([again.changed, again.removed, again.problems], [[], [], []]);
  });

  test("a peer that is gone loses its route; routes weft did not make stay", async () => {
    const report = await b1.reconcile([]);
    assert.deepEqual(report.removed, ["route 10.244.2.0/24"]);
    assert.deepEqual(await routes(n1), []);
    const all = await readJson<IpRoute[]>(createRunner(n1.node), ["ip", "-4", "-j", "route", "show"]);
    assert.ok(all.some((r) => r.dst === "192.168.125.0/24"), "the connected route is untouched");
  });

  test("a changes reconcile writes only the added or deleted peer's route in one batch; drift waits for the full one", async () => {
    const real = createRunner(n1.node);
    const calls: string[] = [];
    const b = new HostGwBackend({ runner: { netns: real.netns, exec: (argv, input, onSpawn) => {
      calls.push(input ? `${argv[0]} -batch: ${input.trim().split("\n").join(" | ")}` : argv.join(" "));
      return real.exec(argv, input, onSpawn);
    } } });
    await b.setup(localOf(n1));
    await b.reconcile([peerOf(n2)]);
    const node3: Peer = { node: "node3", publicIp: "192.168.125.103", subnet: "10.244.3.0/24", backendData: {} };
    calls.length = 0;
    assert.deepEqual((await b.reconcile([peerOf(n2), node3], "changes")).changed, ["node3"]);
    assert.deepEqual(calls, ["ip -batch: route replace 10.244.3.0/24 via 192.168.125.103 dev eth0 proto 87"]);
    calls.length = 0;
    assert.deepEqual((await b.reconcile([peerOf(n2)], "changes")).removed, ["route 10.244.3.0/24"]);
    assert.deepEqual(calls, ["ip -batch: route del 10.244.3.0/24 proto 87"]);
    assert.deepEqual((await routes(n1)).map((r) => r.dst), ["10.244.2.0/24"]);

    sh(`ip -n ${n1.node} route del 10.244.2.0/24 proto 87`);
    assert.deepEqual((await b.reconcile([peerOf(n2)], "changes")).changed, [], "nothing read, nothing seen");
    assert.deepEqual((await b.reconcile([peerOf(n2)])).changed, ["node2"], "the full reconcile repairs it");
    assert.ok(pings(n1.pod, n2.podIp));
  });

  test("cleanup flushes weft's routes and succeeds when there are none", async () => {
    await b1.reconcile([peerOf(n2)]);
    await b1.cleanup();
    await b1.cleanup();
    assert.deepEqual(await routes(n1), []);
  });
});

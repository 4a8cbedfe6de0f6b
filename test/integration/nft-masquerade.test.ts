/**
 * Forwarding and masquerade in real namespaces: two host-gw nodes and an
 * "outside" host at 192.168.125.1 that has no route to the pod network.
 * Pod-to-pod traffic keeps the pod's own source; pod-to-outside traffic is
 * masqueraded to the node's address (and, without the table, fails).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ensureMasquerade, removeMasquerade } from "../../src/agent/masquerade.ts";
import { HostGwBackend } from "../../src/backend/hostgw/hostgw.ts";
import { createRunner, run } from "../../src/kernel/runner.ts";
import { runIn } from "../support/netns.ts";
import { askPeerAddress, localOf, peerOf, Topology, type TopoNode } from "./backend-topology.ts";

describe("masquerade and forwarding (nftables table ip weft)", { timeout: 60_000 }, () => {
  const topo = new Topology("nft");
  const options = { clusterCidr: "10.244.0.0/16", ipMasq: true };
  let n1: TopoNode, n2: TopoNode;

  const forwarding = (n: TopoNode) => runIn(n.node, ["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.trim();
  const listTable = (n: TopoNode) => run(createRunner(n.node), ["nft", "list", "table", "ip", "weft"]);

  before(async () => {
    topo.addSwitch();
    n1 = topo.addNode(1, false);
    n2 = topo.addNode(2, false);
    const out = topo.addOutside();
    for (const [n, other] of [[n1, n2], [n2, n1]] as const) {
      const b = new HostGwBackend({ runner: createRunner(n.node) });
      await b.setup(localOf(n));
      await b.reconcile([peerOf(other)]);
    }
    await topo.startPeerAddressServer(n2.pod, 7003);
    await topo.startPeerAddressServer(out, 7003);
  });
  after(() => topo.dispose());

  test("ensure turns forwarding on and is idempotent", async () => {
    assert.equal(forwarding(n1), "0");
    for (const n of [n1, n2]) await ensureMasquerade(createRunner(n.node), options);
    assert.equal(forwarding(n1), "1");
    const first = await listTable(n1);
    await ensureMasquerade(createRunner(n1.node), options);
    assert.equal(await listTable(n1), first, "a rerun leaves one identical table");
    assert.match(first, /ip saddr 10\.244\.0\.0\/16 ip daddr 10\.244\.0\.0\/16 return/);
  });

  test("a pod on another node sees the client pod's own IP (no NAT)", () => {
    assert.equal(askPeerAddress(n1.pod, n2.podIp, 7003), n1.podIp);
  });

  test("traffic to outside the cluster arrives from the node's address", () => {
    assert.equal(askPeerAddress(n1.pod, "192.168.125.1", 7003), n1.ip);
  });

  test("without masquerade, outside traffic fails and pod traffic still works", async () => {
    await ensureMasquerade(createRunner(n1.node), { ...options, ipMasq: false });
    assert.throws(() => askPeerAddress(n1.pod, "192.168.125.1", 7003, 1000), /timed out/);
    assert.equal(askPeerAddress(n1.pod, n2.podIp, 7003), n1.podIp);
  });

  test("remove deletes the table, and succeeds when it is already gone", async () => {
    await removeMasquerade(createRunner(n1.node));
    await removeMasquerade(createRunner(n1.node));
    const r = await createRunner(n1.node).exec(["nft", "list", "table", "ip", "weft"]);
    assert.notEqual(r.code, 0);
  });
});

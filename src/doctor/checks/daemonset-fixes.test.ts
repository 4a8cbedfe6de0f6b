// Fixes for agents of the weft DaemonSet (the kubernetes store): they name
// weft-config's keys and a rollout restart rather than agent flags, the
// kubelets' --node-ip when the shared address is the Nodes' InternalIP, and
// the controller manager's --cluster-cidr for an overlapping pod CIDR.
import { test } from "node:test";
import assert from "node:assert/strict";
import { judge } from "../doctor.ts";
import type { Cluster } from "../facts.ts";
import type { Finding } from "../finding.ts";
import { fakeCluster, fakeKubeCluster, statusOf } from "../testing.ts";

const ROLLOUT = "in ConfigMap kube-system/weft-config, then kubectl -n kube-system rollout restart daemonset/weft";

function finding(c: Cluster, node: string, check: string): Finding {
  const f = judge(c).find((x) => x.node === node && x.check === check);
  assert.ok(f, `no ${check} finding on ${node}`);
  return f;
}

/** Every node advertises 10.0.2.15 on eth0 and has 192.168.125.(100+K) on eth1; with `internalIp`, every Node's InternalIP is that. */
function natEverywhere(c: Cluster, internalIp?: string): Cluster {
  for (const [i, n] of c.nodes.entries()) {
    const s = statusOf(n);
    s.publicIp = "10.0.2.15";
    for (const p of s.peers) p.publicIp = "10.0.2.15";
    const links = n.kernel.links.ok ? n.kernel.links.value : [];
    links.find((l) => l.ifname === "eth0")!.addr_info = [{ family: "inet", local: "10.0.2.15", prefixlen: 24 }];
    links.push({ ifindex: 9, ifname: "eth1", flags: ["UP"], mtu: 1500, addr_info: [{ family: "inet", local: `192.168.125.${101 + i}`, prefixlen: 24 }] });
  }
  if (internalIp !== undefined && c.kubernetes?.ok) for (const n of c.kubernetes.value.nodes) n.internalIp = internalIp;
  return c;
}

test("a shared address that is every Node's InternalIP: weft-config's iface, and the kubelets' --node-ip", () => {
  const f = finding(natEverywhere(fakeKubeCluster(2), "10.0.2.15"), "node1", "public-ip");
  assert.equal(f.status, "fail");
  assert.match(f.message, /; it is the Node's InternalIP, which the agent takes when told no interface, and Node node2 has it too: the kubelets registered their default route's address \(no --node-ip\)$/);
  assert.equal(
    f.fix,
    `eth1 holds 192.168.125.101, on the network the nodes share: set "iface": ["eth1"] ${ROLLOUT}; and start the kubelets with --node-ip set to their eth1 address (192.168.125.101 here), or kubectl logs and exec, which reach a kubelet at its InternalIP, fail as well; in this lab: weft lab down --name t && weft lab up --name t --nodes 2 --iface eth1`,
  );
});

test("a shared address the Nodes do not have (told by --iface or --public-ip): weft-config, without --node-ip", () => {
  const f = finding(natEverywhere(fakeKubeCluster(2)), "node1", "public-ip");
  assert.doesNotMatch(f.message, /InternalIP/);
  assert.equal(f.fix, `eth1 holds 192.168.125.101, on the network the nodes share: set "iface": ["eth1"] ${ROLLOUT}; in this lab: weft lab down --name t && weft lab up --name t --nodes 2 --iface eth1`);
});

test("the same on agents the lab runs itself: agent flags, as before", () => {
  const f = finding(natEverywhere(fakeCluster(2)), "node1", "public-ip");
  assert.equal(f.fix, "eth1 holds 192.168.125.101, on the network the nodes share: restart the agents with --iface eth1 (or --iface-can-reach 192.168.125.102); in this lab: weft lab down --name t && weft lab up --name t --nodes 2 --iface eth1");
});

test("a PMTU black hole: the underlay MTU and a DaemonSet rollout, or weft-config's mtu", () => {
  const c = fakeKubeCluster(2);
  const conns = c.nodes[0]!.agent.connections;
  if (conns.ok) conns.value[0]!.mtuOk = false;
  c.nodes[0]!.pathMtu = { "192.168.125.102": 1400 };
  const f = finding(c, "node1", "path node2");
  assert.equal(f.fix, `set eth0's MTU to 1400 on every node ([node1] ip link set eth0 mtu 1400) and restart the weft DaemonSet (kubectl -n kube-system rollout restart daemonset/weft), so pods get 1350; or set "mtu": 1350 ${ROLLOUT}`);
});

test("a pod CIDR over the underlay: the controller manager's --cluster-cidr and weft-config's podCidr, and the Nodes registering again", () => {
  const c = fakeKubeCluster(2);
  for (const n of c.nodes) statusOf(n).network = "192.168.0.0/16";
  const f = finding(c, "node2", "cluster-cidr");
  assert.equal(
    f.fix,
    `use a pod CIDR that overlaps no host, service or VPN network: the cluster's pod CIDR is kube-controller-manager's --cluster-cidr (kubeadm init --pod-network-cidr) and "podCidr" in ConfigMap kube-system/weft-config: set both to 10.244.0.0/16; a Node's podCIDR never changes, so every node must register again (kubectl delete node, then restart its kubelet), or the cluster be rebuilt; in this lab: weft lab down --name t && weft lab up --name t --nodes 2 --pod-cidr 10.244.0.0/16`,
  );
});

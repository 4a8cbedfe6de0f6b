/**
 * Address ranges that must not overlap:
 *
 * `node-subnets`: this node's subnet against every other node's (the lab's
 * nodes, and the peers' leases), and inside the cluster CIDR. Two leases on
 * one range hand out the same pod addresses on two nodes.
 *
 * `cluster-cidr`: the cluster CIDR against the networks the node is on (its
 * interfaces' addresses and its routes, not weft's own). The agent's
 * masquerade takes every address in the cluster CIDR for a pod, so traffic
 * from pods to hosts inside it leaves un-NATed with a pod source address
 * those hosts cannot route back; and a node subnet leased on top of a host
 * network takes over its addresses.
 */
import { contains, formatPrefix, overlaps, parsePrefix, type Prefix } from "../../lib/ipv4.ts";
import { routeDst } from "../../kernel/json.ts";
import { WEFT_ROUTE_PROTO } from "../../backend/hostgw/hostgw.ts";
import { valueOf, type NodeFacts } from "../facts.ts";
import { parsedSubnetFile } from "../subnet-file.ts";
import { agentIsDaemonSetPod, fail, listing, ok, restartAgentsWith, type Check } from "../finding.ts";
import { hostAddresses, isWeftLink } from "../links.ts";

/** Pod CIDRs doctor suggests, in order, when the one in use overlaps a host network. */
const SUGGESTED_CIDRS = ["10.244.0.0/16", "10.42.0.0/16", "172.20.0.0/16", "10.200.0.0/16"];

/** The node subnets check. */
export const checkNodeSubnets: Check = (node, cluster) => {
  const status = valueOf(node.agent.status);
  if (status?.subnet == null) return [];
  const own = parsePrefix(status.subnet);
  const others = new Set<string>();
  for (const other of cluster.nodes) {
    const subnet = valueOf(other.agent.status)?.subnet;
    if (other !== node && subnet != null && overlaps(parsePrefix(subnet, "subnet", false), own)) others.add(`${other.name}'s ${subnet}`);
  }
  for (const p of status.peers) if (overlaps(parsePrefix(p.subnet, "subnet", false), own)) others.add(`${p.node}'s ${p.subnet}`);
  const clashes = [...others].sort();
  if (clashes.length > 0) {
    return [
      fail(
        node,
        "node-subnets",
        `subnet ${status.subnet} overlaps ${listing(clashes)}: two nodes would give pods the same addresses`,
        "the lease store holds conflicting leases: make every agent use the same store (--store, --store-dir, --etcd-endpoints), then restart the agent of the node that should move, so it leases a free subnet",
      ),
    ];
  }
  const network = parsePrefix(status.network);
  if (!contains(network, own.base) || own.len < network.len) {
    return [fail(node, "node-subnets", `subnet ${status.subnet} is outside the cluster CIDR ${status.network}`, "restart the agent: it releases a lease outside the configured range and takes a new one")];
  }
  return [ok(node, "node-subnets", `${status.subnet} overlaps no other node's subnet`)];
};

/** The cluster CIDR check. */
export const checkClusterCidr: Check = (node, cluster) => {
  const cidr = clusterCidrOf(node);
  if (cidr === undefined) return [];
  const hits = hostNetworks(node).filter((h) => overlaps(h.network, cidr));
  const text = formatPrefix(cidr);
  if (hits.length === 0) return [ok(node, "cluster-cidr", `${text} overlaps none of the node's networks`)];
  const subnet = valueOf(node.agent.status)?.subnet;
  const onTop = subnet != null && hits.some((h) => overlaps(h.network, parsePrefix(subnet)));
  const used = cluster.nodes.flatMap((n) => hostNetworks(n).map((h) => h.network));
  const suggestion = SUGGESTED_CIDRS.find((c) => !used.some((u) => overlaps(u, parsePrefix(c))));
  const instead = suggestion === undefined ? "a pod CIDR" : `--pod-cidr ${suggestion}`;
  // With the kubernetes store the pod CIDR is also the controller manager's, and a Node's podCIDR never changes.
  const kube = suggestion ?? "ANOTHER-CIDR";
  const fix = agentIsDaemonSetPod(node)
    ? `: the cluster's pod CIDR is kube-controller-manager's --cluster-cidr (kubeadm init --pod-network-cidr) and "podCidr" in ConfigMap kube-system/weft-config: set both to ${kube}; a Node's podCIDR never changes, so every node must register again (kubectl delete node, then restart its kubelet), or the cluster be rebuilt${cluster.lab ? `; in this lab: weft lab down --name ${cluster.lab.name} && ${cluster.lab.upCommand} ${instead}` : ""}`
    : ` (the nodes then lease new subnets; recreate the pods): ${restartAgentsWith(cluster, instead, instead)}`;
  return [
    fail(
      node,
      "cluster-cidr",
      `the cluster CIDR ${text} overlaps ${listing(hits.map((h) => h.what))}: pod traffic to hosts there is taken for pod-to-pod traffic and not masqueraded, so their replies have no way back` +
        (onTop ? `; this node's subnet ${subnet} even lies on that network` : ""),
      `use a pod CIDR that overlaps no host, service or VPN network${fix}`,
    ),
  ];
};

/** The cluster CIDR the agent reports, else the subnet file's. */
function clusterCidrOf(node: NodeFacts): Prefix | undefined {
  const status = valueOf(node.agent.status);
  if (status !== undefined) return parsePrefix(status.network);
  return valueOf(parsedSubnetFile(node))?.network;
}

/** The networks the node is on, not counting weft's own: interface networks, then other routes (not the default). */
function hostNetworks(node: NodeFacts): { network: Prefix; what: string }[] {
  const found = new Map<string, { network: Prefix; what: string }>();
  for (const a of hostAddresses(valueOf(node.kernel.links) ?? [])) {
    const key = formatPrefix(a.network);
    if (!found.has(key)) found.set(key, { network: a.network, what: `${a.iface}'s network ${key} (this node is ${a.ip})` });
  }
  const weftDevices = new Set((valueOf(node.kernel.links) ?? []).filter(isWeftLink).map((l) => l.ifname));
  for (const r of valueOf(node.kernel.routes) ?? []) {
    if (r.dst === "default" || r.protocol === WEFT_ROUTE_PROTO || (r.dev !== undefined && weftDevices.has(r.dev))) continue;
    const key = routeDst(r);
    if (!found.has(key)) found.set(key, { network: parsePrefix(key, "route", false), what: `the route to ${key}${r.dev ? ` via ${r.dev}` : ""}` });
  }
  return [...found.values()];
}

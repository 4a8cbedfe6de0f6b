/**
 * `public-ip`: the address this node advertises in its lease must be its
 * own. The classic failure is every node advertising the address of a NAT
 * interface they all have (10.0.2.15 on Vagrant and VirtualBox), because
 * that interface carries the default route the agent chose by: peers then
 * refuse each other's leases and no pod traffic crosses nodes.
 *
 * The fix names the interface to use instead: the one whose network holds
 * the most of the other nodes' addresses (their interfaces when doctor sees
 * every node, as in a lab; else the peers' advertised addresses that
 * differ), or, failing that, the only other interface with an address.
 */
import { contains, parseIp } from "../../lib/ipv4.ts";
import { valueOf, type Cluster, type NodeFacts } from "../facts.ts";
import { agentIsDaemonSetPod, fail, listing, ok, restartAgentsWith, type Check } from "../finding.ts";
import { hostAddresses } from "../links.ts";

/** The interface this node should use, and a peer address it reaches the others by. */
interface BetterUnderlay {
  iface: string;
  ip: string;
  /** An address of another node on that interface's network, for --iface-can-reach. */
  reach: string | null;
}

/** The check. */
export const checkPublicIp: Check = (node, cluster) => {
  const status = valueOf(node.agent.status);
  if (status === undefined || status.publicIp === "") return [];
  const sharers = new Set<string>();
  for (const other of cluster.nodes) {
    if (other !== node && valueOf(other.agent.status)?.publicIp === status.publicIp) sharers.add(other.name);
  }
  for (const p of status.peers) if (p.publicIp === status.publicIp) sharers.add(p.node);
  const advertised = `${status.publicIp} (${status.underlay.name})`;
  if (sharers.size === 0) return [ok(node, "public-ip", `advertises ${advertised}, which no other node does`)];

  const better = betterUnderlay(node, cluster, status.publicIp, status.underlay.name);
  const kubelets = sharedInternalIp(node, cluster, status.publicIp, status.node);
  const why = `advertises ${advertised}, as ${listing([...sharers].sort())} ${sharers.size === 1 ? "does" : "do"}: an address every node shares, like a NAT interface's, so the nodes refuse each other's leases and no pod traffic crosses nodes` +
    (kubelets === null ? "" : `; it is the Node's InternalIP, which the agent takes when told no interface, and Node${kubelets.length > 1 ? "s" : ""} ${listing(kubelets)} ${kubelets.length > 1 ? "have" : "has"} it too: the kubelets registered their default route's address (no --node-ip)`);
  if (better === null) {
    const have = hostAddresses(valueOf(node.kernel.links) ?? []).map((a) => `${a.iface} ${a.ip}`);
    return [fail(node, "public-ip", why, `${restartAgentsWith(cluster, "--iface IFACE (or --iface-can-reach ADDRESS-OF-ANOTHER-NODE, or --public-ip)", undefined, { node, setting: '"iface": ["IFACE"]' })}, naming the interface the nodes reach each other on (this node has ${listing(have) || "no other address"})`)];
  }
  const reach = better.reach === null ? "" : ` (or --iface-can-reach ${better.reach})`;
  // kubectl logs and exec reach a kubelet at its Node's InternalIP, so a shared one breaks them too.
  const nodeIp = kubelets === null ? "" : `; and start the kubelets with --node-ip set to their ${better.iface} address (${better.ip} here), or kubectl logs and exec, which reach a kubelet at its InternalIP, fail as well`;
  return [
    fail(node, "public-ip", why, `${better.iface} holds ${better.ip}, on the network the nodes share: ${restartAgentsWith(cluster, `--iface ${better.iface}${reach}`, undefined, { node, setting: `"iface": ["${better.iface}"]` })}${nodeIp}${labRebuild(cluster, `--iface ${better.iface}`)}`),
  ];
};

/** `; in this lab: …` rebuilding the lab with `flags`, or "" outside a lab. */
function labRebuild(cluster: Cluster, flags: string): string {
  return cluster.lab ? `; in this lab: weft lab down --name ${cluster.lab.name} && ${cluster.lab.upCommand} ${flags}` : "";
}

/**
 * With the kubernetes store: the other Nodes whose InternalIP is `ip`
 * when it is also Node `self`'s, i.e. the address came from the kubelets;
 * else null.
 */
function sharedInternalIp(node: NodeFacts, cluster: Cluster, ip: string, self: string): string[] | null {
  if (!agentIsDaemonSetPod(node) || !cluster.kubernetes?.ok) return null;
  const nodes = cluster.kubernetes.value.nodes;
  if (nodes.find((n) => n.name === self)?.internalIp !== ip) return null;
  const others = nodes.filter((n) => n.name !== self && n.internalIp === ip).map((n) => n.name).sort();
  return others.length > 0 ? others : null;
}

/** See the file comment; null when no interface stands out. */
function betterUnderlay(node: NodeFacts, cluster: Cluster, shared: string, current: string): BetterUnderlay | null {
  const candidates = hostAddresses(valueOf(node.kernel.links) ?? []).filter((a) => a.iface !== current && a.ip !== shared);
  const others = new Set<string>();
  for (const other of cluster.nodes) {
    if (other === node) continue;
    for (const a of hostAddresses(valueOf(other.kernel.links) ?? [])) if (a.ip !== shared) others.add(a.ip);
  }
  for (const p of valueOf(node.agent.status)?.peers ?? []) if (p.publicIp !== shared) others.add(p.publicIp);

  let best: BetterUnderlay | null = null;
  let bestCount = 0;
  for (const c of candidates) {
    const inside = [...others].filter((ip) => contains(c.network, parseIp(ip)) && ip !== c.ip);
    if (inside.length > bestCount) {
      best = { iface: c.iface, ip: c.ip, reach: inside.sort()[0]! };
      bestCount = inside.length;
    }
  }
  if (best !== null) return best;
  const ifaces = new Set(candidates.map((c) => c.iface));
  return ifaces.size === 1 ? { iface: candidates[0]!.iface, ip: candidates[0]!.ip, reach: null } : null;
}

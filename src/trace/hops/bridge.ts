/**
 * The hops on a node's bridge: the host end of a pod's veth (found through
 * the pod's eth0, whose `link_index` is its peer's ifindex in the node) and
 * the bridge itself, which holds the pods' gateway address.
 */
import { bridgeAddress, inSubnet, linkAt, linkDown, linkNamed, type NodeFacts, type PodFacts } from "../facts.ts";
import { ipIn, recreatePodFix } from "../hints.ts";
import { broken, ok, unknown, type Hop } from "../hop.ts";

/** The host end of `pod`'s veth on `node`: present, a port of the bridge, up and forwarding. */
export function hostVethHop(lab: string, pod: PodFacts, node: NodeFacts, bridge: string): Hop {
  const what = `veth of pod ${pod.name}`;
  const eth0 = linkNamed(pod.links, "eth0");
  if (!pod.present || !eth0) return unknown(node.name, what, `pod ${pod.name} has no eth0 to follow`);
  if (eth0.linkinfo?.info_kind !== "veth" || eth0.link_index === undefined) {
    return broken(node.name, what, `pod ${pod.name}'s eth0 is a ${eth0.linkinfo?.info_kind ?? "device"} without a peer`, "a veth pair to the node", recreatePodFix(lab, pod.name));
  }
  const veth = linkAt(node.links, eth0.link_index);
  if (!veth) {
    return broken(node.name, what, `no interface with ifindex ${eth0.link_index} (the peer of pod ${pod.name}'s eth0) in ${node.netns}`, `the host end of the pod's veth on ${node.name}`, recreatePodFix(lab, pod.name));
  }
  const port = veth.linkinfo?.info_slave_data;
  const found = `${veth.ifname} (ifindex ${veth.ifindex}), ${veth.master ? `port of ${veth.master}` : "on no bridge"}`;
  if (veth.master !== bridge) return broken(node.name, what, found, `${veth.ifname} as a port of ${bridge}`, ipIn(node.netns, `link set ${veth.ifname} master ${bridge}`));
  const down = linkDown(veth);
  if (down) return broken(node.name, what, `${found}, ${down}`, `${veth.ifname} up`, ipIn(node.netns, `link set ${veth.ifname} up`));
  if (port?.state !== undefined && port.state !== "forwarding") {
    return broken(node.name, what, `${found}, up, port state ${port.state}`, "the bridge port forwarding", `${ipIn(node.netns, `link set ${veth.ifname} nomaster`)} && ${ipIn(node.netns, `link set ${veth.ifname} master ${bridge}`)}`);
  }
  const notes = port?.hairpin === false ? ["hairpin off: the pod cannot reach itself through a service IP"] : [];
  return ok(node.name, what, `${found}, up, forwarding${port?.hairpin ? ", hairpin on" : ""}`, notes);
}

/** The bridge on `node`: present, up, holding the gateway of a subnet that contains `podIp`. */
export function bridgeHop(lab: string, node: NodeFacts, bridge: string, podIp: string, podName: string): Hop {
  const what = `bridge ${bridge}`;
  const link = linkNamed(node.links, bridge);
  if (!link) return broken(node.name, what, `no ${bridge} in ${node.netns}`, `bridge ${bridge}`, `the weft CNI plugin creates it on a pod ADD: ${recreatePodFix(lab, podName)}`);
  const addr = bridgeAddress(node.links, bridge);
  const ports = node.links.filter((l) => l.master === bridge).length;
  if (!addr) return broken(node.name, what, `${bridge} holds no IPv4 address`, `the pods' gateway address on ${bridge}`, `${ipIn(node.netns, `addr add GATEWAY/LEN dev ${bridge}`)} with the node's subnet file's WEFT_SUBNET (the CNI plugin adds it on a pod ADD)`);
  const found = `${addr.ip}/${addr.len} (the pods' gateway), ${ports} port${ports === 1 ? "" : "s"}`;
  // A bridge has carrier while one of its ports has; a port that is down is its own hop's break.
  if (!link.flags.includes("UP")) return broken(node.name, what, `${found}, down`, `${bridge} up`, ipIn(node.netns, `link set ${bridge} up`));
  if (!inSubnet(addr.subnet, podIp)) return broken(node.name, what, found, `pod ${podName}'s IP ${podIp} inside ${bridge}'s subnet ${addr.subnet}`, recreatePodFix(lab, podName));
  const neigh = node.neighs.find((n) => n.dev === bridge && n.dst === podIp);
  const notes = [
    ...(link.flags.includes("LOWER_UP") ? [] : [`${bridge} has no carrier: none of its ports is up`]),
    ...(neigh?.state?.includes("FAILED") ? [`the neighbour entry for ${podIp} on ${bridge} is FAILED: pod ${podName} did not answer ARP lately`] : []),
  ];
  return ok(node.name, what, `${found}, up`, notes);
}

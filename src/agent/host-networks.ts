/**
 * The networks this node is attached to, which no node subnet may overlap:
 * a pod subnet on top of the underlay's network would take over the
 * addresses of real hosts (the classic "pod CIDR overlaps the host network"
 * mistake, e.g. --pod-cidr 192.168.0.0/16 on a 192.168.x.0/24 LAN).
 *
 * weft's own devices (the bridge weft0, which holds this node's pod
 * gateway, and the vxlan device weft.<VNI>) and loopback are left out,
 * since their addresses come from the pod network itself.
 */
import { formatPrefix, maskOf, overlaps, parseIp, parsePrefix, type Prefix } from "../lib/ipv4.ts";
import type { IpLink } from "../kernel/json.ts";

/** Interface names whose addresses belong to the pod network, not to the host's. */
const WEFT_DEVICE = /^weft(0|\.\d+)$/;

/** Each attached network with the interface it is on. */
export interface HostNetwork {
  iface: string;
  network: Prefix;
}

/** The host networks in `links` (`ip -j addr` output; only IPv4 addresses count). */
export function hostNetworksOf(links: readonly IpLink[]): HostNetwork[] {
  const out: HostNetwork[] = [];
  for (const link of links) {
    if (WEFT_DEVICE.test(link.ifname) || link.flags.includes("LOOPBACK")) continue;
    for (const a of link.addr_info ?? []) {
      if (a.family !== "inet") continue;
      const base = (parseIp(a.local) & maskOf(a.prefixlen)) >>> 0;
      out.push({ iface: link.ifname, network: { base, len: a.prefixlen } });
    }
  }
  return out;
}

/** One line per host network the cluster CIDR overlaps, for the agent's log; empty when none. */
export function overlapWarnings(podCidr: string, networks: readonly HostNetwork[]): string[] {
  const cidr = parsePrefix(podCidr);
  return networks
    .filter((n) => overlaps(cidr, n.network))
    .map((n) => `the cluster CIDR ${podCidr} overlaps ${n.iface}'s network ${formatPrefix(n.network)}: no node subnet overlapping it is leased, but pods cannot reach hosts there without NAT; choose a --pod-cidr that overlaps no host network`);
}

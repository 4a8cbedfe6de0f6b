/**
 * Reading a node's interfaces the way the checks need them: which ones are
 * the host's own networks (not weft's bridge, vxlan device or pods' veths,
 * not loopback) and which IPv4 networks they are on.
 */
import { parseInterfaceAddress, type Prefix } from "../lib/ipv4.ts";
import type { Link } from "./facts.ts";

/** The node bridge's default name (the plugin's `bridge`). */
export const WEFT_BRIDGE = "weft0";

/** One IPv4 address of a link. */
export interface LinkAddress {
  /** The interface, e.g. eth0. */
  iface: string;
  /** The address, e.g. 192.168.125.101. */
  ip: string;
  /** The network it is on, e.g. 192.168.125.0/24. */
  network: Prefix;
}

/** True for the links weft makes: the bridge, the vxlan device and the pods' veths on the bridge. */
export function isWeftLink(link: Link): boolean {
  return link.ifname === WEFT_BRIDGE || /^weft\.\d+$/.test(link.ifname) || link.master === WEFT_BRIDGE;
}

/** True for loopback. */
function isLoopback(link: Link): boolean {
  return link.flags.includes("LOOPBACK") || link.link_type === "loopback";
}

/** The IPv4 addresses of the host's own (non-loopback, not weft's) interfaces, in `ip addr` order. */
export function hostAddresses(links: readonly Link[]): LinkAddress[] {
  return links
    .filter((l) => !isLoopback(l) && !isWeftLink(l))
    .flatMap((l) =>
      (l.addr_info ?? [])
        .filter((a) => a.family === "inet")
        .map((a) => ({ iface: l.ifname, ip: a.local, network: parseInterfaceAddress(`${a.local}/${a.prefixlen}`).prefix })),
    );
}

/**
 * Link operations over rtnetlink: look up, create a bridge, create a veth
 * pair whose peer is born inside another namespace, set up, hairpin,
 * delete. The `*Request` functions build requests for RouteSocket.batch;
 * the others send one request and wait for its answer.
 */
import { attrMac, attrString, attrU32, encodePayload, parseAttrs, strAttr, u32Attr, u8Attr, type Attr } from "./codec.ts";
import { AF_UNSPEC, IFF_LOOPBACK, IFF_UP, IFLA_ADDRESS, IFLA_BRPORT_MODE, IFLA_EXT_MASK, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_INFO_SLAVE_DATA, IFLA_INFO_SLAVE_KIND, IFLA_LINK, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, IFLA_NET_NS_FD, NLM_F_CREATE, NLM_F_EXCL, RTEXT_FILTER_SKIP_STATS, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTM_SETLINK, VETH_INFO_PEER } from "./constants.ts";
import type { Request, RouteSocket } from "./socket.ts";
import { SysError } from "../sys/syscalls.ts";

/** What the plugin needs to know about a link. */
export interface LinkInfo {
  index: number;
  name: string;
  mac: string;
  mtu: number;
  up: boolean;
  /** Index of the bridge this link is enslaved to, if any. */
  master: number | undefined;
  /** IFLA_LINK: for a veth, the index of its peer in the peer's namespace. */
  link: number | undefined;
  /** The link kind (bridge, veth, …) when the kernel reports one; a NIC or loopback has none. */
  kind: string | undefined;
  /** IFF_LOOPBACK: the namespace's `lo`. */
  loopback: boolean;
}

/** struct ifinfomsg: family (AF_UNSPEC), type, index, flags, change. */
export function ifinfomsg(index = 0, flags = 0, change = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, AF_UNSPEC);
  v.setInt32(4, index, true);
  v.setUint32(8, flags, true);
  v.setUint32(12, change, true);
  return b;
}

/** Decodes an RTM_NEWLINK payload. */
export function decodeLink(payload: Uint8Array): LinkInfo {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const attrs = parseAttrs(payload.subarray(16));
  const info = attrs.get(IFLA_LINKINFO);
  return {
    index: v.getInt32(4, true),
    name: attrString(attrs.get(IFLA_IFNAME)) ?? "",
    mac: attrMac(attrs.get(IFLA_ADDRESS)) ?? "",
    mtu: attrU32(attrs.get(IFLA_MTU)) ?? 0,
    up: (v.getUint32(8, true) & IFF_UP) !== 0,
    loopback: (v.getUint32(8, true) & IFF_LOOPBACK) !== 0,
    master: attrU32(attrs.get(IFLA_MASTER)),
    link: attrU32(attrs.get(IFLA_LINK)),
    kind: info ? attrString(parseAttrs(info).get(IFLA_INFO_KIND)) : undefined,
  };
}

/** Looks a link up by name, or by index when given a number. ENODEV when there is none. */
export function getLinkRequest(link: string | number): Request {
  // Without the counters the kernel's answer is about a third shorter, and
  // nothing here reads them.
  const noStats = u32Attr(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return typeof link === "number"
    ? { what: `look up link ${link}`, type: RTM_GETLINK, flags: 0, header: ifinfomsg(link), attrs: [noStats] }
    : { what: `look up link ${link}`, type: RTM_GETLINK, flags: 0, header: ifinfomsg(), attrs: [strAttr(IFLA_IFNAME, link), noStats] };
}

/** Looks a link up by name; undefined when it does not exist. */
export function getLink(sock: RouteSocket, name: string): LinkInfo | undefined {
  const [o] = sock.batch([getLinkRequest(name)]);
  if (o!.error) {
    if (o!.error.code === "ENODEV") return undefined;
    throw o!.error;
  }
  return o!.replies[0] ? decodeLink(o!.replies[0].payload) : undefined;
}

/**
 * Creates a bridge, up, with a MAC address of its own. Throws SysError
 * EEXIST when the name is taken.
 *
 * A bridge given no address takes the lowest MAC among its ports, so it
 * changes whenever a pod with a lower veth MAC comes or goes; the other
 * pods keep the old gateway MAC in their neighbour tables and their
 * packets to the gateway are lost until the entry is probed again (up to
 * ~30 s). An address set at creation stays (the kernel marks it set and
 * no longer recalculates it), as the reference bridge plugin does.
 */
export function createBridge(sock: RouteSocket, name: string): void {
  sock.change(`create bridge ${name}`, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg(0, IFF_UP, IFF_UP), [
    strAttr(IFLA_IFNAME, name),
    { type: IFLA_ADDRESS, data: randomLocalMac() },
    { type: IFLA_LINKINFO, nested: [strAttr(IFLA_INFO_KIND, "bridge")] },
  ]);
}

/** A random unicast, locally administered MAC address (the first octet's low bits 10). */
function randomLocalMac(): Uint8Array {
  const mac = crypto.getRandomValues(new Uint8Array(6));
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

/** Options for a veth pair whose peer is created directly in another namespace. */
export interface VethSpec {
  hostName: string;
  peerName: string;
  mtu: number;
  /** Bridge to enslave the host end to at creation. */
  masterIndex: number;
  /** An open fd of the peer's network namespace. */
  peerNsFd: number;
}

/**
 * Creates the pair in one request: the host end enslaved and up, the peer
 * named and placed in the pod namespace, down. EEXIST when either name is
 * taken (the host end's in the node, the peer's in the pod).
 */
export function createVethRequest(spec: VethSpec): Request {
  const peer: Attr[] = [strAttr(IFLA_IFNAME, spec.peerName), u32Attr(IFLA_MTU, spec.mtu), u32Attr(IFLA_NET_NS_FD, spec.peerNsFd)];
  // VETH_INFO_PEER carries a struct ifinfomsg followed by the peer's attributes.
  // The peer cannot be born up: the kernel opens it before the pair is
  // linked and veth_open fails with ENOTCONN. The caller sets it up.
  const peerBody = encodePayload(ifinfomsg(), peer);
  return {
    what: `create veth ${spec.hostName}`,
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: ifinfomsg(0, IFF_UP, IFF_UP),
    attrs: [
      strAttr(IFLA_IFNAME, spec.hostName),
      u32Attr(IFLA_MTU, spec.mtu),
      u32Attr(IFLA_MASTER, spec.masterIndex),
      { type: IFLA_LINKINFO, nested: [strAttr(IFLA_INFO_KIND, "veth"), { type: IFLA_INFO_DATA, nested: [{ type: VETH_INFO_PEER, data: peerBody }] }] },
    ],
  };
}

/** Sets IFF_UP on a link. */
export function linkUpRequest(index: number): Request {
  return { what: `set link ${index} up`, type: RTM_SETLINK, flags: 0, header: ifinfomsg(index, IFF_UP, IFF_UP) };
}

/**
 * Turns hairpin mode on for the bridge port named `name`, so a pod can
 * reach itself through a service IP. Addressed by name (as `ip link set
 * NAME type bridge_slave hairpin on` does), so it can follow the request
 * that creates the port in the same batch.
 */
export function hairpinRequest(name: string): Request {
  return {
    what: `set hairpin on ${name}`,
    type: RTM_NEWLINK,
    flags: 0,
    header: ifinfomsg(),
    attrs: [
      strAttr(IFLA_IFNAME, name),
      { type: IFLA_LINKINFO, nested: [strAttr(IFLA_INFO_SLAVE_KIND, "bridge"), { type: IFLA_INFO_SLAVE_DATA, nested: [u8Attr(IFLA_BRPORT_MODE, 1)] }] },
    ],
  };
}

/** Deletes a link by name; returns false when it was already gone. */
export function deleteLink(sock: RouteSocket, name: string): boolean {
  try {
    sock.change(`delete link ${name}`, RTM_DELLINK, 0, ifinfomsg(), [strAttr(IFLA_IFNAME, name)]);
    return true;
  } catch (err) {
    if (err instanceof SysError && err.code === "ENODEV") return false;
    throw err;
  }
}

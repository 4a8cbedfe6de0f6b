/**
 * Link operations over rtnetlink: look up, create a bridge, create a veth
 * pair whose peer is born inside another namespace, set flags, enslave,
 * hairpin, delete.
 */
import { attrMac, attrString, attrU32, encodePayload, parseAttrs, strAttr, u32Attr, u8Attr, type Attr } from "./codec.ts";
import { AF_BRIDGE, AF_UNSPEC, IFF_UP, IFLA_ADDRESS, IFLA_BRPORT_MODE, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, IFLA_NET_NS_FD, IFLA_PROTINFO, NLM_F_CREATE, NLM_F_EXCL, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTM_SETLINK, VETH_INFO_PEER } from "./constants.ts";
import type { RouteSocket } from "./socket.ts";
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
  /** The link kind (bridge, veth, …) when the kernel reports one. */
  kind: string | undefined;
}

/** struct ifinfomsg: family, type, index, flags, change. */
export function ifinfomsg(index = 0, flags = 0, change = 0, family = AF_UNSPEC): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, family);
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
    master: attrU32(attrs.get(IFLA_MASTER)),
    kind: info ? attrString(parseAttrs(info).get(IFLA_INFO_KIND)) : undefined,
  };
}

/** Looks a link up by name; undefined when it does not exist. */
export function getLink(sock: RouteSocket, name: string): LinkInfo | undefined {
  try {
    const [reply] = sock.get(`look up link ${name}`, RTM_GETLINK, ifinfomsg(), [strAttr(IFLA_IFNAME, name)], true);
    return reply ? decodeLink(reply.payload) : undefined;
  } catch (err) {
    if (err instanceof SysError && err.code === "ENODEV") return undefined;
    throw err;
  }
}

/** Creates a bridge, up. Throws SysError EEXIST when the name is taken. */
export function createBridge(sock: RouteSocket, name: string): void {
  sock.change(`create bridge ${name}`, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg(0, IFF_UP, IFF_UP), [
    strAttr(IFLA_IFNAME, name),
    { type: IFLA_LINKINFO, nested: [strAttr(IFLA_INFO_KIND, "bridge")] },
  ]);
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
 * taken.
 */
export function createVeth(sock: RouteSocket, spec: VethSpec): void {
  const peer: Attr[] = [strAttr(IFLA_IFNAME, spec.peerName), u32Attr(IFLA_MTU, spec.mtu), u32Attr(IFLA_NET_NS_FD, spec.peerNsFd)];
  // VETH_INFO_PEER carries a struct ifinfomsg followed by the peer's attributes.
  // The peer cannot be born up: the kernel opens it before the pair is
  // linked and veth_open fails with ENOTCONN. The caller sets it up.
  const peerHeader = ifinfomsg();
  const peerBody = encodePayload(peerHeader, peer);
  sock.change(`create veth ${spec.hostName}`, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg(0, IFF_UP, IFF_UP), [
    strAttr(IFLA_IFNAME, spec.hostName),
    u32Attr(IFLA_MTU, spec.mtu),
    u32Attr(IFLA_MASTER, spec.masterIndex),
    { type: IFLA_LINKINFO, nested: [strAttr(IFLA_INFO_KIND, "veth"), { type: IFLA_INFO_DATA, nested: [{ type: VETH_INFO_PEER, data: peerBody }] }] },
  ]);
}

/** Sets IFF_UP on a link. */
export function setLinkUp(sock: RouteSocket, index: number): void {
  sock.change(`set link ${index} up`, RTM_SETLINK, 0, ifinfomsg(index, IFF_UP, IFF_UP));
}

/** Turns hairpin mode on for a bridge port, so a pod can reach itself through a service IP. */
export function setHairpin(sock: RouteSocket, index: number): void {
  sock.change(`set hairpin on link ${index}`, RTM_SETLINK, 0, ifinfomsg(index, 0, 0, AF_BRIDGE), [
    { type: IFLA_PROTINFO, nested: [u8Attr(IFLA_BRPORT_MODE, 1)] },
  ]);
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

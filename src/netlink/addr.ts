/** IPv4 address operations over rtnetlink. */
import { attrIpv4, ipv4Attr, parseAttrs } from "./codec.ts";
import { AF_INET, IFA_ADDRESS, IFA_BROADCAST, IFA_LOCAL, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RTM_GETADDR, RTM_NEWADDR } from "./constants.ts";
import type { Request, RouteSocket } from "./socket.ts";
import { formatIp, lastOf, maskOf } from "../lib/ipv4.ts";

/** An IPv4 address on a link. */
export interface AddrInfo {
  index: number;
  ip: number;
  len: number;
}

function ifaddrmsg(index: number, len: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, AF_INET);
  v.setUint8(1, len);
  v.setUint32(4, index, true);
  return b;
}

/**
 * Adds `ip/len` with its broadcast address on link `index`. When the link
 * already holds it, `exclusive` makes that EEXIST (and changes nothing, so
 * nobody is notified); otherwise the address is replaced, which is success.
 */
export function addAddressRequest(index: number, ip: number, len: number, exclusive: boolean): Request {
  return {
    what: `add address ${formatIp(ip)}/${len}`,
    type: RTM_NEWADDR,
    flags: NLM_F_CREATE | (exclusive ? NLM_F_EXCL : NLM_F_REPLACE),
    header: ifaddrmsg(index, len),
    attrs: [ipv4Attr(IFA_LOCAL, ip), ipv4Attr(IFA_ADDRESS, ip), ...(len < 31 ? [ipv4Attr(IFA_BROADCAST, lastOf({ base: (ip & maskOf(len)) >>> 0, len }))] : [])],
  };
}

/** Lists the IPv4 addresses of the namespace, optionally of one link. */
export function listAddresses(sock: RouteSocket, index?: number): AddrInfo[] {
  const out: AddrInfo[] = [];
  for (const m of sock.get("list addresses", RTM_GETADDR, ifaddrmsg(0, 0))) {
    const v = new DataView(m.payload.buffer, m.payload.byteOffset, 8);
    const attrs = parseAttrs(m.payload.subarray(8));
    const ip = attrIpv4(attrs.get(IFA_LOCAL)) ?? attrIpv4(attrs.get(IFA_ADDRESS));
    const i = v.getUint32(4, true);
    if (ip !== undefined && (index === undefined || index === i)) out.push({ index: i, ip, len: v.getUint8(1) });
  }
  return out;
}

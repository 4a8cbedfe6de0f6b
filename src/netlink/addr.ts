/** IPv4 address operations over rtnetlink. */
import { attrIpv4, ipv4Attr, parseAttrs } from "./codec.ts";
import { AF_INET, IFA_ADDRESS, IFA_BROADCAST, IFA_LOCAL, NLM_F_CREATE, NLM_F_REPLACE, RTM_GETADDR, RTM_NEWADDR } from "./constants.ts";
import type { RouteSocket } from "./socket.ts";
import { formatIp, lastOf } from "../lib/ipv4.ts";

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

/** Adds (or keeps) `ip/len` with its broadcast address on link `index`; idempotent. */
export function ensureAddress(sock: RouteSocket, index: number, ip: number, len: number): void {
  const broadcast = lastOf({ base: ip, len });
  sock.change(`add address ${formatIp(ip)}/${len}`, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifaddrmsg(index, len), [
    ipv4Attr(IFA_LOCAL, ip),
    ipv4Attr(IFA_ADDRESS, ip),
    ...(len < 31 ? [ipv4Attr(IFA_BROADCAST, broadcast)] : []),
  ]);
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

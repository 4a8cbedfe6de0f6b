/** IPv4 route operations over rtnetlink (main table). */
import { attrIpv4, attrU32, ipv4Attr, parseAttrs, u32Attr } from "./codec.ts";
import { AF_INET, NLM_F_CREATE, NLM_F_REPLACE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_TABLE, RTM_GETROUTE, RTM_NEWROUTE, RTN_UNICAST, RTPROT_BOOT } from "./constants.ts";
import type { Request, RouteSocket } from "./socket.ts";
import { formatIp } from "../lib/ipv4.ts";

/** A route in the main table. */
export interface RouteInfo {
  dst: number;
  len: number;
  gateway: number | undefined;
  oif: number | undefined;
}

function rtmsg(len: number): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = AF_INET;
  b[1] = len;
  b[4] = RT_TABLE_MAIN;
  b[5] = RTPROT_BOOT;
  b[6] = RT_SCOPE_UNIVERSE;
  b[7] = RTN_UNICAST;
  return b;
}

/** Adds or replaces the route `dst/len via gateway dev oif`. */
export function routeRequest(dst: number, len: number, gateway: number, oif: number): Request {
  return {
    what: `add route ${formatIp(dst)}/${len} via ${formatIp(gateway)}`,
    type: RTM_NEWROUTE,
    flags: NLM_F_CREATE | NLM_F_REPLACE,
    header: rtmsg(len),
    attrs: [...(len > 0 ? [ipv4Attr(RTA_DST, dst)] : []), ipv4Attr(RTA_GATEWAY, gateway), u32Attr(RTA_OIF, oif)],
  };
}

/** Lists the IPv4 routes of the main table. */
export function listRoutes(sock: RouteSocket): RouteInfo[] {
  const out: RouteInfo[] = [];
  for (const m of sock.get("list routes", RTM_GETROUTE, rtmsg(0))) {
    const attrs = parseAttrs(m.payload.subarray(12));
    const table = attrU32(attrs.get(RTA_TABLE)) ?? m.payload[4];
    if (table !== RT_TABLE_MAIN) continue;
    out.push({ dst: attrIpv4(attrs.get(RTA_DST)) ?? 0, len: m.payload[1] ?? 0, gateway: attrIpv4(attrs.get(RTA_GATEWAY)), oif: attrU32(attrs.get(RTA_OIF)) });
  }
  return out;
}

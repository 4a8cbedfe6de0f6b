/**
 * Results in the version the runtime asked for. 0.3.x and 0.4.0 carry a
 * `version` on each IP; 1.0.0 and later do not. A previous plugin's result
 * (read and checked by prev-result.ts) is extended, never dropped, so weft
 * chains in any position.
 */
import { atLeast, type CniVersion } from "./version.ts";
import type { DnsConfig } from "./fields.ts";

export interface Interface {
  name: string;
  mac: string;
  sandbox?: string;
  mtu?: number;
}

export interface IpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
}

export interface Result {
  interfaces: Interface[];
  ips: IpConfig[];
  routes: Route[];
  dns: DnsConfig | undefined;
}

/** The result of no plugin: what a plugin first in its chain extends. */
export const EMPTY_RESULT: Result = { interfaces: [], ips: [], routes: [], dns: undefined };

/** Appends this plugin's interfaces and addresses; `ips[].interface` index into `own`. */
export function extend(base: Result, own: Result): Result {
  const offset = base.interfaces.length;
  const ips = [...base.ips];
  for (const ip of own.ips) ips.push(ip.interface === undefined ? ip : { ...ip, interface: ip.interface + offset });
  return {
    interfaces: [...base.interfaces, ...own.interfaces],
    ips,
    routes: [...base.routes, ...own.routes],
    dns: own.dns ?? base.dns,
  };
}

/** The JSON object for `version`. */
export function encodeResult(r: Result, version: CniVersion): Record<string, unknown> {
  const withMtu = atLeast(version, "1.1.0");
  const modern = atLeast(version, "1.0.0");
  const interfaces: Interface[] = [];
  for (const i of r.interfaces) interfaces.push(withMtu || i.mtu === undefined ? i : { name: i.name, mac: i.mac, ...(i.sandbox ? { sandbox: i.sandbox } : {}) });
  const ips: Array<IpConfig & { version?: string }> = [];
  for (const ip of r.ips) ips.push(modern ? ip : { version: ip.address.includes(":") ? "6" : "4", ...ip });
  const out: Record<string, unknown> = { cniVersion: version, interfaces, ips };
  if (r.routes.length > 0) out.routes = r.routes;
  if (r.dns) out.dns = r.dns;
  return out;
}

/**
 * Results in the version the runtime asked for. 0.3.x and 0.4.0 carry a
 * `version` on each IP; 1.0.0 and later do not. A previous plugin's result is
 * converted and extended, never dropped, so weft chains in any position.
 */
import { atLeast, type CniVersion } from "./version.ts";
import type { DnsConfig } from "./config.ts";

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

/** Reads a previous result of any supported version into the common shape. */
export function fromPrevResult(prev: Record<string, unknown> | undefined): Result {
  const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
  const ips = list<IpConfig & { version?: string }>(prev?.ips).map(({ version: _version, ...ip }) => ip);
  const dns = prev?.dns as DnsConfig | undefined;
  return { interfaces: list<Interface>(prev?.interfaces), ips, routes: list<Route>(prev?.routes), dns: dns && Object.keys(dns).length > 0 ? dns : undefined };
}

/** Appends this plugin's interfaces and addresses; `ips[].interface` index into `own`. */
export function extend(base: Result, own: Result): Result {
  const offset = base.interfaces.length;
  return {
    interfaces: [...base.interfaces, ...own.interfaces],
    ips: [...base.ips, ...own.ips.map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: ip.interface + offset }))],
    routes: [...base.routes, ...own.routes],
    dns: own.dns ?? base.dns,
  };
}

/** The JSON object for `version`. */
export function encodeResult(r: Result, version: CniVersion): Record<string, unknown> {
  const modern = atLeast(version, "1.0.0");
  const out: Record<string, unknown> = {
    cniVersion: version,
    interfaces: r.interfaces.map((i) => (atLeast(version, "1.1.0") || i.mtu === undefined ? i : { name: i.name, mac: i.mac, ...(i.sandbox ? { sandbox: i.sandbox } : {}) })),
    ips: r.ips.map((ip) => (modern ? ip : { version: ip.address.includes(":") ? "6" : "4", ...ip })),
  };
  if (r.routes.length > 0) out.routes = r.routes;
  if (r.dns) out.dns = r.dns;
  return out;
}

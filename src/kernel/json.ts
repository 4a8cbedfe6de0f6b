/**
 * The parts of iproute2's JSON output (`ip -j`, `bridge -j`, iproute2 6.1)
 * that weft reads. Only the fields used are declared; iproute2 omits a field
 * rather than printing null, hence the optionals.
 */

/** One address in `ip -j addr` (`addr_info[]`). */
export interface AddrInfo {
  family: string; // "inet" | "inet6"
  local: string;
  prefixlen: number;
  scope?: string;
}

/** One link in `ip -j [-d] addr` / `ip -j [-d] link`. */
export interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  link_type?: string;
  address?: string;
  addr_info?: AddrInfo[];
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

/** One route in `ip -j route show` / `ip -j route get`. */
export interface IpRoute {
  dst: string; // "default", "10.244.2.0/24", or a bare address for a /32
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  protocol?: string;
  flags: string[];
}

/** One entry in `ip -j neigh show`. */
export interface IpNeigh {
  dst: string;
  lladdr?: string;
  state?: string[];
}

/** One entry in `bridge -j fdb show`. */
export interface FdbEntry {
  mac: string;
  dst?: string;
  flags?: string[];
  state?: string;
}

/** The prefix text of a route's `dst`: `default` → 0.0.0.0/0, a bare address → /32. */
export function routeDst(route: IpRoute): string {
  if (route.dst === "default") return "0.0.0.0/0";
  return route.dst.includes("/") ? route.dst : `${route.dst}/32`;
}

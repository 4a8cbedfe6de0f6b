/**
 * What doctor reads of service proxying in a node's `nft -j list ruleset`:
 * the keys of weft's table `ip weft-proxy` (its four verdict maps), and
 * every sign of kube-proxy: its nftables-mode table (`ip kube-proxy`, or
 * `inet kube-proxy`) with the keys of its service-ips map, and the
 * iptables-mode chain KUBE-SERVICES (iptables-nft keeps it in the nftables
 * ruleset, table ip nat) with the address, protocol and port each of its
 * rules matches. Both are pure functions of the listing.
 */
import { nftChains, type NftRuleset } from "../kernel/nft-ruleset.ts";
import { SET_NO_ENDPOINT_NODEPORTS, SET_NO_ENDPOINT_SERVICES, SET_SERVICE_IPS, SET_SERVICE_NODEPORTS, TABLE } from "../proxy/plan.ts";

/** The elements of weft's proxy table: `map|key` strings, e.g. `service-ips|10.96.0.40 . tcp . 80`. */
export interface ProxyTableFacts {
  elements: string[];
}

/** One place kube-proxy programs Services, with the `ip . proto . port` keys it translates. */
export interface KubeProxyFacts {
  /** e.g. `table ip kube-proxy`, `chain KUBE-SERVICES in table ip nat`. */
  where: string;
  /** `10.96.0.40 . tcp . 80` for each service address it translates. */
  keys: string[];
}

/** The verdict maps doctor compares: one key per service address and port. */
export const PROXY_MAPS = [SET_SERVICE_IPS, SET_NO_ENDPOINT_SERVICES, SET_SERVICE_NODEPORTS, SET_NO_ENDPOINT_NODEPORTS];

interface NftSetObject {
  family: string;
  table: string;
  name: string;
  elem?: unknown[];
}

/** A set or map element's key as nft prints it (`a . b . c`). */
function keyText(elem: unknown): string {
  // A map element is [key, value]; an element with a timeout or comment is {elem: {val: key, …}}.
  let key = Array.isArray(elem) ? elem[0] : elem;
  if (typeof key === "object" && key !== null && "elem" in key) key = (key as { elem: { val: unknown } }).elem.val;
  if (typeof key === "object" && key !== null && "concat" in key) return (key as { concat: unknown[] }).concat.map(String).join(" . ");
  return String(key);
}

function setsAndMaps(ruleset: NftRuleset): NftSetObject[] {
  return ((ruleset.nftables ?? []) as { set?: NftSetObject; map?: NftSetObject }[]).flatMap((o) => (o.map ? [o.map] : o.set ? [o.set] : []));
}

function hasTable(ruleset: NftRuleset, family: string, name: string): boolean {
  return ((ruleset.nftables ?? []) as { table?: { family: string; name: string } }[]).some((o) => o.table?.family === family && o.table.name === name);
}

/** weft's proxy table, or null when it does not exist. */
export function proxyTableFacts(ruleset: NftRuleset): ProxyTableFacts | null {
  if (!hasTable(ruleset, TABLE.family, TABLE.name)) return null;
  const elements = setsAndMaps(ruleset)
    .filter((s) => s.family === TABLE.family && s.table === TABLE.name && PROXY_MAPS.includes(s.name))
    .flatMap((s) => (s.elem ?? []).map((e) => `${s.name}|${keyText(e)}`));
  return { elements: elements.sort() };
}

/** The address, protocol and port a KUBE-SERVICES rule matches (`10.96.0.1 . tcp . 443`), or null. */
function ruleKey(expr: unknown[]): string | null {
  let ip: string | undefined;
  let proto: string | undefined;
  let port: string | undefined;
  for (const s of expr) {
    const m = (s as { match?: { left?: { payload?: { protocol?: string; field?: string } }; right?: unknown } }).match;
    const p = m?.left?.payload;
    if (!p || (typeof m.right !== "string" && typeof m.right !== "number")) continue;
    if (p.protocol === "ip" && p.field === "daddr") ip = String(m.right);
    else if ((p.protocol === "tcp" || p.protocol === "udp" || p.protocol === "sctp") && p.field === "dport") {
      proto = p.protocol;
      port = String(m.right);
    }
  }
  return ip && proto && port ? `${ip} . ${proto} . ${port}` : null;
}

/** Every place kube-proxy programs Services in this ruleset (none: an empty list). */
export function kubeProxyFacts(ruleset: NftRuleset): KubeProxyFacts[] {
  const found: KubeProxyFacts[] = [];
  for (const family of ["ip", "inet"]) {
    if (!hasTable(ruleset, family, "kube-proxy")) continue;
    const keys = setsAndMaps(ruleset)
      .filter((s) => s.family === family && s.table === "kube-proxy" && s.name === "service-ips")
      .flatMap((s) => (s.elem ?? []).map(keyText));
    found.push({ where: `table ${family} kube-proxy`, keys: [...new Set(keys)].sort() });
  }
  for (const c of nftChains(ruleset)) {
    if (c.name !== "KUBE-SERVICES") continue;
    const keys = c.rules.flatMap((r) => ruleKey(r) ?? []);
    found.push({ where: `chain KUBE-SERVICES in table ${c.family} ${c.table} (kube-proxy's iptables mode)`, keys: [...new Set(keys)].sort() });
  }
  return found;
}

/**
 * The service proxy's planner: a pure function from Services, their
 * EndpointSlices and this node's facts to the desired contents of the
 * nftables table `ip weft-proxy`. Nothing here touches the kernel; diff.ts
 * turns two plans into a transaction.
 *
 * The table (kube-proxy's nftables design, with the changes noted):
 *
 *   base chains                         hook / priority (dstnat = -100)
 *     filter-prerouting, filter-output  prerouting, output / dstnat - 10
 *         new connections: jump firewall-check, jump endpoints-check
 *     nat-prerouting, nat-output        prerouting, output / dstnat
 *         jump services
 *     filter-prerouting-post-dnat,      prerouting, output / dstnat + 10
 *     filter-output-post-dnat
 *         new connections: jump cluster-ips-check
 *     nat-postrouting                   postrouting / srcnat
 *         jump masquerading
 *
 *   services           ip daddr . l4proto . dport vmap @service-ips
 *                      local daddr: l4proto . dport vmap @service-nodeports
 *   endpoints-check    the same keys vmap @no-endpoint-services /
 *                      @no-endpoint-nodeports: goto reject-chain (no
 *                      endpoint at all: a TCP reset, or ICMP port
 *                      unreachable for other protocols, so connect() fails
 *                      at once with ECONNREFUSED; TCP gets a reset because
 *                      the kernel rate-limits ICMP errors per client, 6 in
 *                      a burst, then one a second) or drop (endpoints
 *                      exist, none for this traffic's policy). kube-proxy
 *                      rejects on input/forward/output, which needs a route
 *                      to the service IP; rejecting in prerouting does not.
 *   firewall-check     LB IP . l4proto . dport vmap @firewall-ips → fw-*:
 *                      sources outside loadBalancerSourceRanges dropped
 *   cluster-ips-check  after DNAT: a ClusterIP still the destination means
 *                      an undefined port → reject; any other address in
 *                      the service CIDR is unallocated → drop
 *
 *   per service port (id = namespace/name/protocol/port-name):
 *     svc-<id>   cluster policy: masquerade sources outside the cluster
 *                CIDR, ClientIP affinity, then the endpoint: one rule per
 *                endpoint i of N, `numgen random mod (N-i) == 0 goto ep-…`
 *                (the last one unconditional), so each gets 1/N. kube-proxy
 *                writes one `numgen random mod N vmap { … }` instead; each
 *                such rule makes an anonymous set, and the kernel names a
 *                new anonymous set by scanning the table's sets, so 10,000
 *                Services cost 114 s of kernel time to load against 2.5 s
 *                this way (Linux 6.18, nft 1.0.6; bench/proxy-sync)
 *     svl-<id>   local policy (ETP or ITP Local): the same over this node's
 *                endpoints
 *     ext-<id>   NodePort, external and LB IPs. Cluster policy: masquerade,
 *                goto svc. Local policy: this node's pods and the node itself
 *                go to svc (so they reach the service even with no endpoint
 *                here: the drop is the chain's last rule, not a verdict
 *                taken before DNAT for everyone), everyone
 *                else keeps its source and goes to svl, or is dropped when
 *                there is no local endpoint
 *     fw-<id>    loadBalancerSourceRanges
 *     ep-<id>__<ip>/<port>   hairpin masquerade, affinity update, DNAT
 *     aff-<timeout>-<id>__<ip>/<port>   dynamic set of client IPs with
 *                the affinity timeout (in the name, so a new timeout is a
 *                new set rather than an in-place change nft refuses)
 *
 * Endpoints: ready ones; when none is ready, serving-terminating ones (per
 * policy: the cluster's and this node's separately). A named targetPort is
 * whatever each slice says for that port name, so pods that number it
 * differently sit in different slices and each gets its own number.
 *
 * Every service yields a ServiceFragment that depends only on the Service,
 * its slices and the options, so a planner cache can reuse fragments whose
 * inputs did not change, and the diff can skip them by identity.
 */
import type { NftChain, NftElement, NftSet } from "../kernel/nft/objects.ts";
import { formatPrefix, parsePrefix, tryParseIp, type Prefix } from "../lib/ipv4.ts";
import { serviceKey, type Endpoint, type EndpointSlice, type Protocol, type Service, type ServicePort } from "./types.ts";

export const TABLE = { family: "ip", name: "weft-proxy" } as const;

/** The packet mark bit that asks nat-postrouting to masquerade (kube-proxy's bit, so both never run at once unnoticed). */
export const MASQUERADE_MARK = 0x4000;

export const SET_SERVICE_IPS = "service-ips";
export const SET_SERVICE_NODEPORTS = "service-nodeports";
export const SET_NO_ENDPOINT_SERVICES = "no-endpoint-services";
export const SET_NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports";
export const SET_FIREWALL_IPS = "firewall-ips";
export const SET_CLUSTER_IPS = "cluster-ips";

const CHAIN_SERVICES = "services";
const CHAIN_ENDPOINTS_CHECK = "endpoints-check";
const CHAIN_FIREWALL_CHECK = "firewall-check";
const CHAIN_CLUSTER_IPS_CHECK = "cluster-ips-check";
const CHAIN_MARK_MASQ = "mark-for-masquerade";
const CHAIN_MASQUERADING = "masquerading";
const CHAIN_REJECT = "reject-chain";

/** The node facts the plan depends on. */
export interface PlanOptions {
  /** This node's name, as in EndpointSlice endpoints' nodeName. */
  nodeName: string;
  /** This node's pod subnet (e.g. 10.244.1.0/24): its pods count as internal for externalTrafficPolicy Local. */
  nodePodCidr: string;
  /** The cluster's pod CIDR (default 10.244.0.0/16): ClusterIP traffic from outside it is masqueraded. */
  clusterCidr: string;
  /** The service CIDR (default 10.96.0.0/12): unallocated addresses in it are dropped. */
  serviceCidr: string;
}

/** One service port as planned, for status, metrics, conntrack cleanup and tests. */
export interface PortPlan {
  /** namespace/name/protocol/port-name */
  id: string;
  protocol: Protocol;
  /** Where clients send: `ip:port` for ClusterIPs, external and LB IPs; `*:nodePort` for the NodePort. */
  destinations: string[];
  /** `ip:port` of every endpoint some chain sends to (cluster and local policy together). */
  endpoints: string[];
  /** Endpoints on this node (usable ones). */
  localEndpoints: string[];
  /** What a client gets: forwarded, refused (no endpoints) or dropped (none for its policy). */
  internal: "forward" | "reject" | "drop";
  external: "forward" | "reject" | "drop" | "none";
}

/** What one Service contributes to the table. */
export interface ServiceFragment {
  key: string;
  /** Regular chains (name → rules) this service owns. */
  chains: Map<string, string[]>;
  /** Dynamic affinity sets this service owns. */
  sets: NftSet[];
  /** Elements this service puts into the shared maps and sets, by set name. */
  elements: Map<string, NftElement[]>;
  ports: PortPlan[];
  /** `set|key` of every element a map (not the cluster-ips set) must hold once only. */
  elementKeys: string[];
  /** For a LoadBalancer with externalTrafficPolicy Local: the health check port and this node's endpoint count. */
  health?: { port: number; localEndpoints: number };
  problems: string[];
  /** The inputs, kept for reuse by identity. */
  readonly service: Service;
  readonly slices: readonly EndpointSlice[];
}

/** A chain with its rules. */
export interface PlannedChain {
  chain: NftChain;
  rules: string[];
}

/** The whole desired table. */
export interface ProxyPlan {
  /** Base and helper chains, always present. */
  baseChains: PlannedChain[];
  /** The shared maps and sets (elements come from fragments). */
  baseSets: NftSet[];
  fragments: Map<string, ServiceFragment>;
  /** Elements refused because another service already claims the key, and other input problems. */
  problems: string[];
}

/** Reusable fragments from earlier plans; pass the same cache to consecutive plans with the same options. */
export class PlanCache {
  readonly fragments = new Map<string, ServiceFragment>();
}

/** The desired table for `services` and `slices` on this node. Pure apart from filling `cache`. */
export function planProxy(services: Iterable<Service>, slicesByService: ReadonlyMap<string, readonly EndpointSlice[]>, options: PlanOptions, cache?: PlanCache): ProxyPlan {
  const opts = checkOptions(options);
  const fragments = new Map<string, ServiceFragment>();
  for (const svc of services) {
    if (svc.type === "ExternalName") continue;
    const key = serviceKey(svc);
    const slices = slicesByService.get(key) ?? [];
    const old = cache?.fragments.get(key);
    const f = old && old.service === svc && sameList(old.slices, slices) ? old : planService(svc, slices, opts);
    fragments.set(key, f);
  }
  if (cache) {
    cache.fragments.clear();
    for (const [k, f] of fragments) cache.fragments.set(k, f);
  }
  const problems = resolveConflicts(fragments);
  return { baseChains: baseChains(opts), baseSets: BASE_SETS, fragments, problems };
}

interface CheckedOptions extends PlanOptions {
  serviceNet: Prefix;
}

function checkOptions(o: PlanOptions): CheckedOptions {
  const norm = (text: string, what: string) => formatPrefix(parsePrefix(text, what));
  return {
    nodeName: o.nodeName,
    nodePodCidr: norm(o.nodePodCidr, "node pod CIDR"),
    clusterCidr: norm(o.clusterCidr, "cluster CIDR"),
    serviceCidr: norm(o.serviceCidr, "service CIDR"),
    serviceNet: parsePrefix(o.serviceCidr, "service CIDR"),
  };
}

const BASE_SETS: NftSet[] = [
  { name: SET_SERVICE_IPS, key: ["ipv4_addr", "inet_proto", "inet_service"], value: "verdict" },
  { name: SET_SERVICE_NODEPORTS, key: ["inet_proto", "inet_service"], value: "verdict" },
  { name: SET_NO_ENDPOINT_SERVICES, key: ["ipv4_addr", "inet_proto", "inet_service"], value: "verdict" },
  { name: SET_NO_ENDPOINT_NODEPORTS, key: ["inet_proto", "inet_service"], value: "verdict" },
  { name: SET_FIREWALL_IPS, key: ["ipv4_addr", "inet_proto", "inet_service"], value: "verdict" },
  { name: SET_CLUSTER_IPS, key: ["ipv4_addr"] },
];

/** nft's dstnat and srcnat priorities as numbers: nft 1.0.6 accepts the names only on some hooks (not output). */
const DSTNAT = -100;
const SRCNAT = 100;

const KEY3 = "ip daddr . meta l4proto . th dport";
const LOCAL_DST = "fib daddr type local ip daddr != 127.0.0.0/8";

function baseChains(o: CheckedOptions): PlannedChain[] {
  const hooked = (name: string, type: "filter" | "nat", hook: "prerouting" | "output" | "postrouting", priority: number, rules: string[]): PlannedChain => ({
    chain: { name, base: { type, hook, priority } },
    rules,
  });
  const mark = `0x${MASQUERADE_MARK.toString(16)}`;
  const preChecks = ["ct state new jump firewall-check", "ct state new jump endpoints-check"];
  const postChecks = ["ct state new jump cluster-ips-check"];
  return [
    hooked("filter-prerouting", "filter", "prerouting", DSTNAT - 10, preChecks),
    hooked("filter-output", "filter", "output", DSTNAT - 10, preChecks),
    hooked("nat-prerouting", "nat", "prerouting", DSTNAT, [`jump ${CHAIN_SERVICES}`]),
    hooked("nat-output", "nat", "output", DSTNAT, [`jump ${CHAIN_SERVICES}`]),
    hooked("filter-prerouting-post-dnat", "filter", "prerouting", DSTNAT + 10, postChecks),
    hooked("filter-output-post-dnat", "filter", "output", DSTNAT + 10, postChecks),
    hooked("nat-postrouting", "nat", "postrouting", SRCNAT, [`jump ${CHAIN_MASQUERADING}`]),
    { chain: { name: CHAIN_SERVICES }, rules: [`${KEY3} vmap @${SET_SERVICE_IPS}`, `${LOCAL_DST} meta l4proto . th dport vmap @${SET_SERVICE_NODEPORTS}`] },
    { chain: { name: CHAIN_ENDPOINTS_CHECK }, rules: [`${KEY3} vmap @${SET_NO_ENDPOINT_SERVICES}`, `${LOCAL_DST} meta l4proto . th dport vmap @${SET_NO_ENDPOINT_NODEPORTS}`] },
    { chain: { name: CHAIN_FIREWALL_CHECK }, rules: [`${KEY3} vmap @${SET_FIREWALL_IPS}`] },
    { chain: { name: CHAIN_CLUSTER_IPS_CHECK }, rules: [`ip daddr @${SET_CLUSTER_IPS} goto ${CHAIN_REJECT}`, `ip daddr ${o.serviceCidr} drop`] },
    { chain: { name: CHAIN_MARK_MASQ }, rules: [`meta mark set meta mark | ${mark}`] },
    { chain: { name: CHAIN_MASQUERADING }, rules: [`meta mark & ${mark} == 0 return`, `meta mark set meta mark ^ ${mark}`, "masquerade fully-random"] },
    { chain: { name: CHAIN_REJECT }, rules: ["meta l4proto tcp reject with tcp reset", "reject"] },
  ];
}

/** An endpoint of one service port, after slice resolution. */
interface PortEndpoint extends Endpoint {
  port: number;
  local: boolean;
}

/** Ready endpoints; when none is ready, the serving ones that are terminating. */
function usable(eps: readonly PortEndpoint[]): PortEndpoint[] {
  const ready = eps.filter((e) => e.ready);
  return ready.length ? ready : eps.filter((e) => e.serving && e.terminating);
}

/** Plans one Service; pure. Exported for tests. */
export function planService(svc: Service, slices: readonly EndpointSlice[], o: CheckedOptions | PlanOptions): ServiceFragment {
  const opts = "serviceNet" in o ? o : checkOptions(o);
  const key = serviceKey(svc);
  const f: ServiceFragment = { key, chains: new Map(), sets: [], elements: new Map(), ports: [], elementKeys: [], problems: [], service: svc, slices };
  const add = (set: string, e: NftElement) => {
    let list = f.elements.get(set);
    if (!list) f.elements.set(set, (list = []));
    list.push(e);
    // A set: sharing an address is harmless.
    if (set !== SET_CLUSTER_IPS) f.elementKeys.push(elementKey(set, e));
  };
  const ips = (list: readonly string[], what: string) =>
    list.filter((ip) => {
      const ok = tryParseIp(ip) !== undefined;
      if (!ok) f.problems.push(`service ${key}: ${what} "${ip}" is not an IPv4 address; ignored`);
      return ok;
    });
  const clusterIPs = ips(svc.clusterIPs, "clusterIP");
  if (clusterIPs.length === 0) return f; // headless: DNS only
  for (const ip of clusterIPs) add(SET_CLUSTER_IPS, { key: [ip] });
  const externalIPs = ips(svc.externalIPs, "externalIP");
  const lbIPs = ips(svc.loadBalancerIngress.filter((i) => i.ipMode === "VIP").map((i) => i.ip), "load balancer IP");
  const ranges = svc.loadBalancerSourceRanges.filter((r) => {
    try {
      parsePrefix(r, "loadBalancerSourceRange", false);
      return true;
    } catch {
      f.problems.push(`service ${key}: loadBalancerSourceRange "${r}" is not an IPv4 CIDR; ignored`);
      return false;
    }
  });
  const nodePod = parsePrefix(opts.nodePodCidr, "node pod CIDR");
  const localAddresses = new Set<string>();
  let anyLocalPolicy = false;

  for (const sp of svc.ports) {
    if (!validPort(sp.port) || (sp.nodePort !== undefined && !validPort(sp.nodePort))) {
      f.problems.push(`service ${key}: port ${sp.name || sp.port} has an invalid number; ignored`);
      continue;
    }
    const proto = sp.protocol.toLowerCase();
    const id = `${key}/${proto}/${sp.name || sp.port}`;
    const all = portEndpoints(sp, slices, opts.nodeName);
    const cluster = usable(all);
    const local = usable(all.filter((e) => e.local));
    for (const e of local) localAddresses.add(e.address);
    const affinity = svc.sessionAffinity === "ClientIP" ? svc.affinityTimeoutSeconds : undefined;
    const used = new Map<string, PortEndpoint>();

    const epChain = (e: PortEndpoint) => {
      const name = `ep-${id}__${e.address}/${e.port}`;
      if (!used.has(name)) {
        used.set(name, e);
        const rules = [`ip saddr ${e.address} jump ${CHAIN_MARK_MASQ}`];
        if (affinity !== undefined) {
          const set = affinitySet(id, e, affinity);
          f.sets.push({ name: set, key: ["ipv4_addr"], flags: ["dynamic", "timeout"], timeoutSeconds: affinity });
          rules.push(`update @${set} { ip saddr }`);
        }
        rules.push(`meta l4proto ${proto} dnat to ${e.address}:${e.port}`);
        f.chains.set(name, rules);
      }
      return name;
    };
    const balance = (eps: PortEndpoint[], head: string[]): string[] => {
      const chains = eps.map(epChain);
      const rules = [...head];
      if (affinity !== undefined) eps.forEach((e, i) => rules.push(`ip saddr @${affinitySet(id, e, affinity)} goto ${chains[i]}`));
      // Endpoint i of n is taken with probability 1/(n-i) when reached, so each gets 1/n.
      chains.forEach((c, i) => rules.push(i === chains.length - 1 ? `goto ${c}` : `numgen random mod ${chains.length - i} == 0 goto ${c}`));
      return rules;
    };

    const svcChain = `svc-${id}`;
    const svlChain = `svl-${id}`;
    if (cluster.length) {
      const masq = clusterIPs.map((ip) => `ip daddr ${ip} ${proto} dport ${sp.port} ip saddr != ${opts.clusterCidr} jump ${CHAIN_MARK_MASQ}`);
      f.chains.set(svcChain, balance(cluster, masq));
    }
    const needLocal = svc.internalTrafficPolicy === "Local" || svc.externalTrafficPolicy === "Local";
    if (needLocal && local.length) f.chains.set(svlChain, balance(local, []));

    // Internal traffic: the ClusterIPs.
    let internal: PortPlan["internal"];
    let internalTarget: string | undefined;
    if (svc.internalTrafficPolicy === "Local") {
      internalTarget = local.length ? svlChain : undefined;
      internal = local.length ? "forward" : cluster.length ? "drop" : "reject";
    } else {
      internalTarget = cluster.length ? svcChain : undefined;
      internal = cluster.length ? "forward" : "reject";
    }
    for (const ip of clusterIPs) {
      const k = [ip, proto, String(sp.port)];
      if (internalTarget) add(SET_SERVICE_IPS, { key: k, value: `goto ${internalTarget}` });
      else add(SET_NO_ENDPOINT_SERVICES, { key: k, value: verdictFor(internal) });
    }

    // External traffic: NodePort, external IPs, load-balancer IPs.
    const hasExternal = sp.nodePort !== undefined || externalIPs.length > 0 || lbIPs.length > 0;
    let external: PortPlan["external"] = "none";
    let externalTarget: string | undefined;
    if (hasExternal) {
      const extChain = `ext-${id}`;
      if (!cluster.length) external = "reject";
      else if (svc.externalTrafficPolicy === "Cluster") {
        external = "forward";
        externalTarget = extChain;
        f.chains.set(extChain, [`jump ${CHAIN_MARK_MASQ}`, `goto ${svcChain}`]);
      } else {
        anyLocalPolicy = true;
        external = local.length ? "forward" : "drop";
        externalTarget = extChain;
        f.chains.set(extChain, [
          `ip saddr ${formatPrefix(nodePod)} goto ${svcChain}`,
          `fib saddr type local jump ${CHAIN_MARK_MASQ}`,
          `fib saddr type local goto ${svcChain}`,
          local.length ? `goto ${svlChain}` : "drop",
        ]);
      }
      const extVerdict = externalTarget ? `goto ${externalTarget}` : undefined;
      for (const ip of [...externalIPs, ...lbIPs]) {
        const k = [ip, proto, String(sp.port)];
        if (extVerdict) add(SET_SERVICE_IPS, { key: k, value: extVerdict });
        else add(SET_NO_ENDPOINT_SERVICES, { key: k, value: verdictFor("reject") });
      }
      if (sp.nodePort !== undefined) {
        const k = [proto, String(sp.nodePort)];
        if (extVerdict) add(SET_SERVICE_NODEPORTS, { key: k, value: extVerdict });
        else add(SET_NO_ENDPOINT_NODEPORTS, { key: k, value: verdictFor("reject") });
      }
      if (ranges.length && lbIPs.length) {
        const fw = `fw-${id}`;
        f.chains.set(fw, [`ip saddr != { ${ranges.join(", ")} } drop`]);
        for (const ip of lbIPs) add(SET_FIREWALL_IPS, { key: [ip, proto, String(sp.port)], value: `goto ${fw}` });
      }
    }

    f.ports.push({
      id,
      protocol: sp.protocol,
      destinations: [...[...clusterIPs, ...externalIPs, ...lbIPs].map((ip) => `${ip}:${sp.port}`), ...(sp.nodePort !== undefined ? [`*:${sp.nodePort}`] : [])],
      endpoints: [...used.values()].map((e) => `${e.address}:${e.port}`),
      localEndpoints: local.map((e) => `${e.address}:${e.port}`),
      internal,
      external,
    });
  }
  if (svc.externalTrafficPolicy === "Local" && svc.healthCheckNodePort !== undefined && validPort(svc.healthCheckNodePort) && (anyLocalPolicy || svc.ports.length === 0)) {
    f.health = { port: svc.healthCheckNodePort, localEndpoints: localAddresses.size };
  }
  return f;
}

function verdictFor(what: "reject" | "drop" | "forward"): string {
  return what === "drop" ? "drop" : `goto ${CHAIN_REJECT}`;
}

function affinitySet(id: string, e: { address: string; port: number }, timeout: number): string {
  return `aff-${timeout}-${id}__${e.address}/${e.port}`;
}

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** The endpoints of one service port: each slice's number for the port's name, duplicates folded (a ready copy wins). */
function portEndpoints(sp: ServicePort, slices: readonly EndpointSlice[], nodeName: string): PortEndpoint[] {
  const byTarget = new Map<string, PortEndpoint>();
  for (const slice of slices) {
    const p = slice.ports.find((x) => x.name === sp.name && x.protocol === sp.protocol);
    if (!p || !validPort(p.port)) continue;
    for (const e of slice.endpoints) {
      if (tryParseIp(e.address) === undefined) continue;
      const k = `${e.address}:${p.port}`;
      const prev = byTarget.get(k);
      if (prev && (prev.ready || !e.ready)) continue;
      byTarget.set(k, { ...e, port: p.port, local: e.nodeName === nodeName });
    }
  }
  // A stable order: the same endpoints always give the same chains and numgen map.
  return [...byTarget.values()].sort((a, b) => (tryParseIp(a.address)! - tryParseIp(b.address)!) || a.port - b.port);
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Keys must be unique in a map: a key two services claim (an external IP
 * and port given to both, say) goes to the service whose key sorts first,
 * and the other's fragment is replaced by a copy without it. The common
 * case, no clash, costs one map insertion per element.
 */
function resolveConflicts(fragments: Map<string, ServiceFragment>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  let clash = false;
  for (const f of fragments.values()) {
    if (f.problems.length) problems.push(...f.problems);
    if (clash) continue;
    for (const k of f.elementKeys) {
      if (seen.has(k)) {
        clash = true;
        break;
      }
      seen.add(k);
    }
  }
  if (!clash) return problems;
  const owner = new Map<string, string>();
  const losers = new Map<string, Set<string>>();
  for (const key of [...fragments.keys()].sort()) {
    for (const k of fragments.get(key)!.elementKeys) {
      const first = owner.get(k);
      if (first === undefined) owner.set(k, key);
      else {
        problems.push(`service ${key}: ${k.slice(k.indexOf("|") + 1)} is already used by service ${first}; ignored`);
        let s = losers.get(key);
        if (!s) losers.set(key, (s = new Set()));
        s.add(k);
      }
    }
  }
  for (const [key, drop] of losers) {
    const f = fragments.get(key)!;
    const elements = new Map<string, NftElement[]>();
    for (const [set, list] of f.elements) elements.set(set, list.filter((e) => !drop.has(elementKey(set, e))));
    fragments.set(key, { ...f, elements, elementKeys: f.elementKeys.filter((k) => !drop.has(k)) });
  }
  return problems;
}

/** An element's identity in the shared maps: `set|key`. */
function elementKey(set: string, e: NftElement): string {
  return `${set}|${e.key.join(" . ")}`;
}

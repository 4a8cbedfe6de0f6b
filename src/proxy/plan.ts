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
 *   masquerading       hairpin first: client . endpoint . original
 *                      destination . l4proto . endpoint port in @hairpin
 *                      (a client that is its own endpoint) is marked; then
 *                      marked packets are masqueraded
 *
 *   Most service ports ("mapped": no ClientIP affinity, and no
 *   externalTrafficPolicy Local for external traffic) have no chain of
 *   their own: their service-ips / service-nodeports element sends to a
 *   shared chain, one per kind, protocol and endpoint count N,
 *     pick-cluster-<p>-N  ClusterIP, cluster policy: masquerade sources
 *                         outside the cluster CIDR, then
 *                         `dnat ip to ip daddr . l4proto . dport . numgen
 *                         random mod N map @endpoints-<p>`
 *     pick-local-<p>-N    ClusterIP, internalTrafficPolicy Local: the DNAT
 *     pick-ext-<p>-N      external and LB IPs, cluster policy: masquerade, DNAT
 *     pick-extnp-<p>-N    NodePorts, cluster policy: masquerade, DNAT by
 *                         l4proto . dport . slot in @nodeport-endpoints-<p>
 *   and the endpoints are slots 0..N-1 of that key in the protocol's map
 *   (one map per protocol: the map's value is typed by `tcp dport` and the
 *   like, which makes nft match that protocol). Adding or removing an
 *   endpoint or a Service changes map elements only. This matters: nft
 *   1.0.6 lists every chain of the table before each transaction, so with a
 *   chain per service port and per endpoint (kube-proxy's shape) one change
 *   among 10,000 Services cost 0.3-0.6 s; and kube-proxy's `numgen random
 *   mod N vmap { … }` per service makes an anonymous set per rule, which
 *   the kernel names by scanning the table's sets (10,000 Services: 114 s
 *   of kernel time to load; Linux 6.18).
 *
 *   The other service ports keep a chain per service port and per endpoint
 *   (id = namespace/name/protocol/port-name):
 *     svc-<id>   cluster policy: masquerade sources outside the cluster
 *                CIDR, ClientIP affinity, then the endpoint: one rule per
 *                endpoint i of N, `numgen random mod (N-i) == 0 goto ep-…`
 *                (the last one unconditional), so each gets 1/N
 *     svl-<id>   local policy (ETP or ITP Local): the same over this node's
 *                endpoints
 *     ext-<id>   NodePort, external and LB IPs. Cluster policy: masquerade,
 *                goto svc. Local policy: this node's pods and the node itself
 *                go to svc (so they reach the service even with no endpoint
 *                here: the drop is the chain's last rule, not a verdict
 *                taken before DNAT for everyone), everyone
 *                else keeps its source and goes to svl, or is dropped when
 *                there is no local endpoint
 *     ep-<id>__<ip>/<port>   hairpin masquerade, affinity update, DNAT
 *     aff-<timeout>-<id>__<ip>/<port>   dynamic set of client IPs with
 *                the affinity timeout (in the name, so a new timeout is a
 *                new set rather than an in-place change nft refuses)
 *   and any LB service port with source ranges has
 *     fw-<id>    loadBalancerSourceRanges
 *
 * Endpoints: ready ones; when none is ready, serving-terminating ones (per
 * policy: the cluster's and this node's separately). A named targetPort is
 * whatever each slice says for that port name, so pods that number it
 * differently sit in different slices and each gets its own number.
 *
 * Every service yields a ServiceFragment that depends only on the Service,
 * its slices and the options, so a planner cache can reuse fragments whose
 * inputs did not change, and the diff can skip them by identity; a partial
 * sync replans only the services that changed (planProxyChanged).
 */
import { elementKeyText, splitElements, type NftChain, type NftElementText, type NftSet } from "../kernel/nft/objects.ts";
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
/** The slot maps of one protocol: `endpoints-tcp`, `nodeport-endpoints-udp`, ... */
export function endpointsSet(proto: string, nodePort = false): string {
  return `${nodePort ? "nodeport-" : ""}endpoints-${proto}`;
}
const PROTOCOLS = ["tcp", "udp", "sctp"] as const;
const SLOT_SETS = PROTOCOLS.flatMap((p) => [endpointsSet(p), endpointsSet(p, true)]);
export const SET_HAIRPIN = "hairpin";

/** Sets and maps whose elements follow from another map's key, so they cannot clash on their own. */
const DERIVED_SETS = new Set([SET_CLUSTER_IPS, ...SLOT_SETS, SET_HAIRPIN]);

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
  /**
   * Elements this service puts into the shared maps and sets: by set name,
   * their nft text joined by ", " (NftElementText). Text rather than
   * objects: at 10,000 Services with 5 endpoints, element objects were
   * about a third of the plan's memory, the largest part of the proxy's.
   */
  elements: Map<string, NftElementText>;
  ports: PortPlan[];
  /** `set|key` of every element a map (not the cluster-ips set) must hold once only. */
  elementKeys: string[];
  /** Shared endpoint-picking chains (pick-*) this service's elements send to. */
  shared: string[];
  /** For a LoadBalancer with externalTrafficPolicy Local: the health check port and this node's endpoint count. */
  health?: { port: number; localEndpoints: number };
  problems: string[];
  /** For a copy without the keys another service holds: the fragment as planned. */
  readonly original?: ServiceFragment;
  /** The inputs, kept for reuse by identity. */
  readonly service: Service;
  readonly slices: readonly EndpointSlice[];
}

/** A plan's fragments by service key (a Map, or a FragmentMap). */
export interface Fragments {
  readonly size: number;
  get(key: string): ServiceFragment | undefined;
  has(key: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<ServiceFragment>;
  entries(): IterableIterator<[string, ServiceFragment]>;
  [Symbol.iterator](): IterableIterator<[string, ServiceFragment]>;
}

/** Changes a FragmentMap carries on top of its base before it copies them in. */
const FLATTEN_AT = 512;

/**
 * Fragments as a base map, never changed once made, and the entries changed
 * since (null: removed): a partial plan shares its predecessor's base, so it
 * costs what changed rather than a copy of 10,000 services.
 */
export class FragmentMap implements Fragments {
  readonly #base: Fragments;
  readonly #delta: ReadonlyMap<string, ServiceFragment | null>;
  readonly size: number;

  private constructor(base: Fragments, delta: ReadonlyMap<string, ServiceFragment | null>, size: number) {
    this.#base = base;
    this.#delta = delta;
    this.size = size;
  }

  /** A view of `map`, which must not change afterwards. */
  static of(map: Fragments): FragmentMap {
    return new FragmentMap(map, new Map(), map.size);
  }

  /** These fragments with `changes` applied (null removes). */
  with(changes: ReadonlyMap<string, ServiceFragment | null>): FragmentMap {
    const delta = new Map(this.#delta);
    let size = this.size;
    for (const [k, v] of changes) {
      const had = this.has(k);
      if (v === null) {
        if (!had) continue;
        size--;
        if (this.#base.has(k)) delta.set(k, null);
        else delta.delete(k);
      } else {
        if (!had) size++;
        delta.set(k, v);
      }
    }
    if (delta.size < FLATTEN_AT) return new FragmentMap(this.#base, delta, size);
    const flat = new Map(this.#base);
    for (const [k, v] of delta) {
      if (v === null) flat.delete(k);
      else flat.set(k, v);
    }
    return FragmentMap.of(flat);
  }

  get(key: string): ServiceFragment | undefined {
    return this.#delta.has(key) ? (this.#delta.get(key) ?? undefined) : this.#base.get(key);
  }

  has(key: string): boolean {
    return this.#delta.has(key) ? this.#delta.get(key) !== null : this.#base.has(key);
  }

  *entries(): IterableIterator<[string, ServiceFragment]> {
    for (const e of this.#base) if (!this.#delta.has(e[0])) yield e;
    for (const [k, v] of this.#delta) if (v !== null) yield [k, v];
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<ServiceFragment> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[string, ServiceFragment]> {
    return this.entries();
  }
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
  fragments: Fragments;
  /** Elements refused because another service already claims the key, and other input problems. */
  problems: string[];
  /** Made by planProxyChanged from the plan before it: the services replanned (no other fragment differs from that plan's). */
  replanned?: ReadonlySet<string>;
}

/**
 * What consecutive plans with the same options share: the last plan (whose
 * fragments are reused when a service's inputs are the same objects), the
 * owner of every map key, and how many services use each shared chain, so
 * planProxyChanged can plan only the services that changed.
 */
export class PlanCache {
  last: ProxyPlan | undefined;
  /** Map key (`set|key`) → the service that holds it; undefined after a plan with a clash (the next one is planned whole). */
  owners: Map<string, string> | undefined;
  readonly sharedUse = new Map<string, number>();
  checked: CheckedOptions | undefined;

  /** The last plan's fragments. */
  get fragments(): Fragments {
    return this.last?.fragments ?? new Map();
  }
}

/** The desired table for `services` and `slices` on this node. Pure apart from filling `cache`. */
export function planProxy(services: Iterable<Service>, slicesByService: ReadonlyMap<string, readonly EndpointSlice[]>, options: PlanOptions, cache?: PlanCache): ProxyPlan {
  const opts = checkOptions(options);
  const fragments = new Map<string, ServiceFragment>();
  for (const svc of services) {
    if (svc.type === "ExternalName") continue;
    const key = serviceKey(svc);
    const slices = slicesByService.get(key) ?? [];
    const last = cache?.last?.fragments.get(key);
    const old = last?.original ?? last;
    const f = old && old.service === svc && sameList(old.slices, slices) ? old : planService(svc, slices, opts);
    fragments.set(key, f);
  }
  // Before resolveConflicts: the copies it makes hold no clashing key any more.
  const owners = cache ? ownersOf(fragments) : undefined;
  const problems = resolveConflicts(fragments, opts);
  const shared = new Map<string, number>();
  for (const f of fragments.values()) for (const c of f.shared) shared.set(c, (shared.get(c) ?? 0) + 1);
  const plan: ProxyPlan = { baseChains: [...baseChains(opts), ...pickChains(shared.keys(), opts)], baseSets: BASE_SETS, fragments, problems };
  if (cache) {
    cache.last = plan;
    cache.checked = opts;
    cache.sharedUse.clear();
    for (const [c, n] of shared) cache.sharedUse.set(c, n);
    cache.owners = owners;
  }
  return plan;
}

/**
 * The same plan as planProxy over `services` and `slicesByService`, made
 * from `cache`'s last plan by replanning only the services in `changed`
 * (keys `namespace/name` of services added, changed or deleted, or whose
 * slices changed, since that plan). A key that two services claim, before
 * or now, makes it plan everything, as planProxy does.
 */
export function planProxyChanged(changed: Iterable<string>, services: ReadonlyMap<string, Service>, slicesByService: ReadonlyMap<string, readonly EndpointSlice[]>, options: PlanOptions, cache: PlanCache): ProxyPlan {
  const prev = cache.last;
  const owners = cache.owners;
  const opts = cache.checked;
  if (!prev || !owners || !opts) return planProxy(services.values(), slicesByService, options, cache);
  const before = prev.fragments instanceof FragmentMap ? prev.fragments : FragmentMap.of(prev.fragments);
  const changes = new Map<string, ServiceFragment | null>();
  const use = cache.sharedUse;
  const replanned = new Set(changed);
  let picksChanged = false;
  let problemsChanged = prev.problems.length > 0;
  for (const key of replanned) {
    const old = before.get(key);
    const svc = services.get(key);
    const slices = slicesByService.get(key) ?? [];
    const next = svc === undefined || svc.type === "ExternalName" ? undefined : old && old.service === svc && sameList(old.slices, slices) ? old : planService(svc, slices, opts);
    if (next === old) continue;
    if (old) {
      for (const k of old.elementKeys) if (owners.get(k) === key) owners.delete(k);
      for (const c of old.shared) {
        const n = (use.get(c) ?? 0) - 1;
        if (n > 0) use.set(c, n);
        else {
          use.delete(c);
          picksChanged = true;
        }
      }
    }
    if (next) {
      for (const k of next.elementKeys) {
        if (owners.has(k)) {
          cache.owners = undefined;
          return planProxy(services.values(), slicesByService, options, cache);
        }
        owners.set(k, key);
      }
      for (const c of next.shared) {
        const n = use.get(c) ?? 0;
        if (n === 0) picksChanged = true;
        use.set(c, n + 1);
      }
    }
    changes.set(key, next ?? null);
    if (old?.problems.length || next?.problems.length) problemsChanged = true;
  }
  const fragments = before.with(changes);
  const problems: string[] = [];
  if (problemsChanged) for (const f of fragments.values()) if (f.problems.length) problems.push(...f.problems);
  const baseChainList = picksChanged ? [...baseChains(opts), ...pickChains(use.keys(), opts)] : prev.baseChains;
  const plan: ProxyPlan = { baseChains: baseChainList, baseSets: BASE_SETS, fragments, problems, replanned };
  cache.last = plan;
  return plan;
}

/** Each map key's service, or undefined when two claim one. */
function ownersOf(fragments: Fragments): Map<string, string> | undefined {
  const owners = new Map<string, string>();
  for (const [key, f] of fragments) {
    for (const k of f.elementKeys) {
      if (owners.has(k)) return undefined;
      owners.set(k, key);
    }
  }
  return owners;
}

function pickChains(names: Iterable<string>, opts: CheckedOptions): PlannedChain[] {
  return [...names].sort().map((name) => ({ chain: { name }, rules: pickChainRules(name, opts) }));
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
  // Per protocol: destination . protocol . port . slot → endpoint address . port (slot = numgen random mod N).
  // One map per protocol because the value's type comes from `tcp dport` (or udp, sctp), which makes the
  // DNAT rule match that protocol only; nft 1.0.6 declares `ip daddr . th dport` but then cannot read it back
  // ("conflicting protocols").
  ...PROTOCOLS.flatMap((p): NftSet[] => [
    { name: endpointsSet(p), typeOf: true, key: ["ip daddr", "meta l4proto", "th dport", "numgen random mod 1"], value: `ip daddr . ${p} dport` },
    { name: endpointsSet(p, true), typeOf: true, key: ["meta l4proto", "th dport", "numgen random mod 1"], value: `ip daddr . ${p} dport` },
  ]),
  // after DNAT: client . endpoint . ClusterIP . protocol . endpoint port, client = endpoint
  { name: SET_HAIRPIN, key: ["ipv4_addr", "ipv4_addr", "ipv4_addr", "inet_proto", "inet_service"] },
];

/** The shared chains that pick one of N endpoints by slot: for ClusterIPs (cluster or local policy), and external traffic by IP or NodePort. */
const PICK = /^pick-(cluster|local|ext|extnp)-(tcp|udp|sctp)-([1-9][0-9]*)$/;

function pickChain(kind: "cluster" | "local" | "ext" | "extnp", proto: string, n: number): string {
  return `pick-${kind}-${proto}-${n}`;
}

function pickChainRules(name: string, o: CheckedOptions): string[] {
  const m = PICK.exec(name);
  if (!m) throw new Error(`not a pick chain: ${name}`);
  const [kind, proto, n] = [m[1]!, m[2]!, m[3]!];
  const dnat = kind === "extnp"
    ? `dnat ip to meta l4proto . th dport . numgen random mod ${n} map @${endpointsSet(proto, true)}`
    : `dnat ip to ${KEY3} . numgen random mod ${n} map @${endpointsSet(proto)}`;
  if (kind === "cluster") return [`ip saddr != ${o.clusterCidr} jump ${CHAIN_MARK_MASQ}`, dnat];
  if (kind === "local") return [dnat];
  return [`jump ${CHAIN_MARK_MASQ}`, dnat];
}

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
    { chain: { name: CHAIN_MASQUERADING }, rules: [`ip saddr . ip daddr . ct original ip daddr . meta l4proto . th dport @${SET_HAIRPIN} jump ${CHAIN_MARK_MASQ}`, `meta mark & ${mark} == 0 return`, `meta mark set meta mark ^ ${mark}`, "masquerade fully-random"] },
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

/**
 * Plans one Service; pure. Exported for tests. With `derived`, records for
 * each element of elementKeys the elements that follow from it (endpoint
 * slots, hairpin entries, as `set|text`), which go (and clash) with it.
 */
export function planService(svc: Service, slices: readonly EndpointSlice[], o: CheckedOptions | PlanOptions, derived?: Map<string, Set<string>>): ServiceFragment {
  const opts = "serviceNet" in o ? o : checkOptions(o);
  const key = serviceKey(svc);
  const f: ServiceFragment = { key, chains: new Map(), sets: [], elements: new Map(), ports: [], elementKeys: [], shared: [], problems: [], service: svc, slices };
  const lists = new Map<string, string[]>();
  const add = (set: string, e: { key: readonly string[]; value?: string }, from?: string) => {
    const keyText = e.key.join(" . ");
    const text = e.value === undefined ? keyText : `${keyText} : ${e.value}`;
    let list = lists.get(set);
    if (!list) lists.set(set, (list = []));
    list.push(text);
    // The cluster-ips set: sharing an address is harmless. Derived elements go (and clash) with the element they follow from.
    if (!DERIVED_SETS.has(set)) f.elementKeys.push(`${set}|${keyText}`);
    else if (from !== undefined && derived) derivedOf(derived, from).add(`${set}|${text}`);
  };
  const hairpins = new Set<string>();
  /** A map key sending to one of `eps` by slot through the shared chain of `kind`. */
  const addPick = (set: string, k: string[], kind: "cluster" | "local" | "ext" | "extnp", eps: readonly PortEndpoint[], hairpinFor?: string) => {
    const chain = pickChain(kind, k.at(-2)!, eps.length);
    if (!f.shared.includes(chain)) f.shared.push(chain);
    add(set, { key: k, value: `goto ${chain}` });
    const from = `${set}|${k.join(" . ")}`;
    const slots = endpointsSet(k.at(-2)!, kind === "extnp");
    eps.forEach((e, i) => add(slots, { key: k.concat(String(i)), value: `${e.address} . ${e.port}` }, from));
    if (hairpinFor !== undefined) {
      for (const e of eps) {
        const h = [e.address, e.address, hairpinFor, k[1]!, String(e.port)];
        const hk = h.join(" . ");
        // Two ports of one ClusterIP may share a target port: one element, which follows from both.
        if (hairpins.has(hk)) {
          if (derived) derivedOf(derived, from).add(`${SET_HAIRPIN}|${hk}`);
          continue;
        }
        hairpins.add(hk);
        add(SET_HAIRPIN, { key: h }, from);
      }
    }
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

    const hasExternal = sp.nodePort !== undefined || externalIPs.length > 0 || lbIPs.length > 0;
    let internal: PortPlan["internal"];
    if (svc.internalTrafficPolicy === "Local") internal = local.length ? "forward" : cluster.length ? "drop" : "reject";
    else internal = cluster.length ? "forward" : "reject";
    let external: PortPlan["external"] = "none";
    if (hasExternal) {
      if (!cluster.length) external = "reject";
      else if (svc.externalTrafficPolicy === "Cluster") external = "forward";
      else external = local.length ? "forward" : "drop";
      if (cluster.length && svc.externalTrafficPolicy === "Local") anyLocalPolicy = true;
    }
    const externalKeys = [...externalIPs, ...lbIPs].map((ip) => [ip, proto, String(sp.port)]);
    const nodePortKey = sp.nodePort === undefined ? undefined : [proto, String(sp.nodePort)];

    if (affinity === undefined && (!hasExternal || svc.externalTrafficPolicy === "Cluster")) {
      // Mapped: map elements and the shared pick chains only, so an endpoint change is an element change.
      const internalEps = svc.internalTrafficPolicy === "Local" ? local : cluster;
      for (const ip of clusterIPs) {
        const k = [ip, proto, String(sp.port)];
        if (internal === "forward") addPick(SET_SERVICE_IPS, k, svc.internalTrafficPolicy === "Local" ? "local" : "cluster", internalEps, ip);
        else add(SET_NO_ENDPOINT_SERVICES, { key: k, value: verdictFor(internal) });
      }
      if (internal === "forward") for (const e of internalEps) used.set(`${e.address}/${e.port}`, e);
      if (external === "forward") {
        for (const k of externalKeys) addPick(SET_SERVICE_IPS, k, "ext", cluster);
        if (nodePortKey) addPick(SET_SERVICE_NODEPORTS, nodePortKey, "extnp", cluster);
        for (const e of cluster) used.set(`${e.address}/${e.port}`, e);
      }
    } else {
      // Chains: a chain per service port and per endpoint (ClientIP affinity, externalTrafficPolicy Local).
      const svcChain = `svc-${id}`;
      const svlChain = `svl-${id}`;
      if (cluster.length) {
        const masq = clusterIPs.map((ip) => `ip daddr ${ip} ${proto} dport ${sp.port} ip saddr != ${opts.clusterCidr} jump ${CHAIN_MARK_MASQ}`);
        f.chains.set(svcChain, balance(cluster, masq));
      }
      const needLocal = svc.internalTrafficPolicy === "Local" || svc.externalTrafficPolicy === "Local";
      if (needLocal && local.length) f.chains.set(svlChain, balance(local, []));
      const internalTarget = internal !== "forward" ? undefined : svc.internalTrafficPolicy === "Local" ? svlChain : svcChain;
      for (const ip of clusterIPs) {
        const k = [ip, proto, String(sp.port)];
        if (internalTarget) add(SET_SERVICE_IPS, { key: k, value: `goto ${internalTarget}` });
        else add(SET_NO_ENDPOINT_SERVICES, { key: k, value: verdictFor(internal) });
      }
      if (hasExternal && cluster.length) {
        const extChain = `ext-${id}`;
        if (svc.externalTrafficPolicy === "Cluster") f.chains.set(extChain, [`jump ${CHAIN_MARK_MASQ}`, `goto ${svcChain}`]);
        else {
          f.chains.set(extChain, [
            `ip saddr ${formatPrefix(nodePod)} goto ${svcChain}`,
            `fib saddr type local jump ${CHAIN_MARK_MASQ}`,
            `fib saddr type local goto ${svcChain}`,
            local.length ? `goto ${svlChain}` : "drop",
          ]);
        }
        for (const k of externalKeys) add(SET_SERVICE_IPS, { key: k, value: `goto ${extChain}` });
        if (nodePortKey) add(SET_SERVICE_NODEPORTS, { key: nodePortKey, value: `goto ${extChain}` });
      }
    }
    if (hasExternal && !cluster.length) {
      for (const k of externalKeys) add(SET_NO_ENDPOINT_SERVICES, { key: k, value: verdictFor("reject") });
      if (nodePortKey) add(SET_NO_ENDPOINT_NODEPORTS, { key: nodePortKey, value: verdictFor("reject") });
    }
    if (hasExternal && ranges.length && lbIPs.length) {
      const fw = `fw-${id}`;
      f.chains.set(fw, [`ip saddr != { ${ranges.join(", ")} } drop`]);
      for (const ip of lbIPs) add(SET_FIREWALL_IPS, { key: [ip, proto, String(sp.port)], value: `goto ${fw}` });
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
  for (const [set, list] of lists) f.elements.set(set, list.join(", "));
  return compact(f);
}

/** The set of elements recorded as following from map key `from`. */
function derivedOf(derived: Map<string, Set<string>>, from: string): Set<string> {
  let d = derived.get(from);
  if (!d) derived.set(from, (d = new Set()));
  return d;
}

/**
 * `f` with its lists copied to their exact size: an array grown by push
 * keeps room for 16 more, and a proxy holds several such lists per service
 * port.
 */
function compact(f: ServiceFragment): ServiceFragment {
  for (const [name, rules] of f.chains) f.chains.set(name, rules.slice());
  f.elementKeys = f.elementKeys.slice();
  f.shared = f.shared.slice();
  if (f.problems.length) f.problems = f.problems.slice();
  if (f.ports.length) f.ports = f.ports.slice();
  if (f.sets.length) f.sets = f.sets.slice();
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
  /** Each address as a number, parsed once (the sort compares them n log n times). */
  const numeric = new Map<string, number>();
  for (const slice of slices) {
    const p = slice.ports.find((x) => x.name === sp.name && x.protocol === sp.protocol);
    if (!p || !validPort(p.port)) continue;
    for (const e of slice.endpoints) {
      const n = numeric.get(e.address) ?? tryParseIp(e.address);
      if (n === undefined) continue;
      numeric.set(e.address, n);
      const k = `${e.address}:${p.port}`;
      const prev = byTarget.get(k);
      if (prev && (prev.ready || !e.ready)) continue;
      byTarget.set(k, { ...e, port: p.port, local: e.nodeName === nodeName });
    }
  }
  // A stable order: the same endpoints always give the same chains and numgen map.
  return [...byTarget.values()].sort((a, b) => (numeric.get(a.address)! - numeric.get(b.address)!) || a.port - b.port);
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
function resolveConflicts(fragments: Map<string, ServiceFragment>, opts: CheckedOptions): string[] {
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
    // Clashes are rare (and a plan with one is made whole, each time, until it goes): the derived
    // elements are found by planning the service again. One that a kept key also has stays (a
    // hairpin entry two ports share).
    const derived = new Map<string, Set<string>>();
    planService(f.service, f.slices, opts, derived);
    const gone = new Set<string>();
    for (const k of drop) for (const d of derived.get(k) ?? []) gone.add(d);
    for (const [k, ds] of derived) if (!drop.has(k)) for (const d of ds) gone.delete(d);
    const elements = new Map<string, NftElementText>();
    for (const [set, text] of f.elements) {
      const kept = splitElements(text).filter((e) => !gone.has(`${set}|${e}`) && !drop.has(`${set}|${elementKeyText(e)}`));
      if (kept.length) elements.set(set, kept.join(", "));
    }
    fragments.set(key, { ...f, elements, elementKeys: f.elementKeys.filter((k) => !drop.has(k)), original: f.original ?? f });
  }
  return problems;
}

/**
 * NetworkPolicy → the desired contents of table `inet weft-policy`, as a
 * pure function of (policies, pods, namespaces, this node's name).
 *
 *   chain forward  (hook forward, priority filter: after Service DNAT in
 *                   prerouting, so rules see the real endpoint)
 *     ct state established,related accept     replies, and flows already allowed
 *     fib saddr type local accept              from this node (hostNetwork pods too)
 *     ip saddr vmap @egress-pods               local pod isolated for egress → jump eg-<ip>
 *     ip daddr vmap @ingress-pods              local pod isolated for ingress → jump in-<ip>
 *
 *   chain eg-<ip>  ip daddr <ip> return       a pod reaching itself
 *                  <one rule per distinct port set of the egress rules
 *                   of the selecting policies> return
 *                  goto egress-drop           (counter drop)
 *   chain in-<ip>  ip saddr <ip> accept
 *                  <one rule per distinct port set of the ingress rules …> accept
 *                  goto ingress-drop          (counter drop)
 *
 * A rule is `ip saddr @<peers> meta l4proto . th dport @ports-<h>`
 * (either part left out when no rule of the group names peers, or the group
 * has no ports). Policy rules that open the same ports to a pod are one nft
 * rule: its peer set is the union of their peers (the pods' /32s and
 * ipBlocks minus excepts, as disjoint intervals), and the port set holds
 * `proto . port[-endPort]` intervals. So a new connection costs one vmap
 * lookup and one rule per distinct port set among the rules selecting its
 * pod (one, where the policies open the same ports), however many policies
 * select it; 50 policies allowing port 80 from different peers are one
 * rule, not 50. A peer set is named after the policy rules it unites
 * (`<rule>-peers` for one, `g<hash>-peers` for several), so pods selected by
 * the same policies share it and a pod joining a namespace adds elements,
 * no chain changes. Port sets are named after their contents alone (rules
 * opening the same ports share one), since named ports resolve against the
 * destination: per selected pod for ingress (pods resolving alike share a
 * set), and for egress as `<rule>-named` of `ip . proto . port` per
 * destination pod (one rule per such rule).
 *
 * Only this node's pods get chains: each node enforces its own pods' egress
 * and ingress. Traffic the node itself sends (and hostNetwork pods') never
 * passes the forward hook towards its own pods, which is how "from the
 * pod's own node" is always allowed; there is therefore no output chain.
 */
import { createHash } from "node:crypto";
import type { NftChain, NftElement, NftSet, NftTable } from "../kernel/nft/objects.ts";
import { describeError } from "../lib/errors.ts";
import { resolveNamedPort } from "./evaluate.ts";
import { ipRange, rangeText, unionRanges, type Range } from "./ranges.ts";
import { checkRule } from "./validate.ts";
import { checkSelector } from "./selector.ts";
import { keyOf, type Namespace, type NetworkPolicy, type Pod, type PolicyRule, type Protocol } from "./types.ts";
import { PolicyIndex } from "./world.ts";

/** The policy's table; nobody else writes it. */
export const TABLE: NftTable = { family: "inet", name: "weft-policy" };

export const FORWARD_CHAIN = "forward";
export const INGRESS_DROP = "ingress-drop";
export const EGRESS_DROP = "egress-drop";
export const INGRESS_PODS = "ingress-pods";
export const EGRESS_PODS = "egress-pods";

export interface PlannedChain {
  chain: NftChain;
  rules: string[];
}

export interface PlannedSet {
  set: NftSet;
  elements: NftElement[];
}

/** One local pod in `weft status policy`. */
export interface PodPolicyStatus {
  namespace: string;
  name: string;
  ips: string[];
  /** Isolated for ingress, by which policies (namespace/name), and how many nft rules allow something in (0: nothing but the pod itself). */
  ingress: { isolated: boolean; policies: string[]; rules: number };
  egress: { isolated: boolean; policies: string[]; rules: number };
}

export interface PolicyPlan {
  /** Every chain, base chains included, by name. */
  chains: Map<string, PlannedChain>;
  /** Every set and map, by name. */
  sets: Map<string, PlannedSet>;
  /** This node's pods (hostNetwork ones left out), sorted by namespace/name. */
  pods: PodPolicyStatus[];
  /** Policies that failed validation (they still isolate; their broken rules allow nothing). */
  problems: string[];
}

export interface CompileInput {
  policies: Iterable<NetworkPolicy>;
  pods: Iterable<Pod>;
  namespaces: Iterable<Namespace>;
  /** This node's name: only its pods get chains. */
  nodeName: string;
}

const PROTO: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

const PEERS: Omit<NftSet, "name"> = { key: ["ipv4_addr"], flags: ["interval"] };
const PORTS: Omit<NftSet, "name"> = { key: ["inet_proto", "inet_service"], flags: ["interval"] };
const NAMED: Omit<NftSet, "name"> = { key: ["ipv4_addr", "inet_proto", "inet_service"] };

/** The base chains and maps every plan has. */
function basePlan(): Pick<PolicyPlan, "chains" | "sets"> {
  const chains = new Map<string, PlannedChain>();
  chains.set(FORWARD_CHAIN, {
    chain: { name: FORWARD_CHAIN, base: { type: "filter", hook: "forward", priority: "filter", policy: "accept" } },
    rules: ["ct state established,related accept", "fib saddr type local accept", `ip saddr vmap @${EGRESS_PODS}`, `ip daddr vmap @${INGRESS_PODS}`],
  });
  chains.set(INGRESS_DROP, { chain: { name: INGRESS_DROP }, rules: ["counter drop"] });
  chains.set(EGRESS_DROP, { chain: { name: EGRESS_DROP }, rules: ["counter drop"] });
  const sets = new Map<string, PlannedSet>();
  sets.set(INGRESS_PODS, { set: { name: INGRESS_PODS, key: ["ipv4_addr"], value: "verdict" }, elements: [] });
  sets.set(EGRESS_PODS, { set: { name: EGRESS_PODS, key: ["ipv4_addr"], value: "verdict" }, elements: [] });
  return { chains, sets };
}

/** The plan for this node. Never throws for bad objects: they are reported in `problems`. */
export function compilePolicies(input: CompileInput): PolicyPlan {
  const index = new PolicyIndex(input);
  const { chains, sets } = basePlan();
  const problems: string[] = [];
  const broken = new Set<string>();
  for (const p of index.policies) {
    const where = `NetworkPolicy ${keyOf(p)}`;
    try {
      checkSelector(p.podSelector, `${where}: spec.podSelector`);
    } catch (err) {
      problems.push(`${describeError(err)}; it selects no pod`);
      broken.add(`${keyOf(p)} selector`);
    }
    for (const [dir, rules] of [["ingress", p.ingress], ["egress", p.egress]] as const) {
      rules.forEach((r, i) => {
        try {
          checkRule(r, `${where}: spec.${dir}[${i}]`);
        } catch (err) {
          problems.push(`${describeError(err)}; the rule allows nothing`);
          broken.add(`${keyOf(p)} ${dir} ${i}`);
        }
      });
    }
  }
  const rules = new RuleCompiler(index, sets);
  const pods: PodPolicyStatus[] = [];
  const local = index.pods.filter((p) => p.node === input.nodeName && p.ips.length > 0).sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
  const ingressPods = sets.get(INGRESS_PODS)!.elements;
  const egressPods = sets.get(EGRESS_PODS)!.elements;
  const claimed = new Map<string, string>();
  for (const pod of local) {
    // Two pods with one address (a stale object): the first keeps it, or the maps would hold the key twice.
    const taken = pod.ips.find((ip) => claimed.has(ip));
    if (taken !== undefined) {
      problems.push(`pods ${claimed.get(taken)} and ${keyOf(pod)} both hold ${taken}; only the first is enforced`);
      continue;
    }
    for (const ip of pod.ips) claimed.set(ip, keyOf(pod));
    const sel = index.selection(pod);
    const selectorOk = (p: NetworkPolicy) => !broken.has(`${keyOf(p)} selector`);
    const ingress = sel.ingress.filter(selectorOk);
    const egress = sel.egress.filter(selectorOk);
    const status: PodPolicyStatus = {
      namespace: pod.namespace,
      name: pod.name,
      ips: [...pod.ips],
      ingress: { isolated: ingress.length > 0, policies: ingress.map(keyOf), rules: 0 },
      egress: { isolated: egress.length > 0, policies: egress.map(keyOf), rules: 0 },
    };
    pods.push(status);
    const ip = pod.ips[0]!;
    if (ingress.length > 0) {
      const name = `in-${ip}`;
      const body = [`ip saddr ${ip} accept`];
      const grants: Grant[] = [];
      for (const p of ingress) p.ingress.forEach((r, i) => broken.has(`${keyOf(p)} ingress ${i}`) || grants.push(...rules.ingress(p, i, r, pod)));
      body.push(...rules.merge(grants, "saddr", "accept"));
      body.push(`goto ${INGRESS_DROP}`);
      const written = dedupe(body);
      status.ingress.rules = written.length - 2;
      chains.set(name, { chain: { name }, rules: written });
      for (const a of pod.ips) ingressPods.push({ key: [a], value: `jump ${name}` });
    }
    if (egress.length > 0) {
      const name = `eg-${ip}`;
      const body = [`ip daddr ${ip} return`];
      const grants: Grant[] = [];
      const named: string[] = [];
      for (const p of egress) {
        p.egress.forEach((r, i) => {
          if (broken.has(`${keyOf(p)} egress ${i}`)) return;
          const g = rules.egress(p, i, r);
          grants.push(...g.grants);
          named.push(...g.named);
        });
      }
      body.push(...rules.merge(grants, "daddr", "return"), ...named);
      body.push(`goto ${EGRESS_DROP}`);
      const written = dedupe(body);
      status.egress.rules = written.length - 2;
      chains.set(name, { chain: { name }, rules: written });
      for (const a of pod.ips) egressPods.push({ key: [a], value: `jump ${name}` });
    }
  }
  return { chains, sets, pods, problems };
}

function dedupe(rules: string[]): string[] {
  return [...new Set(rules)];
}

/** Short stable name of a policy, for set names (nft names are short; the comment carries the real name). */
export function policyId(p: { namespace: string; name: string }): string {
  const key = keyOf(p);
  let id = ids.get(key);
  if (id === undefined) {
    id = "p" + createHash("sha256").update(key).digest("hex").slice(0, 10);
    if (ids.size > 100_000) ids.clear();
    ids.set(key, id);
  }
  return id;
}
const ids = new Map<string, string>();

/**
 * What one policy rule allows a pod: traffic from (ingress) or to (egress)
 * `peers` (null: anyone) on the ports of set `ports` (null: every port and
 * protocol).
 */
interface Grant {
  rid: string;
  policy: NetworkPolicy;
  peers: Range[] | null;
  ports: string | null;
}

/** Compiles rules to nft rule text, declaring the sets they use (each set once per plan). */
class RuleCompiler {
  readonly #index: PolicyIndex;
  readonly #sets: Map<string, PlannedSet>;
  /** Peers already resolved: rule id → ranges, or null (the rule has no peers: everyone). */
  readonly #peers = new Map<string, Range[] | null>();
  /** Port sets already made: rule id and resolved named ports → set name or null. */
  readonly #portSets = new Map<string, string | null>();

  constructor(index: PolicyIndex, sets: Map<string, PlannedSet>) {
    this.#index = index;
    this.#sets = sets;
  }

  /** What ingress rule `i` of `p` lets into `pod` (nothing when none of its ports resolve on the pod). */
  ingress(p: NetworkPolicy, i: number, r: PolicyRule, pod: Pod): Grant[] {
    const rid = `${policyId(p)}-i${i}`;
    const peers = this.#peerRanges(p, rid, r);
    if (!r.ports?.length) return [{ rid, policy: p, peers, ports: null }];
    // Named ports resolve against the selected pod itself.
    const ports = this.#portSet(rid, r, pod);
    return ports ? [{ rid, policy: p, peers, ports }] : [];
  }

  /** What egress rule `i` of `p` lets out: grants for its numeric ports, and a rule of its own for named ports. */
  egress(p: NetworkPolicy, i: number, r: PolicyRule): { grants: Grant[]; named: string[] } {
    const rid = `${policyId(p)}-e${i}`;
    const peers = this.#peerRanges(p, rid, r);
    if (!r.ports?.length) return { grants: [{ rid, policy: p, peers, ports: null }], named: [] };
    const ports = this.#portSet(rid, r, undefined);
    const named = this.#namedSet(p, rid, r);
    return { grants: ports ? [{ rid, policy: p, peers, ports }] : [], named: named ? [`ip daddr . meta l4proto . th dport @${named} return`] : [] };
  }

  /**
   * One rule per port set among `grants` (and one for grants of every
   * port), matching the union of their peers: the rules are all verdicts of
   * one kind, so their order does not matter and a packet meets each
   * distinct port set once, however many policies grant it.
   */
  merge(grants: readonly Grant[], dir: "saddr" | "daddr", verdict: "accept" | "return"): string[] {
    const byPorts = new Map<string | null, Grant[]>();
    for (const g of grants) {
      const list = byPorts.get(g.ports);
      if (list) list.push(g);
      else byPorts.set(g.ports, [g]);
    }
    const out: string[] = [];
    for (const [ports, group] of byPorts) {
      const portMatch = ports ? `meta l4proto . th dport @${ports} ` : "";
      // A grant to everyone on these ports makes the others' peers moot.
      const peers = group.some((g) => g.peers === null) ? null : this.#unionSet(group);
      out.push(`${peers ? `ip ${dir} @${peers} ` : ""}${portMatch}${verdict}`);
    }
    return out;
  }

  /** The rule's peers as ranges (resolved once per rule), or null for a rule without peers (everyone). */
  #peerRanges(p: NetworkPolicy, rid: string, r: PolicyRule): Range[] | null {
    const made = this.#peers.get(rid);
    if (made !== undefined) return made;
    let ranges: Range[] | null = null;
    if (r.peers?.length) {
      ranges = [];
      for (const peer of r.peers) {
        if (peer.ipBlock) ranges.push(...this.#index.blockRanges(peer));
        else for (const pod of this.#index.peerPods(peer, p.namespace)) for (const ip of pod.ips) {
          const one = ipRange(ip);
          if (one) ranges.push(one);
        }
      }
    }
    this.#peers.set(rid, ranges);
    return ranges;
  }

  /** The interval set of the union of `group`'s peers, declared once; named after the rules, so its name outlives membership changes. */
  #unionSet(group: readonly Grant[]): string {
    const rids = [...new Set(group.map((g) => g.rid))].sort();
    const name = rids.length === 1 ? `${rids[0]}-peers` : `g${createHash("sha256").update(rids.join(",")).digest("hex").slice(0, 10)}-peers`;
    if (!this.#sets.has(name)) {
      const ranges = group.flatMap((g) => g.peers ?? []);
      const more = rids.length > 1 ? ` and ${rids.length - 1} more rules` : "";
      const first = group.find((g) => g.rid === rids[0])!;
      this.#sets.set(name, { set: { name, ...PEERS, comment: clip(keyOf(first.policy) + more) }, elements: unionRanges(ranges).map((x) => ({ key: [rangeText(x)] })) });
    }
    return name;
  }

  /** The set of numeric (and, given `pod`, that pod's named) ports, named by its contents; null when none apply. */
  #portSet(rid: string, r: PolicyRule, pod: Pod | undefined): string | null {
    const named: string[] = [];
    if (pod) for (const port of r.ports ?? []) if (typeof port.port === "string") for (const n of resolveNamedPort(port.port, port.protocol, pod)) named.push(`${PROTO[port.protocol]} . ${n}`);
    // Most selected pods resolve a rule's ports alike: the set is made once per distinct resolution.
    const memo = `${rid}|${named.join(",")}`;
    const made = this.#portSets.get(memo);
    if (made !== undefined) return made;
    const items = [...named];
    for (const port of r.ports ?? []) {
      const proto = PROTO[port.protocol];
      if (port.port === undefined) items.push(`${proto} . 0-65535`);
      else if (typeof port.port === "number") items.push(port.endPort === undefined || port.endPort === port.port ? `${proto} . ${port.port}` : `${proto} . ${port.port}-${port.endPort}`);
    }
    let name: string | null = null;
    if (items.length > 0) {
      const elements = mergePortItems(items);
      // Named after the contents alone: every rule opening the same ports shares it, and merge() unites their peers.
      name = `ports-${createHash("sha256").update(elements.join(",")).digest("hex").slice(0, 10)}`;
      if (!this.#sets.has(name)) this.#sets.set(name, { set: { name, ...PORTS }, elements: elements.map((e) => ({ key: e.split(" . ") })) });
    }
    this.#portSets.set(memo, name);
    return name;
  }

  /** Egress named ports: `ip . proto . port` of every destination pod the rule's peers match; null when the rule names no port. */
  #namedSet(p: NetworkPolicy, rid: string, r: PolicyRule): string | null {
    const named = (r.ports ?? []).filter((x): x is typeof x & { port: string } => typeof x.port === "string");
    if (named.length === 0) return null;
    const name = `${rid}-named`;
    if (this.#sets.has(name)) return name;
    const targets = new Set<Pod>();
    if (!r.peers?.length) for (const pod of this.#index.pods) targets.add(pod);
    else {
      for (const peer of r.peers) {
        if (!peer.ipBlock) for (const pod of this.#index.peerPods(peer, p.namespace)) targets.add(pod);
        else for (const pod of this.#index.pods) if (pod.ips.some((ip) => this.#index.peerMatches(peer, p.namespace, ip, pod))) targets.add(pod);
      }
    }
    const keys = new Set<string>();
    for (const pod of targets) {
      for (const x of named) {
        for (const n of resolveNamedPort(x.port, x.protocol, pod)) {
          for (const ip of pod.ips) {
            // With ipBlock peers, only the pod's addresses inside a matching block count.
            if (r.peers?.length && !r.peers.some((peer) => this.#index.peerMatches(peer, p.namespace, ip, pod))) continue;
            keys.add(`${ip} . ${PROTO[x.protocol]} . ${n}`);
          }
        }
      }
    }
    this.#sets.set(name, { set: { name, ...NAMED, comment: comment(p) }, elements: [...keys].sort().map((k) => ({ key: k.split(" . ") })) });
    return name;
  }
}

/** Port items `proto . a[-b]` as disjoint intervals per protocol (an interval set refuses overlaps). */
function mergePortItems(items: string[]): string[] {
  const byProto = new Map<string, Range[]>();
  for (const it of items) {
    const [proto, ports] = it.split(" . ") as [string, string];
    const [a, b] = ports.split("-").map(Number) as [number, number?];
    let list = byProto.get(proto);
    if (!list) byProto.set(proto, (list = []));
    list.push([a, b ?? a]);
  }
  const out: string[] = [];
  for (const [proto, ranges] of [...byProto].sort()) for (const [a, b] of unionRanges(ranges)) out.push(a === b ? `${proto} . ${a}` : `${proto} . ${a}-${b}`);
  return out;
}

function comment(p: NetworkPolicy): string {
  return clip(keyOf(p));
}

/** nft keeps comments up to 128 bytes. */
function clip(text: string): string {
  return text.length <= 128 ? text : text.slice(0, 125) + "...";
}

/**
 * Test helpers: builders for slim objects, and an interpreter of a compiled
 * plan that walks a new connection's first packet through the forward chain
 * as the kernel would (for the rule shapes compile.ts writes), so unit tests
 * can check the table's meaning against evaluate.ts without a kernel.
 */
import { tryParseIp } from "../lib/ipv4.ts";
import { FORWARD_CHAIN, type PolicyPlan } from "./compile.ts";
import type { Connection } from "./evaluate.ts";
import type { NftTransaction } from "../kernel/nft/transaction.ts";
import { elementKeyText, splitElements, type NftElement, type NftElementText } from "../kernel/nft/objects.ts";
import type { ContainerPort, NetworkPolicy, Pod, PolicyRule, Protocol } from "./types.ts";

export function pod(namespace: string, name: string, ip: string, o: Partial<Pod> = {}): Pod {
  return { namespace, name, labels: { pod: name }, ips: [ip], node: "n1", hostNetwork: false, ports: [], ...o };
}

export function policy(namespace: string, name: string, o: Partial<NetworkPolicy> & { ingress?: PolicyRule[]; egress?: PolicyRule[] } = {}): NetworkPolicy {
  return { namespace, name, podSelector: {}, ingress: [], egress: [], ...o };
}

/** The upstream truth-table pods' ports: serve-80-tcp, serve-81-udp, ... */
export function servePorts(): ContainerPort[] {
  const out: ContainerPort[] = [];
  for (const port of [80, 81]) for (const protocol of ["TCP", "UDP", "SCTP"] as Protocol[]) out.push({ name: `serve-${port}-${protocol.toLowerCase()}`, port, protocol });
  return out;
}

const PROTO: Record<Protocol, string> = { TCP: "6", UDP: "17", SCTP: "132" };

/** What the forward chain does with the first packet of `c`: "accept" or "drop". `local` are this node's own addresses (fib saddr type local). */
export function runPlan(plan: PolicyPlan, c: Connection, local: readonly string[] = []): "accept" | "drop" {
  const forward = plan.chains.get(FORWARD_CHAIN)!;
  for (const rule of forward.rules) {
    if (rule.startsWith("ct state")) continue; // a new connection
    if (rule === "fib saddr type local accept") {
      if (local.includes(c.src)) return "accept";
      continue;
    }
    const m = /^ip (saddr|daddr) vmap @(\S+)$/.exec(rule);
    if (!m) throw new Error(`runPlan: unknown forward rule ${rule}`);
    const ip = m[1] === "saddr" ? c.src : c.dst;
    const el = plan.sets.get(m[2]!)!.elements.find((e) => e.key[0] === ip);
    if (!el) continue;
    const chain = /^jump (\S+)$/.exec(el.value!)![1]!;
    const v = runChain(plan, chain, c);
    if (v !== "return") return v;
  }
  return "accept";
}

function runChain(plan: PolicyPlan, name: string, c: Connection): "accept" | "drop" | "return" {
  const chain = plan.chains.get(name);
  if (!chain) throw new Error(`runPlan: no chain ${name}`);
  for (const rule of chain.rules) {
    if (rule === "counter drop") return "drop";
    const words = rule.split(" ");
    const verdict = words.at(-1)!;
    const goto = words.at(-2) === "goto" ? verdict : undefined;
    let text = rule.slice(0, rule.length - verdict.length - (goto ? 5 : 0)).trim();
    let ok = true;
    while (text && ok) {
      let m: RegExpExecArray | null;
      if ((m = /^ip (saddr|daddr) (\d+\.\d+\.\d+\.\d+)\s*/.exec(text))) ok = (m[1] === "saddr" ? c.src : c.dst) === m[2];
      else if ((m = /^ip (saddr|daddr) @(\S+)\s*/.exec(text))) ok = inPeers(plan, m[2]!, m[1] === "saddr" ? c.src : c.dst);
      else if ((m = /^ip daddr \. meta l4proto \. th dport @(\S+)\s*/.exec(text))) ok = plan.sets.get(m[1]!)!.elements.some((e) => e.key.join(" . ") === `${c.dst} . ${PROTO[c.protocol]} . ${c.port}`);
      else if ((m = /^meta l4proto \. th dport @(\S+)\s*/.exec(text))) ok = inPorts(plan, m[1]!, c);
      else throw new Error(`runPlan: cannot read "${text}" in ${name}`);
      text = text.slice(m[0].length);
    }
    if (!ok) continue;
    if (goto) return runChain(plan, goto, c);
    if (verdict === "accept" || verdict === "return") return verdict;
    throw new Error(`runPlan: unknown verdict in ${rule}`);
  }
  return "return";
}

function inPeers(plan: PolicyPlan, set: string, ip: string): boolean {
  const n = tryParseIp(ip)!;
  return plan.sets.get(set)!.elements.some((e) => {
    const [a, b] = e.key[0]!.split("-").map((x) => tryParseIp(x)!) as [number, number?];
    return n >= a && n <= (b ?? a);
  });
}

function inPorts(plan: PolicyPlan, set: string, c: Connection): boolean {
  return plan.sets.get(set)!.elements.some((e) => {
    if (e.key[0] !== PROTO[c.protocol]) return false;
    const [a, b] = e.key[1]!.split("-").map(Number) as [number, number?];
    return c.port >= a && c.port <= (b ?? a);
  });
}

/** A table as a plain model: chains' rules and sets' elements (key text → value). */
export interface TableModel {
  chains: Map<string, string[]>;
  sets: Map<string, Map<string, string | undefined>>;
}

/** The model a plan describes. */
export function planModel(plan: PolicyPlan): TableModel {
  return {
    chains: new Map([...plan.chains].map(([n, c]) => [n, [...c.rules]])),
    sets: new Map([...plan.sets].map(([n, s]) => [n, new Map(s.elements.map((e) => [e.key.join(" . "), e.value]))])),
  };
}

/** Applies a transaction to a model as the kernel would, throwing where nft would refuse (a missing object or element, a duplicate element). */
export function applyToModel(m: TableModel, tx: NftTransaction): void {
  for (const o of tx.ops) {
    switch (o.op) {
      case "add-table":
        break;
      case "delete-table":
        m.chains.clear();
        m.sets.clear();
        break;
      case "flush-table":
        for (const c of m.chains.values()) c.length = 0;
        for (const s of m.sets.values()) s.clear();
        break;
      case "add-chain":
        if (!m.chains.has(o.chain.name)) m.chains.set(o.chain.name, []);
        break;
      case "flush-chain":
        need(m.chains.get(o.chain), `chain ${o.chain}`).length = 0;
        break;
      case "delete-chain":
        if (need(m.chains.get(o.chain), `chain ${o.chain}`).length) throw new Error(`delete of non-empty chain ${o.chain}`);
        m.chains.delete(o.chain);
        break;
      case "add-set":
        if (!m.sets.has(o.set.name)) m.sets.set(o.set.name, new Map());
        break;
      case "flush-set":
        need(m.sets.get(o.set), `set ${o.set}`).clear();
        break;
      case "delete-set":
        need(m.sets.get(o.set), `set ${o.set}`);
        m.sets.delete(o.set);
        break;
      case "add-element": {
        const s = need(m.sets.get(o.set), `set ${o.set}`);
        for (const e of o.elements.flatMap(keyed)) {
          const k = e.key;
          if (s.has(k) && s.get(k) !== e.value) throw new Error(`element ${k} of ${o.set} exists with another value`);
          s.set(k, e.value);
        }
        break;
      }
      case "delete-element": {
        const s = need(m.sets.get(o.set), `set ${o.set}`);
        for (const { key: k } of o.elements.flatMap(keyed)) {
          if (!s.delete(k)) throw new Error(`no element ${k} in ${o.set}`);
        }
        break;
      }
      case "add-rule":
        need(m.chains.get(o.chain), `chain ${o.chain}`).push(o.rule);
        break;
    }
  }
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`no ${what}`);
  return v;
}

/** Elements (objects or element texts) as key text and value. */
function keyed(e: NftElement | NftElementText): { key: string; value: string | undefined }[] {
  if (typeof e !== "string") return [{ key: e.key.join(" . "), value: e.value }];
  return splitElements(e).map((one) => {
    const key = elementKeyText(one);
    return { key, value: key.length < one.length ? one.slice(key.length + 3) : undefined };
  });
}

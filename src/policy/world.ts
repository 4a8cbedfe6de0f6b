/**
 * The inputs of policy, indexed: pods by IP and namespace, namespaces'
 * labels, and which policies select which pod. Both the evaluator and the
 * compiler read the cluster through this, so "which pods does a peer
 * match" has one answer.
 */
import { matchesSelector, selectorText } from "./selector.ts";
import { ipBlockRanges, inRanges, type Range } from "./ranges.ts";
import { tryParseIp } from "../lib/ipv4.ts";
import { effectivePolicyTypes, keyOf, type Labels, type Namespace, type NetworkPolicy, type Peer, type Pod } from "./types.ts";

export interface World {
  pods: Iterable<Pod>;
  namespaces: Iterable<Namespace>;
  policies: Iterable<NetworkPolicy>;
}

/** The policies selecting one pod, by direction (policy keys, sorted). */
export interface Selection {
  ingress: NetworkPolicy[];
  egress: NetworkPolicy[];
}

const NONE: Labels = Object.freeze({});

/** Whether `p` selects `pod` (in some direction): same namespace, pod selector matching. */
export function policySelects(p: NetworkPolicy, pod: Pod): boolean {
  return p.namespace === pod.namespace && matchesSelector(p.podSelector, pod.labels);
}

export class PolicyIndex {
  /** Pods that policy applies to: not hostNetwork. */
  readonly pods: Pod[] = [];
  readonly policies: NetworkPolicy[];
  readonly #byIp = new Map<string, Pod>();
  readonly #byNamespace = new Map<string, Pod[]>();
  readonly #nsLabels = new Map<string, Labels>();
  readonly #byPolicyNamespace = new Map<string, NetworkPolicy[]>();
  readonly #ipBlocks = new Map<string, Range[]>();
  /** peerPods answers by the peer's meaning: policies repeat the same peers a lot. */
  readonly #peerPods = new Map<string, Pod[]>();

  constructor(w: World) {
    for (const n of w.namespaces) this.#nsLabels.set(n.name, n.labels);
    for (const p of w.pods) {
      if (p.hostNetwork) continue;
      this.pods.push(p);
      for (const ip of p.ips) this.#byIp.set(ip, p);
      let list = this.#byNamespace.get(p.namespace);
      if (!list) this.#byNamespace.set(p.namespace, (list = []));
      list.push(p);
    }
    this.policies = [...w.policies].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    for (const p of this.policies) {
      let list = this.#byPolicyNamespace.get(p.namespace);
      if (!list) this.#byPolicyNamespace.set(p.namespace, (list = []));
      list.push(p);
    }
  }

  /** The (non-hostNetwork) pod holding `ip`, if any. */
  podByIp(ip: string): Pod | undefined {
    return this.#byIp.get(ip);
  }

  /** A namespace's labels; a namespace not (yet) known has none. */
  namespaceLabels(ns: string): Labels {
    return this.#nsLabels.get(ns) ?? NONE;
  }

  /** The policies that select `pod`, per direction they isolate. */
  selection(pod: Pod): Selection {
    const out: Selection = { ingress: [], egress: [] };
    if (pod.hostNetwork) return out;
    for (const p of this.#byPolicyNamespace.get(pod.namespace) ?? []) {
      if (!policySelects(p, pod)) continue;
      const t = effectivePolicyTypes(p);
      if (t.ingress) out.ingress.push(p);
      if (t.egress) out.egress.push(p);
    }
    return out;
  }

  /** The pods a selector peer of a policy in `policyNs` matches (empty for an ipBlock peer). Do not change the array. */
  peerPods(peer: Peer, policyNs: string): Pod[] {
    if (peer.ipBlock) return [];
    const key = `${peer.namespaceSelector ? `ns ${selectorText(peer.namespaceSelector)}` : `in ${policyNs}`}|${peer.podSelector ? selectorText(peer.podSelector) : "*"}`;
    let pods = this.#peerPods.get(key);
    if (!pods) this.#peerPods.set(key, (pods = this.#findPeerPods(peer, policyNs)));
    return pods;
  }

  #findPeerPods(peer: Peer, policyNs: string): Pod[] {
    const out: Pod[] = [];
    if (peer.namespaceSelector === undefined) {
      for (const p of this.#byNamespace.get(policyNs) ?? []) if (matchesSelector(peer.podSelector!, p.labels)) out.push(p);
      return out;
    }
    for (const [ns, pods] of this.#byNamespace) {
      if (!matchesSelector(peer.namespaceSelector, this.namespaceLabels(ns))) continue;
      for (const p of pods) if (peer.podSelector === undefined || matchesSelector(peer.podSelector, p.labels)) out.push(p);
    }
    return out;
  }

  /** An ipBlock's ranges (cached; malformed blocks are empty: validate.ts reports them). */
  blockRanges(peer: Peer): Range[] {
    const b = peer.ipBlock!;
    const key = `${b.cidr} ${b.except.join(" ")}`;
    let r = this.#ipBlocks.get(key);
    if (!r) {
      try {
        r = ipBlockRanges(b.cidr, b.except);
      } catch {
        r = [];
      }
      this.#ipBlocks.set(key, r);
    }
    return r;
  }

  /** True when `peer` (of a policy in `policyNs`) matches address `ip`, held by `pod` if a pod holds it. */
  peerMatches(peer: Peer, policyNs: string, ip: string, pod: Pod | undefined): boolean {
    if (peer.ipBlock) {
      const n = tryParseIp(ip);
      return n !== undefined && inRanges(this.blockRanges(peer), n);
    }
    if (!pod) return false;
    if (peer.namespaceSelector === undefined) return pod.namespace === policyNs && matchesSelector(peer.podSelector!, pod.labels);
    if (!matchesSelector(peer.namespaceSelector, this.namespaceLabels(pod.namespace))) return false;
    return peer.podSelector === undefined || matchesSelector(peer.podSelector, pod.labels);
  }
}

/**
 * NetworkPolicy (networking.k8s.io/v1) → the policy's slim NetworkPolicy
 * (policy/types.ts), at the API boundary. The API server has defaulted and
 * validated the object (policyTypes included); absent fields get the API's
 * defaults here too, so hand-made objects and older servers read the same.
 */
import type { V1NetworkPolicy, V1NetworkPolicyPeer, V1NetworkPolicyPort, V1LabelSelector } from "@kubernetes/client-node";
import type { LabelSelector, NetworkPolicy, Peer, PolicyPort, PolicyRule, PolicyType, SelectorOperator } from "../policy/types.ts";
import { protocolOf } from "./services.ts";

/** The policy's view of `o`, or undefined when it has no name or namespace (not a stored object). */
export function fromV1NetworkPolicy(o: V1NetworkPolicy): NetworkPolicy | undefined {
  const namespace = o.metadata?.namespace;
  const name = o.metadata?.name;
  if (!namespace || !name) return undefined;
  const spec = o.spec;
  const p: NetworkPolicy = {
    namespace,
    name,
    podSelector: selectorOf(spec?.podSelector),
    // The typed list calls it `_from` (deserialized); watch events carry the wire's `from`.
    ingress: (spec?.ingress ?? []).map((r) => ruleOf(r._from ?? (r as { from?: V1NetworkPolicyPeer[] }).from, r.ports)),
    egress: (spec?.egress ?? []).map((r) => ruleOf(r.to, r.ports)),
  };
  const types = (spec?.policyTypes ?? []).filter((t): t is PolicyType => t === "Ingress" || t === "Egress");
  if (types.length > 0) p.policyTypes = types;
  return p;
}

export function selectorOf(s: V1LabelSelector | undefined): LabelSelector {
  const out: LabelSelector = {};
  if (s?.matchLabels && Object.keys(s.matchLabels).length > 0) out.matchLabels = { ...s.matchLabels };
  if (s?.matchExpressions?.length) out.matchExpressions = s.matchExpressions.map((e) => ({ key: e.key, operator: e.operator as SelectorOperator, values: e.values ?? [] }));
  return out;
}

function ruleOf(peers: V1NetworkPolicyPeer[] | undefined, ports: V1NetworkPolicyPort[] | undefined): PolicyRule {
  const r: PolicyRule = {};
  if (peers?.length) r.peers = peers.map(peerOf);
  if (ports?.length) r.ports = ports.map(portOf);
  return r;
}

function peerOf(p: V1NetworkPolicyPeer): Peer {
  const out: Peer = {};
  if (p.podSelector) out.podSelector = selectorOf(p.podSelector);
  if (p.namespaceSelector) out.namespaceSelector = selectorOf(p.namespaceSelector);
  if (p.ipBlock) out.ipBlock = { cidr: p.ipBlock.cidr, except: p.ipBlock.except ?? [] };
  return out;
}

function portOf(p: V1NetworkPolicyPort): PolicyPort {
  const out: PolicyPort = { protocol: protocolOf(p.protocol) };
  // IntOrString: a number, or a name (a string of digits is still a number to the API).
  if (p.port !== undefined && p.port !== null) out.port = typeof p.port === "number" || /^\d+$/.test(String(p.port)) ? Number(p.port) : String(p.port);
  if (p.endPort !== undefined && p.endPort !== null) out.endPort = p.endPort;
  return out;
}

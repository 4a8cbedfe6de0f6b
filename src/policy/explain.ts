/**
 * Why policy lets a connection through or drops it, rule by rule: what
 * `weft trace` shows on a path and the agent's /policy/explain answers.
 * It reads the cluster through the same PolicyIndex and port matching as
 * evaluate.ts, so the two cannot disagree; evaluate answers "allowed?",
 * this says which rule of which policy allows it (policy ns/name and the
 * rule's index in its ingress or egress list).
 *
 * A connection may leave the protocol and port out ("from A to B at all"):
 * a rule then allows it when its peers match, and the answer lists the
 * ports each allowing rule opens, so a user learns where to probe.
 */
import { portMatches, resolveNamedPort } from "./evaluate.ts";
import { keyOf, type NetworkPolicy, type PolicyPort, type PolicyRule, type Pod, type Protocol } from "./types.ts";
import type { PolicyIndex } from "./world.ts";

/** A connection to explain; without `protocol`, every port and protocol. */
export interface ExplainQuery {
  src: string;
  dst: string;
  /** With `port`: one port; alone: every port of the protocol. */
  protocol?: Protocol;
  /** The destination port after Service DNAT; needs `protocol`. */
  port?: number;
}

/** One rule that allows the connection. */
export interface AllowingRule {
  /** The policy, namespace/name. */
  policy: string;
  /** The rule's index in the policy's `ingress` or `egress` list, from 0. */
  rule: number;
  /** The ports the rule opens, as text ("TCP 80", "UDP 5000-5010", "TCP http (80)"); "all ports" when it lists none. */
  ports: string;
}

/** One direction of one end. */
export interface DirectionExplanation {
  /** The pod, namespace/name. */
  pod: string;
  /** Some policy selects the pod for this direction. */
  isolated: boolean;
  /** The policies isolating it (namespace/name, sorted). */
  policies: string[];
  /** The rules allowing the connection; empty while isolated means it is dropped. */
  allowedBy: AllowingRule[];
  /** True when this direction lets the connection through. */
  allowed: boolean;
}

/** Both directions of a connection; an end that is no pod (or is the same pod) has none. */
export interface Explanation {
  /** The source pod's egress, when the source is a pod. */
  egress: DirectionExplanation | null;
  /** The destination pod's ingress, when the destination is a pod. */
  ingress: DirectionExplanation | null;
  /** Both directions allow it. */
  allowed: boolean;
  /** A pod reaching itself is always allowed, whatever selects it. */
  self: boolean;
}

/** Explains `q` in `index`. */
export function explain(index: PolicyIndex, q: ExplainQuery): Explanation {
  const src = index.podByIp(q.src);
  const dst = index.podByIp(q.dst);
  if (src && src === dst) return { egress: null, ingress: null, allowed: true, self: true };
  const egress = src ? direction(src, index.selection(src).egress, (p) => p.egress, (r, ns) => peersMatch(index, r, ns, q.dst, dst), q, dst) : null;
  const ingress = dst ? direction(dst, index.selection(dst).ingress, (p) => p.ingress, (r, ns) => peersMatch(index, r, ns, q.src, src), q, dst) : null;
  return { egress, ingress, allowed: (egress?.allowed ?? true) && (ingress?.allowed ?? true), self: false };
}

function direction(pod: Pod, policies: NetworkPolicy[], rules: (p: NetworkPolicy) => readonly PolicyRule[], peers: (r: PolicyRule, ns: string) => boolean, q: ExplainQuery, dst: Pod | undefined): DirectionExplanation {
  const allowedBy: AllowingRule[] = [];
  for (const p of policies) {
    rules(p).forEach((r, i) => {
      if (!peers(r, p.namespace)) return;
      const ports = matchingPorts(r, q, dst);
      if (ports !== null) allowedBy.push({ policy: keyOf(p), rule: i, ports });
    });
  }
  const isolated = policies.length > 0;
  return { pod: keyOf(pod), isolated, policies: policies.map(keyOf), allowedBy, allowed: !isolated || allowedBy.length > 0 };
}

function peersMatch(index: PolicyIndex, r: PolicyRule, ns: string, peerIp: string, peerPod: Pod | undefined): boolean {
  return !r.peers?.length || r.peers.some((p) => index.peerMatches(p, ns, peerIp, peerPod));
}

/** The text of the ports of `r` that match `q`, or null when none does. */
function matchingPorts(r: PolicyRule, q: ExplainQuery, dst: Pod | undefined): string | null {
  if (!r.ports?.length) return "all ports";
  let ports = r.ports;
  if (q.protocol !== undefined) {
    const protocol = q.protocol;
    ports = q.port === undefined ? ports.filter((p) => p.protocol === protocol) : ports.filter((p) => portMatches(p, { protocol, port: q.port! }, dst));
  }
  return ports.length === 0 ? null : ports.map((p) => portText(p, dst)).join(", ");
}

/** "TCP 80", "TCP 8000-8080", "UDP all", or a named port with what it resolves to on `dst`. */
export function portText(p: PolicyPort, dst: Pod | undefined): string {
  if (p.port === undefined) return `${p.protocol} all`;
  if (typeof p.port === "number") return `${p.protocol} ${p.port}${p.endPort !== undefined ? `-${p.endPort}` : ""}`;
  const numbers = resolveNamedPort(p.port, p.protocol, dst);
  return `${p.protocol} ${p.port} (${numbers.length ? numbers.join(", ") : `not a port of ${dst ? keyOf(dst) : "the destination"}`})`;
}

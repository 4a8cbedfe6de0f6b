/**
 * The meaning of NetworkPolicy, as a pure function: is this connection
 * allowed? It is the reference the compiled nftables table is checked
 * against (compile.test.ts), and what strict mode asks of each tracked flow
 * (conntrack.ts).
 *
 * A connection from A to B needs A's egress and B's ingress to allow it:
 *   - a pod not selected by any policy of a direction is not isolated in it;
 *   - an isolated pod allows what the union of the selecting policies' rules
 *     of that direction allows (rules are additive; a peer list and a port
 *     list each match when any entry does; an absent or empty list matches
 *     everything);
 *   - a pod reaching itself, and traffic from the destination pod's own node
 *     (`nodeIps`), are always allowed; replies of allowed connections are a
 *     matter of the data plane's connection tracking, not of this function.
 * Named ports resolve against the destination pod's container ports with the
 * rule's protocol; a destination that is no pod has no named ports.
 */
import { keyOf, type NetworkPolicy, type Pod, type PolicyPort, type PolicyRule, type Protocol } from "./types.ts";
import { PolicyIndex, type World } from "./world.ts";

export interface Connection {
  src: string;
  dst: string;
  protocol: Protocol;
  /** The destination port after Service DNAT. */
  port: number;
}

export interface DirectionVerdict {
  /** Some policy isolates the pod in this direction. */
  isolated: boolean;
  /** Keys of the policies with a rule allowing the connection. */
  allowedBy: string[];
}

export interface Verdict {
  allowed: boolean;
  /** Why, in a few words. */
  reason: string;
  /** The source pod's egress, when the source is a pod. */
  egress?: DirectionVerdict;
  /** The destination pod's ingress, when the destination is a pod. */
  ingress?: DirectionVerdict;
}

export interface EvaluateOptions {
  /** Addresses of each node, by node name: traffic from a pod's own node is allowed. Default none. */
  nodeIps?: ReadonlyMap<string, readonly string[]>;
}

/** The verdict on `c` in `world` (a PolicyIndex to evaluate many connections). */
export function evaluate(world: World | PolicyIndex, c: Connection, o: EvaluateOptions = {}): Verdict {
  const index = world instanceof PolicyIndex ? world : new PolicyIndex(world);
  const src = index.podByIp(c.src);
  const dst = index.podByIp(c.dst);
  if (src && dst && src === dst) return { allowed: true, reason: "a pod reaching itself" };
  const out: Verdict = { allowed: true, reason: "" };
  if (src) out.egress = direction(index, index.selection(src).egress, (r, ns) => ruleAllows(index, r, ns, c.dst, dst, c), (r) => r.egress);
  const fromOwnNode = dst !== undefined && (o.nodeIps?.get(dst.node) ?? []).includes(c.src);
  if (dst && !fromOwnNode) out.ingress = direction(index, index.selection(dst).ingress, (r, ns) => ruleAllows(index, r, ns, c.src, src, c, dst), (r) => r.ingress);
  const e = out.egress;
  const i = out.ingress;
  if (e?.isolated && e.allowedBy.length === 0) return { ...out, allowed: false, reason: `no egress rule of ${src!.namespace}/${src!.name} allows it` };
  if (i?.isolated && i.allowedBy.length === 0) return { ...out, allowed: false, reason: `no ingress rule of ${dst!.namespace}/${dst!.name} allows it` };
  out.reason = fromOwnNode ? "from the destination pod's own node" : !e?.isolated && !i?.isolated ? "neither end is isolated" : "allowed by policy";
  return out;
}

function direction(_index: PolicyIndex, policies: NetworkPolicy[], allows: (r: PolicyRule, ns: string) => boolean, rules: (p: NetworkPolicy) => readonly PolicyRule[]): DirectionVerdict {
  const allowedBy: string[] = [];
  for (const p of policies) if (rules(p).some((r) => allows(r, p.namespace))) allowedBy.push(keyOf(p));
  return { isolated: policies.length > 0, allowedBy };
}

/**
 * Does rule `r` of a policy in `ns` allow `c`, whose other end is `peerIp`
 * (held by `peerPod`)? `dstPod` is the connection's destination pod: for an
 * egress rule it is the peer, for an ingress rule the selected pod.
 */
function ruleAllows(index: PolicyIndex, r: PolicyRule, ns: string, peerIp: string, peerPod: Pod | undefined, c: Connection, dstPod: Pod | undefined = peerPod): boolean {
  const peersOk = !r.peers?.length || r.peers.some((p) => index.peerMatches(p, ns, peerIp, peerPod));
  return peersOk && (!r.ports?.length || r.ports.some((p) => portMatches(p, c, dstPod)));
}

/** True when policy port `p` matches the connection's protocol and (DNATed) port, named ports resolved against `dst`. */
export function portMatches(p: PolicyPort, c: Pick<Connection, "protocol" | "port">, dst: Pod | undefined): boolean {
  if (p.protocol !== c.protocol) return false;
  if (p.port === undefined) return true;
  if (typeof p.port === "number") return p.endPort === undefined ? c.port === p.port : c.port >= p.port && c.port <= p.endPort;
  return resolveNamedPort(p.port, p.protocol, dst).includes(c.port);
}

/** The numbers a named port has on `pod` for `protocol` (none when no container port has the name). */
export function resolveNamedPort(name: string, protocol: Protocol, pod: Pod | undefined): number[] {
  return (pod?.ports ?? []).filter((cp) => cp.name === name && cp.protocol === protocol).map((cp) => cp.port);
}

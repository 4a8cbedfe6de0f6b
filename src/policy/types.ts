/**
 * The network policy's slim view of the Kubernetes API: Pods, Namespaces and
 * NetworkPolicies (networking.k8s.io/v1) with only the fields policy acts on.
 * kube/ converts API objects into these at the boundary; everything in
 * policy/ is a pure function of them, so tests build them by hand.
 *
 * Addresses are IPv4 (weft's cluster is IPv4); other families are dropped at
 * the boundary.
 */

export type Protocol = "TCP" | "UDP" | "SCTP";
export type Labels = Readonly<Record<string, string>>;

export interface ContainerPort {
  /** The port's name (an IANA_SVC_NAME), or null when unnamed. */
  name: string | null;
  port: number;
  protocol: Protocol;
}

export interface Pod {
  namespace: string;
  name: string;
  labels: Labels;
  /** IPv4 addresses (status.podIPs); empty until the runtime has given it one. */
  ips: readonly string[];
  /** spec.nodeName; "" while unscheduled. */
  node: string;
  /** A hostNetwork pod is node traffic: never selected, never a pod peer. */
  hostNetwork: boolean;
  /** Every container's ports (named ports resolve against these). */
  ports: readonly ContainerPort[];
}

export interface Namespace {
  name: string;
  labels: Labels;
}

export type SelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist";

export interface SelectorRequirement {
  key: string;
  operator: SelectorOperator;
  /** Required non-empty for In/NotIn, empty for Exists/DoesNotExist. */
  values: readonly string[];
}

/** A metav1.LabelSelector; the empty selector matches everything. */
export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: readonly SelectorRequirement[];
}

export interface IpBlock {
  cidr: string;
  except: readonly string[];
}

/**
 * A NetworkPolicyPeer. The API allows exactly these shapes: podSelector,
 * namespaceSelector, both (pods matching podSelector in namespaces matching
 * namespaceSelector), or ipBlock alone.
 */
export interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IpBlock;
}

export interface PolicyPort {
  /** Default TCP. */
  protocol: Protocol;
  /** A number, a container port's name, or undefined for every port of the protocol. */
  port?: number | string;
  /** The last port of a range starting at the numeric `port`. */
  endPort?: number;
}

/** One ingress or egress rule: `from`/`to` peers (undefined or empty: everyone) and ports (undefined or empty: every port and protocol). */
export interface PolicyRule {
  peers?: readonly Peer[];
  ports?: readonly PolicyPort[];
}

export type PolicyType = "Ingress" | "Egress";

export interface NetworkPolicy {
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  /** As written; undefined means "not given" (the API server then infers it: effectivePolicyTypes). */
  policyTypes?: readonly PolicyType[];
  ingress: readonly PolicyRule[];
  egress: readonly PolicyRule[];
}

/** `namespace/name`. */
export function keyOf(o: { namespace: string; name: string }): string {
  return `${o.namespace}/${o.name}`;
}

/**
 * The policy types in effect, as the API server defaults them: given ones as
 * they are; otherwise Ingress always, plus Egress when there are egress rules.
 */
export function effectivePolicyTypes(p: NetworkPolicy): { ingress: boolean; egress: boolean } {
  if (p.policyTypes && p.policyTypes.length > 0) return { ingress: p.policyTypes.includes("Ingress"), egress: p.policyTypes.includes("Egress") };
  return { ingress: true, egress: p.egress.length > 0 };
}

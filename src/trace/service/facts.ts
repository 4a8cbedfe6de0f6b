/**
 * What the service trace knows: the Service and its EndpointSlices from the
 * API server, what the proxy should program for the traced port on the
 * source pod's node (the proxy's own planner run over those objects), what
 * the kernel of that node holds (asked with `nft get element` and `nft list
 * chain` in table `ip weft-proxy`), and what a probe from the pod saw,
 * with the conntrack entry it left. Plain data, read by read.ts, so the
 * steps (steps.ts) are a pure function unit tests feed with literals.
 */
import type { PortPlan } from "../../proxy/plan.ts";
import type { EndpointSlice, Service, ServicePort } from "../../proxy/types.ts";
import type { TracedPod } from "../lab-pods.ts";

/** What the trace sends: a connection of a service protocol, or an ICMP echo (ping). */
export type TraceProtocol = "tcp" | "udp" | "sctp" | "icmp";

/** The kernel's side on the source node, in table `ip weft-proxy`. */
export interface ProxyKernelFacts {
  /** Null when the table is there; else why it could not be read (e.g. it does not exist). */
  tableError: string | null;
  /** The verdict of `clusterIP . proto . port` in map service-ips (e.g. "goto svc-default/web/tcp/http"), or null when the map has no such key. */
  serviceVerdict: string | null;
  /** The same key's verdict in map no-endpoint-services ("goto reject-chain" or "drop"), or null. */
  noEndpointVerdict: string | null;
  /** Whether the ClusterIP is in set cluster-ips (what the post-DNAT check rejects). */
  clusterIpListed: boolean;
  /** The chain the service verdict goes to, with the endpoint chains it chooses among and each one's DNAT target (ip:port, null when it has none); null when there is no service verdict. */
  balance: { chain: string; endpoints: { chain: string; target: string | null }[]; error: string | null } | null;
}

/** What the probe from the source pod saw. */
export interface ProbeFacts {
  /** `connect`: one TCP connection or UDP datagram; `ping`: one ICMP echo. */
  kind: "connect" | "ping";
  /**
   * connect: connected, answered (UDP), sent (UDP, no answer, no refusal),
   * refused, timeout or error; ping: reply, unreachable (an ICMP error came
   * back) or none.
   */
  outcome: string;
  /** How long until the outcome, in ms (null when unknown). */
  ms: number | null;
  /** The probe's source port, which finds its conntrack entry. */
  localPort: number | null;
  /** The probe's error or ping's own words for what came back. */
  detail: string | null;
  /** The probe's conntrack entry on the source node: where the reply comes from, i.e. the endpoint the kernel chose (ip:port); null when there is none. */
  conntrack: { endpoint: string; entry: string } | null;
  /** Why conntrack could not be read, when it could not. */
  conntrackError: string | null;
}

/** Everything one service trace is built from. */
export interface ServiceFacts {
  lab: string;
  from: TracedPod;
  service: Service;
  slices: EndpointSlice[];
  /** The ClusterIP traced (the one asked for, or the Service's first). */
  clusterIP: string;
  protocol: TraceProtocol;
  /** The Service's port traced; null for ICMP and for a port the Service does not define. */
  port: ServicePort | null;
  /** The destination port sent to; null for ICMP. */
  dport: number | null;
  /** What the proxy should program for `port` on the source node, from the API's objects; null without a port. */
  expected: PortPlan | null;
  /** The source pod's node. */
  node: { name: string; netns: string };
  kernel: ProxyKernelFacts;
  /** Null when nothing could be sent (SCTP: no probe). */
  probe: ProbeFacts | null;
}

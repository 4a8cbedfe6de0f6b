/**
 * The slim internal types the service proxy plans from. src/kube converts
 * Services and EndpointSlices (discovery.k8s.io/v1) into these at the API
 * boundary, so the planner is a pure function that tests feed with literals.
 * Defaults are the API server's: callers fill them in, the planner does not
 * guess.
 */

export type Protocol = "TCP" | "UDP" | "SCTP";

/** One port of a Service. */
export interface ServicePort {
  /** The port's name; "" only for a Service with a single unnamed port. */
  name: string;
  protocol: Protocol;
  /** The service port on the ClusterIP, external and load-balancer IPs. */
  port: number;
  /** The pods' port: a number, or the name of a container port (resolved per endpoint by the EndpointSlice). */
  targetPort: number | string;
  /** The port on every node's addresses (NodePort and LoadBalancer Services). */
  nodePort?: number;
}

/** A load balancer's address; ipMode `Proxy` means the balancer proxies and the node must not capture the IP. */
export interface LoadBalancerIngress {
  ip: string;
  /** Default `VIP`. */
  ipMode: "VIP" | "Proxy";
}

export interface Service {
  namespace: string;
  name: string;
  type: "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";
  /** IPv4 ClusterIPs; empty for a headless Service (clusterIP None), which the proxy leaves alone. */
  clusterIPs: string[];
  externalIPs: string[];
  loadBalancerIngress: LoadBalancerIngress[];
  ports: ServicePort[];
  sessionAffinity: "None" | "ClientIP";
  /** ClientIP affinity's timeout; the API default is 10,800 s. */
  affinityTimeoutSeconds: number;
  externalTrafficPolicy: "Cluster" | "Local";
  internalTrafficPolicy: "Cluster" | "Local";
  /** Set by the API server for LoadBalancer Services with externalTrafficPolicy Local. */
  healthCheckNodePort?: number;
  /** CIDRs allowed to reach the load-balancer IPs; empty allows all. */
  loadBalancerSourceRanges: string[];
}

/** One endpoint of a slice (its first address; the API says consumers use only that one). */
export interface Endpoint {
  address: string;
  /** Ready for new connections; an absent condition counts as ready (the API's rule). */
  ready: boolean;
  /** Serving, whatever its termination state; absent counts as `ready`. */
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
}

/** A port of a slice: the named `targetPort` as resolved for the slice's pods. */
export interface EndpointPort {
  name: string;
  protocol: Protocol;
  port: number;
}

export interface EndpointSlice {
  namespace: string;
  name: string;
  /** The Service it belongs to (label kubernetes.io/service-name). */
  service: string;
  endpoints: Endpoint[];
  ports: EndpointPort[];
  /**
   * When the change this slice carries began, in ms since the epoch (the
   * annotation endpoints.kubernetes.io/last-change-trigger-time); the
   * network programming latency is measured from here to the rule in the
   * kernel. Absent: from when the proxy received it.
   */
  triggerTimeMs?: number;
}

/** `namespace/name`, the key services and their slices are grouped by. */
export function serviceKey(o: { namespace: string; name: string }): string {
  return `${o.namespace}/${o.name}`;
}

/**
 * Compact builders of Services and EndpointSlices for the proxy's tests and
 * benchmarks: API defaults filled in, only what a case cares about given.
 */
import type { Endpoint, EndpointSlice, Service, ServicePort } from "./types.ts";

/** A Service with the API server's defaults (ClusterIP, policies Cluster, no affinity). */
export function svc(namespace: string, name: string, o: Partial<Omit<Service, "ports">> & { ports?: (Partial<ServicePort> & { port: number })[] }): Service {
  return {
    namespace,
    name,
    type: "ClusterIP",
    clusterIPs: [],
    externalIPs: [],
    loadBalancerIngress: [],
    sessionAffinity: "None",
    affinityTimeoutSeconds: 10800,
    externalTrafficPolicy: "Cluster",
    internalTrafficPolicy: "Cluster",
    loadBalancerSourceRanges: [],
    ...o,
    ports: (o.ports ?? []).map((p) => ({ name: "", protocol: "TCP", targetPort: p.port, ...p })),
  };
}

/** An endpoint: ready and serving unless said otherwise. */
export function ep(address: string, o: Partial<Endpoint> = {}): Endpoint {
  const ready = o.ready ?? true;
  return { address, ready, serving: o.serving ?? ready, terminating: o.terminating ?? false, ...(o.nodeName === undefined ? {} : { nodeName: o.nodeName }) };
}

/** A slice of `service` with `ports` as `name:number[/PROTO]` (e.g. `http:8080`, `dns:53/UDP`, `:80`). */
export function slice(namespace: string, service: string, name: string, ports: string[], endpoints: Endpoint[]): EndpointSlice {
  return {
    namespace,
    name,
    service,
    endpoints,
    ports: ports.map((p) => {
      const m = /^([^:]*):(\d+)(?:\/(TCP|UDP|SCTP))?$/.exec(p);
      if (!m) throw new Error(`bad port spec ${p}`);
      return { name: m[1]!, port: Number(m[2]), protocol: (m[3] ?? "TCP") as "TCP" | "UDP" | "SCTP" };
    }),
  };
}

/** Groups slices by `namespace/service`, as the planner takes them. */
export function byService(slices: EndpointSlice[]): Map<string, EndpointSlice[]> {
  const m = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const k = `${s.namespace}/${s.service}`;
    m.set(k, [...(m.get(k) ?? []), s]);
  }
  return m;
}

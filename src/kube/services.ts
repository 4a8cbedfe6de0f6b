/**
 * Service (core/v1) → the proxy's slim Service (proxy/types.ts), at the API
 * boundary. The API server has already defaulted and validated the object;
 * what is left here is choosing the proxy's view: IPv4 addresses only
 * (weft's cluster is IPv4), "None" ClusterIPs make a headless Service, and
 * absent fields get the API's defaults (so hand-made objects in tests and
 * older servers read the same).
 */
import type { V1Service } from "@kubernetes/client-node";
import type { Protocol, Service, ServicePort } from "../proxy/types.ts";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The proxy's view of `o`, or undefined when it has no name or namespace (not a stored object). */
export function fromV1Service(o: V1Service): Service | undefined {
  const namespace = o.metadata?.namespace;
  const name = o.metadata?.name;
  if (!namespace || !name) return undefined;
  const spec = o.spec ?? {};
  const clusterIPs = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter((ip) => IPV4.test(ip));
  const type = (["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] as const).find((t) => t === spec.type) ?? "ClusterIP";
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => {
    const target = p.targetPort ?? p.port;
    const port: ServicePort = {
      name: p.name ?? "",
      protocol: protocolOf(p.protocol),
      port: p.port,
      targetPort: typeof target === "number" || /^\d+$/.test(String(target)) ? Number(target) : String(target),
    };
    if (p.nodePort !== undefined && p.nodePort !== null) port.nodePort = p.nodePort;
    return port;
  });
  const svc: Service = {
    namespace,
    name,
    type,
    clusterIPs,
    externalIPs: (spec.externalIPs ?? []).filter((ip) => IPV4.test(ip)),
    loadBalancerIngress: (o.status?.loadBalancer?.ingress ?? [])
      .filter((i) => i.ip !== undefined && IPV4.test(i.ip))
      .map((i) => ({ ip: i.ip!, ipMode: i.ipMode === "Proxy" ? "Proxy" : "VIP" })),
    ports,
    sessionAffinity: spec.sessionAffinity === "ClientIP" ? "ClientIP" : "None",
    affinityTimeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800,
    externalTrafficPolicy: spec.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
    internalTrafficPolicy: spec.internalTrafficPolicy === "Local" ? "Local" : "Cluster",
    loadBalancerSourceRanges: spec.loadBalancerSourceRanges ?? [],
  };
  if (spec.healthCheckNodePort) svc.healthCheckNodePort = spec.healthCheckNodePort;
  return svc;
}

/** A port's protocol; the API's default is TCP. */
/**
 * What fromV1Service reads of `o`, for an informer's cache (client.ts
 * SlimWatch): metadata's name, namespace and resourceVersion (by which the
 * cache keys and compares objects), the spec's fields the proxy uses and
 * the load balancer's ingress addresses; managedFields, annotations,
 * labels, selector and the rest are dropped. Lists and objects are copied,
 * not shared: a client-node model object held by the copy kept much of its
 * list response alive (measured: 20 MB for 10,000 Services where the copies
 * alone take 8). fromV1Service(slimV1Service(o)) is fromV1Service(o).
 */
export function slimV1Service(o: V1Service): V1Service {
  const m = o.metadata ?? {};
  const spec = o.spec;
  const ingress = o.status?.loadBalancer?.ingress;
  return {
    metadata: defined({ name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion }),
    ...(spec === undefined ? {} : {
      spec: defined({
        type: spec.type, clusterIP: spec.clusterIP, clusterIPs: spec.clusterIPs?.slice(), externalIPs: spec.externalIPs?.slice(),
        ports: spec.ports?.map((p) => defined({ name: p.name, protocol: p.protocol, port: p.port, targetPort: p.targetPort, nodePort: p.nodePort })),
        sessionAffinity: spec.sessionAffinity,
        sessionAffinityConfig: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined ? undefined : { clientIP: { timeoutSeconds: spec.sessionAffinityConfig.clientIP.timeoutSeconds } },
        externalTrafficPolicy: spec.externalTrafficPolicy, internalTrafficPolicy: spec.internalTrafficPolicy,
        loadBalancerSourceRanges: spec.loadBalancerSourceRanges?.slice(), healthCheckNodePort: spec.healthCheckNodePort,
      }),
    }),
    ...(ingress?.length ? { status: { loadBalancer: { ingress: ingress.map((i) => defined({ ip: i.ip, ipMode: i.ipMode })) } } } : {}),
  };
}

/**
 * A copy of `o` without its undefined properties (they would each take a
 * slot in every cached object). A copy, not `delete`: an object that loses a
 * property becomes a dictionary, several times larger.
 */
export function defined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

export function protocolOf(p: string | undefined): Protocol {
  return p === "UDP" || p === "SCTP" ? p : "TCP";
}

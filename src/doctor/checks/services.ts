/**
 * `services`: Services whose ClusterIP has a port with no usable endpoint
 * (none ready, and none serving while terminating, the proxy's own rule):
 * the service proxy refuses connections to them at once, which is right
 * for a Service being set up and a mistake for one meant to serve (a
 * selector that matches no pod, pods that never get ready). Cluster-wide,
 * so it is reported once, on the first node; it needs the API (--lab or
 * --kubeconfig).
 */
import type { EndpointSlice, Service } from "../../proxy/types.ts";
import { serviceKey } from "../../proxy/types.ts";
import { listing, ok, warn, type Check } from "../finding.ts";

const CHECK = "services";

/** The ports of `svc` (as `80/TCP`) that no endpoint of `slices` can serve. */
export function portsWithoutEndpoints(svc: Service, slices: readonly EndpointSlice[]): string[] {
  return svc.ports.flatMap((p) => {
    const eps = slices.flatMap((s) => (s.ports.some((x) => x.name === p.name && x.protocol === p.protocol) ? s.endpoints : []));
    const usable = eps.some((e) => e.ready) || eps.some((e) => e.serving && e.terminating);
    return usable ? [] : [`${p.port}/${p.protocol}`];
  });
}

export const checkServices: Check = (node, cluster) => {
  if (cluster.nodes[0] !== node || cluster.kubernetes === null || !cluster.kubernetes.ok) return [];
  const { services, slices } = cluster.kubernetes.value;
  const bySvc = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const k = `${s.namespace}/${s.service}`;
    bySvc.set(k, [...(bySvc.get(k) ?? []), s]);
  }
  // ExternalName and headless Services are DNS only: the proxy translates nothing for them.
  const proxied = services.filter((s) => s.type !== "ExternalName" && s.clusterIPs.length > 0 && s.ports.length > 0);
  const empty = proxied.flatMap((s) => {
    const ports = portsWithoutEndpoints(s, bySvc.get(serviceKey(s)) ?? []);
    if (ports.length === 0) return [];
    return [ports.length === s.ports.length ? serviceKey(s) : `${serviceKey(s)} (${ports.join(", ")})`];
  });
  if (empty.length === 0) return [ok(node, CHECK, `all ${proxied.length} Services with a ClusterIP have ready endpoints`)];
  const named = empty.length > 5 ? `${listing(empty.slice(0, 5))} and ${empty.length - 5} more` : listing(empty);
  return [
    warn(
      node,
      CHECK,
      `${empty.length} of ${proxied.length} Services ${empty.length === 1 ? "has" : "have"} no ready endpoint, so connections to ${empty.length === 1 ? "it are" : "them are"} refused: ${named}`,
      "check each Service's selector against its pods' labels and that those pods run and pass their readiness probes: kubectl get endpointslices -n NS -l kubernetes.io/service-name=NAME, kubectl describe service -n NS NAME; weft trace POD SERVICE shows the refusal",
    ),
  ];
};

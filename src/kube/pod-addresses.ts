/**
 * A Pod reduced to what answers "does this namespace have a pod with this
 * IP" (DNS `pods verified`): namespace, name and `status.podIPs`. Kept apart
 * from the runtime's full Pod (kube/pod.ts) because DNS watches every pod of
 * the cluster and should hold no more of each than this.
 */
import type { V1Pod } from "@kubernetes/client-node";

export interface PodAddresses {
  namespace: string;
  name: string;
  /** `status.podIPs` (or `status.podIP`); empty before the pod has an address. */
  ips: string[];
}

export function fromV1PodAddresses(p: V1Pod): PodAddresses {
  const ips = p.status?.podIPs?.map((i) => i.ip) ?? (p.status?.podIP ? [p.status.podIP] : []);
  return { namespace: p.metadata?.namespace ?? "default", name: p.metadata?.name ?? "", ips: ips.filter((ip): ip is string => !!ip) };
}

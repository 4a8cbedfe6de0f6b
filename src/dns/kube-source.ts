/**
 * The DnsSource of a cluster: informers on Services, EndpointSlices
 * (discovery.k8s.io/v1) and Namespaces, and on Pods only for `pods:
 * verified`, converted to slim types at src/kube/. Synced once every one of
 * them has listed. @kubernetes/client-node is imported when this source
 * starts, not before: bundled, it costs ~450 ms of start-up and ~43 MB of
 * resident memory, which tests and benchmarks on the fake source skip.
 */
import type { DnsSnapshot, DnsSource } from "./source.ts";

export interface KubeSourceOptions {
  /** The kubeconfig file; default: in-cluster, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** Watch Pods too (for `pods: verified`). */
  pods: boolean;
  log: (line: string) => void;
}

export async function startKubeSource(options: KubeSourceOptions): Promise<DnsSource> {
  const [{ loadKubeConfig }, { watchKind }, { fromV1Service }, { fromV1EndpointSlice }, { fromV1Namespace }, { fromV1PodAddresses }] = await Promise.all([
    import("../kube/kubeconfig.ts"),
    import("../kube/informers.ts"),
    import("../kube/dns-services.ts"),
    import("../kube/dns-endpointslices.ts"),
    import("../kube/namespaces.ts"),
    import("../kube/pod-addresses.ts"),
  ]);
  const kc = loadKubeConfig(options.kubeconfig);
  const listeners = new Set<() => void>();
  let snapshot: DnsSnapshot | null = null;
  const changed = () => {
    snapshot = null;
    for (const l of listeners) l();
  };
  const common = { onChange: changed, log: options.log };
  const services = watchKind(kc, { ...common, what: "services", path: "/api/v1/services", convert: fromV1Service });
  const slices = watchKind(kc, {
    ...common,
    what: "endpointslices",
    path: "/apis/discovery.k8s.io/v1/endpointslices",
    convert: fromV1EndpointSlice,
  });
  const namespaces = watchKind(kc, { ...common, what: "namespaces", path: "/api/v1/namespaces", convert: fromV1Namespace });
  const pods = options.pods
    ? watchKind(kc, { ...common, what: "pods", path: "/api/v1/pods", convert: fromV1PodAddresses })
    : null;
  const all = [services, slices, namespaces, ...(pods ? [pods] : [])];
  let closed = false;
  return {
    snapshot: () =>
      (snapshot ??= {
        services: services.items(),
        endpointSlices: slices.items(),
        namespaces: namespaces.items().map((n) => n.name),
        pods: pods ? pods.items() : [],
      }),
    synced: () => all.every((w) => w.synced()),
    onChange: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      listeners.clear();
      await Promise.all(all.map((w) => w.stop()));
    },
  };
}
